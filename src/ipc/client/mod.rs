//! The IPC client (qbipcc.h): connects to a libqb service (stock or ours),
//! then sends requests and receives responses and events over the transport
//! the server chose — shared-memory rings ([`shm`]) or datagram sockets
//! ([`socket`]) — with libqb's timeout and error semantics.
//!
//! A connection is made in two steps so that `qb_ipcc_connect_async` can
//! hand the setup socket to the caller's poll loop between them:
//! [`Client::start`] sends the hello, [`Client::finish`] takes the answer.
//!
//! Every wait is bounded or watches the setup socket, so a dead server is
//! noticed within `MAX_WAIT_MS`; everything the server sent is validated
//! ([`handshake`]); leftover files of a dead server are removed only at
//! paths shaped like libqb's connection directories ([`cleanup`]).
//!
//! All methods take `&self`: C callers may use one connection from several
//! threads as libqb permits (e.g. events on one, requests on another).

mod cleanup;
mod dgram_probe;
pub mod handshake;
pub(crate) mod shm;
mod socket;
mod unix;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use libc::{EAGAIN, EINTR, EINVAL, EMSGSIZE, ENOMSG, ENOTCONN, ETIMEDOUT, c_void};

pub use dgram_probe::verify_dgram_max_msg_size;
pub use handshake::Credentials;

use handshake::Kind;
use shm::Shm;
use socket::Socket;

/// Longest single wait before the client checks that the server is alive.
pub const MAX_WAIT_MS: i32 = crate::ipc::wire::MAX_WAIT_MS;

// The SHM variant is larger, but a transport lives in place inside the boxed
// client for the whole connection and is never moved: no need to box it.
#[allow(clippy::large_enum_variant)]
enum Transport {
    Shm(Shm),
    Socket(Socket),
}

/// What the server's answer established.
struct Ready {
    transport: Transport,
    max_msg_size: u32,
    server: Credentials,
}

pub struct Client {
    setup: OwnedFd,
    ready: Option<Ready>,
    connected: AtomicBool,
    fc_enable_max: AtomicU32,
    context: AtomicPtr<c_void>,
}

/// libqb's list of errors that do not mean the connection is gone.
fn is_disconnect(e: i32) -> bool {
    !matches!(e, EAGAIN | ETIMEDOUT | EINTR | EMSGSIZE | ENOMSG | EINVAL)
}

/// kill(pid, 0) says the process is gone, asked up to 4 times 10 ms apart
/// (libqb's patience with a server that is still exiting).
fn process_gone(pid: libc::pid_t) -> bool {
    if pid <= 0 {
        return false;
    }
    for attempt in 0..4 {
        // SAFETY: signal 0 only checks for existence.
        if unsafe { libc::kill(pid, 0) } == -1 && crate::ipc::sock::errno() == libc::ESRCH {
            return true;
        }
        if attempt < 3 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    false
}

impl Client {
    /// Connects the setup socket to service `name` and sends the hello
    /// (`qb_ipcc_connect_async`).
    pub fn start(name: &[u8], max_msg_size: usize) -> Result<Box<Client>, i32> {
        let setup = handshake::start(name, handshake::requested_size(max_msg_size))?;
        Ok(Box::new(Client {
            setup,
            ready: None,
            connected: AtomicBool::new(false),
            fc_enable_max: AtomicU32::new(1),
            context: AtomicPtr::new(std::ptr::null_mut()),
        }))
    }

    /// Takes the server's answer and opens the transport
    /// (`qb_ipcc_connect_continue`).
    pub fn finish(&mut self) -> Result<(), i32> {
        if self.ready.is_some() {
            return Err(libc::EISCONN);
        }
        let fd = self.setup.as_raw_fd();
        let a = handshake::finish(fd, handshake::ANSWER_WAIT_MS)?;
        let transport = match a.kind {
            Kind::Shm => Transport::Shm(Shm::open(
                &a.request,
                &a.response,
                &a.event,
                a.max_msg_size,
                shm::patience_for(a.creds.pid),
            )?),
            Kind::Socket => Transport::Socket(Socket::open(
                &a.request,
                &a.response,
                a.max_msg_size,
                a.creds.gid,
            )?),
        };
        self.ready = Some(Ready {
            transport,
            max_msg_size: a.max_msg_size,
            server: a.creds,
        });
        self.fc_enable_max.store(1, Ordering::Relaxed);
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    /// `qb_ipcc_connect`.
    pub fn connect(name: &[u8], max_msg_size: usize) -> Result<Box<Client>, i32> {
        let mut c = Self::start(name, max_msg_size)?;
        c.finish()?;
        Ok(c)
    }

    #[inline]
    fn ready(&self) -> Result<&Ready, i32> {
        self.ready.as_ref().ok_or(ENOTCONN)
    }

    #[inline]
    fn setup_fd(&self) -> RawFd {
        self.setup.as_raw_fd()
    }

    /// Marks the connection down when `r` is an error that means so.
    #[inline]
    fn checked<T>(&self, r: Result<T, i32>) -> Result<T, i32> {
        if let Err(e) = r
            && is_disconnect(e)
        {
            self.connected.store(false, Ordering::Release);
        }
        r
    }

    /// The send gate: the transport's flow-control value against our limit.
    #[inline]
    fn may_send(&self, r: &Ready) -> Result<(), i32> {
        let fc = match &r.transport {
            Transport::Shm(s) => s.flow_control()?,
            Transport::Socket(s) => s.flow_control()?,
        };
        if fc > 0 && fc as u32 <= self.fc_enable_max.load(Ordering::Relaxed) {
            return Err(EAGAIN);
        }
        Ok(())
    }

    /// `qb_ipcc_send`.
    #[inline]
    pub fn send(&self, msg: &[u8]) -> Result<usize, i32> {
        let r = self.ready()?;
        if msg.len() > r.max_msg_size as usize {
            return Err(EMSGSIZE);
        }
        self.checked(self.may_send(r))?;
        let res = match &r.transport {
            Transport::Shm(s) => s.send(msg).and_then(|n| {
                if n == msg.len() {
                    // libqb's doorbell is the message's first byte.
                    shm::ring_doorbell(self.setup_fd(), msg.first().copied().unwrap_or(0))?;
                }
                Ok(n)
            }),
            Transport::Socket(s) => s.send(msg),
        };
        self.checked(res)
    }

    /// `qb_ipcc_sendv`.
    #[inline]
    pub fn sendv(&self, iov: &[libc::iovec]) -> Result<usize, i32> {
        let r = self.ready()?;
        let total = iov
            .iter()
            .try_fold(0usize, |t, v| t.checked_add(v.iov_len))
            .ok_or(EMSGSIZE)?;
        if total > r.max_msg_size as usize {
            return Err(EMSGSIZE);
        }
        self.checked(self.may_send(r))?;
        let res = match &r.transport {
            Transport::Shm(s) => s.sendv(iov).and_then(|n| {
                if n > 0 {
                    // libqb's doorbell is the low byte of the length sent.
                    shm::ring_doorbell(self.setup_fd(), n as u8)?;
                }
                Ok(n)
            }),
            Transport::Socket(s) => s.sendv(iov),
        };
        self.checked(res)
    }

    /// `qb_ipcc_recv`: one response into `out` (`cap` bytes). `ms < 0`
    /// waits until one comes or the server goes, `0` only tries.
    ///
    /// # Safety
    /// `out` must be valid for `cap` bytes of writes.
    #[inline]
    pub unsafe fn recv(&self, out: *mut u8, cap: usize, ms: i32) -> Result<usize, i32> {
        let r = self.ready()?;
        let res = match &r.transport {
            Transport::Shm(s) => s.recv(self.setup_fd(), out, cap, ms),
            Transport::Socket(s) => s.recv(self.setup_fd(), out, cap, ms),
        };
        self.checked(res)
    }

    /// `qb_ipcc_sendv_recv`.
    ///
    /// # Safety
    /// As for [`Client::recv`].
    pub unsafe fn sendv_recv(
        &self,
        iov: &[libc::iovec],
        out: *mut u8,
        cap: usize,
        ms: i32,
    ) -> Result<usize, i32> {
        self.checked(self.may_send(self.ready()?))?;
        self.sendv(iov)?;
        // SAFETY: per this function's contract.
        unsafe { self.recv(out, cap, ms) }
    }

    /// `qb_ipcc_event_recv`: one event; EAGAIN when none came in time.
    ///
    /// # Safety
    /// As for [`Client::recv`].
    pub unsafe fn event_recv(&self, out: *mut u8, cap: usize, ms: i32) -> Result<usize, i32> {
        let r = self.ready()?;
        let res = match &r.transport {
            Transport::Shm(s) => s.event_recv(self.setup_fd(), out, cap, ms),
            Transport::Socket(s) => s.event_recv(self.setup_fd(), out, cap, ms),
        };
        self.checked(res)
    }

    /// Looks (without waiting) for a hang-up of the server.
    fn refresh_connected(&self) {
        let Some(r) = self.ready.as_ref() else {
            return;
        };
        let gone = match &r.transport {
            Transport::Shm(_) => shm::server_gone(self.setup_fd()),
            Transport::Socket(_) => match unix::poll2(&[(self.setup_fd(), libc::POLLIN)], 0) {
                Ok(rev) => rev[0] != 0 && unix::stream_peer_gone(self.setup_fd(), rev[0]),
                Err(_) => true,
            },
        };
        if gone {
            self.connected.store(false, Ordering::Release);
        }
    }

    /// `qb_ipcc_is_connected`.
    pub fn is_connected(&self) -> bool {
        self.refresh_connected();
        self.ready.is_some() && self.connected.load(Ordering::Acquire)
    }

    /// `qb_ipcc_fd_get`: the setup socket for SHM (doorbells announce
    /// events there), the event socket for SOCKET.
    pub fn fd(&self) -> RawFd {
        match self.ready.as_ref().map(|r| &r.transport) {
            Some(Transport::Socket(s)) => s.event_fd(),
            _ => self.setup_fd(),
        }
    }

    /// `qb_ipcc_fc_enable_max_set`.
    pub fn set_fc_enable_max(&self, max: u32) -> Result<(), i32> {
        if max > 2 {
            return Err(EINVAL);
        }
        self.fc_enable_max.store(max, Ordering::Relaxed);
        Ok(())
    }

    /// `qb_ipcc_get_buffer_size` (0 before the connection is complete).
    pub fn buffer_size(&self) -> u32 {
        self.ready.as_ref().map_or(0, |r| r.max_msg_size)
    }

    /// `qb_ipcc_auth_get`: the server's pid, uid and gid (zero before the
    /// connection is complete).
    pub fn server_credentials(&self) -> Credentials {
        self.ready
            .as_ref()
            .map_or(Credentials::default(), |r| r.server)
    }

    pub fn set_context(&self, ctx: *mut c_void) {
        self.context.store(ctx, Ordering::Relaxed);
    }

    pub fn context(&self) -> *mut c_void {
        self.context.load(Ordering::Relaxed)
    }

    /// `qb_ipcc_disconnect`: closes everything; after a server that died,
    /// also removes what it left in /dev/shm.
    pub fn disconnect(self: Box<Self>) {
        self.refresh_connected();
        let connected = self.connected.load(Ordering::Acquire);
        let Client { setup, ready, .. } = *self;
        unix::shutdown_close(setup);
        let Some(ready) = ready else {
            return;
        };
        match ready.transport {
            Transport::Shm(s) => {
                let dead = !connected && process_gone(ready.server.pid);
                s.close(dead);
            }
            Transport::Socket(s) => s.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_errors_follow_libqb() {
        for e in [EAGAIN, ETIMEDOUT, EINTR, EMSGSIZE, ENOMSG, EINVAL] {
            assert!(!is_disconnect(e));
        }
        for e in [
            ENOTCONN,
            libc::ECONNRESET,
            libc::EPIPE,
            libc::ENOBUFS,
            libc::EBADMSG,
        ] {
            assert!(is_disconnect(e));
        }
    }

    #[test]
    fn connecting_to_nobody_fails_cleanly() {
        let name = format!("qb-ipcc-unit-nobody-{}", std::process::id());
        assert_eq!(
            Client::connect(name.as_bytes(), 0).err(),
            Some(libc::ECONNREFUSED)
        );
        assert_eq!(Client::connect(b"a\0b", 0).err(), Some(EINVAL));
    }

    #[test]
    fn a_live_pid_is_not_gone() {
        assert!(!process_gone(std::process::id() as libc::pid_t));
        assert!(!process_gone(0));
    }
}
