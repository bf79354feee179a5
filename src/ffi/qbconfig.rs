//! The version data libqb exports (`qb_ver`, `qb_ver_str`, declared in qbutil.h and
//! described by qbconfig.h). Executables that reference them get copy relocations,
//! so their sizes (16 and 8 bytes) are ABI.

use std::ffi::c_char;

/// API level implemented: libqb 2.0.10 (kept equal to Cargo.toml's version).
pub const VERSION_MAJOR: u8 = 2;
pub const VERSION_MINOR: u8 = 0;
pub const VERSION_MICRO: u8 = 10;

/// `const struct qb_version` from qbutil.h.
#[repr(C)]
pub struct QbVersion {
    pub major: u8,
    pub minor: u8,
    pub micro: u8,
    pub rest: *const c_char,
}

/// `const char *const`.
#[repr(transparent)]
pub struct QbVersionStr(pub *const c_char);

// SAFETY: both only point at immutable string literals.
unsafe impl Sync for QbVersion {}
unsafe impl Sync for QbVersionStr {}

const _: () = assert!(size_of::<QbVersion>() == 16 && align_of::<QbVersion>() == 8);
const _: () = assert!(std::mem::offset_of!(QbVersion, rest) == 8);
const _: () = assert!(size_of::<QbVersionStr>() == 8);

#[unsafe(no_mangle)]
pub static qb_ver: QbVersion = QbVersion {
    major: VERSION_MAJOR,
    minor: VERSION_MINOR,
    micro: VERSION_MICRO,
    rest: c"".as_ptr(),
};

#[unsafe(no_mangle)]
pub static qb_ver_str: QbVersionStr = QbVersionStr(c"2.0.10".as_ptr());

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_matches_cargo() {
        let text = unsafe { CStr::from_ptr(qb_ver_str.0) }.to_str().unwrap();
        assert_eq!(text, env!("CARGO_PKG_VERSION"));
        let numeric = format!("{}.{}.{}", qb_ver.major, qb_ver.minor, qb_ver.micro);
        assert_eq!(numeric, env!("CARGO_PKG_VERSION"));
    }
}
