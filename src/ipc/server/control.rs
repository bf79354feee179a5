//! The socket transport's 24-byte control file (`<dir>/qb-control-<service>`):
//! three `{sent, flow_control}` pairs (request, response, event) that both
//! processes map and change with atomic operations.
//!
//! The mapping is shared with the client, which may write any value there:
//! the numbers are only used as hints (batch sizes, queue lengths), never as
//! sizes or offsets. The file is removed on drop if the path still names the
//! file we created.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::ipc::sock::errno;
use crate::ipc::wire::{CONTROL_FILE_SIZE, CONTROL_REQUEST};

pub struct ControlFile {
    base: NonNull<AtomicI32>,
    path: CString,
    dev: u64,
    ino: u64,
}

// SAFETY: the mapping is only accessed through atomics.
unsafe impl Send for ControlFile {}
// SAFETY: as above.
unsafe impl Sync for ControlFile {}

impl ControlFile {
    /// Creates the file exclusively, owned by `uid:gid` with `mode`, and maps it.
    pub fn create(path: &str, uid: u32, gid: u32, mode: u32) -> Result<ControlFile, i32> {
        let path = CString::new(path).map_err(|_| libc::EINVAL)?;
        let flags = libc::O_CREAT
            | libc::O_EXCL
            | libc::O_TRUNC
            | libc::O_RDWR
            | libc::O_CLOEXEC
            | libc::O_NOFOLLOW;
        // SAFETY: NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let fail = |e: i32| {
            // SAFETY: NUL-terminated path of the file we just created.
            unsafe { libc::unlink(path.as_ptr()) };
            e
        };
        let raw = fd.as_raw_fd();
        // SAFETY: plain syscalls on our descriptor.
        unsafe {
            if libc::ftruncate(raw, CONTROL_FILE_SIZE as libc::off_t) != 0 {
                return Err(fail(errno()));
            }
            let rc = libc::posix_fallocate(raw, 0, CONTROL_FILE_SIZE as libc::off_t);
            if rc != 0 && rc != libc::EINVAL && rc != libc::EOPNOTSUPP {
                return Err(fail(rc));
            }
            // Ownership and mode are best effort, as in libqb (logged there).
            let _ = libc::fchown(raw, uid, gid);
            let _ = libc::fchmod(raw, mode);
        }
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: our descriptor.
        if unsafe { libc::fstat(raw, &mut st) } != 0 {
            return Err(fail(errno()));
        }
        // SAFETY: mapping the 24 bytes we just sized.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CONTROL_FILE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                raw,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(fail(errno()));
        }
        let base = NonNull::new(p.cast::<AtomicI32>()).ok_or_else(|| fail(libc::ENOMEM))?;
        let c = ControlFile {
            base,
            path,
            dev: st.st_dev,
            ino: st.st_ino,
        };
        for i in 0..6 {
            c.word(i).store(0, Ordering::Relaxed);
        }
        Ok(c)
    }

    fn word(&self, i: usize) -> &AtomicI32 {
        debug_assert!(i < 6);
        // SAFETY: the mapping holds 6 aligned int32 words and lives as long as self.
        unsafe { &*self.base.as_ptr().add(i.min(5)) }
    }

    /// `sent` of entry `which` (CONTROL_REQUEST/RESPONSE/EVENT).
    pub fn sent(&self, which: usize) -> i32 {
        self.word(which * 2).load(Ordering::Acquire)
    }

    pub fn sent_add(&self, which: usize, delta: i32) {
        self.word(which * 2).fetch_add(delta, Ordering::AcqRel);
    }

    /// The client's send gate (`flow_control` of the request entry).
    pub fn set_flow_control(&self, v: i32) {
        self.word(CONTROL_REQUEST * 2 + 1)
            .store(v, Ordering::Release);
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap_or("")
    }
}

impl Drop for ControlFile {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; then unlinking the path only if it
        // still names our file.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), CONTROL_FILE_SIZE);
            let mut st: libc::stat = std::mem::zeroed();
            if libc::lstat(self.path.as_ptr(), &mut st) == 0
                && st.st_dev == self.dev
                && st.st_ino == self.ino
            {
                libc::unlink(self.path.as_ptr());
            }
        }
    }
}
