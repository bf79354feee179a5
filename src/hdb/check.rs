//! Check values: the random upper half of a handle that tells a live handle from
//! a stale one whose slot was reused.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// splitmix64 over a shared counter; the seed comes from the OS (via std's
/// randomly keyed hasher) so check values differ between runs. libqb uses
/// random(); we keep the caller's random() sequence untouched.
fn next_u64() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| RandomState::new().hash_one(0x9b1d_u64));
    let mut z = seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A positive 31-bit check value (as libqb's `random() > 0`) different from
/// `previous`, the check of the slot's last occupant.
pub fn fresh(previous: u32) -> u32 {
    loop {
        let check = (next_u64() >> 33) as u32;
        if check != 0 && check != previous {
            return check;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_and_not_previous() {
        let mut prev = 0;
        for _ in 0..10_000 {
            let c = fresh(prev);
            assert!(c > 0 && c <= i32::MAX as u32);
            assert_ne!(c, prev);
            prev = c;
        }
    }
}
