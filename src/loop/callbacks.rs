//! What the loop calls back: either a C function pointer with its `void *`
//! argument (the FFI) or a boxed Rust closure (Rust modules such as IPC).
//!
//! This is the only file of the loop core with `unsafe`: a C callback is a raw
//! function pointer plus an opaque user pointer, and calling it is unsafe by
//! nature. The C caller vouches (as with libqb) that the pointer stays valid
//! and may be used from the thread that runs the loop.

use std::ffi::c_void;
use std::sync::Arc;

/// `void (*)(void *data)`: jobs and timers.
pub type CVoidFn = unsafe extern "C" fn(data: *mut c_void);
/// `int32_t (*)(int32_t fd, int32_t revents, void *data)`.
pub type CPollFn = unsafe extern "C" fn(fd: i32, revents: i32, data: *mut c_void) -> i32;
/// `int32_t (*)(int32_t rsignal, void *data)`.
pub type CSignalFn = unsafe extern "C" fn(rsignal: i32, data: *mut c_void) -> i32;
/// `void (*)(int32_t not_enough, int32_t fds_available)`.
pub type CLowFdsFn = unsafe extern "C" fn(not_enough: i32, fds_available: i32);

/// A C caller's opaque `void *`. The loop never dereferences it, only hands it
/// back; it is marked `Send` because the loop state (behind a mutex) may be
/// touched from several threads while the C contract keeps the pointee valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserData(pub *mut c_void);

// SAFETY: an opaque token that is only passed back to the C code that owns it.
unsafe impl Send for UserData {}

/// A one-shot callback (job or timer).
pub enum OnceFn {
    C { func: CVoidFn, data: UserData },
    Rust(Box<dyn FnOnce() + Send>),
}

impl OnceFn {
    pub fn call(self) {
        match self {
            // SAFETY: registered by C for exactly this signature and argument.
            OnceFn::C { func, data } => unsafe { func(data.0) },
            OnceFn::Rust(f) => f(),
        }
    }

    /// True for a C callback with this function and argument (qb_loop_job_del).
    pub fn is_c(&self, f: CVoidFn, d: *mut c_void) -> bool {
        matches!(self, OnceFn::C { func, data } if std::ptr::fn_addr_eq(*func, f) && data.0 == d)
    }
}

/// A file descriptor callback; its result < 0 removes the source.
pub enum PollFn {
    C { func: CPollFn, data: UserData },
    Rust(Box<dyn FnMut(i32, i32) -> i32 + Send>),
}

impl PollFn {
    pub fn call(&mut self, fd: i32, revents: i32) -> i32 {
        match self {
            // SAFETY: registered by C for exactly this signature and argument.
            PollFn::C { func, data } => unsafe { func(fd, revents, data.0) },
            PollFn::Rust(f) => f(fd, revents),
        }
    }
}

/// A signal callback; a non-zero result removes the handler.
pub enum SignalFn {
    C { func: CSignalFn, data: UserData },
    Rust(Box<dyn FnMut(i32) -> i32 + Send>),
}

impl SignalFn {
    pub fn call(&mut self, signal: i32) -> i32 {
        match self {
            // SAFETY: registered by C for exactly this signature and argument.
            SignalFn::C { func, data } => unsafe { func(signal, data.0) },
            SignalFn::Rust(f) => f(signal),
        }
    }
}

/// Told when the process runs short of file descriptors (and when it recovers).
#[derive(Clone)]
pub enum LowFdsFn {
    C(CLowFdsFn),
    Rust(Arc<dyn Fn(bool, i32) + Send + Sync>),
}

impl LowFdsFn {
    pub fn call(&self, not_enough: bool, available: i32) {
        match self {
            // SAFETY: registered by C for exactly this signature.
            LowFdsFn::C(func) => unsafe { func(i32::from(not_enough), available) },
            LowFdsFn::Rust(f) => f(not_enough, available),
        }
    }
}
