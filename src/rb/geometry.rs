//! Ring geometry and the arithmetic on word positions, with every check a
//! hostile peer makes necessary. Pure functions: no shared memory is touched here.
//!
//! Positions are word (u32) indices into the data area. A chunk at position `p`
//! is `[length in bytes][magic][payload padded to whole words]`; the next chunk
//! starts right after the padded payload, wrapping at `words`. The data area is
//! mapped twice back to back, so any index below `2 * words` is addressable and
//! a chunk that crosses the end stays contiguous.

use libc::{EBADMSG, EINVAL};

/// Words of chunk header: length and magic.
pub const HEADER_WORDS: u32 = 2;
/// libqb's `QB_RB_CHUNK_MARGIN`: an allocation of `len` bytes needs
/// `len + MARGIN_BYTES` free bytes (two header words plus one word of padding).
pub const MARGIN_BYTES: u64 = 4 * (HEADER_WORDS as u64 + 1);
/// What `qb_rb_open` adds to the requested size: the margin plus the one word
/// that keeps the write position from catching up with the read position.
pub const SIZE_SLACK: usize = MARGIN_BYTES as usize + 1;

/// The private, validated size of a ring. Never taken from shared memory alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    words: u32,
}

/// Which space the queue-length probe reports when the positions are equal.
pub enum Queued {
    /// The semaphore says chunks are pending: equal positions mean "full".
    Some,
    /// Empty (or no semaphore to ask).
    None,
}

impl Geometry {
    /// Smallest ring we accept: room for one header plus the margin.
    pub const MIN_WORDS: u32 = 8;

    pub fn new(words: u32) -> Result<Self, i32> {
        if words < Self::MIN_WORDS {
            return Err(EINVAL);
        }
        Ok(Geometry { words })
    }

    /// Data area size for a requested maximum chunk size, as libqb computes it:
    /// `ROUNDUP(size + 13, page)`; EINVAL when it overflows or exceeds the
    /// 32-bit word index.
    pub fn for_request(size: usize, page: usize) -> Result<Self, i32> {
        let want = size.checked_add(SIZE_SLACK).ok_or(EINVAL)?;
        let bytes = want.checked_next_multiple_of(page).ok_or(EINVAL)?;
        let words = u32::try_from(bytes / 4).map_err(|_| EINVAL)?;
        // The double mapping must fit the address space too.
        bytes.checked_mul(2).ok_or(EINVAL)?;
        Self::new(words)
    }

    #[inline]
    pub fn words(self) -> u32 {
        self.words
    }

    #[inline]
    pub fn bytes(self) -> usize {
        self.words as usize * 4
    }

    /// A position loaded from shared memory, accepted only inside the ring.
    #[inline]
    pub fn check_pos(self, p: u32) -> Result<u32, i32> {
        if p < self.words { Ok(p) } else { Err(EBADMSG) }
    }

    /// Words a payload of `len` bytes occupies.
    #[inline]
    pub fn payload_words(len: u32) -> u32 {
        len.div_ceil(4)
    }

    /// libqb's free-space formula, in words (`w`, `r` already checked).
    #[inline]
    pub fn free_words(self, w: u32, r: u32, queued: Queued) -> u32 {
        if w > r {
            r + self.words - w - 1
        } else if w < r {
            r - w - 1
        } else {
            match queued {
                Queued::Some => 0,
                Queued::None => self.words,
            }
        }
    }

    /// libqb's used-space formula, in words (including its `- 1` when the write
    /// position has wrapped).
    #[inline]
    pub fn used_words(self, w: u32, r: u32) -> u32 {
        if w > r {
            w - r
        } else if w < r {
            w + self.words - r - 1
        } else {
            0
        }
    }

    /// Whether `len` more bytes fit in `free` words with the margin.
    #[inline]
    pub fn fits(free_words: u32, len: usize) -> bool {
        (len as u64).saturating_add(MARGIN_BYTES) <= free_words as u64 * 4
    }

    /// Position after a chunk of `len` bytes at `p`, for a chunk already known to
    /// fit (`p < words`, chunk shorter than the ring).
    #[inline]
    fn step(self, p: u32, len: u32) -> u32 {
        let next = p as u64 + HEADER_WORDS as u64 + Self::payload_words(len) as u64;
        let wrapped = if next >= self.words as u64 {
            next - self.words as u64
        } else {
            next
        };
        wrapped as u32
    }

    /// Where the next chunk goes after writing `len` bytes at `w`; the caller has
    /// checked `fits` for this `len` against the free space at `w`.
    #[inline]
    pub fn next_after_write(self, w: u32, len: u32) -> u32 {
        self.step(w, len)
    }

    /// Validates a committed chunk found at the read position `r` whose header
    /// claims `len` bytes, given the write position `w` loaded *after* the magic:
    /// the whole chunk must lie between `r` and `w`. Returns the next position.
    #[inline(always)]
    pub fn validate_chunk(self, r: u32, w: u32, len: u32) -> Result<u32, i32> {
        let r = self.check_pos(r)?;
        let w = self.check_pos(w)?;
        let filled = if w >= r { w - r } else { w + self.words - r };
        let chunk = HEADER_WORDS as u64 + Self::payload_words(len) as u64;
        if chunk > filled as u64 {
            return Err(EBADMSG);
        }
        Ok(self.step(r, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo() -> Geometry {
        Geometry::new(1024).unwrap()
    }

    #[test]
    fn sizing_matches_libqb() {
        // 8192 requested -> 8205 -> one more page.
        assert_eq!(Geometry::for_request(8192, 4096).unwrap().bytes(), 12288);
        assert_eq!(Geometry::for_request(200, 4096).unwrap().words(), 1024);
        assert_eq!(
            Geometry::for_request(4096 - 13, 4096).unwrap().bytes(),
            4096
        );
        assert_eq!(
            Geometry::for_request(4096 - 12, 4096).unwrap().bytes(),
            8192
        );
        assert_eq!(Geometry::for_request(usize::MAX - 5, 4096), Err(EINVAL));
        assert_eq!(Geometry::for_request(1 << 40, 4096), Err(EINVAL));
    }

    #[test]
    fn tiny_or_zero_geometry_is_refused() {
        assert_eq!(Geometry::new(0), Err(EINVAL));
        assert_eq!(Geometry::new(1), Err(EINVAL));
        assert!(Geometry::new(Geometry::MIN_WORDS).is_ok());
    }

    #[test]
    fn positions_outside_the_ring_are_bad_messages() {
        let g = geo();
        assert_eq!(g.check_pos(1023), Ok(1023));
        assert_eq!(g.check_pos(1024), Err(EBADMSG));
        assert_eq!(g.check_pos(u32::MAX), Err(EBADMSG));
    }

    #[test]
    fn free_and_used_follow_libqb() {
        let g = geo();
        assert_eq!(g.free_words(0, 0, Queued::None), 1024);
        assert_eq!(g.free_words(0, 0, Queued::Some), 0);
        assert_eq!(g.free_words(10, 4, Queued::None), 1017);
        assert_eq!(g.free_words(4, 10, Queued::None), 5);
        assert_eq!(g.used_words(10, 4), 6);
        assert_eq!(g.used_words(4, 10), 1017);
        assert_eq!(g.used_words(7, 7), 0);
        assert!(Geometry::fits(5, 8));
        assert!(!Geometry::fits(5, 9));
        assert!(!Geometry::fits(u32::MAX, usize::MAX));
    }

    #[test]
    fn chunks_step_and_wrap() {
        let g = geo();
        assert_eq!(g.next_after_write(0, 8), 4);
        assert_eq!(g.next_after_write(0, 9), 5);
        assert_eq!(g.next_after_write(0, 0), 2);
        assert_eq!(g.next_after_write(1020, 11), 1);
        assert_eq!(g.validate_chunk(1020, 1, 11), Ok(1));
        assert_eq!(g.validate_chunk(0, 4, 8), Ok(4));
    }

    #[test]
    fn corrupt_lengths_are_rejected() {
        let g = geo();
        // Longer than what was written.
        assert_eq!(g.validate_chunk(0, 4, 9), Err(EBADMSG));
        // Nothing written at all (positions equal).
        assert_eq!(g.validate_chunk(5, 5, 0), Err(EBADMSG));
        // Absurd lengths never overflow.
        assert_eq!(g.validate_chunk(0, 1023, u32::MAX), Err(EBADMSG));
        assert_eq!(g.validate_chunk(1023, 1022, u32::MAX - 3), Err(EBADMSG));
        // Positions beyond the ring.
        assert_eq!(g.validate_chunk(1024, 0, 0), Err(EBADMSG));
        assert_eq!(g.validate_chunk(0, 5000, 0), Err(EBADMSG));
        // A full wrap minus one word is the most a chunk can span.
        assert_eq!(g.validate_chunk(3, 2, 4 * 1021), Ok(2));
        assert_eq!(g.validate_chunk(3, 2, 4 * 1021 + 1), Err(EBADMSG));
    }
}
