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

use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use super::blackbox_reader::{FALLBACK_MESSAGE, FIXED_RECORD_BYTES, MARKER};
use super::callsite::Callsite;
use crate::rb::{FLAG_CREATE, FLAG_NO_SEMAPHORE, FLAG_OVERWRITE, RingBuffer};

/// Smallest `QB_LOG_CONF_SIZE` the blackbox accepts (as libqb).
pub const MIN_SIZE: i32 = 1024;
/// Size of the C serializer's buffer: a message that long never fits.
const SERIALIZE_CAP: usize = super::ABSOLUTE_MAX_LEN;

static RING: AtomicPtr<RingBuffer> = AtomicPtr::new(std::ptr::null_mut());
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
    let ring = RingBuffer::open(&name, size as usize, flags, 0)?;
    let fresh = Box::into_raw(Box::new(ring));
    let _lock = WriterLock::acquire();
    let old = RING.swap(fresh, Ordering::SeqCst);
    debug_assert!(old.is_null());
    Ok(())
}

/// Closes the ring (removing its files); nothing to do when none is open.
pub fn close() {
    let old = {
        let _lock = WriterLock::acquire();
        RING.swap(std::ptr::null_mut(), Ordering::SeqCst)
    };
    if old.is_null() {
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

/// Stores one record: the call site's fields, the time and `message` (the
/// serialized format and arguments; `message.len() >= SERIALIZE_CAP` means it
/// did not fit).
#[inline]
pub fn write(cs: &Callsite, message: &[u8]) {
    let Some(_lock) = WriterLock::acquire() else {
        return;
    };
    let ring = RING.load(Ordering::Acquire);
    if ring.is_null() {
        return;
    }
    // SAFETY: non-null pointers in RING are live rings; the lock keeps close()
    // from freeing it while we write.
    let ring = unsafe { &*ring };
    let limit = usize::try_from(MAX_LINE.load(Ordering::Relaxed)).unwrap_or(0);
    let message = if message.len() >= limit || message.len() >= SERIALIZE_CAP {
        FALLBACK_MESSAGE
    } else {
        message
    };
    let function = cs.function.load(Ordering::Relaxed);
    let function: &[u8] = if function.is_null() {
        b"\0"
    } else {
        // SAFETY: call-site strings are NUL-terminated (owned by the registry
        // or by the C caller for static call sites).
        unsafe { CStr::from_ptr(function) }.to_bytes_with_nul()
    };
    let head = FIXED_RECORD_BYTES + function.len();
    // Reserve like libqb (header plus the whole line length) so an overwrite
    // ring drops the same old records; the fixed text always fits.
    let Ok(dst) = ring.alloc(head + limit.max(FALLBACK_MESSAGE.len())) else {
        return;
    };
    let ts = now();
    let dst = dst.as_ptr();
    // SAFETY: `alloc` reserved at least `head + message.len()` bytes at dst.
    unsafe {
        let mut at = dst;
        let mut put = |bytes: &[u8]| {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
            at = at.add(bytes.len());
        };
        put(&cs.lineno.load(Ordering::Relaxed).to_ne_bytes());
        put(&cs.tags.load(Ordering::Relaxed).to_ne_bytes());
        put(&[cs.priority.load(Ordering::Relaxed)]);
        put(&(function.len() as u32).to_ne_bytes());
        put(function);
        put(&ts.tv_sec.to_ne_bytes());
        put(&ts.tv_nsec.to_ne_bytes());
        put(&(message.len() as u32).to_ne_bytes());
        put(message);
    }
    let _ = ring.commit(head + message.len());
}

/// Entry point for the C serializer (src/shim/qblog_serialize.c).
///
/// # Safety
/// `cs` is a valid call site; `msg` holds `min(len, QB_LOG_ABSOLUTE_MAX_LEN)`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qbrs_blackbox_write(cs: *const Callsite, msg: *const c_char, len: usize) {
    if cs.is_null() || msg.is_null() {
        return;
    }
    // SAFETY: per this function's contract.
    let (cs, msg) = unsafe {
        (
            &*cs,
            std::slice::from_raw_parts(msg.cast::<u8>(), len.min(SERIALIZE_CAP)),
        )
    };
    write(cs, msg);
}

/// `qb_log_blackbox_write_to_file`: libqb's 20-byte marker, then the ring dump.
/// Returns the bytes written, or a positive errno. Async-signal-safe.
///
/// The file is opened `O_CREAT|O_WRONLY|O_NOFOLLOW|O_CLOEXEC`, mode 0600, and
/// cut to the dump's length at the end (libqb: mode 0700 and no truncation, so
/// a shorter dump kept the tail of an older, longer one).
pub fn write_to_file(path: &CStr) -> Result<usize, i32> {
    // Not O_TRUNC: cutting the old file to the new length afterwards gives the
    // same result without freeing and re-allocating every block of a file that
    // is rewritten with the same size (crash handlers dump to a fixed name).
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(errno());
    }
    let result = dump_to(fd).and_then(|n| {
        // SAFETY: our descriptor; ftruncate is async-signal-safe.
        match unsafe { libc::ftruncate(fd, n as libc::off_t) } {
            0 => Ok(n),
            _ => Err(errno()),
        }
    });
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    result
}

fn dump_to(fd: i32) -> Result<usize, i32> {
    write_all(fd, &MARKER)?;
    DUMPERS.fetch_add(1, Ordering::SeqCst);
    let result = {
        // About a few milliseconds of yielding at most.
        let _lock = WriterLock::try_acquire(2000);
        let ring = RING.load(Ordering::SeqCst);
        if ring.is_null() {
            Err(libc::ENOENT)
        } else {
            // SAFETY: close() does not free a ring while DUMPERS is non-zero.
            unsafe { &*ring }.write_to_file(fd)
        }
    };
    DUMPERS.fetch_sub(1, Ordering::SeqCst);
    Ok(MARKER.len() + result?)
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
