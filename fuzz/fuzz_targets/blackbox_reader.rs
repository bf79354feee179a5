//! Fuzz target: the blackbox dump reader (header checks, chunk walk, record
//! decoding and message re-formatting), on arbitrary bytes. It must never
//! panic, hang or touch memory outside its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn fixed_time(_sec: i64, out: &mut Vec<u8>) -> bool {
    // A constant: the fuzzer explores the parser, not localtime().
    out.extend_from_slice(b"Jan 01 00:00:00");
    true
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let rc = qb::log::blackbox_reader::list(data, 4096, &fixed_time, &mut out);
    assert!(rc == 0 || rc == -libc_eio());
});

fn libc_eio() -> i32 {
    5
}
