//! The socket transport's 24-byte control file (`<dir>/qb-control-<service>`):
//! three `{sent, flow_control}` pairs (request, response, event) that both
//! processes map and change with atomic operations.
//!
//! The mapping is shared with the client, which may write any value there:
//! the numbers are only used as hints (batch sizes, queue lengths), never as
//! sizes or offsets. The client may also truncate the file: every access goes
//! through the ring buffer's fault-guarded primitives, so that turns into an
//! error (and a disconnect of that client) instead of a SIGBUS. The file is
//! removed on drop if the path still names the file we created.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::ipc::control_words::{ControlWords, FLOW_CONTROL, SENT};
use crate::ipc::sock::errno;
use crate::ipc::wire::{CONTROL_EVENT, CONTROL_FILE_SIZE, CONTROL_REQUEST, CONTROL_RESPONSE};

pub struct ControlFile {
    words: ControlWords,
    path: CString,
    dev: u64,
    ino: u64,
}

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
        }
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: our descriptor.
        if unsafe { libc::fstat(raw, &mut st) } != 0 {
            return Err(fail(errno()));
        }
        let words = ControlWords::map(raw).map_err(fail)?;
        let c = ControlFile {
            words,
            path,
            dev: st.st_dev,
            ino: st.st_ino,
        };
        // Dropping `c` on a failure unmaps and removes the file.
        for which in [CONTROL_REQUEST, CONTROL_RESPONSE, CONTROL_EVENT] {
            c.words.store(which, SENT, 0)?;
            c.words.store(which, FLOW_CONTROL, 0)?;
        }
        // Ownership and mode last (best effort, as in libqb, which logs it):
        // once the client owns the file, only `c`'s identity-checked removal
        // may touch its name.
        // SAFETY: plain syscalls on our descriptor.
        unsafe {
            let _ = libc::fchown(raw, uid, gid);
            let _ = libc::fchmod(raw, mode);
        }
        Ok(c)
    }

    /// `sent` of entry `which` (CONTROL_REQUEST/RESPONSE/EVENT); EBADMSG
    /// when the client truncated the file.
    pub fn sent(&self, which: usize) -> Result<i32, i32> {
        self.words.load(which, SENT)
    }

    pub fn sent_add(&self, which: usize, delta: i32) -> Result<(), i32> {
        self.words.add(which, SENT, delta)
    }

    /// The client's send gate (`flow_control` of the request entry).
    pub fn set_flow_control(&self, v: i32) -> Result<(), i32> {
        self.words.store(CONTROL_REQUEST, FLOW_CONTROL, v)
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap_or("")
    }
}

impl Drop for ControlFile {
    fn drop(&mut self) {
        // SAFETY: unlinking the path only if it still names our file (the
        // mapping goes with `words`).
        unsafe {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rb::guarded;

    fn temp_path(tag: &str) -> String {
        format!("/dev/shm/qb-rs-control-test-{}-{}", std::process::id(), tag)
    }

    #[test]
    fn counters_and_gate_round_trip() {
        let path = temp_path("rt");
        let c = ControlFile::create(&path, 0, 0, 0o600).unwrap();
        assert_eq!(c.sent(CONTROL_REQUEST), Ok(0));
        c.sent_add(CONTROL_RESPONSE, 3).unwrap();
        c.sent_add(CONTROL_RESPONSE, -1).unwrap();
        assert_eq!(c.sent(CONTROL_RESPONSE), Ok(2));
        c.set_flow_control(1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), CONTROL_FILE_SIZE);
        assert_eq!(&bytes[4..8], &1i32.to_ne_bytes());
        assert_eq!(&bytes[8..12], &2i32.to_ne_bytes());
        drop(c);
        assert!(std::fs::metadata(&path).is_err(), "removed on drop");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_truncated_file_gives_errors_not_sigbus() {
        let path = temp_path("trunc");
        let c = ControlFile::create(&path, 0, 0, 0o600).unwrap();
        c.sent_add(CONTROL_EVENT, 1).unwrap();
        // What a hostile client can do to the file it owns.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(c.sent(CONTROL_REQUEST), Err(guarded::FAULT_ERRNO));
        assert_eq!(c.sent_add(CONTROL_EVENT, 1), Err(guarded::FAULT_ERRNO));
        assert_eq!(c.set_flow_control(1), Err(guarded::FAULT_ERRNO));
        drop(c);
        assert!(std::fs::metadata(&path).is_err());
    }
}
