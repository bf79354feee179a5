//! Slot storage with stable addresses: bins that double in size, each allocated
//! once and never moved, so readers find a slot without taking any lock.
//!
//! Bin 0 holds indices 0..32, bin k (k >= 1) holds 32·2^(k-1) .. 32·2^k. Twelve
//! bins cover the 65536 slots libqb's handle array allows.

use std::sync::OnceLock;

use super::slot::Slot;

const FIRST_BIN_BITS: u32 = 5;
const BINS: usize = 12;
/// Number of slot indices the storage can address.
pub const MAX_SLOTS: u32 = 1 << (FIRST_BIN_BITS + BINS as u32 - 1);

/// (bin number, offset within the bin) of a slot index below [`MAX_SLOTS`].
fn locate(index: u32) -> (usize, usize) {
    let q = index >> FIRST_BIN_BITS;
    if q == 0 {
        return (0, index as usize);
    }
    let bin = 32 - q.leading_zeros();
    let start = 1u32 << (FIRST_BIN_BITS + bin - 1);
    (bin as usize, (index - start) as usize)
}

fn bin_len(bin: usize) -> usize {
    if bin == 0 {
        1 << FIRST_BIN_BITS
    } else {
        1 << (FIRST_BIN_BITS as usize + bin - 1)
    }
}

#[derive(Default)]
pub struct SlotStorage {
    bins: [OnceLock<Box<[Slot]>>; BINS],
}

impl SlotStorage {
    /// The slot at `index`, if its bin exists.
    #[inline]
    pub fn get(&self, index: u32) -> Option<&Slot> {
        if index >= MAX_SLOTS {
            return None;
        }
        let (bin, offset) = locate(index);
        self.bins.get(bin)?.get()?.get(offset)
    }

    /// The slot at `index`, allocating its bin if needed (`EINVAL` past
    /// [`MAX_SLOTS`], like libqb's array growth limit).
    pub fn get_or_alloc(&self, index: u32) -> Result<&Slot, i32> {
        if index >= MAX_SLOTS {
            return Err(libc::EINVAL);
        }
        let (bin, offset) = locate(index);
        let cell = self.bins.get(bin).ok_or(libc::EINVAL)?;
        let slots = cell.get_or_init(|| (0..bin_len(bin)).map(|_| Slot::default()).collect());
        slots.get(offset).ok_or(libc::EINVAL)
    }

    /// Every allocated slot, in index order.
    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.bins
            .iter()
            .filter_map(|b| b.get())
            .flat_map(|b| b.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_tile_the_index_space() {
        let mut expected = (0usize, 0usize);
        for index in 0..MAX_SLOTS {
            let (bin, offset) = locate(index);
            if (bin, offset) != expected {
                assert_eq!((bin, offset), (expected.0 + 1, 0), "index {index}");
            }
            assert!(offset < bin_len(bin));
            expected = (bin, offset + 1);
        }
        assert_eq!(expected.0, BINS - 1);
        assert_eq!(expected.1, bin_len(BINS - 1));
    }

    #[test]
    fn addresses_are_stable() {
        let s = SlotStorage::default();
        assert!(s.get(3).is_none());
        let a: *const Slot = s.get_or_alloc(3).unwrap();
        s.get_or_alloc(5000).unwrap();
        assert_eq!(s.get(3).map(|p| p as *const Slot), Some(a));
        assert_eq!(s.get_or_alloc(MAX_SLOTS).err(), Some(libc::EINVAL));
        assert!(s.get(MAX_SLOTS).is_none());
    }
}
