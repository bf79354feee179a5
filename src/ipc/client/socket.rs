//! SOCKET transport, client side (libqb-abi.md §5.1, §5.5): one datagram per
//! message on two connected datagram sockets (requests out and responses in
//! on `<base>-response`, events in on `<base>-event`), and the 24-byte control
//! file whose `sent` counters both sides change atomically and whose request
//! entry carries the flow-control flag. The server (or anyone with access) may
//! truncate that file: it is only touched through the ring buffer's
//! fault-guarded primitives, so that gives EBADMSG (and the connection is
//! considered gone) instead of SIGBUS.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use libc::{EAGAIN, EINVAL, EMSGSIZE, ENOTCONN, ETIMEDOUT};

use super::cleanup;
use super::unix;
use crate::ipc::control_words::{ControlWords, SENT};
use crate::ipc::sock::{self, UnixAddr};
use crate::ipc::wire::{
    CONTROL_EVENT, CONTROL_FILE_SIZE, CONTROL_REQUEST, CONTROL_RESPONSE, SOCKET_DIR,
};

/// The mapped control file.
struct Control {
    words: ControlWords,
    /// The file, if it may be removed at disconnect.
    leftovers: Option<cleanup::Leftovers>,
}

impl Control {
    fn open(name: &CStr) -> Result<Control, i32> {
        let bytes = name.to_bytes();
        unix::plain_name(bytes)?;
        let candidates: Vec<Vec<u8>> = if bytes.contains(&b'/') {
            vec![bytes.to_vec()]
        } else {
            // Old peers send a bare name.
            vec![
                [b"/dev/shm/qb-".as_slice(), bytes].concat(),
                [SOCKET_DIR.as_bytes(), b"/", bytes].concat(),
            ]
        };
        let mut last = EINVAL;
        for c in candidates {
            let path = CString::new(c).map_err(|_| EINVAL)?;
            match Self::map(&path) {
                Ok(ctl) => return Ok(ctl),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn map(path: &CStr) -> Result<Control, i32> {
        // SAFETY: NUL-terminated path.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(sock::errno());
        }
        // SAFETY: we own the fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(sock::errno());
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(EINVAL);
        }
        // libqb's opener sizes the file; we only ever grow it.
        if (st.st_size as u64) < CONTROL_FILE_SIZE as u64
            && unsafe { libc::ftruncate(fd.as_raw_fd(), CONTROL_FILE_SIZE as libc::off_t) } != 0
        {
            return Err(sock::errno());
        }
        Ok(Control {
            words: ControlWords::map(fd.as_raw_fd())?,
            leftovers: cleanup::Leftovers::record(std::iter::once(path)),
        })
    }

    /// `sent` (field 0) or `flow_control` (field 1) of entry `which`.
    #[inline]
    fn load(&self, which: usize, field: usize) -> Result<i32, i32> {
        self.words.load(which, field)
    }

    /// Atomically adds `delta` to the `sent` counter of entry `which`.
    #[inline]
    fn sent_add(&self, which: usize, delta: i32) -> Result<(), i32> {
        self.words.add(which, SENT, delta)
    }
}

impl Control {
    /// Unmaps and (as libqb's client does) removes the control file and the
    /// then empty connection directory.
    fn remove_file(mut self) {
        let l = self.leftovers.take();
        drop(self);
        if let Some(l) = l {
            l.remove(false);
        }
    }
}

pub struct Socket {
    ctl: Control,
    /// Sends requests, receives responses.
    request: OwnedFd,
    /// Receives events.
    event: OwnedFd,
    /// Filesystem paths we bound (filesystem-socket mode with bare names).
    bound: Vec<CString>,
}

/// `<base>-<suffix>`, addressed as libqb does: abstract for names starting
/// with '/' or without filesystem sockets, else a path under SOCKET_DIR.
fn dgram_addr(base: &[u8], suffix: &str) -> Result<(UnixAddr, Option<CString>), i32> {
    let name = [base, b"-", suffix.as_bytes()].concat();
    if base.first() == Some(&b'/') || !sock::use_filesystem_sockets() {
        return Ok((UnixAddr::abstract_name(&name), None));
    }
    // A bare name must stay a bare name (it comes from the server).
    if base.contains(&b'/') {
        return Err(EINVAL);
    }
    let path = [SOCKET_DIR.as_bytes(), b"/", &name].concat();
    let a = unix::path_addr(&path)?;
    Ok((a, Some(CString::new(path).map_err(|_| EINVAL)?)))
}

/// Removes a stale socket file (never anything else) before binding.
fn unlink_socket_file(path: &CStr) {
    // SAFETY: zeroed stat is a valid out-buffer; NUL-terminated path.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::lstat(path.as_ptr(), &mut st) } == 0
        && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    {
        unsafe { libc::unlink(path.as_ptr()) };
    }
}

fn dgram_connect(
    base: &[u8],
    local: &str,
    remote: &str,
    max_msg_size: u32,
    gid: libc::gid_t,
    bound: &mut Vec<CString>,
) -> Result<OwnedFd, i32> {
    let fd = sock::socket(libc::SOCK_DGRAM)?;
    let (la, lpath) = dgram_addr(base, local)?;
    let mut la = la;
    // libqb binds with the full structure length in both modes.
    la.len = crate::ipc::wire::SOCKADDR_UN_LEN;
    if let Some(p) = &lpath {
        unlink_socket_file(p);
    }
    sock::bind(fd.as_raw_fd(), &la)?;
    if let Some(p) = lpath {
        // SAFETY: NUL-terminated path; failures only matter to the peer's
        // access, and libqb ignores them too.
        unsafe {
            libc::chmod(p.as_ptr(), 0o660);
            libc::chown(p.as_ptr(), u32::MAX, gid);
        }
        bound.push(p);
    }
    let (ra, _) = dgram_addr(base, remote)?;
    unix::connect(&fd, &ra)?;
    sock::raise_buffers(fd.as_raw_fd(), max_msg_size)?;
    Ok(fd)
}

impl Socket {
    pub fn open(
        control: &CStr,
        base: &CStr,
        max_msg_size: u32,
        server_gid: libc::gid_t,
    ) -> Result<Socket, i32> {
        let ctl = Control::open(control)?;
        let base = base.to_bytes();
        let mut bound = Vec::new();
        let made = dgram_connect(
            base,
            "response",
            "request",
            max_msg_size,
            server_gid,
            &mut bound,
        )
        .and_then(|request| {
            let event = dgram_connect(
                base,
                "event",
                "event-tx",
                max_msg_size,
                server_gid,
                &mut bound,
            )?;
            Ok((request, event))
        });
        match made {
            Ok((request, event)) => Ok(Socket {
                ctl,
                request,
                event,
                bound,
            }),
            Err(e) => {
                for p in &bound {
                    unlink_socket_file(p);
                }
                ctl.remove_file();
                Err(e)
            }
        }
    }

    pub fn event_fd(&self) -> RawFd {
        self.event.as_raw_fd()
    }

    #[inline]
    pub fn flow_control(&self) -> Result<i32, i32> {
        self.ctl.load(CONTROL_REQUEST, 1)
    }

    #[inline]
    pub fn send(&self, msg: &[u8]) -> Result<usize, i32> {
        let n = sock::send_once(self.request.as_raw_fd(), msg)?;
        if n == msg.len() {
            self.ctl.sent_add(CONTROL_REQUEST, 1)?;
        }
        Ok(n)
    }

    #[inline]
    pub fn sendv(&self, parts: &[libc::iovec]) -> Result<usize, i32> {
        // SAFETY: msghdr is plain data; zero is a valid start.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = parts.as_ptr().cast_mut();
        msg.msg_iovlen = parts.len();
        let n = loop {
            // SAFETY: the caller's iovecs describe readable memory; the kernel
            // only reads through msg_iov.
            let rc = unsafe {
                libc::sendmsg(
                    self.request.as_raw_fd(),
                    &msg,
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if rc >= 0 {
                break rc as usize;
            }
            match sock::errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        };
        if n > 0 {
            self.ctl.sent_add(CONTROL_REQUEST, 1)?;
        }
        Ok(n)
    }

    /// One response: ETIMEDOUT when none came in time.
    #[inline]
    pub fn recv(&self, setup: RawFd, out: *mut u8, cap: usize, ms: i32) -> Result<usize, i32> {
        let fd = self.request.as_raw_fd();
        match recv_dgram(fd, out, cap) {
            Err(EAGAIN) => {}
            r => return self.counted(CONTROL_RESPONSE, r),
        }
        match wait_dgram(fd, setup, ms) {
            Ok(()) => self.counted(CONTROL_RESPONSE, recv_dgram(fd, out, cap)),
            Err(EAGAIN) => Err(ETIMEDOUT),
            Err(e) => Err(e),
        }
    }

    /// One event: EAGAIN when none came in time (as libqb).
    pub fn event_recv(
        &self,
        setup: RawFd,
        out: *mut u8,
        cap: usize,
        ms: i32,
    ) -> Result<usize, i32> {
        let fd = self.event.as_raw_fd();
        match recv_dgram(fd, out, cap) {
            Err(EAGAIN) => {}
            r => return self.counted(CONTROL_EVENT, r),
        }
        wait_dgram(fd, setup, ms)?;
        match recv_dgram(fd, out, cap) {
            Err(EAGAIN) => Err(EAGAIN),
            r => self.counted(CONTROL_EVENT, r),
        }
    }

    /// A datagram was consumed (even one too big for the caller): count it.
    /// A truncated control file turns the result into EBADMSG.
    #[inline]
    fn counted(&self, which: usize, r: Result<usize, i32>) -> Result<usize, i32> {
        match r {
            Ok(_) | Err(EMSGSIZE) => {
                self.ctl.sent_add(which, -1)?;
            }
            Err(_) => {}
        }
        r
    }

    /// Teardown: unlink the control file (as libqb's client does) and, once
    /// empty, the connection directory; close the sockets.
    pub fn close(self) {
        let Socket {
            ctl,
            request,
            event,
            bound,
        } = self;
        ctl.remove_file();
        for p in &bound {
            unlink_socket_file(p);
        }
        unix::shutdown_close(event);
        unix::shutdown_close(request);
    }
}

/// Receives one whole datagram into `out`. A datagram larger than `cap` is
/// consumed and reported as EMSGSIZE (libqb would overrun the buffer).
#[inline]
fn recv_dgram(fd: RawFd, out: *mut u8, cap: usize) -> Result<usize, i32> {
    let n = unix::recv_once(fd, out, cap, libc::MSG_TRUNC)?;
    if n > cap { Err(EMSGSIZE) } else { Ok(n) }
}

/// Waits until `fd` is readable (Ok), the time is up (EAGAIN) or the server
/// hung up the setup socket (ENOTCONN). `ms < 0` waits until one of those.
fn wait_dgram(fd: RawFd, setup: RawFd, ms: i32) -> Result<(), i32> {
    let deadline = unix::deadline_after(ms);
    loop {
        let t = unix::remaining_ms(deadline);
        let r = unix::poll2(&[(fd, libc::POLLIN), (setup, libc::POLLIN)], t)?;
        if r[0] != 0 {
            return Ok(());
        }
        if r[1] == 0 {
            // poll timed out.
            return Err(EAGAIN);
        }
        if unix::stream_peer_gone(setup, r[1]) {
            return Err(ENOTCONN);
        }
        // Stray bytes on the setup socket (none are expected in this mode):
        // drop them so the next poll does not return at once.
        let mut junk = [0u8; 64];
        let _ = unix::recv_once(setup, junk.as_mut_ptr(), junk.len(), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rb::guarded;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_truncated_control_file_gives_errors_not_sigbus() {
        let path = format!("/dev/shm/qb-rs-cctl-test-{}", std::process::id());
        std::fs::write(&path, [0u8; CONTROL_FILE_SIZE]).unwrap();
        let cpath = CString::new(path.clone()).unwrap();
        let ctl = Control::map(&cpath).unwrap();
        ctl.sent_add(CONTROL_REQUEST, 2).unwrap();
        assert_eq!(ctl.load(CONTROL_REQUEST, 0), Ok(2));
        // The server (or anyone who may write it) shrinks the file.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(ctl.load(CONTROL_REQUEST, 1), Err(guarded::FAULT_ERRNO));
        assert_eq!(ctl.sent_add(CONTROL_EVENT, -1), Err(guarded::FAULT_ERRNO));
        drop(ctl);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn datagram_names_follow_libqb() {
        let (a, p) = dgram_addr(b"/dev/shm/qb-1-2-3-x/qb-svc", "request").unwrap();
        assert!(p.is_none());
        assert_eq!(a.addr.sun_path[0], 0);
        let name: Vec<u8> = a.addr.sun_path[1..]
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        assert_eq!(name, b"/dev/shm/qb-1-2-3-x/qb-svc-request");
        // Long names are cut to 106 bytes like libqb's snprintf.
        let long = vec![b'/'; 200];
        let (a, _) = dgram_addr(&long, "event").unwrap();
        assert_eq!(a.addr.sun_path[107], 0);
        assert_ne!(a.addr.sun_path[106], 0);
    }
}
