//! The SOCKET transport's 24-byte control file as both ends see it: three
//! channels (request, response, event), each a `sent` counter (field 0) and a
//! `flow_control` flag (field 1), changed with atomic operations.
//!
//! The other process may write any value there and may truncate the file, so
//! every access goes through the ring buffer's fault-guarded primitives: a
//! vanished page gives `Err(EBADMSG)` instead of SIGBUS.

use std::os::fd::RawFd;
use std::ptr::NonNull;

use crate::ipc::sock::errno;
use crate::ipc::wire::CONTROL_FILE_SIZE;
use crate::rb::guarded;

/// A shared read-write mapping of a control file's 24 bytes; unmapped on drop.
pub struct ControlWords {
    base: NonNull<u32>,
}

// SAFETY: the mapping is touched only through the guarded (atomic) primitives.
unsafe impl Send for ControlWords {}
// SAFETY: as above.
unsafe impl Sync for ControlWords {}

/// Field of a channel: its `sent` counter.
pub const SENT: usize = 0;
/// Field of a channel: its flow-control flag.
pub const FLOW_CONTROL: usize = 1;

impl ControlWords {
    /// Maps the first 24 bytes of the file open at `fd` (which must be at
    /// least that long when mapped; a later truncation only gives errors).
    pub fn map(fd: RawFd) -> Result<ControlWords, i32> {
        guarded::install();
        // SAFETY: a fresh shared mapping chosen by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CONTROL_FILE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        NonNull::new(p.cast::<u32>())
            .map(|base| ControlWords { base })
            .ok_or(libc::ENOMEM)
    }

    /// Word `field` of channel `which` (CONTROL_REQUEST/RESPONSE/EVENT).
    #[inline]
    fn word(&self, which: usize, field: usize) -> *mut u32 {
        debug_assert!(which < 3 && field < 2);
        // SAFETY: 3 channels of 2 aligned words are mapped; the index is
        // clamped into them.
        unsafe { self.base.as_ptr().add((which * 2 + field).min(5)) }
    }

    #[inline]
    pub fn load(&self, which: usize, field: usize) -> Result<i32, i32> {
        // SAFETY: aligned word of our live mapping; a fault becomes Err.
        Ok(unsafe { guarded::load_u32(self.word(which, field)) }? as i32)
    }

    #[inline]
    pub fn store(&self, which: usize, field: usize, v: i32) -> Result<(), i32> {
        // SAFETY: as for load.
        Ok(unsafe { guarded::store_u32(self.word(which, field), v as u32) }?)
    }

    /// Atomically adds `delta` (a locked xadd, atomic against the peer).
    #[inline]
    pub fn add(&self, which: usize, field: usize, delta: i32) -> Result<(), i32> {
        // SAFETY: as for load.
        unsafe { guarded::fetch_add_u32(self.word(which, field), delta as u32) }?;
        Ok(())
    }
}

impl Drop for ControlWords {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly CONTROL_FILE_SIZE bytes at base.
        unsafe { libc::munmap(self.base.as_ptr().cast(), CONTROL_FILE_SIZE) };
    }
}
