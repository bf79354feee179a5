//! One handle slot and the lock-free reference counting on it.
//!
//! A slot's whole state is one 64-bit word, so "is this handle still valid?" and
//! "take a reference" happen in a single compare-and-swap:
//!
//! ```text
//!   bit 63      PENDING: destroy was requested, no new references
//!   bits 32-62  check value of the current occupant (31 bits, never 0 when live)
//!   bits 0-31   reference count; 0 means the slot is empty
//! ```
//!
//! An empty slot keeps its last check bits (so the next occupant can pick a
//! different one) but matches handles as if its check were 0, like libqb's
//! zeroed entry.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

const PENDING: u64 = 1 << 63;
const CHECK_SHIFT: u32 = 32;
const CHECK_MASK: u64 = 0x7fff_ffff;
const REFS_MASK: u64 = 0xffff_ffff;
/// References are reported as `int32_t`.
const MAX_REFS: u64 = i32::MAX as u64;

/// Check value of a "nocheck" handle: matches any occupant.
pub const NOCHECK: u32 = u32::MAX;

fn refs(word: u64) -> u64 {
    word & REFS_MASK
}

/// The check the slot answers to: 0 while empty.
fn effective_check(word: u64) -> u32 {
    if refs(word) == 0 {
        0
    } else {
        ((word >> CHECK_SHIFT) & CHECK_MASK) as u32
    }
}

fn matches(word: u64, check: u32) -> bool {
    check == NOCHECK || check == effective_check(word)
}

/// What a successful release did.
pub enum Released {
    /// Other references remain.
    Still,
    /// That was the last reference: the slot is empty again and the occupant's
    /// instance must be finalised by the caller.
    Last(*mut c_void),
}

#[derive(Default)]
pub struct Slot {
    word: AtomicU64,
    /// The occupant's instance (caller memory, opaque to Rust). Written before the
    /// word publishes the occupant, read only while holding a reference.
    instance: AtomicPtr<c_void>,
}

impl Slot {
    /// Check bits of the last occupant (for picking a different one).
    pub fn last_check(&self) -> u32 {
        ((self.word.load(Ordering::Relaxed) >> CHECK_SHIFT) & CHECK_MASK) as u32
    }

    /// Installs a new occupant with one reference. The slot must be empty and
    /// owned exclusively by the caller (just taken from the free set).
    pub fn occupy(&self, check: u32, instance: *mut c_void) {
        self.instance.store(instance, Ordering::Relaxed);
        let word = ((u64::from(check) & CHECK_MASK) << CHECK_SHIFT) | 1;
        self.word.store(word, Ordering::Release);
    }

    /// Takes a reference if the slot holds a live (not pending) occupant matching
    /// `check`; returns its instance.
    pub fn acquire(&self, check: u32) -> Result<*mut c_void, i32> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if refs(word) == 0 || word & PENDING != 0 || !matches(word, check) {
                return Err(libc::EBADF);
            }
            if refs(word) >= MAX_REFS {
                return Err(libc::EOVERFLOW);
            }
            match self.word.compare_exchange_weak(
                word,
                word + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(self.instance.load(Ordering::Acquire)),
                Err(now) => word = now,
            }
        }
    }

    /// Drops a reference held on the occupant matching `check`. With `destroy`,
    /// also marks the occupant pending removal (refused if it already is).
    pub fn release(&self, check: u32, destroy: bool) -> Result<Released, i32> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if refs(word) == 0 || !matches(word, check) || (destroy && word & PENDING != 0) {
                return Err(libc::EBADF);
            }
            let next = if refs(word) == 1 {
                // Empty: keep only the check bits.
                word & !PENDING & !REFS_MASK
            } else if destroy {
                (word - 1) | PENDING
            } else {
                word - 1
            };
            // Release: our writes to the instance happen before its finaliser;
            // Acquire: the last releaser sees everyone else's writes.
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if refs(next) == 0 => {
                    let instance = self.instance.swap(ptr::null_mut(), Ordering::Acquire);
                    return Ok(Released::Last(instance));
                }
                Ok(_) => return Ok(Released::Still),
                Err(now) => word = now,
            }
        }
    }

    /// Reference count of the occupant matching `check` (0 for an empty slot
    /// probed with check 0 or a nocheck handle, as libqb reports).
    pub fn refcount(&self, check: u32) -> Result<i32, i32> {
        let word = self.word.load(Ordering::Acquire);
        if !matches(word, check) {
            return Err(libc::EBADF);
        }
        Ok(refs(word) as i32)
    }

    /// The check a handle to this slot's current occupant carries (0 if empty).
    pub fn current_check(&self) -> u32 {
        effective_check(self.word.load(Ordering::Acquire))
    }

    /// The instance of a live or pending occupant, for tearing the table down.
    pub fn occupant(&self) -> Option<*mut c_void> {
        if refs(self.word.load(Ordering::Acquire)) == 0 {
            None
        } else {
            Some(self.instance.load(Ordering::Acquire))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(n: usize) -> *mut c_void {
        ptr::without_provenance_mut(n)
    }

    #[test]
    fn lifecycle() {
        let s = Slot::default();
        assert_eq!(s.acquire(NOCHECK), Err(libc::EBADF));
        assert_eq!(s.refcount(0), Ok(0));
        s.occupy(77, fake(0x1000));
        assert_eq!(s.refcount(77), Ok(1));
        assert_eq!(s.refcount(78), Err(libc::EBADF));
        assert_eq!(s.acquire(77), Ok(fake(0x1000)));
        assert_eq!(s.acquire(NOCHECK), Ok(fake(0x1000)));
        assert_eq!(s.refcount(NOCHECK), Ok(3));
        assert!(matches!(s.release(77, true), Ok(Released::Still)));
        assert_eq!(s.acquire(77), Err(libc::EBADF), "pending removal");
        assert_eq!(
            s.release(77, true).err(),
            Some(libc::EBADF),
            "destroy twice"
        );
        assert!(matches!(s.release(77, false), Ok(Released::Still)));
        match s.release(77, false) {
            Ok(Released::Last(p)) => assert_eq!(p, fake(0x1000)),
            _ => panic!("expected last release"),
        }
        assert_eq!(s.release(NOCHECK, false).err(), Some(libc::EBADF));
        assert_eq!(s.refcount(77), Err(libc::EBADF));
        assert_eq!(s.last_check(), 77);
        assert_eq!(s.current_check(), 0);
    }
}
