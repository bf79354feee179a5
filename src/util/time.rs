//! Clock readings in nanoseconds and `timespec` arithmetic.
//!
//! libqb measures intervals with `CLOCK_MONOTONIC` (full precision: the stopwatch
//! splits are compared at microsecond level) and reports wall-clock time from
//! `CLOCK_REALTIME_COARSE`, which is cheaper and precise enough for time stamps.

use std::time::{SystemTime, UNIX_EPOCH};

pub const NS_PER_SEC: u64 = 1_000_000_000;
pub const NS_PER_MSEC: i64 = 1_000_000;
pub const NS_PER_USEC: u64 = 1_000;
pub const US_PER_SEC: u64 = 1_000_000;

/// A `timespec` as plain numbers: seconds and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSpec {
    pub sec: i64,
    pub nsec: i64,
}

/// Reads `clock`, or `None` if the kernel refuses it.
#[inline]
fn read_clock(clock: libc::clockid_t) -> Option<TimeSpec> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(TimeSpec {
        sec: ts.tv_sec,
        nsec: ts.tv_nsec,
    })
}

/// Resolution of `clock`, or `None` if unknown.
fn clock_resolution(clock: libc::clockid_t) -> Option<TimeSpec> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_getres(clock, &mut ts) };
    (rc == 0).then_some(TimeSpec {
        sec: ts.tv_sec,
        nsec: ts.tv_nsec,
    })
}

/// Total nanoseconds of a (non-negative) timespec; wraps like C unsigned arithmetic.
fn to_ns(ts: TimeSpec) -> u64 {
    (ts.sec as u64)
        .wrapping_mul(NS_PER_SEC)
        .wrapping_add(ts.nsec as u64)
}

/// Wall-clock time from the standard library, for the (unlikely) case that
/// `clock_gettime` fails.
fn system_time() -> TimeSpec {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    TimeSpec {
        sec: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nsec: i64::from(since.subsec_nanos()),
    }
}

/// Wall-clock time (seconds since the epoch) as a timespec.
#[inline]
pub fn epoch_timespec() -> TimeSpec {
    read_clock(libc::CLOCK_REALTIME_COARSE)
        .or_else(|| read_clock(libc::CLOCK_REALTIME))
        .unwrap_or_else(system_time)
}

/// Wall-clock time in nanoseconds since the epoch.
pub fn epoch_ns() -> u64 {
    to_ns(epoch_timespec())
}

/// Monotonic time in nanoseconds (arbitrary origin, never goes backwards).
pub fn monotonic_ns() -> u64 {
    read_clock(libc::CLOCK_MONOTONIC).map_or_else(epoch_ns, to_ns)
}

/// Ticks per second of the clock behind [`monotonic_ns`] (1e9 / resolution).
pub fn monotonic_hz() -> u64 {
    let res = clock_resolution(libc::CLOCK_MONOTONIC)
        .or_else(|| clock_resolution(libc::CLOCK_REALTIME))
        .map(to_ns);
    match res {
        Some(ns) if ns > 0 => NS_PER_SEC / ns,
        // No usable resolution: fall back to the scheduler tick, as POSIX systems
        // without a monotonic clock would.
        _ => {
            // SAFETY: sysconf has no memory-safety preconditions.
            let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            u64::try_from(tck).unwrap_or(0)
        }
    }
}

/// `ts` moved by `ms` milliseconds (which may be negative); the result is
/// normalised so that `0 <= nsec < 1e9`. Never panics (seconds wrap on overflow).
pub fn timespec_add_ms(ts: TimeSpec, ms: i32) -> TimeSpec {
    let ms = i64::from(ms);
    let nsec = ts.nsec.wrapping_add((ms % 1000) * NS_PER_MSEC);
    let sec = ts.sec.wrapping_add(ms / 1000);
    let ns_per_sec = NS_PER_SEC as i64;
    TimeSpec {
        sec: sec.wrapping_add(nsec.div_euclid(ns_per_sec)),
        nsec: nsec.rem_euclid(ns_per_sec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(sec: i64, nsec: i64) -> TimeSpec {
        TimeSpec { sec, nsec }
    }

    #[test]
    fn add_ms_carries_into_seconds() {
        assert_eq!(timespec_add_ms(ts(1, 0), 250), ts(1, 250_000_000));
        assert_eq!(timespec_add_ms(ts(1, 900_000_000), 200), ts(2, 100_000_000));
        assert_eq!(timespec_add_ms(ts(5, 999_999_999), 1), ts(6, 999_999));
        assert_eq!(timespec_add_ms(ts(0, 0), 12_345), ts(12, 345_000_000));
        assert_eq!(timespec_add_ms(ts(3, 7), 0), ts(3, 7));
    }

    #[test]
    fn add_negative_ms_borrows_from_seconds() {
        assert_eq!(timespec_add_ms(ts(10, 0), -500), ts(9, 500_000_000));
        assert_eq!(
            timespec_add_ms(ts(10, 600_000_000), -1_500),
            ts(9, 100_000_000)
        );
    }

    #[test]
    fn add_ms_extremes_do_not_panic() {
        let r = timespec_add_ms(ts(i64::MAX, 999_999_999), i32::MAX);
        assert!((0..1_000_000_000).contains(&r.nsec));
        let r = timespec_add_ms(ts(i64::MIN, 0), i32::MIN);
        assert!((0..1_000_000_000).contains(&r.nsec));
    }

    #[test]
    fn monotonic_clock_never_goes_back() {
        let mut prev = monotonic_ns();
        for _ in 0..1000 {
            let now = monotonic_ns();
            assert!(now >= prev);
            prev = now;
        }
    }

    #[test]
    fn epoch_clock_is_close_to_system_time() {
        let ours = epoch_ns() / NS_PER_SEC;
        let std = system_time().sec as u64;
        assert!(ours.abs_diff(std) <= 1, "{ours} vs {std}");
        let t = epoch_timespec();
        assert!((0..1_000_000_000).contains(&t.nsec));
    }

    #[test]
    fn monotonic_hz_is_positive() {
        assert!(monotonic_hz() > 0);
    }
}
