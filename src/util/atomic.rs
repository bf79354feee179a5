//! Sequentially consistent integer and pointer operations behind `qbatomic.h`.
//! Every operation is also a full memory barrier, as libqb documents.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering::SeqCst};

/// Adds `val` (wrapping) and returns the previous value.
pub fn int_exchange_and_add(a: &AtomicI32, val: i32) -> i32 {
    a.fetch_add(val, SeqCst)
}

/// Replaces `old` by `new`; true if the value was `old`.
pub fn int_compare_and_exchange(a: &AtomicI32, old: i32, new: i32) -> bool {
    a.compare_exchange(old, new, SeqCst, SeqCst).is_ok()
}

pub fn int_get(a: &AtomicI32) -> i32 {
    a.load(SeqCst)
}

pub fn int_set(a: &AtomicI32, val: i32) {
    a.store(val, SeqCst);
}

/// Replaces `old` by `new`; true if the pointer was `old`. The pointers are
/// opaque user values: never dereferenced.
pub fn pointer_compare_and_exchange(
    a: &AtomicPtr<c_void>,
    old: *mut c_void,
    new: *mut c_void,
) -> bool {
    a.compare_exchange(old, new, SeqCst, SeqCst).is_ok()
}

pub fn pointer_get(a: &AtomicPtr<c_void>) -> *mut c_void {
    a.load(SeqCst)
}

pub fn pointer_set(a: &AtomicPtr<c_void>, val: *mut c_void) {
    a.store(val, SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn integer_ops() {
        let a = AtomicI32::new(5);
        assert_eq!(int_exchange_and_add(&a, 3), 5);
        assert_eq!(int_get(&a), 8);
        assert!(!int_compare_and_exchange(&a, 7, 1));
        assert!(int_compare_and_exchange(&a, 8, 1));
        int_set(&a, i32::MAX);
        assert_eq!(int_exchange_and_add(&a, 1), i32::MAX);
        assert_eq!(int_get(&a), i32::MIN, "wraps like C");
    }

    #[test]
    fn pointer_ops() {
        let mut x = 0u8;
        let p = (&raw mut x).cast::<c_void>();
        let a = AtomicPtr::new(std::ptr::null_mut());
        assert!(!pointer_compare_and_exchange(&a, p, p));
        assert!(pointer_compare_and_exchange(&a, std::ptr::null_mut(), p));
        assert_eq!(pointer_get(&a), p);
        pointer_set(&a, std::ptr::null_mut());
        assert!(pointer_get(&a).is_null());
    }

    #[test]
    fn concurrent_adds_are_not_lost() {
        let a = Arc::new(AtomicI32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        int_exchange_and_add(&a, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(int_get(&a), 40_000);
    }
}
