//! Shared-memory ring buffer (qbrb.h), in libqb's on-disk/in-memory format so a
//! stock libqb process can be either end of a ring.
//!
//! A ring is two files: `<name>-header` (the control block, [`shared_header`]) and
//! `<name>-data` (the chunk area, mapped twice back to back, [`mapping`]).
//! Chunks are framed and validated in [`chunk`] using the arithmetic of
//! [`geometry`]; readers are woken through the glibc-format semaphore in the header
//! ([`semaphore`]); [`dump`] writes and reloads libqb's file dump. An overwrite
//! ring that only this process writes and nobody consumes (the blackbox) is
//! written through an [`Appender`], which keeps the positions privately.
//!
//! # Trust model
//! The peer process can rewrite any byte of both files at any time. Everything
//! we base memory accesses on is private: the ring size (from our own request
//! and the file size checked with `fstat` at open), the mapping lengths, the file
//! paths (computed from the name, never read back from the header) and the
//! identity of the files we created (the only ones `close` unlinks). Positions
//! and lengths read from shared memory are validated before every use; a bad one
//! yields `EBADMSG` (or `EINVAL`), never an out-of-bounds access.
//!
//! # Truncation by the peer
//! A peer that shrinks a backing file after we mapped it would make our next
//! touch of the lost pages raise SIGBUS. Sizes are checked with `fstat` when a
//! ring is opened, and every later access to the mappings (positions, chunk
//! headers, payload copies, the semaphore, the reference count) goes through
//! [`guarded`]: single instructions listed in an exception table, with a SIGBUS
//! handler that turns a fault in one of them into an error (`EBADMSG`). The
//! semaphore protocol is implemented here for the same reason (see
//! [`semaphore`]). Pointers handed to C callers (`alloc`, `peek`, user data)
//! are the caller's to access, as in libqb.

mod appender;
mod chunk;
mod dump;
mod geometry;
pub(crate) mod guarded;
mod mapping;
mod semaphore;
mod shared_header;

use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use libc::EINVAL;

pub use appender::Appender;
pub use chunk::{MAGIC_ALLOC, MAGIC_COMMITTED, MAGIC_DEAD};
pub use geometry::{Geometry, MARGIN_BYTES};
pub use shared_header::HEADER_SIZE;

use chunk::{DataRing, NO_PENDING};
pub use mapping::Owner;
use mapping::{BackingFile, FileId, Mapping};
use semaphore::Notifier;
use shared_header::{OFF_DATA_PATH, OFF_HDR_PATH, SharedHeader};

/// Create the files (exclusively) rather than open existing ones.
pub const FLAG_CREATE: u32 = 0x01;
/// When full, drop the oldest chunks instead of failing with EAGAIN.
pub const FLAG_OVERWRITE: u32 = 0x02;
/// Accepted and ignored (as in libqb).
pub const FLAG_SHARED_THREAD: u32 = 0x04;
/// The semaphore is process-shared (other processes read or write the ring).
pub const FLAG_SHARED_PROCESS: u32 = 0x08;
/// No semaphore: readers poll.
pub const FLAG_NO_SEMAPHORE: u32 = 0x10;

/// Word 0 of a fresh data area, as libqb writes it (through the mirror).
const FRESH_SENTINEL: u32 = 5;

/// Where the backing files came from and which of them we may remove.
struct Files {
    hdr_path: CString,
    hdr_id: FileId,
    data_path: CString,
    data_id: FileId,
    /// We created both files: close unlinks them (if they are still ours).
    created: bool,
    /// memfd-backed (rebuilt from a dump): nothing to unlink or chmod.
    anonymous: bool,
    /// `force_close`: unlink even if we did not create the files.
    forced: bool,
}

/// One process's handle on a ring.
pub struct RingBuffer {
    header: SharedHeader,
    data: DataRing,
    geo: Geometry,
    flags: u32,
    notifier: Notifier,
    /// Writer's note of the last allocation: `(write_pt << 32) | free_words`, or
    /// `NO_PENDING`. Lets `commit` check the length without re-deriving space.
    pending: AtomicU64,
    files: Files,
    // Dropped after `Drop::drop` ran, in this order.
    _data_map: Mapping,
    _hdr_map: Mapping,
}

// SAFETY: private state is immutable after open except `pending` (atomic); shared
// memory is only accessed through atomics, raw copies and glibc's thread-safe
// semaphore calls.
unsafe impl Send for RingBuffer {}
// SAFETY: as above.
unsafe impl Sync for RingBuffer {}

struct Parts {
    hdr: BackingFile,
    data: BackingFile,
    hdr_map: Mapping,
    data_map: Mapping,
    geo: Geometry,
    user_data_size: usize,
}

impl RingBuffer {
    /// `qb_rb_open`: creates (`FLAG_CREATE`) or opens the ring `name` able to
    /// hold chunks of `size` bytes, with `user_data_size` bytes of caller data
    /// after the shared header.
    pub fn open(
        name: &[u8],
        size: usize,
        flags: u32,
        user_data_size: usize,
    ) -> Result<RingBuffer, i32> {
        guarded::install();
        let geo = Geometry::for_request(size, mapping::page_size())?;
        let hdr_len = HEADER_SIZE.checked_add(user_data_size).ok_or(EINVAL)?;
        if flags & FLAG_CREATE != 0 {
            Self::create(name, geo, hdr_len, flags, user_data_size, None)
        } else {
            Self::attach(name, geo, hdr_len, flags, user_data_size)
        }
    }

    /// Creates a ring like `open` with `FLAG_CREATE`, its two files owned as
    /// `owner` says from the start: the same result as `open` + `chown` +
    /// `chmod`, without looking the files up again by path.
    pub fn create_owned(
        name: &[u8],
        size: usize,
        flags: u32,
        user_data_size: usize,
        owner: Owner,
    ) -> Result<RingBuffer, i32> {
        guarded::install();
        let geo = Geometry::for_request(size, mapping::page_size())?;
        let hdr_len = HEADER_SIZE.checked_add(user_data_size).ok_or(EINVAL)?;
        Self::create(
            name,
            geo,
            hdr_len,
            flags | FLAG_CREATE,
            user_data_size,
            Some(owner),
        )
    }

    fn create(
        name: &[u8],
        geo: Geometry,
        hdr_len: usize,
        flags: u32,
        user_data_size: usize,
        owner: Option<Owner>,
    ) -> Result<RingBuffer, i32> {
        let hdr = mapping::create_file(name, "header", hdr_len, owner)?;
        let data = match mapping::create_file(name, "data", geo.bytes(), owner) {
            Ok(d) => d,
            Err(e) => {
                mapping::unlink_if_same(&hdr.path, hdr.id);
                return Err(e);
            }
        };
        let unlink_both = |hdr: &BackingFile, data: &BackingFile| {
            mapping::unlink_if_same(&data.path, data.id);
            mapping::unlink_if_same(&hdr.path, hdr.id);
        };
        let maps = Mapping::shared(&hdr, hdr_len)
            .and_then(|h| Ok((h, Mapping::circular(&data, geo.bytes())?)));
        let (hdr_map, data_map) = match maps {
            Ok(m) => m,
            Err(e) => {
                unlink_both(&hdr, &data);
                return Err(e);
            }
        };
        let parts = Parts {
            hdr,
            data,
            hdr_map,
            data_map,
            geo,
            user_data_size,
        };
        // SAFETY: fresh mappings of the sizes recorded in `parts`.
        let (header, ring) = unsafe { views(&parts) };
        let init = || -> Result<Notifier, i32> {
            header.set_word_size(geo.words())?;
            header.set_write_pt(0)?;
            header.set_read_pt(0)?;
            header.set_path(OFF_HDR_PATH, parts.hdr.path.as_bytes())?;
            header.set_path(OFF_DATA_PATH, parts.data.path.as_bytes())?;
            let notifier = if flags & FLAG_NO_SEMAPHORE != 0 {
                Notifier::None
            } else {
                Notifier::init(header.sem(), flags & FLAG_SHARED_PROCESS != 0)?
            };
            // The new file is zero-filled; libqb then stores 5 in word 0 through
            // the mirror.
            ring.set_len_at(geo.words(), FRESH_SENTINEL)?;
            header.set_ref_count(1)?;
            Ok(notifier)
        };
        match init() {
            Ok(notifier) => Ok(Self::assemble(
                parts, header, ring, flags, notifier, true, false,
            )),
            Err(e) => {
                unlink_both(&parts.hdr, &parts.data);
                Err(e)
            }
        }
    }

    fn attach(
        name: &[u8],
        want: Geometry,
        hdr_len: usize,
        flags: u32,
        user_data_size: usize,
    ) -> Result<RingBuffer, i32> {
        let mut hdr = mapping::open_file(name, "header")?;
        mapping::grow_to(&mut hdr, hdr_len)?;
        let data = mapping::open_file(name, "data")?;
        let hdr_map = Mapping::shared(&hdr, hdr_len)?;
        // SAFETY: hdr_map is a live mapping of hdr_len >= HEADER_SIZE bytes.
        let claimed = unsafe { SharedHeader::new(hdr_map.base(), user_data_size) }.word_size()?;
        // The geometry is the data file's real size; the header must agree and
        // the ring must be at least as large as the caller asked for.
        let bytes = usize::try_from(data.size).map_err(|_| EINVAL)?;
        let words = u32::try_from(bytes / 4).map_err(|_| EINVAL)?;
        let geo = Geometry::new(words)?;
        if bytes % mapping::page_size() != 0 || claimed != words || bytes < want.bytes() {
            return Err(EINVAL);
        }
        let data_map = Mapping::circular(&data, bytes)?;
        let parts = Parts {
            hdr,
            data,
            hdr_map,
            data_map,
            geo,
            user_data_size,
        };
        // SAFETY: live mappings of the sizes recorded in `parts`.
        let (header, ring) = unsafe { views(&parts) };
        let notifier = if flags & FLAG_NO_SEMAPHORE != 0 {
            Notifier::None
        } else if flags & FLAG_SHARED_PROCESS != 0 {
            // The creator initialised it; re-initialising would lose posts.
            Notifier::Posix(header.sem())
        } else {
            // libqb re-initialises a thread-only semaphore on every open.
            Notifier::init(header.sem(), false)?
        };
        header.add_ref_count(1)?;
        Ok(Self::assemble(
            parts, header, ring, flags, notifier, false, false,
        ))
    }

    fn assemble(
        parts: Parts,
        header: SharedHeader,
        data: DataRing,
        flags: u32,
        notifier: Notifier,
        created: bool,
        anonymous: bool,
    ) -> RingBuffer {
        // The descriptors close here: the mappings keep the files alive.
        let Parts {
            hdr,
            data: data_file,
            hdr_map,
            data_map,
            geo,
            ..
        } = parts;
        RingBuffer {
            header,
            data,
            geo,
            flags,
            notifier,
            pending: AtomicU64::new(NO_PENDING),
            files: Files {
                hdr_path: hdr.path,
                hdr_id: hdr.id,
                data_path: data_file.path,
                data_id: data_file.id,
                created,
                anonymous,
                forced: false,
            },
            _data_map: data_map,
            _hdr_map: hdr_map,
        }
    }

    fn overwrite(&self) -> bool {
        self.flags & FLAG_OVERWRITE != 0
    }

    /// The flags the ring was opened with.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Our private geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Path of the header file (`qb_rb_name_get`).
    pub fn name(&self) -> &CStr {
        &self.files.hdr_path
    }

    /// Path of the data file.
    pub fn data_path(&self) -> &CStr {
        &self.files.data_path
    }

    /// The shared reference count (peer-writable: informative only).
    pub fn refcount(&self) -> Result<i32, i32> {
        self.header.ref_count()
    }

    /// Start of the shared user-data area (`user_data_len()` bytes mapped).
    /// The peer may change it, or truncate it away, at any time: Rust code
    /// should use the accessors below, which never fault.
    pub fn user_data_ptr(&self) -> *mut u8 {
        self.header.user_data()
    }

    pub fn user_data_len(&self) -> usize {
        self.header.user_data_len()
    }

    /// Loads the aligned 32-bit word at `offset` of the user-data area (e.g.
    /// the IPC flow-control flag at 0). EINVAL if out of range or misaligned.
    pub fn user_data_load_u32(&self, offset: usize) -> Result<u32, i32> {
        self.header.load_user_u32(offset)
    }

    /// Stores the aligned 32-bit word at `offset` of the user-data area.
    pub fn user_data_store_u32(&self, offset: usize, v: u32) -> Result<(), i32> {
        self.header.store_user_u32(offset, v)
    }

    /// Copies user-data bytes `[offset, offset + out.len())` into `out`.
    pub fn read_user_data(&self, offset: usize, out: &mut [u8]) -> Result<(), i32> {
        self.header.read_user_data(offset, out)
    }

    /// Copies `src` into the user-data area at `offset`.
    pub fn write_user_data(&self, offset: usize, src: &[u8]) -> Result<(), i32> {
        self.header.write_user_data(offset, src)
    }

    /// `qb_rb_chown`: both files; EPERM is ignored as libqb does.
    pub fn chown(&self, owner: libc::uid_t, group: libc::gid_t) -> Result<(), i32> {
        for (path, id) in self.file_list() {
            let r = mapping::with_verified_path(path, id, |p| {
                // SAFETY: NUL-terminated path.
                unsafe { libc::chown(p.as_ptr(), owner, group) }
            });
            match r {
                Ok(()) | Err(libc::EPERM) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `qb_rb_chmod`: both files.
    pub fn chmod(&self, mode: libc::mode_t) -> Result<(), i32> {
        for (path, id) in self.file_list() {
            mapping::with_verified_path(path, id, |p| {
                // SAFETY: NUL-terminated path.
                unsafe { libc::chmod(p.as_ptr(), mode) }
            })?;
        }
        Ok(())
    }

    fn file_list(&self) -> Vec<(&CStr, FileId)> {
        if self.files.anonymous {
            return Vec::new();
        }
        vec![
            (self.files.data_path.as_c_str(), self.files.data_id),
            (self.files.hdr_path.as_c_str(), self.files.hdr_id),
        ]
    }

    /// Closes as the last user although another process may still hold the
    /// ring (libqb's force close, for a peer known to be dead): marks the shared
    /// count -1 and removes both files if they are still the ones we opened.
    pub fn force_close(mut self) {
        self.files.forced = true;
    }
}

/// Builds the views over the mappings held by `parts`.
///
/// # Safety
/// `parts.hdr_map` must map at least `HEADER_SIZE + user_data_size` bytes and
/// `parts.data_map` twice `parts.geo.bytes()` bytes, mirrored.
unsafe fn views(parts: &Parts) -> (SharedHeader, DataRing) {
    debug_assert!(parts.hdr_map.len() >= HEADER_SIZE + parts.user_data_size);
    debug_assert!(parts.data_map.len() == 2 * parts.geo.bytes());
    // SAFETY: per this function's contract.
    unsafe {
        (
            SharedHeader::new(parts.hdr_map.base(), parts.user_data_size),
            DataRing::new(parts.data_map.base(), parts.geo),
        )
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // A fault (truncated header) only loses the count update.
        let _ = if self.files.forced {
            self.header.set_ref_count(-1)
        } else {
            self.header.add_ref_count(-1).map(|_| ())
        };
        if self.files.created || self.files.forced {
            self.notifier.destroy();
            for (path, id) in self.file_list() {
                mapping::unlink_if_same(path, id);
            }
        }
    }
}

/// Pointer helper for the FFI: payload address as `*mut c_void`.
pub fn as_void(p: NonNull<u8>) -> *mut libc::c_void {
    p.as_ptr().cast()
}

#[cfg(test)]
mod tests;
