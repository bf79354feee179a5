#![allow(non_camel_case_types, non_upper_case_globals)]

//! The C ABI: every exported `qb_*` symbol lives here, one file per public header.
//!
//! Conventions (every file follows them):
//! - exports are `#[unsafe(no_mangle)] pub unsafe extern "C" fn`, named and typed
//!   exactly as libqb's prototype (cbindgen turns these files into the prototype
//!   regions of `include/qb/*.h`);
//! - a function only checks its arguments (NULL, ranges), converts them, calls the
//!   safe core and maps `Err(errno)` to `-errno` (or NULL + `errno` for pointer
//!   returns), as libqb does;
//! - opaque C handles are `Box::into_raw` pointers of the core type; callers'
//!   structs (`struct qb_hdb`, ...) are `repr(C)` mirrors with layout asserts.
//!
//! # Safety
//! Pointer arguments must be NULL or valid for the access the libqb documentation
//! describes; strings must be NUL-terminated. NULL is always checked.

pub mod qbarray;
pub mod qbatomic;
pub mod qbconfig;
pub mod qbhdb;
pub mod qbipc_common;
pub mod qbipcc;
pub mod qbipcs;
pub mod qblog;
pub mod qbloop;
pub mod qbmap;
pub mod qbrb;
pub mod qbutil;

#[cfg(test)]
mod headers;

/// Sets the calling thread's C `errno` (for functions that return NULL on error).
pub(crate) fn set_errno(errno: i32) {
    // SAFETY: __errno_location always returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

/// A caller's `(pointer, count)` pair as a slice: empty for a zero count (the
/// pointer is then not looked at), `None` for NULL with a non-zero count.
///
/// # Safety
/// A non-NULL `ptr` must point to `n` readable, initialised `T`s that outlive `'a`.
#[inline]
pub(crate) unsafe fn c_slice<'a, T>(ptr: *const T, n: usize) -> Option<&'a [T]> {
    if n == 0 {
        Some(&[])
    } else if ptr.is_null() {
        None
    } else {
        // SAFETY: per this function's contract.
        Some(unsafe { std::slice::from_raw_parts(ptr, n) })
    }
}

/// Maps a core result to libqb's `0` / `-errno` convention.
pub(crate) fn status(result: Result<(), i32>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(errno) => -errno,
    }
}
