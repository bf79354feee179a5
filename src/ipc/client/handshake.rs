//! The connection handshake (libqb-abi.md §5.2), client side: connect the
//! setup stream socket, send the 24-byte hello, and later take the server's
//! 12328-byte answer together with its kernel-supplied credentials.
//!
//! Everything in the answer comes from the server and is checked here before
//! anything else looks at it: the error code, the transport type, the buffer
//! size (clamped) and the three names (NUL-terminated inside their fields).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use libc::{EINVAL, ENOTSUP, EPROTO};

use super::unix;
use crate::ipc::sock;
use crate::ipc::wire::{ConnectionRequest, ConnectionResponse, MIN_MSG_SIZE, PATH_FIELD};

/// The largest buffer size we accept from a server (it is reported back to
/// callers as an `int32_t`).
pub const MAX_NEGOTIATED: u32 = i32::MAX as u32;

/// How long a synchronous connect (or `connect_continue`) waits for the
/// server's answer. libqb waits forever; a server that accepts and then stalls
/// must not hang its clients.
pub const ANSWER_WAIT_MS: i32 = 60_000;

/// Credentials the kernel attached to the server's answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub pid: libc::pid_t,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// Which transport the server chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Socket,
    Shm,
}

/// The server's answer, validated.
pub struct Accepted {
    pub kind: Kind,
    pub max_msg_size: u32,
    pub request: CString,
    pub response: CString,
    pub event: CString,
    pub creds: Credentials,
}

/// What a client asks for: at least the size of the handshake answer.
pub fn requested_size(max_msg_size: usize) -> u32 {
    let m = max_msg_size.max(MIN_MSG_SIZE as usize);
    u32::try_from(m).unwrap_or(u32::MAX)
}

/// Connects to service `name` and sends the hello. Returns the setup socket.
pub fn start(name: &[u8], max_msg_size: u32) -> Result<OwnedFd, i32> {
    if name.contains(&0) {
        return Err(EINVAL);
    }
    // libqb keeps at most NAME_MAX - 1 bytes of the name.
    let name = &name[..name.len().min(254)];
    let fd = sock::socket(libc::SOCK_STREAM)?;
    unix::connect(&fd, &unix::service_addr(name)?)?;
    sock::set_int_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1)?;
    let hello = ConnectionRequest::new(max_msg_size);
    // SAFETY: ConnectionRequest is a padded repr(C) struct of plain integers
    // (padding is zeroed by `new`), viewed as its bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&hello as *const ConnectionRequest).cast::<u8>(),
            size_of::<ConnectionRequest>(),
        )
    };
    // A fresh socket always has room for 24 bytes; the deadline is a guard.
    unix::send_all(fd.as_raw_fd(), bytes, unix::deadline_after(unix_wait_ms()))?;
    Ok(fd)
}

fn unix_wait_ms() -> i32 {
    super::MAX_WAIT_MS
}

/// Receives the answer on `fd` (waiting at most `wait_ms`), switches
/// credential passing off again and validates what the server sent.
pub fn finish(fd: RawFd, wait_ms: i32) -> Result<Accepted, i32> {
    let mut answer = Box::<ConnectionResponse>::default();
    let got = receive_answer(fd, &mut answer, wait_ms);
    let off = sock::set_int_opt(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, 0);
    let creds = got?;
    off?;
    validate(&answer, creds)
}

fn receive_answer(
    fd: RawFd,
    answer: &mut ConnectionResponse,
    wait_ms: i32,
) -> Result<Credentials, i32> {
    let total = size_of::<ConnectionResponse>();
    let base = (answer as *mut ConnectionResponse).cast::<u8>();
    let deadline = unix::deadline_after(wait_ms);
    let mut done = 0usize;
    let mut creds = None;
    while done < total {
        // SAFETY: `base + done .. base + total` lies inside `answer`, and any
        // byte pattern is a valid ConnectionResponse (plain integers/arrays).
        match recv_with_creds(fd, unsafe { base.add(done) }, total - done) {
            Ok((0, _)) => return Err(libc::ENOTCONN),
            Ok((n, c)) => {
                done += n;
                if creds.is_none() {
                    creds = c;
                }
            }
            Err(libc::EAGAIN) => wait_readable(fd, deadline)?,
            Err(libc::ECONNRESET) | Err(libc::EPIPE) => return Err(libc::ENOTCONN),
            Err(e) => return Err(e),
        }
    }
    // With SO_PASSCRED on, Linux attaches credentials to every message.
    creds.ok_or(EPROTO)
}

fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> Result<(), i32> {
    let t = unix::remaining_ms(deadline);
    if t == 0 {
        return Err(libc::ETIMEDOUT);
    }
    let r = unix::poll2(&[(fd, libc::POLLIN)], t)?;
    if r[0] & (libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(libc::ENOTCONN);
    }
    // POLLHUP with data still queued: the next recv drains it, then sees EOF.
    Ok(())
}

/// Control buffer for one `struct ucred` (CMSG_SPACE(12) = 32), aligned for
/// `cmsghdr`.
#[repr(C, align(8))]
struct CredBuf([u8; 64]);

fn recv_with_creds(
    fd: RawFd,
    buf: *mut u8,
    len: usize,
) -> Result<(usize, Option<Credentials>), i32> {
    let mut iov = libc::iovec {
        iov_base: buf.cast(),
        iov_len: len,
    };
    let mut control = CredBuf([0; 64]);
    // SAFETY: msghdr is plain data; zero is a valid start.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    let n = loop {
        // SAFETY: msg points at live buffers of the lengths it records.
        let rc = unsafe {
            libc::recvmsg(
                fd,
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_CMSG_CLOEXEC,
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
    Ok((n, credentials_of(&msg)))
}

fn credentials_of(msg: &libc::msghdr) -> Option<Credentials> {
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled,
    // staying within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let h = &*cmsg;
            if h.cmsg_level == libc::SOL_SOCKET
                && h.cmsg_type == libc::SCM_CREDENTIALS
                && h.cmsg_len as usize >= libc::CMSG_LEN(size_of::<libc::ucred>() as u32) as usize
            {
                let uc = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                return Some(Credentials {
                    pid: uc.pid,
                    uid: uc.uid,
                    gid: uc.gid,
                });
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// The errno a server's `hdr.error` stands for (libqb sends `-errno`).
fn server_errno(e: i32) -> i32 {
    match e.checked_neg() {
        Some(v) if (1..4096).contains(&v) => v,
        _ => EPROTO,
    }
}

/// A name field: its bytes up to the first NUL, which must lie in the field.
fn name_field(field: &[u8; PATH_FIELD]) -> Result<CString, i32> {
    let nul = field.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    CString::new(&field[..nul]).map_err(|_| EINVAL)
}

pub fn validate(a: &ConnectionResponse, creds: Credentials) -> Result<Accepted, i32> {
    if a.hdr.error != 0 {
        return Err(server_errno(a.hdr.error));
    }
    let kind = match a.connection_type {
        0 => Kind::Socket,
        1 => Kind::Shm,
        2 | 3 => return Err(ENOTSUP),
        _ => return Err(EINVAL),
    };
    if a.max_msg_size == 0 {
        return Err(EPROTO);
    }
    Ok(Accepted {
        kind,
        max_msg_size: a.max_msg_size.min(MAX_NEGOTIATED),
        request: name_field(&a.request)?,
        response: name_field(&a.response)?,
        event: name_field(&a.event)?,
        creds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> ConnectionResponse {
        let mut a = ConnectionResponse {
            connection_type: 1,
            max_msg_size: 20000,
            ..ConnectionResponse::default()
        };
        a.request[..3].copy_from_slice(b"/rq");
        a
    }

    #[test]
    fn requested_size_has_a_floor_and_a_ceiling() {
        assert_eq!(requested_size(0), MIN_MSG_SIZE);
        assert_eq!(requested_size(1 << 20), 1 << 20);
        assert_eq!(requested_size(usize::MAX), u32::MAX);
    }

    #[test]
    fn a_good_answer_is_taken() {
        let ok = validate(&answer(), Credentials::default()).unwrap();
        assert_eq!(ok.kind, Kind::Shm);
        assert_eq!(ok.max_msg_size, 20000);
        assert_eq!(ok.request.as_bytes(), b"/rq");
        assert_eq!(ok.event.as_bytes(), b"");
    }

    #[test]
    fn server_errors_and_bad_fields_are_refused() {
        let mut a = answer();
        a.hdr.error = -libc::EACCES;
        assert_eq!(
            validate(&a, Credentials::default()).err(),
            Some(libc::EACCES)
        );
        a.hdr.error = 7;
        assert_eq!(validate(&a, Credentials::default()).err(), Some(EPROTO));
        let mut a = answer();
        a.connection_type = 2;
        assert_eq!(validate(&a, Credentials::default()).err(), Some(ENOTSUP));
        a.connection_type = -9;
        assert_eq!(validate(&a, Credentials::default()).err(), Some(EINVAL));
        let mut a = answer();
        a.response = [b'x'; PATH_FIELD];
        assert_eq!(validate(&a, Credentials::default()).err(), Some(EINVAL));
        let mut a = answer();
        a.max_msg_size = u32::MAX;
        assert_eq!(
            validate(&a, Credentials::default()).unwrap().max_msg_size,
            MAX_NEGOTIATED
        );
        a.max_msg_size = 0;
        assert!(validate(&a, Credentials::default()).is_err());
    }
}
