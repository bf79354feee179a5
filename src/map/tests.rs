//! Core map tests (no FFI): semantics shared by the three kinds.

use std::ffi::{CString, c_char, c_void};

use super::notify::{DELETED, FREE, INSERTED, RECURSIVE, REPLACED};
use super::*;

unsafe extern "C" fn cb(_: u32, _: *mut c_char, _: *mut c_void, _: *mut c_void, _: *mut c_void) {}

fn note(events: u32, user: usize) -> Notifier {
    Notifier {
        callback: cb,
        events,
        user_data: user as *mut c_void,
    }
}

/// Keys kept alive for the map's lifetime (the map stores their pointers).
struct Keys(Vec<CString>);

impl Keys {
    fn new() -> Keys {
        Keys(Vec::new())
    }
    fn put(&mut self, m: &Map, k: &str, v: usize) -> Calls {
        let c = CString::new(k).unwrap();
        let calls = m.put(c.as_bytes(), c.as_ptr(), v as *mut c_void);
        self.0.push(c);
        calls
    }
}

fn key_of(p: *const c_char) -> String {
    // SAFETY: tests only store pointers to live CStrings.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

fn collect_all(it: &mut MapIter) -> Vec<String> {
    let mut out = Vec::new();
    while let (Some((k, _)), _) = it.next_entry() {
        out.push(key_of(k));
    }
    out
}

fn events(calls: &Calls) -> Vec<(u32, usize)> {
    calls
        .iter()
        .map(|c| (c.event, c.notifier.user_data as usize))
        .collect()
}

#[test]
fn put_get_rm_count_all_kinds() {
    for kind in [Kind::Hashtable, Kind::Skiplist, Kind::Trie] {
        let m = Map::new(kind, 32);
        let mut keys = Keys::new();
        for (i, k) in ["k1", "k12", "k34", "k3", ""].iter().enumerate() {
            keys.put(&m, k, i + 1);
        }
        assert_eq!(m.len(), 5);
        assert_eq!(m.get(b"k34") as usize, 3);
        assert_eq!(m.get(b"") as usize, 5);
        assert!(m.get(b"k").is_null());
        assert!(m.rm(b"k12").0);
        assert!(!m.rm(b"k12").0);
        keys.put(&m, "k34", 9);
        assert_eq!(m.get(b"k34") as usize, 9);
        assert_eq!(m.len(), 4);
        let _ = m.destroy();
    }
}

#[test]
fn sorted_orders() {
    let words = ["b", "a\u{e9}", "ab", "a", "", "Z", "\u{7f}", "\u{e9}"];
    let m = Map::new(Kind::Skiplist, 0);
    let t = Map::new(Kind::Trie, 0);
    let mut keys = Keys::new();
    for w in words {
        keys.put(&m, w, 1);
        keys.put(&t, w, 1);
    }
    // strcmp (unsigned) order.
    assert_eq!(
        collect_all(&mut m.iter(None)),
        vec!["", "Z", "a", "ab", "a\u{e9}", "b", "\u{7f}", "\u{e9}"]
    );
    // Trie: bytes compare as signed char, so 0xC3 (from \u{e9}) sorts before ASCII.
    assert_eq!(
        collect_all(&mut t.iter(None)),
        vec!["", "\u{e9}", "Z", "a", "a\u{e9}", "ab", "b", "\u{7f}"]
    );
}

#[test]
fn trie_prefix_iteration() {
    let t = Map::new(Kind::Trie, 0);
    let mut keys = Keys::new();
    for k in ["aaaa", "facc", "abbb", "a.ac", "aacc", "cacc", "c"] {
        keys.put(&t, k, 1);
    }
    assert_eq!(collect_all(&mut t.iter(Some(b"aa"))), vec!["aaaa", "aacc"]);
    assert_eq!(collect_all(&mut t.iter(Some(b"a"))).len(), 4);
    assert!(collect_all(&mut t.iter(Some(b"zz"))).is_empty());
    assert_eq!(collect_all(&mut t.iter(Some(b"c"))), vec!["c", "cacc"]);
    // Other kinds ignore the prefix.
    let s = Map::new(Kind::Skiplist, 0);
    keys.put(&s, "x", 1);
    keys.put(&s, "y", 1);
    assert_eq!(collect_all(&mut s.iter(Some(b"x"))).len(), 2);
}

#[test]
fn notifications_hash_and_skiplist() {
    for kind in [Kind::Hashtable, Kind::Skiplist] {
        let m = Map::new(kind, 0);
        let mut keys = Keys::new();
        m.notify_add(None, note(INSERTED | DELETED | REPLACED, 1))
            .unwrap();
        m.notify_add(None, note(FREE | DELETED | REPLACED, 2))
            .unwrap();
        assert_eq!(events(&keys.put(&m, "g", 10)), vec![(INSERTED, 1)]);
        assert_eq!(m.notify_add(Some(b"g"), note(REPLACED, 3)), Ok(()));
        assert_eq!(
            m.notify_add(Some(b"g"), note(REPLACED, 3)),
            Err(libc::EEXIST)
        );
        let calls = keys.put(&m, "g", 11);
        assert_eq!(
            events(&calls),
            vec![(REPLACED, 3), (REPLACED, 1), (REPLACED, 2), (FREE, 2)]
        );
        assert_eq!(calls[0].old as usize, 10);
        assert_eq!(calls[0].new as usize, 11);
        let (removed, calls) = m.rm(b"g");
        assert!(removed);
        assert_eq!(events(&calls), vec![(DELETED, 1), (DELETED, 2), (FREE, 2)]);
        let missing = if kind == Kind::Hashtable {
            libc::ENOENT
        } else {
            libc::EINVAL
        };
        assert_eq!(m.notify_add(Some(b"nope"), note(REPLACED, 3)), Err(missing));
        assert_eq!(m.notify_add(Some(b"g"), note(FREE, 3)), Err(libc::EINVAL));
        assert_eq!(
            m.notify_add(None, note(FREE | DELETED | REPLACED, 9)),
            Err(libc::EEXIST)
        );
        assert_eq!(
            m.notify_del(Some(b"nope"), Some(cb), REPLACED, None),
            Err(libc::ENOENT)
        );
        assert_eq!(
            m.notify_del(None, Some(cb), INSERTED | DELETED | REPLACED, None),
            Ok(())
        );
        assert_eq!(
            m.notify_del(None, Some(cb), INSERTED | DELETED | REPLACED, None),
            Err(libc::ENOENT)
        );
        keys.put(&m, "h", 1);
        assert_eq!(events(&m.destroy()), vec![(DELETED, 2), (FREE, 2)]);
    }
}

#[test]
fn trie_notifications_need_recursive_above_the_key() {
    let t = Map::new(Kind::Trie, 0);
    let mut keys = Keys::new();
    t.notify_add(None, note(INSERTED, 1)).unwrap(); // root, not recursive: silent
    t.notify_add(Some(b"add"), note(INSERTED | DELETED | RECURSIVE, 2))
        .unwrap();
    t.notify_add(Some(b"adder"), note(INSERTED, 3)).unwrap();
    assert_eq!(
        events(&keys.put(&t, "adder", 1)),
        vec![(INSERTED, 3), (INSERTED, 2)]
    );
    assert!(keys.put(&t, "adjust", 1).is_empty());
    assert_eq!(events(&keys.put(&t, "add", 1)), vec![(INSERTED, 2)]);
    t.notify_add(None, note(FREE, 4)).unwrap();
    assert_eq!(events(&t.rm(b"adder").1), vec![(DELETED, 2), (FREE, 4)]);
    assert_eq!(
        t.notify_del(Some(b"adder"), Some(cb), INSERTED, Some(3 as *mut c_void)),
        Ok(())
    );
    assert_eq!(
        t.notify_del(Some(b"adder"), Some(cb), INSERTED, None),
        Err(libc::ENOENT)
    );
}

#[test]
fn removal_under_an_iterator_is_deferred() {
    for kind in [Kind::Hashtable, Kind::Skiplist, Kind::Trie] {
        let m = Map::new(kind, 0);
        let mut keys = Keys::new();
        m.notify_add(None, note(DELETED | RECURSIVE, 1)).unwrap();
        for k in ["aaaa", "bbbb", "cccc"] {
            keys.put(&m, k, 1);
        }
        let mut it = m.iter(None);
        let (first, _) = it.next_entry();
        let first = key_of(first.unwrap().0);
        let (removed, calls) = m.rm(first.as_bytes());
        assert!(removed);
        assert!(calls.is_empty(), "held entry: DELETED deferred");
        assert!(m.get(first.as_bytes()).is_null());
        assert_eq!(m.len(), 2);
        let (next, calls) = it.next_entry();
        assert!(next.is_some());
        assert_eq!(events(&calls), vec![(DELETED, 1)]);
        // Freeing the iterator releases its entry too.
        let second = key_of(next.unwrap().0);
        assert!(m.rm(second.as_bytes()).1.is_empty());
        assert_eq!(events(&it.finish()), vec![(DELETED, 1)]);
        assert_eq!(m.len(), 1);
        let _ = m.destroy();
    }
}

#[test]
fn sorted_iterator_sees_inserts_ahead() {
    let m = Map::new(Kind::Skiplist, 0);
    let mut keys = Keys::new();
    for k in ["aaaa", "bbbb", "cccc"] {
        keys.put(&m, k, 1);
    }
    let mut it = m.iter(None);
    let _ = it.next_entry();
    let _ = it.next_entry(); // bbbb
    for k in ["bbbb", "cccc", "aaaa"] {
        m.rm(k.as_bytes());
    }
    keys.put(&m, "fffff", 1);
    keys.put(&m, "ggggg", 1);
    assert_eq!(collect_all(&mut it), vec!["fffff", "ggggg"]);
}

#[test]
fn iterator_outlives_map() {
    let m = Map::new(Kind::Trie, 0);
    let mut keys = Keys::new();
    keys.put(&m, "a", 1);
    let mut it = m.iter(None);
    assert!(it.next_entry().0.is_some());
    let _ = m.destroy();
    assert!(it.next_entry().0.is_none());
    assert!(it.finish().is_empty());
}

#[test]
fn many_keys_with_removals() {
    for kind in [Kind::Hashtable, Kind::Skiplist, Kind::Trie] {
        let m = Map::new(kind, 16);
        let mut keys = Keys::new();
        for i in 0..3000 {
            keys.put(&m, &format!("node{:02}.attr.{i:04}", i % 37), i);
        }
        for i in (0..3000).step_by(3) {
            assert!(m.rm(format!("node{:02}.attr.{i:04}", i % 37).as_bytes()).0);
        }
        assert_eq!(m.len(), 2000);
        let mut it = m.iter(None);
        let all = collect_all(&mut it);
        assert_eq!(all.len(), 2000);
        if kind != Kind::Hashtable {
            assert!(all.windows(2).all(|w| w[0] < w[1]));
        }
        let _ = m.destroy();
    }
}

#[test]
fn trie_hides_null_values_and_empty_prefix() {
    let t = Map::new(Kind::Trie, 0);
    let mut keys = Keys::new();
    keys.put(&t, "", 0);
    keys.put(&t, "a", 1);
    keys.put(&t, "b", 0);
    assert_eq!(t.len(), 3);
    assert_eq!(collect_all(&mut t.iter(None)), vec!["a"]);
    assert!(collect_all(&mut t.iter(Some(b""))).is_empty());
    let s = Map::new(Kind::Skiplist, 0);
    keys.put(&s, "", 0);
    keys.put(&s, "a", 0);
    assert_eq!(collect_all(&mut s.iter(Some(b""))).len(), 2);
}
