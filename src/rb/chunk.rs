//! Chunk operations: allocate, commit, write, peek, reclaim, read, and the space
//! queries. Wire format (libqb's): chunk header `[length][magic]` at a word
//! position, payload from the next word; magic stored with release, loaded with
//! acquire, so a reader that sees the committed magic also sees the length, the
//! payload and the advanced write position.
//!
//! Trust: positions and lengths come from shared memory. Each is loaded once into
//! a local, checked against our private [`Geometry`] and only then used; a chunk
//! must lie entirely between the read and the write position. Every index we
//! touch is therefore below `2 * words`, inside our double mapping.

use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use libc::{EAGAIN, EBADMSG, EINVAL, ENOBUFS, ENOTSUP, ETIMEDOUT};

use super::RingBuffer;
use super::geometry::{Geometry, Queued};
use super::guarded;

pub const MAGIC_ALLOC: u32 = 0xA110_CED0;
pub const MAGIC_COMMITTED: u32 = 0xA1A1_A1A1;
pub const MAGIC_DEAD: u32 = 0xD0D0_D0D0;

/// Marker for "no allocation pending" in [`RingBuffer::pending`].
pub const NO_PENDING: u64 = u64::MAX;

/// View of the double-mapped data area (owned by the ring's `Mapping`).
pub struct DataRing {
    base: NonNull<u32>,
    geo: Geometry,
}

impl DataRing {
    /// # Safety
    /// `base` must point to a live mapping of `2 * geo.bytes()` bytes whose
    /// second half mirrors the first, outliving the view.
    pub unsafe fn new(base: NonNull<u8>, geo: Geometry) -> Self {
        DataRing {
            base: base.cast(),
            geo,
        }
    }

    fn word(&self, idx: u32) -> *mut u32 {
        // Callers pass a checked position (< words) plus at most one.
        debug_assert!((idx as u64) < 2 * self.geo.words() as u64);
        // SAFETY: idx < 2 * words, inside the double mapping.
        unsafe { self.base.as_ptr().add(idx as usize) }
    }

    #[inline]
    pub fn len_at(&self, p: u32) -> Result<u32, i32> {
        // SAFETY: in-mapping aligned word; a vanished page becomes Err.
        Ok(unsafe { guarded::load_u32(self.word(p)) }?)
    }

    #[inline]
    pub fn set_len_at(&self, p: u32, len: u32) -> Result<(), i32> {
        // SAFETY: as for len_at.
        Ok(unsafe { guarded::store_u32(self.word(p), len) }?)
    }

    /// Acquire load (x86 loads are acquire; the asm is a compiler barrier).
    #[inline]
    pub fn magic_at(&self, p: u32) -> Result<u32, i32> {
        // SAFETY: as for len_at.
        Ok(unsafe { guarded::load_u32(self.word(p + 1)) }?)
    }

    /// Release store (x86 stores are release; the asm is a compiler barrier).
    #[inline]
    pub fn set_magic_at(&self, p: u32, magic: u32) -> Result<(), i32> {
        // SAFETY: as for len_at.
        Ok(unsafe { guarded::store_u32(self.word(p + 1), magic) }?)
    }

    /// First payload byte of the chunk at a checked position.
    #[inline]
    pub fn payload(&self, p: u32) -> *mut u8 {
        debug_assert!(p < self.geo.words());
        // SAFETY: p + 2 < 2 * words (words >= MIN_WORDS), inside the mapping.
        unsafe { self.base.as_ptr().add(p as usize + 2).cast() }
    }

    /// Raw words, for the dump and the rebuild from a dump.
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr().cast()
    }
}

/// One reservation attempt: `Ok((write_pt, free_words))` when it was made,
/// `Err((write_pt, read_pt))` when the ring was too full.
type Attempt = Result<(u32, u32), (u32, u32)>;

/// A committed chunk located and validated at the read position.
pub struct Found {
    pub pos: u32,
    pub len: u32,
    pub next: u32,
}

impl RingBuffer {
    /// Current positions, checked against our geometry.
    #[inline]
    pub(super) fn positions(&self) -> Result<(u32, u32), i32> {
        let w = self.geo.check_pos(self.header.write_pt()?)?;
        let r = self.geo.check_pos(self.header.read_pt()?)?;
        Ok((w, r))
    }

    #[inline]
    fn queued(&self) -> Queued {
        match self.notifier.value() {
            Some(Ok(n)) if n != 0 => Queued::Some,
            _ => Queued::None,
        }
    }

    /// Free bytes, by libqb's formula.
    pub fn space_free(&self) -> Result<usize, i32> {
        let (w, r) = self.positions()?;
        Ok(self.geo.free_words(w, r, self.queued()) as usize * 4)
    }

    /// Used bytes, by libqb's formula.
    pub fn space_used(&self) -> Result<usize, i32> {
        let (w, r) = self.positions()?;
        Ok(self.geo.used_words(w, r) as usize * 4)
    }

    /// Chunks committed and not yet consumed (the semaphore's count);
    /// ENOTSUP without a semaphore.
    pub fn chunks_used(&self) -> Result<usize, i32> {
        match self.notifier.value() {
            None => Err(ENOTSUP),
            Some(Ok(n)) => Ok(n.min(i32::MAX as u32) as usize),
            Some(Err(e)) => Err(e),
        }
    }

    /// One attempt to reserve `len` bytes at the write position: marks the
    /// chunk allocated and returns `Ok((write_pt, free_words))`, or
    /// `Err((write_pt, read_pt))` (both checked) when the ring is too full.
    #[inline(always)]
    fn try_reserve(&self, len: usize) -> Result<Attempt, i32> {
        let (w, r) = self.positions()?;
        let free = self.geo.free_words(w, r, self.queued());
        if !Geometry::fits(free, len) {
            return Ok(Err((w, r)));
        }
        self.mark_allocated(w)?;
        Ok(Ok((w, free)))
    }

    /// `try_reserve`, None when full.
    #[inline(always)]
    fn reserve(&self, len: usize) -> Result<Option<(u32, u32)>, i32> {
        Ok(self.try_reserve(len)?.ok())
    }

    /// Reserves, dropping the oldest chunks of an overwrite ring as needed,
    /// with the full-ring path out of line so the copying writers (`write`,
    /// `alloc`) stay small on their hot path.
    #[inline(always)]
    fn reserve_fast(&self, len: usize) -> Result<(u32, u32), i32> {
        match self.try_reserve(len)? {
            Ok(found) => Ok(found),
            Err((w, r)) => self.reserve_slow(w, r, len),
        }
    }

    /// Marks the chunk at `w` as being written (readers stop there).
    #[inline(always)]
    pub(super) fn mark_allocated(&self, w: u32) -> Result<(), i32> {
        self.data.set_len_at(w, 0)?;
        self.data.set_magic_at(w, MAGIC_ALLOC)
    }

    /// The ring is too full at `(w, r)` (both checked): refuses, or for an
    /// overwrite ring drops the oldest chunks until `len` bytes fit.
    #[inline(never)]
    fn reserve_slow(&self, w: u32, r: u32, len: usize) -> Result<(u32, u32), i32> {
        if !self.overwrite() || !Geometry::fits(self.geo.words(), len) {
            return self.refuse(len);
        }
        // Fast loop: the writer (us) holds `w`, so the chunks from `r` on can be
        // dropped one after the other without re-reading both positions each
        // time. Each chunk is validated exactly as `reclaim` does. If anything
        // looks different (a reader consumed concurrently, corruption), the
        // careful loop below takes over from the shared positions.
        let mut r = r;
        // Each reclaim frees at least two words, so this bounds the loop.
        for _ in 0..self.geo.words() / 2 + 1 {
            if self.data.magic_at(r)? != MAGIC_COMMITTED {
                break;
            }
            let clen = self.data.len_at(r)?;
            let Ok(next) = self.geo.validate_chunk(r, w, clen) else {
                break;
            };
            self.consume(&Found {
                pos: r,
                len: clen,
                next,
            })?;
            r = next;
            let free = self.geo.free_words(w, r, self.queued());
            if Geometry::fits(free, len) {
                self.mark_allocated(w)?;
                return Ok((w, free));
            }
        }
        self.reclaim_careful(len)
    }

    /// Why `len` bytes cannot be reserved in a full ring.
    #[cold]
    #[inline(never)]
    fn refuse(&self, len: usize) -> Result<(u32, u32), i32> {
        if !Geometry::fits(self.geo.words(), len) {
            // Could never fit: refuse without discarding anything.
            return Err(if self.overwrite() { EINVAL } else { EAGAIN });
        }
        Err(EAGAIN)
    }

    /// Drops the oldest chunks one at a time, re-reading the shared positions
    /// each time, until `len` bytes fit.
    #[cold]
    #[inline(never)]
    fn reclaim_careful(&self, len: usize) -> Result<(u32, u32), i32> {
        let mut budget = self.geo.words() / 2 + 1;
        loop {
            budget = budget.checked_sub(1).ok_or(EBADMSG)?;
            self.reclaim()?;
            if let Some(found) = self.reserve(len)? {
                return Ok(found);
            }
        }
    }

    /// Reserves room for a chunk of up to `len` bytes and returns where its
    /// payload goes. Overwrite rings drop their oldest chunks to make room;
    /// others fail with EAGAIN. Nothing is visible to readers until `commit`.
    #[inline]
    pub fn alloc(&self, len: usize) -> Result<NonNull<u8>, i32> {
        let (w, free) = self.reserve_fast(len)?;
        self.pending
            .store(((w as u64) << 32) | free as u64, Ordering::Relaxed);
        // SAFETY: payload() is non-null inside the mapping.
        Ok(unsafe { NonNull::new_unchecked(self.data.payload(w)) })
    }

    /// Publishes the chunk reserved by `alloc` with its final length.
    #[inline]
    pub fn commit(&self, len: usize) -> Result<(), i32> {
        let w = self.geo.check_pos(self.header.write_pt()?)?;
        // Only the writer touches `pending`: a plain load and store (no locked
        // exchange) keeps extra atomics off the hot path.
        let pending = self.pending.load(Ordering::Relaxed);
        if pending != NO_PENDING {
            self.pending.store(NO_PENDING, Ordering::Relaxed);
        }
        let free = if pending != NO_PENDING && (pending >> 32) as u32 == w {
            pending as u32
        } else {
            let r = self.geo.check_pos(self.header.read_pt()?)?;
            self.geo.free_words(w, r, self.queued())
        };
        self.publish(w, free, len)
    }

    /// Stores the length, advances the write position, then releases the
    /// committed magic and notifies.
    #[inline(always)]
    fn publish(&self, w: u32, free: u32, len: usize) -> Result<(), i32> {
        if !Geometry::fits(free, len) {
            return Err(EINVAL);
        }
        // fits() bounds len by the ring size, far below u32::MAX.
        let len = len as u32;
        self.data.set_len_at(w, len)?;
        self.header
            .set_write_pt(self.geo.next_after_write(w, len))?;
        self.data.set_magic_at(w, MAGIC_COMMITTED)?;
        self.notifier.post()
    }

    /// Copies `parts` (concatenated) into one new chunk.
    pub fn write_parts(&self, parts: &[&[u8]]) -> Result<usize, i32> {
        let total = parts
            .iter()
            .try_fold(0usize, |a, p| a.checked_add(p.len()))
            .ok_or(EINVAL)?;
        let (w, free) = self.reserve_fast(total)?;
        let dst = self.data.payload(w);
        let mut off = 0;
        for p in parts {
            // SAFETY: reserve() found room for `total` bytes at dst; sources are
            // private.
            unsafe { guarded::copy(dst.add(off), p.as_ptr(), p.len())? };
            off += p.len();
        }
        self.publish(w, free, total)?;
        Ok(total)
    }

    /// Copies `data` into one new chunk. Always inlined: at 64 bytes the call
    /// and the `Result` passed through memory cost more than the copy.
    #[inline(always)]
    pub fn write(&self, data: &[u8]) -> Result<usize, i32> {
        let (w, free) = self.reserve_fast(data.len())?;
        // SAFETY: reserve() found room for data.len() bytes at w's payload.
        unsafe { guarded::copy(self.data.payload(w), data.as_ptr(), data.len())? };
        self.publish(w, free, data.len())?;
        Ok(data.len())
    }

    /// The committed chunk at the read position, validated.
    #[inline(always)]
    fn locate(&self) -> Result<Found, i32> {
        let r = self.geo.check_pos(self.header.read_pt()?)?;
        if self.data.magic_at(r)? != MAGIC_COMMITTED {
            return Err(EAGAIN);
        }
        let len = self.data.len_at(r)?;
        // Loaded after the acquire of the magic: covers this chunk.
        let w = self.header.write_pt()?;
        let next = self.geo.validate_chunk(r, w, len)?;
        Ok(Found { pos: r, len, next })
    }

    /// Marks the chunk consumed and moves the read position past it.
    #[inline]
    fn consume(&self, f: &Found) -> Result<(), i32> {
        self.data.set_len_at(f.pos, 0)?;
        self.data.set_magic_at(f.pos, MAGIC_DEAD)?;
        self.header.set_read_pt(f.next)
    }

    /// After a failed read or peek the semaphore count is given back, so the
    /// chunk (or the corruption) is seen again by the next call, as libqb does.
    fn repost(&self) {
        let _ = self.notifier.post();
    }

    /// Waits (see [`super::semaphore::Notifier::wait`]) for the oldest chunk and
    /// returns its address and length without consuming it; `None` on timeout.
    #[inline]
    pub fn peek(&self, timeout_ms: i32) -> Result<Option<(NonNull<u8>, usize)>, i32> {
        match self.notifier.wait(timeout_ms) {
            Ok(()) => {}
            Err(ETIMEDOUT) => return Ok(None),
            Err(e) => return Err(e),
        }
        match self.locate() {
            Ok(f) => {
                // SAFETY: payload() is non-null inside the mapping.
                let p = unsafe { NonNull::new_unchecked(self.data.payload(f.pos)) };
                Ok(Some((p, f.len as usize)))
            }
            Err(_) => {
                self.repost();
                Err(EBADMSG)
            }
        }
    }

    /// Drops the oldest chunk (after a `peek`, or to make room).
    #[inline]
    pub fn reclaim(&self) -> Result<(), i32> {
        match self.locate() {
            Ok(f) => self.consume(&f),
            Err(EAGAIN) => Err(EINVAL),
            Err(e) => Err(e),
        }
    }

    /// Waits for the oldest chunk, copies it into `out` and consumes it.
    /// ENOBUFS (chunk kept) if `out` is too small.
    #[inline]
    pub fn read(&self, out: &mut [u8], timeout_ms: i32) -> Result<usize, i32> {
        // SAFETY: `out` is a private buffer of out.len() writable bytes.
        unsafe { self.read_raw(out.as_mut_ptr(), out.len(), timeout_ms) }
    }

    /// Like `read` into raw memory (for the C API).
    ///
    /// # Safety
    /// `out` must be valid for `cap` bytes of writes. Always inlined, like
    /// `write`.
    #[inline(always)]
    pub unsafe fn read_raw(&self, out: *mut u8, cap: usize, timeout_ms: i32) -> Result<usize, i32> {
        self.notifier.wait(timeout_ms)?;
        let f = match self.locate() {
            Ok(f) => f,
            Err(EAGAIN) if !self.notifier.is_some() => return Err(ETIMEDOUT),
            Err(_) => {
                self.repost();
                return Err(EBADMSG);
            }
        };
        let len = f.len as usize;
        if cap < len {
            self.repost();
            return Err(ENOBUFS);
        }
        // SAFETY: payload validated; caller guarantees `out` holds `cap` bytes.
        unsafe { guarded::copy(out, self.data.payload(f.pos), len)? };
        self.consume(&f)?;
        Ok(len)
    }
}
