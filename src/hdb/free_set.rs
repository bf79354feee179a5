//! The set of released slot indices, answering "lowest free index" in O(1).
//!
//! libqb hands out the lowest empty slot when a handle is created; this keeps that
//! order without a linear scan. Three levels of 64-bit words: bit `i` of `leaves`
//! says index `i` is free, bit `w` of `middle` says leaf word `w` has a free bit,
//! bit `m` of `top` says middle word `m` has one. 64³ indices is far more than the
//! 65536 slots a handle table may use.

/// Upper bound on indices this set can hold (64 * 64 * 64).
pub const CAPACITY: u32 = 1 << 18;

#[derive(Default)]
pub struct FreeSet {
    leaves: Vec<u64>,
    middle: Vec<u64>,
    top: u64,
}

/// Sets bit `bit` in `words[word]`, growing `words` as needed.
fn set_bit(words: &mut Vec<u64>, word: usize, bit: u32) {
    if words.len() <= word {
        words.resize(word + 1, 0);
    }
    if let Some(w) = words.get_mut(word) {
        *w |= 1 << bit;
    }
}

impl FreeSet {
    /// Marks `index` free. Indices at or above [`CAPACITY`] are ignored (the
    /// handle table never produces them).
    pub fn insert(&mut self, index: u32) {
        if index >= CAPACITY {
            return;
        }
        let leaf = (index / 64) as usize;
        let mid = leaf / 64;
        set_bit(&mut self.leaves, leaf, index % 64);
        set_bit(&mut self.middle, mid, (leaf % 64) as u32);
        self.top |= 1 << (mid % 64);
    }

    /// Removes and returns the lowest free index.
    pub fn pop_lowest(&mut self) -> Option<u32> {
        if self.top == 0 {
            return None;
        }
        let mid = self.top.trailing_zeros() as usize;
        let mid_word = self.middle.get_mut(mid)?;
        let leaf = mid * 64 + mid_word.trailing_zeros() as usize;
        let leaf_word = self.leaves.get_mut(leaf)?;
        if *leaf_word == 0 {
            return None; // unreachable while the levels agree; never shift by 64
        }
        let bit = leaf_word.trailing_zeros();
        *leaf_word &= !(1u64 << bit);
        if *leaf_word == 0 {
            *mid_word &= !(1u64 << (leaf % 64));
            if *mid_word == 0 {
                self.top &= !(1u64 << mid);
            }
        }
        Some((leaf * 64) as u32 + bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_ascending_order() {
        let mut set = FreeSet::default();
        assert_eq!(set.pop_lowest(), None);
        for i in [70_000, 5, 4096, 64, 63, 0, 65_535] {
            set.insert(i);
        }
        set.insert(CAPACITY); // ignored
        let mut out = Vec::new();
        while let Some(i) = set.pop_lowest() {
            out.push(i);
        }
        assert_eq!(out, [0, 5, 63, 64, 4096, 65_535, 70_000]);
    }

    #[test]
    fn reinsert_after_pop() {
        let mut set = FreeSet::default();
        for i in 0..200 {
            set.insert(i);
        }
        for i in 0..200 {
            assert_eq!(set.pop_lowest(), Some(i));
            set.insert(i);
            assert_eq!(set.pop_lowest(), Some(i));
        }
        assert_eq!(set.pop_lowest(), None);
    }
}
