//! qbloop.h: `qb_loop_t` is a boxed [`crate::r#loop::Loop`].
//!
//! A NULL loop argument means the default loop: the first loop created (and
//! not yet destroyed). Where libqb would crash on a NULL loop with no default
//! loop, an unknown priority or a NULL callback, these return `-EINVAL`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::r#loop::{Loop, LowFdsFn, OnceFn, PollFn, Priority, SignalFn, UserData};

/// Opaque to C (`struct qb_loop`).
pub type qb_loop_t = Loop;

/// `enum qb_loop_priority` (QB_LOOP_LOW = 0, QB_LOOP_MED = 1, QB_LOOP_HIGH = 2).
pub type qb_loop_priority = u32;

/// `typedef uint64_t qb_loop_timer_handle`.
pub type qb_loop_timer_handle = u64;

/// `typedef void *qb_loop_signal_handle`.
pub type qb_loop_signal_handle = *mut c_void;

pub type qb_loop_job_dispatch_fn = Option<unsafe extern "C" fn(data: *mut c_void)>;
pub type qb_loop_timer_dispatch_fn = Option<unsafe extern "C" fn(data: *mut c_void)>;
pub type qb_loop_poll_dispatch_fn =
    Option<unsafe extern "C" fn(fd: i32, revents: i32, data: *mut c_void) -> i32>;
pub type qb_loop_signal_dispatch_fn =
    Option<unsafe extern "C" fn(rsignal: i32, data: *mut c_void) -> i32>;
pub type qb_loop_poll_low_fds_event_fn =
    Option<unsafe extern "C" fn(not_enough: i32, fds_available: i32)>;

static DEFAULT_LOOP: AtomicPtr<Loop> = AtomicPtr::new(std::ptr::null_mut());

/// The loop an argument names (NULL = the default loop).
///
/// # Safety
/// `l` is NULL or a live loop from `qb_loop_create`.
unsafe fn resolve<'a>(l: *mut qb_loop_t) -> Option<&'a Loop> {
    let p = if l.is_null() {
        DEFAULT_LOOP.load(Ordering::Acquire)
    } else {
        l
    };
    // SAFETY: NULL or a live loop per the caller's contract.
    unsafe { p.as_ref() }
}

fn priority(p: qb_loop_priority) -> Result<Priority, i32> {
    Priority::from_raw(p).ok_or(libc::EINVAL)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_create() -> *mut qb_loop_t {
    match Loop::new() {
        Ok(l) => {
            let p = Box::into_raw(Box::new(l));
            let _ = DEFAULT_LOOP.compare_exchange(
                std::ptr::null_mut(),
                p,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            p
        }
        Err(e) => {
            crate::ffi::set_errno(e);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_destroy(l: *mut qb_loop_t) {
    if l.is_null() {
        return;
    }
    let _ =
        DEFAULT_LOOP.compare_exchange(l, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire);
    // SAFETY: a loop from qb_loop_create, destroyed once, not running.
    drop(unsafe { Box::from_raw(l) });
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_stop(l: *mut qb_loop_t) {
    // SAFETY: per the libqb contract.
    if let Some(lp) = unsafe { resolve(l) } {
        lp.stop();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_run(l: *mut qb_loop_t) {
    // SAFETY: per the libqb contract.
    if let Some(lp) = unsafe { resolve(l) } {
        lp.run();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_job_add(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    data: *mut c_void,
    dispatch_fn: qb_loop_job_dispatch_fn,
) -> i32 {
    // SAFETY: per the libqb contract.
    let (Some(lp), Some(func)) = (unsafe { resolve(l) }, dispatch_fn) else {
        return -libc::EINVAL;
    };
    let res = priority(p).map(|p| {
        lp.job_add(
            p,
            OnceFn::C {
                func,
                data: UserData(data),
            },
        )
    });
    crate::ffi::status(res)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_job_del(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    data: *mut c_void,
    dispatch_fn: qb_loop_job_dispatch_fn,
) -> i32 {
    // SAFETY: per the libqb contract.
    let (Some(lp), Some(func)) = (unsafe { resolve(l) }, dispatch_fn) else {
        return -libc::EINVAL;
    };
    crate::ffi::status(priority(p).and_then(|p| lp.job_del_c(p, func, data)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_timer_add(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    nsec_duration: u64,
    data: *mut c_void,
    dispatch_fn: qb_loop_timer_dispatch_fn,
    timer_handle_out: *mut qb_loop_timer_handle,
) -> i32 {
    // SAFETY: per the libqb contract.
    let (Some(lp), Some(func)) = (unsafe { resolve(l) }, dispatch_fn) else {
        return -libc::EINVAL;
    };
    let res = priority(p).and_then(|p| {
        lp.timer_add(
            p,
            nsec_duration,
            OnceFn::C {
                func,
                data: UserData(data),
            },
        )
    });
    match res {
        Ok(h) => {
            if !timer_handle_out.is_null() {
                // SAFETY: non-NULL out-pointer from the caller.
                unsafe { *timer_handle_out = h };
            }
            0
        }
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_timer_del(l: *mut qb_loop_t, th: qb_loop_timer_handle) -> i32 {
    // SAFETY: per the libqb contract.
    match unsafe { resolve(l) } {
        Some(lp) => crate::ffi::status(lp.timer_del(th)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_timer_is_running(
    l: *mut qb_loop_t,
    th: qb_loop_timer_handle,
) -> i32 {
    // SAFETY: per the libqb contract.
    unsafe { resolve(l) }.is_some_and(|lp| lp.timer_is_running(th)) as i32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_timer_expire_time_get(
    l: *mut qb_loop_t,
    th: qb_loop_timer_handle,
) -> u64 {
    // SAFETY: per the libqb contract.
    unsafe { resolve(l) }.map_or(0, |lp| lp.timer_expire_time(th))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_timer_expire_time_remaining(
    l: *mut qb_loop_t,
    th: qb_loop_timer_handle,
) -> u64 {
    // SAFETY: per the libqb contract.
    unsafe { resolve(l) }.map_or(0, |lp| lp.timer_remaining(th))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_poll_low_fds_event_set(
    l: *mut qb_loop_t,
    fn_: qb_loop_poll_low_fds_event_fn,
) -> i32 {
    // SAFETY: per the libqb contract.
    let Some(lp) = (unsafe { resolve(l) }) else {
        return -libc::EINVAL;
    };
    lp.set_low_fds_callback(fn_.map(LowFdsFn::C));
    0
}

/// The loop and C callback of `qb_loop_poll_add`/`_mod`; None when either is
/// missing.
///
/// # Safety
/// `l` is NULL (the default loop) or a live loop.
unsafe fn poll_target<'a>(
    l: *mut qb_loop_t,
    data: *mut c_void,
    dispatch_fn: qb_loop_poll_dispatch_fn,
) -> Option<(&'a Loop, PollFn)> {
    // SAFETY: per this function's contract.
    let lp = unsafe { resolve(l) }?;
    let func = dispatch_fn?;
    Some((
        lp,
        PollFn::C {
            func,
            data: UserData(data),
        },
    ))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_poll_add(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    fd: i32,
    events: i32,
    data: *mut c_void,
    dispatch_fn: qb_loop_poll_dispatch_fn,
) -> i32 {
    // SAFETY: per the libqb contract.
    let Some((lp, cb)) = (unsafe { poll_target(l, data, dispatch_fn) }) else {
        return -libc::EINVAL;
    };
    crate::ffi::status(priority(p).and_then(|p| lp.poll_add(p, fd, events, cb)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_poll_mod(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    fd: i32,
    events: i32,
    data: *mut c_void,
    dispatch_fn: qb_loop_poll_dispatch_fn,
) -> i32 {
    // SAFETY: per the libqb contract.
    let Some((lp, cb)) = (unsafe { poll_target(l, data, dispatch_fn) }) else {
        return -libc::EINVAL;
    };
    crate::ffi::status(priority(p).and_then(|p| lp.poll_mod(p, fd, events, cb)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_poll_del(l: *mut qb_loop_t, fd: i32) -> i32 {
    // SAFETY: per the libqb contract.
    match unsafe { resolve(l) } {
        Some(lp) => crate::ffi::status(lp.poll_del(fd)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_signal_add(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    sig: i32,
    data: *mut c_void,
    dispatch_fn: qb_loop_signal_dispatch_fn,
    handle: *mut qb_loop_signal_handle,
) -> i32 {
    // SAFETY: per the libqb contract.
    let (Some(lp), Some(func)) = (unsafe { resolve(l) }, dispatch_fn) else {
        return -libc::EINVAL;
    };
    let cb = SignalFn::C {
        func,
        data: UserData(data),
    };
    match priority(p).and_then(|p| lp.signal_add(p, sig, cb)) {
        Ok(id) => {
            if !handle.is_null() {
                // SAFETY: non-NULL out-pointer from the caller; the handle is
                // an opaque token (never dereferenced).
                unsafe { *handle = id as usize as *mut c_void };
            }
            0
        }
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_signal_mod(
    l: *mut qb_loop_t,
    p: qb_loop_priority,
    sig: i32,
    data: *mut c_void,
    dispatch_fn: qb_loop_signal_dispatch_fn,
    handle: qb_loop_signal_handle,
) -> i32 {
    // SAFETY: per the libqb contract.
    let (Some(lp), Some(func)) = (unsafe { resolve(l) }, dispatch_fn) else {
        return -libc::EINVAL;
    };
    if handle.is_null() {
        return -libc::EINVAL;
    }
    let cb = SignalFn::C {
        func,
        data: UserData(data),
    };
    crate::ffi::status(priority(p).and_then(|p| lp.signal_mod(handle as usize as u64, p, sig, cb)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_loop_signal_del(
    l: *mut qb_loop_t,
    handle: qb_loop_signal_handle,
) -> i32 {
    // SAFETY: per the libqb contract.
    let Some(lp) = (unsafe { resolve(l) }) else {
        return -libc::EINVAL;
    };
    if handle.is_null() {
        return -libc::EINVAL;
    }
    crate::ffi::status(lp.signal_del(handle as usize as u64))
}
