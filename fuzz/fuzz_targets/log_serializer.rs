//! Fuzz target `log_serializer`: see `qb::fuzzing::log_serializer` (src/fuzzing.rs) for the
//! input encoding and the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qb::fuzzing::log_serializer(data));
