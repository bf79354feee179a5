//! Unix-socket helpers of the IPC server (and available to the client): libqb's
//! socket addresses, credentials from the kernel, non-blocking sends and
//! receives with bounded waits. Every function returns `Err(errno)` (positive).
//!
//! Nothing here blocks without a deadline: the server runs on one loop thread
//! and must never wait on a single peer.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libc::{EAGAIN, EINTR, ENAMETOOLONG, ENOTCONN, c_int, c_void};

use crate::ipc::wire::{FORCE_FILESYSTEM_SOCKETS, SOCKADDR_UN_LEN, SOCKET_DIR};

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// libqb's filesystem-socket switch: the force file exists (checked once per
/// process through libc's `stat`, so an LD_PRELOADed `stat` sees the call).
pub fn use_filesystem_sockets() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        let Ok(path) = CString::new(FORCE_FILESYSTEM_SOCKETS) else {
            return false;
        };
        // SAFETY: zeroed `struct stat` is a valid out-buffer; NUL-terminated path.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::stat(path.as_ptr(), &mut st) == 0 }
    })
}

/// A `struct sockaddr_un` with the length libqb binds or connects with.
#[derive(Clone, Copy)]
pub struct UnixAddr {
    pub addr: libc::sockaddr_un,
    pub len: libc::socklen_t,
}

impl UnixAddr {
    fn blank() -> UnixAddr {
        // SAFETY: sockaddr_un is plain data; all zeroes is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        UnixAddr {
            addr,
            len: SOCKADDR_UN_LEN,
        }
    }

    /// Abstract address: NUL, then the name (at most 106 bytes, as libqb's
    /// `snprintf(sun_path + 1, 107, ...)`), NUL padding; length 110.
    pub fn abstract_name(name: &[u8]) -> UnixAddr {
        let mut a = UnixAddr::blank();
        let room = a.addr.sun_path.len() - 2;
        for (dst, src) in a.addr.sun_path[1..].iter_mut().zip(name.iter().take(room)) {
            *dst = *src as libc::c_char;
        }
        a
    }

    /// Filesystem address with `SUN_LEN` (offset of `sun_path` + strlen).
    pub fn path(path: &[u8]) -> Result<UnixAddr, i32> {
        let mut a = UnixAddr::blank();
        if path.len() >= a.addr.sun_path.len() || path.contains(&0) {
            return Err(ENAMETOOLONG);
        }
        for (dst, src) in a.addr.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        a.len = (std::mem::offset_of!(libc::sockaddr_un, sun_path) + path.len()) as libc::socklen_t;
        Ok(a)
    }

    /// Where a service named `name` listens: abstract, or `SOCKET_DIR/name`
    /// when filesystem sockets are forced.
    pub fn service(name: &[u8]) -> Result<UnixAddr, i32> {
        if use_filesystem_sockets() {
            let mut p = format!("{SOCKET_DIR}/").into_bytes();
            p.extend_from_slice(name);
            p.truncate(107);
            UnixAddr::path(&p)
        } else {
            Ok(UnixAddr::abstract_name(name))
        }
    }

    /// A per-connection datagram socket name: names starting with `/` (libqb
    /// 2.x always sends those) are abstract even with filesystem sockets.
    pub fn dgram(name: &[u8]) -> Result<UnixAddr, i32> {
        if name.first() == Some(&b'/') || !use_filesystem_sockets() {
            Ok(UnixAddr::abstract_name(name))
        } else {
            let mut p = format!("{SOCKET_DIR}/").into_bytes();
            p.extend_from_slice(name);
            p.truncate(107);
            UnixAddr::path(&p)
        }
    }

    /// The filesystem path of a non-abstract address.
    pub fn fs_path(&self) -> Option<CString> {
        let bytes: Vec<u8> = self.addr.sun_path.iter().map(|c| *c as u8).collect();
        if bytes.first().copied().unwrap_or(0) == 0 {
            return None;
        }
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        CString::new(&bytes[..end]).ok()
    }

    /// `sun_path` bytes without the trailing NUL padding (for comparisons).
    pub fn significant(&self) -> &[libc::c_char] {
        let n = (self.len as usize)
            .saturating_sub(std::mem::offset_of!(libc::sockaddr_un, sun_path))
            .min(self.addr.sun_path.len());
        let p = &self.addr.sun_path[..n];
        let end = p.iter().rposition(|c| *c != 0).map_or(0, |i| i + 1);
        &p[..end]
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.addr as *const libc::sockaddr_un).cast()
    }
}

/// A new close-on-exec, non-blocking AF_UNIX socket.
pub fn socket(kind: c_int) -> Result<OwnedFd, i32> {
    // SAFETY: plain syscall.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn bind(fd: RawFd, a: &UnixAddr) -> Result<(), i32> {
    // SAFETY: valid address of `a.len` bytes.
    if unsafe { libc::bind(fd, a.as_ptr(), a.len) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

pub fn connect(fd: RawFd, a: &UnixAddr) -> Result<(), i32> {
    // SAFETY: valid address of `a.len` bytes.
    if unsafe { libc::connect(fd, a.as_ptr(), a.len) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

pub fn set_int_opt(fd: RawFd, level: c_int, name: c_int, v: c_int) -> Result<(), i32> {
    // SAFETY: option value of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const c_int).cast(),
            size_of::<c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(errno()) }
}

pub fn get_int_opt(fd: RawFd, level: c_int, name: c_int) -> Result<c_int, i32> {
    let mut v: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: out-buffer of the size passed.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut c_int).cast(), &mut len) };
    if rc == 0 { Ok(v) } else { Err(errno()) }
}

/// Turns the kernel's credential passing on or off (`SO_PASSCRED`).
pub fn set_passcred(fd: RawFd, on: bool) -> Result<(), i32> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, c_int::from(on))
}

/// libqb's `set_sock_size`: raises SO_SNDBUF and SO_RCVBUF to `size` when they
/// are not above it already.
pub fn raise_buffers(fd: RawFd, size: u32) -> Result<(), i32> {
    let want = c_int::try_from(size).unwrap_or(c_int::MAX);
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        let cur = get_int_opt(fd, libc::SOL_SOCKET, opt)?;
        if cur <= want {
            set_int_opt(fd, libc::SOL_SOCKET, opt, want)?;
        }
    }
    Ok(())
}

/// Peer credentials carried by a message (`SCM_CREDENTIALS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The credentials the kernel recorded when the peer of a connected stream
/// socket called `connect` (`SO_PEERCRED`); available before it sends anything.
pub fn peer_creds(fd: RawFd) -> Result<Creds, i32> {
    // SAFETY: all-zero ucred is a valid out-buffer of the length passed.
    let mut u: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: out-buffer of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut u as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(errno());
    }
    if len as usize != size_of::<libc::ucred>() {
        return Err(libc::EPROTO);
    }
    Ok(Creds {
        pid: u.pid,
        uid: u.uid,
        gid: u.gid,
    })
}

/// One non-blocking `recvmsg` into `buf`, collecting `SCM_CREDENTIALS` if the
/// kernel attached them. `Ok((0, _))` means end of stream.
pub fn recv_with_creds(fd: RawFd, buf: &mut [u8]) -> Result<(usize, Option<Creds>), i32> {
    // CMSG_SPACE(sizeof(struct ucred)) = 32; u64 storage keeps it aligned.
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is valid; pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    let n = loop {
        // SAFETY: msg describes live buffers.
        let n = unsafe {
            libc::recvmsg(
                fd,
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if n >= 0 {
            break n as usize;
        }
        let e = errno();
        if e != EINTR {
            return Err(e);
        }
    };
    let mut creds = None;
    let want = std::mem::size_of::<libc::ucred>();
    // SAFETY: standard cmsg walk over the control buffer the kernel filled;
    // each header is checked for a full ucred before it is read.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == libc::SOL_SOCKET
                && h.cmsg_type == libc::SCM_CREDENTIALS
                && h.cmsg_len >= libc::CMSG_LEN(want as u32) as usize
                && creds.is_none()
            {
                let u: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                creds = Some(Creds {
                    pid: u.pid,
                    uid: u.uid,
                    gid: u.gid,
                });
            } else if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
                // Descriptors nobody asked for: close them.
                let data = libc::CMSG_DATA(c);
                let bytes = h.cmsg_len.saturating_sub(libc::CMSG_LEN(0) as usize);
                for i in 0..bytes / size_of::<c_int>() {
                    let fd: c_int =
                        std::ptr::read_unaligned(data.add(i * size_of::<c_int>()).cast());
                    libc::close(fd);
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n, creds))
}

/// One non-blocking `send` (no SIGPIPE). Returns the bytes taken.
#[inline]
pub fn send_once(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: valid buffer.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = errno();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// Sends all of `buf` on a stream socket, waiting for room at most `max_wait`
/// in total. EAGAIN if the peer did not make room in time.
pub fn send_all_bounded(fd: RawFd, buf: &[u8], max_wait: Duration) -> Result<(), i32> {
    let deadline = Instant::now() + max_wait;
    let mut done = 0;
    while done < buf.len() {
        match send_once(fd, &buf[done..]) {
            Ok(n) => done += n,
            Err(EAGAIN) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(EAGAIN);
                }
                let ms = c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX);
                let rev = poll_one(fd, libc::POLLOUT, ms)?;
                if rev & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(ENOTCONN);
                }
            }
            Err(libc::EPIPE | libc::ECONNRESET) => return Err(ENOTCONN),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One non-blocking `recv`; `Ok(0)` is end of stream (or an empty datagram).
pub fn recv_once(fd: RawFd, buf: &mut [u8], flags: c_int) -> Result<usize, i32> {
    // SAFETY: the slice is valid for its length.
    unsafe {
        recv_raw(
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    }
}

/// One `recv` with exactly `flags`, restarted on EINTR; `Ok(0)` is end of
/// stream (or an empty datagram).
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[inline]
pub unsafe fn recv_raw(fd: RawFd, buf: *mut u8, len: usize, flags: c_int) -> Result<usize, i32> {
    loop {
        // SAFETY: the caller vouches for the buffer.
        let n = unsafe { libc::recv(fd, buf.cast::<c_void>(), len, flags) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = errno();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// `poll` on one descriptor; returns its revents (0 on timeout).
pub fn poll_one(fd: RawFd, events: i16, ms: c_int) -> Result<i16, i32> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut p, 1, ms) };
    match rc {
        0 => Ok(0),
        n if n > 0 => Ok(p.revents),
        _ => {
            let e = errno();
            if e == EINTR { Ok(0) } else { Err(e) }
        }
    }
}

/// True if the stream socket's peer has gone (hang-up or error pending).
pub fn peer_gone(fd: RawFd) -> bool {
    matches!(poll_one(fd, 0, 0), Ok(r) if r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0)
}

/// `shutdown(SHUT_RDWR)` so the peer sees the end at once; the close comes
/// when the descriptor is dropped.
pub fn shutdown(fd: &OwnedFd) {
    // SAFETY: live descriptor; errors (not connected) are irrelevant.
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
}

/// Accepts one connection, non-blocking and close-on-exec.
pub fn accept(fd: RawFd) -> Result<OwnedFd, i32> {
    loop {
        // SAFETY: NULL address arguments are allowed.
        let n = unsafe {
            libc::accept4(
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if n >= 0 {
            // SAFETY: fresh descriptor we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(n) });
        }
        let e = errno();
        if e != EINTR && e != libc::ECONNABORTED {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_addresses_use_the_whole_path() {
        let a = UnixAddr::abstract_name(b"svc");
        assert_eq!(a.len, 110);
        assert_eq!(a.addr.sun_path[0], 0);
        assert_eq!(a.addr.sun_path[1] as u8, b's');
        assert_eq!(a.addr.sun_path[4], 0);
        let long = vec![b'x'; 200];
        let a = UnixAddr::abstract_name(&long);
        assert_eq!(a.addr.sun_path[106] as u8, b'x');
        assert_eq!(a.addr.sun_path[107], 0);
    }

    #[test]
    fn filesystem_paths_use_sun_len() {
        let a = UnixAddr::path(b"/tmp/x").unwrap();
        assert_eq!(a.len as usize, 2 + 6);
        assert_eq!(a.fs_path().unwrap().as_bytes(), b"/tmp/x");
        assert!(UnixAddr::path(&[b'a'; 120]).is_err());
    }

    #[test]
    fn credentials_arrive_with_passcred() {
        let mut fds = [0; 2];
        // SAFETY: out-array of two ints.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) },
            0
        );
        // SAFETY: fresh descriptors.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        set_passcred(b.as_raw_fd(), true).unwrap();
        send_all_bounded(a.as_raw_fd(), b"hello", Duration::from_millis(100)).unwrap();
        let mut buf = [0u8; 16];
        let (n, c) = recv_with_creds(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        let c = c.unwrap();
        assert_eq!(c.pid, std::process::id() as i32);
        // SAFETY: plain getters.
        assert_eq!(c.uid, unsafe { libc::getuid() });
        assert_eq!(recv_once(b.as_raw_fd(), &mut buf, 0), Err(EAGAIN));
        drop(a);
        assert_eq!(recv_once(b.as_raw_fd(), &mut buf, 0), Ok(0));
        // SO_PEERCRED names the process that made the pair (us).
        let pc = peer_creds(b.as_raw_fd()).unwrap();
        assert_eq!(pc.pid, std::process::id() as i32);
        // SAFETY: plain getter.
        assert_eq!(pc.uid, unsafe { libc::geteuid() });
    }
}
