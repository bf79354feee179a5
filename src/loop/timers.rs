//! One-shot timers: a slab of timer slots plus a binary min-heap of expiry
//! times. Add, delete and expiry are O(log n); slots are recycled through a
//! free list.
//!
//! A handle is `(generation << 32) | slot`. A slot's generation changes every
//! time the slot is released, so handles of expired, deleted or recycled
//! timers, and arbitrary garbage, are recognised and refused with `EINVAL`
//! (libqb's code for every bad handle). Generation 0 is never used, so the
//! handle 0 is always invalid.
//!
//! Times are nanoseconds of CLOCK_MONOTONIC, the clock `expire_time_get`
//! reports (as libqb's `qb_util_nano_current_get`).

use super::callbacks::OnceFn;
use super::levels::Priority;

/// Now on CLOCK_MONOTONIC, in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Free,
    /// In the heap, waiting for its time.
    Pending,
    /// Expired and sitting in the run queue of this level.
    Queued(Priority),
}

struct Slot {
    generation: u32,
    state: State,
    priority: Priority,
    expire: u64,
    heap_pos: u32,
    callback: Option<OnceFn>,
}

#[derive(Clone, Copy)]
struct HeapEntry {
    expire: u64,
    /// Insertion order: equal expiry times fire first-added first.
    seq: u64,
    slot: u32,
}

impl HeapEntry {
    fn before(&self, other: &HeapEntry) -> bool {
        (self.expire, self.seq) < (other.expire, other.seq)
    }
}

#[derive(Default)]
pub struct Timers {
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: Vec<HeapEntry>,
    seq: u64,
}

/// What `Timers::delete` removed.
pub enum Deleted {
    /// It was still waiting for its time.
    Pending,
    /// It had expired and was queued at this level (the queue entry is now stale).
    Queued(Priority),
}

fn make_handle(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

impl Timers {
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Arms a timer expiring at `expire` (absolute monotonic ns); returns its handle.
    pub fn add(&mut self, priority: Priority, expire: u64, callback: OnceFn) -> Result<u64, i32> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let s = u32::try_from(self.slots.len()).map_err(|_| libc::ENOMEM)?;
                self.slots.push(Slot {
                    generation: 1,
                    state: State::Free,
                    priority,
                    expire: 0,
                    heap_pos: 0,
                    callback: None,
                });
                s
            }
        };
        let seq = self.seq;
        self.seq += 1;
        let pos = self.heap.len();
        self.heap.push(HeapEntry { expire, seq, slot });
        let s = &mut self.slots[slot as usize];
        s.state = State::Pending;
        s.priority = priority;
        s.expire = expire;
        s.callback = Some(callback);
        let generation = s.generation;
        self.sift_up(pos);
        Ok(make_handle(slot, generation))
    }

    /// The slot index of a live timer handle.
    fn lookup(&self, handle: u64) -> Result<usize, i32> {
        let slot = (handle & u64::from(u32::MAX)) as usize;
        let generation = (handle >> 32) as u32;
        match self.slots.get(slot) {
            Some(s) if s.generation == generation && s.state != State::Free => Ok(slot),
            _ => Err(libc::EINVAL),
        }
    }

    fn release(&mut self, slot: usize) -> Option<OnceFn> {
        let s = &mut self.slots[slot];
        s.state = State::Free;
        s.generation = s.generation.wrapping_add(1).max(1);
        self.free.push(slot as u32);
        s.callback.take()
    }

    pub fn delete(&mut self, handle: u64) -> Result<Deleted, i32> {
        let slot = self.lookup(handle)?;
        let what = match self.slots[slot].state {
            State::Pending => {
                let pos = self.slots[slot].heap_pos as usize;
                self.heap_remove(pos);
                Deleted::Pending
            }
            State::Queued(p) => Deleted::Queued(p),
            State::Free => return Err(libc::EINVAL),
        };
        // The callback is dropped here; C callbacks own nothing of ours.
        drop(self.release(slot));
        Ok(what)
    }

    /// Expiry time of a timer still waiting for its time, else None.
    pub fn expire_time(&self, handle: u64) -> Option<u64> {
        let slot = self.lookup(handle).ok()?;
        let s = &self.slots[slot];
        (s.state == State::Pending).then_some(s.expire)
    }

    /// The earliest pending expiry.
    pub fn next_expiry(&self) -> Option<u64> {
        self.heap.first().map(|e| e.expire)
    }

    /// Takes the earliest timer if it is due at `now`: it becomes Queued and
    /// the caller puts `(slot, generation)` in the level's run queue.
    pub fn pop_due(&mut self, now: u64) -> Option<(Priority, u32, u32)> {
        let top = *self.heap.first()?;
        if top.expire > now {
            return None;
        }
        self.heap_remove(0);
        let s = &mut self.slots[top.slot as usize];
        s.state = State::Queued(s.priority);
        Some((s.priority, top.slot, s.generation))
    }

    /// For dispatch: a queued timer's callback; the timer is released first,
    /// so its handle is already invalid while the callback runs (libqb too).
    pub fn take_queued(&mut self, slot: u32, generation: u32) -> Option<OnceFn> {
        let s = self.slots.get(slot as usize)?;
        if s.generation != generation || !matches!(s.state, State::Queued(_)) {
            return None;
        }
        self.release(slot as usize)
    }

    // ---- heap ----

    fn place(&mut self, pos: usize, e: HeapEntry) {
        self.heap[pos] = e;
        self.slots[e.slot as usize].heap_pos = pos as u32;
    }

    fn sift_up(&mut self, mut pos: usize) {
        let e = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.heap[parent];
            if !e.before(&p) {
                break;
            }
            self.place(pos, p);
            pos = parent;
        }
        self.place(pos, e);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let e = self.heap[pos];
        let n = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap[child].before(&e) {
                break;
            }
            let c = self.heap[child];
            self.place(pos, c);
            pos = child;
        }
        self.place(pos, e);
    }

    fn heap_remove(&mut self, pos: usize) {
        let last = self.heap.len() - 1;
        if pos != last {
            let moved = self.heap[last];
            self.heap.pop();
            self.place(pos, moved);
            if pos > 0 && moved.before(&self.heap[(pos - 1) / 2]) {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        } else {
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> OnceFn {
        OnceFn::Rust(Box::new(|| {}))
    }

    #[test]
    fn expire_in_time_order_and_fifo_on_ties() {
        let mut t = Timers::default();
        let times = [50u64, 10, 30, 10, 40, 20];
        let handles: Vec<u64> = times
            .iter()
            .map(|&e| t.add(Priority::Med, e, noop()).unwrap())
            .collect();
        let mut order = Vec::new();
        while let Some((_, slot, generation)) = t.pop_due(u64::MAX) {
            order.push(make_handle(slot, generation));
        }
        assert_eq!(
            order,
            vec![
                handles[1], handles[3], handles[5], handles[2], handles[4], handles[0]
            ]
        );
    }

    #[test]
    fn stale_and_garbage_handles_are_refused() {
        let mut t = Timers::default();
        let h = t.add(Priority::Low, 100, noop()).unwrap();
        assert!(t.delete(0).is_err());
        assert!(t.delete(h ^ (1 << 40)).is_err());
        assert!(t.delete(h + 7).is_err());
        assert!(t.delete(u64::MAX).is_err());
        assert_eq!(t.expire_time(h), Some(100));
        assert!(t.delete(h).is_ok());
        assert_eq!(t.delete(h).err(), Some(libc::EINVAL));
        let h2 = t.add(Priority::Low, 100, noop()).unwrap();
        assert_ne!(h, h2);
        assert!(t.delete(h).is_err());
        // expired then dispatched
        let (_, s, g) = t.pop_due(100).unwrap();
        assert!(t.expire_time(h2).is_none());
        assert!(t.take_queued(s, g).is_some());
        assert!(t.delete(h2).is_err());
        assert!(t.take_queued(s, g).is_none());
    }

    #[test]
    fn many_timers_add_delete_keep_heap_order() {
        let mut t = Timers::default();
        let mut hs = Vec::new();
        for i in 0..100_000u64 {
            let e = (i * 7919) % 100_003;
            hs.push((e, t.add(Priority::High, e, noop()).unwrap()));
        }
        // delete every third
        for (i, (_, h)) in hs.iter().enumerate() {
            if i % 3 == 0 {
                t.delete(*h).unwrap();
            }
        }
        assert_eq!(t.pending(), 100_000 - 33_334);
        let mut last = 0;
        let mut n = 0;
        while let Some((_, s, g)) = t.pop_due(u64::MAX) {
            let e = t.slots[s as usize].expire;
            assert!(e >= last);
            last = e;
            assert!(t.take_queued(s, g).is_some());
            n += 1;
        }
        assert_eq!(n, 100_000 - 33_334);
    }

    #[test]
    fn due_means_at_or_after_expiry() {
        let mut t = Timers::default();
        t.add(Priority::Low, 10, noop()).unwrap();
        assert!(t.pop_due(9).is_none());
        assert!(t.pop_due(10).is_some());
    }
}
