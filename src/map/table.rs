//! Entry storage shared by every map kind: a slab of entries, an open-addressing
//! hash index over them and an arena holding a private copy of each key's bytes.
//!
//! The copy exists so lookups compare bytes we own (no dereference of the
//! caller's key pointer, which is only stored and handed back). Slots are stable
//! while an iterator holds them, which is what makes deleting during iteration
//! safe.

use std::ffi::{c_char, c_void};

use super::notify::Notifier;

/// Index cell meaning "free" (no slot number can be `u32::MAX`).
const EMPTY: u64 = u64::MAX;

/// Arena garbage (bytes of removed keys) tolerated before compacting.
const ARENA_SLACK: usize = 64 * 1024;

/// Largest index the capacity hint may ask for up front (entries, not bytes).
const MAX_HINT: usize = 1 << 20;

/// Where an entry is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SlotState {
    /// In the map: found by lookups and iteration.
    Live,
    /// Removed from the map but still held by an iterator: its DELETED
    /// notification waits until the last holder lets go.
    Removed,
    /// Free for reuse.
    Vacant,
}

/// One key/value pair.
pub(crate) struct Slot {
    /// The caller's key pointer: opaque, only handed back to C.
    pub key: *const c_char,
    /// The caller's value: opaque.
    pub value: *mut c_void,
    key_off: usize,
    key_len: usize,
    pub state: SlotState,
    /// Iterators currently positioned on this entry.
    pub holds: u32,
    /// Whether the sorted index already contains this entry.
    pub indexed: bool,
    /// Per-entry notifiers (hashtable and skiplist keyed notifiers); a boxed
    /// slice keeps slots small and costs nothing when empty (the common case).
    notifiers: Box<[Notifier]>,
}

impl Slot {
    pub fn notifiers(&self) -> &[Notifier] {
        &self.notifiers
    }

    /// Edits the notifier list (rarely done, so rebuilding it is fine).
    pub fn edit_notifiers<R>(&mut self, f: impl FnOnce(&mut Vec<Notifier>) -> R) -> R {
        let mut list = std::mem::take(&mut self.notifiers).into_vec();
        let r = f(&mut list);
        self.notifiers = list.into_boxed_slice();
        r
    }
}

/// The first (up to) 8 bytes of `c` as a little-endian word, zero-padded.
#[inline]
fn word(c: &[u8]) -> u64 {
    if let Some(w) = c.first_chunk::<8>() {
        return u64::from_le_bytes(*w);
    }
    c.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Byte equality without a libc call for the short keys maps usually hold.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in (&mut x).zip(&mut y) {
        if word(p) != word(q) {
            return false;
        }
    }
    word(x.remainder()) == word(y.remainder())
}

/// Hashes a key; 64-bit word mixing, then a finaliser so that keys sharing long
/// prefixes still spread over the index.
pub(crate) fn hash_key(key: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        h = (h ^ word(c)).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h ^ word(rest)).wrapping_mul(K).rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h ^ (h >> 32)) as u32
}

pub(crate) struct Table {
    slots: Vec<Slot>,
    vacant: Vec<u32>,
    /// Open addressing with linear probing: `(hash << 32) | slot`, or EMPTY.
    index: Vec<u64>,
    mask: usize,
    /// Live entries (those in `index`).
    live: usize,
    arena: Vec<u8>,
    garbage: usize,
}

impl Table {
    /// A table ready for about `hint` entries without rehashing.
    pub fn with_hint(hint: usize) -> Table {
        let want = hint.clamp(8, MAX_HINT);
        let cap = (want * 2).next_power_of_two();
        Table {
            slots: Vec::with_capacity(want.min(4096)),
            vacant: Vec::new(),
            index: vec![EMPTY; cap],
            mask: cap - 1,
            live: 0,
            arena: Vec::new(),
            garbage: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn slot(&self, id: u32) -> Option<&Slot> {
        self.slots.get(id as usize)
    }

    pub fn slot_mut(&mut self, id: u32) -> Option<&mut Slot> {
        self.slots.get_mut(id as usize)
    }

    /// The bytes of an entry's key (our copy).
    pub fn key_bytes(&self, id: u32) -> &[u8] {
        match self.slots.get(id as usize) {
            Some(s) => self
                .arena
                .get(s.key_off..s.key_off + s.key_len)
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// The live slot holding `key`, if any.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.find_hashed(key, hash_key(key)).map(|(_, id)| id)
    }

    /// Returns (index position, slot id).
    #[inline]
    fn find_hashed(&self, key: &[u8], hash: u32) -> Option<(usize, u32)> {
        let mut pos = hash as usize & self.mask;
        loop {
            let cell = *self.index.get(pos)?;
            if cell == EMPTY {
                return None;
            }
            if (cell >> 32) as u32 == hash {
                let id = cell as u32;
                if let Some(s) = self.slots.get(id as usize)
                    && s.key_len == key.len()
                    && self
                        .arena
                        .get(s.key_off..s.key_off + s.key_len)
                        .is_some_and(|k| same_bytes(k, key))
                {
                    return Some((pos, id));
                }
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Looks `key` up; if absent, adds a new live entry. Returns (slot, inserted).
    pub fn find_or_insert(
        &mut self,
        key: &[u8],
        key_ptr: *const c_char,
        value: *mut c_void,
    ) -> (u32, bool) {
        let hash = hash_key(key);
        if let Some((_, id)) = self.find_hashed(key, hash) {
            return (id, false);
        }
        if (self.live + 1) * 2 > self.index.len() {
            self.grow_index();
        }
        let key_off = self.arena.len();
        self.arena.extend_from_slice(key);
        let slot = Slot {
            key: key_ptr,
            value,
            key_off,
            key_len: key.len(),
            state: SlotState::Live,
            holds: 0,
            indexed: false,
            notifiers: Box::default(),
        };
        let id = match self.vacant.pop() {
            Some(id) => {
                if let Some(s) = self.slots.get_mut(id as usize) {
                    *s = slot;
                }
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index_insert(hash, id);
        self.live += 1;
        (id, true)
    }

    fn index_insert(&mut self, hash: u32, id: u32) {
        let mut pos = hash as usize & self.mask;
        while let Some(cell) = self.index.get_mut(pos) {
            if *cell == EMPTY {
                *cell = (u64::from(hash) << 32) | u64::from(id);
                return;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    fn grow_index(&mut self) {
        let cap = self.index.len() * 2;
        let old = std::mem::replace(&mut self.index, vec![EMPTY; cap]);
        self.mask = cap - 1;
        for cell in old.into_iter().filter(|&c| c != EMPTY) {
            self.index_insert((cell >> 32) as u32, cell as u32);
        }
    }

    /// Takes a live entry out of the index (lookups stop finding it). The slot
    /// itself stays until [`Table::free`]. Returns its slot id.
    pub fn unlink(&mut self, key: &[u8]) -> Option<u32> {
        let (mut hole, id) = self.find_hashed(key, hash_key(key))?;
        // Backward-shift deletion keeps every probe chain unbroken.
        let mut pos = hole;
        loop {
            pos = (pos + 1) & self.mask;
            let cell = self.index.get(pos).copied().unwrap_or(EMPTY);
            if cell == EMPTY {
                break;
            }
            let home = (cell >> 32) as usize & self.mask;
            // Move `cell` into the hole unless its home lies cyclically in (hole, pos].
            let dist_home = pos.wrapping_sub(home) & self.mask;
            let dist_hole = pos.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                if let Some(h) = self.index.get_mut(hole) {
                    *h = cell;
                }
                hole = pos;
            }
        }
        if let Some(h) = self.index.get_mut(hole) {
            *h = EMPTY;
        }
        self.live -= 1;
        if let Some(s) = self.slots.get_mut(id as usize) {
            s.state = SlotState::Removed;
        }
        Some(id)
    }

    /// Returns an unlinked slot to the free list.
    pub fn free(&mut self, id: u32) {
        let Some(s) = self.slots.get_mut(id as usize) else {
            return;
        };
        if s.state == SlotState::Vacant {
            return;
        }
        s.state = SlotState::Vacant;
        s.indexed = false;
        s.notifiers = Box::default();
        s.key = std::ptr::null();
        s.value = std::ptr::null_mut();
        self.garbage += s.key_len;
        s.key_len = 0;
        s.key_off = 0;
        self.vacant.push(id);
        if self.garbage > ARENA_SLACK && self.garbage * 2 > self.arena.len() {
            self.compact_arena();
        }
    }

    fn compact_arena(&mut self) {
        let mut fresh = Vec::with_capacity(self.arena.len() - self.garbage);
        for s in self
            .slots
            .iter_mut()
            .filter(|s| s.state != SlotState::Vacant)
        {
            let off = fresh.len();
            fresh.extend_from_slice(
                self.arena
                    .get(s.key_off..s.key_off + s.key_len)
                    .unwrap_or(&[]),
            );
            s.key_off = off;
        }
        self.arena = fresh;
        self.garbage = 0;
    }

    /// Ids of every non-vacant slot (live or removed-but-held), in slot order.
    pub fn occupied(&self) -> Vec<u32> {
        (0..self.slots.len() as u32)
            .filter(|&id| {
                self.slots
                    .get(id as usize)
                    .is_some_and(|s| s.state != SlotState::Vacant)
            })
            .collect()
    }

    /// The first live slot at or after position `from`.
    pub fn next_live_from(&self, from: usize) -> Option<u32> {
        self.slots
            .get(from..)?
            .iter()
            .position(|s| s.state == SlotState::Live)
            .map(|i| (from + i) as u32)
    }

    /// Drops everything (after destroy).
    pub fn clear(&mut self) {
        *self = Table::with_hint(0);
        self.index = vec![EMPTY; 16];
        self.mask = 15;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(t: &mut Table, k: &str) -> (u32, bool) {
        t.find_or_insert(k.as_bytes(), std::ptr::null(), std::ptr::null_mut())
    }

    #[test]
    fn insert_find_unlink_with_growth() {
        let mut t = Table::with_hint(0);
        let keys: Vec<String> = (0..5000)
            .map(|i| format!("node{:02}.attr.{i:04}", i % 37))
            .collect();
        for k in &keys {
            assert!(put(&mut t, k).1);
        }
        assert_eq!(t.len(), 5000);
        for k in &keys {
            let id = t.find(k.as_bytes()).expect("present");
            assert_eq!(t.key_bytes(id), k.as_bytes());
        }
        for k in keys.iter().step_by(2) {
            let id = t.unlink(k.as_bytes()).expect("unlinked");
            t.free(id);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.find(k.as_bytes()).is_some(), i % 2 == 1, "{k}");
        }
        assert_eq!(t.len(), 2500);
        // Re-insert reuses slots and survives arena compaction.
        for k in keys.iter().step_by(2) {
            assert!(put(&mut t, k).1);
        }
        for k in &keys {
            assert!(t.find(k.as_bytes()).is_some());
        }
    }

    #[test]
    fn duplicate_and_empty_keys() {
        let mut t = Table::with_hint(4);
        assert!(put(&mut t, "").1);
        assert!(!put(&mut t, "").1);
        assert!(t.find(b"").is_some());
        assert!(t.find(b"x").is_none());
    }
}
