//! One client connection (`qb_ipcs_connection_t`): its lifecycle, reference
//! counting, transport, sends and flow control.
//!
//! # Lifetime
//! A connection is an `Arc`; the C API's `qb_ipcs_connection_ref`/`_unref` move
//! its strong count, so the count libqb documents is the `Arc`'s. The
//! "initial" reference libqb takes at allocation is an `Arc` the connection
//! holds on itself (`initial`) and gives up when it is disconnected. When the
//! last reference goes, `Drop` runs `connection_destroyed` (only if
//! `connection_created` ran) and removes it from its service.
//!
//! # Re-entrancy
//! Every C callback may call back into the library (send, disconnect,
//! iterate, unref). Locks here are held only for a few loads and stores and
//! never across a callback or a poll hook.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use libc::{EAGAIN, EMSGSIZE, ENOTCONN, ETIMEDOUT};

use crate::ipc::placement::{self, Placement};
use crate::ipc::sock;
use crate::qb_util_log;
use crate::rb::guarded::FAULT_ERRNO;

use super::conndir::ConnDir;
use super::poll::{BASE_EVENTS, PRIO_HIGH, PRIO_LOW, PollHandlers};
use super::service::Service;
use super::shm::ShmRings;
use super::socket::SocketChannels;
use super::stats::{ConnectionCounters, ConnectionStats2};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // panic=abort: a poisoned lock cannot be observed.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Owner and mode given to the connection's files (`qb_ipcs_connection_auth_set`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// libqb's connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Allocated; not (or no longer) set up.
    Inactive,
    /// Transport ready, handshake response not yet acknowledged by `created`.
    Active,
    Established,
    /// Transport gone; waiting for `connection_closed` to agree.
    ShuttingDown,
}

pub enum Channels {
    Shm(ShmRings),
    Socket(SocketChannels),
}

/// What a connection talks through. Dropped when the connection is
/// disconnected and no dispatch is using it: the files go first, then the
/// directory, then the setup socket is closed.
pub struct Transport {
    pub channels: Channels,
    pub setup: OwnedFd,
    _dir: ConnDir,
}

impl Transport {
    pub fn new(channels: Channels, setup: OwnedFd, dir: ConnDir) -> Transport {
        Transport {
            channels,
            setup,
            _dir: dir,
        }
    }

    pub fn setup_fd(&self) -> RawFd {
        self.setup.as_raw_fd()
    }

    /// The descriptor whose readiness means "requests to read".
    pub fn request_fd(&self) -> RawFd {
        match &self.channels {
            Channels::Shm(_) => self.setup_fd(),
            Channels::Socket(s) => s.request_fd(),
        }
    }

    fn unregister(&self, poll: &PollHandlers) {
        poll.del(self.request_fd());
        if let Channels::Socket(_) = self.channels {
            poll.del(self.setup_fd());
        }
        // The client sees the end now, whoever still holds the transport.
        sock::shutdown(&self.setup);
    }

    fn set_flow_control(&self, v: i32) -> Result<(), i32> {
        match &self.channels {
            Channels::Shm(r) => r.set_flow_control(v),
            Channels::Socket(s) => s.set_flow_control(v),
        }
    }

    fn events_queued(&self) -> u32 {
        match &self.channels {
            Channels::Shm(r) => r.events_queued(),
            Channels::Socket(s) => s.events_queued(),
        }
    }
}

/// Mutable per-connection bookkeeping (short critical sections only).
pub struct Inner {
    pub state: State,
    pub auth: Auth,
    pub fc: i32,
    pub poll_events: i32,
    /// Event doorbells that did not fit in the setup socket yet.
    pub outstanding: u32,
    /// Request doorbells the client sent (or will send) that we have not read.
    pub owed_doorbells: u32,
    pub in_created: bool,
    pub created_called: bool,
    pub disconnect_requested: bool,
    /// A disconnect job is queued ([`Connection::broken`]).
    pub disconnect_scheduled: bool,
}

pub struct Connection {
    pub(super) service: Arc<Service>,
    pub pid: i32,
    pub euid: u32,
    pub egid: u32,
    pub max_msg_size: u32,
    pub description: String,
    pub(super) inner: Mutex<Inner>,
    pub(super) transport: Mutex<Option<Arc<Transport>>>,
    /// Private copy buffer for requests (taken out while a request is being
    /// processed, so `msg_process` can re-enter freely).
    pub(super) rx: Mutex<Option<Box<[u8]>>>,
    initial: Mutex<Option<Arc<Connection>>>,
    context: AtomicPtr<c_void>,
    pub(super) stats: ConnectionCounters,
    /// At connect time, we (an ordinary time-shared thread) and the client
    /// were both pinned to the same one CPU: after an SHM response we yield
    /// it, so the client takes the response without a futex sleep and
    /// wake-up (see `crate::ipc::placement`).
    yield_after_response: bool,
}

impl Connection {
    /// A new, inactive connection holding its initial reference.
    pub fn new(
        service: Arc<Service>,
        pid: i32,
        uid: u32,
        gid: u32,
        max_msg_size: u32,
        description: String,
    ) -> Arc<Connection> {
        let c = Arc::new(Connection {
            service,
            pid,
            euid: uid,
            egid: gid,
            max_msg_size,
            description,
            inner: Mutex::new(Inner {
                state: State::Inactive,
                auth: Auth {
                    uid,
                    gid,
                    mode: 0o600,
                },
                fc: 0,
                poll_events: BASE_EVENTS,
                outstanding: 0,
                owed_doorbells: 0,
                in_created: false,
                created_called: false,
                disconnect_requested: false,
                disconnect_scheduled: false,
            }),
            transport: Mutex::new(None),
            rx: Mutex::new(None),
            initial: Mutex::new(None),
            context: AtomicPtr::new(std::ptr::null_mut()),
            stats: ConnectionCounters::default(),
            yield_after_response: placement::of_peer(pid) == Placement::SameCpu
                && placement::time_shared(),
        });
        *lock(&c.initial) = Some(c.clone());
        c
    }

    /// The pointer C code knows this connection by.
    pub fn c_ptr(self: &Arc<Self>) -> *mut Connection {
        Arc::as_ptr(self).cast_mut()
    }

    pub fn state(&self) -> State {
        lock(&self.inner).state
    }

    pub fn set_state(&self, s: State) {
        lock(&self.inner).state = s;
    }

    pub fn auth(&self) -> Auth {
        lock(&self.inner).auth
    }

    pub fn set_auth(&self, a: Auth) {
        lock(&self.inner).auth = a;
    }

    pub fn context(&self) -> *mut c_void {
        self.context.load(Ordering::Acquire)
    }

    pub fn set_context(&self, p: *mut c_void) {
        self.context.store(p, Ordering::Release);
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    pub(super) fn transport(&self) -> Option<Arc<Transport>> {
        lock(&self.transport).clone()
    }

    pub(super) fn install(&self, t: Transport, rx: Box<[u8]>) {
        *lock(&self.transport) = Some(Arc::new(t));
        *lock(&self.rx) = Some(rx);
    }

    /// Gives up the initial reference (the connection may be destroyed when
    /// the caller's own reference goes).
    fn release_initial(&self) {
        let me = lock(&self.initial).take();
        drop(me);
    }

    /// Drops a connection that never became active.
    pub(super) fn abandon(&self) {
        self.release_initial();
    }

    fn has_initial(&self) -> bool {
        lock(&self.initial).is_some()
    }

    /// Unregisters and drops the transport (its files go when the last user
    /// of it, possibly a running dispatch, lets go).
    fn teardown(&self) {
        let t = lock(&self.transport).take();
        if let Some(t) = t {
            t.unregister(&self.service.poll());
        }
    }

    /// `qb_ipcs_disconnect`.
    pub fn disconnect(self: &Arc<Self>) {
        qb_util_log!(
            libc::LOG_DEBUG as u8,
            "qb_ipcs_disconnect({}) state:{:?}",
            self.description,
            self.state()
        );
        let mut g = lock(&self.inner);
        match g.state {
            State::Inactive => return,
            State::Active => {
                if g.in_created {
                    // Finished once `connection_created` returns, so that
                    // closed and destroyed still run exactly once.
                    g.disconnect_requested = true;
                    return;
                }
                g.state = State::Inactive;
                drop(g);
                self.teardown();
                self.service.counters.connection_closed(false);
                self.release_initial();
                return;
            }
            State::Established => {
                g.state = State::ShuttingDown;
                drop(g);
                self.teardown();
                self.service.counters.connection_closed(true);
            }
            State::ShuttingDown => drop(g),
        }
        if !self.has_initial() {
            return;
        }
        let closed = self.service.handlers.connection_closed;
        // SAFETY: the application's callback with a live connection.
        let rc = closed.map_or(0, |f| unsafe { f(self.c_ptr()) });
        if rc != 0 {
            // Asked to be called again later: a LOW job holding a reference.
            let data = Arc::into_raw(self.clone()).cast_mut().cast::<c_void>();
            let poll = self.service.poll();
            // SAFETY: `data` owns a reference, released by the job.
            if unsafe { poll.job(PRIO_LOW, data, rerun_disconnect) }.is_ok() {
                return;
            }
            // SAFETY: the reference we leaked just above; the job was refused.
            drop(unsafe { Arc::from_raw(data.cast::<Connection>()) });
        }
        self.release_initial();
    }

    /// Runs `connection_created` and promotes the connection (handshake done).
    pub(super) fn run_created(self: &Arc<Self>) {
        {
            let mut g = lock(&self.inner);
            g.in_created = true;
            g.created_called = true;
        }
        if let Some(f) = self.service.handlers.connection_created {
            // SAFETY: the application's callback with a live connection.
            unsafe { f(self.c_ptr()) };
        }
        let again = {
            let mut g = lock(&self.inner);
            g.in_created = false;
            if g.state == State::Active {
                g.state = State::Established;
            }
            std::mem::take(&mut g.disconnect_requested)
        };
        if again {
            self.disconnect();
        }
    }

    /// Sets the client's send gate (`qb_ipcs_request_rate_limit`).
    pub fn set_flow_control(self: &Arc<Self>, v: i32) {
        {
            let mut g = lock(&self.inner);
            if g.fc == v {
                return;
            }
            g.fc = v;
        }
        if let Some(t) = self.transport()
            && let Err(e) = t.set_flow_control(v)
        {
            self.broken(e);
        }
        self.stats.flow_control_state.store(v, Ordering::Relaxed);
        ConnectionCounters::bump(&self.stats.flow_control_count);
    }

    pub fn flow_control(&self) -> i32 {
        lock(&self.inner).fc
    }

    /// The client damaged memory we share with it (a ring or the control
    /// file: corrupt, or truncated so that touching it faulted). Nothing more
    /// can be exchanged: disconnect it from a HIGH job, outside whatever
    /// library call or callback noticed it. Logged once, when the disconnect
    /// is scheduled (a damaged client may fail many calls before it runs).
    pub(super) fn broken(self: &Arc<Self>, e: i32) {
        {
            let mut g = lock(&self.inner);
            if g.disconnect_scheduled {
                return;
            }
            g.disconnect_scheduled = true;
        }
        qb_util_log!(
            libc::LOG_WARNING as u8,
            "client {} damaged its shared memory (errno {}): disconnecting",
            self.description,
            e
        );
        let data = Arc::into_raw(self.clone()).cast_mut().cast::<c_void>();
        // SAFETY: `data` owns a reference, released by the job.
        if unsafe { self.service.poll().job(PRIO_HIGH, data, rerun_disconnect) }.is_err() {
            // SAFETY: the reference leaked just above; the job was refused.
            drop(unsafe { Arc::from_raw(data.cast::<Connection>()) });
            lock(&self.inner).disconnect_scheduled = false;
        }
    }

    /// Re-registers the request descriptor (new priority or events).
    pub(super) fn modify_dispatch(self: &Arc<Self>) {
        let Some(t) = self.transport() else {
            return;
        };
        let events = lock(&self.inner).poll_events;
        let prio = self.service.priority();
        let data = Arc::as_ptr(self).cast::<c_void>();
        let _ = self.service.poll().modify(
            prio,
            t.request_fd(),
            events,
            data,
            super::dispatch::dispatch_request,
        );
    }

    pub fn stats(&self, clear: bool) -> ConnectionStats2 {
        let q = self.transport().map_or(0, |t| t.events_queued());
        self.stats.snapshot(self.pid, q, clear)
    }

    /// `qb_ipcs_response_send(v)`: `parts` concatenated form one response.
    pub fn send_response(self: &Arc<Self>, parts: &[&[u8]]) -> Result<usize, i32> {
        self.send(false, parts)
    }

    /// `qb_ipcs_event_send(v)`.
    pub fn send_event(self: &Arc<Self>, parts: &[&[u8]]) -> Result<usize, i32> {
        self.send(true, parts)
    }

    fn send(self: &Arc<Self>, event: bool, parts: &[&[u8]]) -> Result<usize, i32> {
        let total = parts
            .iter()
            .try_fold(0usize, |a, p| a.checked_add(p.len()))
            .ok_or(EMSGSIZE)?;
        if total > self.max_msg_size as usize {
            return Err(EMSGSIZE);
        }
        let t = self.transport().ok_or(ENOTCONN)?;
        let res = match &t.channels {
            Channels::Shm(r) => {
                let ring = if event { &r.event } else { &r.response };
                match parts {
                    [one] => ring.write(one),
                    _ => ring.write_parts(parts),
                }
            }
            Channels::Socket(s) => s.send(event, parts),
        };
        match res {
            Ok(n) => {
                if event {
                    ConnectionCounters::bump(&self.stats.events);
                    if let Channels::Shm(_) = t.channels {
                        match self.notify_event(&t) {
                            Ok(()) | Err(EAGAIN) | Err(libc::ENOBUFS) => {}
                            Err(e) => return Err(e),
                        }
                    }
                } else {
                    ConnectionCounters::bump(&self.stats.responses);
                    if self.yield_after_response && matches!(t.channels, Channels::Shm(_)) {
                        placement::yield_cpu();
                    }
                }
                Ok(n)
            }
            Err(e) if e == EAGAIN || e == ETIMEDOUT => {
                ConnectionCounters::bump(&self.stats.send_retries);
                if event {
                    let _ = self.resend_notifications(&t);
                }
                // A vanished client turns "try again" into "not connected".
                if sock::peer_gone(t.setup_fd()) {
                    return Err(ENOTCONN);
                }
                Err(e)
            }
            Err(e) => {
                if e == FAULT_ERRNO {
                    self.broken(e);
                }
                Err(e)
            }
        }
    }

    /// One doorbell byte on the setup socket per event (SHM only); when the
    /// socket is full the byte is owed and POLLOUT is watched.
    fn notify_event(self: &Arc<Self>, t: &Transport) -> Result<(), i32> {
        let pending = lock(&self.inner).outstanding;
        if pending > 0 {
            lock(&self.inner).outstanding += 1;
            return self.resend_notifications(t);
        }
        match sock::send_once(t.setup_fd(), &[0u8]) {
            Ok(1) => Ok(()),
            Ok(_) | Err(EAGAIN) => {
                {
                    let mut g = lock(&self.inner);
                    g.outstanding += 1;
                    g.poll_events = BASE_EVENTS | libc::POLLOUT as i32;
                }
                self.modify_dispatch();
                Err(EAGAIN)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends owed event doorbells; stops watching POLLOUT once none are owed.
    pub(super) fn resend_notifications(self: &Arc<Self>, t: &Transport) -> Result<(), i32> {
        let owed = lock(&self.inner).outstanding;
        if owed == 0 {
            return Ok(());
        }
        let zeros = [0u8; 64];
        let n = (owed as usize).min(zeros.len());
        let sent = match sock::send_once(t.setup_fd(), &zeros[..n]) {
            Ok(k) => k as u32,
            Err(EAGAIN) => 0,
            Err(e) => return Err(e),
        };
        let done = {
            let mut g = lock(&self.inner);
            g.outstanding = g.outstanding.saturating_sub(sent);
            if g.outstanding == 0 && g.poll_events != BASE_EVENTS {
                g.poll_events = BASE_EVENTS;
                true
            } else {
                false
            }
        };
        if done {
            self.modify_dispatch();
        }
        Ok(())
    }

    /// The buffer size every channel of this connection was created with.
    pub fn buffer_size(&self) -> u32 {
        self.max_msg_size
    }
}

/// The LOW-priority job that retries a disconnect `connection_closed` deferred.
unsafe extern "C" fn rerun_disconnect(data: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the reference leaked when the job was scheduled.
    let c = unsafe { Arc::from_raw(data.cast::<Connection>().cast_const()) };
    c.disconnect();
}

impl Drop for Connection {
    fn drop(&mut self) {
        let me: *const Connection = self;
        self.service.forget(me);
        let created = lock(&self.inner).created_called;
        if created && let Some(f) = self.service.handlers.connection_destroyed {
            // SAFETY: the application's callback; the connection is fully
            // alive until this function returns.
            unsafe { f(me.cast_mut()) };
        }
        self.teardown();
        qb_util_log!(
            libc::LOG_DEBUG as u8,
            "connection {} freed",
            self.description
        );
    }
}
