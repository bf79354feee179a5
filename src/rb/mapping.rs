//! Backing files and mappings: where a ring's two files live, how they are
//! created or opened, and the double ("circular") mapping of the data file.
//!
//! Names follow libqb: a name containing `/` is used as given (plus `-header` /
//! `-data`); any other name becomes `/dev/shm/qb-<name>-<suffix>`, falling back
//! to `/tmp/<name>-<suffix>` (libqb's compiled-in SOCKETDIR) when that fails.
//! Paths are always computed here, never read from shared memory.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use libc::{EINVAL, ENAMETOOLONG, c_void};

use super::shared_header::PATH_FIELD;

/// libqb's SOCKETDIR as compiled into Debian's library.
const FALLBACK_DIR: &str = "/tmp";

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Candidate paths for `<name>-<suffix>`, in the order libqb tries them.
pub fn candidate_paths(name: &[u8], suffix: &str) -> Result<Vec<CString>, i32> {
    if name.is_empty() || name.contains(&0) {
        return Err(EINVAL);
    }
    let file: Vec<u8> = [name, b"-", suffix.as_bytes()].concat();
    let mut out = Vec::with_capacity(2);
    if name.contains(&b'/') {
        out.push(file);
    } else {
        out.push([b"/dev/shm/qb-".as_slice(), &file].concat());
        out.push([FALLBACK_DIR.as_bytes(), b"/", &file].concat());
    }
    out.into_iter()
        .map(|p| {
            // The creator records the path in a PATH_MAX field with its NUL.
            if p.len() >= PATH_FIELD {
                return Err(ENAMETOOLONG);
            }
            CString::new(p).map_err(|_| EINVAL)
        })
        .collect()
}

/// Identity of a file we created or opened, to recognise it later by path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

fn fstat(fd: &OwnedFd) -> Result<libc::stat, i32> {
    // SAFETY: an all-zero stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(errno());
    }
    Ok(st)
}

/// An open backing file with its validated size.
pub struct BackingFile {
    pub fd: OwnedFd,
    pub path: CString,
    pub id: FileId,
    pub size: u64,
}

fn describe(fd: OwnedFd, path: CString) -> Result<BackingFile, i32> {
    let st = fstat(&fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(EINVAL);
    }
    Ok(BackingFile {
        fd,
        path,
        id: FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        },
        size: st.st_size.max(0) as u64,
    })
}

fn open_raw(path: &CStr, flags: i32) -> Result<OwnedFd, i32> {
    // SAFETY: NUL-terminated path; mode is only used with O_CREAT.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: we own the fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sizes a new file and reserves its blocks (tmpfs would otherwise SIGBUS us
/// when it runs out of memory on first touch).
fn size_new_file(fd: &OwnedFd, len: usize) -> Result<(), i32> {
    let len = libc::off_t::try_from(len).map_err(|_| EINVAL)?;
    // SAFETY: valid fd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(errno());
    }
    for _ in 0..5 {
        // SAFETY: valid fd.
        match unsafe { libc::posix_fallocate(fd.as_raw_fd(), 0, len) } {
            0 => return Ok(()),
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
    Err(libc::EINTR)
}

fn unlink(path: &CStr) {
    // SAFETY: NUL-terminated path.
    unsafe { libc::unlink(path.as_ptr()) };
}

/// Owner and mode to give files as they are created (the IPC server creates
/// a connection's rings for its client's uid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub mode: libc::mode_t,
}

/// Applies `owner` through the creating descriptor: no path lookup, so nothing
/// a peer does to the directory entry can redirect it. EPERM from fchown is
/// ignored, as `qb_rb_chown` does.
fn apply_owner(fd: &OwnedFd, owner: Owner) -> Result<(), i32> {
    // SAFETY: valid fd.
    if unsafe { libc::fchown(fd.as_raw_fd(), owner.uid, owner.gid) } != 0 {
        let e = errno();
        if e != libc::EPERM {
            return Err(e);
        }
    }
    // SAFETY: valid fd.
    if unsafe { libc::fchmod(fd.as_raw_fd(), owner.mode) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Creates `<name>-<suffix>` exclusively (never following a symlink), sized
/// `len`, owned as `owner` says (else by us, mode 0600).
pub fn create_file(
    name: &[u8],
    suffix: &str,
    len: usize,
    owner: Option<Owner>,
) -> Result<BackingFile, i32> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let mut last = EINVAL;
    for path in candidate_paths(name, suffix)? {
        let fd = match open_raw(&path, flags) {
            Ok(fd) => fd,
            Err(e) => {
                last = e;
                continue;
            }
        };
        // From here on the file is ours: remove it again on any failure.
        let file = match size_new_file(&fd, len).and_then(|()| describe(fd, path.clone())) {
            Ok(file) => file,
            Err(e) => {
                unlink(&path);
                return Err(e);
            }
        };
        // The owner goes last: once the file is the client's, a failure may
        // only remove it while the name still leads to it.
        if let Some(o) = owner
            && let Err(e) = apply_owner(&file.fd, o)
        {
            unlink_if_same(&file.path, file.id);
            return Err(e);
        }
        return Ok(file);
    }
    Err(last)
}

/// Opens an existing `<name>-<suffix>` (never following a symlink).
pub fn open_file(name: &[u8], suffix: &str) -> Result<BackingFile, i32> {
    let flags = libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let mut last = EINVAL;
    for path in candidate_paths(name, suffix)? {
        match open_raw(&path, flags) {
            Ok(fd) => return describe(fd, path),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Grows an opened file to `len` if it is shorter (libqb's opener re-sizes the
/// files it opens; we only ever grow, so a peer's mapping never loses pages).
pub fn grow_to(file: &mut BackingFile, len: usize) -> Result<(), i32> {
    if file.size >= len as u64 {
        return Ok(());
    }
    let off = libc::off_t::try_from(len).map_err(|_| EINVAL)?;
    // SAFETY: valid fd.
    if unsafe { libc::ftruncate(file.fd.as_raw_fd(), off) } != 0 {
        return Err(errno());
    }
    file.size = len as u64;
    Ok(())
}

/// An anonymous in-memory file (used for rings rebuilt from a dump, which need
/// no name in /dev/shm).
pub fn anonymous_file(label: &CStr, len: usize) -> Result<BackingFile, i32> {
    // SAFETY: NUL-terminated label.
    let fd = unsafe { libc::memfd_create(label.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: we own the fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    size_new_file(&fd, len)?;
    describe(fd, label.to_owned())
}

/// Unlinks `path` only while it still names the file we created.
pub fn unlink_if_same(path: &CStr, id: FileId) {
    // SAFETY: zeroed stat is a valid out-buffer; NUL-terminated path.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::lstat(path.as_ptr(), &mut st) } == 0
        && st.st_dev == id.dev
        && st.st_ino == id.ino
    {
        unlink(path);
    }
}

/// Applies `op` to the file at `path` through an `O_PATH` descriptor, after
/// checking it is still the file we opened (a peer owning the directory entry
/// could have replaced it with a symlink or another file).
pub fn with_verified_path(
    path: &CStr,
    id: FileId,
    op: impl FnOnce(&CStr) -> i32,
) -> Result<(), i32> {
    let fd = open_raw(path, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)?;
    let st = fstat(&fd)?;
    if st.st_dev != id.dev || st.st_ino != id.ino || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(libc::ESTALE);
    }
    let proc_path =
        CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| EINVAL)?;
    match op(&proc_path) {
        0 => Ok(()),
        _ => Err(errno()),
    }
}

/// A mapping we own; unmapped with the length we mapped, never a shared value.
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access goes through atomics or
// raw copies, and unmapping happens once in Drop.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Maps the first `len` bytes of `file` shared, read-write.
    pub fn shared(file: &BackingFile, len: usize) -> Result<Mapping, i32> {
        // SAFETY: fresh mapping chosen by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Mapping {
            base: NonNull::new(p.cast()).ok_or(EINVAL)?,
            len,
        })
    }

    /// Maps the first `bytes` of `file` twice, back to back, so that reading
    /// past the end of the ring continues at its start.
    pub fn circular(file: &BackingFile, bytes: usize) -> Result<Mapping, i32> {
        let total = bytes.checked_mul(2).ok_or(EINVAL)?;
        // Reserve the whole window first so nothing else can land in it.
        // SAFETY: fresh anonymous reservation.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(errno());
        }
        let reserved = Mapping {
            base: NonNull::new(base.cast()).ok_or(EINVAL)?,
            len: total,
        };
        for half in [0, bytes] {
            // SAFETY: the target range lies inside our own reservation.
            let want: *mut c_void = unsafe { base.cast::<u8>().add(half).cast() };
            // SAFETY: MAP_FIXED over our own reservation only.
            let got = unsafe {
                libc::mmap(
                    want,
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    file.fd.as_raw_fd(),
                    0,
                )
            };
            if got != want {
                return Err(if got == libc::MAP_FAILED {
                    errno()
                } else {
                    EINVAL
                });
            }
        }
        Ok(reserved)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly [base, base+len) and nobody else unmaps it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_go_to_dev_shm_then_tmp() {
        let p = candidate_paths(b"abc", "header").unwrap();
        assert_eq!(p[0].as_bytes(), b"/dev/shm/qb-abc-header");
        assert_eq!(p[1].as_bytes(), b"/tmp/abc-header");
        let p = candidate_paths(b"/dev/shm/x/qb-req", "data").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].as_bytes(), b"/dev/shm/x/qb-req-data");
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(candidate_paths(b"", "data").err(), Some(EINVAL));
        assert_eq!(candidate_paths(b"a\0b", "data").err(), Some(EINVAL));
        let long = vec![b'n'; 5000];
        assert_eq!(candidate_paths(&long, "data").err(), Some(ENAMETOOLONG));
    }
}
