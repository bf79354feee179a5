//! Fuzz target `ipc_handshake`: see `qb::fuzzing::ipc_handshake` (src/fuzzing.rs)
//! for the input encoding and the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        // Every accepted connection allocates its rings in full: a 1 MiB
        // ceiling instead of 64 MiB makes the live runs ~20x faster.
        if std::env::var_os("LIBQB_IPC_MAX_MSG_SIZE").is_none() {
            // SAFETY: runs once at start-up, before the library reads it.
            unsafe { std::env::set_var("LIBQB_IPC_MAX_MSG_SIZE", "1048576") };
        }
    },
    |data: &[u8]| qb::fuzzing::ipc_handshake(data)
);
