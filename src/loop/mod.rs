//! Main loop (qbloop.h): jobs, timers, file descriptors and signals dispatched
//! by priority, with libqb's ordering and anti-starvation policy.
//!
//! # Dispatch policy (libqb's, reproduced)
//!
//! The loop runs in passes. Each pass:
//! 1. moves the jobs added since the previous pass into their level's run
//!    queue (so a job added by a job runs in a later pass, FIFO per level);
//! 2. queues every timer that is due (earliest first);
//! 3. waits for descriptors and signals, and queues the ready ones. The wait
//!    is: none if work is left from the previous pass or a timer was just
//!    queued; up to 50 ms if the pass found only new jobs that callbacks of
//!    the previous pass added (so a job that keeps re-adding itself runs about
//!    once per 50 ms instead of spinning, unless descriptors need service);
//!    otherwise until the next timer (or forever);
//! 4. runs the levels from HIGH down to a floor that rotates every pass
//!    HIGH, MED, LOW, HIGH, ...: a pass with floor HIGH runs only HIGH, one
//!    with floor MED runs HIGH and MED, one with floor LOW runs all three. Each
//!    level runs at most 4 entries per pass.
//!
//! So a flood at HIGH gets at most 4 entries per pass, and MED and LOW still
//! get up to 4 entries in two of three (MED) or one of three (LOW) passes:
//! priorities weigh the share, they never starve a level. `qb_loop_stop` (or
//! [`Loop::stop`]) makes `run` return after the callback that asked for it.
//!
//! Faster equivalents (same order of callbacks): a zero-timeout wait is
//! skipped when no callback ran since the previous wait (descriptor state
//! cannot have changed through us) or when nothing it could report would run
//! in this pass; waits use nanosecond timeouts (epoll_pwait2), so a timer
//! neither fires early nor makes the loop spin; jobs queued before `run` or by
//! other threads do not trigger the 50 ms wait.
//!
//! # Threads
//!
//! A loop is driven by one thread (the one in `run`), as libqb's. All state
//! sits behind one mutex that is never held while a callback runs, so every
//! function may be called from callbacks (re-entrantly) and from other
//! threads. In particular `stop` and `job_add` from another thread are safe
//! and wake a sleeping loop (an eventfd in the epoll set); timers added from
//! another thread wake it too.

pub mod callbacks;
pub mod levels;
mod poll;
mod signals;
mod timers;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

pub use callbacks::{
    CLowFdsFn, CPollFn, CSignalFn, CVoidFn, LowFdsFn, OnceFn, PollFn, SignalFn, UserData,
};
pub use levels::Priority;
pub use timers::now_ns;

use levels::{Item, Level};
use poll::{Epoll, SIGNAL_KEY, Sources, Timeout, WAKE_KEY};
use signals::{Handlers, SignalSink};
use timers::{Deleted, Timers};

/// Entries a level may run per pass.
const PER_PASS: usize = 4;
/// How long a pass that found only freshly re-added jobs waits for descriptors.
const JOB_ONLY_WAIT_NS: u64 = 50_000_000;
/// Descriptors kept back for logs, stdio and pipes when judging fd shortage.
const FDS_KEPT_BACK: i64 = 50;
/// Epoll events fetched per wait.
const MAX_EVENTS: usize = 32;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

#[derive(Default)]
struct State {
    levels: [Level; 3],
    timers: Timers,
    sources: Sources,
    handlers: Handlers,
    /// Signals read by another loop, for our handlers.
    incoming_signals: Vec<i32>,
    /// Whether the signal pipe is in our epoll set.
    pipe_watched: bool,
    low_fds: Option<LowFdsFn>,
    fd_limit: Option<i64>,
    not_enough_fds: bool,
}

impl State {
    fn queued_levels(&self) -> [bool; 3] {
        [0, 1, 2].map(|i| !self.levels[i].queue.is_empty())
    }

    fn expire_timers(&mut self) -> usize {
        if self.timers.pending() == 0 {
            return 0;
        }
        let now = now_ns();
        let mut n = 0;
        while let Some((p, slot, generation)) = self.timers.pop_due(now) {
            self.levels[p.index()].push(Item::Timer { slot, generation });
            n += 1;
        }
        n
    }

    /// One run-queue entry per handler of each signal, in registration order.
    fn queue_signals(&mut self, signals: &[i32]) {
        for &sig in signals {
            for h in self.handlers.list.iter().filter(|h| h.signal == sig) {
                self.levels[h.priority.index()].push(Item::Signal {
                    handler: h.id,
                    signal: sig,
                });
            }
        }
    }

    /// libqb's descriptor-shortage check: reports entering (available <= 1)
    /// and leaving (available > 2) the shortage.
    fn check_fd_usage(&mut self) -> Option<(LowFdsFn, bool, i32)> {
        let limit = *self.fd_limit.get_or_insert_with(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: valid out-pointer.
            if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } < 0 {
                return i64::MAX;
            }
            (i64::try_from(lim.rlim_cur).unwrap_or(i64::MAX) - FDS_KEPT_BACK).max(0)
        });
        // Our own wakeup descriptor counts, as libqb counts its signal pipe.
        let used = self.sources.count() as i64 + 1;
        let available = limit.saturating_sub(used).max(0);
        let changed = if self.not_enough_fds {
            available > 2
        } else {
            available <= 1
        };
        if !changed {
            return None;
        }
        self.not_enough_fds = !self.not_enough_fds;
        let cb = self.low_fds.clone()?;
        Some((
            cb,
            self.not_enough_fds,
            available.min(i64::from(i32::MAX)) as i32,
        ))
    }
}

struct Shared {
    id: usize,
    state: Mutex<State>,
    epoll: Epoll,
    wake_fd: OwnedFd,
    sleeping: AtomicBool,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to our eventfd.
        let _ = unsafe { libc::write(self.wake_fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// After publishing work: wakes the loop if it may be blocked in epoll.
    fn nudge(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    fn drain_wake(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a local from our eventfd.
        let _ = unsafe { libc::read(self.wake_fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

impl SignalSink for Shared {
    fn deliver(&self, signals: &[i32]) {
        self.lock().incoming_signals.extend_from_slice(signals);
        self.wake();
    }
}

/// A main loop. `Send + Sync`: see the module documentation on threads.
pub struct Loop {
    shared: Arc<Shared>,
}

impl Loop {
    pub fn new() -> Result<Loop, i32> {
        let epoll = Epoll::new()?;
        let wake_fd = poll::new_eventfd()?;
        epoll.add_raw(wake_fd.as_raw_fd(), libc::EPOLLIN as u32, WAKE_KEY)?;
        Ok(Loop {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::new(State::default()),
                epoll,
                wake_fd,
                sleeping: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
        })
    }

    /// Makes `run` return (after the running callback, if any). Any thread.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.nudge();
    }

    /// Runs passes until `stop` (see the module documentation).
    pub fn run(&self) {
        let sh = &*self.shared;
        sh.stop.store(false, Ordering::SeqCst);
        let mut floor = Priority::Low;
        let mut ran_last_pass = false;
        let mut ran_since_poll = true;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        loop {
            floor = match floor {
                Priority::Low => Priority::High,
                Priority::Med => Priority::Low,
                Priority::High => Priority::Med,
            };
            let (timeout, can_run, has_sources, mut queued, note) = {
                let mut st = sh.lock();
                let remaining: usize = st.levels.iter().map(|l| l.live).sum();
                let incoming = std::mem::take(&mut st.incoming_signals);
                st.queue_signals(&incoming);
                let job_todo: usize = st.levels.iter_mut().map(|l| l.admit_waiting()).sum();
                let timer_todo = st.expire_timers();
                let timeout = if remaining > 0 || timer_todo > 0 || !incoming.is_empty() {
                    Timeout::Zero
                } else if job_todo > 0 {
                    if ran_last_pass {
                        let cap = now_ns().saturating_add(JOB_ONLY_WAIT_NS);
                        Timeout::Until(st.timers.next_expiry().map_or(cap, |t| t.min(cap)))
                    } else {
                        Timeout::Zero
                    }
                } else {
                    st.timers
                        .next_expiry()
                        .map_or(Timeout::Forever, Timeout::Until)
                };
                let can_run = st.levels[floor.index()..].iter().any(|l| l.live > 0)
                    || st.sources.any_at_or_above(floor)
                    || st.handlers.any_at_or_above(floor);
                let has_sources = st.sources.count() > 0 || !st.handlers.list.is_empty();
                let queued = st.queued_levels();
                (timeout, can_run, has_sources, queued, st.check_fd_usage())
            };
            if let Some((cb, not_enough, available)) = note {
                cb.call(not_enough, available);
                ran_since_poll = true;
            }
            let must_poll = match timeout {
                Timeout::Zero => has_sources && ran_since_poll && can_run,
                _ => true,
            };
            if must_poll {
                queued = self.poll_once(timeout, &mut events);
                ran_since_poll = false;
            }
            if sh.stop.load(Ordering::SeqCst) {
                return;
            }
            let mut ran = false;
            for p in [Priority::High, Priority::Med, Priority::Low] {
                if p < floor {
                    break;
                }
                // Run queues only shrink while callbacks run: a level found
                // empty stays empty until the next pass.
                if !queued[p.index()] {
                    continue;
                }
                for _ in 0..PER_PASS {
                    let Some(more) = self.dispatch_one(p) else {
                        break;
                    };
                    ran = true;
                    if sh.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if !more {
                        break;
                    }
                }
            }
            ran_last_pass = ran;
            ran_since_poll |= ran;
        }
    }

    /// Waits (or just looks) for descriptor events and queues them; returns
    /// which levels have queued entries.
    fn poll_once(&self, timeout: Timeout, events: &mut [libc::epoll_event]) -> [bool; 3] {
        let sh = &*self.shared;
        let mut timeout = timeout;
        let blocking = timeout != Timeout::Zero;
        if blocking {
            sh.sleeping.store(true, Ordering::SeqCst);
            // Work published by other threads since the pass began: either we
            // see it here, or its publisher sees `sleeping` and wakes us.
            let st = sh.lock();
            let fresh =
                st.levels.iter().any(|l| !l.waiting.is_empty()) || !st.incoming_signals.is_empty();
            if fresh || sh.stop.load(Ordering::SeqCst) {
                timeout = Timeout::Zero;
            } else if let Some(t) = st.timers.next_expiry() {
                timeout = match timeout {
                    Timeout::Until(d) if d <= t => timeout,
                    _ => Timeout::Until(t),
                };
            }
        }
        let n = sh.epoll.wait(events, timeout).unwrap_or(0);
        if blocking {
            sh.sleeping.store(false, Ordering::SeqCst);
        }
        let mut caught: Vec<i32> = Vec::new();
        for ev in &events[..n] {
            let key = ev.u64;
            match key {
                WAKE_KEY => sh.drain_wake(),
                SIGNAL_KEY => {
                    let got = signals::drain();
                    signals::route(sh.id, &got);
                    caught.extend(got);
                }
                _ => {}
            }
        }
        let mut st = sh.lock();
        for ev in &events[..n] {
            let (key, bits) = ({ ev.u64 }, { ev.events });
            match key {
                WAKE_KEY => {}
                SIGNAL_KEY => {
                    let got = std::mem::take(&mut caught);
                    st.queue_signals(&got);
                }
                _ => {
                    if let Some((p, slot, generation)) = st.sources.on_event(key, bits) {
                        st.levels[p.index()].push(Item::Poll { slot, generation });
                    }
                }
            }
        }
        st.queued_levels()
    }

    /// Runs the next live entry of level `p`: None if there was none, else
    /// whether more entries are queued behind it.
    fn dispatch_one(&self, p: Priority) -> Option<bool> {
        let sh = &*self.shared;
        let mut st = sh.lock();
        loop {
            let item = st.levels[p.index()].queue.pop_front()?;
            let more = !st.levels[p.index()].queue.is_empty();
            match item {
                Item::Job(cb) => {
                    st.levels[p.index()].forget_one();
                    drop(st);
                    cb.call();
                    return Some(more);
                }
                Item::Timer { slot, generation } => {
                    let Some(cb) = st.timers.take_queued(slot, generation) else {
                        continue; // deleted after it expired
                    };
                    st.levels[p.index()].forget_one();
                    drop(st);
                    cb.call();
                    return Some(more);
                }
                Item::Poll { slot, generation } => {
                    let Some(mut ready) = st.sources.take_queued(slot, generation) else {
                        continue; // deleted or replaced after it became ready
                    };
                    st.levels[p.index()].forget_one();
                    drop(st);
                    let res = ready.callback.call(ready.fd, ready.revents);
                    sh.lock().sources.finish(&sh.epoll, ready, res);
                    return Some(more);
                }
                Item::Signal { handler, signal } => {
                    st.levels[p.index()].forget_one();
                    let Some(mut cb) = st.handlers.find(handler).and_then(|h| h.callback.take())
                    else {
                        continue; // its callback is already running (nested run)
                    };
                    drop(st);
                    let res = cb.call(signal);
                    let mut st = sh.lock();
                    // The handler may have been deleted or replaced meanwhile.
                    let vacant = st.handlers.find(handler).map(|h| h.callback.is_none());
                    if vacant.is_some() && res != 0 {
                        self.remove_handler(&mut st, handler);
                    } else if vacant == Some(true)
                        && let Some(h) = st.handlers.find(handler)
                    {
                        h.callback = Some(cb);
                    }
                    return Some(more);
                }
            }
        }
    }

    // ---- jobs ----

    /// Queues a one-shot job; it runs in a later pass, FIFO within `p`.
    pub fn job_add(&self, p: Priority, job: OnceFn) {
        self.shared.lock().levels[p.index()].waiting.push_back(job);
        self.shared.nudge();
    }

    /// [`Loop::job_add`] with a closure.
    pub fn job_add_fn(&self, p: Priority, f: impl FnOnce() + Send + 'static) {
        self.job_add(p, OnceFn::Rust(Box::new(f)));
    }

    /// Removes the first not yet run C job `(func, data)` of level `p`.
    pub fn job_del_c(
        &self,
        p: Priority,
        func: CVoidFn,
        data: *mut std::ffi::c_void,
    ) -> Result<(), i32> {
        if self.shared.lock().levels[p.index()].remove_c_job(func, data) {
            Ok(())
        } else {
            Err(libc::ENOENT)
        }
    }

    // ---- timers ----

    /// Arms a one-shot timer `nsec` from now (saturating); returns its handle.
    pub fn timer_add(&self, p: Priority, nsec: u64, cb: OnceFn) -> Result<u64, i32> {
        let expire = now_ns().saturating_add(nsec);
        let h = self.shared.lock().timers.add(p, expire, cb)?;
        self.shared.nudge();
        Ok(h)
    }

    /// [`Loop::timer_add`] with a closure.
    pub fn timer_add_fn(
        &self,
        p: Priority,
        nsec: u64,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<u64, i32> {
        self.timer_add(p, nsec, OnceFn::Rust(Box::new(f)))
    }

    /// Cancels a timer that has not run yet; EINVAL for any other handle.
    pub fn timer_del(&self, handle: u64) -> Result<(), i32> {
        let mut st = self.shared.lock();
        if let Deleted::Queued(p) = st.timers.delete(handle)? {
            st.levels[p.index()].forget_one();
        }
        Ok(())
    }

    /// Absolute CLOCK_MONOTONIC expiry (ns) of a timer still waiting, else 0.
    pub fn timer_expire_time(&self, handle: u64) -> u64 {
        self.shared.lock().timers.expire_time(handle).unwrap_or(0)
    }

    /// Nanoseconds until a waiting timer expires, else 0.
    pub fn timer_remaining(&self, handle: u64) -> u64 {
        match self.shared.lock().timers.expire_time(handle) {
            Some(t) => t.saturating_sub(now_ns()),
            None => 0,
        }
    }

    pub fn timer_is_running(&self, handle: u64) -> bool {
        self.timer_expire_time(handle) > 0
    }

    // ---- descriptors ----

    /// Watches `fd` for poll(2) `events`. EEXIST if already watched.
    pub fn poll_add(&self, p: Priority, fd: i32, events: i32, cb: PollFn) -> Result<(), i32> {
        let sh = &*self.shared;
        let mut st = sh.lock();
        if let Some(stale) = st.sources.add(&sh.epoll, p, fd, events, cb)? {
            st.levels[stale.index()].forget_one();
        }
        Ok(())
    }

    /// [`Loop::poll_add`] with a closure `(fd, revents) -> result`.
    pub fn poll_add_fn(
        &self,
        p: Priority,
        fd: i32,
        events: i32,
        f: impl FnMut(i32, i32) -> i32 + Send + 'static,
    ) -> Result<(), i32> {
        self.poll_add(p, fd, events, PollFn::Rust(Box::new(f)))
    }

    /// New priority, events and callback for a watched `fd`; EBADF if unknown.
    pub fn poll_mod(&self, p: Priority, fd: i32, events: i32, cb: PollFn) -> Result<(), i32> {
        let sh = &*self.shared;
        sh.lock().sources.modify(&sh.epoll, p, fd, events, cb)
    }

    /// Stops watching `fd`; EBADF if unknown (or the kernel's error when the
    /// descriptor was already closed; the source is gone either way).
    pub fn poll_del(&self, fd: i32) -> Result<(), i32> {
        let sh = &*self.shared;
        let mut st = sh.lock();
        let (res, stale) = st.sources.delete(&sh.epoll, fd);
        if let Some(p) = stale {
            st.levels[p.index()].forget_one();
        }
        res
    }

    /// Sets (or clears) the descriptor-shortage callback.
    pub fn set_low_fds_callback(&self, cb: Option<LowFdsFn>) {
        self.shared.lock().low_fds = cb;
    }

    // ---- signals ----

    fn watch_signal_pipe(&self, st: &mut State) -> Result<(), i32> {
        if st.pipe_watched {
            return Ok(());
        }
        let fd = signals::pipe_read_fd()?;
        self.shared
            .epoll
            .add_raw(fd, libc::EPOLLIN as u32, SIGNAL_KEY)?;
        st.pipe_watched = true;
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        signals::attach(self.shared.id, weak);
        Ok(())
    }

    fn unwatch_signal_pipe_if_idle(&self, st: &mut State) {
        if st.pipe_watched && st.handlers.list.is_empty() {
            if let Ok(fd) = signals::pipe_read_fd() {
                let _ = self.shared.epoll.delete(fd);
            }
            st.pipe_watched = false;
            signals::detach(self.shared.id);
        }
    }

    /// Removes a handler and its queued deliveries.
    fn remove_handler(&self, st: &mut State, id: u64) -> bool {
        let Some(h) = st.handlers.remove(id) else {
            return false;
        };
        for level in st.levels.iter_mut() {
            level.remove_signal_items(id);
        }
        signals::release(h.signal);
        self.unwatch_signal_pipe_if_idle(st);
        true
    }

    /// Adds a handler for `signal`; returns its id (the C handle).
    pub fn signal_add(&self, p: Priority, signal: i32, cb: SignalFn) -> Result<u64, i32> {
        let mut st = self.shared.lock();
        signals::acquire(signal)?;
        if let Err(e) = self.watch_signal_pipe(&mut st) {
            signals::release(signal);
            return Err(e);
        }
        Ok(st.handlers.add(signal, p, cb))
    }

    /// [`Loop::signal_add`] with a closure `(signal) -> result`.
    pub fn signal_add_fn(
        &self,
        p: Priority,
        signal: i32,
        f: impl FnMut(i32) -> i32 + Send + 'static,
    ) -> Result<u64, i32> {
        self.signal_add(p, signal, SignalFn::Rust(Box::new(f)))
    }

    /// Changes a handler's priority, signal and callback; EINVAL if unknown.
    pub fn signal_mod(&self, id: u64, p: Priority, signal: i32, cb: SignalFn) -> Result<(), i32> {
        let mut st = self.shared.lock();
        let old = st.handlers.find(id).ok_or(libc::EINVAL)?.signal;
        if old != signal {
            signals::acquire(signal)?;
            signals::release(old);
        }
        let h = st.handlers.find(id).ok_or(libc::EINVAL)?;
        h.signal = signal;
        h.priority = p;
        h.callback = Some(cb);
        Ok(())
    }

    /// Removes a handler (and deliveries not yet dispatched); EINVAL if unknown.
    pub fn signal_del(&self, id: u64) -> Result<(), i32> {
        let mut st = self.shared.lock();
        if self.remove_handler(&mut st, id) {
            Ok(())
        } else {
            Err(libc::EINVAL)
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let ids: Vec<u64> = st.handlers.list.iter().map(|h| h.id).collect();
        for id in ids {
            self.remove_handler(&mut st, id);
        }
        st.sources.clear();
    }
}

#[cfg(test)]
mod tests;
