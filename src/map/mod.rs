//! String-keyed maps (qbmap.h): hashtable, "skiplist" (sorted) and trie.
//!
//! All three kinds share one engine ([`table::Table`]: slab + hash index) so
//! lookups are a hash probe; the sorted kinds add a lazily maintained order
//! ([`sorted::Sorted`]) and the trie adds prefix notifiers ([`trie`]). What
//! differs between kinds is only observable behaviour inherited from libqb:
//! iteration order, prefix handling and notifier rules.
//!
//! Keys and values are the caller's: the map stores the key pointer and value
//! as opaque pointers (plus a private copy of the key bytes for comparisons) and
//! never frees them. Notifications are returned as [`Calls`] for the FFI to
//! deliver after the operation has finished.

pub mod notify;

mod iter;
mod sorted;
mod table;
mod trie;

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::rc::Rc;

pub use iter::MapIter;
pub use notify::{Call, Calls, Notifier, NotifyFn};

use notify::{DELETED, Event, FREE, INSERTED, REPLACED};
use sorted::Sorted;
use table::{SlotState, Table};
use trie::PrefixNotifiers;

/// Which libqb map flavour a map imitates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Unordered; `notify_add` on a missing key fails with ENOENT.
    Hashtable,
    /// Ordered by unsigned bytes (strcmp); `notify_add` on a missing key: EINVAL.
    Skiplist,
    /// Ordered by signed bytes (libqb's trie order); prefix iterators and
    /// prefix notifiers.
    Trie,
}

/// The state a map and its iterators share.
pub(crate) struct MapState {
    kind: Kind,
    table: Table,
    sorted: Option<Sorted>,
    /// Whole-map notifiers (key NULL).
    global: Vec<Notifier>,
    /// Trie notifiers registered on a key or prefix.
    prefixes: PrefixNotifiers,
    /// Per-entry notifiers currently registered (hashtable and skiplist).
    entry_notifiers: usize,
    destroyed: bool,
}

/// A map handle (what C sees as `qb_map_t *`). Iterators share its state, so an
/// iterator freed after the map was destroyed is harmless.
pub struct Map {
    state: Rc<RefCell<MapState>>,
}

impl MapState {
    fn new(kind: Kind, hint: usize) -> MapState {
        MapState {
            kind,
            table: Table::with_hint(hint),
            sorted: match kind {
                Kind::Hashtable => None,
                Kind::Skiplist => Some(Sorted::new(false)),
                Kind::Trie => Some(Sorted::new(true)),
            },
            global: Vec::new(),
            prefixes: PrefixNotifiers::default(),
            entry_notifiers: 0,
            destroyed: false,
        }
    }

    fn has_notifiers(&self) -> bool {
        !self.global.is_empty() || !self.prefixes.is_empty() || self.entry_notifiers > 0
    }

    /// The calls owed for `ev` happening to entry `id`.
    fn event_calls(&self, id: u32, ev: Event) -> Calls {
        let mut out = Calls::new();
        if !self.has_notifiers() {
            return out;
        }
        match self.kind {
            Kind::Trie => {
                self.prefixes
                    .collect(self.table.key_bytes(id), &ev, &mut out);
                // The root is never the entry's own node: RECURSIVE needed.
                notify::collect(&self.global, &ev, false, &mut out);
            }
            Kind::Hashtable | Kind::Skiplist => {
                if let Some(s) = self.table.slot(id) {
                    notify::collect(s.notifiers(), &ev, true, &mut out);
                }
                notify::collect(&self.global, &ev, true, &mut out);
            }
        }
        out
    }

    fn put(&mut self, key: &[u8], key_ptr: *const c_char, value: *mut c_void) -> Calls {
        if self.destroyed {
            return Calls::new();
        }
        let (id, inserted) = self.table.find_or_insert(key, key_ptr, value);
        if inserted {
            if let Some(s) = self.sorted.as_mut() {
                s.note_insert(id);
            }
            return self.event_calls(
                id,
                Event {
                    event: INSERTED,
                    key: key_ptr,
                    old: std::ptr::null_mut(),
                    new: value,
                },
            );
        }
        let Some(slot) = self.table.slot_mut(id) else {
            return Calls::new();
        };
        // libqb keeps the newest key pointer and reports the previous one, so a
        // FREE notifier can release the old key.
        let old_key = std::mem::replace(&mut slot.key, key_ptr);
        let old_value = std::mem::replace(&mut slot.value, value);
        self.event_calls(
            id,
            Event {
                event: REPLACED,
                key: old_key,
                old: old_value,
                new: value,
            },
        )
    }

    fn get(&self, key: &[u8]) -> *mut c_void {
        match self.table.find(key).and_then(|id| self.table.slot(id)) {
            Some(s) => s.value,
            None => std::ptr::null_mut(),
        }
    }

    fn rm(&mut self, key: &[u8]) -> (bool, Calls) {
        let Some(id) = self.table.unlink(key) else {
            return (false, Calls::new());
        };
        if let Some(s) = self.sorted.as_mut() {
            s.remove(&mut self.table, id);
        }
        if self.table.slot(id).is_some_and(|s| s.holds > 0) {
            // An iterator sits on it: DELETED waits until it moves on.
            return (true, Calls::new());
        }
        (true, self.retire(id))
    }

    /// Final removal of an unlinked entry: its DELETED notification, then the slot is freed.
    fn retire(&mut self, id: u32) -> Calls {
        let Some(s) = self.table.slot(id) else {
            return Calls::new();
        };
        let ev = Event {
            event: DELETED,
            key: s.key,
            old: s.value,
            new: std::ptr::null_mut(),
        };
        let own = s.notifiers().len();
        let calls = self.event_calls(id, ev);
        self.entry_notifiers = self.entry_notifiers.saturating_sub(own);
        self.table.free(id);
        calls
    }

    /// An iterator lets go of entry `id`.
    fn release(&mut self, id: u32) -> Calls {
        let Some(s) = self.table.slot_mut(id) else {
            return Calls::new();
        };
        s.holds = s.holds.saturating_sub(1);
        if s.holds == 0 && s.state == SlotState::Removed {
            self.retire(id)
        } else {
            Calls::new()
        }
    }

    fn notify_add(&mut self, key: Option<&[u8]>, n: Notifier) -> Result<(), i32> {
        if key.is_some() && n.events & FREE != 0 {
            return Err(libc::EINVAL);
        }
        let Some(key) = key else {
            return notify::add(&mut self.global, n, n.events & FREE != 0);
        };
        let missing = match self.kind {
            Kind::Trie => return self.prefixes.add(key, n),
            Kind::Hashtable => libc::ENOENT,
            Kind::Skiplist => libc::EINVAL,
        };
        let id = self.table.find(key).ok_or(missing)?;
        let slot = self.table.slot_mut(id).ok_or(missing)?;
        slot.edit_notifiers(|list| notify::add(list, n, false))?;
        self.entry_notifiers += 1;
        Ok(())
    }

    fn notify_del(
        &mut self,
        key: Option<&[u8]>,
        callback: Option<NotifyFn>,
        events: u32,
        user_data: Option<*mut c_void>,
    ) -> Result<(), i32> {
        let Some(key) = key else {
            return notify::remove(&mut self.global, callback, events, user_data);
        };
        if self.kind == Kind::Trie {
            return self.prefixes.remove(key, callback, events, user_data);
        }
        let id = self.table.find(key).ok_or(libc::ENOENT)?;
        let slot = self.table.slot_mut(id).ok_or(libc::ENOENT)?;
        let removed = slot.edit_notifiers(|list| {
            let before = list.len();
            notify::remove(list, callback, events, user_data).map(|()| before - list.len())
        })?;
        self.entry_notifiers = self.entry_notifiers.saturating_sub(removed);
        Ok(())
    }

    /// Live entries in iteration order.
    fn ordered_ids(&mut self) -> Vec<u32> {
        match self.sorted.as_mut() {
            Some(s) => s.ordered(&mut self.table),
            None => self
                .table
                .occupied()
                .into_iter()
                .filter(|&id| {
                    self.table
                        .slot(id)
                        .is_some_and(|s| s.state == SlotState::Live)
                })
                .collect(),
        }
    }

    /// Empties the map: every entry (including ones removed but still held by
    /// an iterator) gets its DELETED notification, in iteration order.
    fn destroy(&mut self) -> Calls {
        let mut calls = Calls::new();
        if self.has_notifiers() {
            let mut ids = self.ordered_ids();
            ids.extend(self.table.occupied().into_iter().filter(|&id| {
                self.table
                    .slot(id)
                    .is_some_and(|s| s.state == SlotState::Removed)
            }));
            for id in ids {
                if let Some(s) = self.table.slot(id) {
                    let ev = Event {
                        event: DELETED,
                        key: s.key,
                        old: s.value,
                        new: std::ptr::null_mut(),
                    };
                    calls.extend(self.event_calls(id, ev));
                }
            }
        }
        self.table.clear();
        if let Some(s) = self.sorted.as_mut() {
            s.clear();
        }
        self.global.clear();
        self.prefixes.clear();
        self.entry_notifiers = 0;
        self.destroyed = true;
        calls
    }

    /// Human-readable listing for `qb_trie_dump`.
    fn dump(&mut self) -> String {
        use std::fmt::Write;
        let ids = self.ordered_ids();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "entries: {}, notifier keys: {}",
            ids.len(),
            self.prefixes.summary().len()
        );
        for id in ids {
            let holds = self.table.slot(id).map_or(0, |s| s.holds);
            let _ = writeln!(
                out,
                "[{}] (held {holds})",
                String::from_utf8_lossy(self.table.key_bytes(id))
            );
        }
        for (k, n) in self.prefixes.summary() {
            let _ = writeln!(out, "notify [{}] x{n}", String::from_utf8_lossy(&k));
        }
        out
    }
}

impl Map {
    /// A new empty map. `hint` is the expected number of entries (hashtable).
    pub fn new(kind: Kind, hint: usize) -> Map {
        Map {
            state: Rc::new(RefCell::new(MapState::new(kind, hint))),
        }
    }

    /// Runs `f` on the state. A borrow conflict cannot happen (no callback runs
    /// while the state is borrowed) but is answered with `default`, not a panic.
    #[inline]
    fn with<R>(&self, default: R, f: impl FnOnce(&mut MapState) -> R) -> R {
        match self.state.try_borrow_mut() {
            Ok(mut s) => f(&mut s),
            Err(_) => default,
        }
    }

    /// Inserts or replaces. `key_ptr` is the caller's key (stored, never read).
    pub fn put(&self, key: &[u8], key_ptr: *const c_char, value: *mut c_void) -> Calls {
        self.with(Calls::new(), |s| s.put(key, key_ptr, value))
    }

    /// The value for `key`, or NULL.
    #[inline]
    pub fn get(&self, key: &[u8]) -> *mut c_void {
        match self.state.try_borrow() {
            Ok(s) => s.get(key),
            Err(_) => std::ptr::null_mut(),
        }
    }

    /// Removes `key`; true if it was present.
    pub fn rm(&self, key: &[u8]) -> (bool, Calls) {
        self.with((false, Calls::new()), |s| s.rm(key))
    }

    pub fn len(&self) -> usize {
        self.state.try_borrow().map_or(0, |s| s.table.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a notifier on `key` (None: the whole map).
    pub fn notify_add(&self, key: Option<&[u8]>, n: Notifier) -> Result<(), i32> {
        self.with(Err(libc::EBUSY), |s| s.notify_add(key, n))
    }

    /// Unregisters notifiers matching callback and events (and `user_data` if given).
    pub fn notify_del(
        &self,
        key: Option<&[u8]>,
        callback: Option<NotifyFn>,
        events: u32,
        user_data: Option<*mut c_void>,
    ) -> Result<(), i32> {
        self.with(Err(libc::EBUSY), |s| {
            s.notify_del(key, callback, events, user_data)
        })
    }

    /// An iterator over every entry, or (trie only) those whose key starts with `prefix`.
    pub fn iter(&self, prefix: Option<&[u8]>) -> MapIter {
        MapIter::new(Rc::clone(&self.state), prefix)
    }

    /// Removes every entry and disables the map (later operations do nothing);
    /// returns the DELETED/FREE calls.
    pub fn destroy(&self) -> Calls {
        self.with(Calls::new(), |s| s.destroy())
    }

    pub fn dump(&self) -> String {
        self.with(String::new(), |s| s.dump())
    }
}

#[cfg(test)]
mod tests;
