//! qbrb.h: `qb_ringbuffer_t` is a boxed [`crate::rb::RingBuffer`].

use std::ffi::{CStr, c_char, c_void};

use crate::ffi::set_errno;
use crate::rb::{self, RingBuffer};

/// Opaque to C (`struct qb_ringbuffer_s`).
pub type qb_ringbuffer_t = RingBuffer;

const EINVAL_SSIZE: libc::ssize_t = -(libc::EINVAL as libc::ssize_t);

fn ssize(r: Result<usize, i32>) -> libc::ssize_t {
    match r {
        // Lengths are bounded by the ring size, far below isize::MAX.
        Ok(n) => n as libc::ssize_t,
        Err(e) => -(e as libc::ssize_t),
    }
}

/// # Safety
/// `rb` must be NULL or a live handle from `qb_rb_open`/`qb_rb_create_from_file`.
unsafe fn handle<'a>(rb: *mut qb_ringbuffer_t) -> Option<&'a RingBuffer> {
    // SAFETY: per this function's contract.
    unsafe { rb.as_ref() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_open(
    name: *const c_char,
    size: usize,
    flags: u32,
    shared_user_data_size: usize,
) -> *mut qb_ringbuffer_t {
    if name.is_null() {
        set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: non-NULL, NUL-terminated per the C contract.
    let name = unsafe { CStr::from_ptr(name) };
    match RingBuffer::open(name.to_bytes(), size, flags, shared_user_data_size) {
        Ok(r) => Box::into_raw(Box::new(r)),
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_close(rb: *mut qb_ringbuffer_t) {
    if !rb.is_null() {
        // SAFETY: a live handle, released exactly once by the caller.
        drop(unsafe { Box::from_raw(rb) });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_name_get(rb: *mut qb_ringbuffer_t) -> *mut c_char {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        // libqb's prototype is non-const; callers must not write through it.
        Some(r) => r.name().as_ptr().cast_mut(),
        None => std::ptr::null_mut(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_shared_user_data_get(rb: *mut qb_ringbuffer_t) -> *mut c_void {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => r.user_data_ptr().cast(),
        None => std::ptr::null_mut(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_write(
    rb: *mut qb_ringbuffer_t,
    data: *const c_void,
    len: usize,
) -> libc::ssize_t {
    // SAFETY: see `handle`.
    let Some(r) = (unsafe { handle(rb) }) else {
        return EINVAL_SSIZE;
    };
    // SAFETY: the caller provides `len` readable bytes at `data`.
    let Some(src) = (unsafe { crate::ffi::c_slice(data.cast::<u8>(), len) }) else {
        return EINVAL_SSIZE;
    };
    ssize(r.write(src))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_alloc(rb: *mut qb_ringbuffer_t, len: usize) -> *mut c_void {
    // SAFETY: see `handle`.
    let Some(r) = (unsafe { handle(rb) }) else {
        set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    };
    match r.alloc(len) {
        Ok(p) => rb::as_void(p),
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_commit(rb: *mut qb_ringbuffer_t, len: usize) -> i32 {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => crate::ffi::status(r.commit(len)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_peek(
    rb: *mut qb_ringbuffer_t,
    data_out: *mut *mut c_void,
    timeout: i32,
) -> libc::ssize_t {
    // SAFETY: see `handle`.
    let Some(r) = (unsafe { handle(rb) }) else {
        return EINVAL_SSIZE;
    };
    if data_out.is_null() {
        return EINVAL_SSIZE;
    }
    match r.peek(timeout) {
        Ok(Some((p, len))) => {
            // SAFETY: non-NULL out-pointer supplied by the caller.
            unsafe { *data_out = rb::as_void(p) };
            len as libc::ssize_t
        }
        Ok(None) => 0,
        Err(e) => -(e as libc::ssize_t),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_reclaim(rb: *mut qb_ringbuffer_t) {
    // SAFETY: see `handle`.
    if let Some(r) = unsafe { handle(rb) } {
        let _ = r.reclaim();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunk_read(
    rb: *mut qb_ringbuffer_t,
    data_out: *mut c_void,
    len: usize,
    timeout: i32,
) -> libc::ssize_t {
    // SAFETY: see `handle`.
    let Some(r) = (unsafe { handle(rb) }) else {
        return EINVAL_SSIZE;
    };
    let cap = if data_out.is_null() { 0 } else { len };
    // SAFETY: the caller provides `len` writable bytes at a non-NULL `data_out`
    // (a NULL buffer has capacity 0: only empty chunks can be read into it).
    ssize(unsafe { r.read_raw(data_out.cast(), cap, timeout) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_refcount_get(rb: *mut qb_ringbuffer_t) -> i32 {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => r.refcount().unwrap_or_else(|e| -e),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_space_free(rb: *mut qb_ringbuffer_t) -> libc::ssize_t {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => ssize(r.space_free()),
        None => EINVAL_SSIZE,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_space_used(rb: *mut qb_ringbuffer_t) -> libc::ssize_t {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => ssize(r.space_used()),
        None => EINVAL_SSIZE,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chunks_used(rb: *mut qb_ringbuffer_t) -> libc::ssize_t {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => ssize(r.chunks_used()),
        None => EINVAL_SSIZE,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_write_to_file(rb: *mut qb_ringbuffer_t, fd: i32) -> libc::ssize_t {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => ssize(r.write_to_file(fd)),
        None => EINVAL_SSIZE,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_create_from_file(fd: i32, flags: u32) -> *mut qb_ringbuffer_t {
    // libqb ignores `flags` here: the rebuilt ring is always semaphore-less.
    let _ = flags;
    if fd < 0 {
        set_errno(libc::EBADF);
        return std::ptr::null_mut();
    }
    match RingBuffer::create_from_file(fd) {
        Ok(r) => Box::into_raw(Box::new(r)),
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chown(
    rb: *mut qb_ringbuffer_t,
    owner: libc::uid_t,
    group: libc::gid_t,
) -> i32 {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => crate::ffi::status(r.chown(owner, group)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_rb_chmod(rb: *mut qb_ringbuffer_t, mode: libc::mode_t) -> i32 {
    // SAFETY: see `handle`.
    match unsafe { handle(rb) } {
        Some(r) => crate::ffi::status(r.chmod(mode)),
        None => -libc::EINVAL,
    }
}
