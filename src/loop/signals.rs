//! Signals delivered through the loop.
//!
//! As in libqb, a plain `sigaction` handler is installed only for the signals
//! that have at least one loop handler; it writes the signal number into a
//! process-wide self-pipe, and every loop with signal handlers watches the
//! pipe's read end. The loop that reads a signal passes it on to the other
//! loops with handlers, so each loop sees every signal. Dispositions of other
//! signals are never touched; when the last handler of a signal goes, the
//! signal is reset to SIG_DFL (libqb does the same).
//!
//! Each delivery queues one run-queue entry per handler of that signal, in
//! registration order, at the handler's priority. A handler returning
//! non-zero is removed.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::callbacks::SignalFn;
use super::levels::Priority;

/// Highest signal number handled (Linux: SIGRTMAX = 64).
pub const MAX_SIGNAL: i32 = 64;

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static READ_FD: AtomicI32 = AtomicI32::new(-1);

/// Something that accepts signals read by another loop.
pub trait SignalSink: Send + Sync {
    fn deliver(&self, signals: &[i32]);
}

struct Global {
    /// Handlers per signal, over all loops.
    interest: [u32; MAX_SIGNAL as usize + 1],
    /// Loops that have at least one handler, by loop id.
    sinks: Vec<(usize, Weak<dyn SignalSink>)>,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    interest: [0; MAX_SIGNAL as usize + 1],
    sinks: Vec::new(),
});

fn global() -> std::sync::MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

extern "C" fn on_signal(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Async-signal-safe: an atomic load and write(2); errno is preserved.
    // SAFETY: __errno_location is the calling thread's errno.
    let saved = unsafe { *libc::__errno_location() };
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        loop {
            // SAFETY: one byte from a valid local.
            let r = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
            // SAFETY: as above.
            if r < 0 && unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            break; // a full pipe already holds a pending wakeup
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The read end of the self-pipe, created on first use (never closed: a
/// signal may arrive at any time).
pub fn pipe_read_fd() -> Result<i32, i32> {
    let _g = global();
    let fd = READ_FD.load(Ordering::Acquire);
    if fd >= 0 {
        return Ok(fd);
    }
    let mut fds = [-1; 2];
    // SAFETY: valid array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
        return Err(errno());
    }
    WRITE_FD.store(fds[1], Ordering::Release);
    READ_FD.store(fds[0], Ordering::Release);
    Ok(fds[0])
}

/// Whether a signal can be handled through the loop.
pub fn valid(signal: i32) -> bool {
    (1..=MAX_SIGNAL).contains(&signal) && signal != libc::SIGKILL && signal != libc::SIGSTOP
}

fn set_disposition(signal: i32, ours: bool) -> Result<(), i32> {
    // SAFETY: a zeroed sigaction is a valid starting point.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    if ours {
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
    } else {
        sa.sa_sigaction = libc::SIG_DFL;
    }
    // SAFETY: valid sigset and sigaction pointers.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: as above; the old action is not needed.
    if unsafe { libc::sigaction(signal, &sa, std::ptr::null_mut()) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// One more handler for `signal` (installs our disposition for the first).
pub fn acquire(signal: i32) -> Result<(), i32> {
    if !valid(signal) {
        return Err(libc::EINVAL);
    }
    pipe_read_fd()?;
    let mut g = global();
    let n = &mut g.interest[signal as usize];
    if *n == 0 {
        set_disposition(signal, true)?;
    }
    *n += 1;
    Ok(())
}

/// One handler fewer for `signal` (SIG_DFL after the last).
pub fn release(signal: i32) {
    let mut g = global();
    if let Some(n) = g.interest.get_mut(signal as usize)
        && *n > 0
    {
        *n -= 1;
        if *n == 0 {
            let _ = set_disposition(signal, false);
        }
    }
}

/// Registers a loop that has handlers (idempotent).
pub fn attach(id: usize, sink: Weak<dyn SignalSink>) {
    let mut g = global();
    if !g.sinks.iter().any(|(i, _)| *i == id) {
        g.sinks.push((id, sink));
    }
}

pub fn detach(id: usize) {
    global().sinks.retain(|(i, _)| *i != id);
}

/// Reads every pending signal number from the pipe.
pub fn drain() -> Vec<i32> {
    let fd = READ_FD.load(Ordering::Acquire);
    let mut out = Vec::new();
    if fd < 0 {
        return out;
    }
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer of its size.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if r <= 0 {
            break;
        }
        out.extend(buf[..r as usize].iter().map(|&b| i32::from(b)));
    }
    out
}

/// Hands signals read by loop `from` to every other loop with handlers.
pub fn route(from: usize, signals: &[i32]) {
    let others: Vec<Arc<dyn SignalSink>> = global()
        .sinks
        .iter()
        .filter(|(i, _)| *i != from)
        .filter_map(|(_, w)| w.upgrade())
        .collect();
    for sink in others {
        sink.deliver(signals);
    }
}

/// One registered handler.
pub struct Handler {
    pub id: u64,
    pub signal: i32,
    pub priority: Priority,
    /// None while its callback runs.
    pub callback: Option<SignalFn>,
}

/// A loop's signal handlers, in registration order.
pub struct Handlers {
    pub list: Vec<Handler>,
    next_id: u64,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            list: Vec::new(),
            next_id: 1,
        }
    }
}

impl Handlers {
    pub fn any_at_or_above(&self, p: Priority) -> bool {
        self.list.iter().any(|h| h.priority >= p)
    }

    pub fn add(&mut self, signal: i32, priority: Priority, callback: SignalFn) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.list.push(Handler {
            id,
            signal,
            priority,
            callback: Some(callback),
        });
        id
    }

    pub fn find(&mut self, id: u64) -> Option<&mut Handler> {
        self.list.iter_mut().find(|h| h.id == id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Handler> {
        let i = self.list.iter().position(|h| h.id == id)?;
        Some(self.list.remove(i))
    }
}
