//! `qbatomic.h`: sequentially consistent operations on caller-owned `int32_t`
//! and `void *` cells. The prototypes in the header are hand-written (their
//! `volatile ... QB_GNUC_MAY_ALIAS *` spelling is beyond cbindgen).
//!
//! A NULL or misaligned cell is ignored (reads give 0 / NULL, updates do
//! nothing, compare-and-exchange fails): atomics need natural alignment.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicPtr};

use crate::util::atomic as core;

/// Views a caller's `int32_t` cell as an atomic; `None` if NULL or misaligned.
unsafe fn int_cell<'a>(atomic: *mut i32) -> Option<&'a AtomicI32> {
    if atomic.is_null() || !atomic.is_aligned() {
        return None;
    }
    // SAFETY: non-NULL, aligned, and (caller's contract) valid for the call and
    // only accessed atomically while shared.
    Some(unsafe { AtomicI32::from_ptr(atomic) })
}

/// Views a caller's `void *` cell as an atomic; `None` if NULL or misaligned.
unsafe fn ptr_cell<'a>(atomic: *mut *mut c_void) -> Option<&'a AtomicPtr<c_void>> {
    if atomic.is_null() || !atomic.is_aligned() {
        return None;
    }
    // SAFETY: as in `int_cell`.
    Some(unsafe { AtomicPtr::from_ptr(atomic) })
}

/// Nothing to set up: the operations are native.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_init() {}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_int_exchange_and_add(atomic: *mut i32, val: i32) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { int_cell(atomic) }.map_or(0, |a| core::int_exchange_and_add(a, val))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_int_add(atomic: *mut i32, val: i32) {
    // SAFETY: forwarded caller contract.
    if let Some(a) = unsafe { int_cell(atomic) } {
        core::int_exchange_and_add(a, val);
    }
}

/// QB_TRUE (1) if `*atomic` was `oldval` and is now `newval`, else QB_FALSE (0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_int_compare_and_exchange(
    atomic: *mut i32,
    oldval: i32,
    newval: i32,
) -> i32 {
    // SAFETY: forwarded caller contract.
    let swapped = unsafe { int_cell(atomic) }
        .is_some_and(|a| core::int_compare_and_exchange(a, oldval, newval));
    i32::from(swapped)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_pointer_compare_and_exchange(
    atomic: *mut *mut c_void,
    oldval: *mut c_void,
    newval: *mut c_void,
) -> i32 {
    // SAFETY: forwarded caller contract.
    let swapped = unsafe { ptr_cell(atomic) }
        .is_some_and(|a| core::pointer_compare_and_exchange(a, oldval, newval));
    i32::from(swapped)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_int_get(atomic: *mut i32) -> i32 {
    // SAFETY: forwarded caller contract.
    unsafe { int_cell(atomic) }.map_or(0, core::int_get)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_int_set(atomic: *mut i32, newval: i32) {
    // SAFETY: forwarded caller contract.
    if let Some(a) = unsafe { int_cell(atomic) } {
        core::int_set(a, newval);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_pointer_get(atomic: *mut *mut c_void) -> *mut c_void {
    // SAFETY: forwarded caller contract.
    unsafe { ptr_cell(atomic) }.map_or(std::ptr::null_mut(), core::pointer_get)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_atomic_pointer_set(atomic: *mut *mut c_void, newval: *mut c_void) {
    // SAFETY: forwarded caller contract.
    if let Some(a) = unsafe { ptr_cell(atomic) } {
        core::pointer_set(a, newval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_raw_cells() {
        let mut v: i32 = 1;
        let p = &raw mut v;
        // SAFETY: `p` points to a live, aligned i32 used only by this thread.
        unsafe {
            assert_eq!(qb_atomic_int_exchange_and_add(p, 4), 1);
            qb_atomic_int_add(p, -2);
            assert_eq!(qb_atomic_int_get(p), 3);
            assert_eq!(qb_atomic_int_compare_and_exchange(p, 3, 9), 1);
            assert_eq!(qb_atomic_int_compare_and_exchange(p, 3, 0), 0);
            qb_atomic_int_set(p, -7);
            assert_eq!(qb_atomic_int_get(p), -7);
        }
        let mut cell: *mut c_void = std::ptr::null_mut();
        let c = &raw mut cell;
        let target = (&raw mut v).cast::<c_void>();
        // SAFETY: `c` points to a live, aligned pointer cell.
        unsafe {
            assert_eq!(
                qb_atomic_pointer_compare_and_exchange(c, std::ptr::null_mut(), target),
                1
            );
            assert_eq!(qb_atomic_pointer_get(c), target);
            qb_atomic_pointer_set(c, std::ptr::null_mut());
            assert!(qb_atomic_pointer_get(c).is_null());
        }
    }

    #[test]
    fn null_and_misaligned_cells_are_ignored() {
        let mut words = [0i32; 3];
        let misaligned = words
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<i32>();
        // SAFETY: the functions reject these pointers before any access.
        unsafe {
            assert_eq!(qb_atomic_int_get(std::ptr::null_mut()), 0);
            qb_atomic_int_set(std::ptr::null_mut(), 5);
            qb_atomic_int_add(misaligned, 5);
            assert_eq!(qb_atomic_int_exchange_and_add(misaligned, 1), 0);
            assert_eq!(
                qb_atomic_int_compare_and_exchange(std::ptr::null_mut(), 0, 1),
                0
            );
            assert!(qb_atomic_pointer_get(std::ptr::null_mut()).is_null());
            qb_atomic_pointer_set(std::ptr::null_mut(), std::ptr::null_mut());
            assert_eq!(
                qb_atomic_pointer_compare_and_exchange(
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                0
            );
        }
        assert_eq!(words, [0; 3]);
    }
}
