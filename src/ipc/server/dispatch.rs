//! Reading requests: the loop callbacks of a connection's descriptors.
//!
//! Per readiness event at most a priority-dependent batch of requests is read
//! (HIGH 50, MED 5, LOW 1, as libqb). Each request is copied into the
//! connection's private buffer, validated there (header size at least 16,
//! at most the negotiated size and the bytes actually received) and only then
//! handed to `msg_process`; a client that sends a bad request is disconnected
//! with a log line. In SHM mode the client's doorbell bytes are read without
//! blocking and counted, so a client that omits them cannot stall the server.
//! Shared memory the client damaged (a corrupt semaphore or ring, a truncated
//! ring or control file: the accesses fault into `EBADMSG` instead of
//! SIGBUS) also disconnects it.

use std::ffi::c_void;
use std::sync::Arc;

use libc::{EAGAIN, EINVAL, ESHUTDOWN, ETIMEDOUT};

use crate::ffi::qbipc_common::QB_IPC_MSG_DISCONNECT;
use crate::ipc::sock;
use crate::qb_util_log;
use crate::rb::guarded::FAULT_ERRNO;

use super::connection::{Channels, Connection, State, Transport, lock};
use super::poll::{PRIO_HIGH, PRIO_LOW};
use super::socket::drain_liveness;
use super::stats::ConnectionCounters;

const REQUEST_HEADER: usize = 16;

enum Outcome {
    /// Handed to `msg_process`.
    Processed,
    /// `msg_process` asked to back off (negative result).
    Backoff,
    /// Nothing (more) to read now.
    Again,
    /// The client asked to go, or its end is gone.
    Shutdown,
    /// Protocol violation: disconnect.
    Invalid,
}

/// Borrows the connection a loop callback was registered with.
///
/// # Safety
/// `data` must be a connection pointer registered with the loop (they are
/// unregistered before the connection is freed).
unsafe fn borrow(data: *mut c_void) -> Option<Arc<Connection>> {
    if data.is_null() {
        return None;
    }
    let p = data.cast::<Connection>().cast_const();
    // SAFETY: per this function's contract; the extra count keeps the
    // connection alive while the callback runs, whatever it does.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

fn batch_limit(prio: u32, queued: usize) -> usize {
    match prio {
        PRIO_LOW => 1,
        PRIO_HIGH => queued.min(50),
        _ => queued.min(5),
    }
}

/// Loop callback of the request descriptor (SHM: the setup socket; SOCKET:
/// the request datagram socket).
pub unsafe extern "C" fn dispatch_request(_fd: i32, revents: i32, data: *mut c_void) -> i32 {
    // SAFETY: registered with a connection pointer.
    let Some(c) = (unsafe { borrow(data) }) else {
        return -EINVAL;
    };
    dispatch(&c, revents)
}

fn dispatch(c: &Arc<Connection>, revents: i32) -> i32 {
    if revents & libc::POLLNVAL as i32 != 0 {
        qb_util_log!(libc::LOG_DEBUG as u8, "NVAL conn ({})", c.description);
        c.disconnect();
        return -EINVAL;
    }
    if revents & libc::POLLHUP as i32 != 0 {
        qb_util_log!(libc::LOG_DEBUG as u8, "HUP conn ({})", c.description);
        c.disconnect();
        return -ESHUTDOWN;
    }
    let Some(t) = c.transport() else {
        return -ESHUTDOWN;
    };
    if revents & libc::POLLOUT as i32 != 0 {
        if let Err(e) = c.resend_notifications(&t) {
            qb_util_log!(
                libc::LOG_WARNING as u8,
                "resend_event_notifications ({}): errno {}",
                c.description,
                e
            );
        }
        if revents & libc::POLLIN as i32 == 0 {
            return 0;
        }
    }
    if c.flow_control() != 0 {
        return 0;
    }
    let prio = c.service().priority();
    let queued = match &t.channels {
        Channels::Shm(r) => r.requests_queued(),
        Channels::Socket(s) => s.requests_queued().map(|n| n.max(0) as usize),
    };
    let queued = match queued {
        Ok(q) => q,
        Err(e) => {
            qb_util_log!(
                libc::LOG_WARNING as u8,
                "client {} damaged its shared memory (errno {}): disconnecting",
                c.description,
                e
            );
            c.disconnect();
            return -EINVAL;
        }
    };
    let mut avail = match &t.channels {
        Channels::Shm(_) => {
            if queued == 0 {
                // Only doorbells (owed or stray) to read; or the end.
                if !read_doorbells(c, &t, true) {
                    c.disconnect();
                    return -ESHUTDOWN;
                }
                return 0;
            }
            batch_limit(prio, queued)
        }
        // The client's counter is a hint: always try at least once.
        Channels::Socket(_) => batch_limit(prio, queued.max(1)),
    };
    let mut rx = lock(&c.rx)
        .take()
        .unwrap_or_else(|| vec![0u8; c.max_msg_size as usize].into_boxed_slice());
    let mut recvd = 0u32;
    let outcome = loop {
        let o = process_one(c, &t, &mut rx);
        match o {
            Outcome::Processed => {
                recvd += 1;
                avail -= 1;
            }
            Outcome::Backoff => {
                recvd += 1;
                break o;
            }
            _ => break o,
        }
        let (state, fc) = {
            let g = lock(&c.inner);
            (g.state, g.fc)
        };
        if avail == 0 || fc != 0 || !matches!(state, State::Established | State::Active) {
            break o;
        }
    };
    *lock(&c.rx) = Some(rx);
    let live = matches!(c.state(), State::Established | State::Active);
    if let Channels::Shm(_) = t.channels
        && live
        && recvd > 0
    {
        {
            lock(&c.inner).owed_doorbells += recvd;
            if !read_doorbells(c, &t, false) {
                qb_util_log!(
                    libc::LOG_DEBUG as u8,
                    "error receiving from setup sock ({})",
                    c.description
                );
                c.disconnect();
                return -ESHUTDOWN;
            }
        }
    }
    match outcome {
        Outcome::Shutdown => {
            qb_util_log!(
                libc::LOG_DEBUG as u8,
                "client requesting a disconnect ({})",
                c.description
            );
            c.disconnect();
            -ESHUTDOWN
        }
        Outcome::Invalid => {
            c.disconnect();
            -EINVAL
        }
        _ if !live => -ESHUTDOWN,
        _ => 0,
    }
}

/// Reads owed doorbell bytes without blocking (at least one when `stray`).
/// False when the client's end of the setup socket is gone.
fn read_doorbells(c: &Connection, t: &Transport, stray: bool) -> bool {
    let mut want = lock(&c.inner).owed_doorbells as usize;
    if stray {
        want = want.max(1);
    }
    let mut buf = [0u8; 64];
    let mut got = 0usize;
    let alive = loop {
        if got >= want {
            break true;
        }
        let n = (want - got).min(buf.len());
        match sock::recv_once(t.setup_fd(), &mut buf[..n], 0) {
            Ok(0) => break false,
            Ok(k) => got += k,
            Err(EAGAIN) => break true,
            Err(_) => break false,
        }
    };
    let mut g = lock(&c.inner);
    g.owed_doorbells = g
        .owed_doorbells
        .saturating_sub(got.min(u32::MAX as usize) as u32);
    alive
}

fn process_one(c: &Arc<Connection>, t: &Transport, rx: &mut [u8]) -> Outcome {
    let n = match &t.channels {
        Channels::Shm(r) => match r.request.read(rx, 0) {
            Ok(n) => n,
            Err(ETIMEDOUT | EAGAIN) => {
                ConnectionCounters::bump(&c.stats.recv_retries);
                return Outcome::Again;
            }
            Err(e) => {
                qb_util_log!(
                    libc::LOG_WARNING as u8,
                    "unreadable request from client {} (errno {}): disconnecting",
                    c.description,
                    e
                );
                return Outcome::Invalid;
            }
        },
        Channels::Socket(s) => match s.recv(rx) {
            Ok(0) => return Outcome::Shutdown,
            Ok(n) if n > rx.len() => {
                qb_util_log!(
                    libc::LOG_WARNING as u8,
                    "request of {} bytes from client {} exceeds {}: disconnecting",
                    n,
                    c.description,
                    rx.len()
                );
                return Outcome::Invalid;
            }
            Ok(n) => n,
            Err(EAGAIN) => {
                ConnectionCounters::bump(&c.stats.recv_retries);
                return Outcome::Again;
            }
            Err(FAULT_ERRNO) => {
                qb_util_log!(
                    libc::LOG_WARNING as u8,
                    "client {} truncated its control file: disconnecting",
                    c.description
                );
                return Outcome::Invalid;
            }
            Err(_) => return Outcome::Shutdown,
        },
    };
    handle(c, &mut rx[..n])
}

/// Validates the private copy of one request and gives it to `msg_process`.
fn handle(c: &Arc<Connection>, msg: &mut [u8]) -> Outcome {
    if msg.is_empty() {
        return Outcome::Shutdown;
    }
    let word = |at: usize| -> Option<i32> {
        Some(i32::from_ne_bytes(msg.get(at..at + 4)?.try_into().ok()?))
    };
    let (Some(id), Some(size)) = (word(0), word(8)) else {
        qb_util_log!(
            libc::LOG_WARNING as u8,
            "request of {} bytes from client {} is shorter than its header: disconnecting",
            msg.len(),
            c.description
        );
        return Outcome::Invalid;
    };
    if id == QB_IPC_MSG_DISCONNECT {
        return Outcome::Shutdown;
    }
    if size < REQUEST_HEADER as i32 || size as u32 > c.max_msg_size || size as usize > msg.len() {
        qb_util_log!(
            libc::LOG_WARNING as u8,
            "invalid message size {} (max: {}, received: {}) from client {}: disconnecting",
            size,
            c.max_msg_size,
            msg.len(),
            c.description
        );
        return Outcome::Invalid;
    }
    ConnectionCounters::bump(&c.stats.requests);
    let Some(f) = c.service().handlers.msg_process else {
        return Outcome::Processed;
    };
    // SAFETY: the application's callback; `msg` is our private buffer, valid
    // for `size` bytes until it returns.
    let rc = unsafe { f(c.c_ptr(), msg.as_mut_ptr().cast(), size as usize) };
    if rc < 0 {
        Outcome::Backoff
    } else {
        Outcome::Processed
    }
}

/// Loop callback of a SOCKET-mode setup socket: only watched for the end.
pub unsafe extern "C" fn socket_liveness(fd: i32, revents: i32, data: *mut c_void) -> i32 {
    // SAFETY: registered with a connection pointer.
    let Some(c) = (unsafe { borrow(data) }) else {
        return -EINVAL;
    };
    if revents & libc::POLLNVAL as i32 != 0 {
        c.disconnect();
        return -EINVAL;
    }
    if revents & libc::POLLHUP as i32 != 0 {
        qb_util_log!(libc::LOG_DEBUG as u8, "HUP conn ({})", c.description);
        c.disconnect();
        return -ESHUTDOWN;
    }
    if revents & libc::POLLIN as i32 != 0 && !drain_liveness(fd) {
        qb_util_log!(libc::LOG_DEBUG as u8, "EOF conn ({})", c.description);
        c.disconnect();
        return -ESHUTDOWN;
    }
    0
}
