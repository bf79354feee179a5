//! The handle database (`qbhdb.h`): reference-counted objects named by 64-bit
//! handles, `check << 32 | index`.
//!
//! * `get` / `put` are lock-free: a slot's validity and reference count live in
//!   one atomic word (see [`slot`]), and slots never move (see [`storage`]).
//! * `create` and the final release take a short mutex protecting the set of free
//!   slots, which yields the lowest free index in O(1) (libqb's order, without
//!   its linear scan).
//! * A reused index gets a new random check, so stale handles fail with `EBADF`.
//!
//! Instances are caller memory: the table only stores their addresses. When the
//! last reference goes, `put`/`destroy` hand the instance back to the caller (the
//! FFI runs the database's destructor and frees it).

mod check;
mod free_set;
mod slot;
mod storage;

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use free_set::FreeSet;
pub use slot::NOCHECK;
use slot::Released;
pub use storage::MAX_SLOTS;
use storage::SlotStorage;

/// Builds a handle from its parts.
pub fn make_handle(check: u32, index: u32) -> u64 {
    (u64::from(check) << 32) | u64::from(index)
}

/// `qb_hdb_base_convert`: the slot index of a handle.
pub fn handle_index(handle: u64) -> u32 {
    handle as u32
}

fn handle_check(handle: u64) -> u32 {
    (handle >> 32) as u32
}

/// `qb_hdb_nocheck_convert`: a handle for `index` that matches any occupant.
pub fn nocheck_handle(index: u32) -> u64 {
    make_handle(NOCHECK, index)
}

/// One step of `qb_hdb_iterator_next`.
#[derive(Debug, PartialEq, Eq)]
pub enum IterStep {
    /// A live handle (a reference was taken for the caller).
    Found { handle: u64, instance: *mut c_void },
    /// The cursor was already past the last slot.
    Exhausted,
    /// Slots were examined but none could be referenced: libqb returns the last
    /// failure (`-EBADF`) rather than -1 in this case.
    LastFailed(i32),
}

/// The outcome of a release that may have been the last one.
pub type Finalise = Option<*mut c_void>;

#[derive(Default)]
pub struct HandleTable {
    slots: SlotStorage,
    /// Indices ever handed out are below this (libqb's `handle_count`).
    used: AtomicU32,
    /// Released indices below `used`.
    free: Mutex<FreeSet>,
}

impl HandleTable {
    pub fn new() -> Self {
        Self::default()
    }

    fn free_set(&self) -> MutexGuard<'_, FreeSet> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of slot indices ever used (libqb's `handle_count`).
    pub fn slots_used(&self) -> u32 {
        self.used.load(Ordering::Acquire)
    }

    /// Registers `instance` under a new handle with one reference. `EINVAL` once
    /// all [`MAX_SLOTS`] slots are occupied.
    pub fn create(&self, instance: *mut c_void) -> Result<u64, i32> {
        let (index, slot) = {
            let mut free = self.free_set();
            match free.pop_lowest() {
                Some(index) => (index, self.slots.get_or_alloc(index)?),
                None => {
                    let index = self.used.load(Ordering::Relaxed);
                    let slot = self.slots.get_or_alloc(index)?;
                    self.used.store(index + 1, Ordering::Release);
                    (index, slot)
                }
            }
        };
        let check = check::fresh(slot.last_check());
        slot.occupy(check, instance);
        Ok(make_handle(check, index))
    }

    /// Takes a reference on a live handle and returns its instance.
    #[inline]
    pub fn get(&self, handle: u64) -> Result<*mut c_void, i32> {
        let slot = self.slots.get(handle_index(handle)).ok_or(libc::EBADF)?;
        slot.acquire(handle_check(handle))
    }

    fn release(&self, handle: u64, destroy: bool) -> Result<Finalise, i32> {
        let index = handle_index(handle);
        let slot = self.slots.get(index).ok_or(libc::EBADF)?;
        match slot.release(handle_check(handle), destroy)? {
            Released::Still => Ok(None),
            Released::Last(instance) => {
                self.free_set().insert(index);
                Ok(Some(instance))
            }
        }
    }

    /// Drops a reference. `Ok(Some(instance))` when it was the last one: the
    /// handle is gone and the caller must finalise the instance.
    #[inline]
    pub fn put(&self, handle: u64) -> Result<Finalise, i32> {
        self.release(handle, false)
    }

    /// Marks a live handle for removal (no new references) and drops the
    /// creation reference. Destroying an already pending handle is `EBADF`.
    pub fn destroy(&self, handle: u64) -> Result<Finalise, i32> {
        self.release(handle, true)
    }

    /// Current reference count of the handle's occupant.
    pub fn refcount(&self, handle: u64) -> Result<i32, i32> {
        let index = handle_index(handle);
        if index >= self.slots_used() {
            return Err(libc::EBADF);
        }
        let slot = self.slots.get(index).ok_or(libc::EBADF)?;
        slot.refcount(handle_check(handle))
    }

    /// Advances `cursor` to the next live handle and takes a reference on it.
    pub fn iterate(&self, cursor: &mut u32) -> IterStep {
        let mut step = IterStep::Exhausted;
        while *cursor < self.slots_used() {
            let index = *cursor;
            *cursor += 1;
            let Some(slot) = self.slots.get(index) else {
                step = IterStep::LastFailed(libc::EBADF);
                continue;
            };
            let handle = make_handle(slot.current_check(), index);
            match slot.acquire(handle_check(handle)) {
                Ok(instance) => return IterStep::Found { handle, instance },
                Err(e) => step = IterStep::LastFailed(e),
            }
        }
        step
    }

    /// Tears the table down, returning the instances still referenced (the
    /// caller frees them).
    pub fn into_remaining_instances(self) -> Vec<*mut c_void> {
        self.slots.slots().filter_map(|s| s.occupant()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;
    use std::sync::Arc;

    fn fake(n: usize) -> *mut c_void {
        ptr::without_provenance_mut(n)
    }

    #[test]
    fn create_get_put_destroy() {
        let t = HandleTable::new();
        let h = t.create(fake(8)).unwrap();
        assert_eq!(handle_index(h), 0);
        assert!(h >> 32 > 0 && h >> 32 <= i32::MAX as u64);
        assert_eq!(t.get(h), Ok(fake(8)));
        assert_eq!(t.refcount(h), Ok(2));
        assert_eq!(t.destroy(h), Ok(None));
        assert_eq!(t.get(h), Err(libc::EBADF));
        assert_eq!(t.refcount(h), Ok(1));
        assert_eq!(t.put(h), Ok(Some(fake(8))));
        assert_eq!(t.put(h), Err(libc::EBADF));
        assert_eq!(t.refcount(h), Err(libc::EBADF));
        assert_eq!(t.refcount(nocheck_handle(0)), Ok(0));
        assert_eq!(t.refcount(nocheck_handle(1)), Err(libc::EBADF));
    }

    #[test]
    fn reuse_lowest_index_with_new_check() {
        let t = HandleTable::new();
        let hs: Vec<u64> = (0..5)
            .map(|i| t.create(fake(16 * (i + 1))).unwrap())
            .collect();
        assert_eq!(t.destroy(hs[3]), Ok(Some(fake(64))));
        assert_eq!(t.destroy(hs[1]), Ok(Some(fake(32))));
        let a = t.create(fake(1000)).unwrap();
        let b = t.create(fake(2000)).unwrap();
        let c = t.create(fake(3000)).unwrap();
        assert_eq!(handle_index(a), 1);
        assert_eq!(handle_index(b), 3);
        assert_eq!(handle_index(c), 5);
        assert_ne!(a, hs[1]);
        assert_eq!(t.get(hs[1]), Err(libc::EBADF));
        assert_eq!(t.get(nocheck_handle(1)), Ok(fake(1000)));
        assert_eq!(t.slots_used(), 6);
    }

    #[test]
    fn iteration_takes_references_in_index_order() {
        let t = HandleTable::new();
        let hs: Vec<u64> = (0..4)
            .map(|i| t.create(fake(16 * (i + 1))).unwrap())
            .collect();
        t.destroy(hs[1]).unwrap();
        t.destroy(hs[3]).unwrap();
        let mut cursor = 0;
        let mut seen = Vec::new();
        loop {
            match t.iterate(&mut cursor) {
                IterStep::Found { handle, .. } => seen.push(handle),
                IterStep::LastFailed(e) => {
                    assert_eq!(e, libc::EBADF);
                    break;
                }
                IterStep::Exhausted => panic!("last slot is empty: expected EBADF"),
            }
        }
        assert_eq!(seen, [hs[0], hs[2]]);
        assert_eq!(t.iterate(&mut cursor), IterStep::Exhausted);
        assert_eq!(t.refcount(hs[0]), Ok(2));
    }

    #[test]
    fn slot_limit_is_a_clean_error() {
        let t = HandleTable::new();
        for _ in 0..MAX_SLOTS {
            t.create(fake(8)).unwrap();
        }
        assert_eq!(t.create(fake(8)), Err(libc::EINVAL));
        let h = t.create(fake(8));
        assert!(h.is_err());
        assert_eq!(t.into_remaining_instances().len(), MAX_SLOTS as usize);
    }

    #[test]
    fn concurrent_get_put_create_destroy() {
        let t = Arc::new(HandleTable::new());
        let stable: Vec<u64> = (0..64)
            .map(|i| t.create(fake(8 * (i + 1))).unwrap())
            .collect();
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let t = Arc::clone(&t);
                let stable = stable.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000usize {
                        let h = stable[(i * 7 + w) % stable.len()];
                        let expect = fake(8 * ((i * 7 + w) % stable.len() + 1));
                        assert_eq!(t.get(h), Ok(expect));
                        assert_eq!(t.put(h), Ok(None));
                        let mine = t.create(fake(0x10_0000 + w)).unwrap();
                        assert_eq!(t.get(mine), Ok(fake(0x10_0000 + w)));
                        assert_eq!(t.destroy(mine), Ok(None));
                        assert_eq!(t.get(mine), Err(libc::EBADF));
                        assert_eq!(t.put(mine), Ok(Some(fake(0x10_0000 + w))));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        for h in &stable {
            assert_eq!(t.refcount(*h), Ok(1));
        }
        assert!(t.slots_used() <= 64 + 4);
    }
}
