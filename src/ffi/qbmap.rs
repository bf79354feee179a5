//! qbmap.h: `qb_map_t` is a boxed [`crate::map::Map`], `qb_map_iter_t` a boxed
//! [`crate::map::MapIter`].
//!
//! Notification callbacks are delivered here, after the core operation has
//! returned, so a callback may use the map (iterate, get, put, rm) safely.

use std::ffi::{CStr, c_char, c_void};

use crate::map::{Calls, Kind, Map, MapIter, Notifier, NotifyFn};

/// Opaque to C (`struct qb_map`).
pub type qb_map_t = Map;

/// Opaque to C (`struct qb_map_iter`).
pub type qb_map_iter_t = MapIter;

/// `typedef void (*qb_map_notify_fn)(uint32_t, char *, void *, void *, void *)`.
pub type qb_map_notify_fn = Option<NotifyFn>;

/// `typedef int32_t (*qb_map_transverse_fn)(const char *, void *, void *)`.
pub type qb_map_transverse_fn = Option<
    unsafe extern "C" fn(key: *const c_char, value: *mut c_void, user_data: *mut c_void) -> i32,
>;

/// Delivers notifications in order.
fn deliver(calls: Calls) {
    for c in calls {
        // SAFETY: the callback was registered by the user for exactly this
        // signature; key/values are the user's own pointers.
        unsafe {
            (c.notifier.callback)(
                c.event,
                c.key.cast_mut(),
                c.old,
                c.new,
                c.notifier.user_data,
            );
        }
    }
}

/// The bytes of a C string key (None for NULL).
///
/// # Safety
/// `key` is NULL or a NUL-terminated string.
#[inline]
unsafe fn key_bytes<'a>(key: *const c_char) -> Option<&'a [u8]> {
    if key.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated per the caller's contract.
        Some(unsafe { CStr::from_ptr(key) }.to_bytes())
    }
}

fn new_map(kind: Kind, hint: usize) -> *mut qb_map_t {
    Box::into_raw(Box::new(Map::new(kind, hint)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_hashtable_create(max_size: usize) -> *mut qb_map_t {
    new_map(Kind::Hashtable, max_size)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_skiplist_create() -> *mut qb_map_t {
    new_map(Kind::Skiplist, 0)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_trie_create() -> *mut qb_map_t {
    new_map(Kind::Trie, 0)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_trie_dump(m: *mut qb_map_t) {
    // SAFETY: a non-NULL `m` is a live map.
    let Some(map) = (unsafe { m.as_ref() }) else {
        return;
    };
    let mut text = map.dump().into_bytes();
    text.retain(|&b| b != 0);
    text.push(0);
    // SAFETY: `text` is NUL-terminated; printf shares C's stdout buffering
    // with the caller's own output.
    unsafe { libc::printf(c"%s".as_ptr(), text.as_ptr().cast::<c_char>()) };
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_notify_add(
    m: *mut qb_map_t,
    key: *const c_char,
    fn_: qb_map_notify_fn,
    events: i32,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: a non-NULL `m` is a live map.
    let (Some(map), Some(callback)) = (unsafe { m.as_ref() }, fn_) else {
        return -libc::EINVAL;
    };
    // SAFETY: key is NULL or a C string.
    let key = unsafe { key_bytes(key) };
    let n = Notifier {
        callback,
        events: events as u32,
        user_data,
    };
    crate::ffi::status(map.notify_add(key, n))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_notify_del(
    m: *mut qb_map_t,
    key: *const c_char,
    fn_: qb_map_notify_fn,
    events: i32,
) -> i32 {
    // SAFETY: a non-NULL `m` is a live map.
    let Some(map) = (unsafe { m.as_ref() }) else {
        return -libc::EINVAL;
    };
    // SAFETY: key is NULL or a C string.
    let key = unsafe { key_bytes(key) };
    crate::ffi::status(map.notify_del(key, fn_, events as u32, None))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_notify_del_2(
    m: *mut qb_map_t,
    key: *const c_char,
    fn_: qb_map_notify_fn,
    events: i32,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: a non-NULL `m` is a live map.
    let Some(map) = (unsafe { m.as_ref() }) else {
        return -libc::EINVAL;
    };
    // SAFETY: key is NULL or a C string.
    let key = unsafe { key_bytes(key) };
    crate::ffi::status(map.notify_del(key, fn_, events as u32, Some(user_data)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_put(map: *mut qb_map_t, key: *const c_char, value: *const c_void) {
    // SAFETY: a non-NULL `map` is a live map; key is NULL or a C string.
    let (Some(m), Some(bytes)) = (unsafe { map.as_ref() }, unsafe { key_bytes(key) }) else {
        crate::ffi::set_errno(libc::EINVAL);
        return;
    };
    deliver(m.put(bytes, key, value.cast_mut()));
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_get(map: *mut qb_map_t, key: *const c_char) -> *mut c_void {
    // SAFETY: a non-NULL `map` is a live map; key is NULL or a C string.
    match (unsafe { map.as_ref() }, unsafe { key_bytes(key) }) {
        (Some(m), Some(bytes)) => m.get(bytes),
        _ => std::ptr::null_mut(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_rm(map: *mut qb_map_t, key: *const c_char) -> i32 {
    // SAFETY: a non-NULL `map` is a live map; key is NULL or a C string.
    let (Some(m), Some(bytes)) = (unsafe { map.as_ref() }, unsafe { key_bytes(key) }) else {
        return -libc::EINVAL;
    };
    let (removed, calls) = m.rm(bytes);
    deliver(calls);
    i32::from(removed)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_count_get(map: *mut qb_map_t) -> usize {
    // SAFETY: a non-NULL `map` is a live map.
    unsafe { map.as_ref() }.map_or(0, Map::len)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_foreach(
    map: *mut qb_map_t,
    func: qb_map_transverse_fn,
    user_data: *mut c_void,
) {
    // SAFETY: a non-NULL `map` is a live map.
    let (Some(m), Some(func)) = (unsafe { map.as_ref() }, func) else {
        return;
    };
    let mut it = m.iter(None);
    loop {
        let (next, calls) = it.next_entry();
        deliver(calls);
        let Some((key, value)) = next else {
            break;
        };
        // SAFETY: user callback with the user's key/value/data.
        if unsafe { func(key, value, user_data) } != 0 {
            break;
        }
    }
    deliver(it.finish());
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_iter_create(map: *mut qb_map_t) -> *mut qb_map_iter_t {
    // SAFETY: a NULL prefix is always valid.
    unsafe { qb_map_pref_iter_create(map, std::ptr::null()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_pref_iter_create(
    map: *mut qb_map_t,
    prefix: *const c_char,
) -> *mut qb_map_iter_t {
    // SAFETY: a non-NULL `map` is a live map; prefix is NULL or a C string.
    let Some(m) = (unsafe { map.as_ref() }) else {
        crate::ffi::set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    };
    // SAFETY: as above.
    let prefix = unsafe { key_bytes(prefix) };
    Box::into_raw(Box::new(m.iter(prefix)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_iter_next(
    i: *mut qb_map_iter_t,
    value: *mut *mut c_void,
) -> *const c_char {
    // SAFETY: a non-NULL `i` is a live iterator.
    let Some(it) = (unsafe { i.as_mut() }) else {
        return std::ptr::null();
    };
    let (next, calls) = it.next_entry();
    deliver(calls);
    match next {
        Some((key, v)) => {
            if !value.is_null() {
                // SAFETY: non-NULL out pointer supplied by the caller.
                unsafe { *value = v };
            }
            key
        }
        None => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_iter_free(i: *mut qb_map_iter_t) {
    if i.is_null() {
        return;
    }
    // SAFETY: `i` came from Box::into_raw in qb_map_pref_iter_create.
    let it = unsafe { Box::from_raw(i) };
    deliver(it.finish());
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn qb_map_destroy(map: *mut qb_map_t) {
    if map.is_null() {
        return;
    }
    // SAFETY: a non-NULL `map` is a live map.
    let calls = unsafe { &*map }.destroy();
    // The map stays allocated (empty, inert) while its DELETED/FREE notifiers run:
    // they may still call map functions on it, as libqb allows.
    deliver(calls);
    // SAFETY: `map` came from Box::into_raw in one of the constructors and is
    // not used after this call.
    drop(unsafe { Box::from_raw(map) });
}
