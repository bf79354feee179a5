//! qbipcs.h: the IPC server. `qb_ipcs_service_t` and `qb_ipcs_connection_t`
//! are `Arc`s of [`crate::ipc::server::Service`] and [`Connection`] whose
//! strong counts are libqb's reference counts: `*_ref`/`*_unref` move them,
//! the creator's reference of a service is released by `qb_ipcs_destroy` (or
//! by a failing `qb_ipcs_run`, as libqb documents), and functions returning a
//! connection (`first_get`/`next_get`) hand the caller a reference.
//!
//! NULL handles are refused the way libqb refuses them (`-EINVAL`, NULL, or
//! nothing for `void` functions).

use std::ffi::{CStr, c_char, c_void};
use std::mem::ManuallyDrop;
use std::sync::Arc;

use libc::{EINVAL, gid_t, iovec, mode_t, size_t, ssize_t, uid_t};

use crate::ipc::server::{
    Auth, Connection, ConnectionStats, ConnectionStats2, PollHandlers, Service, ServiceHandlers,
    ServiceStats,
};

/// Opaque to C (`struct qb_ipcs_service`).
pub type qb_ipcs_service_t = Service;
/// Opaque to C (`struct qb_ipcs_connection`).
pub type qb_ipcs_connection_t = Connection;
/// `enum qb_ipc_type`.
pub type qb_ipc_type = u32;
/// `enum qb_ipcs_rate_limit`.
pub type qb_ipcs_rate_limit = u32;
pub type qb_ipcs_service_handlers = ServiceHandlers;
pub type qb_ipcs_poll_handlers = PollHandlers;
pub type qb_ipcs_stats = ServiceStats;
pub type qb_ipcs_connection_stats = ConnectionStats;
pub type qb_ipcs_connection_stats_2 = ConnectionStats2;

/// A borrowed view of a C handle (the count is not changed).
///
/// # Safety
/// `p` is NULL or a live handle.
unsafe fn view<T>(p: *mut T) -> Option<ManuallyDrop<Arc<T>>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract; ManuallyDrop keeps the count unchanged.
    Some(ManuallyDrop::new(unsafe { Arc::from_raw(p.cast_const()) }))
}

/// A counted reference for the duration of a call that may drop others.
///
/// # Safety
/// `p` is NULL or a live handle.
unsafe fn hold<T>(p: *mut T) -> Option<Arc<T>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract.
    unsafe {
        Arc::increment_strong_count(p.cast_const());
        Some(Arc::from_raw(p.cast_const()))
    }
}

fn ssize(r: Result<usize, i32>) -> ssize_t {
    match r {
        Ok(n) => n as ssize_t,
        Err(e) => -(e as ssize_t),
    }
}

/// Runs `f` on the iovec array as byte slices (no allocation up to 8 parts).
///
/// # Safety
/// `iov` points to `n` iovecs (or is NULL with `n == 0`), each describing
/// readable memory.
unsafe fn with_parts<R>(iov: *const iovec, n: size_t, f: impl FnOnce(&[&[u8]]) -> R) -> Option<R> {
    // SAFETY: per the contract.
    let vecs = unsafe { crate::ffi::c_slice(iov, n) }?;
    // SAFETY: per the contract.
    let part = |v: &iovec| -> Option<&[u8]> {
        unsafe { crate::ffi::c_slice(v.iov_base.cast::<u8>(), v.iov_len) }
    };
    if vecs.len() <= 8 {
        let mut stack: [&[u8]; 8] = [&[]; 8];
        for (slot, v) in stack.iter_mut().zip(vecs) {
            *slot = part(v)?;
        }
        Some(f(&stack[..vecs.len()]))
    } else {
        let parts = vecs.iter().map(part).collect::<Option<Vec<_>>>()?;
        Some(f(&parts))
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_create(
    name: *const c_char,
    service_id: i32,
    type_: qb_ipc_type,
    handlers: *mut qb_ipcs_service_handlers,
) -> *mut qb_ipcs_service_t {
    if name.is_null() || handlers.is_null() {
        crate::ffi::set_errno(EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: NUL-terminated name and a handler struct, per the contract.
    let (name, handlers) = unsafe { (CStr::from_ptr(name), *handlers) };
    Arc::into_raw(Service::create(
        name.to_bytes(),
        service_id,
        type_ as i32,
        handlers,
    ))
    .cast_mut()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_ref(s: *mut qb_ipcs_service_t) {
    if !s.is_null() {
        // SAFETY: a live service.
        unsafe { Arc::increment_strong_count(s.cast_const()) };
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_unref(s: *mut qb_ipcs_service_t) {
    if !s.is_null() {
        // SAFETY: a live service holding the reference being released.
        unsafe { Arc::decrement_strong_count(s.cast_const()) };
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_poll_handlers_set(
    s: *mut qb_ipcs_service_t,
    handlers: *mut qb_ipcs_poll_handlers,
) {
    // SAFETY: a live service and a handler struct, per the contract.
    if let (Some(s), false) = (unsafe { view(s) }, handlers.is_null()) {
        s.set_poll(unsafe { *handlers });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_service_context_set(
    s: *mut qb_ipcs_service_t,
    context: *mut c_void,
) {
    // SAFETY: a live service.
    if let Some(s) = unsafe { view(s) } {
        s.set_context(context);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_service_context_get(s: *mut qb_ipcs_service_t) -> *mut c_void {
    // SAFETY: a live service.
    unsafe { view(s) }.map_or(std::ptr::null_mut(), |s| s.context())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_run(s: *mut qb_ipcs_service_t) -> i32 {
    // SAFETY: a live service.
    let Some(svc) = (unsafe { hold(s) }) else {
        return -EINVAL;
    };
    let r = svc.run();
    drop(svc);
    if r.is_err() {
        // libqb: "Service is destroyed on failure" (the creator's reference).
        // SAFETY: the creator's reference, per the documented contract.
        unsafe { Arc::decrement_strong_count(s.cast_const()) };
    }
    crate::ffi::status(r)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_destroy(s: *mut qb_ipcs_service_t) {
    // SAFETY: a live service.
    let Some(svc) = (unsafe { hold(s) }) else {
        return;
    };
    svc.destroy();
    drop(svc);
    // SAFETY: the creator's reference.
    unsafe { Arc::decrement_strong_count(s.cast_const()) };
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_request_rate_limit(
    s: *mut qb_ipcs_service_t,
    rl: qb_ipcs_rate_limit,
) {
    // SAFETY: a live service.
    if let Some(s) = unsafe { hold(s) } {
        s.rate_limit(rl);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_response_send(
    c: *mut qb_ipcs_connection_t,
    data: *const c_void,
    size: size_t,
) -> ssize_t {
    // SAFETY: a live connection.
    let Some(c) = (unsafe { view(c) }) else {
        return -(EINVAL as ssize_t);
    };
    // SAFETY: `size` readable bytes, per the contract.
    let Some(msg) = (unsafe { crate::ffi::c_slice(data.cast::<u8>(), size) }) else {
        return -(EINVAL as ssize_t);
    };
    ssize(c.send_response(&[msg]))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_response_sendv(
    c: *mut qb_ipcs_connection_t,
    iov: *const iovec,
    iov_len: size_t,
) -> ssize_t {
    // SAFETY: a live connection; iovecs per the contract.
    let Some(c) = (unsafe { view(c) }) else {
        return -(EINVAL as ssize_t);
    };
    unsafe { with_parts(iov, iov_len, |p| ssize(c.send_response(p))) }
        .unwrap_or(-(EINVAL as ssize_t))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_event_send(
    c: *mut qb_ipcs_connection_t,
    data: *const c_void,
    size: size_t,
) -> ssize_t {
    // SAFETY: a live connection.
    let Some(c) = (unsafe { view(c) }) else {
        return -(EINVAL as ssize_t);
    };
    if size > c.buffer_size() as usize {
        return -(libc::EMSGSIZE as ssize_t);
    }
    // SAFETY: `size` readable bytes, per the contract.
    let Some(msg) = (unsafe { crate::ffi::c_slice(data.cast::<u8>(), size) }) else {
        return -(EINVAL as ssize_t);
    };
    ssize(c.send_event(&[msg]))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_event_sendv(
    c: *mut qb_ipcs_connection_t,
    iov: *const iovec,
    iov_len: size_t,
) -> ssize_t {
    // SAFETY: a live connection; iovecs per the contract.
    let Some(c) = (unsafe { view(c) }) else {
        return -(EINVAL as ssize_t);
    };
    unsafe { with_parts(iov, iov_len, |p| ssize(c.send_event(p))) }.unwrap_or(-(EINVAL as ssize_t))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_ref(c: *mut qb_ipcs_connection_t) {
    if !c.is_null() {
        // SAFETY: a live connection.
        unsafe { Arc::increment_strong_count(c.cast_const()) };
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_unref(c: *mut qb_ipcs_connection_t) {
    if !c.is_null() {
        // SAFETY: a live connection holding the reference being released.
        unsafe { Arc::decrement_strong_count(c.cast_const()) };
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_disconnect(c: *mut qb_ipcs_connection_t) {
    // SAFETY: a live connection; held so it survives its own disconnect
    // until this call returns.
    if let Some(c) = unsafe { hold(c) } {
        c.disconnect();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_service_id_get(c: *mut qb_ipcs_connection_t) -> i32 {
    // SAFETY: a live connection.
    unsafe { view(c) }.map_or(-EINVAL, |c| c.service().service_id)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_context_set(c: *mut qb_ipcs_connection_t, context: *mut c_void) {
    // SAFETY: a live connection.
    if let Some(c) = unsafe { view(c) } {
        c.set_context(context);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_context_get(c: *mut qb_ipcs_connection_t) -> *mut c_void {
    // SAFETY: a live connection.
    unsafe { view(c) }.map_or(std::ptr::null_mut(), |c| c.context())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_service_context_get(
    c: *mut qb_ipcs_connection_t,
) -> *mut c_void {
    // SAFETY: a live connection.
    unsafe { view(c) }.map_or(std::ptr::null_mut(), |c| c.service().context())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_stats_get(
    c: *mut qb_ipcs_connection_t,
    stats: *mut qb_ipcs_connection_stats,
    clear_after_read: i32,
) -> i32 {
    // SAFETY: a live connection.
    let Some(c) = (unsafe { view(c) }) else {
        return -EINVAL;
    };
    if stats.is_null() {
        return -EINVAL;
    }
    let s = ConnectionStats::from(c.stats(clear_after_read != 0));
    // SAFETY: caller's writable struct.
    unsafe { stats.write(s) };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_stats_get_2(
    c: *mut qb_ipcs_connection_t,
    clear_after_read: i32,
) -> *mut qb_ipcs_connection_stats_2 {
    // SAFETY: a live connection.
    let Some(c) = (unsafe { view(c) }) else {
        crate::ffi::set_errno(EINVAL);
        return std::ptr::null_mut();
    };
    // The caller frees it with free(3).
    // SAFETY: plain allocation.
    let p = unsafe { libc::calloc(1, size_of::<qb_ipcs_connection_stats_2>()) }
        .cast::<qb_ipcs_connection_stats_2>();
    if p.is_null() {
        crate::ffi::set_errno(libc::ENOMEM);
        return p;
    }
    // SAFETY: freshly allocated, suitably aligned (malloc) struct.
    unsafe { p.write(c.stats(clear_after_read != 0)) };
    p
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_stats_get(
    pt: *mut qb_ipcs_service_t,
    stats: *mut qb_ipcs_stats,
    clear_after_read: i32,
) -> i32 {
    // SAFETY: a live service.
    let Some(s) = (unsafe { view(pt) }) else {
        return -EINVAL;
    };
    if stats.is_null() {
        return -EINVAL;
    }
    // SAFETY: caller's writable struct.
    unsafe { stats.write(s.counters.snapshot(clear_after_read != 0)) };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_first_get(
    pt: *mut qb_ipcs_service_t,
) -> *mut qb_ipcs_connection_t {
    // SAFETY: a live service.
    unsafe { view(pt) }
        .and_then(|s| s.first())
        .map_or(std::ptr::null_mut(), |c| Arc::into_raw(c).cast_mut())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_next_get(
    pt: *mut qb_ipcs_service_t,
    current: *mut qb_ipcs_connection_t,
) -> *mut qb_ipcs_connection_t {
    if current.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: a live service.
    unsafe { view(pt) }
        .and_then(|s| s.next(current))
        .map_or(std::ptr::null_mut(), |c| Arc::into_raw(c).cast_mut())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_auth_set(
    conn: *mut qb_ipcs_connection_t,
    uid: uid_t,
    gid: gid_t,
    mode: mode_t,
) {
    // SAFETY: a live connection.
    if let Some(c) = unsafe { view(conn) } {
        c.set_auth(Auth { uid, gid, mode });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_connection_get_buffer_size(
    conn: *mut qb_ipcs_connection_t,
) -> i32 {
    // SAFETY: a live connection.
    unsafe { view(conn) }.map_or(-EINVAL, |c| c.buffer_size().min(i32::MAX as u32) as i32)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_ipcs_enforce_buffer_size(s: *mut qb_ipcs_service_t, max_buf_size: u32) {
    // SAFETY: a live service.
    if let Some(s) = unsafe { view(s) } {
        s.enforce_buffer_size(max_buf_size);
    }
}
