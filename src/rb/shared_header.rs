//! The control block both processes map: libqb's `struct qb_ringbuffer_shared_s`.
//!
//! Layout (x86_64 glibc, 8248 bytes, 8-byte aligned), byte offsets:
//!
//! | field       | offset | size |
//! |-------------|--------|------|
//! | write_pt    | 0      | 4    |
//! | read_pt     | 4      | 4    |
//! | word_size   | 8      | 4    |
//! | hdr_path    | 12     | 4096 |
//! | data_path   | 4108   | 4096 |
//! | ref_count   | 8204   | 4    |
//! | posix_sem   | 8208   | 32   |
//! | user_data   | 8240   | ...  |
//!
//! Every byte here can be rewritten, and the file truncated, by the peer at any
//! time. This type only hands out *values* loaded through the fault-tolerant
//! accessors ([`super::guarded`]); callers validate them before use and never
//! keep a pointer derived from them. The semaphore and the user-data area are
//! handed out by address: their addresses and lengths are our own.

use std::ptr::NonNull;

use super::guarded;

/// `PATH_MAX`: size of each path field.
pub const PATH_FIELD: usize = 4096;
pub const OFF_WRITE_PT: usize = 0;
pub const OFF_READ_PT: usize = 4;
pub const OFF_WORD_SIZE: usize = 8;
pub const OFF_HDR_PATH: usize = 12;
pub const OFF_DATA_PATH: usize = OFF_HDR_PATH + PATH_FIELD;
pub const OFF_REF_COUNT: usize = OFF_DATA_PATH + PATH_FIELD;
pub const OFF_SEM: usize = OFF_REF_COUNT + 4;
pub const SEM_SIZE: usize = 32;
pub const OFF_USER_DATA: usize = OFF_SEM + SEM_SIZE;
/// `sizeof(struct qb_ringbuffer_shared_s)`: the fixed part (the C struct declares
/// `user_data[1]` and rounds up to 8).
pub const HEADER_SIZE: usize = 8248;

const _: () = assert!(OFF_DATA_PATH == 4108);
const _: () = assert!(OFF_REF_COUNT == 8204);
const _: () = assert!(OFF_SEM == 8208);
const _: () = assert!(OFF_USER_DATA == 8240);
// A stock peer runs glibc's sem_* on these 32 bytes (see `semaphore`).
const _: () = assert!(std::mem::size_of::<libc::sem_t>() == SEM_SIZE);
const _: () = assert!(OFF_SEM.is_multiple_of(8));

/// A view of a mapped shared header. It does not own the mapping: the owner
/// ([`super::mapping::Mapping`]) outlives every view.
pub struct SharedHeader {
    base: NonNull<u8>,
    user_data_len: usize,
}

impl SharedHeader {
    /// # Safety
    /// `base` must point to a live, writable shared mapping of at least
    /// `HEADER_SIZE + user_data_len` bytes, page aligned, that outlives the view.
    pub unsafe fn new(base: NonNull<u8>, user_data_len: usize) -> Self {
        SharedHeader {
            base,
            user_data_len,
        }
    }

    fn u32_ptr(&self, off: usize) -> *mut u32 {
        debug_assert!(off + 4 <= HEADER_SIZE && off.is_multiple_of(4));
        // SAFETY: `off` is one of the fixed, 4-aligned field offsets inside the
        // mapping (see `new`).
        unsafe { self.base.as_ptr().add(off).cast() }
    }

    fn load(&self, off: usize) -> Result<u32, i32> {
        // SAFETY: in-mapping aligned field; a vanished page becomes Err.
        Ok(unsafe { guarded::load_u32(self.u32_ptr(off)) }?)
    }

    fn store(&self, off: usize, v: u32) -> Result<(), i32> {
        // SAFETY: as for `load`.
        Ok(unsafe { guarded::store_u32(self.u32_ptr(off), v) }?)
    }

    #[inline]
    pub fn write_pt(&self) -> Result<u32, i32> {
        self.load(OFF_WRITE_PT)
    }

    #[inline]
    pub fn set_write_pt(&self, v: u32) -> Result<(), i32> {
        self.store(OFF_WRITE_PT, v)
    }

    #[inline]
    pub fn read_pt(&self) -> Result<u32, i32> {
        self.load(OFF_READ_PT)
    }

    #[inline]
    pub fn set_read_pt(&self, v: u32) -> Result<(), i32> {
        self.store(OFF_READ_PT, v)
    }

    /// The peer's claim of the ring size; only compared with our own geometry.
    pub fn word_size(&self) -> Result<u32, i32> {
        self.load(OFF_WORD_SIZE)
    }

    pub fn set_word_size(&self, v: u32) -> Result<(), i32> {
        self.store(OFF_WORD_SIZE, v)
    }

    pub fn ref_count(&self) -> Result<i32, i32> {
        self.load(OFF_REF_COUNT).map(|v| v as i32)
    }

    pub fn set_ref_count(&self, v: i32) -> Result<(), i32> {
        self.store(OFF_REF_COUNT, v as u32)
    }

    /// Atomically adds `d`; returns the previous count.
    pub fn add_ref_count(&self, d: i32) -> Result<i32, i32> {
        // SAFETY: as for `load`.
        let prev = unsafe { guarded::fetch_add_u32(self.u32_ptr(OFF_REF_COUNT), d as u32) }?;
        Ok(prev as i32)
    }

    /// Address of the in-header POSIX semaphore (fixed; contents peer-controlled).
    pub fn sem(&self) -> *mut u8 {
        // SAFETY: fixed offset inside the mapping.
        unsafe { self.base.as_ptr().add(OFF_SEM).cast() }
    }

    /// Start of the caller-defined area that follows the header.
    pub fn user_data(&self) -> *mut u8 {
        // SAFETY: fixed offset inside the mapping (HEADER_SIZE > OFF_USER_DATA).
        unsafe { self.base.as_ptr().add(OFF_USER_DATA) }
    }

    /// Bytes the caller asked for (the area is mapped for at least this long).
    pub fn user_data_len(&self) -> usize {
        self.user_data_len
    }

    /// Writes a NUL-terminated path into one of the two path fields (creator only;
    /// informative for peers, never read back by us).
    pub fn set_path(&self, field_off: usize, path: &[u8]) -> Result<(), i32> {
        debug_assert!(field_off == OFF_HDR_PATH || field_off == OFF_DATA_PATH);
        let mut field = [0u8; PATH_FIELD];
        let n = path.len().min(PATH_FIELD - 1);
        field[..n].copy_from_slice(&path[..n]);
        // SAFETY: the field lies inside the mapping; the source is private.
        unsafe {
            let dst = self.base.as_ptr().add(field_off);
            guarded::copy(dst, field.as_ptr(), PATH_FIELD)?;
        }
        Ok(())
    }

    /// Copies `out.len()` bytes of the user-data area from `offset`.
    pub fn read_user_data(&self, offset: usize, out: &mut [u8]) -> Result<(), i32> {
        let end = offset.checked_add(out.len()).ok_or(libc::EINVAL)?;
        if end > self.user_data_len {
            return Err(libc::EINVAL);
        }
        // SAFETY: in range of the mapped user-data area; `out` is private.
        unsafe { guarded::copy(out.as_mut_ptr(), self.user_data().add(offset), out.len())? };
        Ok(())
    }

    /// Copies `src` into the user-data area at `offset`.
    pub fn write_user_data(&self, offset: usize, src: &[u8]) -> Result<(), i32> {
        let end = offset.checked_add(src.len()).ok_or(libc::EINVAL)?;
        if end > self.user_data_len {
            return Err(libc::EINVAL);
        }
        // SAFETY: in range of the mapped user-data area; `src` is private.
        unsafe { guarded::copy(self.user_data().add(offset), src.as_ptr(), src.len())? };
        Ok(())
    }

    /// An aligned 32-bit word of the user-data area (e.g. IPC flow control).
    pub fn user_word(&self, offset: usize) -> Result<*mut u32, i32> {
        let end = offset.checked_add(4).ok_or(libc::EINVAL)?;
        if !offset.is_multiple_of(4) || end > self.user_data_len {
            return Err(libc::EINVAL);
        }
        // SAFETY: in range; user data starts 8-aligned so the word is aligned.
        Ok(unsafe { self.user_data().add(offset).cast() })
    }

    pub fn load_user_u32(&self, offset: usize) -> Result<u32, i32> {
        let p = self.user_word(offset)?;
        // SAFETY: in-range aligned word of the mapping.
        Ok(unsafe { guarded::load_u32(p) }?)
    }

    pub fn store_user_u32(&self, offset: usize, v: u32) -> Result<(), i32> {
        let p = self.user_word(offset)?;
        // SAFETY: in-range aligned word of the mapping.
        Ok(unsafe { guarded::store_u32(p, v) }?)
    }
}
