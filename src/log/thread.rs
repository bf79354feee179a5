//! Threaded logging (`qb_log_thread_start`, `QB_LOG_CONF_THREADED`).
//!
//! Messages for threaded targets are queued (call site, target mask, timestamp and
//! the formatted text) and written, in order, by one logging thread. Like libqb, the
//! queue holds at most [`QUEUE_BYTES`] (text plus a fixed per-record cost), and until
//! the thread is started messages wait in the queue (`qb_log_fini()` writes them).
//!
//! # Full-queue policy: wait for progress, never drop, never a clock
//!
//! libqb drops a message that does not fit (and later prints "N messages lost").
//! Here nothing is dropped, and whether a line is written never depends on timing:
//!
//! - With a logging thread running, a caller facing a full queue waits until the
//!   thread takes the queue (it takes all of it at once, so a whole queue's worth
//!   of room appears) or until the thread is stopped (`qb_log_fini()`). There is no
//!   wall-clock limit: the wait is bounded only by the thread making progress.
//! - With no thread running, the caller writes the queued messages itself, in
//!   order, then queues its own.
//! - The logging thread, or a thread that is itself writing a batch, never waits
//!   for room (it would wait for itself): its message is queued over the limit.
//!   In practice such calls do not arrive here, because a log call made from a
//!   target's callback is a nested log call and dropped before it is formatted,
//!   silently, as libqb drops it.
//! - `qb_log_fini()` lets the thread write everything queued, joins it, then writes
//!   whatever a racing caller queued meanwhile, before any target closes.
//!
//! No lock of ours is held while a batch is written, so a waiting caller can never
//! deadlock with the logging thread inside this module. The one cycle we cannot
//! break is one the application builds: a threaded target's callback that blocks
//! until some thread that logs makes progress, while that thread waits for room in
//! the queue. libqb blocks there too (its producers wait on the lock its thread holds
//! while writing); the alternative, a timed wait followed by a drop, makes the
//! number of lines written depend on scheduling, which is what this policy removes.
//!
//! Locks: `WRITER` (held while a batch is written, so batches stay in order) is
//! taken before `STATE`; neither is held while waiting for the other's owner.

use std::cell::Cell;
use std::collections::VecDeque;
use std::os::unix::thread::JoinHandleExt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::callsite::Callsite;

/// libqb's queue limit, counted the same way (text + NUL + a 48-byte record).
pub const QUEUE_BYTES: usize = 512_000;
const RECORD_COST: usize = 48 + 1;

struct Queued {
    /// The C call site (stable while the logger lives), as an address.
    cs: usize,
    targets: u32,
    timestamp: (i64, i64),
    text: Box<[u8]>,
}

struct State {
    queue: VecDeque<Queued>,
    bytes: usize,
    worker: Option<JoinHandle<()>>,
    exit: bool,
    /// Scheduling asked for before the thread exists: (policy, priority).
    sched: Option<(i32, i32)>,
}

impl State {
    /// Whether a message costing `cost` must wait for room. An empty queue always
    /// takes a message, so no single message can wait forever.
    fn is_full_for(&self, cost: usize) -> bool {
        self.bytes > 0 && self.bytes + cost > QUEUE_BYTES
    }
}

static STATE: Mutex<State> = Mutex::new(State {
    queue: VecDeque::new(),
    bytes: 0,
    worker: None,
    exit: false,
    sched: None,
});
static WORK: Condvar = Condvar::new();
/// Signalled when the queue is taken or the thread stops.
static SPACE: Condvar = Condvar::new();
static WRITER: Mutex<()> = Mutex::new(());

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread writes a batch (holding `WRITER`): a target that calls
    /// back into the logger must not start another drain on this thread.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queues one message for the threaded targets in `targets` (see the module
/// comment for what happens when the queue is full).
pub fn post(cs: *mut Callsite, targets: u32, timestamp: (i64, i64), text: &[u8]) {
    let cost = text.len() + RECORD_COST;
    let writer_here = IS_WORKER.with(Cell::get) || DRAINING.with(Cell::get);
    let mut st = state();
    while !writer_here && st.is_full_for(cost) {
        if st.worker.is_some() {
            // No timeout: the thread frees the whole queue when it takes a batch,
            // and stopping it wakes us too.
            st = SPACE.wait(st).unwrap_or_else(|e| e.into_inner());
        } else {
            // Nobody else will write them: do it here, in order.
            drop(st);
            drain();
            st = state();
        }
    }
    st.bytes += cost;
    st.queue.push_back(Queued {
        cs: cs as usize,
        targets,
        timestamp,
        text: text.into(),
    });
    drop(st);
    WORK.notify_one();
}

/// Takes everything queued; the caller holds `WRITER`.
fn take_batch() -> VecDeque<Queued> {
    let mut st = state();
    let batch = std::mem::take(&mut st.queue);
    st.bytes = 0;
    drop(st);
    SPACE.notify_all();
    batch
}

fn write_batch(batch: VecDeque<Queued>) {
    for q in batch {
        super::write_queued(q.cs as *mut Callsite, q.targets, q.timestamp, &q.text);
    }
}

/// Writes whatever is queued, in the calling thread.
fn drain() {
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    {
        let _writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        write_batch(take_batch());
    }
    DRAINING.with(|d| d.set(false));
}

fn worker_main() {
    IS_WORKER.with(|w| w.set(true));
    loop {
        {
            let mut st = state();
            while st.queue.is_empty() && !st.exit {
                st = WORK.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.queue.is_empty() && st.exit {
                return;
            }
        }
        drain();
    }
}

/// `pthread_setschedparam` on `thread`; Err(errno) as it reports.
fn set_sched(thread: libc::pthread_t, policy: i32, priority: i32) -> Result<(), i32> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `thread` is a live thread we own (its JoinHandle is held).
    match unsafe { libc::pthread_setschedparam(thread, policy, &param) } {
        0 => Ok(()),
        errno => Err(errno),
    }
}

/// `qb_log_thread_start`. Starting twice is a no-op. Scheduling set earlier with
/// [`priority_set`] is applied now; if the system refuses it, the thread is stopped
/// again and the error returned (the setting stays queued, as in libqb).
pub fn start() -> Result<(), i32> {
    let mut st = state();
    if st.worker.is_some() {
        return Ok(());
    }
    st.exit = false;
    let handle = std::thread::Builder::new()
        .name("qb-log".into())
        .spawn(worker_main)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EAGAIN))?;
    if let Some((policy, priority)) = st.sched {
        if let Err(errno) = set_sched(handle.as_pthread_t(), policy, priority) {
            st.exit = true;
            drop(st);
            WORK.notify_all();
            let _ = handle.join();
            state().exit = false;
            return Err(errno);
        }
        st.sched = None;
    }
    st.worker = Some(handle);
    Ok(())
}

/// `qb_log_thread_priority_set`: policies without priorities (other, batch, idle)
/// take priority 0. Applied now if the thread runs, else when it starts.
pub fn priority_set(policy: i32, priority: i32) -> Result<(), i32> {
    let priority = match policy {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => 0,
        _ => priority,
    };
    let mut st = state();
    match &st.worker {
        Some(handle) => set_sched(handle.as_pthread_t(), policy, priority),
        None => {
            st.sched = Some((policy, priority));
            Ok(())
        }
    }
}

/// At `qb_log_fini()`: writes everything still queued (the thread finishes the
/// queue and exits; without a thread the caller writes it) before targets close.
pub fn stop() {
    let handle = {
        let mut st = state();
        st.exit = true;
        st.worker.take()
    };
    WORK.notify_all();
    SPACE.notify_all();
    if IS_WORKER.with(Cell::get) || DRAINING.with(Cell::get) {
        // Called by a target while a batch is being written (a callback calling
        // qb_log_fini): the writer finishes its batch; it cannot wait for itself.
        return;
    }
    if let Some(handle) = handle {
        let _ = handle.join();
    }
    drain();
    state().exit = false;
}

/// Whether a logging thread runs (for tests and diagnostics).
pub fn is_running() -> bool {
    state().worker.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_is_zero_for_policies_without_one() {
        // No worker in unit tests: the setting is stored.
        assert_eq!(priority_set(libc::SCHED_OTHER, 50), Ok(()));
        assert_eq!(state().sched, Some((libc::SCHED_OTHER, 0)));
        assert_eq!(priority_set(libc::SCHED_RR, 7), Ok(()));
        assert_eq!(state().sched, Some((libc::SCHED_RR, 7)));
        state().sched = None;
    }

    #[test]
    fn full_queue_never_drops_and_never_waits_for_itself() {
        // Null call sites: writing them is a no-op, so only the queue is observed.
        let cs = std::ptr::null_mut();
        let big = [b'q'; 4000];
        // No thread: a caller facing a full queue writes it itself, never waits.
        for _ in 0..300 {
            post(cs, 1, (0, 0), &big);
            let st = state();
            assert!(st.bytes <= QUEUE_BYTES);
            assert!(!st.queue.is_empty());
        }
        // The writer itself (logging thread or a thread draining) never waits
        // for room: its message is queued over the limit rather than dropped.
        IS_WORKER.with(|w| w.set(true));
        for _ in 0..300 {
            post(cs, 1, (0, 0), &big);
        }
        IS_WORKER.with(|w| w.set(false));
        {
            let st = state();
            assert!(st.bytes > QUEUE_BYTES);
            assert_eq!(st.bytes, st.queue.len() * (big.len() + RECORD_COST));
        }
        drain();
        assert_eq!(state().bytes, 0);
        assert!(state().queue.is_empty());
    }
}
