//! Text for errno values, as glibc's GNU `strerror_r` gives it (libqb's
//! `qb_strerror_r` is a thin wrapper around that function).

use std::borrow::Cow;
use std::ffi::{CStr, CString, c_char, c_int};

unsafe extern "C" {
    /// glibc exports the GNU variant under this name (the POSIX one is
    /// `__xpg_strerror_r`, which is what the libc crate binds).
    #[link_name = "strerror_r"]
    fn gnu_strerror_r(errnum: c_int, buf: *mut c_char, buflen: usize) -> *mut c_char;
}

/// Room for glibc's "Unknown error -2147483648" and any translation of it.
const SCRATCH_LEN: usize = 128;

/// The message for `errnum`: borrowed when libc has a fixed message for it,
/// otherwise formatted (e.g. "Unknown error 4321").
pub fn error_message(errnum: i32) -> Cow<'static, CStr> {
    let mut scratch = [0 as c_char; SCRATCH_LEN];
    // SAFETY: `scratch` is writable for SCRATCH_LEN bytes; glibc returns either a
    // pointer into it or to an immutable message that lives as long as the
    // process, NUL-terminated in both cases.
    let text = unsafe { gnu_strerror_r(errnum, scratch.as_mut_ptr(), SCRATCH_LEN) };
    if text.is_null() {
        return Cow::Owned(fallback(errnum));
    }
    if std::ptr::eq(text, scratch.as_ptr()) {
        // SAFETY: glibc NUL-terminated what it wrote into `scratch`.
        let formatted = unsafe { CStr::from_ptr(scratch.as_ptr()) };
        Cow::Owned(formatted.to_owned())
    } else {
        // SAFETY: see above; the text is static.
        Cow::Borrowed(unsafe { CStr::from_ptr(text) })
    }
}

fn fallback(errnum: i32) -> CString {
    CString::new(format!("Unknown error {errnum}")).unwrap_or_default()
}

/// Copies `text` into `buf`, truncated so that a terminating NUL fits
/// (nothing is written into an empty buffer).
pub fn copy_truncated(text: &CStr, buf: &mut [u8]) {
    let Some(room) = buf.len().checked_sub(1) else {
        return;
    };
    let bytes = text.to_bytes();
    let n = bytes.len().min(room);
    buf[..n].copy_from_slice(&bytes[..n]);
    buf[n] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_errors_are_static() {
        let m = error_message(libc::ENOENT);
        assert!(matches!(m, Cow::Borrowed(_)));
        assert_eq!(m.to_str().unwrap(), "No such file or directory");
    }

    #[test]
    fn unknown_errors_are_formatted() {
        let m = error_message(98765);
        assert_eq!(m.to_str().unwrap(), "Unknown error 98765");
        let m = error_message(i32::MIN);
        assert!(m.to_str().unwrap().starts_with("Unknown error"));
    }

    #[test]
    fn copy_truncates_and_terminates() {
        let mut buf = [0xffu8; 4];
        copy_truncated(c"Hello", &mut buf);
        assert_eq!(&buf, b"Hel\0");
        let mut big = [0xffu8; 8];
        copy_truncated(c"Hi", &mut big);
        assert_eq!(&big[..3], b"Hi\0");
        let mut none: [u8; 0] = [];
        copy_truncated(c"Hi", &mut none);
    }
}
