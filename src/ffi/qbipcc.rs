//! qbipcc.h: the IPC client. A `qb_ipcc_connection_t *` is a boxed
//! [`crate::ipc::client::Client`]; these functions check arguments, call it
//! and map errors to libqb's conventions (`-errno`, or NULL with `errno`).

use std::ffi::{CStr, c_char, c_int, c_void};

use libc::{EINVAL, gid_t, iovec, pid_t, size_t, ssize_t, uid_t};

use crate::ffi::set_errno;
use crate::ipc::client::{Client, verify_dgram_max_msg_size};

pub type qb_ipcc_connection_t = Client;

/// Borrows the connection behind a C handle.
///
/// # Safety
/// `c` must be NULL or a live handle from `qb_ipcc_connect*`.
#[inline]
unsafe fn conn<'a>(c: *mut qb_ipcc_connection_t) -> Option<&'a Client> {
    // SAFETY: per this function's contract.
    unsafe { c.as_ref() }
}

#[inline]
fn sized(r: Result<usize, i32>) -> ssize_t {
    match r {
        Ok(n) => n as ssize_t,
        Err(e) => -(e as ssize_t),
    }
}

/// Converts a C iovec array (NULL only when empty).
///
/// # Safety
/// `iov` must point to `n` iovecs when non-NULL.
#[inline]
unsafe fn iovecs<'a>(iov: *const iovec, n: usize) -> Option<&'a [iovec]> {
    // SAFETY: per this function's contract.
    unsafe { crate::ffi::c_slice(iov, n) }
}

fn new_handle(r: Result<Box<Client>, i32>) -> *mut qb_ipcc_connection_t {
    match r {
        Ok(c) => Box::into_raw(c),
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_connect(
    name: *const c_char,
    max_msg_size: size_t,
) -> *mut qb_ipcc_connection_t {
    if name.is_null() {
        set_errno(EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: non-NULL, NUL-terminated per the API.
    let name = unsafe { CStr::from_ptr(name) };
    new_handle(Client::connect(name.to_bytes(), max_msg_size))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_connect_async(
    name: *const c_char,
    max_msg_size: size_t,
    connect_fd: *mut c_int,
) -> *mut qb_ipcc_connection_t {
    if name.is_null() || connect_fd.is_null() {
        set_errno(EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: non-NULL, NUL-terminated per the API.
    let name = unsafe { CStr::from_ptr(name) };
    let c = new_handle(Client::start(name.to_bytes(), max_msg_size));
    // SAFETY: `c` is NULL or the handle just made; connect_fd is non-NULL.
    if let Some(c) = unsafe { conn(c) } {
        unsafe { *connect_fd = c.fd() };
    }
    c
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_connect_continue(c: *mut qb_ipcc_connection_t) -> c_int {
    if c.is_null() {
        return -EINVAL;
    }
    // SAFETY: a live handle from qb_ipcc_connect_async, not yet in use
    // elsewhere (the connection is not complete).
    let r = unsafe { (*c).finish() };
    match r {
        Ok(()) => 0,
        Err(e) => {
            // As libqb: a failed continue frees the connection.
            // SAFETY: the handle came from Box::into_raw and is dropped once.
            drop(unsafe { Box::from_raw(c) });
            set_errno(e);
            -e
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_verify_dgram_max_msg_size(max_msg_size: size_t) -> i32 {
    verify_dgram_max_msg_size(max_msg_size)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_disconnect(c: *mut qb_ipcc_connection_t) {
    if c.is_null() {
        return;
    }
    // SAFETY: a live handle, given back by its owner.
    unsafe { Box::from_raw(c) }.disconnect();
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_fd_get(c: *mut qb_ipcc_connection_t, fd: *mut i32) -> i32 {
    // SAFETY: NULL or a live handle.
    let Some(c) = (unsafe { conn(c) }) else {
        return -EINVAL;
    };
    if fd.is_null() {
        return -EINVAL;
    }
    // SAFETY: non-NULL out-pointer.
    unsafe { *fd = c.fd() };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_auth_get(
    c: *mut qb_ipcc_connection_t,
    pid: *mut pid_t,
    uid: *mut uid_t,
    gid: *mut gid_t,
) -> i32 {
    // SAFETY: NULL or a live handle.
    let Some(c) = (unsafe { conn(c) }) else {
        return -EINVAL;
    };
    let s = c.server_credentials();
    // SAFETY: each out-pointer is optional and written only when non-NULL.
    unsafe {
        if !pid.is_null() {
            *pid = s.pid;
        }
        if !uid.is_null() {
            *uid = s.uid;
        }
        if !gid.is_null() {
            *gid = s.gid;
        }
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_fc_enable_max_set(c: *mut qb_ipcc_connection_t, max: u32) -> i32 {
    // SAFETY: NULL or a live handle.
    match unsafe { conn(c) } {
        Some(c) => crate::ffi::status(c.set_fc_enable_max(max)),
        None => -EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_send(
    c: *mut qb_ipcc_connection_t,
    msg_ptr: *const c_void,
    msg_len: size_t,
) -> ssize_t {
    // SAFETY: NULL or a live handle.
    let Some(c) = (unsafe { conn(c) }) else {
        return -(EINVAL as ssize_t);
    };
    // SAFETY: the caller's message of msg_len bytes.
    let Some(msg) = (unsafe { crate::ffi::c_slice(msg_ptr.cast::<u8>(), msg_len) }) else {
        return -(EINVAL as ssize_t);
    };
    sized(c.send(msg))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_sendv(
    c: *mut qb_ipcc_connection_t,
    iov: *const iovec,
    iov_len: size_t,
) -> ssize_t {
    // SAFETY: NULL or a live handle; iov holds iov_len entries.
    let (Some(c), Some(iov)) = (unsafe { conn(c) }, unsafe { iovecs(iov, iov_len) }) else {
        return -(EINVAL as ssize_t);
    };
    sized(c.sendv(iov))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_recv(
    c: *mut qb_ipcc_connection_t,
    msg_ptr: *mut c_void,
    msg_len: size_t,
    ms_timeout: i32,
) -> ssize_t {
    // SAFETY: NULL or a live handle.
    let Some(c) = (unsafe { conn(c) }) else {
        return -(EINVAL as ssize_t);
    };
    if msg_ptr.is_null() {
        return -(EINVAL as ssize_t);
    }
    // SAFETY: the caller's buffer of msg_len bytes.
    sized(unsafe { c.recv(msg_ptr.cast(), msg_len, ms_timeout) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_sendv_recv(
    c: *mut qb_ipcc_connection_t,
    iov: *const iovec,
    iov_len: u32,
    msg_ptr: *mut c_void,
    msg_len: size_t,
    ms_timeout: i32,
) -> ssize_t {
    // SAFETY: NULL or a live handle; iov holds iov_len entries.
    let (Some(c), Some(iov)) = (unsafe { conn(c) }, unsafe { iovecs(iov, iov_len as usize) })
    else {
        return -(EINVAL as ssize_t);
    };
    if msg_ptr.is_null() {
        return -(EINVAL as ssize_t);
    }
    // SAFETY: the caller's buffer of msg_len bytes.
    sized(unsafe { c.sendv_recv(iov, msg_ptr.cast(), msg_len, ms_timeout) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_event_recv(
    c: *mut qb_ipcc_connection_t,
    msg_ptr: *mut c_void,
    msg_len: size_t,
    ms_timeout: i32,
) -> ssize_t {
    // SAFETY: NULL or a live handle.
    let Some(c) = (unsafe { conn(c) }) else {
        return -(EINVAL as ssize_t);
    };
    if msg_ptr.is_null() {
        return -(EINVAL as ssize_t);
    }
    // SAFETY: the caller's buffer of msg_len bytes.
    sized(unsafe { c.event_recv(msg_ptr.cast(), msg_len, ms_timeout) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_context_set(c: *mut qb_ipcc_connection_t, context: *mut c_void) {
    // SAFETY: NULL or a live handle.
    if let Some(c) = unsafe { conn(c) } {
        c.set_context(context);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_context_get(c: *mut qb_ipcc_connection_t) -> *mut c_void {
    // SAFETY: NULL or a live handle.
    match unsafe { conn(c) } {
        Some(c) => c.context(),
        None => std::ptr::null_mut(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_is_connected(c: *mut qb_ipcc_connection_t) -> i32 {
    // SAFETY: NULL or a live handle.
    match unsafe { conn(c) } {
        Some(c) => i32::from(c.is_connected()),
        None => 0,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcc_get_buffer_size(c: *mut qb_ipcc_connection_t) -> i32 {
    // SAFETY: NULL or a live handle.
    match unsafe { conn(c) } {
        Some(c) => c.buffer_size().min(i32::MAX as u32) as i32,
        None => -EINVAL,
    }
}
