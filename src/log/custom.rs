//! Custom targets (`qb_log_custom_open`): the application's own logger callback
//! receives each formatted message.
//!
//! The callbacks are C function pointers owned by the application; they are always
//! called with no logger lock held, because a callback may reconfigure the logger or
//! call `qb_log_target_format()` (which reads the configuration).

use std::ffi::c_char;

use super::callsite::Callsite;
use super::format::ABSOLUTE_MAX_LEN;
use super::targets::{self, Extended};

/// `qb_log_logger_fn`.
pub type LoggerFn =
    unsafe extern "C" fn(t: i32, cs: *mut Callsite, ts: *mut libc::timespec, msg: *const c_char);
/// `qb_log_close_fn` (also `qb_log_reload_fn`, which has the same type).
pub type TargetFn = unsafe extern "C" fn(t: i32);

/// The callbacks given to `qb_log_custom_open`.
#[derive(Clone, Copy, Debug)]
pub struct CustomFns {
    pub logger: Option<LoggerFn>,
    pub close: Option<TargetFn>,
    /// Kept for completeness: like libqb, nothing ever asks a custom target to reload
    /// (only the syslog and blackbox targets reload on reconfiguration).
    pub reload: Option<TargetFn>,
}

impl CustomFns {
    /// Calls the close callback, if any.
    pub fn close(&self, slot: usize) {
        if let (Some(close), Ok(t)) = (self.close, i32::try_from(slot)) {
            // SAFETY: the application's callback, called as qblog.h documents.
            unsafe { close(t) };
        }
    }
}

/// A message as a C string, in a stack buffer (messages never exceed
/// `QB_LOG_ABSOLUTE_MAX_LEN - 1` bytes).
pub struct CMessage {
    buf: [u8; ABSOLUTE_MAX_LEN + 1],
}

impl CMessage {
    pub fn new() -> Self {
        CMessage {
            buf: [0; ABSOLUTE_MAX_LEN + 1],
        }
    }

    /// `message` laid out for a target with the given `extended` setting (see
    /// [`targets::extended_view`]); None when the target skips it.
    pub fn prepare(&mut self, message: &[u8], extended: bool) -> Option<*const c_char> {
        let message = &message[..message.len().min(ABSOLUTE_MAX_LEN)];
        let len = match targets::extended_view(message, extended) {
            Extended::Skip => return None,
            Extended::AsIs => {
                self.buf[..message.len()].copy_from_slice(message);
                message.len()
            }
            Extended::Cut(at) => {
                self.buf[..at].copy_from_slice(&message[..at]);
                at
            }
            Extended::Bar(at) => {
                self.buf[..message.len()].copy_from_slice(message);
                self.buf[at] = b'|';
                message.len()
            }
        };
        self.buf[len] = 0;
        Some(self.buf.as_ptr().cast())
    }
}

impl Default for CMessage {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls `logger` for target `slot` with `message` (laid out per `extended`).
/// `cs` is only passed on to the callback, never dereferenced here.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn call_logger(
    logger: LoggerFn,
    slot: usize,
    extended: bool,
    cs: *mut Callsite,
    timestamp: (i64, i64),
    message: &[u8],
    scratch: &mut CMessage,
) {
    let (Some(text), Ok(t)) = (scratch.prepare(message, extended), i32::try_from(slot)) else {
        return;
    };
    let mut ts = libc::timespec {
        tv_sec: timestamp.0,
        tv_nsec: timestamp.1,
    };
    // SAFETY: the application's callback, called with a valid call site, timestamp
    // and NUL-terminated message, as qblog.h documents.
    unsafe { logger(t, cs, &mut ts, text) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(m: &mut CMessage, msg: &[u8], extended: bool) -> Option<Vec<u8>> {
        // SAFETY: `prepare` returns a NUL-terminated buffer.
        m.prepare(msg, extended)
            .map(|p| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
    }

    #[test]
    fn messages_follow_the_extended_setting() {
        let mut m = CMessage::new();
        assert_eq!(text(&mut m, b"plain", false).unwrap(), b"plain");
        assert_eq!(text(&mut m, b"a \x07b", true).unwrap(), b"a |b");
        assert_eq!(text(&mut m, b"a \x07b", false).unwrap(), b"a ");
        assert_eq!(text(&mut m, b"a \x07", true).unwrap(), b"a ");
        assert_eq!(text(&mut m, b"\x07only", false), None);
        assert_eq!(text(&mut m, b"\x07only", true).unwrap(), b"|only");
        let long = vec![b'x'; 5000];
        assert_eq!(text(&mut m, &long, true).unwrap().len(), ABSOLUTE_MAX_LEN);
    }
}
