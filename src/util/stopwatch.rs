//! A stopwatch with optional split (lap) times, as libqb's `qb_util_stopwatch_*`.
//!
//! Times are monotonic nanoseconds; results are reported in microseconds. Splits
//! are numbered from 0 in the order they were taken. With `OVERWRITE` the split
//! table is a ring that keeps the newest `max_splits` entries; without it, splits
//! beyond `max_splits` are refused (and report 0).
//!
//! Edge cases follow libqb exactly, including its unsigned arithmetic (see
//! [`Stopwatch::time_split_between`]). A time stamp of 0 means "not set".

use super::time::{NS_PER_USEC, US_PER_SEC, monotonic_ns};

/// Split option: once the table is full, new splits replace the oldest ones.
pub const OVERWRITE: u32 = 0x01;

#[derive(Debug, Default)]
pub struct Stopwatch {
    started: u64,
    stopped: u64,
    options: u32,
    /// Capacity of the split table (`max_splits`).
    size: u32,
    /// Number of splits taken since the last start (may exceed `size` when
    /// overwriting).
    count: u32,
    /// Split time stamps, grown on first use of a slot. A slot that was never
    /// written reads as 0, like libqb's zero-filled table.
    slots: Vec<u64>,
}

impl Stopwatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts (or restarts) timing: clears the stop time and all splits.
    pub fn start(&mut self) {
        self.start_at(monotonic_ns());
    }

    fn start_at(&mut self, now: u64) {
        self.started = now;
        self.stopped = 0;
        self.count = 0;
    }

    /// Records the stop time; may be called repeatedly.
    pub fn stop(&mut self) {
        self.stopped = monotonic_ns();
    }

    /// Microseconds between start and the last stop; 0 unless both happened.
    pub fn elapsed_us(&self) -> u64 {
        if self.started == 0 || self.stopped == 0 {
            return 0;
        }
        self.stopped.wrapping_sub(self.started) / NS_PER_USEC
    }

    /// [`elapsed_us`](Self::elapsed_us) in seconds, in single precision as libqb.
    pub fn elapsed_sec(&self) -> f32 {
        self.elapsed_us() as f32 / US_PER_SEC as f32
    }

    /// Sets up a table for `max_splits` splits with `options` (0 or [`OVERWRITE`]).
    /// The split counter is kept, as in libqb. Fails with ENOMEM if the table
    /// cannot be reserved.
    pub fn split_ctl(&mut self, max_splits: u32, options: u32) -> Result<(), i32> {
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(max_splits as usize)
            .map_err(|_| libc::ENOMEM)?;
        self.size = max_splits;
        self.options = options;
        self.slots = slots;
        Ok(())
    }

    /// Takes a split now; returns microseconds since the previous split (or since
    /// start for the first one), or 0 when no split could be taken.
    pub fn split(&mut self) -> u64 {
        self.split_at(monotonic_ns())
    }

    fn split_at(&mut self, now: u64) -> u64 {
        if self.size == 0 {
            return 0;
        }
        if self.options & OVERWRITE == 0 && self.count == self.size {
            return 0;
        }
        if self.started == 0 {
            self.start_at(now);
        }
        let pos = self.count % self.size;
        self.write_slot(pos, now);
        self.count = self.count.wrapping_add(1);

        let previous = if self.count == 1 {
            self.started
        } else if pos == 0 {
            // Wrapped: the previous split sits in the last slot.
            self.slot(self.size - 1)
        } else {
            self.slot(pos - 1)
        };
        now.wrapping_sub(previous) / NS_PER_USEC
    }

    /// Index of the newest split (0 when there is none).
    pub fn split_last(&self) -> u32 {
        self.count.saturating_sub(1)
    }

    /// Microseconds from split `older` to split `recent`; if both are the same
    /// index, from the start to that split. 0 when an index has not been taken,
    /// `recent < older`, the watch was never started, or (with `OVERWRITE`) an
    /// index is no longer in the table.
    ///
    /// Quirk kept from libqb: with `OVERWRITE`, the "still in the table" test
    /// computes `count - size` in unsigned 32-bit arithmetic, so before the table
    /// has filled up every query reports 0.
    pub fn time_split_between(&self, recent: u32, older: u32) -> u64 {
        if self.started == 0 || recent >= self.count || older >= self.count || recent < older {
            return 0;
        }
        if self.options & OVERWRITE != 0 {
            let oldest_kept = self.count.wrapping_sub(self.size);
            if recent < oldest_kept || older < oldest_kept {
                return 0;
            }
        }
        let (Some(recent_pos), Some(older_pos)) =
            (recent.checked_rem(self.size), older.checked_rem(self.size))
        else {
            // The table was shrunk to nothing after splits were taken.
            return 0;
        };
        let end = self.slot(recent_pos);
        let begin = if recent == older {
            self.started
        } else {
            self.slot(older_pos)
        };
        end.wrapping_sub(begin) / NS_PER_USEC
    }

    fn slot(&self, pos: u32) -> u64 {
        self.slots.get(pos as usize).copied().unwrap_or(0)
    }

    fn write_slot(&mut self, pos: u32, value: u64) {
        let pos = pos as usize;
        if pos >= self.slots.len() {
            // Within the reserved capacity (pos < size), so this never reallocates.
            self.slots.resize(pos + 1, 0);
        }
        if let Some(slot) = self.slots.get_mut(pos) {
            *slot = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn elapsed_needs_start_and_stop() {
        let mut sw = Stopwatch::new();
        assert_eq!(sw.elapsed_us(), 0);
        sw.start_at(1_000 * MS);
        assert_eq!(sw.elapsed_us(), 0);
        sw.stopped = 1_250 * MS;
        assert_eq!(sw.elapsed_us(), 250_000);
        assert_eq!(sw.elapsed_sec(), 0.25);
        sw.start_at(2_000 * MS);
        assert_eq!(sw.elapsed_us(), 0, "start clears the stop time");
    }

    #[test]
    fn real_clock_elapsed() {
        let mut sw = Stopwatch::new();
        sw.start();
        std::thread::sleep(std::time::Duration::from_millis(2));
        sw.stop();
        assert!(sw.elapsed_us() >= 2_000);
        assert!(sw.elapsed_sec() >= 0.002);
    }

    #[test]
    fn no_table_no_splits() {
        let mut sw = Stopwatch::new();
        sw.start_at(MS);
        assert_eq!(sw.split_at(2 * MS), 0);
        assert_eq!(sw.split_last(), 0);
        assert_eq!(sw.time_split_between(0, 0), 0);
    }

    #[test]
    fn bounded_table_refuses_extra_splits() {
        let mut sw = Stopwatch::new();
        sw.split_ctl(3, 0).unwrap();
        sw.start_at(100 * MS);
        assert_eq!(sw.split_at(133 * MS), 33_000);
        assert_eq!(sw.split_last(), 0);
        assert_eq!(sw.split_at(143 * MS), 10_000);
        assert_eq!(sw.split_at(163 * MS), 20_000);
        assert_eq!(sw.split_at(200 * MS), 0, "table full");
        assert_eq!(sw.split_last(), 2);
        assert_eq!(sw.time_split_between(2, 0), 30_000);
        assert_eq!(sw.time_split_between(2, 1), 20_000);
        assert_eq!(sw.time_split_between(1, 1), 43_000);
        assert_eq!(sw.time_split_between(3, 2), 0, "beyond the last split");
        assert_eq!(sw.time_split_between(0, 1), 0, "recent before older");
    }

    #[test]
    fn first_split_starts_an_unstarted_watch() {
        let mut sw = Stopwatch::new();
        sw.split_ctl(2, 0).unwrap();
        assert_eq!(sw.split_at(5 * MS), 0);
        assert_eq!(sw.started, 5 * MS);
        assert_eq!(sw.split_at(7 * MS), 2_000);
    }

    #[test]
    fn overwrite_ring_keeps_newest() {
        let mut sw = Stopwatch::new();
        sw.split_ctl(5, OVERWRITE).unwrap();
        sw.start_at(MS);
        let mut t = MS;
        for (i, gap) in [10u64, 20, 30, 40].iter().enumerate() {
            t += gap * MS;
            assert_eq!(sw.split_at(t), gap * 1_000, "split {i}");
            // Quirk: before the ring is full, lookups report 0.
            assert_eq!(sw.time_split_between(0, 0), 0);
        }
        t += 50 * MS;
        assert_eq!(sw.split_at(t), 50_000);
        assert_eq!(sw.split_last(), 4);
        assert_eq!(sw.time_split_between(4, 0), 140_000);
        t += 60 * MS;
        assert_eq!(sw.split_at(t), 60_000, "wraps to slot 0");
        assert_eq!(sw.split_last(), 5);
        assert_eq!(sw.time_split_between(5, 1), 180_000);
        assert_eq!(sw.time_split_between(5, 0), 0, "overwritten");
        assert_eq!(sw.time_split_between(5, 5), 210_000, "since start");
    }

    #[test]
    fn restart_clears_splits() {
        let mut sw = Stopwatch::new();
        sw.split_ctl(2, 0).unwrap();
        sw.start_at(MS);
        sw.split_at(2 * MS);
        sw.split_at(3 * MS);
        sw.start_at(10 * MS);
        assert_eq!(sw.split_last(), 0);
        assert_eq!(sw.time_split_between(0, 0), 0);
        assert_eq!(sw.split_at(14 * MS), 4_000);
    }

    #[test]
    fn shrinking_table_to_zero_is_harmless() {
        let mut sw = Stopwatch::new();
        sw.split_ctl(2, 0).unwrap();
        sw.start_at(MS);
        sw.split_at(2 * MS);
        sw.split_ctl(0, 0).unwrap();
        assert_eq!(sw.split_at(3 * MS), 0);
        assert_eq!(sw.time_split_between(0, 0), 0);
    }

    #[test]
    fn huge_table_is_reserved_lazily_or_refused() {
        let mut sw = Stopwatch::new();
        // Either the allocator refuses (ENOMEM) or the table is reserved without
        // touching its pages; both must be handled without aborting.
        match sw.split_ctl(u32::MAX, OVERWRITE) {
            Ok(()) => assert_eq!(sw.size, u32::MAX),
            Err(e) => assert_eq!(e, libc::ENOMEM),
        }
    }
}
