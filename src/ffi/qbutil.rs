//! `qbutil.h`: thread locks, clocks, `qb_strerror_r`, the stopwatch and the
//! deprecated internal-log hook. (`qb_ver` / `qb_ver_str` live in `qbconfig.rs`.)
//!
//! NULL handles are tolerated everywhere: lock functions report `-EINVAL`,
//! stopwatch getters report 0 and the other stopwatch calls do nothing (libqb
//! itself would crash).

use std::ffi::{c_char, c_int};

use crate::ffi::status;
use crate::util::errno_text::{copy_truncated, error_message};
use crate::util::log_hook::{InternalLogFn, set_internal_log_fn};
use crate::util::time::{self, TimeSpec};
use crate::util::{LockKind, Stopwatch, ThreadLock};

/// `qb_thread_lock_type_t` (a C enum: SHORT = 0, LONG = 1).
pub type qb_thread_lock_type_t = u32;
/// Opaque lock handle.
pub type qb_thread_lock_t = ThreadLock;
/// `void (*)(const char *file_name, int32_t file_line, int32_t severity, const char *msg)`
pub type qb_util_log_fn_t = Option<InternalLogFn>;
/// Opaque stopwatch handle.
pub type qb_util_stopwatch_t = Stopwatch;

/// Borrows a C lock handle; `None` for NULL.
unsafe fn lock_ref<'a>(tl: *mut qb_thread_lock_t) -> Option<&'a ThreadLock> {
    // SAFETY: non-NULL handles come from qb_thread_lock_create (caller's contract).
    unsafe { tl.as_ref() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_thread_lock_create(
    type_: qb_thread_lock_type_t,
) -> *mut qb_thread_lock_t {
    Box::into_raw(Box::new(ThreadLock::new(LockKind::from_c(type_))))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_thread_lock(tl: *mut qb_thread_lock_t) -> i32 {
    // SAFETY: forwarded caller contract.
    match unsafe { lock_ref(tl) } {
        Some(lock) => status(lock.lock()),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_thread_trylock(tl: *mut qb_thread_lock_t) -> i32 {
    // SAFETY: forwarded caller contract.
    match unsafe { lock_ref(tl) } {
        Some(lock) => status(lock.try_lock()),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_thread_unlock(tl: *mut qb_thread_lock_t) -> i32 {
    // SAFETY: forwarded caller contract.
    match unsafe { lock_ref(tl) } {
        Some(lock) => status(lock.unlock()),
        None => -libc::EINVAL,
    }
}

/// Frees the lock; reports `-EBUSY` if it was still held (freed anyway, as libqb).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_thread_lock_destroy(tl: *mut qb_thread_lock_t) -> i32 {
    if tl.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: `tl` came from qb_thread_lock_create and is not used after this call.
    let lock = unsafe { Box::from_raw(tl) };
    status(lock.check_destroy())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_set_log_function(fn_: qb_util_log_fn_t) {
    set_internal_log_fn(fn_);
}

/// Moves `*ts` by `ms` milliseconds (normalised; negative `ms` moves it back).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_timespec_add_ms(ts: *mut libc::timespec, ms: i32) {
    // SAFETY: non-NULL `ts` points to a writable timespec (caller's contract).
    let Some(ts) = (unsafe { ts.as_mut() }) else {
        return;
    };
    let moved = time::timespec_add_ms(
        TimeSpec {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec,
        },
        ms,
    );
    ts.tv_sec = moved.sec;
    ts.tv_nsec = moved.nsec;
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_nano_current_get() -> u64 {
    time::monotonic_ns()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_nano_monotonic_hz() -> u64 {
    time::monotonic_hz()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_nano_from_epoch_get() -> u64 {
    time::epoch_ns()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_timespec_from_epoch_get(ts: *mut libc::timespec) {
    // SAFETY: non-NULL `ts` points to a writable timespec (caller's contract).
    let Some(ts) = (unsafe { ts.as_mut() }) else {
        return;
    };
    let now = time::epoch_timespec();
    ts.tv_sec = now.sec;
    ts.tv_nsec = now.nsec;
}

/// GNU `strerror_r` semantics: returns libc's fixed message for known errors, or
/// `buf` holding a formatted one ("Unknown error N"). The message is also copied
/// (truncated, NUL-terminated) into `buf` when there is room, so callers that
/// print `buf` instead of the result still see it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_strerror_r(
    errnum: c_int,
    buf: *mut c_char,
    buflen: usize,
) -> *mut c_char {
    let message = error_message(errnum);
    let has_buf = !buf.is_null() && buflen > 0;
    if has_buf {
        // Only the bytes the message needs: `buflen` may be larger than any slice.
        let len = buflen.min(message.to_bytes_with_nul().len());
        // SAFETY: the caller provides `buflen` (>= `len`) writable bytes at `buf`.
        let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        copy_truncated(&message, out);
    }
    match message {
        std::borrow::Cow::Borrowed(text) => text.as_ptr().cast_mut(),
        std::borrow::Cow::Owned(_) if has_buf => buf,
        // No buffer to format into: a fixed text rather than NULL.
        std::borrow::Cow::Owned(_) => c"Unknown error".as_ptr().cast_mut(),
    }
}

/// Borrows a C stopwatch handle; `None` for NULL.
unsafe fn sw_mut<'a>(sw: *mut qb_util_stopwatch_t) -> Option<&'a mut Stopwatch> {
    // SAFETY: non-NULL handles come from qb_util_stopwatch_create and are not
    // used concurrently (caller's contract, as in libqb).
    unsafe { sw.as_mut() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_create() -> *mut qb_util_stopwatch_t {
    Box::into_raw(Box::new(Stopwatch::new()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_free(sw: *mut qb_util_stopwatch_t) {
    if !sw.is_null() {
        // SAFETY: `sw` came from qb_util_stopwatch_create and is not used afterwards.
        drop(unsafe { Box::from_raw(sw) });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_start(sw: *mut qb_util_stopwatch_t) {
    // SAFETY: forwarded caller contract.
    if let Some(sw) = unsafe { sw_mut(sw) } {
        sw.start();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_stop(sw: *mut qb_util_stopwatch_t) {
    // SAFETY: forwarded caller contract.
    if let Some(sw) = unsafe { sw_mut(sw) } {
        sw.stop();
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_us_elapsed_get(sw: *mut qb_util_stopwatch_t) -> u64 {
    // SAFETY: forwarded caller contract.
    unsafe { sw_mut(sw) }.map_or(0, |sw| sw.elapsed_us())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_sec_elapsed_get(sw: *mut qb_util_stopwatch_t) -> f32 {
    // SAFETY: forwarded caller contract.
    unsafe { sw_mut(sw) }.map_or(0.0, |sw| sw.elapsed_sec())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_split_ctl(
    sw: *mut qb_util_stopwatch_t,
    max_splits: u32,
    options: u32,
) -> i32 {
    // SAFETY: forwarded caller contract.
    match unsafe { sw_mut(sw) } {
        Some(sw) => status(sw.split_ctl(max_splits, options)),
        None => -libc::EINVAL,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_split(sw: *mut qb_util_stopwatch_t) -> u64 {
    // SAFETY: forwarded caller contract.
    unsafe { sw_mut(sw) }.map_or(0, |sw| sw.split())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_split_last(sw: *mut qb_util_stopwatch_t) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe { sw_mut(sw) }.map_or(0, |sw| sw.split_last())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_util_stopwatch_time_split_get(
    sw: *mut qb_util_stopwatch_t,
    receint: u32,
    older: u32,
) -> u64 {
    // SAFETY: forwarded caller contract.
    unsafe { sw_mut(sw) }.map_or(0, |sw| sw.time_split_between(receint, older))
}
