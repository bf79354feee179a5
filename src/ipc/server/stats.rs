//! Service and connection counters (`struct qb_ipcs_stats`,
//! `struct qb_ipcs_connection_stats`, `struct qb_ipcs_connection_stats_2`).

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

/// `struct qb_ipcs_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceStats {
    pub active_connections: u32,
    pub closed_connections: u32,
}

/// `struct qb_ipcs_connection_stats` (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub client_pid: i32,
    pub requests: u64,
    pub responses: u64,
    pub events: u64,
    pub send_retries: u64,
    pub recv_retries: u64,
    pub flow_control_state: i32,
    pub flow_control_count: u64,
}

/// `struct qb_ipcs_connection_stats_2` (72 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats2 {
    pub client_pid: i32,
    pub requests: u64,
    pub responses: u64,
    pub events: u64,
    pub send_retries: u64,
    pub recv_retries: u64,
    pub flow_control_state: i32,
    pub flow_control_count: u64,
    pub event_q_length: u32,
}

/// Service counters, updated from the loop thread.
#[derive(Default)]
pub struct ServiceCounters {
    pub active: AtomicU32,
    pub closed: AtomicU32,
}

impl ServiceCounters {
    pub fn snapshot(&self, clear: bool) -> ServiceStats {
        let s = ServiceStats {
            active_connections: self.active.load(Relaxed),
            closed_connections: self.closed.load(Relaxed),
        };
        if clear {
            // libqb zeroes both, the live count included.
            self.active.store(0, Relaxed);
            self.closed.store(0, Relaxed);
        }
        s
    }

    pub fn connection_opened(&self) {
        self.active.fetch_add(1, Relaxed);
    }

    /// An established connection went away.
    pub fn connection_closed(&self, was_established: bool) {
        if was_established {
            // Never below zero (stats may have been cleared meanwhile).
            let _ = self
                .active
                .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
        }
        self.closed.fetch_add(1, Relaxed);
    }
}

/// Per-connection counters (relaxed atomics: cheap on the message path).
#[derive(Default)]
pub struct ConnectionCounters {
    pub requests: AtomicU64,
    pub responses: AtomicU64,
    pub events: AtomicU64,
    pub send_retries: AtomicU64,
    pub recv_retries: AtomicU64,
    pub flow_control_state: AtomicI32,
    pub flow_control_count: AtomicU64,
}

impl ConnectionCounters {
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self, pid: i32, event_q_length: u32, clear: bool) -> ConnectionStats2 {
        let s = ConnectionStats2 {
            client_pid: pid,
            requests: self.requests.load(Relaxed),
            responses: self.responses.load(Relaxed),
            events: self.events.load(Relaxed),
            send_retries: self.send_retries.load(Relaxed),
            recv_retries: self.recv_retries.load(Relaxed),
            flow_control_state: self.flow_control_state.load(Relaxed),
            flow_control_count: self.flow_control_count.load(Relaxed),
            event_q_length,
        };
        if clear {
            for c in [
                &self.requests,
                &self.responses,
                &self.events,
                &self.send_retries,
                &self.recv_retries,
                &self.flow_control_count,
            ] {
                c.store(0, Relaxed);
            }
            self.flow_control_state.store(0, Relaxed);
        }
        s
    }
}

impl From<ConnectionStats2> for ConnectionStats {
    fn from(s: ConnectionStats2) -> Self {
        ConnectionStats {
            client_pid: s.client_pid,
            requests: s.requests,
            responses: s.responses,
            events: s.events,
            send_retries: s.send_retries,
            recv_retries: s.recv_retries,
            flow_control_state: s.flow_control_state,
            flow_control_count: s.flow_control_count,
        }
    }
}

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<ServiceStats>() == 8);
    assert!(size_of::<ConnectionStats>() == 64);
    assert!(offset_of!(ConnectionStats, flow_control_state) == 48);
    assert!(size_of::<ConnectionStats2>() == 72);
    assert!(offset_of!(ConnectionStats2, event_q_length) == 64);
};
