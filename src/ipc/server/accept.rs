//! Accepting clients and reading their 24-byte hello with kernel credentials.
//!
//! Each accepted socket becomes a [`Pending`] handshake, read from the loop
//! whenever it is readable (never blocking): a client that sends nothing, or
//! only part of its hello, just occupies one slot until it is reaped. Limits:
//! at most [`MAX_PENDING`] half-open handshakes, each at most
//! [`AUTH_TIMEOUT`] old (checked whenever a new client is accepted; the
//! server has no timers of its own, only the application's poll hooks).

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use libc::{EAGAIN, EMFILE, ENFILE};

use crate::ffi::qbipc_common::QB_IPC_MSG_AUTHENTICATE;
use crate::ipc::sock::{self, Creds};
use crate::ipc::wire::ConnectionRequest;
use crate::qb_util_log;

use super::connection::lock;
use super::handshake::new_connection;
use super::poll::{BASE_EVENTS, PollHandlers};
use super::service::Service;

/// How long a client may take to send its hello.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Half-open handshakes per service; more are refused at once.
pub const MAX_PENDING: usize = 256;

const HELLO: usize = size_of::<ConnectionRequest>();

struct Progress {
    buf: [u8; HELLO],
    got: usize,
    creds: Option<Creds>,
}

/// One accepted socket whose hello has not fully arrived.
pub struct Pending {
    service: Weak<Service>,
    fd: Mutex<Option<OwnedFd>>,
    raw: i32,
    since: Instant,
    progress: Mutex<Progress>,
}

impl Pending {
    /// Unregisters and closes (service shutdown, timeout).
    pub fn abandon(&self, poll: &PollHandlers) {
        if let Some(fd) = lock(&self.fd).take() {
            poll.del(fd.as_raw_fd());
        }
    }
}

static LAST_FULL_LOG: Mutex<Option<Instant>> = Mutex::new(None);

/// A spare descriptor, released to accept (and at once close) a client when
/// the descriptor table is full, so a readable listener does not spin.
pub fn open_spare() -> Option<OwnedFd> {
    std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
}

fn log_fd_exhaustion(e: i32) {
    // At most one line every 10 seconds (corosync#604: gigabytes of these).
    let mut last = lock(&LAST_FULL_LOG);
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
        *last = Some(Instant::now());
        qb_util_log!(
            libc::LOG_ERR as u8,
            "Could not accept client connection: errno {} (descriptors exhausted)",
            e
        );
    }
}

/// Loop callback of the listening socket (`data` is the service).
pub unsafe extern "C" fn accept_ready(fd: i32, revents: i32, data: *mut c_void) -> i32 {
    if revents & (libc::POLLNVAL | libc::POLLHUP | libc::POLLERR) as i32 != 0 || data.is_null() {
        return -1;
    }
    // SAFETY: `data` is the service registered with this descriptor; it is
    // unregistered before the service goes away. Borrowed for this call.
    let s = unsafe {
        Arc::increment_strong_count(data.cast::<Service>().cast_const());
        Arc::from_raw(data.cast::<Service>().cast_const())
    };
    match sock::accept(fd) {
        Ok(client) => start_handshake(&s, client),
        Err(libc::EBADF) => {
            qb_util_log!(
                libc::LOG_ERR as u8,
                "Could not accept client connection from fd:{}",
                fd
            );
            return -1;
        }
        Err(e @ (EMFILE | ENFILE)) => {
            log_fd_exhaustion(e);
            if let Some(spare) = s.take_spare() {
                drop(spare);
                // Accept and drop the oldest waiting client instead of spinning.
                drop(sock::accept(fd));
                s.put_spare(open_spare());
            }
        }
        Err(EAGAIN) => {}
        Err(e) => qb_util_log!(
            libc::LOG_ERR as u8,
            "Could not accept client connection: errno {}",
            e
        ),
    }
    0
}

fn start_handshake(s: &Arc<Service>, client: OwnedFd) {
    let poll = s.poll();
    reap_stale(s, &poll);
    if lock(&s.pending).len() >= MAX_PENDING {
        qb_util_log!(
            libc::LOG_WARNING as u8,
            "too many half-open IPC connections on {}: refusing one",
            s.name_lossy()
        );
        return;
    }
    if sock::set_passcred(client.as_raw_fd(), true).is_err() {
        return;
    }
    let raw = client.as_raw_fd();
    let p = Arc::new(Pending {
        service: Arc::downgrade(s),
        fd: Mutex::new(Some(client)),
        raw,
        since: Instant::now(),
        progress: Mutex::new(Progress {
            buf: [0; HELLO],
            got: 0,
            creds: None,
        }),
    });
    lock(&s.pending).push(p.clone());
    let data = Arc::as_ptr(&p).cast::<c_void>();
    if poll
        .add(s.priority(), raw, BASE_EVENTS, data, hello_ready)
        .is_err()
    {
        qb_util_log!(
            libc::LOG_DEBUG as u8,
            "Failed to arrange for AUTH for fd ({})",
            raw
        );
        forget(s, &p);
        lock(&p.fd).take();
    }
}

fn forget(s: &Service, p: &Arc<Pending>) {
    lock(&s.pending).retain(|q| !Arc::ptr_eq(q, p));
}

fn reap_stale(s: &Service, poll: &PollHandlers) {
    let stale: Vec<Arc<Pending>> = {
        let mut g = lock(&s.pending);
        let (old, keep): (Vec<_>, Vec<_>) =
            g.drain(..).partition(|p| p.since.elapsed() >= AUTH_TIMEOUT);
        *g = keep;
        old
    };
    for p in stale {
        qb_util_log!(
            libc::LOG_INFO as u8,
            "IPC client on fd {} did not authenticate in time",
            p.raw
        );
        p.abandon(poll);
    }
}

enum Step {
    Wait,
    Close,
    Done,
}

/// Loop callback of a half-open socket (`data` is its [`Pending`]).
unsafe extern "C" fn hello_ready(fd: i32, revents: i32, data: *mut c_void) -> i32 {
    if data.is_null() {
        return -1;
    }
    // SAFETY: `data` is the Pending registered with this descriptor, kept in
    // its service's list until it is unregistered. Borrowed for this call.
    let p = unsafe {
        Arc::increment_strong_count(data.cast::<Pending>().cast_const());
        Arc::from_raw(data.cast::<Pending>().cast_const())
    };
    let service = p.service.upgrade();
    let step = match &service {
        None => Step::Close,
        Some(s) if !s.is_listening() => Step::Close,
        Some(_) if revents & libc::POLLNVAL as i32 != 0 => Step::Close,
        Some(_) if revents & libc::POLLIN as i32 == 0 => {
            if revents & (libc::POLLHUP | libc::POLLERR) as i32 != 0 {
                Step::Close
            } else {
                Step::Wait
            }
        }
        Some(_) => read_hello(fd, &p),
    };
    if let Step::Wait = step {
        return 0;
    }
    let fd_owned = lock(&p.fd).take();
    let Some(fd_owned) = fd_owned else {
        return -1;
    };
    let _ = sock::set_passcred(fd, false);
    if let Some(s) = &service {
        s.poll().del(fd);
        forget(s, &p);
    }
    let (Some(s), Step::Done) = (service, step) else {
        return 1;
    };
    let (req, creds) = {
        let g = lock(&p.progress);
        // SAFETY: HELLO bytes of plain integer data.
        let req: ConnectionRequest = unsafe { std::ptr::read_unaligned(g.buf.as_ptr().cast()) };
        (req, g.creds)
    };
    match creds {
        Some(c) if req.hdr.id == QB_IPC_MSG_AUTHENTICATE => new_connection(&s, fd_owned, &req, c),
        Some(_) => qb_util_log!(libc::LOG_DEBUG as u8, "fd {}: not a connection request", fd),
        None => qb_util_log!(
            libc::LOG_WARNING as u8,
            "fd {}: no credentials with the connection request",
            fd
        ),
    }
    1
}

fn read_hello(fd: i32, p: &Pending) -> Step {
    let mut g = lock(&p.progress);
    loop {
        let got = g.got;
        let (n, creds) = match sock::recv_with_creds(fd, &mut g.buf[got..]) {
            Ok(r) => r,
            Err(EAGAIN) => return Step::Wait,
            Err(_) => return Step::Close,
        };
        if n == 0 {
            return Step::Close;
        }
        if g.creds.is_none() {
            g.creds = creds;
        }
        g.got += n;
        if g.got >= HELLO {
            return Step::Done;
        }
    }
}
