//! qbhdb.h: handle databases.
//!
//! `struct qb_hdb` lives in caller memory, often as a `QB_HDB_DECLARE` static that
//! is never passed to `qb_hdb_create` (corosync's client libraries do exactly
//! that). Its `handles` field therefore points at our [`HandleTable`] (not a real
//! `qb_array`), installed lazily by whichever thread first uses a database whose
//! `first_run` is `QB_TRUE` (a compare-and-swap settles races).

use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use crate::ffi::qbarray::qb_array_t;
use crate::hdb::{self, HandleTable, IterStep};

/// `typedef uint64_t qb_handle_t`.
pub type qb_handle_t = u64;

/// One entry of libqb's handle array: public, but never used by this library.
/// cbindgen does not emit it (no function refers to it), so qbhdb.h spells it
/// by hand; the asserts below keep the two in step.
#[repr(C)]
pub struct qb_hdb_handle {
    pub state: i32,
    pub instance: *mut c_void,
    pub check: i32,
    pub ref_count: i32,
}

/// A handle database, as declared by `QB_HDB_DECLARE` or set up by
/// `qb_hdb_create`.
#[repr(C)]
pub struct qb_hdb {
    pub handle_count: u32,
    pub handles: *mut qb_array_t,
    pub iterator: u32,
    pub destructor: Option<unsafe extern "C" fn(instance: *mut c_void)>,
    pub first_run: u32,
}

const _: () = {
    assert!(size_of::<qb_hdb_handle>() == 24);
    assert!(offset_of!(qb_hdb_handle, state) == 0);
    assert!(offset_of!(qb_hdb_handle, instance) == 8);
    assert!(offset_of!(qb_hdb_handle, check) == 16);
    assert!(offset_of!(qb_hdb_handle, ref_count) == 20);
    assert!(size_of::<qb_hdb>() == 40);
    assert!(offset_of!(qb_hdb, handle_count) == 0);
    assert!(offset_of!(qb_hdb, handles) == 8);
    assert!(offset_of!(qb_hdb, iterator) == 16);
    assert!(offset_of!(qb_hdb, destructor) == 24);
    assert!(offset_of!(qb_hdb, first_run) == 32);
};

const QB_TRUE: u32 = 1;

/// The `handles` field, viewed atomically.
///
/// # Safety
/// `hdb` must be a valid, non-NULL database.
unsafe fn handles_field<'a>(hdb: *mut qb_hdb) -> &'a AtomicPtr<HandleTable> {
    // SAFETY: the field is 8-aligned, lives as long as the database, and libqb's
    // contract is that threads touch it only through these functions.
    unsafe { AtomicPtr::from_ptr(addr_of_mut!((*hdb).handles).cast::<*mut HandleTable>()) }
}

/// # Safety
/// `hdb` must be a valid, non-NULL database.
unsafe fn u32_field<'a>(field: *mut u32) -> &'a AtomicU32 {
    // SAFETY: u32 fields of a live database are 4-aligned and valid.
    unsafe { AtomicU32::from_ptr(field) }
}

/// The database's table, installing one if the database is still in its
/// `QB_HDB_DECLARE` state. `None` for a destroyed or zeroed database.
///
/// # Safety
/// `hdb` must be NULL or a valid database.
unsafe fn table<'a>(hdb: *mut qb_hdb) -> Option<&'a HandleTable> {
    if hdb.is_null() {
        return None;
    }
    // SAFETY: hdb is valid (caller contract).
    let (handles, first_run) = unsafe {
        (
            handles_field(hdb),
            u32_field(addr_of_mut!((*hdb).first_run)),
        )
    };
    let current = handles.load(Ordering::Acquire);
    // SAFETY: a non-NULL `handles` is a table we installed and only
    // qb_hdb_destroy frees.
    if let Some(t) = unsafe { current.as_ref() } {
        return Some(t);
    }
    if first_run.load(Ordering::Acquire) != QB_TRUE {
        // Another thread may have just finished the installation (it sets
        // first_run after publishing the table).
        // SAFETY: as above.
        return unsafe { handles.load(Ordering::Acquire).as_ref() };
    }
    let fresh = Box::into_raw(Box::new(HandleTable::new()));
    match handles.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            first_run.store(0, Ordering::Release);
            // SAFETY: just installed; lives until qb_hdb_destroy.
            Some(unsafe { &*fresh })
        }
        Err(winner) => {
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: the winner's table.
            unsafe { winner.as_ref() }
        }
    }
}

/// Runs the database's destructor on an instance whose last reference is gone
/// and frees it.
///
/// # Safety
/// `hdb` valid; `instance` came from `calloc` in qb_hdb_handle_create.
unsafe fn finalise(hdb: *mut qb_hdb, instance: *mut c_void) {
    // SAFETY: hdb is valid; the destructor is the caller's, given its instance.
    unsafe {
        if let Some(destructor) = (*hdb).destructor {
            destructor(instance);
        }
        libc::free(instance);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_create(hdb: *mut qb_hdb) {
    if hdb.is_null() {
        return;
    }
    // Like libqb: the whole struct (destructor included) is reset. A table from
    // an earlier create is not freed, since it may still be in use.
    // SAFETY: hdb is a valid, writable database.
    unsafe {
        hdb.write(qb_hdb {
            handle_count: 0,
            handles: ptr::null_mut(),
            iterator: 0,
            destructor: None,
            first_run: QB_TRUE,
        });
        table(hdb);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_destroy(hdb: *mut qb_hdb) {
    if hdb.is_null() {
        return;
    }
    // SAFETY: hdb is valid; no other thread may use it during destroy.
    unsafe {
        let old = handles_field(hdb).swap(ptr::null_mut(), Ordering::AcqRel);
        if !old.is_null() {
            // Instances still referenced stay allocated, as with stock libqb: their
            // holders may still use them after the database is gone.
            drop(Box::from_raw(old));
        }
        ptr::write_bytes(hdb, 0, 1);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_create(
    hdb: *mut qb_hdb,
    instance_size: i32,
    handle_id_out: *mut qb_handle_t,
) -> i32 {
    if handle_id_out.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: hdb is NULL or valid.
    let Some(t) = (unsafe { table(hdb) }) else {
        return -libc::EINVAL;
    };
    let Ok(size) = usize::try_from(instance_size) else {
        return -libc::ENOMEM;
    };
    // SAFETY: plain allocation; a zero size still yields a unique pointer on glibc.
    let instance = unsafe { libc::calloc(1, size) };
    if instance.is_null() {
        return -libc::ENOMEM;
    }
    match t.create(instance) {
        Ok(handle) => {
            // SAFETY: hdb is valid (table() succeeded); handle_id_out non-NULL.
            unsafe {
                u32_field(addr_of_mut!((*hdb).handle_count))
                    .fetch_max(t.slots_used(), Ordering::AcqRel);
                *handle_id_out = handle;
            }
            0
        }
        Err(e) => {
            // SAFETY: never published.
            unsafe { libc::free(instance) };
            -e
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_get(
    hdb: *mut qb_hdb,
    handle_in: qb_handle_t,
    instance: *mut *mut c_void,
) -> i32 {
    if instance.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: instance is a writable void*.
    unsafe { *instance = ptr::null_mut() };
    // SAFETY: hdb is NULL or valid.
    let Some(t) = (unsafe { table(hdb) }) else {
        return -libc::EBADF;
    };
    match t.get(handle_in) {
        Ok(found) => {
            // SAFETY: as above.
            unsafe { *instance = found };
            0
        }
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_get_always(
    hdb: *mut qb_hdb,
    handle_in: qb_handle_t,
    instance: *mut *mut c_void,
) -> i32 {
    // libqb 2.x: same as qb_hdb_handle_get.
    // SAFETY: same contract.
    unsafe { qb_hdb_handle_get(hdb, handle_in, instance) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_put(hdb: *mut qb_hdb, handle_in: qb_handle_t) -> i32 {
    // SAFETY: hdb is NULL or valid.
    let Some(t) = (unsafe { table(hdb) }) else {
        return -libc::EBADF;
    };
    match t.put(handle_in) {
        Ok(Some(instance)) => {
            // SAFETY: last reference: the instance is ours to finalise.
            unsafe { finalise(hdb, instance) };
            0
        }
        Ok(None) => 0,
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_destroy(hdb: *mut qb_hdb, handle_in: qb_handle_t) -> i32 {
    // SAFETY: hdb is NULL or valid.
    let Some(t) = (unsafe { table(hdb) }) else {
        return -libc::EBADF;
    };
    match t.destroy(handle_in) {
        Ok(Some(instance)) => {
            // SAFETY: last reference: the instance is ours to finalise.
            unsafe { finalise(hdb, instance) };
            0
        }
        Ok(None) => 0,
        Err(e) => -e,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_handle_refcount_get(
    hdb: *mut qb_hdb,
    handle_in: qb_handle_t,
) -> i32 {
    // SAFETY: hdb is NULL or valid.
    match unsafe { table(hdb) } {
        Some(t) => t.refcount(handle_in).unwrap_or_else(|e| -e),
        None => -libc::EBADF,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_iterator_reset(hdb: *mut qb_hdb) {
    if !hdb.is_null() {
        // SAFETY: hdb is valid.
        unsafe { u32_field(addr_of_mut!((*hdb).iterator)).store(0, Ordering::Relaxed) };
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_iterator_next(
    hdb: *mut qb_hdb,
    instance: *mut *mut c_void,
    handle: *mut qb_handle_t,
) -> i32 {
    if instance.is_null() || handle.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: hdb is NULL or valid.
    let Some(t) = (unsafe { table(hdb) }) else {
        return -1;
    };
    // SAFETY: table() succeeded, so hdb is valid.
    let cursor_field = unsafe { u32_field(addr_of_mut!((*hdb).iterator)) };
    let mut cursor = cursor_field.load(Ordering::Relaxed);
    let step = t.iterate(&mut cursor);
    cursor_field.store(cursor, Ordering::Relaxed);
    match step {
        IterStep::Found {
            handle: h,
            instance: found,
        } => {
            // SAFETY: both out-pointers are non-NULL and writable.
            unsafe {
                *instance = found;
                *handle = h;
            }
            0
        }
        IterStep::Exhausted => -1,
        IterStep::LastFailed(e) => {
            // SAFETY: as above.
            unsafe { *instance = ptr::null_mut() };
            -e
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_base_convert(handle: qb_handle_t) -> u32 {
    hdb::handle_index(handle)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hdb_nocheck_convert(handle: u32) -> u64 {
    hdb::nocheck_handle(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static DESTRUCTED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count(_: *mut c_void) {
        DESTRUCTED.fetch_add(1, Ordering::SeqCst);
    }

    /// What `QB_HDB_DECLARE(name, count)` produces.
    fn declared() -> qb_hdb {
        qb_hdb {
            handle_count: 0,
            handles: ptr::null_mut(),
            iterator: 0,
            destructor: Some(count),
            first_run: QB_TRUE,
        }
    }

    #[test]
    fn declared_db_initialises_once_under_a_race() {
        struct Db(*mut qb_hdb);
        // SAFETY: the database is built for concurrent use.
        unsafe impl Sync for Db {}
        let mut db = declared();
        let shared = Db(&mut db);
        let handles: Vec<u64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let shared = &shared;
                    s.spawn(move || {
                        let mut h = 0;
                        // SAFETY: valid database and out-pointer.
                        assert_eq!(unsafe { qb_hdb_handle_create(shared.0, 8, &mut h) }, 0);
                        h
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(db.first_run, 0);
        assert_eq!(db.handle_count, 4);
        let mut indices: Vec<u32> = handles.iter().map(|&h| hdb::handle_index(h)).collect();
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2, 3]);
        let before = DESTRUCTED.load(Ordering::SeqCst);
        for h in handles {
            // SAFETY: valid database.
            unsafe {
                assert_eq!(qb_hdb_handle_refcount_get(&mut db, h), 1);
                assert_eq!(qb_hdb_handle_destroy(&mut db, h), 0);
                assert_eq!(qb_hdb_handle_destroy(&mut db, h), -libc::EBADF);
            }
        }
        assert_eq!(DESTRUCTED.load(Ordering::SeqCst) - before, 4);
        // SAFETY: valid database, no other users.
        unsafe { qb_hdb_destroy(&mut db) };
        assert!(db.handles.is_null());
    }

    #[test]
    fn zeroed_db_is_not_usable_without_create() {
        let mut db = declared();
        db.first_run = 0;
        let mut h = 0;
        let mut p = ptr::null_mut();
        // SAFETY: valid database and out-pointers.
        unsafe {
            assert_eq!(qb_hdb_handle_create(&mut db, 8, &mut h), -libc::EINVAL);
            assert_eq!(qb_hdb_handle_get(&mut db, 0, &mut p), -libc::EBADF);
            assert_eq!(qb_hdb_iterator_next(&mut db, &mut p, &mut h), -1);
            qb_hdb_create(&mut db);
            assert!(db.destructor.is_none());
            assert_eq!(qb_hdb_handle_create(&mut db, 8, &mut h), 0);
            assert_eq!(qb_hdb_handle_get(&mut db, h, &mut p), 0);
            assert!(!p.is_null());
            assert_eq!(qb_hdb_handle_put(&mut db, h), 0);
            qb_hdb_destroy(&mut db);
        }
    }
}
