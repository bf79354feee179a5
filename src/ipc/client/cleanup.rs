//! Removing a connection's files from the client side.
//!
//! libqb clients tidy up after a server that died (its rings and the
//! per-connection directory) and, in socket mode, remove the control file.
//! The names come from the server, so nothing is removed unless it has the
//! shape libqb gives it — `/dev/shm/qb-<something>/<file>`, one directory
//! level, no `..` — and every removal goes through a descriptor of /dev/shm
//! and `*at` calls that never follow a symlink. Files are identified when
//! the connection is opened and removed only while they are still those
//! files with a single link.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SHM_DIR: &str = "/dev/shm";
const SHM_DIR_C: &CStr = c"/dev/shm";

/// Splits `/dev/shm/qb-X/file` into (`qb-X`, `file`), or None for any other
/// shape.
pub fn split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = path.strip_prefix(SHM_DIR.as_bytes())?.strip_prefix(b"/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (dir, file) = (&rest[..slash], &rest[slash + 1..]);
    let ok = |s: &[u8]| !s.is_empty() && s != b"." && s != b".." && !s.contains(&b'/');
    (dir.starts_with(b"qb-") && ok(dir) && ok(file)).then_some((dir, file))
}

/// One file we may remove later: its name in the directory and identity.
struct Entry {
    name: CString,
    dev: u64,
    ino: u64,
}

/// Files of one connection, all directly in one real `/dev/shm/qb-*`
/// directory, identified when the connection was opened.
pub struct Leftovers {
    dir: CString,
    files: Vec<Entry>,
}

impl Leftovers {
    /// Records `paths` (which must all name regular files in the same
    /// libqb-shaped directory); None when any does not qualify.
    pub fn record<'a>(paths: impl Iterator<Item = &'a CStr>) -> Option<Leftovers> {
        let mut dir: Option<Vec<u8>> = None;
        let mut names = Vec::new();
        for p in paths {
            let (d, f) = split(p.to_bytes())?;
            match &dir {
                Some(x) if x.as_slice() != d => return None,
                Some(_) => {}
                None => dir = Some(d.to_vec()),
            }
            names.push(CString::new(f).ok()?);
        }
        let dir = CString::new(dir?).ok()?;
        let shm = open_shm()?;
        let d = open_conn_dir(&shm, &dir)?;
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let st = stat_at(&d, &name)?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return None;
            }
            files.push(Entry {
                name,
                dev: st.st_dev,
                ino: st.st_ino,
            });
        }
        Some(Leftovers { dir, files })
    }

    /// Removes the files that are still the ones recorded (and have no other
    /// link), falling back to truncating them when they cannot be unlinked
    /// (libqb's fallback: at least the memory is given back), then the
    /// directory if it is empty. `truncate` selects the fallback.
    pub fn remove(self, truncate: bool) {
        let Some(shm) = open_shm() else {
            return;
        };
        if let Some(d) = open_conn_dir(&shm, &self.dir) {
            for e in &self.files {
                remove_one(&d, e, truncate);
            }
        }
        // SAFETY: NUL-terminated name relative to a directory descriptor;
        // rmdir never follows a symlink. Failure (not empty, gone) is fine.
        unsafe { libc::unlinkat(shm.as_raw_fd(), self.dir.as_ptr(), libc::AT_REMOVEDIR) };
    }
}

fn same_file(st: &libc::stat, e: &Entry) -> bool {
    st.st_dev == e.dev
        && st.st_ino == e.ino
        && st.st_mode & libc::S_IFMT == libc::S_IFREG
        && st.st_nlink == 1
}

fn remove_one(d: &OwnedFd, e: &Entry, truncate: bool) {
    if !stat_at(d, &e.name).is_some_and(|st| same_file(&st, e)) {
        return;
    }
    // SAFETY: NUL-terminated name relative to a directory descriptor.
    if unsafe { libc::unlinkat(d.as_raw_fd(), e.name.as_ptr(), 0) } == 0 {
        return;
    }
    if !truncate || std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
        return;
    }
    // SAFETY: as above; the descriptor is checked before anything changes.
    let fd = unsafe {
        libc::openat(
            d.as_raw_fd(),
            e.name.as_ptr(),
            libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return;
    }
    // SAFETY: we own the fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0 && same_file(&st, e) {
        // SAFETY: valid descriptor.
        unsafe { libc::ftruncate(fd.as_raw_fd(), 0) };
    }
}

fn open_shm() -> Option<OwnedFd> {
    // No allocation here: disconnect may run in a signal handler (libqb's
    // own benchmarks do that).
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        libc::open(
            SHM_DIR_C.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    // SAFETY: we own the fresh descriptor.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn stat_at(dir: &OwnedFd, name: &CStr) -> Option<libc::stat> {
    // SAFETY: zeroed stat is a valid out-buffer; NUL-terminated name.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    (rc == 0).then_some(st)
}

/// Opens `/dev/shm/<dir>` without following a symlink.
fn open_conn_dir(shm: &OwnedFd, dir: &CStr) -> Option<OwnedFd> {
    // SAFETY: NUL-terminated name relative to a directory descriptor.
    let fd = unsafe {
        libc::openat(
            shm.as_raw_fd(),
            dir.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    // SAFETY: we own the fresh descriptor.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_libqb_shaped_paths_split() {
        assert_eq!(
            split(b"/dev/shm/qb-1-2-3-AbCdEf/qb-request-svc-header"),
            Some((&b"qb-1-2-3-AbCdEf"[..], &b"qb-request-svc-header"[..]))
        );
        for bad in [
            &b"/dev/shm/qb-x/a/b"[..],
            b"/dev/shm/other/f",
            b"/dev/shm/qb-x/",
            b"/dev/shm/qb-x/..",
            b"/tmp/qb-x/f",
            b"/dev/shm//qb-x/f",
            b"/dev/shmqb-x/f",
            b"qb-x/f",
        ] {
            assert_eq!(split(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn mixed_directories_are_refused() {
        let a = CString::new("/dev/shm/qb-a/x").unwrap();
        let b = CString::new("/dev/shm/qb-b/y").unwrap();
        assert!(Leftovers::record([a.as_c_str(), b.as_c_str()].into_iter()).is_none());
    }

    #[test]
    fn only_recorded_files_in_real_directories_are_removed() {
        let name = format!("qb-ipcc-unit-{}", std::process::id());
        let dir = format!("/dev/shm/{name}");
        let _ = std::fs::remove_file(&dir);
        // A symlinked directory is refused.
        std::os::unix::fs::symlink("/tmp", &dir).unwrap();
        let f = CString::new(format!("{dir}/f")).unwrap();
        assert!(Leftovers::record([f.as_c_str()].into_iter()).is_none());
        std::fs::remove_file(&dir).unwrap();
        // A real one with a regular file is recorded and cleaned.
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(format!("{dir}/f"), b"x").unwrap();
        let l = Leftovers::record([f.as_c_str()].into_iter()).unwrap();
        l.remove(true);
        assert!(!std::path::Path::new(&dir).exists());
        // A file replaced after recording is left alone.
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(format!("{dir}/f"), b"x").unwrap();
        let l = Leftovers::record([f.as_c_str()].into_iter()).unwrap();
        std::fs::remove_file(format!("{dir}/f")).unwrap();
        std::fs::write(format!("{dir}/f"), b"y").unwrap();
        l.remove(true);
        assert_eq!(std::fs::read(format!("{dir}/f")).unwrap(), b"y");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
