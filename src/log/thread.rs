//! Threaded logging (`qb_log_thread_start`, `QB_LOG_CONF_THREADED`).
//!
//! Messages for threaded targets are queued (call site, target mask, timestamp and
//! the formatted text) and written, in order, by one logging thread. Like libqb, the
//! queue holds at most [`QUEUE_BYTES`] (text plus a fixed per-record cost), and until
//! the thread is started messages wait in the queue (`qb_log_fini()` writes them).
//!
//! Unlike libqb, which drops a message as soon as the queue is full, a full queue
//! first makes the caller wait for the thread to catch up (for at most
//! [`FULL_QUEUE_WAIT`], so an application lock held by the caller and wanted by a
//! target's callback can never deadlock the two; after such a timeout, callers
//! drop at once until the thread takes the queue again), and with no thread running the
//! caller writes the queued messages itself. Only then is a message dropped; drops
//! are counted and reported on stdout ("N messages lost") before the next message
//! is written, as libqb reports them. A log call made by a target while the logging
//! thread writes is dropped, like any nested log call.
//!
//! Locks: `WRITER` (held while a batch is written, so batches stay in order) is
//! taken before `STATE`; neither is held while waiting for the other's owner.

use std::cell::Cell;
use std::collections::VecDeque;
use std::os::unix::thread::JoinHandleExt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::callsite::Callsite;

/// libqb's queue limit, counted the same way (text + NUL + a 48-byte record).
pub const QUEUE_BYTES: usize = 512_000;
const RECORD_COST: usize = 48 + 1;
/// Longest time a caller waits for room in a full queue before dropping.
pub const FULL_QUEUE_WAIT: Duration = Duration::from_secs(1);

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
    dropped: u64,
    worker: Option<JoinHandle<()>>,
    exit: bool,
    /// A caller waited the full [`FULL_QUEUE_WAIT`] without the thread taking
    /// anything: until it does, callers facing a full queue drop at once.
    stalled: bool,
    /// Scheduling asked for before the thread exists: (policy, priority).
    sched: Option<(i32, i32)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    queue: VecDeque::new(),
    bytes: 0,
    dropped: 0,
    worker: None,
    exit: false,
    stalled: false,
    sched: None,
});
static WORK: Condvar = Condvar::new();
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

/// Queues one message for the threaded targets in `targets`.
pub fn post(cs: *mut Callsite, targets: u32, timestamp: (i64, i64), text: &[u8]) {
    let cost = text.len() + RECORD_COST;
    let me_worker = IS_WORKER.with(Cell::get) || DRAINING.with(Cell::get);
    let mut st = state();
    if st.bytes + cost > QUEUE_BYTES && !me_worker {
        if st.worker.is_some() && !st.stalled {
            let deadline = Instant::now() + FULL_QUEUE_WAIT;
            while st.bytes + cost > QUEUE_BYTES && st.worker.is_some() {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    st.stalled = true;
                    break;
                };
                st = SPACE
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        if st.worker.is_none() {
            // Nobody else will write them: do it here, in order.
            drop(st);
            drain();
            st = state();
        }
    }
    if st.bytes + cost > QUEUE_BYTES {
        st.dropped += 1;
        return;
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

/// Takes everything queued (and the drop count); the caller holds `WRITER`.
fn take_batch() -> (VecDeque<Queued>, u64) {
    let mut st = state();
    let batch = std::mem::take(&mut st.queue);
    st.bytes = 0;
    st.stalled = false;
    let dropped = std::mem::take(&mut st.dropped);
    drop(st);
    SPACE.notify_all();
    (batch, dropped)
}

fn write_batch(batch: VecDeque<Queued>, dropped: u64) {
    if dropped > 0 {
        let report = format!("{dropped} messages lost");
        super::os::write_stream(super::os::Stream::Stdout, report.as_bytes());
    }
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
        let (batch, dropped) = take_batch();
        write_batch(batch, dropped);
    }
    DRAINING.with(|d| d.set(false));
}

fn worker_main() {
    IS_WORKER.with(|w| w.set(true));
    loop {
        {
            let mut st = state();
            while st.queue.is_empty() && st.dropped == 0 && !st.exit {
                st = WORK.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.queue.is_empty() && st.dropped == 0 && st.exit {
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
}
