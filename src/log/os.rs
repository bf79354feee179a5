//! The operating-system side of logging: syslog, the C stdio streams, local time
//! and the host name. This is the only file of the log core that calls libc.

use std::ffi::{CStr, CString, c_char};
use std::sync::Mutex;

use super::format::LocalTime;

unsafe extern "C" {
    // glibc's standard streams: writing through them (not the raw fds) keeps our
    // lines ordered with the application's own stdio output, as libqb does.
    static stdout: *mut libc::FILE;
    static stderr: *mut libc::FILE;
    fn flockfile(file: *mut libc::FILE);
    fn funlockfile(file: *mut libc::FILE);
}

/// The stdio stream a target writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Writes `line` and a newline to `stream` and flushes it.
pub fn write_stream(stream: Stream, line: &[u8]) {
    // SAFETY: glibc initialises stdout/stderr before any user code runs; the FILE
    // lock makes the line and its newline one unit; `line` is a valid buffer.
    unsafe {
        let file = match stream {
            Stream::Stdout => stdout,
            Stream::Stderr => stderr,
        };
        if file.is_null() {
            return;
        }
        flockfile(file);
        libc::fwrite(line.as_ptr().cast(), 1, line.len(), file);
        libc::fputc(i32::from(b'\n'), file);
        funlockfile(file);
        libc::fflush(file);
    }
}

/// openlog() keeps the ident pointer, so the current ident must stay allocated.
static SYSLOG_IDENT: Mutex<Option<CString>> = Mutex::new(None);

/// (Re)opens the syslog connection with `ident` (bytes up to any NUL) and `facility`.
pub fn syslog_open(ident: &[u8], facility: i32) {
    let end = ident.iter().position(|&b| b == 0).unwrap_or(ident.len());
    let ident = CString::new(&ident[..end]).unwrap_or_default();
    let mut kept = SYSLOG_IDENT.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `ident` is NUL-terminated and, stored below, outlives this openlog.
    unsafe {
        libc::closelog();
        libc::openlog(ident.as_ptr(), libc::LOG_PID, facility);
    }
    *kept = Some(ident);
}

pub fn syslog_close() {
    // SAFETY: closelog has no preconditions.
    unsafe { libc::closelog() };
}

/// Sends one line (bytes up to any NUL) at `priority` (already clamped by the caller).
pub fn syslog_write(priority: i32, line: &CStr) {
    // SAFETY: a constant "%s" format with one valid NUL-terminated argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), line.as_ptr()) };
}

/// Local broken-down time of `epoch_seconds` (zeroes if the conversion fails).
pub fn local_time(epoch_seconds: i64) -> LocalTime {
    let t: libc::time_t = epoch_seconds;
    // SAFETY: localtime_r only writes the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return LocalTime::default();
        }
        tm
    };
    let small = |v: i32| u8::try_from(v).unwrap_or(0);
    LocalTime {
        month: small(tm.tm_mon),
        mday: small(tm.tm_mday),
        hour: small(tm.tm_hour),
        min: small(tm.tm_min),
        sec: small(tm.tm_sec),
    }
}

/// The host name (as `%H` shows it), "localhost" if it cannot be read.
pub fn hostname() -> Vec<u8> {
    let mut buf = [0 as c_char; 255];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return b"localhost".to_vec();
    }
    // gethostname may not terminate a truncated name.
    let bytes: Vec<u8> = buf[..buf.len() - 1].iter().map(|&c| c as u8).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].to_vec()
}

/// Wall-clock time as (seconds, nanoseconds) since the epoch, from the clock
/// stock libqb stamps log lines with (`qb_util_timespec_from_epoch_get`).
pub fn now() -> (i64, i64) {
    let ts = crate::util::time::epoch_timespec();
    (ts.sec, ts.nsec)
}
