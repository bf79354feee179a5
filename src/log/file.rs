//! File targets (`qb_log_file_open`, `qb_log_file_reopen`, `qb_log_file_close`).
//!
//! A file target owns one descriptor opened with `O_APPEND`, so each line is a
//! single `write(2)` that the kernel appends atomically, whichever thread writes it.
//! The descriptor sits behind a read/write lock: writers share it (appends do not
//! need mutual exclusion), and a reopen opens the new file first, then swaps the
//! descriptor under the write lock, so no writer ever uses a closed descriptor and
//! no line is lost while a log rotation happens.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Mutex, RwLock};

/// Permission bits for a new log file, before the umask: what `fopen()` uses.
const NEW_FILE_MODE: libc::c_uint = 0o666;

#[derive(Debug)]
pub struct FileSink {
    path: Mutex<CString>,
    fd: RwLock<OwnedFd>,
}

fn open_append(path: &CStr) -> Result<OwnedFd, i32> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated; open has no other preconditions.
    let fd = unsafe { libc::open(path.as_ptr(), flags, NEW_FILE_MODE) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl FileSink {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &CStr) -> Result<FileSink, i32> {
        let fd = open_append(path)?;
        Ok(FileSink {
            path: Mutex::new(path.to_owned()),
            fd: RwLock::new(fd),
        })
    }

    /// The path the target currently writes to.
    pub fn path(&self) -> CString {
        self.path.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Switches to `path` (or reopens the current path when `None`). The new file is
    /// opened before the old one is closed; on failure the old file stays in use.
    pub fn reopen(&self, path: Option<&CStr>) -> Result<(), i32> {
        let mut current = self.path.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = path.map_or_else(|| current.clone(), CStr::to_owned);
        let fresh = open_append(&wanted)?;
        let old = {
            let mut fd = self.fd.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *fd, fresh)
        };
        *current = wanted;
        // Closed here, after every writer has moved to the new descriptor.
        drop(old);
        Ok(())
    }

    /// Appends `line` (which ends with its newline) in one `write(2)`, retrying
    /// short writes; with `sync`, flushes it to the device (`fsync`), as
    /// `QB_LOG_CONF_FILE_SYNC` asks. Errors are ignored, as libqb ignores them.
    pub fn write_line(&self, line: &[u8], sync: bool) {
        let fd = self.fd.read().unwrap_or_else(|e| e.into_inner());
        let raw = fd.as_raw_fd();
        let mut rest = line;
        while !rest.is_empty() {
            // SAFETY: `raw` stays open while the read guard is held; `rest` is valid.
            let n = unsafe { libc::write(raw, rest.as_ptr().cast(), rest.len()) };
            match usize::try_from(n) {
                Ok(0) => break,
                Ok(written) => rest = rest.get(written..).unwrap_or_default(),
                Err(_) => {
                    if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                        break;
                    }
                }
            }
        }
        if sync {
            // SAFETY: as above.
            unsafe { libc::fsync(raw) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_path(name: &str) -> CString {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("qbrs-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        CString::new(path.to_str().unwrap()).unwrap()
    }

    #[test]
    fn appends_lines_and_reopens() {
        let a = temp_path("a.log");
        let b = temp_path("b.log");
        std::fs::write(a.to_str().unwrap(), b"existing\n").unwrap();
        let sink = FileSink::open(&a).unwrap();
        sink.write_line(b"one\n", false);
        sink.write_line(b"two\n", true);
        sink.reopen(Some(&b)).unwrap();
        sink.write_line(b"three\n", false);
        assert_eq!(sink.path(), b);
        // Reopen without a name keeps the current path.
        sink.reopen(None).unwrap();
        sink.write_line(b"four\n", false);
        assert_eq!(
            std::fs::read(a.to_str().unwrap()).unwrap(),
            b"existing\none\ntwo\n"
        );
        assert_eq!(
            std::fs::read(b.to_str().unwrap()).unwrap(),
            b"three\nfour\n"
        );
        // A failed reopen leaves the old file in use.
        assert_eq!(
            sink.reopen(Some(c"/nonexistent-dir/x.log")),
            Err(libc::ENOENT)
        );
        sink.write_line(b"five\n", false);
        assert!(
            std::fs::read(b.to_str().unwrap())
                .unwrap()
                .ends_with(b"five\n")
        );
        let mode = std::fs::metadata(b.to_str().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o600, 0o600);
        let _ = std::fs::remove_file(a.to_str().unwrap());
        let _ = std::fs::remove_file(b.to_str().unwrap());
    }

    #[test]
    fn descriptor_is_close_on_exec() {
        let a = temp_path("cloexec.log");
        let sink = FileSink::open(&a).unwrap();
        let fd = sink.fd.read().unwrap().as_raw_fd();
        // SAFETY: F_GETFD on our own open descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
        let _ = std::fs::remove_file(a.to_str().unwrap());
    }

    #[test]
    fn concurrent_writers_and_reopens_lose_nothing() {
        let a = temp_path("race.log");
        let sink = std::sync::Arc::new(FileSink::open(&a).unwrap());
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        sink.write_line(b"0123456789\n", false);
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            sink.reopen(None).unwrap();
        }
        for w in writers {
            w.join().unwrap();
        }
        let text = std::fs::read(a.to_str().unwrap()).unwrap();
        assert_eq!(text.len(), 4 * 2000 * 11);
        assert!(text.chunks(11).all(|c| c == b"0123456789\n"));
        let _ = std::fs::remove_file(a.to_str().unwrap());
    }
}
