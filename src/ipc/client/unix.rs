//! Unix-socket plumbing the client needs: libqb's socket addresses, readiness
//! polls with a deadline, and send/recv wrappers that never raise SIGPIPE.
//! Every function returns `Err(errno)` (positive) on failure.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libc::{EINVAL, ENAMETOOLONG, c_int, c_void};

use crate::ipc::wire::{FORCE_FILESYSTEM_SOCKETS, SOCKADDR_UN_LEN, SOCKET_DIR};

pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// libqb uses filesystem sockets when the force file exists (checked with
/// libc's `stat`, once per process, as libqb does).
pub fn filesystem_sockets() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        let Ok(path) = std::ffi::CString::new(FORCE_FILESYSTEM_SOCKETS) else {
            return false;
        };
        // SAFETY: a zeroed stat is a valid out-buffer; NUL-terminated path.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::stat(path.as_ptr(), &mut st) == 0 }
    })
}

/// A `struct sockaddr_un` and the length libqb passes with it.
pub struct SockAddr {
    pub addr: libc::sockaddr_un,
    pub len: libc::socklen_t,
}

impl SockAddr {
    fn empty() -> SockAddr {
        // SAFETY: sockaddr_un is plain data; all zeroes is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        SockAddr {
            addr,
            len: SOCKADDR_UN_LEN,
        }
    }

    /// Abstract name: `sun_path[0] = 0`, the name (cut to 106 bytes, as
    /// libqb's `snprintf` does) after it, NUL padding, full-length address.
    pub fn abstract_name(name: &[u8]) -> SockAddr {
        let mut a = Self::empty();
        let room = a.addr.sun_path.len() - 2;
        for (dst, &b) in a.addr.sun_path[1..].iter_mut().zip(name.iter().take(room)) {
            *dst = b as libc::c_char;
        }
        a
    }

    /// Filesystem path, NUL-terminated inside `sun_path`; refused (instead of
    /// cut, which could name another file) when it does not fit.
    pub fn path(path: &[u8]) -> Result<SockAddr, i32> {
        let mut a = Self::empty();
        if path.len() >= a.addr.sun_path.len() || path.contains(&0) {
            return Err(ENAMETOOLONG);
        }
        for (dst, &b) in a.addr.sun_path.iter_mut().zip(path) {
            *dst = b as libc::c_char;
        }
        // SUN_LEN: family plus the path and its NUL.
        a.len = (2 + path.len() + 1) as libc::socklen_t;
        Ok(a)
    }

    /// Where a service listens: abstract `name`, or `SOCKET_DIR/name` in
    /// filesystem-socket mode.
    pub fn service(name: &[u8]) -> Result<SockAddr, i32> {
        if filesystem_sockets() {
            let mut p = Vec::with_capacity(SOCKET_DIR.len() + 1 + name.len());
            p.extend_from_slice(SOCKET_DIR.as_bytes());
            p.push(b'/');
            p.extend_from_slice(name);
            // libqb cuts the path to sun_path; do the same so we reach the
            // socket a stock server bound.
            p.truncate(107);
            Self::path(&p)
        } else {
            Ok(Self::abstract_name(name))
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.addr as *const libc::sockaddr_un).cast()
    }
}

/// A new non-blocking, close-on-exec unix socket.
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
    // SAFETY: we own the fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn connect(fd: &OwnedFd, a: &SockAddr) -> Result<(), i32> {
    loop {
        // SAFETY: valid fd and address of `a.len` bytes.
        if unsafe { libc::connect(fd.as_raw_fd(), a.as_ptr(), a.len) } == 0 {
            return Ok(());
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

pub fn bind(fd: &OwnedFd, a: &SockAddr) -> Result<(), i32> {
    // SAFETY: valid fd and address of `a.len` bytes.
    if unsafe { libc::bind(fd.as_raw_fd(), a.as_ptr(), a.len) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

pub fn set_int_opt(fd: RawFd, level: c_int, name: c_int, value: c_int) -> Result<(), i32> {
    // SAFETY: valid option buffer of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const c_int).cast(),
            size_of::<c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(errno()) }
}

pub fn get_int_opt(fd: RawFd, level: c_int, name: c_int) -> Result<c_int, i32> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: valid option buffer and length.
    let rc =
        unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut c_int).cast(), &mut len) };
    if rc == 0 { Ok(value) } else { Err(errno()) }
}

/// Raises the send and receive buffers to `size` when they are not above it
/// (libqb's rule: a buffer exactly `size` big did not take such a message).
pub fn raise_buffers(fd: RawFd, size: u32) -> Result<(), i32> {
    let want = c_int::try_from(size).unwrap_or(c_int::MAX);
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        let have = get_int_opt(fd, libc::SOL_SOCKET, opt)?;
        if have <= want {
            set_int_opt(fd, libc::SOL_SOCKET, opt, want)?;
        }
    }
    Ok(())
}

/// Milliseconds left until `deadline` (None = forever), as a poll timeout.
pub fn remaining_ms(deadline: Option<Instant>) -> c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            // Round up so a short remainder is not a busy poll.
            let ms = left.as_micros().div_ceil(1000);
            c_int::try_from(ms).unwrap_or(c_int::MAX)
        }
    }
}

pub fn deadline_after(ms: i32) -> Option<Instant> {
    if ms < 0 {
        None
    } else {
        Some(Instant::now() + Duration::from_millis(ms as u64))
    }
}

/// `poll(2)` on up to two descriptors, restarted on EINTR within the same
/// overall timeout. Returns the `revents` of each.
pub fn poll2(fds: &[(RawFd, i16)], timeout_ms: c_int) -> Result<[i16; 2], i32> {
    let mut pfd = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 2];
    let n = fds.len().min(2);
    for (p, &(fd, ev)) in pfd.iter_mut().zip(fds) {
        p.fd = fd;
        p.events = ev;
    }
    let deadline = deadline_after(timeout_ms);
    let mut t = timeout_ms;
    loop {
        // SAFETY: `pfd` holds `n` initialised entries.
        let rc = unsafe { libc::poll(pfd.as_mut_ptr(), n as libc::nfds_t, t) };
        if rc >= 0 {
            return Ok([pfd[0].revents, pfd[1].revents]);
        }
        match errno() {
            libc::EINTR => t = remaining_ms(deadline),
            e => return Err(e),
        }
    }
}

/// True when a stream socket's peer is gone: poll says hang-up or error, or
/// it is readable and a peek finds end-of-file.
pub fn stream_peer_gone(fd: RawFd, revents: i16) -> bool {
    if revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return true;
    }
    if revents & libc::POLLIN != 0 {
        let mut b = 0u8;
        // SAFETY: one-byte buffer.
        let rc = unsafe {
            libc::recv(
                fd,
                (&mut b as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if rc == 0 {
            return true;
        }
        if rc < 0 {
            let e = errno();
            return e != libc::EAGAIN && e != libc::EINTR;
        }
    }
    false
}

/// One non-blocking `send` with MSG_NOSIGNAL; returns the bytes sent.
#[inline]
pub fn send_once(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: valid buffer of buf.len() bytes.
        let rc = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Sends all of `buf` on a stream socket, waiting (until `deadline`) while the
/// socket is full; a hang-up ends the wait with ENOTCONN.
pub fn send_all(fd: RawFd, buf: &[u8], deadline: Option<Instant>) -> Result<(), i32> {
    let mut done = 0;
    while done < buf.len() {
        match send_once(fd, &buf[done..]) {
            Ok(n) => done += n,
            Err(libc::EAGAIN) => {
                let t = remaining_ms(deadline);
                if t == 0 {
                    return Err(libc::ETIMEDOUT);
                }
                let r = poll2(&[(fd, libc::POLLOUT)], t)?;
                if r[0] & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    return Err(libc::ENOTCONN);
                }
            }
            Err(libc::EPIPE) | Err(libc::ECONNRESET) => return Err(libc::ENOTCONN),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One non-blocking `recv`; `Ok(0)` is end-of-file.
#[inline]
pub fn recv_once(fd: RawFd, buf: *mut u8, len: usize, flags: c_int) -> Result<usize, i32> {
    loop {
        // SAFETY: caller passes a buffer valid for `len` bytes.
        let rc = unsafe { libc::recv(fd, buf.cast::<c_void>(), len, flags | libc::MSG_DONTWAIT) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Closes a socket the way libqb does (shutdown first, so a peer blocked on it
/// sees the hang-up even if a forked child still holds a copy).
pub fn shutdown_close(fd: OwnedFd) {
    // SAFETY: valid descriptor; errors are irrelevant here.
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
    drop(fd);
}

/// Checks a name for a filesystem path component: non-empty, no NUL.
pub fn plain_name(name: &[u8]) -> Result<(), i32> {
    if name.is_empty() || name.contains(&0) {
        Err(EINVAL)
    } else {
        Ok(())
    }
}
