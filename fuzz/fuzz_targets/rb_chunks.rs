//! Fuzz target `rb_chunks`: see `qb::fuzzing::rb_chunks` (src/fuzzing.rs) for the
//! input encoding and the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qb::fuzzing::rb_chunks(data));
