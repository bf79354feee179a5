//! Reading blackbox dumps (`qb_log_blackbox_print_from_file`, the `qb-blackbox`
//! tool): pure functions over the file's bytes, so the parser can be fuzzed and
//! never touches /dev/shm (two readers can run at once).
//!
//! Dump file (libqb's, see libqb-abi.md section 5.6), native endian:
//! - optional 20-byte [`MARKER`]; without it the dump predates high-resolution
//!   timestamps and records carry an 8-byte `time_t` instead of a `timespec`;
//! - the ring header: `u32 words, write_pt, read_pt, version (1), hash`, where
//!   `hash = words + write_pt + read_pt + version` (wrapping);
//! - `words * 4` bytes of raw ring data. Chunks are `[u32 len][u32 magic]` at
//!   word positions, then the payload; reading starts at `read_pt` and follows
//!   committed chunks until a chunk is not committed (the ring's free space).
//!
//! Record (one chunk payload), packed:
//! `u32 lineno | u32 tags | u8 priority | u32 fn_size | function[fn_size]
//! (NUL-terminated) | i64 sec | i64 nsec | u32 msg_len | msg[msg_len]`, `msg`
//! being the serialized format and arguments ([`super::blackbox_msg`]).
//!
//! Every length and position is checked against the bytes actually present;
//! anything inconsistent ends the listing with an "ERROR Corrupt file" line
//! like libqb's reader prints, and the call returns `-EIO`.
//!
//! Differences from libqb's reader (deliberate): the normal end of the records
//! is not reported as an error (libqb prints "ERROR: qb_rb_chunk_read failed:
//! Connection timed out" on stderr and returns -EIO after every successful
//! listing); messages up to `QB_LOG_ABSOLUTE_MAX_LEN` serialized bytes are
//! accepted (libqb stops at a record above 512, which a target configured with a
//! longer line length writes); `%%` is read correctly (libqb prints garbage).

use super::blackbox_msg::{self, Message};
use super::format::priority_name;

/// First 20 bytes of a dump with `timespec` timestamps.
pub const MARKER: [u8; 20] = [
    0, 0, 0, 0, 0xbb, 0xcc, 0xbb, 0xcc, 0xcc, 0xbb, 0xcc, 0xbb, 2, 0, 0, 0, 0, 0, 0, 0,
];
/// What a record holds besides the function name and the message:
/// lineno, tags, priority, fn_size, timespec, msg_len.
pub const FIXED_RECORD_BYTES: usize = 4 + 4 + 1 + 4 + 16 + 4;
/// Stored instead of a message that does not fit the line length.
pub const FALLBACK_MESSAGE: &[u8] =
    b"Log message too long to be stored in the blackbox.  Maximum is QB_LOG_MAX_LEN\0";

const RING_HEADER: usize = 20;
const RING_VERSION: u32 = 1;
const MAGIC_COMMITTED: u32 = 0xA1A1_A1A1;
const MAGIC_DEAD: u32 = 0xD0D0_D0D0;
/// libqb's smallest acceptable record (`BB_MIN_ENTRY_SIZE`).
const MIN_RECORD: usize = 4 * 4 + 1 + 2 + 8;
/// Longest serialized message accepted.
const MAX_MESSAGE: usize = super::ABSOLUTE_MAX_LEN;
/// Longest chunk accepted: a record with a long function name and message.
const MAX_CHUNK: usize = 64 * 1024;

/// Why a dump cannot be listed at all.
#[derive(Debug, PartialEq, Eq)]
pub enum DumpError {
    /// Shorter than a header.
    Truncated,
    /// Header fields inconsistent (hash, version, sizes, positions).
    BadHeader,
    /// Not enough memory for the ring.
    NoMemory,
}

/// A dump's ring, copied into private memory.
pub struct Dump {
    /// The ring data padded to `words * 4` bytes (libqb rounds a rebuilt ring up
    /// to a page; chunk positions wrap there).
    data: Vec<u8>,
    words: u32,
    read_pt: u32,
    /// Records carry a `timespec` (the marker was present).
    hi_res: bool,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut v = [0u8; 8];
    v.copy_from_slice(s);
    Some(i64::from_ne_bytes(v))
}

impl Dump {
    /// Validates the headers of `file` (a whole dump) and copies the ring.
    /// `page` is the page size the ring is rounded up to.
    pub fn parse(file: &[u8], page: usize) -> Result<Dump, DumpError> {
        let hi_res = file.get(..MARKER.len()) == Some(&MARKER[..]);
        let base = if hi_res { MARKER.len() } else { 0 };
        let field = |i: usize| u32_at(file, base + 4 * i).ok_or(DumpError::Truncated);
        let (words, write_pt, read_pt) = (field(0)?, field(1)?, field(2)?);
        let (version, hash) = (field(3)?, field(4)?);
        let expected = words
            .wrapping_add(write_pt)
            .wrapping_add(read_pt)
            .wrapping_add(version);
        if hash != expected || version != RING_VERSION {
            return Err(DumpError::BadHeader);
        }
        let bytes = (words as usize)
            .checked_mul(4)
            .ok_or(DumpError::BadHeader)?;
        let start = base + RING_HEADER;
        let raw = file
            .get(start..start.checked_add(bytes).ok_or(DumpError::BadHeader)?)
            .ok_or(DumpError::BadHeader)?;
        // libqb cannot rebuild a ring smaller than its chunk margin.
        if bytes < 16 {
            return Err(DumpError::BadHeader);
        }
        let page = page.max(4);
        let padded = bytes
            .checked_next_multiple_of(page)
            .ok_or(DumpError::BadHeader)?;
        let words = u32::try_from(padded / 4).map_err(|_| DumpError::BadHeader)?;
        if read_pt >= words || write_pt >= words {
            return Err(DumpError::BadHeader);
        }
        let mut data = Vec::new();
        data.try_reserve_exact(padded)
            .map_err(|_| DumpError::NoMemory)?;
        data.extend_from_slice(raw);
        data.resize(padded, 0);
        Ok(Dump {
            data,
            words,
            read_pt,
            hi_res,
        })
    }

    fn word(&self, pos: u32) -> u32 {
        let at = (pos % self.words) as usize * 4;
        u32_at(&self.data, at).unwrap_or(0)
    }

    fn set_word(&mut self, pos: u32, v: u32) {
        let at = (pos % self.words) as usize * 4;
        if let Some(s) = self.data.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    /// The next committed chunk, consumed (its header is marked dead, so a
    /// corrupt chain that loops ends when it comes back). `Ok(None)` at the end.
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<Option<()>, Corrupt> {
        let pos = self.read_pt;
        if self.word(pos + 1) != MAGIC_COMMITTED {
            return Ok(None);
        }
        let len = self.word(pos) as usize;
        if len > MAX_CHUNK || len + 12 > self.data.len() {
            return Err(Corrupt::ChunkTooBig(len));
        }
        out.clear();
        let total = self.data.len();
        let first = (pos as usize + 2) % self.words as usize * 4;
        let head = len.min(total - first);
        out.extend_from_slice(&self.data[first..first + head]);
        out.extend_from_slice(&self.data[..len - head]);
        self.set_word(pos, 0);
        self.set_word(pos + 1, MAGIC_DEAD);
        let step = 2 + (len as u64).div_ceil(4);
        self.read_pt = ((pos as u64 + step) % self.words as u64) as u32;
        Ok(Some(()))
    }
}

/// A record that cannot be decoded; ends the listing.
#[derive(Debug, PartialEq, Eq)]
pub enum Corrupt {
    ChunkTooBig(usize),
    TooSmall,
    FunctionSize(u32),
    NoFunction,
    MessageLength(u32),
}

impl Corrupt {
    /// The line libqb's reader prints for the same problem.
    fn describe(&self, out: &mut Vec<u8>) {
        let text = match self {
            Corrupt::ChunkTooBig(n) => format!("ERROR Corrupt file: chunk too big {n}\n"),
            Corrupt::TooSmall => "ERROR Corrupt file: blackbox header too small.\n".to_string(),
            Corrupt::FunctionSize(n) => format!("ERROR Corrupt file: fn_size way too big {n}\n"),
            Corrupt::NoFunction => "ERROR Corrupt file: fn_size negative 0\n".to_string(),
            Corrupt::MessageLength(n) => {
                format!("ERROR Corrupt file: msg_len out of bounds {n}\n")
            }
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// One decoded record.
pub struct Record<'a> {
    pub lineno: u32,
    pub tags: u32,
    pub priority: u8,
    /// Up to its NUL.
    pub function: &'a [u8],
    pub sec: i64,
    /// 0 in dumps without the marker.
    pub nsec: i64,
    pub message: &'a [u8],
}

/// Decodes one chunk payload.
pub fn decode(chunk: &[u8], hi_res: bool) -> Result<Record<'_>, Corrupt> {
    if chunk.len() < MIN_RECORD {
        return Err(Corrupt::TooSmall);
    }
    let lineno = u32_at(chunk, 0).ok_or(Corrupt::TooSmall)?;
    let tags = u32_at(chunk, 4).ok_or(Corrupt::TooSmall)?;
    let priority = chunk[8];
    let fn_size = u32_at(chunk, 9).ok_or(Corrupt::TooSmall)?;
    let time_bytes = if hi_res { 16 } else { 8 };
    let fn_start = 13usize;
    let fn_end = fn_start
        .checked_add(fn_size as usize)
        .filter(|&e| e + time_bytes + 4 <= chunk.len())
        .ok_or(Corrupt::FunctionSize(fn_size))?;
    if fn_size == 0 {
        return Err(Corrupt::NoFunction);
    }
    let function = &chunk[fn_start..fn_end];
    let function = &function[..function
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(function.len())];
    let sec = i64_at(chunk, fn_end).ok_or(Corrupt::TooSmall)?;
    let nsec = if hi_res {
        i64_at(chunk, fn_end + 8).ok_or(Corrupt::TooSmall)?
    } else {
        0
    };
    let len_at = fn_end + time_bytes;
    let msg_len = u32_at(chunk, len_at).ok_or(Corrupt::TooSmall)?;
    let message = chunk
        .get(len_at + 4..)
        .and_then(|rest| rest.get(..msg_len as usize))
        .filter(|m| !m.is_empty() && m.len() <= MAX_MESSAGE)
        .ok_or(Corrupt::MessageLength(msg_len))?;
    Ok(Record {
        lineno,
        tags,
        priority,
        function,
        sec,
        nsec,
        message,
    })
}

/// Renders `sec` as libqb's reader does (`"%b %d %T"` in local time), or None
/// to fall back to the plain number.
pub type TimeFormatter<'a> = &'a dyn Fn(i64, &mut Vec<u8>) -> bool;

/// Appends the listing line of `rec`: `"%-7s %s %s(%u):%u: %s\n"` with the
/// priority name, time with milliseconds, function, line, tags and message.
pub fn render(rec: &Record, time: TimeFormatter, msg: &mut Message, out: &mut Vec<u8>) {
    let name = priority_name(rec.priority);
    out.extend_from_slice(name);
    out.extend(std::iter::repeat_n(b' ', 7usize.saturating_sub(name.len())));
    out.push(b' ');
    if time(rec.sec, out) {
        // libqb prints the nanoseconds as unsigned long long / 1e6.
        out.extend_from_slice(format!(".{:03}", rec.nsec as u64 / 1_000_000).as_bytes());
    } else {
        out.extend_from_slice(rec.sec.to_string().as_bytes());
    }
    out.push(b' ');
    out.extend_from_slice(rec.function);
    out.extend_from_slice(format!("({}):{}: ", rec.lineno, rec.tags).as_bytes());
    blackbox_msg::deserialize(rec.message, msg);
    out.extend_from_slice(msg.printable());
    out.push(b'\n');
}

/// Lists every record of the dump `file` into `out`. Returns 0, or a negative
/// errno (`-EIO`) when the dump is unreadable or a record is corrupt (the
/// records before it are listed, followed by an "ERROR" line).
pub fn list(file: &[u8], page: usize, time: TimeFormatter, out: &mut Vec<u8>) -> i32 {
    let mut dump = match Dump::parse(file, page) {
        Ok(d) => d,
        Err(DumpError::NoMemory) => return -libc::ENOMEM,
        Err(_) => return -libc::EIO,
    };
    let mut chunk = Vec::new();
    let mut msg = Message::default();
    loop {
        match dump.next_chunk(&mut chunk) {
            Ok(None) => return 0,
            Ok(Some(())) => {}
            Err(e) => {
                e.describe(out);
                return -libc::EIO;
            }
        }
        match decode(&chunk, dump.hi_res) {
            Ok(rec) => render(&rec, time, &mut msg, out),
            Err(e) => {
                e.describe(out);
                return -libc::EIO;
            }
        }
    }
}

/// Local-time formatter used by the library: `strftime("%b %d %T")` of
/// `localtime_r`, as libqb's reader prints.
pub fn local_time(sec: i64, out: &mut Vec<u8>) -> bool {
    let t: libc::time_t = sec;
    let mut buf = [0u8; 64];
    // SAFETY: localtime_r writes only our tm; strftime writes at most buf.len()
    // bytes into our buffer and the format is a constant C string.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return false;
        }
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%b %d %T".as_ptr(),
            &tm,
        )
    };
    out.extend_from_slice(&buf[..n.min(buf.len())]);
    true
}

/// Largest dump file read (a 1 GiB ring is far beyond any blackbox size).
const MAX_FILE: u64 = 1 << 30;

/// `qb_log_blackbox_print_from_file`: lists the dump at `path` on the C
/// library's stdout (so the lines interleave with the caller's own printf
/// output). The file is read into memory: nothing is created in /dev/shm.
pub fn print_file(path: &std::ffi::CStr) -> i32 {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;

    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
    let mut file = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_FILE).read_to_end(&mut file));
    if let Err(e) = read {
        return -e.raw_os_error().unwrap_or(libc::EIO);
    }
    // SAFETY: no preconditions; makes localtime_r follow TZ like localtime().
    unsafe { tzset() };
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let mut out = Vec::new();
    let rc = list(&file, page, &local_time, &mut out);
    write_stdout(&out);
    rc
}

unsafe extern "C" {
    static stdout: *mut libc::FILE;
    fn tzset();
}

fn write_stdout(bytes: &[u8]) {
    // SAFETY: glibc's stdout is initialised before user code runs; the buffer
    // is valid for its length.
    unsafe {
        if !stdout.is_null() && !bytes.is_empty() {
            libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), stdout);
            libc::fflush(stdout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_time(_: i64, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(b"Jan 01 00:00:00");
        true
    }

    /// A dump holding `records` (payloads) in a ring of `words` words.
    pub(crate) fn make_dump(records: &[Vec<u8>], words: u32, start: u32) -> Vec<u8> {
        let mut data = vec![0u8; words as usize * 4];
        let mut pos = start;
        for r in records {
            let put = |data: &mut Vec<u8>, p: u32, v: u32| {
                let at = (p % words) as usize * 4;
                data[at..at + 4].copy_from_slice(&v.to_ne_bytes());
            };
            put(&mut data, pos, r.len() as u32);
            put(&mut data, pos + 1, MAGIC_COMMITTED);
            for (i, b) in r.iter().enumerate() {
                let at = ((pos as usize + 2) * 4 + i) % data.len();
                data[at] = *b;
            }
            pos = (pos + 2 + (r.len() as u32).div_ceil(4)) % words;
        }
        let mut file = MARKER.to_vec();
        let hash = words.wrapping_add(pos).wrapping_add(start).wrapping_add(1);
        for v in [words, pos, start, 1, hash] {
            file.extend_from_slice(&v.to_ne_bytes());
        }
        file.extend_from_slice(&data);
        file
    }

    pub(crate) fn record(function: &str, msg: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&42u32.to_ne_bytes());
        r.extend_from_slice(&5u32.to_ne_bytes());
        r.push(6);
        r.extend_from_slice(&(function.len() as u32 + 1).to_ne_bytes());
        r.extend_from_slice(function.as_bytes());
        r.push(0);
        r.extend_from_slice(&100i64.to_ne_bytes());
        r.extend_from_slice(&123_456_789i64.to_ne_bytes());
        r.extend_from_slice(&(msg.len() as u32).to_ne_bytes());
        r.extend_from_slice(msg);
        r
    }

    #[test]
    fn lists_records_in_order_across_the_wrap() {
        let mut msg = b"hello %s %d\0".to_vec();
        msg.extend_from_slice(b"world\0");
        msg.extend_from_slice(&7i32.to_ne_bytes());
        let recs = vec![record("main", &msg), record("f", b"second\n\0")];
        let file = make_dump(&recs, 1024, 1010);
        let mut out = Vec::new();
        assert_eq!(list(&file, 4096, &fixed_time, &mut out), 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "info    Jan 01 00:00:00.123 main(42):5: hello world 7\n\
             info    Jan 01 00:00:00.123 f(42):5: second\n"
        );
    }

    #[test]
    fn corrupt_records_end_the_listing() {
        let mut bad = record("main", b"x\0");
        bad[9..13].copy_from_slice(&1000u32.to_ne_bytes());
        let file = make_dump(&[record("a", b"ok\0"), bad], 1024, 0);
        let mut out = Vec::new();
        assert_eq!(list(&file, 4096, &fixed_time, &mut out), -libc::EIO);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("info    Jan 01 00:00:00.123 a(42):5: ok\n"));
        assert!(text.ends_with("ERROR Corrupt file: fn_size way too big 1000\n"));
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = make_dump(&[record("a", b"ok\0")], 1024, 0);
        for cut in [0, 10, 39, 100, good.len() - 1] {
            let mut out = Vec::new();
            assert_eq!(list(&good[..cut], 4096, &fixed_time, &mut out), -libc::EIO);
        }
        let mut bad_hash = good.clone();
        bad_hash[36] ^= 1;
        assert!(Dump::parse(&bad_hash, 4096).is_err());
        // Old format: no marker, 8-byte times.
        let mut old = good[20..].to_vec();
        old.truncate(20 + 4096);
        assert!(Dump::parse(&old, 4096).is_ok());
    }

    /// Every committed corrupted dump is listed or refused without panicking,
    /// and a truncated copy of each at every 7th length too.
    #[test]
    fn corpus_never_panics() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/c-tests/blackbox-corpus");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "bin") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for cut in (0..bytes.len()).step_by(7).chain([bytes.len()]) {
                let mut out = Vec::new();
                let rc = list(&bytes[..cut], 4096, &fixed_time, &mut out);
                assert!(rc == 0 || rc == -libc::EIO, "{path:?}: {rc}");
            }
            files += 1;
        }
        assert!(files > 5);
    }

    #[test]
    fn looping_chains_terminate() {
        // A chunk whose length steps the reader back onto itself.
        let words = 1024u32;
        let mut file = make_dump(&[record("a", b"ok\0")], words, 0);
        // Claim a length that wraps the whole ring: step = words.
        let len = (words - 2) * 4;
        file[40..44].copy_from_slice(&len.to_ne_bytes());
        let mut out = Vec::new();
        let rc = list(&file, 4096, &fixed_time, &mut out);
        assert!(rc == 0 || rc == -libc::EIO);
    }
}
