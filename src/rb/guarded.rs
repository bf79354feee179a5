//! Loads, stores, atomics and copies on peer-truncatable shared memory that
//! fail with an error instead of killing the process with SIGBUS.
//!
//! A peer that shrinks a backing file makes every later touch of the lost pages
//! raise SIGBUS. Checking sizes with `fstat` cannot close that race (and would
//! put a syscall on every read), so every access to a ring's mappings goes
//! through the primitives below instead:
//!
//! * on x86_64 each is a single instruction in inline assembly, listed in an
//!   exception table (section `qbrb_extable`: pairs of PC-relative offsets to
//!   the instruction and to its fixup code), exactly like the kernel's
//!   user-access helpers;
//! * a process-wide SIGBUS handler, installed once when the first ring is
//!   opened, looks the faulting instruction up in that table and, if found,
//!   resumes at the fixup, which makes the primitive return `Err(Fault)`.
//!   Any other SIGBUS goes to the handler that was installed before ours (or
//!   takes the default action), so the application's own handling is kept.
//!
//! No thread-local state, no `longjmp`: a fault only ever lands in the fixup of
//! the very instruction that faulted, and the hot path pays one cleared
//! register and one predictable branch per access.
//!
//! On x86_64 plain loads are acquire and plain stores release (TSO) and locked
//! instructions are sequentially consistent; the asm blocks are also compiler
//! barriers. Other architectures use ordinary atomics and are not protected
//! from SIGBUS.

/// The accessed page is gone (the peer truncated the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault;

/// Errno reported for an access that faulted: the shared ring is destroyed.
pub const FAULT_ERRNO: i32 = libc::EBADMSG;

impl From<Fault> for i32 {
    fn from(_: Fault) -> i32 {
        FAULT_ERRNO
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::Fault;
    use std::arch::asm;

    // Each guarded instruction is labelled `2:`, execution continues at `3:`,
    // and the out-of-line fixup `4:` sets the fault register and jumps back.
    macro_rules! guarded_asm {
        ($insn:literal, $($operands:tt)*) => {
            asm!(
                "xor {f:e}, {f:e}",
                concat!("2: ", $insn),
                "3:",
                ".pushsection qbrb_extable, \"aR\"",
                ".balign 4",
                ".long 2b - .",
                ".long 4f - .",
                ".popsection",
                ".pushsection .text.unlikely.qbrb_fixup, \"ax\", @progbits",
                "4: mov {f:e}, 1",
                "jmp 3b",
                ".popsection",
                $($operands)*
            )
        };
    }

    #[inline(always)]
    fn check(f: u32) -> Result<(), Fault> {
        if f == 0 { Ok(()) } else { Err(Fault) }
    }

    #[inline(always)]
    pub unsafe fn load_u32(p: *const u32) -> Result<u32, Fault> {
        let v: u32;
        let f: u32;
        // SAFETY: `p` is aligned and inside a live mapping (caller); a vanished
        // page is turned into Err by the fixup.
        unsafe {
            guarded_asm!("mov {v:e}, dword ptr [{p}]",
                p = in(reg) p, v = out(reg) v, f = out(reg) f, options(nostack));
        }
        check(f).map(|()| v)
    }

    #[inline(always)]
    pub unsafe fn store_u32(p: *mut u32, v: u32) -> Result<(), Fault> {
        let f: u32;
        // SAFETY: as for load_u32.
        unsafe {
            guarded_asm!("mov dword ptr [{p}], {v:e}",
                p = in(reg) p, v = in(reg) v, f = out(reg) f, options(nostack));
        }
        check(f)
    }

    #[inline(always)]
    pub unsafe fn load_u64(p: *const u64) -> Result<u64, Fault> {
        let v: u64;
        let f: u32;
        // SAFETY: as for load_u32 (8-aligned).
        unsafe {
            guarded_asm!("mov {v}, qword ptr [{p}]",
                p = in(reg) p, v = out(reg) v, f = out(reg) f, options(nostack));
        }
        check(f).map(|()| v)
    }

    #[inline(always)]
    pub unsafe fn store_u64(p: *mut u64, v: u64) -> Result<(), Fault> {
        let f: u32;
        // SAFETY: as for load_u32 (8-aligned).
        unsafe {
            guarded_asm!("mov qword ptr [{p}], {v}",
                p = in(reg) p, v = in(reg) v, f = out(reg) f, options(nostack));
        }
        check(f)
    }

    /// Compare-and-swap: Ok(Ok(old)) if swapped, Ok(Err(current)) if not.
    #[inline(always)]
    pub unsafe fn cas_u64(p: *mut u64, old: u64, new: u64) -> Result<Result<u64, u64>, Fault> {
        let prev: u64;
        let f: u32;
        // SAFETY: as for load_u32 (8-aligned).
        unsafe {
            guarded_asm!("lock cmpxchg qword ptr [{p}], {new}",
                p = in(reg) p, new = in(reg) new, inout("rax") old => prev,
                f = out(reg) f, options(nostack));
        }
        check(f).map(|()| if prev == old { Ok(prev) } else { Err(prev) })
    }

    #[inline(always)]
    pub unsafe fn fetch_add_u64(p: *mut u64, d: u64) -> Result<u64, Fault> {
        let prev: u64;
        let f: u32;
        // SAFETY: as for load_u32 (8-aligned).
        unsafe {
            guarded_asm!("lock xadd qword ptr [{p}], {v}",
                p = in(reg) p, v = inout(reg) d => prev, f = out(reg) f, options(nostack));
        }
        check(f).map(|()| prev)
    }

    #[inline(always)]
    pub unsafe fn fetch_add_u32(p: *mut u32, d: u32) -> Result<u32, Fault> {
        let prev: u32;
        let f: u32;
        // SAFETY: as for load_u32.
        unsafe {
            guarded_asm!("lock xadd dword ptr [{p}], {v:e}",
                p = in(reg) p, v = inout(reg) d => prev, f = out(reg) f, options(nostack));
        }
        check(f).map(|()| prev)
    }

    /// Copies `len` bytes, 16 <= len <= 256 (IPC- and log-sized messages):
    /// 16-byte moves in one loop plus an overlapping last block, all four
    /// instructions in the exception table, so the copy costs one fault check.
    #[inline(always)]
    unsafe fn copy_small(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Fault> {
        let f: u32;
        // SAFETY: both ranges valid for `len` >= 16 bytes (caller); every block
        // moved lies inside [0, len); each load/store is listed in the table.
        unsafe {
            asm!(
                "xor {f:e}, {f:e}",
                "xor {off:e}, {off:e}",
                "sub {last}, 16",
                "jmp 7f",
                "6:",
                "2: movdqu {x}, xmmword ptr [{s} + {off}]",
                "5: movdqu xmmword ptr [{d} + {off}], {x}",
                "add {off}, 16",
                "7:",
                "cmp {off}, {last}",
                "jb 6b",
                "8: movdqu {x}, xmmword ptr [{s} + {last}]",
                "9: movdqu xmmword ptr [{d} + {last}], {x}",
                "3:",
                ".pushsection qbrb_extable, \"aR\"",
                ".balign 4",
                ".long 2b - .", ".long 4f - .",
                ".long 5b - .", ".long 4f - .",
                ".long 8b - .", ".long 4f - .",
                ".long 9b - .", ".long 4f - .",
                ".popsection",
                ".pushsection .text.unlikely.qbrb_fixup, \"ax\", @progbits",
                "4: mov {f:e}, 1",
                "jmp 3b",
                ".popsection",
                s = in(reg) src, d = in(reg) dst, last = inout(reg) len => _,
                off = out(reg) _, x = out(xmm_reg) _, f = out(reg) f,
                options(nostack),
            );
        }
        check(f)
    }

    /// Copies `len` bytes. Short copies use [`copy_small`]; the rest
    /// `rep movsb`.
    #[inline(always)]
    pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Fault> {
        if (16..=256).contains(&len) {
            // SAFETY: as documented on copy_small; len is in its range.
            return unsafe { copy_small(dst, src, len) };
        }
        // SAFETY: as below.
        unsafe { copy_bulk(dst, src, len) }
    }

    #[inline(always)]
    unsafe fn copy_bulk(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Fault> {
        let f: u32;
        // SAFETY: both ranges valid for `len` bytes (caller); DF is clear per the
        // ABI. A fault part-way leaves a partial copy and returns Err.
        unsafe {
            guarded_asm!("rep movsb",
                inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") len => _,
                f = out(reg) f, options(nostack));
        }
        check(f)
    }

    unsafe extern "C" {
        #[link_name = "__start_qbrb_extable"]
        static EXTABLE_START: [i32; 0];
        #[link_name = "__stop_qbrb_extable"]
        static EXTABLE_STOP: [i32; 0];
    }

    /// The fixup address for a faulting instruction at `ip`, if it is ours.
    pub fn fixup_for(ip: usize) -> Option<usize> {
        // SAFETY: the linker defines both symbols around the table, which holds
        // pairs of i32 written by the asm above.
        unsafe {
            let mut e = (&raw const EXTABLE_START).cast::<i32>();
            let end = (&raw const EXTABLE_STOP).cast::<i32>();
            while e < end {
                let insn = (e as isize).wrapping_add(*e as isize) as usize;
                let fix_at = e.add(1);
                if insn == ip {
                    return Some((fix_at as isize).wrapping_add(*fix_at as isize) as usize);
                }
                e = e.add(2);
            }
        }
        None
    }

    /// Instruction pointer of an interrupted context.
    pub unsafe fn ip_slot(ctx: *mut libc::c_void) -> *mut i64 {
        let uc = ctx.cast::<libc::ucontext_t>();
        // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
        unsafe { &raw mut (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    //! Unprotected fallback: plain atomics.
    use super::Fault;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    pub unsafe fn load_u32(p: *const u32) -> Result<u32, Fault> {
        Ok(unsafe { AtomicU32::from_ptr(p.cast_mut()) }.load(Ordering::Acquire))
    }
    pub unsafe fn store_u32(p: *mut u32, v: u32) -> Result<(), Fault> {
        unsafe { AtomicU32::from_ptr(p) }.store(v, Ordering::Release);
        Ok(())
    }
    pub unsafe fn load_u64(p: *const u64) -> Result<u64, Fault> {
        Ok(unsafe { AtomicU64::from_ptr(p.cast_mut()) }.load(Ordering::Acquire))
    }
    pub unsafe fn store_u64(p: *mut u64, v: u64) -> Result<(), Fault> {
        unsafe { AtomicU64::from_ptr(p) }.store(v, Ordering::Release);
        Ok(())
    }
    pub unsafe fn cas_u64(p: *mut u64, old: u64, new: u64) -> Result<Result<u64, u64>, Fault> {
        Ok(unsafe { AtomicU64::from_ptr(p) }.compare_exchange(
            old,
            new,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ))
    }
    pub unsafe fn fetch_add_u64(p: *mut u64, d: u64) -> Result<u64, Fault> {
        Ok(unsafe { AtomicU64::from_ptr(p) }.fetch_add(d, Ordering::SeqCst))
    }
    pub unsafe fn fetch_add_u32(p: *mut u32, d: u32) -> Result<u32, Fault> {
        Ok(unsafe { AtomicU32::from_ptr(p) }.fetch_add(d, Ordering::SeqCst))
    }
    pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Fault> {
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        Ok(())
    }
}

pub use imp::{
    cas_u64, copy, fetch_add_u32, fetch_add_u64, load_u32, load_u64, store_u32, store_u64,
};

#[cfg(target_arch = "x86_64")]
mod handler {
    use std::sync::OnceLock;

    use super::imp::{fixup_for, ip_slot};

    /// The SIGBUS disposition we replaced (written once, before ours is live).
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

    type InfoHandler = extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void);
    type PlainHandler = extern "C" fn(i32);

    extern "C" fn on_sigbus(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        if !ctx.is_null() {
            // SAFETY: SA_SIGINFO handlers receive the interrupted context.
            let slot = unsafe { ip_slot(ctx) };
            // SAFETY: `slot` points into that context.
            if let Some(fix) = fixup_for(unsafe { *slot } as usize) {
                // SAFETY: resume at the fixup of the faulting guarded access.
                unsafe { *slot = fix as i64 };
                return;
            }
        }
        let Some(prev) = PREVIOUS.get() else {
            return default_action(sig);
        };
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL {
            default_action(sig)
        } else if h == libc::SIG_IGN {
            // A real fault cannot be ignored (re-executing it faults forever).
            // SAFETY: `info` is the kernel's siginfo (may be NULL-checked).
            if info.is_null() || unsafe { (*info).si_code } > 0 {
                default_action(sig)
            }
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed as a SA_SIGINFO handler.
            let f: InfoHandler = unsafe { std::mem::transmute(h) };
            f(sig, info, ctx)
        } else {
            // SAFETY: the previous handler was installed as a plain handler.
            let f: PlainHandler = unsafe { std::mem::transmute(h) };
            f(sig)
        }
    }

    /// Restores the default disposition and re-raises: the signal takes effect
    /// once the handler returns (SIGBUS is blocked while it runs).
    fn default_action(sig: i32) {
        // SAFETY: async-signal-safe calls with a zeroed (SIG_DFL) action.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
            libc::raise(sig);
        }
    }

    pub fn install() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: plain sigaction calls with valid, zero-initialised structs.
            unsafe {
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut prev) != 0 {
                    return;
                }
                let _ = PREVIOUS.set(prev);
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_sigbus as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
            }
        });
    }
}

/// Installs the SIGBUS handler (once per process). Called before a ring's
/// mappings are first touched.
#[cfg(target_arch = "x86_64")]
pub fn install() {
    handler::install()
}

#[cfg(not(target_arch = "x86_64"))]
pub fn install() {}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn copy_moves_exactly_len_bytes() {
        let src: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..=300 {
            for shift in [0usize, 1, 5, 15] {
                let mut dst = vec![0xEEu8; 340];
                // SAFETY: shift + len <= 315 < 340 and < 400.
                unsafe { copy(dst.as_mut_ptr().add(shift), src.as_ptr(), len) }.unwrap();
                assert_eq!(&dst[shift..shift + len], &src[..len], "len {len}");
                assert!(dst[..shift].iter().all(|&b| b == 0xEE), "len {len}");
                assert!(dst[shift + len..].iter().all(|&b| b == 0xEE), "len {len}");
            }
        }
    }

    #[test]
    fn truncated_mapping_faults_into_errors() {
        install();
        let path = format!("/tmp/rbguard-{}", std::process::id());
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.set_len(8192).unwrap();
        // SAFETY: fresh shared mapping of the 8192-byte file.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let w = p.cast::<u32>();
        let mut buf = [0u8; 64];
        // SAFETY: all accesses stay inside the 8192-byte mapping.
        unsafe {
            store_u32(w.add(1024), 7).unwrap();
            assert_eq!(load_u32(w.add(1024)), Ok(7));
            assert_eq!(fetch_add_u64(w.add(1024).cast(), 1), Ok(7));
            f.set_len(4096).unwrap();
            // First page intact, second page gone.
            assert_eq!(load_u32(w), Ok(0));
            assert_eq!(load_u32(w.add(1024)), Err(Fault));
            assert_eq!(store_u32(w.add(1024), 1), Err(Fault));
            assert_eq!(load_u64(w.add(1024).cast()), Err(Fault));
            assert_eq!(store_u64(w.add(1024).cast(), 1), Err(Fault));
            assert_eq!(cas_u64(w.add(1024).cast(), 0, 1), Err(Fault));
            assert_eq!(fetch_add_u64(w.add(1024).cast(), 1), Err(Fault));
            assert_eq!(fetch_add_u32(w.add(1024), 1), Err(Fault));
            assert_eq!(
                copy(buf.as_mut_ptr(), p.cast::<u8>().add(4064), 64),
                Err(Fault)
            );
            assert_eq!(copy(p.cast::<u8>().add(4064), buf.as_ptr(), 64), Err(Fault));
            assert_eq!(copy(buf.as_mut_ptr(), p.cast::<u8>(), 64), Ok(()));
            // Only the overlapping last block of a short copy crosses into the
            // lost page: its load and its store must fault too.
            let edge = p.cast::<u8>().add(4096 - 40);
            assert_eq!(copy(buf.as_mut_ptr(), edge, 48), Err(Fault));
            assert_eq!(copy(edge, buf.as_ptr(), 48), Err(Fault));
            assert_eq!(cas_u64(w.cast(), 0, 5), Ok(Ok(0)));
            assert_eq!(cas_u64(w.cast(), 0, 6), Ok(Err(5)));
            libc::munmap(p, 8192);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
