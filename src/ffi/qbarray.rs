//! qbarray.h: `qb_array_t` is a boxed [`crate::array::Array`].

use std::ffi::c_void;

use crate::array::{Array, NewBinCallback};
use crate::ffi::set_errno;

/// Opaque to C (`struct qb_array`).
pub type qb_array_t = Array;

/// `typedef void (*qb_array_new_bin_cb_fn)(qb_array_t *a, uint32_t bin)`.
pub type qb_array_new_bin_cb_fn = Option<NewBinCallback>;

/// `(size_t)-EINVAL`: what libqb's size getters return for a NULL array.
const SIZE_EINVAL: usize = (libc::EINVAL as usize).wrapping_neg();

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_create(
    max_elements: usize,
    element_size: usize,
) -> *mut qb_array_t {
    // SAFETY: no pointer arguments.
    unsafe { qb_array_create_2(max_elements, element_size, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_create_2(
    max_elements: usize,
    element_size: usize,
    autogrow_elements: usize,
) -> *mut qb_array_t {
    match Array::new(max_elements, element_size, autogrow_elements) {
        Ok(a) => Box::into_raw(Box::new(a)),
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_index(
    a: *mut qb_array_t,
    idx: i32,
    element_out: *mut *mut c_void,
) -> i32 {
    if a.is_null() || element_out.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a non-NULL `a` is a live array from qb_array_create*.
    let array = unsafe { &*a };
    match array.index(idx) {
        Ok(found) => {
            if let Some((bin, cb)) = found.new_bin {
                // SAFETY: the caller installed this callback for this array.
                unsafe { cb(a, bin) };
            }
            // SAFETY: element_out is non-NULL and points to a writable void*.
            unsafe { *element_out = found.element.cast() };
            0
        }
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_grow(a: *mut qb_array_t, max_elements: usize) -> i32 {
    // SAFETY: a non-NULL `a` is a live array.
    match unsafe { a.as_ref() } {
        Some(array) => crate::ffi::status(array.grow(max_elements)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_num_bins_get(a: *mut qb_array_t) -> usize {
    // SAFETY: a non-NULL `a` is a live array.
    match unsafe { a.as_ref() } {
        Some(array) => array.num_bins(),
        None => SIZE_EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_elems_per_bin_get(a: *mut qb_array_t) -> usize {
    // SAFETY: a non-NULL `a` is a live array.
    match unsafe { a.as_ref() } {
        Some(array) => array.elems_per_bin(),
        None => SIZE_EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_new_bin_cb_set(
    a: *mut qb_array_t,
    new_bin_fn: qb_array_new_bin_cb_fn,
) -> i32 {
    // SAFETY: a non-NULL `a` is a live array.
    match unsafe { a.as_ref() } {
        Some(array) => {
            array.set_new_bin_callback(new_bin_fn);
            0
        }
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_array_free(a: *mut qb_array_t) {
    if !a.is_null() {
        // SAFETY: `a` came from Box::into_raw in qb_array_create_2 and is freed once.
        drop(unsafe { Box::from_raw(a) });
    }
}
