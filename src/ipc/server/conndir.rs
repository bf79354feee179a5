//! The per-connection directory `/dev/shm/qb-<server pid>-<client pid>-<fd>-XXXXXX`
//! that holds a connection's ring or control files. Removed (if empty) on drop,
//! which transports arrange to happen after their files are gone.

use std::ffi::CString;

use crate::ipc::sock::errno;
use crate::ipc::wire::connection_dir_template;

pub struct ConnDir {
    path: CString,
}

impl ConnDir {
    /// `mkdtemp` + `chmod 0770` (libqb's order; ownership is set later).
    pub fn create(server_pid: i32, client_pid: i32, fd: i32) -> Result<ConnDir, i32> {
        let template = connection_dir_template(server_pid, client_pid, fd);
        let mut buf = CString::new(template)
            .map_err(|_| libc::EINVAL)?
            .into_bytes_with_nul();
        // SAFETY: NUL-terminated, writable template.
        let p = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(errno());
        }
        buf.pop();
        let path = CString::new(buf).map_err(|_| libc::EINVAL)?;
        let dir = ConnDir { path };
        // SAFETY: NUL-terminated path of the directory we made.
        if unsafe { libc::chmod(dir.path.as_ptr(), 0o770) } != 0 {
            return Err(errno());
        }
        Ok(dir)
    }

    /// Gives the directory to the client's (or `auth_set`'s) owner; may fail
    /// when not root, which libqb only logs.
    pub fn chown(&self, uid: u32, gid: u32) {
        // SAFETY: NUL-terminated path.
        let _ = unsafe { libc::chown(self.path.as_ptr(), uid, gid) };
    }

    pub fn path(&self) -> &[u8] {
        self.path.as_bytes()
    }

    /// libqb's "description": the directory plus `/qb`, the prefix of every
    /// file name in it.
    pub fn description(&self) -> Vec<u8> {
        let mut d = self.path.as_bytes().to_vec();
        d.extend_from_slice(b"/qb");
        d
    }
}

impl Drop for ConnDir {
    fn drop(&mut self) {
        // SAFETY: NUL-terminated path; fails harmlessly if not empty.
        unsafe { libc::rmdir(self.path.as_ptr()) };
    }
}

/// `<description><middle><service>`, cut to 254 bytes like libqb's
/// `snprintf(..., NAME_MAX, ...)`.
pub fn file_name(description: &[u8], middle: &[u8], service: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(description.len() + middle.len() + service.len());
    v.extend_from_slice(description);
    v.extend_from_slice(middle);
    v.extend_from_slice(service);
    v.truncate(254);
    v
}
