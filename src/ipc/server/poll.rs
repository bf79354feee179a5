//! The application's event-loop hooks (`struct qb_ipcs_poll_handlers`) and the
//! service callbacks (`struct qb_ipcs_service_handlers`).
//!
//! libqb's server owns no loop: every descriptor and deferred job goes through
//! these C function pointers (a qb_loop, a glib main loop, ...). They are kept
//! as plain `Option<extern "C" fn>` values, copied out of any lock before they
//! are called, because the callee may re-enter the library.

use std::ffi::c_void;

use super::connection::Connection;

/// `qb_ipcs_dispatch_fn_t`: what the loop calls when a descriptor is ready.
pub type DispatchFn = unsafe extern "C" fn(fd: i32, revents: i32, data: *mut c_void) -> i32;
/// `qb_loop_job_dispatch_fn`.
pub type JobFn = unsafe extern "C" fn(data: *mut c_void);

pub type JobAddFn = unsafe extern "C" fn(p: u32, data: *mut c_void, f: Option<JobFn>) -> i32;
pub type DispatchAddFn = unsafe extern "C" fn(
    p: u32,
    fd: i32,
    events: i32,
    data: *mut c_void,
    f: Option<DispatchFn>,
) -> i32;
pub type DispatchDelFn = unsafe extern "C" fn(fd: i32) -> i32;

/// `QB_LOOP_LOW`, `QB_LOOP_MED`, `QB_LOOP_HIGH`.
pub const PRIO_LOW: u32 = 0;
pub const PRIO_MED: u32 = 1;
pub const PRIO_HIGH: u32 = 2;

/// The poll events libqb registers a connection with (`POLLIN|POLLPRI|POLLNVAL`).
pub const BASE_EVENTS: i32 = (libc::POLLIN | libc::POLLPRI | libc::POLLNVAL) as i32;

/// `struct qb_ipcs_poll_handlers` (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PollHandlers {
    pub job_add: Option<JobAddFn>,
    pub dispatch_add: Option<DispatchAddFn>,
    pub dispatch_mod: Option<DispatchAddFn>,
    pub dispatch_del: Option<DispatchDelFn>,
}

impl PollHandlers {
    /// libqb requires the three dispatch hooks (`job_add` may be NULL).
    pub fn complete(&self) -> bool {
        self.dispatch_add.is_some() && self.dispatch_mod.is_some() && self.dispatch_del.is_some()
    }

    /// Registers `fd`; Err(-result) if the hook refused (positive errno).
    pub fn add(
        &self,
        p: u32,
        fd: i32,
        events: i32,
        data: *const c_void,
        f: DispatchFn,
    ) -> Result<(), i32> {
        let Some(add) = self.dispatch_add else {
            return Err(libc::EINVAL);
        };
        // SAFETY: the application's hook, called with libqb's arguments.
        let rc = unsafe { add(p, fd, events, data.cast_mut(), Some(f)) };
        if rc < 0 { Err(-rc) } else { Ok(()) }
    }

    pub fn modify(
        &self,
        p: u32,
        fd: i32,
        events: i32,
        data: *const c_void,
        f: DispatchFn,
    ) -> Result<(), i32> {
        let Some(m) = self.dispatch_mod else {
            return Err(libc::EINVAL);
        };
        // SAFETY: as for add.
        let rc = unsafe { m(p, fd, events, data.cast_mut(), Some(f)) };
        if rc < 0 { Err(-rc) } else { Ok(()) }
    }

    pub fn del(&self, fd: i32) {
        if let Some(d) = self.dispatch_del {
            // SAFETY: as for add; libqb ignores the result too.
            unsafe { d(fd) };
        }
    }

    /// Schedules a job; Err if there is no `job_add` hook or it refused.
    ///
    /// # Safety
    /// `data` must stay valid for `f` until the job has run.
    pub unsafe fn job(&self, p: u32, data: *mut c_void, f: JobFn) -> Result<(), i32> {
        let Some(j) = self.job_add else {
            return Err(libc::ENOTSUP);
        };
        // SAFETY: as for add.
        let rc = unsafe { j(p, data, Some(f)) };
        if rc < 0 {
            Err(-rc)
        } else if rc > 0 {
            Err(libc::EAGAIN)
        } else {
            Ok(())
        }
    }
}

/// `struct qb_ipcs_service_handlers` (40 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ServiceHandlers {
    pub connection_accept:
        Option<unsafe extern "C" fn(c: *mut Connection, uid: u32, gid: u32) -> i32>,
    pub connection_created: Option<unsafe extern "C" fn(c: *mut Connection)>,
    pub msg_process:
        Option<unsafe extern "C" fn(c: *mut Connection, data: *mut c_void, size: usize) -> i32>,
    pub connection_closed: Option<unsafe extern "C" fn(c: *mut Connection) -> i32>,
    pub connection_destroyed: Option<unsafe extern "C" fn(c: *mut Connection)>,
}

const _: () = {
    assert!(size_of::<PollHandlers>() == 32);
    assert!(size_of::<ServiceHandlers>() == 40);
};
