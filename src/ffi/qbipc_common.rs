//! Rust mirrors of qbipc_common.h's message headers (the header itself is hand-written:
//! libqb puts `aligned(8)` on every int32 member, which cbindgen cannot express).
//! Every IPC message on the wire starts with one of these.

/// `struct qb_ipc_request_header`: 16 bytes, each int32 8-byte aligned.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QbIpcRequestHeader {
    pub id: i32,
    _pad_id: u32,
    pub size: i32,
    _pad_size: u32,
}

/// `struct qb_ipc_response_header`: 24 bytes, each int32 8-byte aligned.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QbIpcResponseHeader {
    pub id: i32,
    _pad_id: u32,
    pub size: i32,
    _pad_size: u32,
    pub error: i32,
    _pad_error: u32,
}

impl QbIpcRequestHeader {
    pub fn new(id: i32, size: i32) -> Self {
        Self {
            id,
            size,
            ..Self::default()
        }
    }
}

impl QbIpcResponseHeader {
    pub fn new(id: i32, size: i32, error: i32) -> Self {
        Self {
            id,
            size,
            error,
            ..Self::default()
        }
    }
}

/// `enum qb_ipc_type`.
pub const QB_IPC_SOCKET: i32 = 0;
pub const QB_IPC_SHM: i32 = 1;
pub const QB_IPC_POSIX_MQ: i32 = 2;
pub const QB_IPC_SYSV_MQ: i32 = 3;
pub const QB_IPC_NATIVE: i32 = 4;

/// Library-reserved message ids.
pub const QB_IPC_MSG_AUTHENTICATE: i32 = -1;
pub const QB_IPC_MSG_NEW_EVENT_SOCK: i32 = -2;
pub const QB_IPC_MSG_DISCONNECT: i32 = -3;

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<QbIpcRequestHeader>() == 16 && align_of::<QbIpcRequestHeader>() == 8);
    assert!(offset_of!(QbIpcRequestHeader, id) == 0 && offset_of!(QbIpcRequestHeader, size) == 8);
    assert!(size_of::<QbIpcResponseHeader>() == 24 && align_of::<QbIpcResponseHeader>() == 8);
    assert!(offset_of!(QbIpcResponseHeader, size) == 8);
    assert!(offset_of!(QbIpcResponseHeader, error) == 16);
};
