//! The sole writer of an overwrite ring that no other process consumes: the
//! blackbox. Such a ring is written on every log statement and is always full,
//! so each record also drops the oldest ones, exactly as libqb's overwrite
//! allocation does.
//!
//! The general writer ([`RingBuffer::alloc`] and friends) must re-load and
//! re-check both positions from shared memory on every call, since a peer may
//! move them. Here nobody else moves them, so the positions live in private
//! memory: they are checked once when the appender is made, and afterwards
//! only stored to the shared header (which dumps and libqb's tools read). The
//! chunk headers met while dropping old records still come from shared memory,
//! and each is validated before use: a damaged one empties the ring instead of
//! steering an access.
//!
//! Chunk headers and positions are stored in the order readers rely on (length,
//! write position, then the committed magic), so a dump taken concurrently from
//! a crash handler stops cleanly at a record being written.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use libc::{EINVAL, ENOBUFS};

use super::chunk::{MAGIC_ALLOC, MAGIC_COMMITTED, MAGIC_DEAD};
use super::geometry::{Geometry, Queued};
use super::{FLAG_NO_SEMAPHORE, FLAG_OVERWRITE, RingBuffer};

/// An overwrite ring with private positions. One writer at a time: the owner
/// serializes `reserve` / `publish` pairs (the blackbox's writer lock).
/// Readers of the ring ([`Appender::ring`]) only dump it.
pub struct Appender {
    ring: RingBuffer,
    /// Where the next chunk goes (a checked position).
    write_pt: AtomicU32,
    /// The oldest chunk kept (a checked position).
    read_pt: AtomicU32,
    /// Bytes the pending reservation may publish.
    reserved: AtomicU32,
}

impl Appender {
    /// Takes over `ring`, which must be an overwrite ring without a semaphore
    /// (EINVAL otherwise: its chunks would be someone's to consume).
    pub fn new(ring: RingBuffer) -> Result<Appender, i32> {
        let wanted = FLAG_OVERWRITE | FLAG_NO_SEMAPHORE;
        if ring.flags() & wanted != wanted {
            return Err(EINVAL);
        }
        let (w, r) = ring.positions()?;
        Ok(Appender {
            ring,
            write_pt: AtomicU32::new(w),
            read_pt: AtomicU32::new(r),
            reserved: AtomicU32::new(0),
        })
    }

    /// The ring, for dumps.
    pub fn ring(&self) -> &RingBuffer {
        &self.ring
    }

    /// Reserves room for a chunk of up to `max_len` bytes, dropping the oldest
    /// chunks as libqb does (until `max_len` plus the margin is free), and
    /// returns where its payload goes. EINVAL when it could never fit.
    #[inline]
    pub fn reserve(&self, max_len: usize) -> Result<NonNull<u8>, i32> {
        let geo = self.ring.geo;
        if !Geometry::fits(geo.words(), max_len) {
            return Err(EINVAL);
        }
        let w = self.write_pt.load(Ordering::Relaxed);
        let r = self.read_pt.load(Ordering::Relaxed);
        if !Geometry::fits(geo.free_words(w, r, Queued::None), max_len) {
            self.drop_oldest(w, r, max_len)?;
        }
        let data = &self.ring.data;
        data.set_len_at(w, 0)?;
        data.set_magic_at(w, MAGIC_ALLOC)?;
        // max_len fits the ring, so it fits a u32.
        self.reserved.store(max_len as u32, Ordering::Relaxed);
        // SAFETY: payload() is non-null inside the mapping.
        Ok(unsafe { NonNull::new_unchecked(data.payload(w)) })
    }

    /// Drops chunks from `r` on until `len` bytes fit after `w`. A chunk that
    /// is not what we wrote (a damaged or tampered ring) drops everything.
    /// The shared read position moves past each chunk before its header is
    /// cleared, so a dump taken meanwhile (from a crash handler) starts at a
    /// live chunk.
    #[inline]
    fn drop_oldest(&self, w: u32, r: u32, len: usize) -> Result<(), i32> {
        let geo = self.ring.geo;
        let data = &self.ring.data;
        let mut r = r;
        while !Geometry::fits(geo.free_words(w, r, Queued::None), len) {
            // Not empty here: an empty ring holds any len that fits at all.
            let next = match data.magic_at(r)? {
                MAGIC_COMMITTED => geo.validate_chunk(r, w, data.len_at(r)?).unwrap_or(w),
                _ => w,
            };
            self.ring.header.set_read_pt(next)?;
            self.read_pt.store(next, Ordering::Relaxed);
            data.set_len_at(r, 0)?;
            data.set_magic_at(r, MAGIC_DEAD)?;
            r = next;
        }
        Ok(())
    }

    /// Publishes the chunk `reserve` made with its final length (ENOBUFS,
    /// nothing published, when `len` exceeds the reservation).
    #[inline]
    pub fn publish(&self, len: usize) -> Result<(), i32> {
        if len > self.reserved.load(Ordering::Relaxed) as usize {
            return Err(ENOBUFS);
        }
        self.reserved.store(0, Ordering::Relaxed);
        let len = len as u32;
        let w = self.write_pt.load(Ordering::Relaxed);
        let next = self.ring.geo.next_after_write(w, len);
        let data = &self.ring.data;
        data.set_len_at(w, len)?;
        self.ring.header.set_write_pt(next)?;
        data.set_magic_at(w, MAGIC_COMMITTED)?;
        self.write_pt.store(next, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rb::FLAG_CREATE;

    fn ring(tag: &str, size: usize, flags: u32) -> RingBuffer {
        let name = format!("qbrs-appender-{tag}-{}", std::process::id());
        RingBuffer::open(name.as_bytes(), size, FLAG_CREATE | flags, 0).unwrap()
    }

    fn append(a: &Appender, bytes: &[u8]) {
        let dst = a.reserve(bytes.len()).unwrap();
        // SAFETY: reserve found room for bytes.len() bytes at dst.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
        a.publish(bytes.len()).unwrap();
    }

    /// Everything a reader finds in the ring, oldest first.
    fn contents(ring: &RingBuffer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = ring.read(&mut buf, 0) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn only_an_overwrite_ring_without_semaphore_is_taken() {
        let plain = ring("plain", 4096, FLAG_NO_SEMAPHORE);
        assert!(matches!(Appender::new(plain), Err(EINVAL)));
        let sem = ring("sem", 4096, FLAG_OVERWRITE);
        assert!(matches!(Appender::new(sem), Err(EINVAL)));
    }

    #[test]
    fn drops_the_same_records_as_the_shared_writer() {
        // The same sequence through the general overwrite writer and through
        // the appender leaves the same records and the same positions.
        let flags = FLAG_OVERWRITE | FLAG_NO_SEMAPHORE;
        let general = ring("general", 4096, flags);
        let appender = Appender::new(ring("fast", 4096, flags)).unwrap();
        for i in 0..2000u32 {
            let rec: Vec<u8> = (0..(i % 97) as u8 + 1).collect();
            let dst = general.alloc(rec.len() + 40).unwrap();
            // SAFETY: alloc reserved rec.len() + 40 bytes at dst.
            unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), dst.as_ptr(), rec.len()) };
            general.commit(rec.len()).unwrap();
            let dst = appender.reserve(rec.len() + 40).unwrap();
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), dst.as_ptr(), rec.len()) };
            appender.publish(rec.len()).unwrap();
        }
        assert_eq!(general.positions(), appender.ring().positions());
        let kept = contents(&general);
        assert!(kept.len() > 10);
        assert_eq!(kept, contents(appender.ring()));
    }

    #[test]
    fn refuses_what_can_never_fit_and_overlong_publishes() {
        let a = Appender::new(ring("limits", 4096, FLAG_OVERWRITE | FLAG_NO_SEMAPHORE)).unwrap();
        append(&a, b"kept");
        assert_eq!(a.reserve(1 << 20).err(), Some(EINVAL));
        a.reserve(8).unwrap();
        assert_eq!(a.publish(9), Err(ENOBUFS));
        a.publish(0).unwrap();
        assert_eq!(contents(a.ring()), vec![b"kept".to_vec(), Vec::new()]);
    }

    #[test]
    fn a_damaged_chunk_header_empties_the_ring() {
        let a = Appender::new(ring("damaged", 4096, FLAG_OVERWRITE | FLAG_NO_SEMAPHORE)).unwrap();
        let words = a.ring().geometry().words() as usize;
        // Enough to fill the ring (8 KiB with the slack), so the next append
        // has to drop the oldest chunk.
        for _ in 0..400 {
            append(&a, &[7u8; 20]);
        }
        // Claim a huge length for the oldest chunk, as a tampering process could.
        let r = a.read_pt.load(Ordering::Relaxed) as usize;
        let base = a.ring().data.base().cast::<u32>();
        // SAFETY: r < words, inside the mapping.
        unsafe { base.add(r).write_volatile(u32::MAX - 3) };
        append(&a, &[9u8; 20]);
        let (w, r) = a.ring().positions().unwrap();
        assert!((w as usize) < words && (r as usize) < words);
        assert_eq!(contents(a.ring()), vec![vec![9u8; 20]]);
    }
}
