//! Notifiers: who wants to hear about which events, and the list of calls a map
//! operation produces.
//!
//! The core never calls back into C itself. An operation returns the calls it
//! owes as [`Calls`]; the FFI makes them once the map is consistent and no Rust
//! borrow of it is alive, so callbacks may freely use the map again.

use std::ffi::{c_char, c_void};

pub const DELETED: u32 = 1;
pub const REPLACED: u32 = 2;
pub const INSERTED: u32 = 4;
pub const RECURSIVE: u32 = 8;
pub const FREE: u32 = 16;

/// `qb_map_notify_fn`: kept as an opaque C function pointer; only the FFI calls it.
pub type NotifyFn = unsafe extern "C" fn(
    event: u32,
    key: *mut c_char,
    old: *mut c_void,
    new: *mut c_void,
    user: *mut c_void,
);

/// One registered notifier.
#[derive(Clone, Copy, Debug)]
pub struct Notifier {
    pub callback: NotifyFn,
    pub events: u32,
    /// Opaque pointer handed back to the callback.
    pub user_data: *mut c_void,
}

impl Notifier {
    fn same_callback(&self, f: NotifyFn) -> bool {
        std::ptr::fn_addr_eq(self.callback, f)
    }
}

/// One callback invocation owed to C.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub notifier: Notifier,
    pub event: u32,
    pub key: *const c_char,
    pub old: *mut c_void,
    pub new: *mut c_void,
}

/// Calls produced by one operation, in delivery order (usually empty: no allocation).
pub type Calls = Vec<Call>;

/// What changed, for [`collect`].
#[derive(Clone, Copy)]
pub struct Event {
    pub event: u32,
    pub key: *const c_char,
    pub old: *mut c_void,
    pub new: *mut c_void,
}

/// Appends the calls `list` owes for `ev`. `direct` says whether the list belongs
/// to the entry itself (or the map, for kinds without prefix semantics); if not,
/// only RECURSIVE notifiers hear the event. FREE notifiers always follow a
/// DELETED or REPLACED so the user can release the old key and value.
pub fn collect(list: &[Notifier], ev: &Event, direct: bool, out: &mut Calls) {
    for n in list {
        if n.events & ev.event != 0 && (direct || n.events & RECURSIVE != 0) {
            out.push(Call {
                notifier: *n,
                event: ev.event,
                key: ev.key,
                old: ev.old,
                new: ev.new,
            });
        }
        if ev.event & (DELETED | REPLACED) != 0 && n.events & FREE != 0 {
            out.push(Call {
                notifier: *n,
                event: FREE,
                key: ev.key,
                old: ev.old,
                new: ev.new,
            });
        }
    }
}

/// Adds `n` to `list` following libqb's rules: duplicates (same events,
/// callback and user data) and a second FREE notifier with the same events are
/// refused; `at_tail` puts it last (else first, so newer notifiers run first).
pub fn add(list: &mut Vec<Notifier>, n: Notifier, at_tail: bool) -> Result<(), i32> {
    for f in list.iter() {
        if n.events & FREE != 0 && f.events == n.events {
            return Err(libc::EEXIST);
        }
        if f.events == n.events && f.same_callback(n.callback) && f.user_data == n.user_data {
            return Err(libc::EEXIST);
        }
    }
    if at_tail {
        list.push(n);
    } else {
        list.insert(0, n);
    }
    Ok(())
}

/// Removes every notifier matching callback and events (and user data when
/// given). `ENOENT` if none matched.
pub fn remove(
    list: &mut Vec<Notifier>,
    callback: Option<NotifyFn>,
    events: u32,
    user_data: Option<*mut c_void>,
) -> Result<(), i32> {
    let before = list.len();
    list.retain(|f| {
        let hit = f.events == events
            && callback.is_some_and(|cb| f.same_callback(cb))
            && user_data.is_none_or(|u| f.user_data == u);
        !hit
    });
    if list.len() == before {
        Err(libc::ENOENT)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The two callbacks need different bodies: identical functions may be merged
    // into one address by an optimised build, and the tests tell them apart by address.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    unsafe extern "C" fn cb_a(
        _: u32,
        _: *mut c_char,
        _: *mut c_void,
        _: *mut c_void,
        _: *mut c_void,
    ) {
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    unsafe extern "C" fn cb_b(
        _: u32,
        _: *mut c_char,
        _: *mut c_void,
        _: *mut c_void,
        _: *mut c_void,
    ) {
        CALLS.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    }

    fn n(cb: NotifyFn, events: u32, user: usize) -> Notifier {
        Notifier {
            callback: cb,
            events,
            user_data: user as *mut c_void,
        }
    }

    #[test]
    fn add_rules() {
        let mut l = Vec::new();
        assert_eq!(add(&mut l, n(cb_a, DELETED, 1), false), Ok(()));
        assert_eq!(add(&mut l, n(cb_a, DELETED, 1), false), Err(libc::EEXIST));
        assert_eq!(add(&mut l, n(cb_a, DELETED, 2), false), Ok(()));
        assert_eq!(l[0].user_data as usize, 2, "newest first");
        assert_eq!(add(&mut l, n(cb_a, FREE, 1), true), Ok(()));
        assert_eq!(add(&mut l, n(cb_b, FREE, 9), true), Err(libc::EEXIST));
        assert_eq!(l.last().map(|f| f.events), Some(FREE));
    }

    #[test]
    fn remove_rules() {
        let mut l = vec![
            n(cb_a, DELETED, 1),
            n(cb_a, DELETED, 2),
            n(cb_b, DELETED, 1),
        ];
        assert_eq!(
            remove(&mut l, Some(cb_a), DELETED, Some(3 as *mut c_void)),
            Err(libc::ENOENT)
        );
        assert_eq!(
            remove(&mut l, Some(cb_a), DELETED, Some(2 as *mut c_void)),
            Ok(())
        );
        assert_eq!(l.len(), 2);
        assert_eq!(remove(&mut l, Some(cb_a), DELETED, None), Ok(()));
        assert_eq!(l.len(), 1);
        assert_eq!(remove(&mut l, None, DELETED, None), Err(libc::ENOENT));
    }

    #[test]
    fn free_follows_event() {
        let l = vec![n(cb_a, FREE | REPLACED, 0), n(cb_b, INSERTED, 0)];
        let ev = Event {
            event: REPLACED,
            key: std::ptr::null(),
            old: std::ptr::null_mut(),
            new: std::ptr::null_mut(),
        };
        let mut out = Vec::new();
        collect(&l, &ev, false, &mut out);
        assert!(
            out.is_empty() || out[0].event == FREE,
            "not recursive: only FREE"
        );
        assert_eq!(out.len(), 1);
        out.clear();
        collect(&l, &ev, true, &mut out);
        assert_eq!(
            out.iter().map(|c| c.event).collect::<Vec<_>>(),
            vec![REPLACED, FREE]
        );
    }
}
