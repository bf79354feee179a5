//! qblog.h FFI.
//!
//! The variadic entry points (`qb_log_real_`, `qb_log_from_external_source*`) are C
//! (src/shim/qblog_va.c); they format the message and call
//! [`crate::log::dispatch`] through the internal `qbrs_log_dispatch` (src/log/shim.rs).

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::Ordering;

use crate::ffi::status;
use crate::log::callsite::{Callsite, SiteKey};
use crate::log::filter::{FilterOp, FilterType};
use crate::log::targets::Conf;
use crate::log::{self, Record};

/// `struct qb_log_callsite` (written by hand in qblog.h).
#[allow(non_camel_case_types)]
pub type qb_log_callsite = Callsite;
/// `qb_log_ctl2_arg_t`: `int32_t i32` or `const char *s` (written by hand in qblog.h).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub union qb_log_ctl2_arg_t {
    pub i32: i32,
    pub s: *const c_char,
}
/// `enum qb_log_conf` (an `unsigned int` in C; values checked on entry).
#[allow(non_camel_case_types)]
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct qb_log_conf(pub u32);
/// `enum qb_log_filter_conf`.
#[allow(non_camel_case_types)]
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct qb_log_filter_conf(pub u32);
/// `enum qb_log_filter_type`.
#[allow(non_camel_case_types)]
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct qb_log_filter_type(pub u32);
#[allow(non_camel_case_types)]
pub type qb_log_filter_fn = Option<unsafe extern "C" fn(cs: *mut qb_log_callsite)>;
#[allow(non_camel_case_types)]
pub type qb_log_tags_stringify_fn = Option<unsafe extern "C" fn(tags: u32) -> *const c_char>;

/// Bytes of a C string, "" for NULL.
///
/// # Safety
/// `p` must be NULL or a valid NUL-terminated string that outlives the result.
unsafe fn bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        b""
    } else {
        // SAFETY: per this function's contract.
        unsafe { CStr::from_ptr(p) }.to_bytes()
    }
}

/// # Safety
/// As [`bytes`].
unsafe fn cstr<'a>(p: *const c_char) -> &'a CStr {
    if p.is_null() {
        c""
    } else {
        // SAFETY: per this function's contract.
        unsafe { CStr::from_ptr(p) }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_init(name: *const c_char, facility: i32, priority: u8) {
    // SAFETY: `name` is NULL or a C string (documented contract).
    log::init(unsafe { bytes(name) }, facility, priority);
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_fini() {
    log::fini();
}

/// The `qb_log_conf` directive for an integer argument (IDENT needs a string, so
/// only `qb_log_ctl2` can use it).
fn conf_from_int<'a>(conf_type: qb_log_conf, arg: i32) -> Conf<'a> {
    match conf_type.0 {
        0 => Conf::Enabled(arg != 0),
        1 => Conf::Facility(arg),
        2 => Conf::Debug,
        3 => Conf::Size(arg),
        4 => Conf::Threaded(arg),
        5 => Conf::PriorityBump(arg),
        6 => Conf::StateGet,
        7 => Conf::FileSync(arg),
        8 => Conf::Extended(arg),
        10 => Conf::MaxLineLen(arg),
        11 => Conf::Ellipsis(arg),
        12 => Conf::UseJournal(arg),
        _ => Conf::Invalid,
    }
}

const QB_LOG_CONF_IDENT: u32 = 9;

fn ctl_result(r: Result<i32, i32>) -> i32 {
    r.unwrap_or_else(|errno| -errno)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_ctl(target: i32, conf_type: qb_log_conf, arg: i32) -> i32 {
    ctl_result(log::ctl(target, conf_from_int(conf_type, arg)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_ctl2(
    target: i32,
    conf_type: qb_log_conf,
    arg: qb_log_ctl2_arg_t,
) -> i32 {
    let conf = if conf_type.0 == QB_LOG_CONF_IDENT {
        // SAFETY: for IDENT the caller passes the `s` member (qblog.h).
        let s = unsafe { arg.s };
        if s.is_null() {
            Conf::Invalid
        } else {
            // SAFETY: a non-NULL `s` is a C string.
            Conf::Ident(unsafe { bytes(s) })
        }
    } else {
        // SAFETY: every other directive takes the `i32` member.
        conf_from_int(conf_type, unsafe { arg.i32 })
    };
    ctl_result(log::ctl(target, conf))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_filter_ctl2(
    value: i32,
    c: qb_log_filter_conf,
    type_: qb_log_filter_type,
    text: *const c_char,
    high_priority: u8,
    low_priority: u8,
) -> i32 {
    if !log::is_inited() {
        return -libc::EINVAL;
    }
    let (Some(op), Some(kind)) = (
        FilterOp::from_raw(c.0 as i32),
        FilterType::from_raw(type_.0 as i32),
    ) else {
        return -libc::EINVAL;
    };
    // SAFETY: `text` is NULL or a C string.
    let text = (!text.is_null()).then(|| unsafe { bytes(text) });
    status(log::filter_ctl(
        value,
        op,
        kind,
        text,
        high_priority,
        low_priority,
    ))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_filter_ctl(
    value: i32,
    c: qb_log_filter_conf,
    type_: qb_log_filter_type,
    text: *const c_char,
    low_priority: u8,
) -> i32 {
    // SAFETY: same contract.
    unsafe { qb_log_filter_ctl2(value, c, type_, text, libc::LOG_EMERG as u8, low_priority) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_filter_fn_set(fn_: qb_log_filter_fn) -> i32 {
    status(log::set_filter_fn(fn_))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_tags_stringify_fn_set(fn_: qb_log_tags_stringify_fn) {
    log::callbacks::set_stringify_fn(fn_);
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_format_set(t: i32, format: *const c_char) {
    // SAFETY: `format` is NULL or a C string.
    let fmt = (!format.is_null()).then(|| unsafe { bytes(format) });
    log::format_set(t, fmt);
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_callsite_get2(
    message_id: *const c_char,
    function: *const c_char,
    filename: *const c_char,
    format: *const c_char,
    priority: u8,
    lineno: u32,
    tags: u32,
) -> *mut qb_log_callsite {
    // Hot path: a statement seen before is answered without touching its strings.
    if let Some(cs) = log::fastsite::lookup(format, filename, priority, lineno, tags) {
        return cs.as_c_ptr();
    }
    // SAFETY: same contract.
    unsafe {
        callsite_get_slow(
            message_id, function, filename, format, priority, lineno, tags,
        )
    }
}

/// The full lookup, kept out of line so the hot path above stays small.
///
/// # Safety
/// As `qb_log_callsite_get2`.
#[cold]
#[inline(never)]
unsafe fn callsite_get_slow(
    message_id: *const c_char,
    function: *const c_char,
    filename: *const c_char,
    format: *const c_char,
    priority: u8,
    lineno: u32,
    tags: u32,
) -> *mut qb_log_callsite {
    // SAFETY: every string is NULL or a C string (NULL reads as "").
    let key = unsafe {
        SiteKey {
            message_id: (!message_id.is_null()).then(|| cstr(message_id)),
            function: cstr(function),
            filename: cstr(filename),
            format: cstr(format),
            priority,
            lineno,
            tags,
        }
    };
    log::callsite_get(&key).map_or(std::ptr::null_mut(), Callsite::as_c_ptr)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_callsite_get(
    function: *const c_char,
    filename: *const c_char,
    format: *const c_char,
    priority: u8,
    lineno: u32,
    tags: u32,
) -> *mut qb_log_callsite {
    // SAFETY: same contract.
    unsafe {
        qb_log_callsite_get2(
            std::ptr::null(),
            function,
            filename,
            format,
            priority,
            lineno,
            tags,
        )
    }
}

/// Reads the fields of a caller's call site.
///
/// # Safety
/// `cs` must point to a valid `struct qb_log_callsite` whose strings are NULL or
/// valid C strings for `'a`.
pub(crate) unsafe fn record<'a>(cs: *const qb_log_callsite) -> Record<'a> {
    // SAFETY: per this function's contract; C writers only touch atomic fields.
    let cs = unsafe { &*cs };
    // SAFETY: per this function's contract.
    let text =
        |p: &std::sync::atomic::AtomicPtr<c_char>| unsafe { bytes(p.load(Ordering::Relaxed)) };
    Record {
        callsite: cs as *const qb_log_callsite as *mut qb_log_callsite,
        function: text(&cs.function),
        filename: text(&cs.filename),
        priority: cs.priority.load(Ordering::Relaxed),
        lineno: cs.lineno.load(Ordering::Relaxed),
        targets: cs.targets.load(Ordering::Relaxed),
        tags: cs.tags.load(Ordering::Relaxed),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_target_format(
    target: i32,
    cs: *mut qb_log_callsite,
    timestamp: *mut libc::timespec,
    formatted_message: *const c_char,
    output_buffer: *mut c_char,
) {
    if cs.is_null() || output_buffer.is_null() {
        return;
    }
    let ts = if timestamp.is_null() {
        (0, 0)
    } else {
        // SAFETY: a non-NULL timestamp is a valid timespec.
        let ts = unsafe { &*timestamp };
        (ts.tv_sec, ts.tv_nsec)
    };
    // SAFETY: `cs` is a valid call site and the message NULL or a C string.
    let (rec, message) = unsafe { (record(cs), bytes(formatted_message)) };
    let Some(mut line) = log::target_format(target, &rec, ts, message) else {
        return;
    };
    let out = line.as_bytes_with_nul();
    // SAFETY: the caller's buffer holds the target's max line length, and the line
    // (with its NUL) never exceeds it.
    unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), output_buffer.cast::<u8>(), out.len()) };
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_facility2int(fname: *const c_char) -> i32 {
    if fname.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a non-NULL name is a C string.
    match log::facility_from_name(unsafe { CStr::from_ptr(fname) }) {
        Ok(value) => value,
        Err(errno) => -errno,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_facility2str(fnum: i32) -> *const c_char {
    log::facility::facility_name(fnum).map_or(std::ptr::null(), CStr::as_ptr)
}

// ---- File, custom and threaded targets, call-site sections ----

/// `qb_log_logger_fn` (written by hand in qblog.h).
#[allow(non_camel_case_types)]
pub type qb_log_logger_fn = Option<crate::log::custom::LoggerFn>;
/// `qb_log_close_fn` (written by hand in qblog.h).
#[allow(non_camel_case_types)]
pub type qb_log_close_fn = Option<crate::log::custom::TargetFn>;
/// `qb_log_reload_fn` (written by hand in qblog.h).
#[allow(non_camel_case_types)]
pub type qb_log_reload_fn = Option<crate::log::custom::TargetFn>;

fn slot_or_errno(r: Result<i32, i32>) -> i32 {
    r.unwrap_or_else(|errno| -errno)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_file_open(filename: *const c_char) -> i32 {
    if filename.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a non-NULL name is a C string.
    slot_or_errno(log::dynamic::file_open(unsafe { CStr::from_ptr(filename) }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_file_close(t: i32) {
    log::dynamic::close(t);
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_file_reopen(t: i32, filename: *const c_char) -> i32 {
    // SAFETY: `filename` is NULL (reopen the same file) or a C string.
    let path = (!filename.is_null()).then(|| unsafe { CStr::from_ptr(filename) });
    status(log::dynamic::file_reopen(t, path))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_custom_open(
    log_fn: qb_log_logger_fn,
    close_fn: qb_log_close_fn,
    reload_fn: qb_log_reload_fn,
    user_data: *mut c_void,
) -> i32 {
    let fns = log::custom::CustomFns {
        logger: log_fn,
        close: close_fn,
        reload: reload_fn,
    };
    slot_or_errno(log::dynamic::custom_open(fns, user_data))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_custom_close(t: i32) {
    log::dynamic::close(t);
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_target_user_data_get(t: i32) -> *mut c_void {
    match log::dynamic::user_data_get(t) {
        Ok(data) => data,
        Err(errno) => {
            crate::ffi::set_errno(errno);
            std::ptr::null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_target_user_data_set(t: i32, user_data: *mut c_void) -> i32 {
    status(log::dynamic::user_data_set(t, user_data))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_thread_priority_set(policy: i32, priority: i32) -> i32 {
    status(log::thread::priority_set(policy, priority))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_thread_start() -> i32 {
    status(log::thread::start())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_callsites_register(
    _start: *mut qb_log_callsite,
    _stop: *mut qb_log_callsite,
) -> i32 {
    status(log::sections::register(_start, _stop))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_callsites_dump() {
    log::sections::dump();
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_blackbox_write_to_file(filename: *const c_char) -> libc::ssize_t {
    if filename.is_null() {
        return -(libc::EINVAL as libc::ssize_t);
    }
    // SAFETY: a non-NULL filename is a C string.
    match log::blackbox::write_to_file(unsafe { CStr::from_ptr(filename) }) {
        Ok(n) => n as libc::ssize_t,
        Err(errno) => -(errno as libc::ssize_t),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_log_blackbox_print_from_file(filename: *const c_char) -> c_int {
    if filename.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a non-NULL filename is a C string.
    log::blackbox_reader::print_file(unsafe { CStr::from_ptr(filename) })
}
