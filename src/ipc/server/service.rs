//! An IPC service (`qb_ipcs_service_t`): its listening socket, connections,
//! rate limit and counters.
//!
//! Reference counted like a connection: the C API's `qb_ipcs_ref`/`_unref`
//! move the `Arc`'s strong count; each connection and the creator hold one.

use std::ffi::{CString, c_void};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use libc::{EINVAL, ENOTSUP};

use crate::ffi::qbipc_common::{
    QB_IPC_NATIVE, QB_IPC_POSIX_MQ, QB_IPC_SHM, QB_IPC_SOCKET, QB_IPC_SYSV_MQ,
};
use crate::ipc::sock::{self, UnixAddr, errno};
use crate::ipc::wire::SOCKET_DIR;
use crate::qb_util_log;

use super::accept::{Pending, accept_ready, open_spare};
use super::connection::{Connection, State, lock};
use super::poll::{BASE_EVENTS, PRIO_HIGH, PRIO_LOW, PRIO_MED, PollHandlers, ServiceHandlers};
use super::stats::ServiceCounters;

/// `listen()` backlog, as libqb.
const BACKLOG: i32 = 128;

/// `enum qb_ipcs_rate_limit`.
pub const RATE_FAST: u32 = 0;
pub const RATE_NORMAL: u32 = 1;
pub const RATE_SLOW: u32 = 2;
pub const RATE_OFF: u32 = 3;
pub const RATE_OFF_2: u32 = 4;

struct Listener {
    fd: OwnedFd,
    /// Filesystem socket to remove on withdraw.
    fs_path: Option<CString>,
    /// See [`open_spare`].
    spare: Option<OwnedFd>,
}

pub struct Service {
    pub name: Vec<u8>,
    pub service_id: i32,
    /// `QB_IPC_SOCKET` or `QB_IPC_SHM` (NATIVE maps to SHM), or the caller's
    /// unsupported value (refused by `run`).
    pub kind: i32,
    pub pid: i32,
    pub handlers: ServiceHandlers,
    poll: Mutex<PollHandlers>,
    max_buffer_size: AtomicU32,
    priority: AtomicU32,
    listener: Mutex<Option<Listener>>,
    /// Newest first (libqb adds at the head of its list).
    conns: Mutex<Vec<Weak<Connection>>>,
    pub(super) pending: Mutex<Vec<Arc<Pending>>>,
    pub counters: ServiceCounters,
    context: AtomicPtr<c_void>,
}

impl Service {
    /// `qb_ipcs_create`; the name is cut to 254 bytes as libqb's `NAME_MAX` copy.
    pub fn create(
        name: &[u8],
        service_id: i32,
        kind: i32,
        handlers: ServiceHandlers,
    ) -> Arc<Service> {
        let mut name = name.to_vec();
        name.truncate(254);
        Arc::new(Service {
            name,
            service_id,
            kind: if kind == QB_IPC_NATIVE {
                QB_IPC_SHM
            } else {
                kind
            },
            // SAFETY: plain getter.
            pid: unsafe { libc::getpid() },
            handlers,
            poll: Mutex::new(PollHandlers::default()),
            max_buffer_size: AtomicU32::new(0),
            priority: AtomicU32::new(PRIO_MED),
            listener: Mutex::new(None),
            conns: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            counters: ServiceCounters::default(),
            context: AtomicPtr::new(std::ptr::null_mut()),
        })
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// A copy of the loop hooks (callers must not hold a lock while calling them).
    pub fn poll(&self) -> PollHandlers {
        *lock(&self.poll)
    }

    pub fn set_poll(&self, p: PollHandlers) {
        *lock(&self.poll) = p;
    }

    pub fn priority(&self) -> u32 {
        self.priority.load(Ordering::Relaxed)
    }

    pub fn context(&self) -> *mut c_void {
        self.context.load(Ordering::Acquire)
    }

    pub fn set_context(&self, p: *mut c_void) {
        self.context.store(p, Ordering::Release);
    }

    pub fn enforce_buffer_size(&self, size: u32) {
        self.max_buffer_size.store(size, Ordering::Relaxed);
    }

    pub fn max_buffer_size(&self) -> u32 {
        self.max_buffer_size.load(Ordering::Relaxed)
    }

    pub(super) fn take_spare(&self) -> Option<OwnedFd> {
        lock(&self.listener).as_mut().and_then(|l| l.spare.take())
    }

    pub(super) fn put_spare(&self, fd: Option<OwnedFd>) {
        if let Some(l) = lock(&self.listener).as_mut() {
            l.spare = fd;
        }
    }

    pub fn is_listening(&self) -> bool {
        lock(&self.listener).is_some()
    }

    /// `qb_ipcs_run`: checks the hooks and the type, then publishes the socket.
    pub fn run(self: &Arc<Self>) -> Result<(), i32> {
        if !self.poll().complete() {
            return Err(EINVAL);
        }
        match self.kind {
            QB_IPC_SOCKET | QB_IPC_SHM => {}
            QB_IPC_POSIX_MQ | QB_IPC_SYSV_MQ => return Err(ENOTSUP),
            _ => return Err(EINVAL),
        }
        if self.is_listening() {
            return Err(libc::EEXIST);
        }
        let r = self.publish();
        if r.is_err() {
            self.withdraw();
        }
        r
    }

    fn publish(self: &Arc<Self>) -> Result<(), i32> {
        qb_util_log!(libc::LOG_INFO as u8, "server name: {}", self.name_lossy());
        let fd = sock::socket(libc::SOCK_STREAM)?;
        let addr = UnixAddr::service(&self.name)?;
        let fs_path = addr.fs_path();
        if let Some(p) = &fs_path {
            let dir = CString::new(SOCKET_DIR).map_err(|_| EINVAL)?;
            // SAFETY: zeroed stat out-buffer; NUL-terminated paths.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            if unsafe { libc::stat(dir.as_ptr(), &mut st) } != 0
                || st.st_mode & libc::S_IFMT != libc::S_IFDIR
            {
                qb_util_log!(
                    libc::LOG_CRIT as u8,
                    "Required directory not present {}",
                    SOCKET_DIR
                );
                return Err(libc::ENOENT);
            }
            // SAFETY: NUL-terminated path.
            unsafe { libc::unlink(p.as_ptr()) };
        }
        if let Err(e) = sock::bind(fd.as_raw_fd(), &addr) {
            qb_util_log!(
                libc::LOG_ERR as u8,
                "Could not bind AF_UNIX ({}): errno {}",
                self.name_lossy(),
                e
            );
            return Err(e);
        }
        if let Some(p) = &fs_path {
            // Anyone may connect: the handshake authenticates (as libqb).
            // SAFETY: NUL-terminated path.
            unsafe { libc::chmod(p.as_ptr(), 0o777) };
        }
        let _ = sock::set_passcred(fd.as_raw_fd(), true);
        // SAFETY: our socket.
        if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } != 0 {
            qb_util_log!(
                libc::LOG_ERR as u8,
                "socket listen failed: errno {}",
                errno()
            );
        }
        let raw = fd.as_raw_fd();
        *lock(&self.listener) = Some(Listener {
            fd,
            fs_path,
            spare: open_spare(),
        });
        let data = Arc::as_ptr(self).cast::<c_void>();
        self.poll()
            .add(self.priority(), raw, BASE_EVENTS, data, accept_ready)
    }

    /// Closes the listening socket and every half-open handshake.
    pub fn withdraw(&self) {
        let poll = self.poll();
        if let Some(l) = lock(&self.listener).take() {
            qb_util_log!(libc::LOG_INFO as u8, "withdrawing server sockets");
            poll.del(l.fd.as_raw_fd());
            sock::shutdown(&l.fd);
            if let Some(p) = &l.fs_path {
                // SAFETY: NUL-terminated path.
                unsafe { libc::unlink(p.as_ptr()) };
            }
        }
        let pending = std::mem::take(&mut *lock(&self.pending));
        for p in pending {
            p.abandon(&poll);
        }
    }

    /// `qb_ipcs_destroy` (minus the final unref, done by the caller).
    pub fn destroy(self: &Arc<Self>) {
        for c in self.connections() {
            c.disconnect();
        }
        self.withdraw();
    }

    /// `qb_ipcs_request_rate_limit`.
    pub fn rate_limit(&self, rl: u32) {
        let prio = match rl {
            RATE_FAST => PRIO_HIGH,
            RATE_SLOW | RATE_OFF | RATE_OFF_2 => PRIO_LOW,
            _ => PRIO_MED,
        };
        let fc = match rl {
            RATE_OFF => 1,
            RATE_OFF_2 => 2,
            _ => 0,
        };
        let old = self.priority.swap(prio, Ordering::Relaxed);
        for c in self.connections() {
            c.set_flow_control(fc);
            if old != prio {
                c.modify_dispatch();
            }
        }
    }

    /// Live connections, newest first.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        lock(&self.conns).iter().filter_map(Weak::upgrade).collect()
    }

    /// Connections of client uid `uid` (as the kernel reported it) that are
    /// set up and not yet closing: what the per-uid cap counts.
    pub fn connections_of_uid(&self, uid: u32) -> usize {
        self.connections()
            .iter()
            .filter(|c| c.euid == uid && matches!(c.state(), State::Active | State::Established))
            .count()
    }

    pub(super) fn register(&self, c: &Arc<Connection>) {
        lock(&self.conns).insert(0, Arc::downgrade(c));
    }

    /// Called by a connection's `Drop`.
    pub(super) fn forget(&self, c: *const Connection) {
        lock(&self.conns).retain(|w| w.as_ptr() != c && w.strong_count() > 0);
    }

    /// `qb_ipcs_connection_first_get`.
    pub fn first(&self) -> Option<Arc<Connection>> {
        lock(&self.conns).iter().find_map(Weak::upgrade)
    }

    /// `qb_ipcs_connection_next_get`.
    pub fn next(&self, current: *const Connection) -> Option<Arc<Connection>> {
        let g = lock(&self.conns);
        let at = g.iter().position(|w| w.as_ptr() == current)?;
        g.iter().skip(at + 1).find_map(Weak::upgrade)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Normally withdrawn by destroy; an unbalanced unref must not leave a
        // descriptor registered with the application's loop.
        self.withdraw();
        qb_util_log!(libc::LOG_DEBUG as u8, "qb_ipcs_unref() - destroying");
    }
}
