//! Trie-only behaviour: notifiers attached to a key *prefix*.
//!
//! In libqb's trie a notifier lives on the node for its key, whether or not that
//! key holds a value, and an event on a key is reported to the notifiers of
//! every node on the path from that key up to the root: the exact node's
//! notifiers always, the others only when registered with RECURSIVE. This
//! registry gives the same answers without a node structure: notifier lists
//! keyed by their byte string, visited from the longest matching prefix to the
//! shortest.

use std::collections::{BTreeMap, HashMap};
use std::ffi::c_void;

use super::notify::{self, Calls, Event, Notifier, NotifyFn, RECURSIVE};

#[derive(Default)]
pub(crate) struct PrefixNotifiers {
    by_key: HashMap<Box<[u8]>, Vec<Notifier>>,
    /// How many registered keys have each length (to probe only useful prefixes).
    lengths: BTreeMap<usize, usize>,
}

impl PrefixNotifiers {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Registers `n` on `key` (which need not be in the map). Recursive
    /// notifiers go last, others first, as in libqb.
    pub fn add(&mut self, key: &[u8], n: Notifier) -> Result<(), i32> {
        let at_tail = n.events & RECURSIVE != 0;
        if let Some(list) = self.by_key.get_mut(key) {
            return notify::add(list, n, at_tail);
        }
        self.by_key.insert(key.into(), vec![n]);
        *self.lengths.entry(key.len()).or_insert(0) += 1;
        Ok(())
    }

    pub fn remove(
        &mut self,
        key: &[u8],
        callback: Option<NotifyFn>,
        events: u32,
        user_data: Option<*mut c_void>,
    ) -> Result<(), i32> {
        let list = self.by_key.get_mut(key).ok_or(libc::ENOENT)?;
        notify::remove(list, callback, events, user_data)?;
        if list.is_empty() {
            self.by_key.remove(key);
            if let Some(c) = self.lengths.get_mut(&key.len()) {
                *c -= 1;
                if *c == 0 {
                    self.lengths.remove(&key.len());
                }
            }
        }
        Ok(())
    }

    /// Calls owed for an event on `key`: deepest prefix first.
    pub fn collect(&self, key: &[u8], ev: &Event, out: &mut Calls) {
        for &len in self.lengths.range(..=key.len()).rev().map(|(l, _)| l) {
            if let Some(prefix) = key.get(..len)
                && let Some(list) = self.by_key.get(prefix)
            {
                notify::collect(list, ev, len == key.len(), out);
            }
        }
    }

    /// Registered keys and their notifier counts, sorted (for the debug dump).
    pub fn summary(&self) -> Vec<(Vec<u8>, usize)> {
        let mut v: Vec<(Vec<u8>, usize)> = self
            .by_key
            .iter()
            .map(|(k, l)| (k.to_vec(), l.len()))
            .collect();
        v.sort();
        v
    }

    pub fn clear(&mut self) {
        self.by_key.clear();
        self.lengths.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::notify::{DELETED, INSERTED};
    use std::ffi::c_char;

    unsafe extern "C" fn cb(
        _: u32,
        _: *mut c_char,
        _: *mut c_void,
        _: *mut c_void,
        _: *mut c_void,
    ) {
    }

    fn n(events: u32, user: usize) -> Notifier {
        Notifier {
            callback: cb,
            events,
            user_data: user as *mut c_void,
        }
    }

    fn users(p: &PrefixNotifiers, key: &str, event: u32) -> Vec<usize> {
        let ev = Event {
            event,
            key: std::ptr::null(),
            old: std::ptr::null_mut(),
            new: std::ptr::null_mut(),
        };
        let mut out = Vec::new();
        p.collect(key.as_bytes(), &ev, &mut out);
        out.iter().map(|c| c.notifier.user_data as usize).collect()
    }

    #[test]
    fn prefix_and_exact_rules() {
        let mut p = PrefixNotifiers::default();
        p.add(b"add", n(INSERTED | RECURSIVE, 1)).unwrap();
        p.add(b"adder", n(INSERTED, 2)).unwrap();
        p.add(b"ad", n(INSERTED, 3)).unwrap();
        assert_eq!(users(&p, "adder", INSERTED), vec![2, 1]);
        assert_eq!(users(&p, "adjust", INSERTED), Vec::<usize>::new());
        assert_eq!(users(&p, "ad", INSERTED), vec![3]);
        assert_eq!(users(&p, "adder", DELETED), Vec::<usize>::new());
        assert_eq!(
            p.remove(b"add", Some(cb), INSERTED, None),
            Err(libc::ENOENT)
        );
        assert_eq!(
            p.remove(b"add", Some(cb), INSERTED | RECURSIVE, None),
            Ok(())
        );
        assert_eq!(p.remove(b"zz", Some(cb), INSERTED, None), Err(libc::ENOENT));
        assert_eq!(users(&p, "adder", INSERTED), vec![2]);
    }
}
