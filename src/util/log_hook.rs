//! The deprecated `qb_util_set_log_function` hook: a user callback that receives
//! libqb's internal log messages. Stored as a raw C function pointer because C
//! owns it; the logging module reads it with [`internal_log_fn`].

use std::ffi::c_char;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `void (*)(const char *file_name, int32_t file_line, int32_t severity, const char *msg)`
pub type InternalLogFn = unsafe extern "C" fn(*const c_char, i32, i32, *const c_char);

/// The hook as an untyped pointer (null = unset); only ever holds an `InternalLogFn`.
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs (or with `None` removes) the hook.
pub fn set_internal_log_fn(hook: Option<InternalLogFn>) {
    let raw = hook.map_or(std::ptr::null_mut(), |f| f as *mut ());
    HOOK.store(raw, Ordering::Release);
}

/// The installed hook, if any.
pub fn internal_log_fn() -> Option<InternalLogFn> {
    let raw = HOOK.load(Ordering::Acquire);
    if raw.is_null() {
        return None;
    }
    // SAFETY: a non-null value was stored by `set_internal_log_fn` from a valid
    // function pointer of exactly this type.
    Some(unsafe { std::mem::transmute::<*mut (), InternalLogFn>(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI32;

    static SEEN_LINE: AtomicI32 = AtomicI32::new(0);

    unsafe extern "C" fn record(_: *const c_char, line: i32, _: i32, _: *const c_char) {
        SEEN_LINE.store(line, Ordering::SeqCst);
    }

    #[test]
    fn set_get_clear() {
        set_internal_log_fn(Some(record));
        let hook = internal_log_fn().expect("hook installed");
        // SAFETY: `record` ignores its pointer arguments.
        unsafe { hook(std::ptr::null(), 42, 3, std::ptr::null()) };
        assert_eq!(SEEN_LINE.load(Ordering::SeqCst), 42);
        set_internal_log_fn(None);
        assert!(internal_log_fn().is_none());
    }
}
