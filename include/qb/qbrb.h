/* libqb-rs: qbrb.h - work in progress */
#ifndef QB_RB_H_DEFINED
#define QB_RB_H_DEFINED

/* @generated-begin by cbindgen from src/ffi/qbrb.rs */

/* @generated-end */

#endif /* QB_RB_H_DEFINED */
