//! Turning an authenticated hello into a connection: buffer size negotiation,
//! the connection directory, `connection_accept`, the transport, the 12328-byte
//! response and `connection_created` (libqb-abi.md §5.2).
//!
//! Nothing sized by the client's request is allocated before the application
//! accepted it, and the size it asked for is clamped (see [`negotiate`]).

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::ffi::qbipc_common::{
    QB_IPC_MSG_AUTHENTICATE, QB_IPC_SHM, QB_IPC_SOCKET, QbIpcResponseHeader,
};
use crate::ipc::sock::{self, Creds};
use crate::ipc::wire::{ConnectionRequest, ConnectionResponse, MIN_MSG_SIZE, PATH_FIELD};
use crate::qb_util_log;

use super::accept::{RateLimitedLog, limits, uid_is_capped};
use super::conndir::ConnDir;
use super::connection::{Channels, Connection, State, Transport};
use super::dispatch::{dispatch_request, socket_liveness};
use super::poll::BASE_EVENTS;
use super::service::Service;
use super::shm::ShmRings;
use super::socket::SocketChannels;

/// Largest buffer a client can obtain by asking (the service's own
/// `qb_ipcs_enforce_buffer_size` may go higher). Override with the
/// environment variable `LIBQB_IPC_MAX_MSG_SIZE` (bytes, read once).
pub const DEFAULT_MAX_MSG_CEILING: u32 = 64 << 20;

/// How long the server waits for room to send the handshake response.
const RESPONSE_SEND_WAIT: Duration = Duration::from_secs(1);

pub fn max_msg_ceiling() -> u32 {
    static CEILING: OnceLock<u32> = OnceLock::new();
    *CEILING.get_or_init(|| {
        std::env::var("LIBQB_IPC_MAX_MSG_SIZE")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|v| *v >= MIN_MSG_SIZE)
            .unwrap_or(DEFAULT_MAX_MSG_CEILING)
    })
}

/// libqb's `MAX(requested, enforced)`, kept within `[12328, ceiling]` where the
/// ceiling is the configured one or the enforced size, whichever is larger.
pub fn negotiate(requested: u32, enforced: u32, ceiling: u32) -> u32 {
    let top = ceiling.max(enforced).max(MIN_MSG_SIZE);
    requested.max(enforced).clamp(MIN_MSG_SIZE, top)
}

fn copy_name(dst: &mut [u8; PATH_FIELD], src: &[u8]) {
    let n = src.len().min(PATH_FIELD - 1);
    dst[..n].copy_from_slice(&src[..n]);
}

fn send_response(fd: i32, r: &ConnectionResponse) -> Result<(), i32> {
    // SAFETY: ConnectionResponse is repr(C) plain data without implicit padding.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (r as *const ConnectionResponse).cast::<u8>(),
            size_of::<ConnectionResponse>(),
        )
    };
    sock::send_all_bounded(fd, bytes, RESPONSE_SEND_WAIT)
}

/// Answers a hello with only an error (`e`, positive errno).
fn refuse(fd: i32, e: i32) {
    let mut resp = Box::<ConnectionResponse>::default();
    resp.hdr = QbIpcResponseHeader::new(
        QB_IPC_MSG_AUTHENTICATE,
        size_of::<ConnectionResponse>() as i32,
        -e,
    );
    let _ = send_response(fd, &resp);
}

static PER_UID_LOG: RateLimitedLog = RateLimitedLog::new();

/// Sets up the connection for `setup` (hello and credentials already read).
pub fn new_connection(s: &Arc<Service>, setup: OwnedFd, req: &ConnectionRequest, creds: Creds) {
    let fd = setup.as_raw_fd();
    if let Some(cap) = limits().connections_per_uid
        && uid_is_capped(creds.uid)
        && s.connections_of_uid(creds.uid) >= cap
    {
        if let Some(dropped) = PER_UID_LOG.allow() {
            qb_util_log!(
                libc::LOG_WARNING as u8,
                "uid {} already holds {} IPC connections to {}: refusing pid {} ({} more refusals not logged)",
                creds.uid,
                cap,
                s.name_lossy(),
                creds.pid,
                dropped
            );
        }
        refuse(fd, libc::EMFILE);
        return;
    }
    let max = negotiate(req.max_msg_size, s.max_buffer_size(), max_msg_ceiling());
    let mut resp = Box::<ConnectionResponse>::default();
    let dir = match ConnDir::create(s.pid, creds.pid, fd) {
        Ok(d) => d,
        Err(e) => {
            qb_util_log!(
                libc::LOG_INFO as u8,
                "IPC connection setup failed: errno {}",
                e
            );
            refuse(fd, e);
            return;
        }
    };
    let description = dir.description();
    let c = Connection::new(
        s.clone(),
        creds.pid,
        creds.uid,
        creds.gid,
        max,
        String::from_utf8_lossy(&description).into_owned(),
    );
    let mut res = 0;
    if let Some(accept) = s.handlers.connection_accept {
        // SAFETY: the application's callback with a live connection.
        res = unsafe { accept(c.c_ptr(), creds.uid, creds.gid) };
    }
    // Only a connection the application accepted gets a transport.
    let mut setup = Some(setup);
    let mut dir = Some(dir);
    if res == 0 {
        match build_transport(s, &c, &description, max) {
            Ok((channels, names)) => {
                let (Some(fd_owned), Some(d)) = (setup.take(), dir.take()) else {
                    return;
                };
                resp.connection_type = if s.kind == QB_IPC_SHM {
                    QB_IPC_SHM
                } else {
                    QB_IPC_SOCKET
                };
                for (field, name) in [&mut resp.request, &mut resp.response, &mut resp.event]
                    .into_iter()
                    .zip(&names)
                {
                    copy_name(field, name);
                }
                let rx = vec![0u8; max as usize].into_boxed_slice();
                c.install(Transport::new(channels, fd_owned, d), rx);
                res = match register(s, &c) {
                    Ok(()) => {
                        c.set_state(State::Active);
                        s.register(&c);
                        0
                    }
                    Err(e) => -e,
                };
            }
            Err(e) => res = -e,
        }
    }
    resp.hdr = QbIpcResponseHeader::new(
        QB_IPC_MSG_AUTHENTICATE,
        size_of::<ConnectionResponse>() as i32,
        res,
    );
    if res == 0 {
        resp.max_msg_size = max;
        resp.connection = c.c_ptr() as usize as u64;
    }
    let sent = send_response(fd, &resp);
    if res == 0
        && let Err(e) = sent
    {
        res = -e;
    }
    if res == 0 {
        s.counters.connection_opened();
        c.run_created();
        return;
    }
    match res {
        r if r == -libc::EACCES => {
            qb_util_log!(
                libc::LOG_INFO as u8,
                "IPC connection credentials rejected ({})",
                c.description
            )
        }
        r if r == -libc::EAGAIN => qb_util_log!(
            libc::LOG_INFO as u8,
            "IPC connection not ready ({})",
            c.description
        ),
        r => qb_util_log!(
            libc::LOG_INFO as u8,
            "IPC connection setup failed ({}): errno {}",
            c.description,
            -r
        ),
    }
    if c.state() == State::Inactive {
        // Never set up: the connection goes with our reference (no callbacks
        // ran but `accept`, so none are owed).
        c.abandon();
    } else {
        c.disconnect();
    }
    drop(setup);
    drop(dir);
}

fn build_transport(
    s: &Service,
    c: &Connection,
    description: &[u8],
    max: u32,
) -> Result<(Channels, Vec<Vec<u8>>), i32> {
    let auth = c.auth();
    // `auth_set` may have changed the owner in connection_accept.
    if let Some(dir) = description.strip_suffix(b"/qb")
        && let Ok(p) = std::ffi::CString::new(dir)
    {
        {
            // SAFETY: NUL-terminated path; best effort as in libqb.
            unsafe { libc::chown(p.as_ptr(), auth.uid, auth.gid) };
        }
    }
    if s.kind == QB_IPC_SHM {
        let (rings, names) = ShmRings::create(description, &s.name, max, auth)?;
        Ok((Channels::Shm(rings), names.to_vec()))
    } else {
        let (ch, [control, base]) = SocketChannels::create(description, &s.name, max, auth)?;
        Ok((Channels::Socket(ch), vec![control, base, Vec::new()]))
    }
}

/// Puts the connection's descriptors into the application's loop.
fn register(s: &Service, c: &Arc<Connection>) -> Result<(), i32> {
    let t = c.transport().ok_or(libc::ENOTCONN)?;
    let poll = s.poll();
    let data = Arc::as_ptr(c).cast::<c_void>();
    poll.add(
        s.priority(),
        t.request_fd(),
        BASE_EVENTS,
        data,
        dispatch_request,
    )?;
    if let Channels::Socket(_) = t.channels
        && let Err(e) = poll.add(
            s.priority(),
            t.setup_fd(),
            BASE_EVENTS,
            data,
            socket_liveness,
        )
    {
        poll.del(t.request_fd());
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_larger_and_clamps() {
        assert_eq!(negotiate(0, 0, 1 << 20), MIN_MSG_SIZE);
        assert_eq!(negotiate(20000, 0, 1 << 20), 20000);
        assert_eq!(negotiate(20000, 30000, 1 << 20), 30000);
        assert_eq!(negotiate(u32::MAX, 0, 1 << 20), 1 << 20);
        // The application's own enforced size beats the ceiling.
        assert_eq!(negotiate(u32::MAX, 2 << 20, 1 << 20), 2 << 20);
    }
}
