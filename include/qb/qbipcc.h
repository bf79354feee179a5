/* libqb-rs: qbipcc.h - work in progress */
#ifndef QB_IPCC_H_DEFINED
#define QB_IPCC_H_DEFINED

/* @generated-begin by cbindgen from src/ffi/qbipcc.rs */

/* @generated-end */

#endif /* QB_IPCC_H_DEFINED */
