//! Entry points of the fuzz targets in `fuzz/` (cargo-fuzz), one per target.
//!
//! Each function takes arbitrary bytes, feeds them to the code that parses
//! untrusted input, and checks what that code promises: it never panics (a
//! panic aborts the library), and its results obey the invariants asserted
//! below (bounds, round trips, agreement between two implementations). A
//! failed assertion is a bug in the library, not in the input.
//!
//! The fuzz targets are one-line wrappers, and `cargo test` replays the
//! committed corpora in `fuzz/corpus/<target>/` through the same functions on
//! stable Rust (see the tests at the end), so every input that once found a
//! bug stays a regression test.
//!
//! Not part of the C ABI and not a stable Rust API.

use crate::ipc::client::handshake::{self as client_hs, Kind};
use crate::ipc::server::handshake::{DEFAULT_MAX_MSG_CEILING, negotiate};
use crate::ipc::wire::{ConnectionRequest, ConnectionResponse, MIN_MSG_SIZE, PATH_FIELD};
use crate::log::blackbox_msg::{self, Message};
use crate::log::blackbox_reader::{self, Dump};

mod ipc_live;
mod rb;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod serializer;

/// Reads the fuzzer's bytes as a stream of small decisions; past the end
/// every read yields zeros, so any input is a complete program.
struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data, at: 0 }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let v = self.data.get(self.at).copied().unwrap_or(0);
        self.at = self.at.saturating_add(1);
        v
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Up to `n` bytes (fewer at the end of the input).
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        &self.data[start..end]
    }

    fn rest(&mut self) -> &'a [u8] {
        self.bytes(usize::MAX)
    }
}

// ------------------------------------------------------------------ IPC

/// Target `ipc_handshake`: the 24-byte hello as the server decodes it and the
/// buffer size it negotiates from it; the 12328-byte answer as the client
/// validates it; and, when asked, the same hello sent to a live server
/// ([`ipc_live`]).
///
/// Input: a control byte (bit 2: go live; the rest is for [`ipc_live::run`]),
/// 24 hello bytes, the service's enforced size and ceiling (u32 each), a
/// length byte and that many bytes sent after the hello, then the answer: its
/// 40 fixed bytes followed, for each of the three path fields, by a u16
/// length and that many bytes (the rest of the field is zero, so the field is
/// NUL-terminated unless the length is 4096); then the live run's fragments.
pub fn ipc_handshake(data: &[u8]) {
    let mut inp = Input::new(data);
    let ctl = inp.u8();
    let mut hello = [0u8; size_of::<ConnectionRequest>()];
    let got = inp.bytes(hello.len());
    hello[..got.len()].copy_from_slice(got);
    // SAFETY: ConnectionRequest is plain integers (any bit pattern is valid);
    // this is how the server turns the bytes it received into a request.
    let req: ConnectionRequest = unsafe { std::ptr::read_unaligned(hello.as_ptr().cast()) };
    let enforced = inp.u32();
    let ceiling = inp.u32();
    check_negotiation(req.max_msg_size, enforced, ceiling);
    check_negotiation(req.max_msg_size, 0, DEFAULT_MAX_MSG_CEILING);
    check_negotiation(req.max_msg_size, enforced, DEFAULT_MAX_MSG_CEILING);
    let extra_len = usize::from(inp.u8() % 64);
    let extra = inp.bytes(extra_len);

    let mut answer = ConnectionResponse::default();
    let fixed = inp.bytes(40);
    // SAFETY: the first 40 bytes of the repr(C) answer are plain integers;
    // `fixed` holds at most 40 bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            fixed.as_ptr(),
            (&mut answer as *mut ConnectionResponse).cast::<u8>(),
            fixed.len(),
        );
    }
    for field in [&mut answer.request, &mut answer.response, &mut answer.event] {
        let n = usize::from(inp.u16()) % (PATH_FIELD + 1);
        let src = inp.bytes(n);
        field[..src.len()].copy_from_slice(src);
        // Short input: keep the requested length with non-NUL filler.
        field[src.len()..n].fill(b'q');
    }
    check_answer(&answer);
    if ctl & 4 != 0 {
        ipc_live::run(ctl, &mut inp, &hello, extra);
    }
}

fn check_negotiation(requested: u32, enforced: u32, ceiling: u32) {
    let got = negotiate(requested, enforced, ceiling);
    let top = ceiling.max(enforced).max(MIN_MSG_SIZE);
    assert!(
        (MIN_MSG_SIZE..=top).contains(&got),
        "negotiate({requested}, {enforced}, {ceiling}) = {got} outside [{MIN_MSG_SIZE}, {top}]"
    );
    // The application's enforced size always wins over a smaller request.
    assert!(got >= enforced.min(top));
    // Within the ceiling, libqb's rule: the larger of request and enforced.
    let want = requested.max(enforced).max(MIN_MSG_SIZE);
    if want <= top {
        assert_eq!(got, want, "negotiate({requested}, {enforced}, {ceiling})");
    } else {
        assert_eq!(got, top);
    }
}

fn field_text(field: &[u8; PATH_FIELD]) -> Option<&[u8]> {
    field.iter().position(|&b| b == 0).map(|n| &field[..n])
}

fn check_answer(a: &ConnectionResponse) {
    let creds = client_hs::Credentials {
        pid: 1,
        uid: 2,
        gid: 3,
    };
    let fields = [&a.request, &a.response, &a.event];
    let acceptable = a.hdr.error == 0
        && (a.connection_type == 0 || a.connection_type == 1)
        && a.max_msg_size != 0
        && fields.iter().all(|f| field_text(f).is_some());
    match client_hs::validate(a, creds) {
        Ok(ok) => {
            assert!(acceptable, "an invalid answer was accepted");
            let kind = if a.connection_type == 1 {
                Kind::Shm
            } else {
                Kind::Socket
            };
            assert_eq!(ok.kind, kind);
            assert_eq!(ok.max_msg_size, a.max_msg_size.min(i32::MAX as u32));
            assert!(ok.max_msg_size >= 1 && ok.max_msg_size <= i32::MAX as u32);
            for (name, field) in [&ok.request, &ok.response, &ok.event]
                .into_iter()
                .zip(fields)
            {
                assert_eq!(Some(name.as_bytes()), field_text(field));
            }
            assert_eq!(ok.creds, creds);
        }
        Err(e) => {
            assert!(!acceptable, "a valid answer was refused with {e}");
            assert!((1..4096).contains(&e), "errno {e} out of range");
            if a.hdr.error != 0 {
                // The server's own errno is passed on when it is one.
                let theirs = a.hdr.error.checked_neg().filter(|v| (1..4096).contains(v));
                assert_eq!(e, theirs.unwrap_or(libc::EPROTO));
            }
        }
    }
}

/// Target `rb_chunks`: see [`rb::run`].
pub fn rb_chunks(data: &[u8]) {
    rb::run(data);
}

// ------------------------------------------------------------------ blackbox

fn fixed_time(_sec: i64, out: &mut Vec<u8>) -> bool {
    // A constant: the fuzzer explores the parser, not localtime().
    out.extend_from_slice(b"Jan 01 00:00:00");
    true
}

/// Target `blackbox_reader`: a blackbox dump file as `qb-blackbox` and
/// `qb_log_blackbox_print_from_file` read it; also the same bytes as a single
/// record and as a serialized message.
pub fn blackbox_reader(data: &[u8]) {
    let mut out = Vec::new();
    let rc = blackbox_reader::list(data, 4096, &fixed_time, &mut out);
    assert!(rc == 0 || rc == -libc::EIO, "list returned {rc}");
    // Listing is a pure function of the file.
    let mut again = Vec::new();
    assert_eq!(
        blackbox_reader::list(data, 4096, &fixed_time, &mut again),
        rc
    );
    assert_eq!(out, again);
    match Dump::parse(data, 4096) {
        Err(_) => assert!(out.is_empty() && rc == -libc::EIO),
        Ok(_) => {
            // Each record line takes at least two words of the ring.
            let lines = out.iter().filter(|&&b| b == b'\n').count();
            assert!(lines <= data.len() / 8 + 1, "{lines} lines");
            if rc != 0 {
                let last = out
                    .split(|&b| b == b'\n')
                    .rfind(|l| !l.is_empty())
                    .unwrap_or_default();
                assert!(
                    last.starts_with(b"ERROR Corrupt file"),
                    "failed listing without an error line"
                );
            }
        }
    }
    for hi_res in [false, true] {
        if let Ok(rec) = blackbox_reader::decode(data, hi_res) {
            assert!(!rec.function.contains(&0));
            assert!(!rec.message.is_empty());
            assert!(rec.function.len() + rec.message.len() <= data.len());
        }
    }
    let mut msg = Message::default();
    blackbox_msg::deserialize(data, &mut msg);
    assert!(msg.printable().len() < 512);
}

// ------------------------------------------------------------------ serializer

/// Target `log_serializer`: the blackbox's argument serializer
/// (src/shim/qblog_serialize.c) and the reader's deserializer
/// ([`blackbox_msg`]).
///
/// The input is turned into a printf format and matching arguments (only
/// well-typed pairs: a mismatched `%s` would crash any printf). Then: the
/// cached-plan serializer and the reference walk must produce the same bytes;
/// the record never exceeds its capacity; its length is the sum of the parts
/// (or the capacity when they do not fit); and, for formats without
/// precisions (whose "sticky" libqb semantics cut later strings on purpose),
/// deserializing the record must print exactly what `snprintf` prints for
/// the original format and arguments, cut as the reader cuts.
pub fn log_serializer(data: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    serializer::run(data);
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Runs `f` on every file of `fuzz/corpus/<target>/`.
    fn replay(target: &str, f: fn(&[u8])) {
        let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "corpus", target]
            .iter()
            .collect();
        let mut files = 0;
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).expect("corpus file");
            eprintln!("replay {target}: {}", path.display());
            f(&bytes);
            files += 1;
        }
        assert!(files >= 5, "{dir:?}: only {files} inputs");
    }

    #[test]
    fn replay_ipc_handshake() {
        replay("ipc_handshake", super::ipc_handshake);
    }

    #[test]
    fn replay_rb_chunks() {
        replay("rb_chunks", super::rb_chunks);
    }

    #[test]
    fn replay_blackbox_reader() {
        replay("blackbox_reader", super::blackbox_reader);
    }

    #[test]
    fn replay_log_serializer() {
        replay("log_serializer", super::log_serializer);
    }

    #[test]
    fn empty_inputs_are_programs_too() {
        super::ipc_handshake(&[]);
        super::rb_chunks(&[]);
        super::rb_chunks(&[1]);
        super::blackbox_reader(&[]);
        super::log_serializer(&[]);
    }
}
