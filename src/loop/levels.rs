//! The three priority levels and their run queues.
//!
//! Each level has two queues, as in libqb:
//! - `waiting`: jobs added since the current pass started; they join the run
//!   queue at the start of the next pass, so a job added from a job never runs
//!   in the same pass;
//! - `queue`: work ready to dispatch, in arrival order: jobs, expired timers,
//!   ready descriptors and delivered signals.
//!
//! Timer and descriptor entries name their owner by slot and generation; when
//! the owner is deleted the entry goes stale and is skipped when popped, so a
//! delete never has to search the queue. `live` counts the entries that will
//! really be dispatched (the "todo" that decides whether the next pass may
//! sleep).

use std::collections::VecDeque;

use super::callbacks::OnceFn;

/// libqb's `enum qb_loop_priority`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low = 0,
    Med = 1,
    High = 2,
}

impl Priority {
    /// From the C value; None when out of range.
    pub fn from_raw(raw: u32) -> Option<Priority> {
        match raw {
            0 => Some(Priority::Low),
            1 => Some(Priority::Med),
            2 => Some(Priority::High),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One unit of work in a run queue.
pub enum Item {
    Job(OnceFn),
    Timer { slot: u32, generation: u32 },
    Poll { slot: u32, generation: u32 },
    Signal { handler: u64, signal: i32 },
}

#[derive(Default)]
pub struct Level {
    pub waiting: VecDeque<OnceFn>,
    pub queue: VecDeque<Item>,
    /// Entries of `queue` that are not stale.
    pub live: usize,
}

impl Level {
    /// Moves the waiting jobs to the run queue; returns how many moved.
    pub fn admit_waiting(&mut self) -> usize {
        let n = self.waiting.len();
        if n > 0 {
            self.queue.extend(self.waiting.drain(..).map(Item::Job));
            self.live += n;
        }
        n
    }

    pub fn push(&mut self, item: Item) {
        self.queue.push_back(item);
        self.live += 1;
    }

    /// Forgets one live entry that went stale (its owner was deleted).
    pub fn forget_one(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// Removes the first C job matching `(func, data)`: waiting jobs first,
    /// then the run queue, as libqb searches. True if one was removed.
    pub fn remove_c_job(
        &mut self,
        func: super::callbacks::CVoidFn,
        data: *mut std::ffi::c_void,
    ) -> bool {
        if let Some(i) = self.waiting.iter().position(|j| j.is_c(func, data)) {
            self.waiting.remove(i);
            return true;
        }
        let found = self
            .queue
            .iter()
            .position(|it| matches!(it, Item::Job(j) if j.is_c(func, data)));
        if let Some(i) = found {
            self.queue.remove(i);
            self.forget_one();
            return true;
        }
        false
    }

    /// Drops every queued clone of a signal handler; returns how many.
    pub fn remove_signal_items(&mut self, handler: u64) -> usize {
        let before = self.queue.len();
        self.queue
            .retain(|it| !matches!(it, Item::Signal { handler: h, .. } if *h == handler));
        let removed = before - self.queue.len();
        self.live = self.live.saturating_sub(removed);
        removed
    }
}
