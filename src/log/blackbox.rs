//! The blackbox target (slot 2): a flight recorder in an overwrite ring
//! (`/dev/shm/qb-<ident>-<pid>-blackbox-{header,data}`), dumped to a file by
//! `qb_log_blackbox_write_to_file`, typically from a crash handler.
//!
//! Records are written in libqb's layout ([`super::blackbox_reader`] documents it
//! and reads it back); the message part is produced by the C serializer
//! (src/shim/qblog_serialize.c), which stores the arguments' raw values, so the
//! hot path never formats text.
//!
//! # Concurrency
//! The ring has one writer at a time. [`WriterLock`] is a spin lock whose word
//! holds the owner's `pthread_self()`: a thread that re-enters the logger from a
//! signal handler while it holds the lock sees itself as the owner and drops the
//! record instead of deadlocking. The ring itself is a leaked `Box` behind
//! [`RING`]; writers use it only under the lock. Closing swaps the pointer out
//! under the lock, then waits until no dump is in progress ([`DUMPERS`]) before
//! freeing it.
//!
//! # Dumping from a signal handler
//! [`write_to_file`] uses only async-signal-safe calls (`open`, `write`, `close`,
//! atomics, `sched_yield`): no allocation, no blocking lock. It tries the writer
//! lock for a bounded time so the snapshot is consistent; if the lock is held by
//! the interrupted thread itself, or by another thread for too long, it dumps
//! without it (a record being written at that instant may be torn; readers stop
//! at a chunk that is not committed).

use std::ffi::{CStr, c_char, c_int};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use super::blackbox_reader::{FALLBACK_MESSAGE, FIXED_RECORD_BYTES, MARKER};
use super::callsite::Callsite;
use crate::rb::{Appender, FLAG_CREATE, FLAG_NO_SEMAPHORE, FLAG_OVERWRITE, RingBuffer};

/// Smallest `QB_LOG_CONF_SIZE` the blackbox accepts (as libqb).
pub const MIN_SIZE: i32 = 1024;
/// Size of the C serializer's buffer: a message that long never fits.
const SERIALIZE_CAP: usize = super::ABSOLUTE_MAX_LEN;

static RING: AtomicPtr<Appender> = AtomicPtr::new(std::ptr::null_mut());
/// Owner (`pthread_self()`) of the writer lock, 0 when free.
static LOCK: AtomicUsize = AtomicUsize::new(0);
/// Dumps in progress that may use the ring without holding the lock.
static DUMPERS: AtomicU32 = AtomicU32::new(0);
/// The blackbox target's `QB_LOG_CONF_MAX_LINE_LEN`.
static MAX_LINE: AtomicI32 = AtomicI32::new(super::targets::DEFAULT_MAX_LINE);

fn me() -> usize {
    // SAFETY: pthread_self has no preconditions and is async-signal-safe in
    // practice (it reads the thread pointer).
    unsafe { libc::pthread_self() as usize }
}

/// Holds the writer lock; released on drop.
struct WriterLock;

impl WriterLock {
    /// Waits for the lock. None when this thread already holds it (a log call
    /// from a signal handler that interrupted this thread's own write).
    #[inline]
    fn acquire() -> Option<WriterLock> {
        let me = me();
        let mut spins = 0u32;
        loop {
            match LOCK.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(WriterLock),
                Err(owner) if owner == me => return None,
                Err(_) => backoff(&mut spins),
            }
        }
    }

    /// Like `acquire` but gives up after `rounds` waits (dumps from crash
    /// handlers must not hang on a lock whose owner may never run again).
    fn try_acquire(rounds: u32) -> Option<WriterLock> {
        let me = me();
        let mut spins = 0u32;
        for _ in 0..rounds {
            match LOCK.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(WriterLock),
                Err(owner) if owner == me => return None,
                Err(_) => backoff(&mut spins),
            }
        }
        None
    }
}

impl Drop for WriterLock {
    #[inline]
    fn drop(&mut self) {
        LOCK.store(0, Ordering::Release);
    }
}

fn backoff(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        // SAFETY: no preconditions; async-signal-safe.
        unsafe { libc::sched_yield() };
    }
}

/// Opens (or re-opens, dropping the old content) the ring for `ident`, as the
/// blackbox target's enable and `QB_LOG_CONF_SIZE` do.
pub fn open(ident: &[u8], size: i32, max_line: i32) -> Result<(), i32> {
    if size < MIN_SIZE {
        return Err(libc::EINVAL);
    }
    close();
    MAX_LINE.store(max_line, Ordering::Relaxed);
    let end = ident.iter().position(|&b| b == 0).unwrap_or(ident.len());
    let mut name = ident[..end].to_vec();
    name.extend_from_slice(format!("-{}-blackbox", std::process::id()).as_bytes());
    let flags = FLAG_CREATE | FLAG_OVERWRITE | FLAG_NO_SEMAPHORE;
    let ring = Appender::new(RingBuffer::open(&name, size as usize, flags, 0)?)?;
    let fresh = Box::into_raw(Box::new(ring));
    let _lock = WriterLock::acquire();
    let old = RING.swap(fresh, Ordering::SeqCst);
    debug_assert!(old.is_null());
    Ok(())
}

/// Closes the ring (removing its files); nothing to do when none is open.
pub fn close() {
    let (old, interrupted_own_write) = {
        let lock = WriterLock::acquire();
        (
            RING.swap(std::ptr::null_mut(), Ordering::SeqCst),
            lock.is_none(),
        )
    };
    if old.is_null() {
        return;
    }
    if interrupted_own_write {
        // Called from a signal handler that interrupted this thread's own
        // record: the interrupted writer still uses the ring when the handler
        // returns, so it is left allocated (and its files in place).
        return;
    }
    // A dump that loaded the pointer before the swap may still be reading.
    let mut spins = 0;
    while DUMPERS.load(Ordering::SeqCst) != 0 {
        backoff(&mut spins);
    }
    // SAFETY: `old` came from Box::into_raw in `open`; no writer (lock) or
    // dumper (counter) can reach it any more.
    drop(unsafe { Box::from_raw(old) });
}

/// `QB_LOG_CONF_MAX_LINE_LEN` of the blackbox target.
pub fn set_max_line(max_line: i32) {
    MAX_LINE.store(max_line, Ordering::Relaxed);
}

/// Whether a ring is open (the target may be enabled with a failed re-open).
pub fn is_open() -> bool {
    !RING.load(Ordering::Acquire).is_null()
}

/// Wall-clock time as libqb stamps records: `qb_util_timespec_from_epoch_get`'s
/// clock (`CLOCK_REALTIME_COARSE`, as stock libqb).
#[inline]
fn now() -> libc::timespec {
    let ts = crate::util::time::epoch_timespec();
    libc::timespec {
        tv_sec: ts.sec,
        tv_nsec: ts.nsec,
    }
}

/// A record being written, shared with the C serializer: `msg` and `cap` say
/// where the serialized message goes and how long it may be; the rest is ours.
/// The writer lock is held from [`qbrs_blackbox_begin`] to [`qbrs_blackbox_end`].
#[repr(C)]
pub struct OpenRecord {
    msg: *mut u8,
    cap: usize,
    ring: *const Appender,
    /// Where the message length field goes.
    len_at: *mut u8,
    head: usize,
}

/// The C side's `struct qbrs_bb_record` has room for this.
const _: () = assert!(std::mem::size_of::<OpenRecord>() <= 56);

/// Starts one record: takes the writer lock, reserves room in the ring like
/// libqb (header plus the whole line length, so an overwrite ring drops the
/// same old records) and stores everything but the message. Returns false
/// (lock not held) when nothing can be stored.
#[inline]
fn begin(cs: &Callsite, function: &[u8], out: &mut OpenRecord) -> bool {
    let Some(lock) = WriterLock::acquire() else {
        return false;
    };
    let ring = RING.load(Ordering::Acquire);
    if ring.is_null() {
        return false;
    }
    // SAFETY: non-null pointers in RING are live rings; the lock keeps close()
    // from freeing it until `end` releases it.
    let ring_ref = unsafe { &*ring };
    let limit = usize::try_from(MAX_LINE.load(Ordering::Relaxed)).unwrap_or(0);
    let head = FIXED_RECORD_BYTES + function.len();
    // The fixed text always fits, so the reservation covers any message
    // `end` may store.
    let Ok(dst) = ring_ref.reserve(head + limit.max(FALLBACK_MESSAGE.len())) else {
        return false;
    };
    let ts = now();
    // The fixed fields, packed as libqb lays them out, in small buffers so
    // they are stored with a few moves rather than one copy per field.
    let mut fixed = [0u8; 13];
    fixed[0..4].copy_from_slice(&cs.lineno.load(Ordering::Relaxed).to_ne_bytes());
    fixed[4..8].copy_from_slice(&cs.tags.load(Ordering::Relaxed).to_ne_bytes());
    fixed[8] = cs.priority.load(Ordering::Relaxed);
    fixed[9..13].copy_from_slice(&(function.len() as u32).to_ne_bytes());
    let mut times = [0u8; 16];
    times[0..8].copy_from_slice(&ts.tv_sec.to_ne_bytes());
    times[8..16].copy_from_slice(&ts.tv_nsec.to_ne_bytes());
    let dst = dst.as_ptr();
    // SAFETY: the reservation holds head (= 13 + function + 16 + 4) bytes
    // plus at least max(limit, FALLBACK) message bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(fixed.as_ptr(), dst, fixed.len());
        let at = dst.add(fixed.len());
        copy_name(at, function);
        let at = at.add(function.len());
        std::ptr::copy_nonoverlapping(times.as_ptr(), at, times.len());
        let len_at = at.add(times.len());
        *out = OpenRecord {
            msg: len_at.add(4),
            cap: limit.min(SERIALIZE_CAP),
            ring,
            len_at,
            head,
        };
    }
    // Released by `end`.
    std::mem::forget(lock);
    true
}

/// Copies a function name (a few to a few dozen bytes) inline with
/// overlapping word moves, without the call into libc's memcpy that a
/// variable-length copy becomes; never reads outside `src`.
///
/// # Safety
/// `dst` is valid for `src.len()` bytes of writes and does not overlap `src`.
#[inline(always)]
unsafe fn copy_name(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    let s = src.as_ptr();
    // SAFETY: every access below is inside [0, n) of `src` and `dst`.
    unsafe {
        match n {
            0..4 => {
                for i in 0..n {
                    *dst.add(i) = *s.add(i);
                }
            }
            4..8 => {
                let (a, b) = (
                    s.cast::<u32>().read_unaligned(),
                    s.add(n - 4).cast::<u32>().read_unaligned(),
                );
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            }
            8..=16 => {
                let (a, b) = (
                    s.cast::<u64>().read_unaligned(),
                    s.add(n - 8).cast::<u64>().read_unaligned(),
                );
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            }
            17..=32 => {
                let (a, b) = (
                    s.cast::<u128>().read_unaligned(),
                    s.add(n - 16).cast::<u128>().read_unaligned(),
                );
                dst.cast::<u128>().write_unaligned(a);
                dst.add(n - 16).cast::<u128>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
}

/// Finishes the record `begin` opened: `len` message bytes were stored at
/// `rec.msg` (`len >= rec.cap` means the message did not fit: libqb's fixed
/// text is stored instead), then publishes it and releases the lock.
#[inline]
fn end(rec: &OpenRecord, len: usize) {
    let _lock = WriterLock;
    let mut len = len;
    // SAFETY: `begin` reserved room for the length field and for
    // max(cap, FALLBACK) message bytes at these addresses; the ring stays
    // alive while we hold the lock.
    unsafe {
        if len >= rec.cap {
            len = FALLBACK_MESSAGE.len();
            std::ptr::copy_nonoverlapping(FALLBACK_MESSAGE.as_ptr(), rec.msg, len);
        }
        std::ptr::copy_nonoverlapping((len as u32).to_ne_bytes().as_ptr(), rec.len_at, 4);
        let _ = (*rec.ring).publish(rec.head + len);
    }
}

/// C serializer entry (src/shim/qblog_serialize.c): opens a record for `cs`
/// into `*out`; nonzero when the caller must serialize into `out->msg` and
/// call [`qbrs_blackbox_end`].
///
/// # Safety
/// `cs` is a valid call site, `out` writable; `function` is NULL or a C
/// string of `function_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qbrs_blackbox_begin(
    cs: *const Callsite,
    function: *const c_char,
    function_len: usize,
    out: *mut OpenRecord,
) -> c_int {
    if cs.is_null() || out.is_null() {
        return 0;
    }
    // SAFETY: per this function's contract (the NUL follows the function's
    // `function_len` bytes).
    let (cs, function, out) = unsafe {
        (
            &*cs,
            if function.is_null() {
                &b"\0"[..]
            } else {
                std::slice::from_raw_parts(function.cast::<u8>(), function_len.saturating_add(1))
            },
            &mut *out,
        )
    };
    c_int::from(begin(cs, function, out))
}

/// C serializer entry: closes the record [`qbrs_blackbox_begin`] opened.
///
/// # Safety
/// `rec` was filled by a successful `qbrs_blackbox_begin` on this thread
/// and not ended yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qbrs_blackbox_end(rec: *const OpenRecord, len: usize) {
    // SAFETY: per this function's contract.
    if let Some(rec) = unsafe { rec.as_ref() } {
        end(rec, len);
    }
}

/// `qb_log_blackbox_write_to_file`: libqb's 20-byte marker, then the ring dump.
/// Returns the bytes written, or a positive errno. Async-signal-safe.
///
/// The file is opened `O_CREAT|O_WRONLY|O_NOFOLLOW|O_CLOEXEC`, mode 0600, and
/// cut to the dump's length at the end when it was longer (libqb: mode 0700
/// and no truncation, so a shorter dump kept the tail of an older, longer one).
pub fn write_to_file(path: &CStr) -> Result<usize, i32> {
    // Not O_TRUNC: crash handlers dump to a fixed name, and rewriting a file of
    // the same size in place is cheaper than freeing and re-allocating every
    // block. A longer old file is cut afterwards.
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: zeroed stat is a valid out-buffer; fstat is async-signal-safe.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: our descriptor and a valid out-pointer.
    let old_size = match unsafe { libc::fstat(fd, &mut st) } {
        0 => Some(st.st_size),
        // Unknown: cut unconditionally.
        _ => None,
    };
    let result = dump_to(fd).and_then(|n| {
        let len = n as libc::off_t;
        if old_size.is_some_and(|old| old <= len) {
            return Ok(n);
        }
        // SAFETY: our descriptor; ftruncate is async-signal-safe.
        match unsafe { libc::ftruncate(fd, len) } {
            0 => Ok(n),
            _ => Err(errno()),
        }
    });
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    result
}

fn dump_to(fd: i32) -> Result<usize, i32> {
    DUMPERS.fetch_add(1, Ordering::SeqCst);
    let result = {
        // About a few milliseconds of yielding at most.
        let _lock = WriterLock::try_acquire(2000);
        let ring = RING.load(Ordering::SeqCst);
        if ring.is_null() {
            Err(libc::ENOENT)
        } else {
            // SAFETY: close() does not free a ring while DUMPERS is non-zero.
            unsafe { &*ring }.write_to_file_after(fd, &MARKER)
        }
    };
    DUMPERS.fetch_sub(1, Ordering::SeqCst);
    match result {
        Ok(n) => Ok(MARKER.len() + n),
        Err(libc::ENOENT) => {
            // As before: the marker is in the file even without a ring.
            write_all(fd, &MARKER)?;
            Err(libc::ENOENT)
        }
        Err(e) => Err(e),
    }
}

fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), i32> {
    while !bytes.is_empty() {
        // SAFETY: valid buffer of bytes.len() bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        }
        if n == 0 {
            return Err(libc::EIO);
        }
        bytes = &bytes[(n as usize).min(bytes.len())..];
    }
    Ok(())
}

fn errno() -> i32 {
    // Reads the thread's errno: no allocation.
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, c_int, c_void};

    use crate::log::shim::qbrs_serialize_test;

    /// Serializes `fmt` with the same arguments both ways at several buffer
    /// sizes and demands identical bytes.
    macro_rules! same_both_ways {
        ($fmt:expr $(, $arg:expr)*) => {{
            let fmt: &std::ffi::CStr = $fmt;
            for cap in [0usize, 1, 2, 5, 9, 17, 24, 33, 48, 64, 100, 512, 4096] {
                let mut a = vec![0u8; cap.max(1)];
                let mut b = vec![0u8; cap.max(1)];
                // SAFETY: buffers of `cap` bytes; arguments match the format.
                let (la, lb) = unsafe {
                    (
                        qbrs_serialize_test(1, a.as_mut_ptr().cast(), cap, fmt.as_ptr() $(, $arg)*),
                        qbrs_serialize_test(0, b.as_mut_ptr().cast(), cap, fmt.as_ptr() $(, $arg)*),
                    )
                };
                assert_eq!(la, lb, "length of {fmt:?} at cap {cap}");
                if la < cap {
                    assert_eq!(a[..la], b[..lb], "bytes of {fmt:?} at cap {cap}");
                }
            }
        }};
    }

    /// The plan path finds and copies strings of up to 32 bytes inline and
    /// calls strnlen/memcpy beyond that; it also copies formats inline up to
    /// 64 bytes. Against the reference walk, at every cap: strings that end
    /// before, exactly at and after the room, cut or not by a precision
    /// around 32, and short, medium and long formats. Whole buffers are
    /// compared, so a record that does not fit must leave the same bytes
    /// behind on both paths.
    #[test]
    fn plan_matches_scan_at_every_length_and_cap() {
        let formats = [
            c"%s%s",
            c"ab%s|%s",
            c"%.31s%s",
            c"%.32s%s",
            c"%.33s%.0s",
            c"%.5s%s",
            c"a format string that is longer than sixty-four bytes, and then: %s%s",
        ];
        let second = c"RecordB".as_ptr();
        for len in 0..=80usize {
            let mut text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            text.push(0);
            let s = text.as_ptr().cast::<c_char>();
            for fmt in formats {
                for cap in 0..=150usize {
                    let mut a = vec![0xA5u8; cap.max(1)];
                    let mut b = vec![0xA5u8; cap.max(1)];
                    // SAFETY: buffers of at least `cap` bytes; two strings
                    // for two %s.
                    let (la, lb) = unsafe {
                        (
                            qbrs_serialize_test(
                                1,
                                a.as_mut_ptr().cast(),
                                cap,
                                fmt.as_ptr(),
                                s,
                                second,
                            ),
                            qbrs_serialize_test(
                                0,
                                b.as_mut_ptr().cast(),
                                cap,
                                fmt.as_ptr(),
                                s,
                                second,
                            ),
                        )
                    };
                    assert_eq!(la, lb, "length of {fmt:?}, string of {len}, cap {cap}");
                    assert_eq!(a, b, "bytes of {fmt:?}, string of {len}, cap {cap}");
                }
            }
        }
    }

    #[test]
    fn closing_from_a_handler_that_interrupted_a_record_keeps_the_ring() {
        use super::{Appender, FLAG_CREATE, FLAG_NO_SEMAPHORE, FLAG_OVERWRITE, RING, RingBuffer};
        use std::sync::atomic::Ordering::SeqCst;

        let name = format!("qbrs-bb-close-{}", std::process::id());
        let flags = FLAG_CREATE | FLAG_OVERWRITE | FLAG_NO_SEMAPHORE;
        let ring = RingBuffer::open(name.as_bytes(), 4096, flags, 0).unwrap();
        let data_path = std::path::PathBuf::from(ring.data_path().to_str().unwrap());
        let mine = Box::into_raw(Box::new(Appender::new(ring).unwrap()));
        // This thread holds the writer lock, as in the middle of a record;
        // other tests' open/close wait meanwhile.
        let held = super::WriterLock::acquire().unwrap();
        let previous = RING.swap(mine, SeqCst);
        // What a signal handler on this thread does.
        super::close();
        assert!(RING.load(SeqCst).is_null());
        assert!(
            data_path.exists(),
            "the interrupted writer's ring was freed"
        );
        RING.store(previous, SeqCst);
        drop(held);
        // SAFETY: `mine` came from Box::into_raw above and close() left it.
        drop(unsafe { Box::from_raw(mine) });
        assert!(!data_path.exists());
    }

    #[test]
    fn function_names_of_every_short_length_copy_exactly() {
        let src: Vec<u8> = (1..=40u8).collect();
        for n in 0..=src.len() {
            let mut dst = [0xEEu8; 48];
            // SAFETY: dst holds 48 >= n bytes; distinct buffers.
            unsafe { super::copy_name(dst.as_mut_ptr(), &src[..n]) };
            assert_eq!(dst[..n], src[..n], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0xEE), "wrote past {n}");
        }
    }

    #[test]
    fn plan_matches_scan() {
        let s = c"RecordA".as_ptr();
        let long = c"a string that is longer than several of the caps used here".as_ptr();
        let null: *const c_char = std::ptr::null();
        let p = 0x1234usize as *const c_void;
        same_both_ways!(c"hello");
        same_both_ways!(c"");
        same_both_ways!(c"%s%s", s, s);
        same_both_ways!(c"%s%s%s", s, long, s);
        same_both_ways!(c"%i %u %p", -534 as c_int, 4508 as c_int, p);
        same_both_ways!(c"pcmk event %s rc=%d seq=%u", s, 7 as c_int, 9 as c_int);
        same_both_ways!(
            c"%ld %lld %zu %jd %hd %hhd",
            1i64,
            2i64,
            3usize,
            4i64,
            5 as c_int,
            6 as c_int
        );
        same_both_ways!(c"%f %e %g %a", 1.5f64, 2.5f64, 3.5f64, 4.5f64);
        same_both_ways!(c"%c%c %-5c", 'a' as c_int, 'b' as c_int, 'c' as c_int);
        same_both_ways!(c"%.3s|%s|%.0s|%5.2s", long, long, long, s);
        same_both_ways!(
            c"%*d %.*s %*.*s",
            4 as c_int,
            1 as c_int,
            2 as c_int,
            s,
            3 as c_int,
            2 as c_int,
            long
        );
        same_both_ways!(c"100%% %d%% %.2s%%%s", 5 as c_int, long, s);
        same_both_ways!(c"%s and %s", null, s);
        same_both_ways!(c"%m %n %y %d", 3 as c_int);
        same_both_ways!(c"with extended\x07info %d", 3 as c_int);
        same_both_ways!(c"ends with xc\x07");
        same_both_ways!(c"%99999999999999999999.99999999999999999s", long);
        same_both_ways!(c"trailing %");
        same_both_ways!(
            c"%#x %+d % d %'d %Id %qd",
            1 as c_int,
            2 as c_int,
            3 as c_int,
            4 as c_int,
            5 as c_int,
            6i64
        );
    }

    #[test]
    fn too_many_conversions_have_no_plan() {
        let fmt = c"%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d";
        let mut a = [0u8; 512];
        let mut b = [0u8; 512];
        // SAFETY: 25 int arguments for 25 conversions.
        let (la, lb) = unsafe {
            (
                qbrs_serialize_test(
                    1,
                    a.as_mut_ptr().cast(),
                    512,
                    fmt.as_ptr(),
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    9,
                    10,
                    11,
                    12,
                    13,
                    14,
                    15,
                    16,
                    17,
                    18,
                    19,
                    20,
                    21,
                    22,
                    23,
                    24,
                    25,
                ),
                qbrs_serialize_test(
                    0,
                    b.as_mut_ptr().cast(),
                    512,
                    fmt.as_ptr(),
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    9,
                    10,
                    11,
                    12,
                    13,
                    14,
                    15,
                    16,
                    17,
                    18,
                    19,
                    20,
                    21,
                    22,
                    23,
                    24,
                    25,
                ),
            )
        };
        assert_eq!(la, 0, "no plan: nothing stored by the plan path");
        assert_eq!(lb, fmt.to_bytes().len() + 1 + 25 * 4);
        assert_eq!(&b[lb - 4..lb], &25i32.to_ne_bytes());
    }
}
