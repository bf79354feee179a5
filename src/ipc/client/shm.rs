//! SHM transport, client side (libqb-abi.md §5.3): three rings the server
//! created (request with a 4-byte flow-control word, response, event), plus
//! one-byte doorbells on the setup socket: one sent after every request, one
//! read after every event.
//!
//! The data path is lean on purpose: a send is one ring write (a copy and a
//! semaphore post) and one `send` of the doorbell byte; a receive is one ring
//! read, sleeping on the ring's semaphore only when it is empty.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use libc::{EAGAIN, EINVAL, ENOTCONN, ETIMEDOUT};

use super::cleanup;
use super::unix;
use crate::ipc::placement::{self, Placement};
use crate::rb::{FLAG_SHARED_PROCESS, RingBuffer};

/// Up to this many iovec parts are gathered on the stack (more is rare).
const STACK_PARTS: usize = 8;

pub struct Shm {
    request: RingBuffer,
    response: RingBuffer,
    event: RingBuffer,
    /// The rings' files, if they may be removed after the server died.
    leftovers: Option<cleanup::Leftovers>,
    /// Spin briefly for a response before sleeping (see [`patience_for`]).
    spin: Spin,
}

/// How long a receive polls the response ring before sleeping on it.
const SPIN: Duration = Duration::from_micros(50);
/// How many times a receive yields its CPU to a server that shares it.
const YIELDS: u32 = 2;

/// How a receive waits for the response before sleeping on the semaphore.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Patience {
    /// Sleep at once.
    Sleep,
    /// Poll the ring: the server runs on another CPU than ours.
    Spin,
    /// Hand our CPU to the server a few times: it can only run where we do.
    Yield,
}

/// Picks the wait strategy from where we and the server may run.
///
/// Spinning pays only when the server runs at the same time as we spin, on
/// another CPU: waking a halted CPU costs tens of microseconds, while a
/// server that shares our CPU is only delayed by our spinning, and so are
/// other threads when CPUs are oversubscribed. So we spin only when the
/// placement guarantees it is harmless to the server: we are pinned to one
/// CPU and the server may not run there. When instead the server may run
/// only on our one CPU, the doorbell we just sent has made it runnable right
/// there: yielding lets it answer before we would go to sleep, which saves
/// the futex sleep and the wake-up the server would otherwise pay for.
pub fn patience_for(server_pid: libc::pid_t) -> Patience {
    match placement::of_peer(server_pid) {
        Placement::SameCpu if placement::time_shared() => Patience::Yield,
        Placement::OtherCpus => Patience::Spin,
        _ => Patience::Sleep,
    }
}

/// Adaptive spinning: after a few spins in a row that did not see the
/// response come, spinning stops, except for an occasional probe.
struct Spin {
    how: Patience,
    misses: AtomicU32,
    skipped: AtomicU32,
}

const SPIN_MISSES_MAX: u32 = 4;
const SPIN_PROBE_EVERY: u32 = 64;

impl Spin {
    #[inline]
    fn wanted(&self) -> bool {
        if self.how == Patience::Sleep {
            return false;
        }
        if self.misses.load(Ordering::Relaxed) < SPIN_MISSES_MAX {
            return true;
        }
        let s = self.skipped.load(Ordering::Relaxed) + 1;
        let probe = s >= SPIN_PROBE_EVERY;
        self.skipped
            .store(if probe { 0 } else { s }, Ordering::Relaxed);
        probe
    }

    fn record(&self, hit: bool) {
        let m = if hit {
            0
        } else {
            (self.misses.load(Ordering::Relaxed) + 1).min(SPIN_MISSES_MAX)
        };
        self.misses.store(m, Ordering::Relaxed);
    }
}

impl Shm {
    /// Opens the rings the server named, sized for `max_msg_size`.
    pub fn open(
        request: &CStr,
        response: &CStr,
        event: &CStr,
        max_msg_size: u32,
        patience: Patience,
    ) -> Result<Shm, i32> {
        let size = max_msg_size as usize;
        let open = |name: &CStr, user: usize| {
            if name.is_empty() {
                return Err(EINVAL);
            }
            RingBuffer::open(name.to_bytes(), size, FLAG_SHARED_PROCESS, user)
        };
        let (request, response, event) = (
            open(request, size_of::<i32>())?,
            open(response, 0)?,
            open(event, 0)?,
        );
        let leftovers = {
            let rings = [&request, &response, &event];
            cleanup::Leftovers::record(rings.iter().flat_map(|r| [r.name(), r.data_path()]))
        };
        Ok(Shm {
            request,
            response,
            event,
            leftovers,
            spin: Spin {
                how: patience,
                misses: AtomicU32::new(0),
                skipped: AtomicU32::new(0),
            },
        })
    }

    /// The send gate: ENOTCONN unless both ends hold the request ring (as
    /// libqb checks), else the flow-control word.
    #[inline]
    pub fn flow_control(&self) -> Result<i32, i32> {
        if self.request.refcount()? != 2 {
            return Err(ENOTCONN);
        }
        Ok(self.request.user_data_load_u32(0)? as i32)
    }

    /// Writes one request chunk.
    #[inline]
    pub fn send(&self, msg: &[u8]) -> Result<usize, i32> {
        self.request.write(msg)
    }

    /// Writes one request chunk gathered from `parts`.
    #[inline]
    pub fn sendv(&self, parts: &[libc::iovec]) -> Result<usize, i32> {
        if parts.len() <= STACK_PARTS {
            let mut slices: [&[u8]; STACK_PARTS] = [&[]; STACK_PARTS];
            for (s, iov) in slices.iter_mut().zip(parts) {
                // SAFETY: the caller's iovec describes readable memory.
                *s = unsafe { iov_slice(iov) };
            }
            self.request.write_parts(&slices[..parts.len()])
        } else {
            // SAFETY: as above.
            let slices: Vec<&[u8]> = parts.iter().map(|iov| unsafe { iov_slice(iov) }).collect();
            self.request.write_parts(&slices)
        }
    }

    /// Reads one response, waiting as `qb_ipcc_recv` does: in slices of at
    /// most `MAX_WAIT_MS`, checking between slices that the server is alive.
    #[inline]
    pub fn recv(&self, setup: RawFd, out: *mut u8, cap: usize, ms: i32) -> Result<usize, i32> {
        if ms != 0 && self.spin.wanted() {
            // SAFETY: the FFI passes a buffer valid for `cap` bytes.
            match unsafe { self.response.read_raw(out, cap, 0) } {
                Err(ETIMEDOUT) => self.spin_for_response(),
                other => return other,
            }
        }
        // SAFETY: the FFI passes a buffer valid for `cap` bytes.
        match unsafe { self.response.read_raw(out, cap, first_slice(ms)) } {
            Err(ETIMEDOUT) => self.recv_slow(setup, out, cap, ms),
            other => other,
        }
    }

    /// Polls the response ring's count for up to [`SPIN`], or yields our CPU
    /// up to [`YIELDS`] times (see [`Patience`]).
    #[cold]
    fn spin_for_response(&self) {
        if self.spin.how == Patience::Yield {
            for _ in 0..YIELDS {
                placement::yield_cpu();
                if matches!(self.response.chunks_used(), Ok(n) if n > 0) {
                    self.spin.record(true);
                    return;
                }
            }
            self.spin.record(false);
            return;
        }
        let start = Instant::now();
        let mut i = 0u32;
        loop {
            if matches!(self.response.chunks_used(), Ok(n) if n > 0) {
                self.spin.record(true);
                return;
            }
            std::hint::spin_loop();
            i = i.wrapping_add(1);
            if i.is_multiple_of(64) && start.elapsed() >= SPIN {
                self.spin.record(false);
                return;
            }
        }
    }

    #[cold]
    fn recv_slow(&self, setup: RawFd, out: *mut u8, cap: usize, ms: i32) -> Result<usize, i32> {
        let mut spent = first_slice(ms);
        loop {
            // Nothing came: is the server still there?
            if server_gone(setup) {
                return Err(ENOTCONN);
            }
            let slice = if ms < 0 {
                super::MAX_WAIT_MS
            } else {
                (ms - spent).min(super::MAX_WAIT_MS)
            };
            if slice <= 0 {
                return Err(ETIMEDOUT);
            }
            // SAFETY: as in recv.
            match unsafe { self.response.read_raw(out, cap, slice) } {
                Err(ETIMEDOUT) => spent = spent.saturating_add(slice),
                other => return other,
            }
        }
    }

    /// Reads one event and consumes its doorbell byte. Like libqb, waits for
    /// the doorbell first (so a timeout is EAGAIN), then reads the ring.
    pub fn event_recv(
        &self,
        setup: RawFd,
        out: *mut u8,
        cap: usize,
        ms: i32,
    ) -> Result<usize, i32> {
        // Fast path: the event is already there.
        // SAFETY: the FFI passes a buffer valid for `cap` bytes.
        let n = match unsafe { self.event.read_raw(out, cap, 0) } {
            Ok(n) => n,
            Err(ETIMEDOUT) => {
                wait_doorbell(setup, ms)?;
                // SAFETY: as above.
                unsafe { self.event.read_raw(out, cap, first_slice(ms)) }?
            }
            Err(e) => return Err(e),
        };
        take_doorbell(setup)?;
        Ok(n)
    }

    /// Teardown. When the server is known to be dead, its leftover files and
    /// directory are removed (only paths validated as a libqb connection
    /// directory under /dev/shm).
    pub fn close(self, server_dead: bool) {
        let Shm {
            request,
            response,
            event,
            leftovers,
            ..
        } = self;
        drop((request, response, event));
        if server_dead && let Some(l) = leftovers {
            l.remove(true);
        }
    }
}

/// The first wait of a receive: the whole timeout if it is short, else one
/// slice (also for "forever").
#[inline]
fn first_slice(ms: i32) -> i32 {
    if ms < 0 {
        super::MAX_WAIT_MS
    } else {
        ms.min(super::MAX_WAIT_MS)
    }
}

/// # Safety
/// `iov` must describe `iov_len` readable bytes (or have length 0).
#[inline]
unsafe fn iov_slice<'a>(iov: &libc::iovec) -> &'a [u8] {
    if iov.iov_len == 0 || iov.iov_base.is_null() {
        &[]
    } else {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts(iov.iov_base.cast::<u8>(), iov.iov_len) }
    }
}

/// Sends one doorbell byte after a request. Stock servers block reading it,
/// so it is always sent; a full socket is waited out while the server lives.
#[inline]
pub fn ring_doorbell(setup: RawFd, byte: u8) -> Result<(), i32> {
    match crate::ipc::sock::send_once(setup, std::slice::from_ref(&byte)) {
        Ok(1) => Ok(()),
        Ok(_) => Err(EAGAIN),
        Err(EAGAIN) => unix::send_all(setup, std::slice::from_ref(&byte), None),
        Err(libc::EPIPE) | Err(libc::ECONNRESET) => Err(ENOTCONN),
        Err(e) => Err(e),
    }
}

/// Polls the setup socket (no wait) for a hang-up.
pub fn server_gone(setup: RawFd) -> bool {
    match unix::poll2(&[(setup, libc::POLLIN)], 0) {
        Ok(r) => {
            r[0] & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
                || (r[0] & libc::POLLIN != 0 && !doorbell_pending(setup))
        }
        Err(_) => true,
    }
}

/// True when at least one doorbell byte can be read now (not end-of-file).
fn doorbell_pending(setup: RawFd) -> bool {
    let mut b = 0u8;
    matches!(unix::recv_once(setup, &mut b, 1, libc::MSG_PEEK), Ok(1))
}

/// Waits (up to `ms`; < 0 forever) until a doorbell byte is readable.
fn wait_doorbell(setup: RawFd, ms: i32) -> Result<(), i32> {
    let r = unix::poll2(&[(setup, libc::POLLIN)], ms)?;
    if r[0] == 0 {
        return Err(EAGAIN);
    }
    if r[0] & libc::POLLIN != 0 && doorbell_pending(setup) {
        return Ok(());
    }
    Err(ENOTCONN)
}

/// Consumes the doorbell byte that goes with an event we took. The server
/// sends it right after the event; wait for it a bounded time.
fn take_doorbell(setup: RawFd) -> Result<(), i32> {
    let mut b = 0u8;
    let deadline = unix::deadline_after(super::MAX_WAIT_MS);
    loop {
        match unix::recv_once(setup, &mut b, 1, 0) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(ENOTCONN),
            Err(EAGAIN) => {
                let t = unix::remaining_ms(deadline);
                if t == 0 {
                    // The event is ours anyway; a late byte is taken by the
                    // next event_recv's wait.
                    return Ok(());
                }
                unix::poll2(&[(setup, libc::POLLIN)], t)?;
            }
            Err(libc::ECONNRESET) => return Err(ENOTCONN),
            Err(e) => return Err(e),
        }
    }
}
