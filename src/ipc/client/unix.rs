//! Client-only unix-socket plumbing on top of the shared helpers in
//! `crate::ipc::sock`: connect addresses that count the path's NUL, connects
//! restarted on EINTR, readiness polls with a deadline, and sends that wait
//! for room. Every function returns `Err(errno)` (positive) on failure.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::{EINVAL, c_int};

use crate::ipc::sock::{self, UnixAddr, errno};

/// The client connects to a filesystem socket with the path's terminating NUL
/// counted in the length (one more than the server's `SUN_LEN`).
fn nul_counted(mut a: UnixAddr) -> UnixAddr {
    a.len += 1;
    a
}

/// A filesystem path address as the client connects to it; refused (instead
/// of cut, which could name another file) when it does not fit.
pub fn path_addr(path: &[u8]) -> Result<UnixAddr, i32> {
    UnixAddr::path(path).map(nul_counted)
}

/// Where a service listens, as the client connects to it: abstract `name`,
/// or `SOCKET_DIR/name` (cut as libqb cuts it) in filesystem-socket mode.
pub fn service_addr(name: &[u8]) -> Result<UnixAddr, i32> {
    let a = UnixAddr::service(name)?;
    Ok(if sock::use_filesystem_sockets() {
        nul_counted(a)
    } else {
        a
    })
}

/// `connect(2)`, restarted when a signal interrupts it.
pub fn connect(fd: &OwnedFd, a: &UnixAddr) -> Result<(), i32> {
    loop {
        match sock::connect(fd.as_raw_fd(), a) {
            Err(libc::EINTR) => continue,
            r => return r,
        }
    }
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

/// Sends all of `buf` on a stream socket, waiting (until `deadline`) while the
/// socket is full; a hang-up ends the wait with ENOTCONN.
pub fn send_all(fd: RawFd, buf: &[u8], deadline: Option<Instant>) -> Result<(), i32> {
    let mut done = 0;
    while done < buf.len() {
        match sock::send_once(fd, &buf[done..]) {
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

/// One non-blocking `recv` into `len` bytes at `buf` (the caller's buffer may
/// be user memory); `Ok(0)` is end-of-file.
#[inline]
pub fn recv_once(fd: RawFd, buf: *mut u8, len: usize, flags: c_int) -> Result<usize, i32> {
    // SAFETY: callers pass a buffer valid for `len` bytes.
    unsafe { sock::recv_raw(fd, buf, len, flags | libc::MSG_DONTWAIT) }
}

/// Closes a socket the way libqb does (shutdown first, so a peer blocked on it
/// sees the hang-up even if a forked child still holds a copy).
pub fn shutdown_close(fd: OwnedFd) {
    sock::shutdown(&fd);
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
