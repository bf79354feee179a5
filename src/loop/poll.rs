//! File descriptor sources: the epoll set and the table of watched descriptors.
//!
//! Events are given and reported as poll(2) bits. Each source lives in a slot;
//! its epoll key is `(generation << 32) | slot`, so an event that arrives for
//! a source deleted (or replaced) since is recognised and ignored. Keys with
//! all high bits set are reserved for the loop's own descriptors.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::callbacks::PollFn;
use super::levels::Priority;

/// Epoll key of the loop's wakeup eventfd.
pub const WAKE_KEY: u64 = u64::MAX;
/// Epoll key of the process-wide signal pipe.
pub const SIGNAL_KEY: u64 = u64::MAX - 1;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// poll(2) bits to epoll bits (POLLNVAL, which epoll cannot report, as an error).
fn to_epoll(events: i32) -> u32 {
    let map = [
        (libc::POLLIN, libc::EPOLLIN),
        (libc::POLLOUT, libc::EPOLLOUT),
        (libc::POLLPRI, libc::EPOLLPRI),
        (libc::POLLERR, libc::EPOLLERR),
        (libc::POLLHUP, libc::EPOLLHUP),
        (libc::POLLNVAL, libc::EPOLLERR),
    ];
    map.iter()
        .filter(|(p, _)| events & i32::from(*p) != 0)
        .fold(0u32, |acc, (_, e)| acc | *e as u32)
}

/// epoll bits to poll(2) bits.
pub fn to_poll(events: u32) -> i32 {
    let map = [
        (libc::EPOLLIN, libc::POLLIN),
        (libc::EPOLLOUT, libc::POLLOUT),
        (libc::EPOLLPRI, libc::POLLPRI),
        (libc::EPOLLERR, libc::POLLERR),
        (libc::EPOLLHUP, libc::POLLHUP),
    ];
    map.iter()
        .filter(|(e, _)| events & (*e as u32) != 0)
        .fold(0i32, |acc, (_, p)| acc | i32::from(*p))
}

/// How long `Epoll::wait` may block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    Zero,
    Forever,
    /// Until this CLOCK_MONOTONIC time (ns).
    Until(u64),
}

/// epoll_pwait2 (ns timeouts) is used when the kernel has it.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> Result<Epoll, i32> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: a fresh descriptor we own.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: i32, fd: i32, epoll_events: u32, key: u64) -> Result<(), i32> {
        let mut ev = libc::epoll_event {
            events: epoll_events,
            u64: key,
        };
        // SAFETY: valid epoll descriptor and event pointer.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(errno());
        }
        Ok(())
    }

    pub fn add_raw(&self, fd: i32, epoll_events: u32, key: u64) -> Result<(), i32> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, epoll_events, key)
    }

    fn add(&self, fd: i32, events: i32, key: u64) -> Result<(), i32> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, to_epoll(events), key)
    }

    fn modify(&self, fd: i32, events: i32, key: u64) -> Result<(), i32> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, to_epoll(events), key)
    }

    pub fn delete(&self, fd: i32) -> Result<(), i32> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for events; EINTR is retried (an absolute deadline stays exact).
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout: Timeout) -> Result<usize, i32> {
        let max = events.len().min(i32::MAX as usize) as i32;
        loop {
            let rel_ns = match timeout {
                Timeout::Zero => Some(0),
                Timeout::Forever => None,
                Timeout::Until(t) => Some(t.saturating_sub(super::timers::now_ns())),
            };
            let n = if NO_PWAIT2.load(Ordering::Relaxed) {
                let ms = match rel_ns {
                    None => -1,
                    // Round up: waking early would only spin until the deadline.
                    Some(ns) => ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32,
                };
                // SAFETY: valid descriptor and buffer of `max` events.
                unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, ms) }
            } else {
                let ts = rel_ns.map(|ns| libc::timespec {
                    tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
                    tv_nsec: (ns % 1_000_000_000) as libc::c_long,
                });
                let ts_ptr = ts
                    .as_ref()
                    .map_or(std::ptr::null(), |t| t as *const libc::timespec);
                // SAFETY: valid descriptor, buffer of `max` events, NULL sigmask.
                unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        self.fd.as_raw_fd(),
                        events.as_mut_ptr(),
                        max,
                        ts_ptr,
                        std::ptr::null::<libc::sigset_t>(),
                        8usize,
                    ) as i32
                }
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            match errno() {
                libc::EINTR => continue,
                libc::ENOSYS => NO_PWAIT2.store(true, Ordering::Relaxed),
                e => return Err(e),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Free,
    /// Watched, nothing pending.
    Active,
    /// Reported hang-up/error that its callback ignored: left out of the epoll
    /// set (so it cannot make the loop spin) until poll_mod or poll_del.
    Suspended,
    /// Ready and sitting in this level's run queue.
    Queued(Priority),
    /// Its callback is running.
    Dispatching,
}

struct Source {
    generation: u32,
    state: State,
    fd: i32,
    events: i32,
    revents: i32,
    priority: Priority,
    callback: Option<PollFn>,
}

/// A source handed to the dispatcher.
pub struct Ready {
    pub slot: u32,
    pub generation: u32,
    pub fd: i32,
    pub revents: i32,
    pub callback: PollFn,
}

#[derive(Default)]
pub struct Sources {
    slots: Vec<Source>,
    free: Vec<u32>,
    /// fd -> slot + 1 (0 = not watched); dense because fds are small integers.
    by_fd: Vec<u32>,
    count: usize,
    per_priority: [usize; 3],
}

fn key(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

impl Sources {
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether any source at `p` or above exists.
    pub fn any_at_or_above(&self, p: Priority) -> bool {
        self.per_priority[p.index()..].iter().any(|&n| n > 0)
    }

    fn slot_of(&self, fd: i32) -> Option<usize> {
        let i = usize::try_from(fd).ok()?;
        match self.by_fd.get(i) {
            Some(&s) if s > 0 => Some(s as usize - 1),
            _ => None,
        }
    }

    fn alloc(&mut self) -> Result<u32, i32> {
        if let Some(s) = self.free.pop() {
            return Ok(s);
        }
        let s = u32::try_from(self.slots.len()).map_err(|_| libc::ENOMEM)?;
        self.slots.push(Source {
            generation: 1,
            state: State::Free,
            fd: -1,
            events: 0,
            revents: 0,
            priority: Priority::Low,
            callback: None,
        });
        Ok(s)
    }

    /// Forgets a slot; returns the level whose queue entry went stale, if any.
    fn release(&mut self, slot: usize) -> Option<Priority> {
        let s = &mut self.slots[slot];
        let queued = match s.state {
            State::Queued(p) => Some(p),
            _ => None,
        };
        if let Ok(i) = usize::try_from(s.fd)
            && self.by_fd.get(i) == Some(&(slot as u32 + 1))
        {
            self.by_fd[i] = 0;
        }
        self.per_priority[s.priority.index()] -= 1;
        self.count -= 1;
        s.state = State::Free;
        s.fd = -1;
        s.callback = None;
        s.generation = s.generation.wrapping_add(1).max(1);
        self.free.push(slot as u32);
        queued
    }

    /// Watches `fd`. A descriptor already watched gives EEXIST, unless the
    /// kernel accepts it again (the old one was closed behind our back and
    /// the number reused): then the new registration replaces the old one,
    /// whose stale queue entry is reported.
    pub fn add(
        &mut self,
        epoll: &Epoll,
        p: Priority,
        fd: i32,
        events: i32,
        callback: PollFn,
    ) -> Result<Option<Priority>, i32> {
        if fd < 0 {
            return Err(libc::EBADF);
        }
        if let Some(old) = self.slot_of(fd)
            && self.slots[old].state == State::Suspended
        {
            return Err(libc::EEXIST);
        }
        let slot = self.alloc()?;
        let generation = self.slots[slot as usize].generation;
        if let Err(e) = epoll.add(fd, events, key(slot, generation)) {
            self.free.push(slot);
            return Err(e);
        }
        let mut stale = None;
        if let Some(old) = self.slot_of(fd) {
            stale = self.release(old);
        }
        let i = fd as usize;
        if self.by_fd.len() <= i {
            self.by_fd.resize(i + 1, 0);
        }
        self.by_fd[i] = slot + 1;
        let s = &mut self.slots[slot as usize];
        s.state = State::Active;
        s.fd = fd;
        s.events = events;
        s.revents = 0;
        s.priority = p;
        s.callback = Some(callback);
        self.count += 1;
        self.per_priority[p.index()] += 1;
        Ok(stale)
    }

    /// libqb's poll_mod: new callback, priority and events. EBADF if unknown.
    pub fn modify(
        &mut self,
        epoll: &Epoll,
        p: Priority,
        fd: i32,
        events: i32,
        callback: PollFn,
    ) -> Result<(), i32> {
        let slot = self.slot_of(fd).ok_or(libc::EBADF)?;
        let k = key(slot as u32, self.slots[slot].generation);
        let old_p = self.slots[slot].priority;
        self.per_priority[old_p.index()] -= 1;
        self.per_priority[p.index()] += 1;
        let s = &mut self.slots[slot];
        s.priority = p;
        s.callback = Some(callback);
        let mut res = Ok(());
        if s.state == State::Suspended {
            res = epoll.add(fd, events, k);
            if res.is_ok() {
                s.state = State::Active;
            }
        } else if s.events != events {
            res = epoll.modify(fd, events, k);
        }
        s.events = events;
        res
    }

    /// Stops watching `fd`. EBADF if unknown; otherwise the entry is gone even
    /// when the kernel reports an error (the descriptor was already closed).
    /// Returns the level whose queue entry went stale, if any.
    pub fn delete(&mut self, epoll: &Epoll, fd: i32) -> (Result<(), i32>, Option<Priority>) {
        let Some(slot) = self.slot_of(fd) else {
            return (Err(libc::EBADF), None);
        };
        let res = if self.slots[slot].state == State::Suspended {
            Ok(())
        } else {
            epoll.delete(fd)
        };
        (res, self.release(slot))
    }

    /// An epoll event for `key`: returns `(slot, generation, priority)` when
    /// the source must join its level's run queue (not already queued).
    pub fn on_event(&mut self, key: u64, epoll_events: u32) -> Option<(Priority, u32, u32)> {
        let slot = (key & u64::from(u32::MAX)) as u32;
        let generation = (key >> 32) as u32;
        let s = self.slots.get_mut(slot as usize)?;
        if s.generation != generation || s.state == State::Free {
            return None;
        }
        s.revents |= to_poll(epoll_events);
        match s.state {
            State::Active => {
                s.state = State::Queued(s.priority);
                Some((s.priority, slot, generation))
            }
            _ => None,
        }
    }

    /// For dispatch: the queued source's callback and events.
    pub fn take_queued(&mut self, slot: u32, generation: u32) -> Option<Ready> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.generation != generation || !matches!(s.state, State::Queued(_)) {
            return None;
        }
        let callback = s.callback.take()?;
        s.state = State::Dispatching;
        let revents = std::mem::take(&mut s.revents);
        Some(Ready {
            slot,
            generation,
            fd: s.fd,
            revents,
            callback,
        })
    }

    /// After dispatch. `result < 0` removes the source (and its epoll
    /// registration). A source that reported a hang-up or error, was left
    /// unchanged by its callback and has nothing left to read is suspended.
    pub fn finish(&mut self, epoll: &Epoll, ready: Ready, result: i32) {
        let slot = ready.slot as usize;
        let Some(s) = self.slots.get_mut(slot) else {
            return;
        };
        if s.generation != ready.generation || s.state != State::Dispatching {
            return; // deleted or replaced by its callback
        }
        if result < 0 {
            // The callback may have closed it already: errors are expected.
            let _ = epoll.delete(ready.fd);
            self.release(slot);
            return;
        }
        s.state = State::Active;
        let unchanged = s.callback.is_none();
        if unchanged {
            s.callback = Some(ready.callback);
        }
        let trouble = ready.revents & i32::from(libc::POLLHUP | libc::POLLERR) != 0;
        if trouble && unchanged && nothing_to_read(ready.fd) && epoll.delete(ready.fd).is_ok() {
            s.state = State::Suspended;
        }
    }

    /// Every source's callback (destroy).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.by_fd.clear();
        self.count = 0;
        self.per_priority = [0; 3];
    }
}

/// True when the descriptor holds no unread bytes (or cannot say).
fn nothing_to_read(fd: i32) -> bool {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; failure leaves n at 0.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    r < 0 || n <= 0
}

/// Creates the loop's wakeup eventfd (non-blocking, close-on-exec).
pub fn new_eventfd() -> Result<OwnedFd, i32> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_conversions_round_trip() {
        let all =
            i32::from(libc::POLLIN | libc::POLLOUT | libc::POLLPRI | libc::POLLERR | libc::POLLHUP);
        assert_eq!(to_poll(to_epoll(all)), all);
        assert_eq!(
            to_poll(to_epoll(i32::from(libc::POLLNVAL))),
            i32::from(libc::POLLERR)
        );
    }

    #[test]
    fn duplicate_unknown_and_stale() {
        let ep = Epoll::new().unwrap();
        let mut s = Sources::default();
        let mut fds = [0; 2];
        // SAFETY: valid array for pipe().
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let cb = || PollFn::Rust(Box::new(|_, _| 0));
        assert!(
            s.add(&ep, Priority::Med, fds[0], i32::from(libc::POLLIN), cb())
                .is_ok()
        );
        assert_eq!(
            s.add(&ep, Priority::Med, fds[0], i32::from(libc::POLLIN), cb())
                .err(),
            Some(libc::EEXIST)
        );
        assert_eq!(s.count(), 1);
        assert!(s.any_at_or_above(Priority::Med));
        assert!(!s.any_at_or_above(Priority::High));
        assert_eq!(
            s.modify(&ep, Priority::Low, 999, 1, cb()).err(),
            Some(libc::EBADF)
        );
        assert_eq!(s.delete(&ep, 999).0.err(), Some(libc::EBADF));
        assert!(s.delete(&ep, fds[0]).0.is_ok());
        assert_eq!(s.count(), 0);
        // SAFETY: closing our own pipe.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
