//! Fuzz target `blackbox_reader`: see `qb::fuzzing::blackbox_reader` (src/fuzzing.rs) for the
//! input encoding and the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qb::fuzzing::blackbox_reader(data));
