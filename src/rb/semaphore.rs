//! Chunk notification: the POSIX semaphore inside the shared header, in glibc's
//! `sem_t` format, operated with glibc's own protocol.
//!
//! A stock peer runs glibc's `sem_post`/`sem_wait` on those bytes, so the format
//! and the protocol must be glibc's (x86_64, glibc >= 2.21 "new_sem"):
//!
//! * bytes 0..8: `data`, a u64: the count in the low 32 bits, the number of
//!   blocked waiters in the high 32 bits;
//! * bytes 8..12: `private`: 128 (glibc's FUTEX_SHARED) for a process-shared
//!   semaphore, 0 for a process-private one;
//! * post: CAS `data` to `data + 1`, then FUTEX_WAKE one waiter on the count
//!   word if the waiter count was non-zero;
//! * wait: CAS the count down if non-zero; otherwise add a waiter, sleep with
//!   FUTEX_WAIT_BITSET (absolute CLOCK_REALTIME deadline) while the count is
//!   zero, and take a unit and remove the waiter in one CAS.
//!
//! Why not call glibc's functions: the bytes belong to the peer too. glibc
//! aborts the whole process ("The futex facility returned an unexpected error
//! code") when `private` holds garbage, and its accesses SIGBUS when the header
//! is truncated. Doing the same steps here, through the fault-tolerant
//! accessors of [`super::guarded`], turns both into errors. The layout is
//! checked against glibc in this module's tests.
//!
//! `QB_RB_FLAG_NO_SEMAPHORE` rings have no notifier: readers never wait, the
//! queue length is unknown (`-ENOTSUP`) and an empty ring reads as `-ETIMEDOUT`.

use libc::{EAGAIN, EBADMSG, EINTR, EOVERFLOW, ETIMEDOUT};

use super::guarded;

const COUNT_MASK: u64 = 0xffff_ffff;
const ONE_WAITER: u64 = 1 << 32;
/// glibc's SEM_VALUE_MAX.
const VALUE_MAX: u64 = i32::MAX as u64;
/// Offset of `private` in the semaphore.
const OFF_PRIVATE: usize = 8;
/// glibc's FUTEX_SHARED value of `private` (set by `sem_init(.., 1, ..)`).
const PRIVATE_IS_SHARED: u32 = 128;
/// Bound on lost CAS races in post/try (only a peer hammering the word loses
/// that often).
const CAS_RETRIES: u32 = 1 << 16;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// How a ring notifies its reader.
pub enum Notifier {
    /// `QB_RB_FLAG_NO_SEMAPHORE`.
    None,
    /// The semaphore at this (fixed, mapped, 8-aligned) address.
    Posix(*mut u8),
}

// SAFETY: the pointer targets a shared mapping that outlives the notifier; all
// access is atomic.
unsafe impl Send for Notifier {}
// SAFETY: as above.
unsafe impl Sync for Notifier {}

impl Notifier {
    /// Initialises the semaphore to 0, like `sem_init(sem, pshared, 0)`.
    pub fn init(sem: *mut u8, pshared: bool) -> Result<Notifier, i32> {
        let private = if pshared { PRIVATE_IS_SHARED } else { 0 };
        // SAFETY: `sem` points to 32 mapped, 8-aligned bytes.
        unsafe {
            guarded::store_u64(sem.cast(), 0)?;
            guarded::store_u32(sem.add(OFF_PRIVATE).cast(), private)?;
        }
        Ok(Notifier::Posix(sem))
    }

    pub fn is_some(&self) -> bool {
        matches!(self, Notifier::Posix(_))
    }

    /// One more chunk is ready.
    #[inline(always)]
    pub fn post(&self) -> Result<(), i32> {
        let Notifier::Posix(sem) = *self else {
            return Ok(());
        };
        let data = sem.cast::<u64>();
        // SAFETY (all guarded accesses here): mapped, aligned semaphore word.
        let mut d = unsafe { guarded::load_u64(data)? };
        for _ in 0..CAS_RETRIES {
            if d & COUNT_MASK >= VALUE_MAX {
                return Err(EOVERFLOW);
            }
            match unsafe { guarded::cas_u64(data, d, d.wrapping_add(1))? } {
                Ok(_) => {
                    if d >> 32 != 0 {
                        Self::wake(sem);
                    }
                    return Ok(());
                }
                Err(now) => d = now,
            }
        }
        Err(EBADMSG)
    }

    /// Takes one unit if there is one.
    #[inline(always)]
    fn try_take(sem: *mut u8) -> Result<bool, i32> {
        let data = sem.cast::<u64>();
        // SAFETY (all guarded accesses here): mapped, aligned semaphore word.
        let mut d = unsafe { guarded::load_u64(data)? };
        for _ in 0..CAS_RETRIES {
            if d & COUNT_MASK == 0 {
                return Ok(false);
            }
            match unsafe { guarded::cas_u64(data, d, d.wrapping_sub(1))? } {
                Ok(_) => return Ok(true),
                Err(now) => d = now,
            }
        }
        Err(EBADMSG)
    }

    /// Waits for a chunk: `ms < 0` forever, `0` just tries, `> 0` up to `ms`
    /// milliseconds (absolute CLOCK_REALTIME deadline, as `sem_timedwait`).
    /// Nothing to wait for without a semaphore. Err(ETIMEDOUT) when none came.
    #[inline]
    pub fn wait(&self, ms: i32) -> Result<(), i32> {
        let Notifier::Posix(sem) = *self else {
            return Ok(());
        };
        if Self::try_take(sem)? {
            return Ok(());
        }
        if ms == 0 {
            return Err(ETIMEDOUT);
        }
        Self::wait_slow(sem, ms)
    }

    #[cold]
    #[inline(never)]
    fn wait_slow(sem: *mut u8, ms: i32) -> Result<(), i32> {
        let data = sem.cast::<u64>();
        let deadline = if ms > 0 {
            Some(deadline_after(ms))
        } else {
            None
        };
        // SAFETY (all guarded accesses here): mapped, aligned semaphore word.
        unsafe { guarded::fetch_add_u64(data, ONE_WAITER)? };
        let unregister = || {
            // SAFETY: as above; a fault here changes nothing for us.
            let _ = unsafe { guarded::fetch_add_u64(data, ONE_WAITER.wrapping_neg()) };
        };
        let mut d = unsafe { guarded::load_u64(data)? };
        loop {
            if d & COUNT_MASK == 0 {
                match Self::futex_wait(sem, deadline.as_ref()) {
                    Ok(()) | Err(EAGAIN) | Err(EINTR) => {}
                    Err(e) => {
                        unregister();
                        return Err(if e == libc::EFAULT { EBADMSG } else { e });
                    }
                }
                d = unsafe { guarded::load_u64(data)? };
            } else {
                let take = d.wrapping_sub(1).wrapping_sub(ONE_WAITER);
                match unsafe { guarded::cas_u64(data, d, take)? } {
                    Ok(_) => return Ok(()),
                    Err(now) => d = now,
                }
            }
        }
    }

    /// The futex flags matching the semaphore's `private` field, as glibc
    /// derives them (anything but "shared" counts as process-private).
    fn private_flag(sem: *mut u8) -> i32 {
        // SAFETY: mapped, aligned field; a fault just means "private".
        match unsafe { guarded::load_u32(sem.add(OFF_PRIVATE).cast()) } {
            Ok(PRIVATE_IS_SHARED) => 0,
            _ => libc::FUTEX_PRIVATE_FLAG,
        }
    }

    fn futex_wait(sem: *mut u8, deadline: Option<&libc::timespec>) -> Result<(), i32> {
        let op = libc::FUTEX_WAIT_BITSET | libc::FUTEX_CLOCK_REALTIME | Self::private_flag(sem);
        let ts = deadline.map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the futex word is our mapped count word; the kernel reports a
        // vanished page as EFAULT.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                sem.cast::<u32>(),
                op,
                0u32,
                ts,
                std::ptr::null::<u32>(),
                u32::MAX,
            )
        };
        if rc == 0 { Ok(()) } else { Err(errno()) }
    }

    #[cold]
    #[inline(never)]
    fn wake(sem: *mut u8) {
        let op = libc::FUTEX_WAKE | Self::private_flag(sem);
        // SAFETY: as for futex_wait; errors are irrelevant to the poster.
        unsafe { libc::syscall(libc::SYS_futex, sem.cast::<u32>(), op, 1i32) };
    }

    /// Chunks posted and not yet waited for; `None` without a semaphore.
    #[inline]
    pub fn value(&self) -> Option<Result<u32, i32>> {
        match *self {
            Notifier::None => None,
            // SAFETY: mapped, aligned semaphore word.
            Notifier::Posix(sem) => Some(
                unsafe { guarded::load_u64(sem.cast()) }
                    .map(|d| (d & COUNT_MASK) as u32)
                    .map_err(i32::from),
            ),
        }
    }

    /// Creator's teardown (glibc's `sem_destroy` does nothing either).
    pub fn destroy(&self) {}
}

fn deadline_after(ms: i32) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let ms = ms.max(0) as i64;
    let nsec = ts.tv_nsec + (ms % 1000) * 1_000_000;
    ts.tv_sec = ts.tv_sec.saturating_add(ms / 1000 + nsec / 1_000_000_000);
    ts.tv_nsec = nsec % 1_000_000_000;
    ts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process-shared anonymous page holding one semaphore.
    struct Page(*mut u8);
    impl Page {
        fn new() -> Page {
            guarded::install();
            // SAFETY: fresh anonymous shared mapping.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            Page(p.cast())
        }
        fn sem(&self) -> *mut libc::sem_t {
            self.0.cast()
        }
    }
    impl Drop for Page {
        fn drop(&mut self) {
            // SAFETY: our mapping.
            unsafe { libc::munmap(self.0.cast(), 4096) };
        }
    }
    // SAFETY: shared memory page used only through atomics / sem_* calls.
    unsafe impl Send for Page {}
    // SAFETY: as above.
    unsafe impl Sync for Page {}

    fn glibc_value(sem: *mut libc::sem_t) -> i32 {
        let mut v = 0;
        // SAFETY: initialised semaphore.
        assert_eq!(unsafe { libc::sem_getvalue(sem, &mut v) }, 0);
        v
    }

    #[test]
    fn init_writes_what_glibc_writes() {
        for pshared in [false, true] {
            let ours = Page::new();
            let theirs = Page::new();
            // SAFETY: valid mapped semaphore storage.
            unsafe {
                std::ptr::write_bytes(ours.0, 0xee, 32);
                std::ptr::write_bytes(theirs.0, 0xee, 32);
                libc::sem_init(theirs.sem(), pshared as i32, 0);
            }
            Notifier::init(ours.0, pshared).unwrap();
            // SAFETY: both pages are mapped.
            let (a, b) = unsafe {
                (
                    std::slice::from_raw_parts(ours.0, 32),
                    std::slice::from_raw_parts(theirs.0, 32),
                )
            };
            assert_eq!(a, b);
        }
    }

    #[test]
    fn counts_agree_with_glibc() {
        let page = Page::new();
        let n = Notifier::init(page.0, true).unwrap();
        n.post().unwrap();
        n.post().unwrap();
        assert_eq!(glibc_value(page.sem()), 2);
        // SAFETY: initialised semaphore.
        unsafe { libc::sem_post(page.sem()) };
        assert_eq!(n.value(), Some(Ok(3)));
        // SAFETY: initialised semaphore.
        assert_eq!(unsafe { libc::sem_trywait(page.sem()) }, 0);
        n.wait(0).unwrap();
        n.wait(-1).unwrap();
        assert_eq!(n.wait(0), Err(ETIMEDOUT));
        assert_eq!(n.wait(5), Err(ETIMEDOUT));
        assert_eq!(glibc_value(page.sem()), 0);
    }

    #[test]
    fn glibc_waiter_is_woken_by_our_post() {
        let page = std::sync::Arc::new(Page::new());
        let n = Notifier::init(page.0, true).unwrap();
        let p = page.clone();
        let t = std::thread::spawn(move || {
            // SAFETY: initialised semaphore; blocks until posted.
            unsafe { libc::sem_wait(p.sem()) }
        });
        // Wait until the thread registered as a waiter, then post.
        // SAFETY: mapped semaphore word.
        while unsafe { guarded::load_u64(page.0.cast()) }.unwrap() >> 32 == 0 {
            std::thread::yield_now();
        }
        n.post().unwrap();
        assert_eq!(t.join().unwrap(), 0);
        assert_eq!(n.value(), Some(Ok(0)));
    }

    #[test]
    fn our_waiter_is_woken_by_glibc_post() {
        let page = std::sync::Arc::new(Page::new());
        let n = std::sync::Arc::new(Notifier::init(page.0, true).unwrap());
        let n2 = n.clone();
        let t = std::thread::spawn(move || n2.wait(-1));
        // SAFETY: mapped semaphore word.
        while unsafe { guarded::load_u64(page.0.cast()) }.unwrap() >> 32 == 0 {
            std::thread::yield_now();
        }
        // SAFETY: initialised semaphore.
        unsafe { libc::sem_post(page.sem()) };
        assert_eq!(t.join().unwrap(), Ok(()));
        // The waiter count is back to zero: data is exactly 0.
        // SAFETY: mapped semaphore word.
        assert_eq!(unsafe { guarded::load_u64(page.0.cast()) }, Ok(0));
    }

    #[test]
    fn garbage_semaphores_give_errors_not_aborts() {
        for fill in [0xffu8, 0x7f, 0x80] {
            let page = Page::new();
            let n = Notifier::init(page.0, false).unwrap();
            // SAFETY: our mapping.
            unsafe { std::ptr::write_bytes(page.0, fill, 32) };
            let _ = n.post();
            let _ = n.wait(0);
            let _ = n.wait(1);
            let _ = n.value();
        }
    }
}
