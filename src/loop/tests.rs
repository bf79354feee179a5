//! Unit tests of the loop core (Rust API).

use super::*;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

fn log() -> Arc<Mutex<Vec<String>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn push(l: &Arc<Mutex<Vec<String>>>, s: impl Into<String>) {
    l.lock().unwrap().push(s.into());
}

#[test]
fn jobs_fifo_and_job_from_job_runs_later() {
    let lp = Arc::new(Loop::new().unwrap());
    let out = log();
    for i in 0..3 {
        let (o, l2) = (out.clone(), lp.clone());
        lp.job_add_fn(Priority::Med, move || {
            push(&o, format!("a{i}"));
            if i == 0 {
                let o2 = o.clone();
                let l3 = l2.clone();
                l2.job_add_fn(Priority::Med, move || {
                    push(&o2, "child");
                    l3.stop();
                });
            }
        });
    }
    lp.run();
    assert_eq!(*out.lock().unwrap(), ["a0", "a1", "a2", "child"]);
}

#[test]
fn high_flood_slows_low_but_never_starves_it() {
    let lp = Arc::new(Loop::new().unwrap());
    let high = Arc::new(AtomicU32::new(0));
    // A HIGH job that always re-adds two copies of itself would grow without
    // bound; keep a steady flood of 8 re-adding HIGH jobs instead.
    fn flood(lp: Arc<Loop>, n: Arc<AtomicU32>) {
        n.fetch_add(1, Ordering::Relaxed);
        let l2 = lp.clone();
        lp.job_add_fn(Priority::High, move || flood(l2, n));
    }
    for _ in 0..8 {
        let (l2, h2) = (lp.clone(), high.clone());
        lp.job_add_fn(Priority::High, move || flood(l2, h2));
    }
    let seen_at = Arc::new(Mutex::new(Vec::new()));
    fn low(lp: Arc<Loop>, high: Arc<AtomicU32>, seen: Arc<Mutex<Vec<u32>>>) {
        let mut s = seen.lock().unwrap();
        s.push(high.load(Ordering::Relaxed));
        if s.len() == 10 {
            lp.stop();
            return;
        }
        drop(s);
        let l2 = lp.clone();
        lp.job_add_fn(Priority::Low, move || low(l2, high, seen));
    }
    let (l2, h2, s2) = (lp.clone(), high.clone(), seen_at.clone());
    lp.job_add_fn(Priority::Low, move || low(l2, h2, s2));
    lp.run();
    let seen = seen_at.lock().unwrap();
    assert_eq!(seen.len(), 10);
    // HIGH ran in between every two LOW runs, and more often than LOW.
    for w in seen.windows(2) {
        assert!(w[1] > w[0]);
    }
    assert!(high.load(Ordering::Relaxed) > 10);
}

#[test]
fn levels_run_high_first_four_per_pass() {
    let lp = Arc::new(Loop::new().unwrap());
    let out = log();
    for p in [Priority::Low, Priority::Med, Priority::High] {
        for i in 0..6 {
            let o = out.clone();
            lp.job_add_fn(p, move || push(&o, format!("{p:?}{i}")));
        }
    }
    let l2 = lp.clone();
    // Stops once everything above ran: LOW gets its turn in the third pass.
    let o = out.clone();
    lp.timer_add_fn(Priority::Low, 0, move || {
        push(&o, "t");
        l2.stop();
    })
    .unwrap();
    lp.run();
    let got = out.lock().unwrap().join(" ");
    assert_eq!(
        got,
        "High0 High1 High2 High3 High4 High5 Med0 Med1 Med2 Med3 \
         Med4 Med5 Low0 Low1 Low2 Low3 Low4 Low5 t"
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
}

#[test]
fn timers_fire_in_order_and_callbacks_manage_timers() {
    let lp = Arc::new(Loop::new().unwrap());
    let out = log();
    let victim = lp
        .timer_add_fn(Priority::Med, 2_000_000, || panic!("deleted timer ran"))
        .unwrap();
    assert!(lp.timer_is_running(victim));
    let start = now_ns();
    for (i, d) in [(0, 3_000_000u64), (1, 1_000_000), (2, 0)] {
        let (o, l2) = (out.clone(), lp.clone());
        lp.timer_add_fn(Priority::Med, d, move || {
            assert!(now_ns() >= start + d);
            push(&o, format!("t{i}"));
            if i == 1 {
                assert!(l2.timer_del(victim).is_ok());
                assert_eq!(l2.timer_del(victim), Err(libc::EINVAL));
            }
            if i == 0 {
                l2.stop();
            }
        })
        .unwrap();
    }
    lp.run();
    assert_eq!(*out.lock().unwrap(), ["t2", "t1", "t0"]);
    assert_eq!(lp.timer_expire_time(victim), 0);
}

#[test]
fn poll_callback_deletes_itself_and_negative_result_removes() {
    let lp = Arc::new(Loop::new().unwrap());
    let mut a = [0; 2];
    let mut b = [0; 2];
    // SAFETY: arrays of two fds for pipe().
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(b.as_mut_ptr()), 0);
        assert_eq!(libc::write(a[1], b"x".as_ptr().cast(), 1), 1);
        assert_eq!(libc::write(b[1], b"y".as_ptr().cast(), 1), 1);
    }
    let calls = Arc::new(AtomicU32::new(0));
    let (c1, l1) = (calls.clone(), lp.clone());
    lp.poll_add(
        Priority::Med,
        a[0],
        i32::from(libc::POLLIN),
        PollFn::Rust(Box::new(move |fd, _| {
            c1.fetch_add(1, Ordering::Relaxed);
            assert!(l1.poll_del(fd).is_ok());
            0
        })),
    )
    .unwrap();
    let c2 = calls.clone();
    lp.poll_add(
        Priority::Med,
        b[0],
        i32::from(libc::POLLIN),
        PollFn::Rust(Box::new(move |_, re| {
            assert!(re & i32::from(libc::POLLIN) != 0);
            c2.fetch_add(1, Ordering::Relaxed);
            -1
        })),
    )
    .unwrap();
    assert_eq!(
        lp.poll_add(Priority::Med, b[0], 1, PollFn::Rust(Box::new(|_, _| 0))),
        Err(libc::EEXIST)
    );
    let l2 = lp.clone();
    // Runs once both sources had their (single) turn.
    lp.timer_add_fn(Priority::Low, 1_000_000, move || l2.stop())
        .unwrap();
    lp.run();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(lp.poll_del(a[0]), Err(libc::EBADF));
    assert_eq!(lp.poll_del(b[0]), Err(libc::EBADF));
    // SAFETY: closing our pipes.
    unsafe {
        for fd in a.iter().chain(b.iter()) {
            libc::close(*fd);
        }
    }
}

#[test]
fn hangup_ignored_by_callback_does_not_spin() {
    let lp = Arc::new(Loop::new().unwrap());
    let mut a = [0; 2];
    // SAFETY: array of two fds for pipe(); closing the write end makes a HUP.
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        libc::close(a[1]);
    }
    let calls = Arc::new(AtomicU32::new(0));
    let c1 = calls.clone();
    lp.poll_add(
        Priority::High,
        a[0],
        i32::from(libc::POLLIN),
        PollFn::Rust(Box::new(move |_, re| {
            assert!(re & i32::from(libc::POLLHUP) != 0);
            c1.fetch_add(1, Ordering::Relaxed);
            0
        })),
    )
    .unwrap();
    // Jobs keep the loop busy for many passes.
    fn chain(lp: Arc<Loop>, n: u32) {
        if n == 0 {
            lp.stop();
            return;
        }
        let l2 = lp.clone();
        lp.job_add_fn(Priority::Low, move || chain(l2, n - 1));
    }
    chain(lp.clone(), 10);
    lp.run();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(lp.poll_del(a[0]).is_ok());
    // SAFETY: closing our pipe.
    unsafe { libc::close(a[0]) };
}

#[test]
fn stop_and_job_add_from_another_thread_wake_a_sleeping_loop() {
    let lp = Arc::new(Loop::new().unwrap());
    let ran = Arc::new(AtomicU32::new(0));
    let (l2, r2) = (lp.clone(), ran.clone());
    let t = std::thread::spawn(move || {
        let l3 = l2.clone();
        l2.job_add_fn(Priority::Med, move || {
            r2.fetch_add(1, Ordering::Relaxed);
            let l4 = l3.clone();
            std::thread::spawn(move || l4.stop());
        });
    });
    // With nothing to do the loop sleeps in epoll until woken.
    lp.run();
    t.join().unwrap();
    assert_eq!(ran.load(Ordering::Relaxed), 1);
}

#[test]
fn signal_handlers_all_called_and_nonzero_removes() {
    let lp = Arc::new(Loop::new().unwrap());
    let out = log();
    let o1 = out.clone();
    let first = lp
        .signal_add(
            Priority::Med,
            libc::SIGUSR2,
            SignalFn::Rust(Box::new(move |s| {
                push(&o1, format!("first{s}"));
                1
            })),
        )
        .unwrap();
    let (o2, l2) = (out.clone(), lp.clone());
    let second = lp
        .signal_add(
            Priority::Med,
            libc::SIGUSR2,
            SignalFn::Rust(Box::new(move |_| {
                push(&o2, "second");
                l2.stop();
                0
            })),
        )
        .unwrap();
    // SAFETY: raising a signal we handle.
    unsafe { libc::raise(libc::SIGUSR2) };
    lp.run();
    assert_eq!(
        *out.lock().unwrap(),
        [format!("first{}", libc::SIGUSR2), "second".into()]
    );
    assert_eq!(lp.signal_del(first), Err(libc::EINVAL));
    assert!(lp.signal_del(second).is_ok());
    assert_eq!(
        lp.signal_add(
            Priority::Low,
            libc::SIGKILL,
            SignalFn::Rust(Box::new(|_| 0))
        ),
        Err(libc::EINVAL)
    );
}

#[test]
fn every_loop_with_a_handler_gets_the_signal() {
    let a = Arc::new(Loop::new().unwrap());
    let b = Arc::new(Loop::new().unwrap());
    let out = log();
    for (name, lp) in [("a", a.clone()), ("b", b.clone())] {
        let (o, l2) = (out.clone(), lp.clone());
        lp.signal_add_fn(Priority::High, libc::SIGWINCH, move |_| {
            push(&o, name);
            l2.stop();
            0
        })
        .unwrap();
    }
    // SAFETY: raising a signal we handle.
    unsafe { libc::raise(libc::SIGWINCH) };
    a.run();
    b.run();
    assert_eq!(*out.lock().unwrap(), ["a", "b"]);
}
