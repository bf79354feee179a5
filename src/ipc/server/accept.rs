//! Accepting clients and reading their 24-byte hello with kernel credentials.
//!
//! Each accepted socket becomes a [`Pending`] handshake, read from the loop
//! whenever it is readable (never blocking): a client that sends nothing, or
//! only part of its hello, just occupies one slot until it is reaped.
//!
//! Admission limits (see [`Limits`]; each has an environment override read
//! once per process):
//! * at most [`MAX_PENDING`] half-open handshakes per service;
//! * at most [`DEFAULT_MAX_HALF_OPEN_PER_UID`] of them from one uid (known
//!   from `SO_PEERCRED` before the client sent a byte),
//!   `LIBQB_IPC_MAX_HALF_OPEN_PER_UID`;
//! * at most [`DEFAULT_MAX_CONNECTIONS_PER_UID`] set-up connections per uid
//!   and service, `LIBQB_IPC_MAX_CONNECTIONS_PER_UID` (checked in
//!   `handshake`; the client gets `EMFILE`);
//! * a hello must arrive within [`AUTH_TIMEOUT`],
//!   `LIBQB_IPC_AUTH_TIMEOUT_MS`. Stale handshakes are reaped whenever a
//!   new client is accepted (the server has no timers of its own, only the
//!   application's poll hooks), which is when their slots are wanted.
//!
//! An override of 0 means "no limit" for the caps and is ignored for the
//! timeout. Refusals are logged at most once per 10 seconds per kind.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
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
/// Half-open handshakes per client uid and service.
pub const DEFAULT_MAX_HALF_OPEN_PER_UID: usize = 32;
/// Set-up connections per client uid and service (sd-varlink's default).
pub const DEFAULT_MAX_CONNECTIONS_PER_UID: usize = 1024;

/// The admission limits in force (defaults or environment overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub auth_timeout: Duration,
    /// `None`: unlimited.
    pub half_open_per_uid: Option<usize>,
    pub connections_per_uid: Option<usize>,
}

impl Limits {
    /// Builds the limits from the three override values (as read from the
    /// environment).
    pub fn from_overrides(
        timeout_ms: Option<&str>,
        half_open: Option<&str>,
        connections: Option<&str>,
    ) -> Limits {
        fn cap(v: Option<&str>, default: usize) -> Option<usize> {
            match v.and_then(|v| v.trim().parse::<usize>().ok()) {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(default),
            }
        }
        let auth_timeout = timeout_ms
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(AUTH_TIMEOUT, Duration::from_millis);
        Limits {
            auth_timeout,
            half_open_per_uid: cap(half_open, DEFAULT_MAX_HALF_OPEN_PER_UID),
            connections_per_uid: cap(connections, DEFAULT_MAX_CONNECTIONS_PER_UID),
        }
    }
}

/// The process's limits, read from the environment on first use.
pub fn limits() -> Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    *LIMITS.get_or_init(|| {
        let var = |n: &str| std::env::var(n).ok();
        Limits::from_overrides(
            var("LIBQB_IPC_AUTH_TIMEOUT_MS").as_deref(),
            var("LIBQB_IPC_MAX_HALF_OPEN_PER_UID").as_deref(),
            var("LIBQB_IPC_MAX_CONNECTIONS_PER_UID").as_deref(),
        )
    })
}

/// A log line that is written at most once per interval; the lines
/// suppressed meanwhile are counted in the next one.
pub struct RateLimitedLog {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

const LOG_INTERVAL: Duration = Duration::from_secs(10);

impl RateLimitedLog {
    pub const fn new() -> Self {
        RateLimitedLog {
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Some(number of lines suppressed since the last one) when a line may be
    /// written now.
    pub fn allow(&self) -> Option<u64> {
        let mut last = lock(&self.last);
        if last.is_none_or(|t| t.elapsed() >= LOG_INTERVAL) {
            *last = Some(Instant::now());
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Default for RateLimitedLog {
    fn default() -> Self {
        Self::new()
    }
}

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
    /// The connecting process's uid (`SO_PEERCRED`), for the per-uid cap.
    uid: Option<u32>,
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

static FD_EXHAUSTION_LOG: RateLimitedLog = RateLimitedLog::new();
static HALF_OPEN_LOG: RateLimitedLog = RateLimitedLog::new();

/// A spare descriptor, released to accept (and at once close) a client when
/// the descriptor table is full, so a readable listener does not spin.
pub fn open_spare() -> Option<OwnedFd> {
    std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
}

fn log_fd_exhaustion(e: i32) {
    // At most one line every 10 seconds (corosync#604: gigabytes of these).
    if let Some(dropped) = FD_EXHAUSTION_LOG.allow() {
        qb_util_log!(
            libc::LOG_ERR as u8,
            "Could not accept client connection: errno {} (descriptors exhausted; {} more not logged)",
            e,
            dropped
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

/// Whether the per-uid caps apply to clients of `uid`. Root and the server's
/// own uid are exempt: they can already do anything to this process, so
/// capping them protects nothing, and root daemons serve many root tools.
pub fn uid_is_capped(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    uid != 0 && uid != unsafe { libc::geteuid() }
}

/// Why a new client may not start a handshake, if it may not.
fn half_open_refusal(s: &Service, uid: Option<u32>, lim: &Limits) -> Option<&'static str> {
    let g = lock(&s.pending);
    if g.len() >= MAX_PENDING {
        return Some("too many half-open IPC connections");
    }
    if let (Some(uid), Some(cap)) = (uid.filter(|&u| uid_is_capped(u)), lim.half_open_per_uid)
        && g.iter().filter(|p| p.uid == Some(uid)).count() >= cap
    {
        return Some("too many half-open IPC connections from one uid");
    }
    None
}

fn start_handshake(s: &Arc<Service>, client: OwnedFd) {
    let poll = s.poll();
    let lim = limits();
    reap_stale(s, &poll, lim.auth_timeout);
    let uid = sock::peer_creds(client.as_raw_fd()).ok().map(|c| c.uid);
    if sock::set_passcred(client.as_raw_fd(), true).is_err() {
        return;
    }
    let raw = client.as_raw_fd();
    let p = Arc::new(Pending {
        service: Arc::downgrade(s),
        fd: Mutex::new(Some(client)),
        raw,
        uid,
        since: Instant::now(),
        progress: Mutex::new(Progress {
            buf: [0; HELLO],
            got: 0,
            creds: None,
        }),
    });
    // A client sends its hello right after connect: most are complete
    // already and never count as half-open.
    match read_hello(raw, &p) {
        Step::Wait => {}
        step => {
            complete(s, &p, raw, step);
            return;
        }
    }
    if let Some(why) = half_open_refusal(s, uid, &lim) {
        if let Some(dropped) = HALF_OPEN_LOG.allow() {
            qb_util_log!(
                libc::LOG_WARNING as u8,
                "{} on {} (uid {:?}): refusing ({} more refusals not logged)",
                why,
                s.name_lossy(),
                uid,
                dropped
            );
        }
        return;
    }
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

fn reap_stale(s: &Service, poll: &PollHandlers, timeout: Duration) {
    let stale: Vec<Arc<Pending>> = {
        let mut g = lock(&s.pending);
        let (old, keep): (Vec<_>, Vec<_>) = g.drain(..).partition(|p| p.since.elapsed() >= timeout);
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
    if lock(&p.fd).is_none() {
        return -1;
    }
    match service {
        Some(s) => {
            s.poll().del(fd);
            forget(&s, &p);
            complete(&s, &p, fd, step);
        }
        None => drop(lock(&p.fd).take()),
    }
    1
}

/// Ends a handshake's reading phase (`p` no longer registered): a complete
/// connection request goes on to become a connection; anything else closes.
fn complete(s: &Arc<Service>, p: &Pending, fd: i32, step: Step) {
    let Some(fd_owned) = lock(&p.fd).take() else {
        return;
    };
    let _ = sock::set_passcred(fd, false);
    if !matches!(step, Step::Done) {
        return;
    }
    let (req, creds) = {
        let g = lock(&p.progress);
        // SAFETY: HELLO bytes of plain integer data.
        let req: ConnectionRequest = unsafe { std::ptr::read_unaligned(g.buf.as_ptr().cast()) };
        (req, g.creds)
    };
    match creds {
        Some(c) if req.hdr.id == QB_IPC_MSG_AUTHENTICATE && req.hdr.size == HELLO as i32 => {
            new_connection(s, fd_owned, &req, c)
        }
        Some(_) => qb_util_log!(
            libc::LOG_DEBUG as u8,
            "fd {}: not a connection request (id {}, size {})",
            fd,
            req.hdr.id,
            req.hdr.size
        ),
        None => qb_util_log!(
            libc::LOG_WARNING as u8,
            "fd {}: no credentials with the connection request",
            fd
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_override() {
        let d = Limits::from_overrides(None, None, None);
        assert_eq!(d.auth_timeout, AUTH_TIMEOUT);
        assert_eq!(d.half_open_per_uid, Some(DEFAULT_MAX_HALF_OPEN_PER_UID));
        assert_eq!(d.connections_per_uid, Some(DEFAULT_MAX_CONNECTIONS_PER_UID));
        let o = Limits::from_overrides(Some("250"), Some(" 3 "), Some("0"));
        assert_eq!(o.auth_timeout, Duration::from_millis(250));
        assert_eq!(o.half_open_per_uid, Some(3));
        assert_eq!(o.connections_per_uid, None);
        // Garbage and a zero timeout fall back to the defaults.
        let g = Limits::from_overrides(Some("0"), Some("-1"), Some("lots"));
        assert_eq!(g, d);
    }

    fn pending(s: &Arc<Service>, uid: Option<u32>) -> Arc<Pending> {
        Arc::new(Pending {
            service: Arc::downgrade(s),
            fd: Mutex::new(None),
            raw: -1,
            uid,
            since: Instant::now(),
            progress: Mutex::new(Progress {
                buf: [0; HELLO],
                got: 0,
                creds: None,
            }),
        })
    }

    #[test]
    fn half_open_caps_count_per_uid_and_in_total() {
        let s = Service::create(
            b"unit-caps",
            0,
            crate::ffi::qbipc_common::QB_IPC_SHM,
            Default::default(),
        );
        let lim = Limits::from_overrides(None, Some("2"), None);
        lock(&s.pending).extend([
            pending(&s, Some(7)),
            pending(&s, Some(7)),
            pending(&s, None),
        ]);
        // uid 7 is at its cap; another uid and an unknown one are not.
        assert!(half_open_refusal(&s, Some(7), &lim).is_some());
        assert!(half_open_refusal(&s, Some(8), &lim).is_none());
        assert!(half_open_refusal(&s, None, &lim).is_none());
        // No per-uid cap: only the service-wide one.
        let unlimited = Limits::from_overrides(None, Some("0"), None);
        assert!(half_open_refusal(&s, Some(7), &unlimited).is_none());
        let more: Vec<_> = (0..MAX_PENDING).map(|_| pending(&s, None)).collect();
        lock(&s.pending).extend(more);
        assert!(half_open_refusal(&s, Some(8), &unlimited).is_some());
        lock(&s.pending).clear();
    }

    #[test]
    fn rate_limited_log_counts_what_it_suppresses() {
        let l = RateLimitedLog::new();
        assert_eq!(l.allow(), Some(0));
        assert_eq!(l.allow(), None);
        assert_eq!(l.allow(), None);
        *lock(&l.last) = Some(Instant::now() - LOG_INTERVAL);
        assert_eq!(l.allow(), Some(2));
    }
}
