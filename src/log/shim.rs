//! The Rust end of the C shim (src/shim/qblog_va.c): receives a message the shim
//! formatted with `vsnprintf` and dispatches it to the targets.

use std::ffi::{c_char, c_int};

use super::callsite::Callsite;

#[cfg(any(test, fuzzing))]
unsafe extern "C" {
    /// The blackbox serializer's test entry (src/shim/qblog_serialize.c): one
    /// serialization of `fmt` and its arguments into `buf`, by the call site's
    /// cached plan (`use_plan` != 0; 0 when the format has none) or by the
    /// reference walk. For the unit tests and the serializer fuzz target.
    pub(crate) fn qbrs_serialize_test(
        use_plan: c_int,
        buf: *mut c_char,
        cap: usize,
        fmt: *const c_char,
        ...
    ) -> usize;
}

/// Called by the shim for every log call some target wants.
///
/// # Safety
/// `cs` is NULL or a valid `struct qb_log_callsite`; `printed` is NULL or a
/// `QB_LOG_ABSOLUTE_MAX_LEN`-byte buffer holding `min(full_len, QB_LOG_ABSOLUTE_MAX_LEN - 1)`
/// bytes written by `vsnprintf` (`full_len` being its return value).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qbrs_log_dispatch(
    cs: *mut Callsite,
    printed: *const c_char,
    full_len: c_int,
) {
    if cs.is_null() || printed.is_null() {
        return;
    }
    let stored = match usize::try_from(full_len) {
        Ok(len) => len.min(super::ABSOLUTE_MAX_LEN - 1),
        // vsnprintf failed: use whatever it left, up to the terminator.
        // SAFETY: the shim always terminates the buffer.
        Err(_) => unsafe { std::ffi::CStr::from_ptr(printed) }
            .to_bytes()
            .len(),
    };
    // SAFETY: per this function's contract.
    let (rec, text) = unsafe {
        (
            crate::ffi::qblog::record(cs),
            std::slice::from_raw_parts(printed.cast::<u8>(), stored),
        )
    };
    super::dispatch(&rec, text, full_len);
}
