//! The socket transport (`QB_IPC_SOCKET`): one datagram per message over
//! abstract AF_UNIX datagram sockets named after the connection directory,
//! plus the shared control file with the `sent` counters and the client's
//! flow-control gate.
//!
//! Server side: `<base>-request` receives requests and (connected to the
//! client's `<base>-response`) sends responses; `<base>-event-tx` sends events
//! to `<base>-event`. Both connects happen on the first send, because the
//! client binds its sockets only after it has read the handshake response.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::sleep;
use std::time::Duration;

use libc::{EAGAIN, EINTR};

use crate::ipc::sock::{self, UnixAddr, errno};
use crate::ipc::wire::{CONTROL_EVENT, CONTROL_REQUEST, CONTROL_RESPONSE};

use super::conndir::file_name;
use super::connection::Auth;
use super::control::ControlFile;

/// Connect-on-first-send state of an outgoing channel.
const NOT_CONNECTED: u8 = 0;
const CONNECTED: u8 = 1;
const GAVE_UP: u8 = 2;

/// Waits between connect attempts: the client binds within moments of reading
/// the handshake response; about half a second in total, then one attempt per
/// send (libqb sleeps up to a second on every send).
const CONNECT_BACKOFF_MS: [u64; 10] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];

pub struct Channel {
    pub fd: OwnedFd,
    peer: UnixAddr,
    state: AtomicU8,
    control_entry: usize,
}

impl Channel {
    fn ensure_connected(&self) -> Result<(), i32> {
        let st = self.state.load(Ordering::Acquire);
        if st == CONNECTED {
            return Ok(());
        }
        let tries: &[u64] = if st == GAVE_UP {
            &[0]
        } else {
            &CONNECT_BACKOFF_MS
        };
        let mut last = libc::ECONNREFUSED;
        for ms in tries {
            if *ms > 0 {
                sleep(Duration::from_millis(*ms));
            }
            match sock::connect(self.fd.as_raw_fd(), &self.peer) {
                Ok(()) => {
                    self.state.store(CONNECTED, Ordering::Release);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        self.state.store(GAVE_UP, Ordering::Release);
        Err(last)
    }

    /// Sends `parts` as one datagram. The caller counts it in the control file.
    fn send(&self, parts: &[&[u8]]) -> Result<usize, i32> {
        self.ensure_connected()?;
        let mut stack = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 8];
        let mut heap = Vec::new();
        let iov: &mut [libc::iovec] = if parts.len() <= stack.len() {
            &mut stack[..parts.len()]
        } else {
            heap.resize(parts.len(), stack[0]);
            &mut heap[..]
        };
        for (v, p) in iov.iter_mut().zip(parts) {
            v.iov_base = p.as_ptr().cast_mut().cast();
            v.iov_len = p.len();
        }
        // SAFETY: zeroed msghdr is valid; iov outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        loop {
            // SAFETY: msg describes live buffers.
            let n = unsafe {
                libc::sendmsg(
                    self.fd.as_raw_fd(),
                    &msg,
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
}

pub struct SocketChannels {
    /// Receives requests; sends responses.
    pub request: Channel,
    /// Sends events.
    pub event: Channel,
    pub control: ControlFile,
    /// The client's request sender (its `-response` socket): datagrams from
    /// any other address are not this client's and are dropped.
    request_peer: UnixAddr,
}

impl SocketChannels {
    /// Creates the control file and the two server sockets; returns them with
    /// the names the handshake response carries (control file, socket base).
    pub fn create(
        description: &[u8],
        service: &[u8],
        max: u32,
        auth: Auth,
    ) -> Result<(SocketChannels, [Vec<u8>; 2]), i32> {
        let control_name = file_name(description, b"-control-", service);
        let base = file_name(description, b"-", service);
        let control = ControlFile::create(
            &String::from_utf8_lossy(&control_name),
            auth.uid,
            auth.gid,
            auth.mode,
        )?;
        let named = |suffix: &[u8]| {
            let mut n = base.clone();
            n.extend_from_slice(suffix);
            UnixAddr::dgram(&n)
        };
        let bound = |suffix: &[u8]| -> Result<OwnedFd, i32> {
            let fd = sock::socket(libc::SOCK_DGRAM)?;
            sock::bind(fd.as_raw_fd(), &named(suffix)?)?;
            sock::raise_buffers(fd.as_raw_fd(), max)?;
            Ok(fd)
        };
        let request_fd = bound(b"-request")?;
        let event_fd = bound(b"-event-tx")?;
        let response_peer = named(b"-response")?;
        let control_path = control.path().as_bytes().to_vec();
        let ch = SocketChannels {
            request: Channel {
                fd: request_fd,
                peer: response_peer,
                state: AtomicU8::new(NOT_CONNECTED),
                control_entry: CONTROL_RESPONSE,
            },
            event: Channel {
                fd: event_fd,
                peer: named(b"-event")?,
                state: AtomicU8::new(NOT_CONNECTED),
                control_entry: CONTROL_EVENT,
            },
            control,
            request_peer: response_peer,
        };
        Ok((ch, [control_path, base]))
    }
}

impl SocketChannels {
    pub fn request_fd(&self) -> RawFd {
        self.request.fd.as_raw_fd()
    }

    /// Sends a response (`event == false`) or an event as one datagram and
    /// counts it in the control file. EBADMSG when the client truncated that
    /// file (the datagram went out; the connection is broken).
    pub fn send(&self, event: bool, parts: &[&[u8]]) -> Result<usize, i32> {
        let ch = if event { &self.event } else { &self.request };
        let n = ch.send(parts)?;
        self.control.sent_add(ch.control_entry, 1)?;
        Ok(n)
    }

    /// Receives one request datagram into `buf` without blocking. Returns its
    /// full length (which may exceed `buf.len()`: the datagram was cut), or
    /// EAGAIN when there is none, EBADMSG when the control file is gone.
    /// Datagrams from strangers are dropped.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, i32> {
        loop {
            // SAFETY: zeroed sockaddr_un is a valid out-buffer.
            let mut from: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            let mut from_len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
            // SAFETY: valid buffers of the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    self.request.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut from as *mut libc::sockaddr_un).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = errno();
                if e == EINTR {
                    continue;
                }
                return Err(e);
            }
            let sender = UnixAddr {
                addr: from,
                len: from_len,
            };
            if sender.significant() != self.request_peer.significant() {
                crate::qb_util_log!(
                    libc::LOG_WARNING as u8,
                    "dropping a datagram from a foreign socket"
                );
                continue;
            }
            self.control.sent_add(CONTROL_REQUEST, -1)?;
            return Ok(n as usize);
        }
    }

    pub fn set_flow_control(&self, v: i32) -> Result<(), i32> {
        self.control.set_flow_control(v)
    }

    /// The client's count of requests sent and not yet received.
    pub fn requests_queued(&self) -> Result<i32, i32> {
        self.control.sent(CONTROL_REQUEST)
    }

    pub fn events_queued(&self) -> u32 {
        self.control
            .sent(CONTROL_EVENT)
            .map_or(0, |n| n.max(0) as u32)
    }
}

/// Reads and discards whatever arrived on a socket-mode setup socket:
/// Ok(false) at end of stream or on a hard error.
pub fn drain_liveness(fd: RawFd) -> bool {
    let mut buf = [0u8; 64];
    match sock::recv_once(fd, &mut buf, 0) {
        Ok(0) => false,
        Ok(_) | Err(EAGAIN) => true,
        Err(_) => false,
    }
}
