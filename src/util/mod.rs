//! Small utilities libqb exposes through `qbutil.h` and `qbatomic.h`: thread locks,
//! clocks, a stopwatch with split times, sequentially consistent atomics and the
//! (deprecated) hook for libqb's internal log messages.

pub mod atomic;
pub mod errno_text;
pub mod lock;
pub mod log_hook;
pub mod stopwatch;
pub mod time;

pub use lock::{LockKind, ThreadLock};
pub use stopwatch::Stopwatch;
