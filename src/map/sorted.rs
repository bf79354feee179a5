//! Key order for the sorted map kinds (skiplist and trie), kept lazily.
//!
//! `put` only records the new slot as pending (cheap); the B-tree is brought up
//! to date when somebody iterates. Keys are stored in "sort space": for the
//! trie every byte has its top bit flipped, which turns an unsigned byte
//! comparison into libqb's trie order (bytes compared as signed `char`, so keys
//! with bytes >= 0x80 come before ASCII ones).

use std::collections::BTreeMap;
use std::ops::Bound;

use super::table::{SlotState, Table};

pub(crate) struct Sorted {
    tree: BTreeMap<Box<[u8]>, u32>,
    /// Slots added since the last [`Sorted::sync`] (may repeat or be stale).
    pending: Vec<u32>,
    signed: bool,
    scratch: Vec<u8>,
}

impl Sorted {
    pub fn new(signed: bool) -> Sorted {
        Sorted {
            tree: BTreeMap::new(),
            pending: Vec::new(),
            signed,
            scratch: Vec::new(),
        }
    }

    /// Converts key bytes to sort space.
    pub fn encode(&self, key: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.signed {
            out.extend(key.iter().map(|b| b ^ 0x80));
        } else {
            out.extend_from_slice(key);
        }
    }

    pub fn note_insert(&mut self, id: u32) {
        self.pending.push(id);
    }

    /// Forgets a slot that is leaving the map.
    pub fn remove(&mut self, table: &mut Table, id: u32) {
        let mut scratch = std::mem::take(&mut self.scratch);
        if table.slot(id).is_some_and(|s| s.indexed) {
            self.encode(table.key_bytes(id), &mut scratch);
            self.tree.remove(scratch.as_slice());
            if let Some(s) = table.slot_mut(id) {
                s.indexed = false;
            }
        }
        self.scratch = scratch;
    }

    /// Moves pending live slots into the tree.
    pub fn sync(&mut self, table: &mut Table) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut buf = Vec::new();
        for id in pending {
            let wanted = table
                .slot(id)
                .is_some_and(|s| s.state == SlotState::Live && !s.indexed);
            if !wanted {
                continue;
            }
            self.encode(table.key_bytes(id), &mut buf);
            self.tree.insert(buf.as_slice().into(), id);
            if let Some(s) = table.slot_mut(id) {
                s.indexed = true;
            }
        }
    }

    /// The first entry after `after` (exclusive) or from `from` (inclusive),
    /// in sort space. Call [`Sorted::sync`] first.
    pub fn first_after(&self, lower: Bound<&[u8]>) -> Option<(&[u8], u32)> {
        self.tree
            .range::<[u8], _>((lower, Bound::Unbounded))
            .next()
            .map(|(k, &id)| (&**k, id))
    }

    /// All live slots in order (syncs first).
    pub fn ordered(&mut self, table: &mut Table) -> Vec<u32> {
        self.sync(table);
        self.tree.values().copied().collect()
    }

    pub fn clear(&mut self) {
        self.tree.clear();
        self.pending.clear();
    }
}
