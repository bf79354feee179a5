//! The sole writer of an overwrite ring that no other process consumes: the
//! blackbox. Such a ring is written on every log statement and is always full,
//! so each record also drops the oldest ones, exactly as libqb's overwrite
//! allocation does.
//!
//! The general writer ([`RingBuffer::alloc`] and friends) must re-load and
//! re-check both positions from shared memory on every call, since a peer may
//! move them. Here the positions are kept privately, checked once, and stored
//! to the shared header after each change (dumps and libqb's tools read it).
//! Each record only compares the shared pair with the private one: they
//! differ only when another process sharing the mapping wrote (a child after
//! `fork()` logs into the same ring, as with libqb), and then the shared pair
//! is checked and adopted. The chunk headers met while dropping old records
//! come from shared memory too, and each is validated before use: a damaged
//! one empties the ring instead of steering an access.
//!
//! Chunk headers and positions are stored in the order readers rely on (length,
//! write position, then the committed magic), so a dump taken concurrently from
//! a crash handler stops cleanly at a record being written.

use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use libc::{EINVAL, ENOBUFS};

use super::chunk::{MAGIC_COMMITTED, MAGIC_DEAD};
use super::geometry::{Geometry, Queued};
use super::{FLAG_NO_SEMAPHORE, FLAG_OVERWRITE, RingBuffer};

/// An overwrite ring with private positions. One writer at a time in this
/// process: the owner serializes `reserve` / `publish` pairs (the blackbox's
/// writer lock). Others only dump it ([`Appender::write_to_file_after`]).
pub struct Appender {
    ring: RingBuffer,
    /// Where the next chunk goes (a checked position).
    write_pt: AtomicU32,
    /// The oldest chunk kept (a checked position).
    read_pt: AtomicU32,
    /// Bytes the pending reservation may publish, or [`NOT_RESERVED`].
    reserved: AtomicU32,
}

/// `reserved` when no reservation is pending.
const NOT_RESERVED: u32 = u32::MAX;

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
            reserved: AtomicU32::new(NOT_RESERVED),
        })
    }

    /// Dumps the ring after `prefix` (see [`RingBuffer::write_to_file_after`]).
    pub fn write_to_file_after(&self, fd: RawFd, prefix: &[u8]) -> Result<usize, i32> {
        self.ring.write_to_file_after(fd, prefix)
    }

    /// The positions to write at: ours, or the shared ones (checked) when
    /// another process sharing the ring moved them.
    #[inline]
    fn positions(&self) -> Result<(u32, u32), i32> {
        let w = self.write_pt.load(Ordering::Relaxed);
        let r = self.read_pt.load(Ordering::Relaxed);
        let header = &self.ring.header;
        if header.write_pt()? == w && header.read_pt()? == r {
            return Ok((w, r));
        }
        let (w, r) = self.ring.positions()?;
        self.write_pt.store(w, Ordering::Relaxed);
        self.read_pt.store(r, Ordering::Relaxed);
        Ok((w, r))
    }

    /// Reserves room for a chunk of up to `max_len` bytes, dropping the oldest
    /// chunks as libqb does (until `max_len` plus the margin is free), and
    /// returns where its payload goes. EINVAL when it could never fit.
    #[inline]
    pub fn reserve(&self, max_len: usize) -> Result<NonNull<u8>, i32> {
        let geo = self.ring.geo;
        // A ring of 4 GiB or more could hold a length past u32 (NOT_RESERVED).
        let reserved = u32::try_from(max_len)
            .ok()
            .filter(|&n| n != NOT_RESERVED && Geometry::fits(geo.words(), max_len))
            .ok_or(EINVAL)?;
        let (w, r) = self.positions()?;
        if !Geometry::fits(geo.free_words(w, r, Queued::None), max_len) {
            self.drop_oldest(w, r, max_len)?;
        }
        self.ring.mark_allocated(w)?;
        self.reserved.store(reserved, Ordering::Relaxed);
        // SAFETY: payload() is non-null inside the mapping.
        Ok(unsafe { NonNull::new_unchecked(self.ring.data.payload(w)) })
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
    /// nothing published, when nothing is reserved or `len` exceeds the
    /// reservation).
    #[inline]
    pub fn publish(&self, len: usize) -> Result<(), i32> {
        let reserved = self.reserved.load(Ordering::Relaxed);
        if reserved == NOT_RESERVED || len > reserved as usize {
            return Err(ENOBUFS);
        }
        self.reserved.store(NOT_RESERVED, Ordering::Relaxed);
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

    const FLAGS: u32 = FLAG_OVERWRITE | FLAG_NO_SEMAPHORE;

    fn ring(tag: &str, size: usize, flags: u32) -> RingBuffer {
        let name = format!("qbrs-appender-{tag}-{}", std::process::id());
        RingBuffer::open(name.as_bytes(), size, FLAG_CREATE | flags, 0).unwrap()
    }

    fn append(a: &Appender, bytes: &[u8]) {
        // Reserve more than is published, as the blackbox does.
        let dst = a.reserve(bytes.len() + 40).unwrap();
        // SAFETY: reserve found room for bytes.len() + 40 bytes at dst.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
        a.publish(bytes.len()).unwrap();
    }

    /// The general writer's version of `append`.
    fn append_shared(ring: &RingBuffer, bytes: &[u8]) {
        let dst = ring.alloc(bytes.len() + 40).unwrap();
        // SAFETY: alloc reserved bytes.len() + 40 bytes at dst.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
        ring.commit(bytes.len()).unwrap();
    }

    fn record(i: u32) -> Vec<u8> {
        (0..(i % 97) as u8 + 1).collect()
    }

    /// Everything a reader finds in the ring, oldest first (consumes it).
    fn contents(ring: &RingBuffer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = ring.read(&mut buf, 0) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// Fills a 4 KiB (8 KiB with the slack) ring so the next append drops.
    fn full_appender(tag: &str) -> Appender {
        let a = Appender::new(ring(tag, 4096, FLAGS)).unwrap();
        for _ in 0..400 {
            append(&a, &[7u8; 20]);
        }
        a
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
        let general = ring("general", 4096, FLAGS);
        let appender = Appender::new(ring("fast", 4096, FLAGS)).unwrap();
        for i in 0..2000u32 {
            append_shared(&general, &record(i));
            append(&appender, &record(i));
        }
        assert_eq!(general.positions(), appender.ring.positions());
        let kept = contents(&general);
        assert!(kept.len() > 10);
        assert_eq!(kept, contents(&appender.ring));
    }

    #[test]
    fn follows_another_writer_sharing_the_ring() {
        // A forked child writes into the same mapping: interleaving its
        // records with ours must give what one shared writer gives.
        let reference = ring("reference", 4096, FLAGS);
        let appender = Appender::new(ring("interleaved", 4096, FLAGS)).unwrap();
        for i in 0..2000u32 {
            append_shared(&reference, &record(i));
            if i % 7 == 3 {
                append_shared(&appender.ring, &record(i));
            } else {
                append(&appender, &record(i));
            }
        }
        assert_eq!(reference.positions(), appender.ring.positions());
        let kept = contents(&reference);
        assert!(kept.len() > 10);
        assert_eq!(kept, contents(&appender.ring));
    }

    #[test]
    fn refuses_what_can_never_fit_and_unreserved_or_overlong_publishes() {
        let a = Appender::new(ring("limits", 4096, FLAGS)).unwrap();
        assert_eq!(a.publish(0), Err(ENOBUFS));
        append(&a, b"kept");
        assert_eq!(a.reserve(1 << 20).err(), Some(EINVAL));
        assert_eq!(a.reserve(usize::MAX).err(), Some(EINVAL));
        a.reserve(8).unwrap();
        assert_eq!(a.publish(9), Err(ENOBUFS));
        a.publish(0).unwrap();
        assert_eq!(a.publish(0), Err(ENOBUFS));
        assert_eq!(contents(&a.ring), vec![b"kept".to_vec(), Vec::new()]);
    }

    /// Damages the oldest chunk's header word `word` (0 length, 1 magic),
    /// appends once and checks that only the new record is left.
    fn damaged_header_empties_the_ring(tag: &str, word: usize, value: u32) {
        let a = full_appender(tag);
        let words = a.ring.geometry().words() as usize;
        let r = a.read_pt.load(Ordering::Relaxed) as usize;
        let base = a.ring.data.base().cast::<u32>();
        // SAFETY: r + 1 < 2 * words, inside the double mapping.
        unsafe { base.add(r + word).write_volatile(value) };
        append(&a, &[9u8; 20]);
        let (w, r) = a.ring.positions().unwrap();
        assert!((w as usize) < words && (r as usize) < words);
        assert_eq!(contents(&a.ring), vec![vec![9u8; 20]]);
    }

    #[test]
    fn a_chunk_claiming_a_huge_length_empties_the_ring() {
        damaged_header_empties_the_ring("huge", 0, u32::MAX - 3);
    }

    #[test]
    fn a_chunk_not_committed_empties_the_ring() {
        damaged_header_empties_the_ring("dead", 1, MAGIC_DEAD);
    }
}
