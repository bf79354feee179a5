//! The shared-memory transport (`QB_IPC_SHM`, also used for `QB_IPC_NATIVE`):
//! three rings in the connection directory, named as libqb names them, plus the
//! setup socket that carries the one-byte doorbells.
//!
//! Requests are copied out of the request ring into the connection's private
//! buffer (one copy, bounds-checked by the ring) before anything looks at them.

use crate::rb::{FLAG_CREATE, FLAG_SHARED_PROCESS, Owner, RingBuffer};

use super::conndir::file_name;
use super::connection::Auth;

/// The flow-control word the client checks lives in the request ring's user data.
const FC_OFFSET: usize = 0;
const FC_USER_DATA: usize = size_of::<i32>();

pub struct ShmRings {
    pub request: RingBuffer,
    pub response: RingBuffer,
    pub event: RingBuffer,
}

impl ShmRings {
    /// Creates the request, response and event rings for a connection whose
    /// file names start with `description`; returns them with their names.
    pub fn create(
        description: &[u8],
        service: &[u8],
        max: u32,
        auth: Auth,
    ) -> Result<(ShmRings, [Vec<u8>; 3]), i32> {
        let names = [
            file_name(description, b"-request-", service),
            file_name(description, b"-response-", service),
            file_name(description, b"-event-", service),
        ];
        let owner = Owner {
            uid: auth.uid,
            gid: auth.gid,
            mode: auth.mode,
        };
        let open = |name: &[u8]| -> Result<RingBuffer, i32> {
            RingBuffer::create_owned(
                name,
                max as usize,
                FLAG_CREATE | FLAG_SHARED_PROCESS,
                FC_USER_DATA,
                owner,
            )
        };
        // A failure drops (and so removes) the rings made so far.
        let request = open(&names[0])?;
        let response = open(&names[1])?;
        let event = open(&names[2])?;
        Ok((
            ShmRings {
                request,
                response,
                event,
            },
            names,
        ))
    }

    /// Err when the client destroyed its own gate (truncated the header).
    pub fn set_flow_control(&self, v: i32) -> Result<(), i32> {
        self.request.user_data_store_u32(FC_OFFSET, v as u32)
    }

    /// Requests waiting (the request ring's semaphore count); Err when the
    /// client damaged the ring.
    pub fn requests_queued(&self) -> Result<usize, i32> {
        self.request.chunks_used()
    }

    pub fn events_queued(&self) -> u32 {
        self.event
            .chunks_used()
            .map_or(0, |n| n.min(u32::MAX as usize) as u32)
    }
}
