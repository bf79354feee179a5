//! The live half of target `ipc_handshake`: the bytes go to a real server
//! (created once per process through the C API, one per transport) over a
//! real socket, in fragments, and the client's own code reads the answer.
//!
//! The server's loop hooks are a minimal loop of our own ([`pump`]), so each
//! run is deterministic and nothing waits. Checked: a complete hello that
//! the stock client would send is accepted with the negotiated size; nothing
//! else is ever answered with success; and once the client has gone, the
//! server holds no connection, no descriptor registration but its listener,
//! and no /dev/shm entry of the connection.

use std::ffi::{CStr, CString, c_void};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::ffi::qbipc_common::{QB_IPC_MSG_AUTHENTICATE, QB_IPC_SHM, QB_IPC_SOCKET};
use crate::ffi::qbipcs::{
    qb_ipcs_connection_first_get, qb_ipcs_connection_unref, qb_ipcs_create,
    qb_ipcs_poll_handlers_set, qb_ipcs_run,
};
use crate::ipc::client::handshake::{self as client_hs, Kind};
use crate::ipc::server::handshake::{max_msg_ceiling, negotiate};
use crate::ipc::server::{Connection, PollHandlers, ServiceHandlers};
use crate::ipc::sock;
use crate::ipc::wire::ConnectionRequest;

use super::Input;

type DispatchFn = unsafe extern "C" fn(i32, i32, *mut c_void) -> i32;
type JobFn = unsafe extern "C" fn(*mut c_void);

/// One registered descriptor of the fake loop.
#[derive(Clone, Copy)]
struct Watch {
    fd: i32,
    events: i32,
    data: usize,
    f: DispatchFn,
}

static WATCHES: Mutex<Vec<Watch>> = Mutex::new(Vec::new());
static JOBS: Mutex<Vec<(usize, JobFn)>> = Mutex::new(Vec::new());
/// One run at a time (the loop and the services are process-wide).
static RUN: Mutex<()> = Mutex::new(());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

unsafe extern "C" fn hook_add(
    _p: u32,
    fd: i32,
    events: i32,
    data: *mut c_void,
    f: Option<DispatchFn>,
) -> i32 {
    let Some(f) = f else {
        return -libc::EINVAL;
    };
    let mut w = lock(&WATCHES);
    if w.iter().any(|x| x.fd == fd) {
        return -libc::EEXIST;
    }
    w.push(Watch {
        fd,
        events,
        data: data as usize,
        f,
    });
    0
}

unsafe extern "C" fn hook_mod(
    _p: u32,
    fd: i32,
    events: i32,
    data: *mut c_void,
    f: Option<DispatchFn>,
) -> i32 {
    let Some(f) = f else {
        return -libc::EINVAL;
    };
    let mut w = lock(&WATCHES);
    match w.iter_mut().find(|x| x.fd == fd) {
        Some(x) => {
            *x = Watch {
                fd,
                events,
                data: data as usize,
                f,
            };
            0
        }
        None => -libc::ENOENT,
    }
}

unsafe extern "C" fn hook_del(fd: i32) -> i32 {
    lock(&WATCHES).retain(|x| x.fd != fd);
    0
}

unsafe extern "C" fn hook_job(_p: u32, data: *mut c_void, f: Option<JobFn>) -> i32 {
    match f {
        Some(f) => {
            lock(&JOBS).push((data as usize, f));
            0
        }
        None => -libc::EINVAL,
    }
}

/// One turn of the loop: queued jobs, then every ready descriptor once. A
/// dispatch function returning < 0 is unregistered (as qb_loop does).
fn pump() {
    let jobs = std::mem::take(&mut *lock(&JOBS));
    for (data, f) in jobs {
        // SAFETY: the server's job with the data it registered.
        unsafe { f(data as *mut c_void) };
    }
    let watches = lock(&WATCHES).clone();
    let mut fds: Vec<libc::pollfd> = watches
        .iter()
        .map(|w| libc::pollfd {
            fd: w.fd,
            events: w.events as i16,
            revents: 0,
        })
        .collect();
    // SAFETY: a valid array of pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if n <= 0 {
        return;
    }
    for (w, p) in watches.iter().zip(&fds) {
        if p.revents == 0 {
            continue;
        }
        // Still registered, and with the same callback? (An earlier callback
        // of this turn may have removed or replaced it.)
        let current = lock(&WATCHES)
            .iter()
            .find(|x| x.fd == w.fd)
            .copied()
            .filter(|x| x.data == w.data && std::ptr::fn_addr_eq(x.f, w.f));
        let Some(w) = current else {
            continue;
        };
        // SAFETY: the server's callback with the data it registered.
        let rc = unsafe { (w.f)(w.fd, i32::from(p.revents), w.data as *mut c_void) };
        if rc < 0 {
            lock(&WATCHES).retain(|x| !(x.fd == w.fd && x.data == w.data));
        }
    }
}

unsafe extern "C" fn accept_all(_c: *mut Connection, _uid: u32, _gid: u32) -> i32 {
    0
}

unsafe extern "C" fn ignore_msg(_c: *mut Connection, _d: *mut c_void, _n: usize) -> i32 {
    0
}

/// A running service of the given transport, and its name.
struct Server {
    ptr: usize,
    name: CString,
}

fn server(shm: bool) -> &'static Server {
    static SERVERS: [OnceLock<Server>; 2] = [OnceLock::new(), OnceLock::new()];
    SERVERS[usize::from(shm)].get_or_init(|| {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let kind = if shm { QB_IPC_SHM } else { QB_IPC_SOCKET };
        let name = CString::new(format!("qbfuzz-{pid}-{kind}")).unwrap_or_default();
        let mut handlers = ServiceHandlers {
            connection_accept: Some(accept_all),
            msg_process: Some(ignore_msg),
            ..ServiceHandlers::default()
        };
        let mut poll = PollHandlers {
            job_add: Some(hook_job),
            dispatch_add: Some(hook_add),
            dispatch_mod: Some(hook_mod),
            dispatch_del: Some(hook_del),
        };
        // SAFETY: a NUL-terminated name and handler structs, per the C API.
        let s = unsafe {
            let s = qb_ipcs_create(name.as_ptr(), 1, kind as _, &mut handlers);
            assert!(!s.is_null(), "qb_ipcs_create");
            qb_ipcs_poll_handlers_set(s, &mut poll);
            assert_eq!(qb_ipcs_run(s), 0, "qb_ipcs_run");
            s
        };
        Server {
            ptr: s as usize,
            name,
        }
    })
}

fn connection_count(s: &Server) -> usize {
    // SAFETY: a live service; the reference taken is released at once.
    let c = unsafe { qb_ipcs_connection_first_get(s.ptr as *mut _) };
    if c.is_null() {
        return 0;
    }
    // SAFETY: the reference first_get gave us.
    unsafe { qb_ipcs_connection_unref(c) };
    1
}

fn client_socket(s: &Server) -> OwnedFd {
    let fd = sock::socket(libc::SOCK_STREAM).expect("client socket");
    let addr = sock::UnixAddr::service(s.name.as_bytes()).expect("service address");
    sock::connect(fd.as_raw_fd(), &addr).expect("connect to the fuzz server");
    sock::set_passcred(fd.as_raw_fd(), true).expect("SO_PASSCRED");
    fd
}

fn exists(path: &CStr) -> bool {
    // SAFETY: NUL-terminated path.
    unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
}

/// `ctl`: bit 0 the transport (SHM or socket), bit 1 shut the write side
/// after sending, bit 3 send only part of the hello, bits 4-7 the number of fragments - 1; `inp` then holds the
/// fragment lengths. What is sent: `hello`, then `extra`.
pub fn run(ctl: u8, inp: &mut Input, hello: &[u8; 24], extra: &[u8]) {
    let _one = lock(&RUN);
    let shm = ctl & 1 != 0;
    let shut = ctl & 2 != 0;
    let frags = usize::from(ctl >> 4) + 1;
    let s = server(shm);
    let listener_only = lock(&WATCHES).len();

    let mut stream = hello.to_vec();
    stream.extend_from_slice(extra);
    if ctl & 8 != 0 {
        // Only part of the hello, then silence or the end of the stream.
        stream.truncate(usize::from(inp.u8()) % hello.len());
    }
    let client = client_socket(s);
    let mut sent = 0;
    for i in 0..frags {
        let n = if i + 1 == frags {
            stream.len() - sent
        } else {
            usize::from(inp.u8() % 32).min(stream.len() - sent)
        };
        match sock::send_once(client.as_raw_fd(), &stream[sent..sent + n]) {
            Ok(k) => sent += k,
            // The server hung up (it closes after a bad hello).
            Err(libc::EPIPE | libc::ECONNRESET) => break,
            Err(e) => panic!("send to the server: errno {e}"),
        }
        pump();
        pump();
    }
    if shut {
        // SAFETY: our socket.
        unsafe { libc::shutdown(client.as_raw_fd(), libc::SHUT_WR) };
    }
    for _ in 0..4 {
        pump();
    }
    // SAFETY: ConnectionRequest is plain integers.
    let req: ConnectionRequest = unsafe { std::ptr::read_unaligned(hello.as_ptr().cast()) };
    let complete = sent >= hello.len();
    let proper = complete && req.hdr.id == QB_IPC_MSG_AUTHENTICATE && req.hdr.size == 24;
    let answer = client_hs::finish(client.as_raw_fd(), 0);
    let mut dirs = Vec::new();
    match &answer {
        Ok(a) => {
            assert!(
                complete && req.hdr.id == QB_IPC_MSG_AUTHENTICATE,
                "the server accepted a bad hello"
            );
            let want = negotiate(req.max_msg_size, 0, max_msg_ceiling());
            assert_eq!(a.max_msg_size, want, "negotiated size");
            assert_eq!(a.kind, if shm { Kind::Shm } else { Kind::Socket });
            // SAFETY: getpid has no preconditions.
            assert_eq!(a.creds.pid, unsafe { libc::getpid() });
            for p in [&a.request, &a.response] {
                let b = p.as_bytes();
                let dir = &b[..b.iter().rposition(|&c| c == b'/').unwrap_or(0)];
                assert!(dir.starts_with(b"/dev/shm/qb-"), "odd path {p:?}");
                dirs.push(CString::new(dir).unwrap_or_default());
            }
        }
        Err(e) => {
            // A proper hello is refused only for want of resources.
            assert!(
                !proper || matches!(*e, libc::EMFILE | libc::ENFILE | libc::ENOMEM),
                "a proper hello got errno {e}"
            );
        }
    }
    drop(client);
    for _ in 0..64 {
        if connection_count(s) == 0 && lock(&WATCHES).len() <= listener_only {
            break;
        }
        pump();
    }
    assert_eq!(connection_count(s), 0, "the connection outlived its client");
    assert_eq!(
        lock(&WATCHES).len(),
        listener_only,
        "descriptors still registered after the client left"
    );
    for d in dirs {
        assert!(!exists(&d), "{d:?} left behind");
    }
}
