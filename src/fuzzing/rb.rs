//! Target `rb_chunks`: rings whose shared state is hostile.
//!
//! Program encoding (after the mode byte): ring size / 64 (u8), user-data
//! words (u8), then operations, one byte each (value % 11) with operands:
//! 0-1 write `len: u16`; 2-3 read `cap: u16`; 4 peek (then, while the
//! ring is clean, a byte: even = reclaim the peeked chunk); 5 alloc
//! `len: u16` and commit (a byte < 128: all of it, else `len': u16`); 6
//! space and count queries; 7 bare reclaim; 8 peer writes a header word
//! `field: u8, value`; 9 peer writes data `word: u16, value, how: u8`
//! (raw word, forged committed chunk, dead magic); 10 peer truncates
//! `file: u8 (header/data), pages: u8`. A `value` is a selector byte and,
//! for some selectors, a u16 or u32 (see `pick_value`). Multi-byte operands
//! are little endian.

use std::collections::VecDeque;

use libc::{EAGAIN, EBADMSG, EINVAL, ENOBUFS, ETIMEDOUT};

use super::Input;
use crate::rb::{self, HEADER_SIZE, RingBuffer};

/// The first byte picks the mode. Odd: the rest of the input is a ring dump
/// (`qb_rb_create_from_file`); a dump that loads is walked, written out again
/// and reloaded, and both copies must yield the same chunks. Even: a ring is
/// created in /dev/shm and the rest of the input is a program of operations
/// on it, interleaved with a peer's writes into both shared files (positions,
/// chunk headers, the semaphore) and truncations of them. Until the peer
/// interferes, what is read must be exactly what was written, in order. Mode
/// bits 1-3: overwrite ring; semaphore shared (0), none (1) or thread-only.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    if mode & 1 == 1 {
        rb_dump_round_trip(inp.rest());
    } else {
        rb_program(mode, &mut inp);
    }
}

fn memfd_with(bytes: &[u8]) -> std::fs::File {
    use std::io::{Seek, Write};
    use std::os::fd::FromRawFd;
    // SAFETY: constant NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"qb-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create failed");
    // SAFETY: a fresh descriptor we own.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(bytes).expect("memfd write");
    f.rewind().expect("memfd seek");
    f
}

fn rb_dump_round_trip(dump: &[u8]) {
    use std::io::Seek;
    use std::os::fd::AsRawFd;
    let f = memfd_with(dump);
    let first = match RingBuffer::create_from_file(f.as_raw_fd()) {
        Ok(r) => r,
        Err(e) => {
            assert!(e == EINVAL || e == libc::ENOMEM, "create_from_file: {e}");
            return;
        }
    };
    let geo = first.geometry();
    let mut again = memfd_with(&[]);
    let n = first
        .write_to_file(again.as_raw_fd())
        .expect("write_to_file of a loaded dump");
    assert_eq!(n, 20 + geo.bytes());
    again.rewind().expect("memfd seek");
    let second = RingBuffer::create_from_file(again.as_raw_fd()).expect("reload our own dump");
    assert_eq!(second.geometry(), geo);
    let (mut a, mut b) = (vec![0u8; geo.bytes()], vec![0u8; geo.bytes()]);
    // Each chunk read moves the read position strictly towards the write
    // position by at least two words: the walk is bounded.
    for _ in 0..=geo.words() / 2 {
        let ra = first.read(&mut a, 0);
        let rb = second.read(&mut b, 0);
        assert_eq!(ra, rb, "a dump and its re-dump disagree");
        match ra {
            Ok(len) => {
                assert!(len + 8 <= geo.bytes());
                assert_eq!(a[..len], b[..len]);
            }
            Err(e) => {
                assert!(e == ETIMEDOUT || e == EBADMSG, "read from a dump: {e}");
                return;
            }
        }
    }
    panic!("chunk walk of a dump did not terminate");
}

/// The peer's view of a ring: its own mappings of both files.
struct Peer {
    fds: [std::fs::File; 2],
    maps: [(*mut u8, usize); 2],
    /// Current file sizes (after truncations): pokes stay below them.
    sizes: [usize; 2],
}

const HDR: usize = 0;
const DATA: usize = 1;

impl Peer {
    fn attach(ring: &RingBuffer) -> Peer {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let open = |p: &std::ffi::CStr| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(std::ffi::OsStr::from_bytes(p.to_bytes()))
                .expect("peer open")
        };
        let fds = [open(ring.name()), open(ring.data_path())];
        let lens = [HEADER_SIZE + ring.user_data_len(), ring.geometry().bytes()];
        let maps = [0, 1].map(|i| {
            // SAFETY: a fresh shared mapping of a file at least this long.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    lens[i],
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fds[i].as_raw_fd(),
                    0,
                )
            };
            assert!(p != libc::MAP_FAILED, "peer mmap");
            (p.cast::<u8>(), lens[i])
        });
        Peer {
            fds,
            maps,
            sizes: lens,
        }
    }

    fn poke(&self, file: usize, off: usize, v: u32) {
        let (base, len) = self.maps[file];
        if off.is_multiple_of(4) && off + 4 <= len.min(self.sizes[file]) {
            // SAFETY: an aligned word inside our mapping and inside the file.
            unsafe {
                (*base.add(off).cast::<std::sync::atomic::AtomicU32>())
                    .store(v, std::sync::atomic::Ordering::SeqCst)
            };
        }
    }

    fn truncate(&mut self, file: usize, len: usize) {
        self.fds[file].set_len(len as u64).expect("peer truncate");
        self.sizes[file] = len;
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        for (p, len) in self.maps {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(p.cast(), len) };
        }
    }
}

/// Payload `seq` of `len` bytes, distinct for each sequence number.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| (seq.wrapping_mul(131) as usize).wrapping_add(i * 7) as u8)
        .collect();
    for (b, s) in v.iter_mut().zip(seq.to_le_bytes()) {
        *b = s;
    }
    v
}

/// What the program has written and not yet read back.
struct Model {
    queue: VecDeque<Vec<u8>>,
    overwrite: bool,
}

impl Model {
    /// A chunk came out of the ring: it must be the oldest one (an overwrite
    /// ring may have dropped older ones to make room).
    fn take(&mut self, got: &[u8]) {
        while let Some(front) = self.queue.pop_front() {
            if front == got {
                return;
            }
            assert!(self.overwrite, "chunks read out of order or altered");
        }
        panic!("read a chunk that was never written ({} bytes)", got.len());
    }
}

static RING_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn rb_program(mode: u8, inp: &mut Input) {
    let overwrite = mode & 2 != 0;
    let sem = match (mode >> 2) & 3 {
        0 => rb::FLAG_SHARED_PROCESS,
        1 => rb::FLAG_NO_SEMAPHORE,
        _ => 0,
    };
    let flags = rb::FLAG_CREATE | sem | if overwrite { rb::FLAG_OVERWRITE } else { 0 };
    let size = usize::from(inp.u8()) * 64;
    let user = usize::from(inp.u8() & 0x3f) * 4;
    let seq = RING_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: getpid has no preconditions.
    let name = format!("qbfuzz-{}-{seq}", unsafe { libc::getpid() });
    let ring = RingBuffer::open(name.as_bytes(), size, flags, user)
        .unwrap_or_else(|e| panic!("cannot create ring {name}: errno {e}"));
    let paths = [ring.name().to_owned(), ring.data_path().to_owned()];
    let geo = ring.geometry();
    let bytes = geo.bytes();
    let mut peer = Peer::attach(&ring);
    let mut model = Model {
        queue: VecDeque::new(),
        overwrite,
    };
    // `clean`: the peer has not touched anything; `exact`: moreover every
    // chunk count is known (no overwrite drops, no peek left unconsumed).
    // `surplus`: the semaphore may count more chunks than there are: an
    // overwrite ring drops chunks, and a bare `reclaim` drops one, without
    // taking their counts (as libqb does); a read that finds no chunk behind
    // a count reports EBADMSG, like libqb's.
    let mut clean = true;
    let mut exact = !overwrite;
    let mut surplus = overwrite && sem != rb::FLAG_NO_SEMAPHORE;
    let mut truncated = false;
    let mut written = 0u32;
    let mut ops = 0;
    while !inp.is_empty() && ops < 200 {
        ops += 1;
        match inp.u8() % 11 {
            0 | 1 => {
                let len = usize::from(inp.u16()) % (bytes + 64);
                written += 1;
                let p = payload(written, len);
                match ring.write(&p) {
                    Ok(n) => {
                        assert_eq!(n, len);
                        model.queue.push_back(p);
                    }
                    Err(e) => check_refusal(e, clean),
                }
            }
            2 | 3 => {
                let cap = usize::from(inp.u16()) % (bytes + 64);
                let mut out = vec![0u8; cap];
                match ring.read(&mut out, 0) {
                    Ok(n) => {
                        assert!(n <= cap && n + 8 <= bytes, "read {n} bytes");
                        if clean {
                            model.take(&out[..n]);
                        }
                    }
                    Err(ENOBUFS) => {
                        if clean && !overwrite {
                            let front = model.queue.front().expect("ENOBUFS from an empty ring");
                            assert!(front.len() > cap);
                        }
                    }
                    Err(ETIMEDOUT | EAGAIN) => {
                        if exact {
                            assert!(model.queue.is_empty(), "written chunks not found");
                        }
                    }
                    Err(e) => {
                        assert!(HOSTILE_ERRORS.contains(&e), "read: errno {e}");
                        assert!(
                            !clean || (surplus && e == EBADMSG),
                            "read: errno {e} without corruption"
                        );
                    }
                }
            }
            4 => match ring.peek(0) {
                Ok(Some((p, len))) => {
                    assert!(len + 8 <= bytes, "peeked {len} bytes");
                    if clean && !truncated {
                        // SAFETY: the chunk lies in the ring's mapping, which
                        // nobody truncated.
                        let got = unsafe { std::slice::from_raw_parts(p.as_ptr(), len) };
                        let got = got.to_vec();
                        if inp.u8() & 1 == 0 {
                            let r = ring.reclaim();
                            assert_eq!(r, Ok(()), "reclaim after peek");
                            model.take(&got);
                        } else {
                            exact = false;
                        }
                    } else {
                        exact = false;
                    }
                }
                Ok(None) => {
                    if exact {
                        assert!(model.queue.is_empty(), "peek found nothing");
                    }
                }
                Err(e) => {
                    assert!(HOSTILE_ERRORS.contains(&e), "peek: errno {e}");
                    // Without a semaphore an empty ring peeks as EBADMSG
                    // (libqb's answer too; `read` says ETIMEDOUT).
                    let no_sem = sem == rb::FLAG_NO_SEMAPHORE;
                    assert!(
                        !clean || ((surplus || no_sem) && e == EBADMSG),
                        "peek: errno {e} without corruption"
                    );
                    if exact && no_sem {
                        assert!(model.queue.is_empty(), "peek missed a chunk");
                    }
                }
            },
            5 => {
                let len = usize::from(inp.u16()) % (bytes + 64);
                let commit = match inp.u8() {
                    0..128 => len,
                    _ => usize::from(inp.u16()) % (len + 1),
                };
                match ring.alloc(len) {
                    Ok(p) => {
                        written += 1;
                        let data = payload(written, commit);
                        if !truncated {
                            // SAFETY: alloc reserved `len >= commit` bytes at
                            // `p` in a mapping nobody truncated.
                            unsafe {
                                std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), commit)
                            };
                        }
                        match ring.commit(commit) {
                            Ok(()) => model.queue.push_back(data),
                            Err(e) => {
                                assert!(!clean, "commit of an allocation failed: {e}")
                            }
                        }
                    }
                    Err(e) => check_refusal(e, clean),
                }
            }
            6 => {
                if let Ok(free) = ring.space_free() {
                    assert!(free <= bytes);
                }
                if let Ok(used) = ring.space_used() {
                    assert!(used <= bytes);
                }
                if let Ok(n) = ring.chunks_used()
                    && exact
                {
                    assert_eq!(n, model.queue.len(), "semaphore count");
                }
            }
            7 => {
                if ring_reclaim(&ring, &mut model, clean) {
                    exact = false;
                    surplus |= sem != rb::FLAG_NO_SEMAPHORE;
                }
            }
            8 => {
                // The peer rewrites a header word: a position, the size, the
                // reference count or a word of the semaphore.
                const FIELDS: [usize; 12] = [
                    0, 4, 8, 8204, 8208, 8212, 8216, 8220, 8224, 8228, 8232, 8236,
                ];
                let off = FIELDS[usize::from(inp.u8()) % FIELDS.len()];
                let v = pick_value(inp, geo.words());
                peer.poke(HDR, off, v);
                (clean, exact) = (false, false);
            }
            9 => {
                // The peer forges a chunk header or scribbles on the data.
                let at = usize::from(inp.u16()) % geo.words() as usize * 4;
                let v = pick_value(inp, geo.words());
                match inp.u8() % 3 {
                    0 => peer.poke(DATA, at, v),
                    1 => {
                        peer.poke(DATA, at, v);
                        peer.poke(DATA, (at + 4) % bytes, rb::MAGIC_COMMITTED);
                    }
                    _ => peer.poke(DATA, (at + 4) % bytes, rb::MAGIC_DEAD),
                }
                (clean, exact) = (false, false);
            }
            _ => {
                // The peer shrinks a file under us: accesses must fail, not
                // raise SIGBUS.
                let file = usize::from(inp.u8() & 1);
                let pages = usize::from(inp.u8() % 3);
                peer.truncate(file, pages * page_size());
                (clean, exact, truncated) = (false, false, true);
            }
        }
    }
    drop(peer);
    drop(ring);
    for p in paths {
        // SAFETY: NUL-terminated path.
        let gone = unsafe { libc::access(p.as_ptr(), libc::F_OK) } != 0;
        assert!(gone, "{p:?} left behind");
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// A bare `reclaim`; true when it dropped a chunk.
fn ring_reclaim(ring: &RingBuffer, model: &mut Model, clean: bool) -> bool {
    match ring.reclaim() {
        Ok(()) => {
            if clean {
                let dropped = model.queue.pop_front();
                assert!(
                    dropped.is_some() || model.overwrite,
                    "reclaim of an empty ring"
                );
            }
            true
        }
        Err(e) => {
            assert!(HOSTILE_ERRORS.contains(&e), "reclaim: errno {e}");
            if clean && !model.overwrite {
                assert!(model.queue.is_empty(), "reclaim refused a chunk");
            }
            false
        }
    }
}

/// What an operation may fail with once the peer has meddled: corruption
/// (EBADMSG, or EINVAL where libqb says so), a full or empty ring, and the
/// semaphore's own errors (a forged count at its maximum: EOVERFLOW).
const HOSTILE_ERRORS: [i32; 6] = [EAGAIN, EINVAL, EBADMSG, ETIMEDOUT, ENOBUFS, libc::EOVERFLOW];

fn check_refusal(e: i32, clean: bool) {
    if clean {
        assert!(e == EAGAIN || e == EINVAL, "write refused with {e}");
    } else {
        assert!(HOSTILE_ERRORS.contains(&e), "write refused with {e}");
    }
}

/// A value for the peer to write: arbitrary, or near the ring's limits.
fn pick_value(inp: &mut Input, words: u32) -> u32 {
    match inp.u8() % 6 {
        0 => words - 1,
        1 => words,
        2 => u32::MAX,
        3 => u32::from(inp.u16()) % words,
        4 => u32::from(inp.u16()),
        _ => inp.u32(),
    }
}
