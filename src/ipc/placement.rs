//! Where a peer process may run relative to us, from both CPU affinity masks.
//!
//! Both ends of a connection use it to pick how to wait: a peer that can only
//! run on our one CPU gets it by our yielding, a peer that can never run there
//! is worth a short spin, anything else is left to the scheduler.

/// The placement of a peer process relative to the calling thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Placement {
    /// Unknown, or no guarantee either way (we may run on several CPUs).
    Mixed,
    /// We are pinned to one CPU and the peer may run only there.
    SameCpu,
    /// We are pinned to one CPU and the peer may never run there.
    OtherCpus,
}

fn allowed(pid: libc::pid_t) -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer of the given size.
    let rc = unsafe { libc::sched_getaffinity(pid, size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

/// The placement of process `peer` relative to the calling thread.
pub fn of_peer(peer: libc::pid_t) -> Placement {
    if peer <= 0 {
        return Placement::Mixed;
    }
    let (Some(ours), Some(theirs)) = (allowed(0), allowed(peer)) else {
        return Placement::Mixed;
    };
    // SAFETY: CPU_COUNT / CPU_EQUAL / CPU_ISSET read bits of valid sets, and
    // every cpu index is below CPU_SETSIZE.
    unsafe {
        if libc::CPU_COUNT(&ours) != 1 {
            return Placement::Mixed;
        }
        if libc::CPU_EQUAL(&ours, &theirs) {
            return Placement::SameCpu;
        }
        let disjoint = (0..libc::CPU_SETSIZE as usize)
            .all(|cpu| !(libc::CPU_ISSET(cpu, &ours) && libc::CPU_ISSET(cpu, &theirs)));
        if disjoint {
            Placement::OtherCpus
        } else {
            Placement::Mixed
        }
    }
}

/// Whether we are an ordinary time-shared thread: only then does
/// `sched_yield` hand our CPU to a time-shared peer (a real-time thread that
/// yields keeps it).
pub fn time_shared() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_OTHER }
}

/// Hands the CPU to another runnable thread (the peer, when it shares our CPU).
pub fn yield_cpu() {
    // SAFETY: no arguments; cannot fail on Linux.
    unsafe { libc::sched_yield() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_shares_our_cpu_only_when_pinned() {
        let me = std::process::id() as libc::pid_t;
        // SAFETY: plain data; filled by the kernel.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        assert_eq!(
            unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) },
            0
        );
        // SAFETY: valid set.
        let count = unsafe { libc::CPU_COUNT(&set) };
        let want = if count == 1 {
            Placement::SameCpu
        } else {
            Placement::Mixed
        };
        assert_eq!(of_peer(me), want);
        assert_eq!(of_peer(0), Placement::Mixed);
        assert_eq!(of_peer(-1), Placement::Mixed);
    }
}
