//! Iterators that survive changes to the map.
//!
//! An iterator holds (reference-counts) the entry it last returned, so removing
//! that entry does not retire it under the iterator: its DELETED notification
//! waits until the iterator moves on or is freed, and the key pointer the
//! iterator returned stays valid until then. Sorted maps resume from a copy of
//! the last key (so entries added behind the cursor are skipped and entries
//! added ahead are seen); the hashtable resumes from the last slot position.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::ops::Bound;
use std::rc::Rc;

use super::notify::Calls;
use super::{Kind, MapState};

/// An iterator (what C sees as `qb_map_iter_t *`).
pub struct MapIter {
    state: Rc<RefCell<MapState>>,
    /// Trie prefix, in sort space.
    prefix: Option<Vec<u8>>,
    /// Sort-space key of the last entry returned (sorted kinds).
    last: Vec<u8>,
    /// Slot of the last entry returned (hashtable scan position).
    last_slot: usize,
    started: bool,
    finished: bool,
    /// The entry this iterator holds a reference on.
    held: Option<u32>,
}

impl MapIter {
    pub(super) fn new(state: Rc<RefCell<MapState>>, prefix: Option<&[u8]>) -> MapIter {
        // Only the trie honours a prefix (libqb ignores it for the others).
        let is_trie = state.try_borrow().is_ok_and(|s| s.kind == Kind::Trie);
        // libqb's trie finds nothing under the empty prefix.
        let finished = is_trie && prefix.is_some_and(<[u8]>::is_empty);
        let prefix = match state.try_borrow() {
            Ok(s) if s.kind == Kind::Trie => prefix.and_then(|p| {
                let mut enc = Vec::new();
                s.sorted.as_ref()?.encode(p, &mut enc);
                Some(enc)
            }),
            _ => None,
        };
        MapIter {
            state,
            prefix,
            last: Vec::new(),
            last_slot: 0,
            started: false,
            finished,
            held: None,
        }
    }

    /// The next entry's (key pointer, value), plus calls owed because the
    /// previously held entry was retired.
    pub fn next_entry(&mut self) -> (Option<(*const c_char, *mut c_void)>, Calls) {
        let state = Rc::clone(&self.state);
        let Ok(mut guard) = state.try_borrow_mut() else {
            return (None, Calls::new());
        };
        let s = &mut *guard;
        let found = if self.finished || s.destroyed {
            None
        } else {
            self.advance(s)
        };
        let previous = self.held.take();
        let mut result = None;
        if let Some(id) = found
            && let Some(slot) = s.table.slot_mut(id)
        {
            slot.holds += 1;
            self.held = Some(id);
            result = Some((slot.key, slot.value));
        } else {
            self.finished = true;
        }
        let calls = match previous {
            Some(id) if !s.destroyed => s.release(id),
            _ => Calls::new(),
        };
        (result, calls)
    }

    /// Finds the next live entry after the cursor.
    fn advance(&mut self, s: &mut MapState) -> Option<u32> {
        let first = !self.started;
        self.started = true;
        let Some(sorted) = s.sorted.as_mut() else {
            let from = if first { 0 } else { self.last_slot + 1 };
            let id = s.table.next_live_from(from)?;
            self.last_slot = id as usize;
            return Some(id);
        };
        sorted.sync(&mut s.table);
        let trie = s.kind == Kind::Trie;
        let mut resume = !first;
        loop {
            let lower = if resume {
                Bound::Excluded(self.last.as_slice())
            } else if let Some(p) = self.prefix.as_deref() {
                Bound::Included(p)
            } else {
                Bound::Unbounded
            };
            let (key, id) = sorted.first_after(lower)?;
            if let Some(p) = self.prefix.as_deref()
                && !key.starts_with(p)
            {
                return None;
            }
            self.last.clear();
            self.last.extend_from_slice(key);
            // libqb's trie treats a NULL value as "no entry here" when walking.
            let hidden = trie && s.table.slot(id).is_some_and(|e| e.value.is_null());
            if !hidden {
                return Some(id);
            }
            resume = true;
        }
    }

    /// Lets go of the held entry (at `qb_map_iter_free`).
    pub fn finish(mut self) -> Calls {
        let Some(id) = self.held.take() else {
            return Calls::new();
        };
        match self.state.try_borrow_mut() {
            Ok(mut s) if !s.destroyed => s.release(id),
            _ => Calls::new(),
        }
    }
}
