//! The library's own log messages (libqb's `qb_util_log`): tagged
//! `QB_LOG_TAG_LIBQB_MSG`, logged through the normal call-site machinery, and also
//! handed to the deprecated `qb_util_set_log_function` hook when one is installed.
//!
//! Rust code logs them with [`libqb_msg`] (or the [`qb_util_log!`] macro, which fills
//! in the source location).

use std::ffi::{CString, c_char};
use std::sync::atomic::Ordering;

use super::callsite::{Callsite, SiteKey};
use super::custom::CMessage;
use crate::util::log_hook;

/// `QB_LOG_TAG_LIBQB_MSG`.
pub const LIBQB_MSG_TAG: u32 = 1 << 31;

/// `QB_LOG_MAX_LEN`: how much of a message the hook sees when no target wants it.
const HOOK_MAX_LEN: usize = 512;

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Logs one internal message. `format` is the message's template (what FORMAT
/// filters match and what identifies the call site), `message` the finished text.
/// Like libqb, nothing happens before `qb_log_init()`.
pub fn libqb_msg(
    priority: u8,
    file: &str,
    line: u32,
    function: &str,
    format: &str,
    message: &[u8],
) {
    if !super::is_inited() {
        return;
    }
    let (function, filename, format) = (c_string(function), c_string(file), c_string(format));
    let key = SiteKey {
        message_id: None,
        function: &function,
        filename: &filename,
        format: &format,
        priority,
        lineno: line,
        tags: LIBQB_MSG_TAG,
    };
    let Some(cs) = super::callsite_get(&key) else {
        return;
    };
    let printed = &message[..message.len().min(super::ABSOLUTE_MAX_LEN - 1)];
    let full_len = i32::try_from(message.len()).unwrap_or(i32::MAX);
    if cs.targets.load(Ordering::Relaxed) != 0 {
        // SAFETY: `cs` is a live registry call site.
        let rec = unsafe { crate::ffi::qblog::record(cs.as_c_ptr()) };
        // dispatch() gives it to the hook as well.
        super::dispatch(&rec, printed, full_len);
    } else {
        let cut = &printed[..printed.len().min(HOOK_MAX_LEN - 1)];
        forward(cs, cut);
    }
}

/// Hands `message` to the `qb_util_set_log_function` hook if the call site is an
/// internal one and a hook is installed. Extended information is shown (`|`).
pub fn forward(cs: &Callsite, message: &[u8]) {
    if cs.tags.load(Ordering::Relaxed) & LIBQB_MSG_TAG == 0 {
        return;
    }
    let Some(hook) = log_hook::internal_log_fn() else {
        return;
    };
    let mut scratch = CMessage::new();
    let Some(text) = scratch.prepare(message, true) else {
        return;
    };
    let file: *const c_char = cs.filename.load(Ordering::Relaxed);
    let file = if file.is_null() { c"".as_ptr() } else { file };
    let line = i32::try_from(cs.lineno.load(Ordering::Relaxed)).unwrap_or(i32::MAX);
    let priority = i32::from(cs.priority.load(Ordering::Relaxed));
    // SAFETY: the application's hook, called with NUL-terminated strings.
    unsafe { hook(file, line, priority, text) };
}

/// Logs an internal message with the current source location:
/// `qb_util_log!(libc::LOG_ERR as u8, "connection {} refused", id)`.
#[macro_export]
macro_rules! qb_util_log {
    ($priority:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::log::libqb_msg(
            $priority,
            file!(),
            line!(),
            module_path!(),
            $fmt,
            format!($fmt $(, $arg)*).as_bytes(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::sync::Mutex;

    /// (file, line, priority, message) as the hook saw them.
    type Seen = (Vec<u8>, i32, i32, Vec<u8>);
    static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

    unsafe extern "C" fn hook(file: *const c_char, line: i32, prio: i32, msg: *const c_char) {
        // SAFETY: the logger passes NUL-terminated strings.
        let (file, msg) = unsafe { (CStr::from_ptr(file), CStr::from_ptr(msg)) };
        SEEN.lock().unwrap().push((
            file.to_bytes().to_vec(),
            line,
            prio,
            msg.to_bytes().to_vec(),
        ));
    }

    #[test]
    fn internal_messages_reach_the_hook() {
        // Before qb_log_init nothing is delivered (as libqb).
        log_hook::set_internal_log_fn(Some(hook));
        libqb_msg(3, "ipc.rs", 7001, "f", "early", b"early");
        super::super::init(b"internal-test", libc::LOG_USER, libc::LOG_EMERG as u8);
        libqb_msg(
            3,
            "ipc.rs",
            7002,
            "f",
            "conn %d refused",
            b"conn 5 refused\x07more",
        );
        crate::qb_util_log!(4, "peer {} gone", 9);
        super::super::fini();
        log_hook::set_internal_log_fn(None);
        let seen = SEEN.lock().unwrap();
        assert!(!seen.iter().any(|s| s.1 == 7001));
        assert!(seen.contains(&(b"ipc.rs".to_vec(), 7002, 3, b"conn 5 refused|more".to_vec())));
        assert!(
            seen.iter()
                .any(|s| s.0.ends_with(b"internal_msg.rs") && s.2 == 4 && s.3 == b"peer 9 gone")
        );
    }
}
