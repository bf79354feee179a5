//! libqb's `qb_thread_lock_t`: a lock taken and released by separate calls (no
//! guard object), in two flavours:
//! - `Short`: a spin lock for very short critical sections;
//! - `Long`: a blocking lock for everything else (waiters sleep).
//!
//! Errors are positive errno values as pthreads reports them: `EBUSY` from a
//! failed try-lock or when destroying a held lock, `EPERM` when releasing a lock
//! that is not held. Like a default pthread mutex, the lock is not recursive (a
//! thread taking it twice waits forever) and any thread may release it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// `QB_THREAD_LOCK_SHORT` = 0, `QB_THREAD_LOCK_LONG` = 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Short,
    Long,
}

impl LockKind {
    /// libqb treats every value other than SHORT as LONG.
    pub fn from_c(value: u32) -> Self {
        if value == 0 { Self::Short } else { Self::Long }
    }
}

/// Spins this many times before yielding the CPU while waiting for a short lock.
const SPINS_BEFORE_YIELD: u32 = 100;

#[derive(Debug)]
enum State {
    Spin(AtomicBool),
    Blocking {
        held: Mutex<bool>,
        released: Condvar,
    },
}

#[derive(Debug)]
pub struct ThreadLock {
    state: State,
}

impl ThreadLock {
    pub fn new(kind: LockKind) -> Self {
        let state = match kind {
            LockKind::Short => State::Spin(AtomicBool::new(false)),
            LockKind::Long => State::Blocking {
                held: Mutex::new(false),
                released: Condvar::new(),
            },
        };
        Self { state }
    }

    pub fn kind(&self) -> LockKind {
        match self.state {
            State::Spin(_) => LockKind::Short,
            State::Blocking { .. } => LockKind::Long,
        }
    }

    /// Waits until the lock is free and takes it.
    pub fn lock(&self) -> Result<(), i32> {
        match &self.state {
            State::Spin(flag) => {
                let mut spins = 0u32;
                while !try_take(flag) {
                    if spins < SPINS_BEFORE_YIELD {
                        spins += 1;
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
            State::Blocking { held, released } => {
                let mut held = lock_inner(held);
                while *held {
                    held = released.wait(held).unwrap_or_else(PoisonError::into_inner);
                }
                *held = true;
            }
        }
        Ok(())
    }

    /// Takes the lock if it is free; `Err(EBUSY)` otherwise.
    pub fn try_lock(&self) -> Result<(), i32> {
        let taken = match &self.state {
            State::Spin(flag) => try_take(flag),
            State::Blocking { held, .. } => {
                let mut held = lock_inner(held);
                !std::mem::replace(&mut *held, true)
            }
        };
        if taken { Ok(()) } else { Err(libc::EBUSY) }
    }

    /// Releases the lock; `Err(EPERM)` if it was not held.
    pub fn unlock(&self) -> Result<(), i32> {
        let was_held = match &self.state {
            State::Spin(flag) => flag.swap(false, Ordering::Release),
            State::Blocking { held, released } => {
                let was_held = std::mem::replace(&mut *lock_inner(held), false);
                if was_held {
                    released.notify_one();
                }
                was_held
            }
        };
        if was_held { Ok(()) } else { Err(libc::EPERM) }
    }

    /// Whether some thread holds the lock right now.
    pub fn is_held(&self) -> bool {
        match &self.state {
            State::Spin(flag) => flag.load(Ordering::Acquire),
            State::Blocking { held, .. } => *lock_inner(held),
        }
    }

    /// Checks that the lock may be destroyed: `Err(EBUSY)` while it is held
    /// (the caller frees it either way, as libqb does).
    pub fn check_destroy(&self) -> Result<(), i32> {
        if self.is_held() {
            Err(libc::EBUSY)
        } else {
            Ok(())
        }
    }
}

fn try_take(flag: &AtomicBool) -> bool {
    flag.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// The inner mutex only guards a flag, so a poisoned state is still consistent.
fn lock_inner(m: &Mutex<bool>) -> MutexGuard<'_, bool> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn kind_from_c_value() {
        assert_eq!(LockKind::from_c(0), LockKind::Short);
        assert_eq!(LockKind::from_c(1), LockKind::Long);
        assert_eq!(LockKind::from_c(77), LockKind::Long);
        assert_eq!(ThreadLock::new(LockKind::Short).kind(), LockKind::Short);
    }

    #[test]
    fn try_lock_unlock_cycle() {
        for kind in [LockKind::Short, LockKind::Long] {
            let l = ThreadLock::new(kind);
            assert_eq!(l.unlock(), Err(libc::EPERM));
            assert_eq!(l.try_lock(), Ok(()));
            assert!(l.is_held());
            assert_eq!(l.try_lock(), Err(libc::EBUSY));
            assert_eq!(l.check_destroy(), Err(libc::EBUSY));
            assert_eq!(l.unlock(), Ok(()));
            assert_eq!(l.lock(), Ok(()));
            assert_eq!(l.unlock(), Ok(()));
            assert_eq!(l.check_destroy(), Ok(()));
        }
    }

    #[test]
    fn excludes_other_threads() {
        for kind in [LockKind::Short, LockKind::Long] {
            let lock = Arc::new(ThreadLock::new(kind));
            // Non-atomic read-modify-write split in two steps: lost updates would
            // show if the lock did not exclude.
            let counter = Arc::new(AtomicU64::new(0));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (lock, counter) = (lock.clone(), counter.clone());
                    std::thread::spawn(move || {
                        for _ in 0..20_000 {
                            lock.lock().unwrap();
                            let v = counter.load(Ordering::Relaxed);
                            counter.store(v + 1, Ordering::Relaxed);
                            lock.unlock().unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(counter.load(Ordering::Relaxed), 80_000);
        }
    }

    #[test]
    fn released_by_another_thread_wakes_waiter() {
        let lock = Arc::new(ThreadLock::new(LockKind::Long));
        lock.lock().unwrap();
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                lock.lock().unwrap();
                lock.unlock().unwrap();
            })
        };
        lock.unlock().unwrap();
        waiter.join().unwrap();
        assert!(!lock.is_held());
    }
}
