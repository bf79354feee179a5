//! Dynamic target slots (4..=31): file and custom targets, and the per-target user
//! data (`qb_log_target_user_data_set`/`get`).
//!
//! Slots are handed out lowest first, as libqb does. A slot's output lives in its
//! [`Target`] (`Target::output`); file descriptors are shared through an `Arc` so a
//! line can be written after the configuration lock is released (see
//! [`super::pending`]). Application callbacks (a custom target's close function) are
//! only ever called with no logger lock held.

use std::ffi::{CStr, c_void};
use std::sync::Arc;

use super::custom::CustomFns;
use super::file::FileSink;
use super::filter::{Filter, FilterOp, FilterType};
use super::targets::{Conf, STATIC_MAX, TARGET_MAX, Target, TargetState};

/// Where a target's lines go, besides the built-in outputs of the static slots.
#[derive(Clone, Debug, Default)]
pub enum Output {
    /// Static slots (syslog, stderr, blackbox, stdout) and unused slots.
    #[default]
    Builtin,
    File(Arc<FileSink>),
    Custom(CustomFns),
}

/// A used dynamic slot.
fn dynamic_slot(cfg: &super::Config, t: i32) -> Option<usize> {
    let t = usize::try_from(t)
        .ok()
        .filter(|&t| (STATIC_MAX..TARGET_MAX).contains(&t))?;
    (cfg.targets[t].state != TargetState::Unused).then_some(t)
}

/// Takes the lowest unused dynamic slot for `output`: it starts disabled, with the
/// defaults `qb_log_init()` gives (libqb's slots start with no filters too).
fn alloc(cfg: &mut super::Config, output: Output) -> Result<usize, i32> {
    let slot = (STATIC_MAX..TARGET_MAX)
        .find(|&t| cfg.targets[t].state == TargetState::Unused)
        .ok_or(libc::EMFILE)?;
    let old = &cfg.targets[slot];
    let mut fresh = Target::new(slot);
    fresh.name = old.name.clone();
    fresh.facility = old.facility;
    fresh.state = TargetState::Disabled;
    fresh.output = output;
    cfg.targets[slot] = fresh;
    Ok(slot)
}

/// `qb_log_file_open`: a new target appending to `path`. EMFILE when every slot is
/// taken (or logging is not initialised, as with libqb).
pub fn file_open(path: &CStr) -> Result<i32, i32> {
    if !super::is_inited() {
        return Err(libc::EMFILE);
    }
    let sink = Arc::new(FileSink::open(path)?);
    let mut cfg = super::write();
    let slot = alloc(&mut cfg, Output::File(sink))?;
    Ok(slot as i32)
}

/// `qb_log_custom_open`.
pub fn custom_open(fns: CustomFns, user_data: *mut c_void) -> Result<i32, i32> {
    if !super::is_inited() {
        return Err(libc::EMFILE);
    }
    let mut cfg = super::write();
    let slot = alloc(&mut cfg, Output::Custom(fns))?;
    cfg.targets[slot].user_data = user_data as usize;
    Ok(slot as i32)
}

/// `qb_log_file_close` / `qb_log_custom_close`: calls a custom target's close
/// function, then frees the slot (its filters are dropped and every call site stops
/// sending to it). Static slots and unused slots are left alone.
pub fn close(t: i32) {
    if !super::is_inited() {
        return;
    }
    let output = {
        let cfg = super::read();
        let Some(slot) = dynamic_slot(&cfg, t) else {
            return;
        };
        cfg.targets[slot].output.clone()
    };
    if let Output::Custom(fns) = output {
        fns.close(t as usize);
    }
    let mut cfg = super::write();
    let Some(slot) = dynamic_slot(&cfg, t) else {
        return;
    };
    if let Ok(clear) = Filter::new(FilterOp::ClearAll, FilterType::File, b"", 0, 0, t as u32) {
        let _ = super::store_and_apply(&mut cfg, clear);
    }
    let mut unused = Target::new(slot);
    unused.name = std::mem::take(&mut cfg.targets[slot].name);
    unused.facility = cfg.targets[slot].facility;
    // The old target (and with it the file descriptor, once no writer holds it)
    // goes away here.
    cfg.targets[slot] = unused;
}

/// `qb_log_file_reopen`: `path` None reopens the current file (log rotation).
/// EBADF for a slot that is not a file target.
pub fn file_reopen(t: i32, path: Option<&CStr>) -> Result<(), i32> {
    let sink = {
        let cfg = super::read();
        let slot = dynamic_slot(&cfg, t).ok_or(libc::EBADF)?;
        match &cfg.targets[slot].output {
            Output::File(sink) => sink.clone(),
            _ => return Err(libc::EBADF),
        }
    };
    // The configuration lock is not held while opening: other threads keep logging.
    sink.reopen(path)
}

/// A used slot (static or dynamic).
fn used_slot(cfg: &super::Config, t: i32) -> Option<usize> {
    let t = usize::try_from(t).ok().filter(|&t| t < TARGET_MAX)?;
    (cfg.targets[t].state != TargetState::Unused).then_some(t)
}

/// `qb_log_target_user_data_get`: EBADF for an unused or invalid slot.
pub fn user_data_get(t: i32) -> Result<*mut c_void, i32> {
    let cfg = super::read();
    let slot = used_slot(&cfg, t).ok_or(libc::EBADF)?;
    Ok(cfg.targets[slot].user_data as *mut c_void)
}

/// `qb_log_target_user_data_set`: EINVAL before `qb_log_init`, EBADF for an unused
/// or invalid slot.
pub fn user_data_set(t: i32, user_data: *mut c_void) -> Result<(), i32> {
    if !super::is_inited() {
        return Err(libc::EINVAL);
    }
    let mut cfg = super::write();
    let slot = used_slot(&cfg, t).ok_or(libc::EBADF)?;
    cfg.targets[slot].user_data = user_data as usize;
    Ok(())
}

/// The close callback that disabling `target` with `conf` must run (after the
/// configuration lock is released): libqb closes a custom target each time it goes
/// from enabled to disabled.
pub fn closer_for(target: &Target, conf: &Conf) -> Option<CustomFns> {
    match (&target.output, conf) {
        (Output::Custom(fns), Conf::Enabled(false)) if target.is_enabled() => Some(*fns),
        _ => None,
    }
}

/// At `qb_log_fini()`: files are closed, and enabled custom targets' close
/// callbacks are returned so the caller runs them once the lock is released.
pub fn release_at_fini(target: &mut Target) -> Option<CustomFns> {
    match &target.output {
        Output::File(_) => {
            target.output = Output::Builtin;
            None
        }
        Output::Custom(fns) if target.is_enabled() => Some(*fns),
        _ => None,
    }
}
