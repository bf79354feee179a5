//! Application callbacks: the custom filter (`qb_log_filter_fn_set`) and the tags
//! stringifier (`qb_log_tags_stringify_fn_set`).
//!
//! They are read on every log call, so they live in atomics rather than behind the
//! configuration lock, and they are always invoked with no lock held (a callback may
//! log or reconfigure the logger). Like libqb, both survive `qb_log_fini()`.

use std::cell::Cell;
use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::callsite::Callsite;

/// `qb_log_filter_fn`.
pub type FilterFn = unsafe extern "C" fn(cs: *mut Callsite);
/// `qb_log_tags_stringify_fn`.
pub type StringifyFn = unsafe extern "C" fn(tags: u32) -> *const c_char;

static FILTER_FN: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static STRINGIFY_FN: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

pub fn set_filter_fn(f: Option<FilterFn>) {
    FILTER_FN.store(
        f.map_or(std::ptr::null_mut(), |f| f as *mut ()),
        Ordering::Release,
    );
}

pub fn has_filter_fn() -> bool {
    !FILTER_FN.load(Ordering::Acquire).is_null()
}

pub fn set_stringify_fn(f: Option<StringifyFn>) {
    STRINGIFY_FN.store(
        f.map_or(std::ptr::null_mut(), |f| f as *mut ()),
        Ordering::Release,
    );
}

pub fn has_stringify_fn() -> bool {
    !STRINGIFY_FN.load(Ordering::Acquire).is_null()
}

thread_local! {
    /// Set while this thread runs the custom filter: a filter that logs looks up
    /// call sites itself, and running the filter on those would recurse without end.
    static IN_FILTER: Cell<bool> = const { Cell::new(false) };
}

/// Runs the custom filter (if any) on `cs`, unless this thread is already inside it.
pub fn run_filter(cs: &Callsite) {
    let raw = FILTER_FN.load(Ordering::Acquire);
    if raw.is_null() || IN_FILTER.with(|f| f.replace(true)) {
        return;
    }
    // SAFETY: only `set_filter_fn` stores here, and it stores a `FilterFn`.
    let f = unsafe { std::mem::transmute::<*mut (), FilterFn>(raw) };
    // SAFETY: the callback receives a valid call site; C writes only atomic fields.
    unsafe { f(cs.as_c_ptr()) };
    IN_FILTER.with(|f| f.set(false));
}

/// Text for `%g`: the stringifier's answer for `tags`, or "" without one.
/// The application must keep the returned string valid while the line is rendered.
pub fn tags_text<'a>(tags: u32) -> &'a [u8] {
    let raw = STRINGIFY_FN.load(Ordering::Acquire);
    if raw.is_null() {
        return b"";
    }
    // SAFETY: only `set_stringify_fn` stores here, and it stores a `StringifyFn`.
    let f = unsafe { std::mem::transmute::<*mut (), StringifyFn>(raw) };
    // SAFETY: calling the application's callback as documented in qblog.h.
    let text = unsafe { f(tags) };
    if text.is_null() {
        return b"";
    }
    // SAFETY: the callback returns a NUL-terminated string that outlives the line.
    unsafe { CStr::from_ptr(text) }.to_bytes()
}
