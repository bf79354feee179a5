/* libqb-rs: qbipcs.h - work in progress */
#ifndef QB_IPCS_H_DEFINED
#define QB_IPCS_H_DEFINED

/* @generated-begin by cbindgen from src/ffi/qbipcs.rs */

/* @generated-end */

#endif /* QB_IPCS_H_DEFINED */
