/* libqb-rs: qbloop.h - work in progress */
#ifndef QB_LOOP_H_DEFINED
#define QB_LOOP_H_DEFINED

/* @generated-begin by cbindgen from src/ffi/qbloop.rs */

/* @generated-end */

#endif /* QB_LOOP_H_DEFINED */
