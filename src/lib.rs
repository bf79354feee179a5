//! libqb-rs: libqb 2.0.x's C ABI (`libqb.so.100`) over Rust internals.
//!
//! Layout: one safe core module per libqb area (`util`, `array`, `hdb`, `map`, ...)
//! and one FFI module, [`ffi`], holding every `extern "C"` entry point, one file per
//! public header. The FFI layer only checks arguments, converts, calls the core and
//! maps errors to `-errno`.

// A panic must never unwind into C. Unit tests run under the test harness (which
// needs unwinding) and the criterion benchmarks in bench/ (feature `bench-unwind`);
// every other build must be `panic = "abort"`.
#[cfg(all(not(panic = "abort"), not(test), not(feature = "bench-unwind")))]
compile_error!("libqb-rs must be built with panic = \"abort\": a panic may never unwind into C");

pub mod array;
pub mod ffi;
pub mod hdb;
pub mod ipc;
pub mod log;
pub mod r#loop;
pub mod map;
pub mod rb;
pub mod util;

// Entry points of the fuzz targets in fuzz/ (cargo-fuzz builds with
// `--cfg fuzzing`) and the corpus replay tests; not part of the shipped library.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
