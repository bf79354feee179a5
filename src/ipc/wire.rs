//! libqb's IPC wire formats (libqb-abi.md §5): the connection handshake, the socket
//! transport's control file and the names both sides derive. Shared by the server
//! (`server`) and the client (`client`); everything here is plain data.

use crate::ffi::qbipc_common::{QbIpcRequestHeader, QbIpcResponseHeader};

/// Path field size in the handshake response (`PATH_MAX`).
pub const PATH_FIELD: usize = 4096;

/// `struct qb_ipc_connection_request`: the client's 24-byte hello
/// (`hdr.id = QB_IPC_MSG_AUTHENTICATE`, `hdr.size = 24`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionRequest {
    pub hdr: QbIpcRequestHeader,
    pub max_msg_size: u32,
    _pad: u32,
}

impl ConnectionRequest {
    pub fn new(max_msg_size: u32) -> Self {
        Self {
            hdr: QbIpcRequestHeader::new(
                crate::ffi::qbipc_common::QB_IPC_MSG_AUTHENTICATE,
                size_of::<Self>() as i32,
            ),
            max_msg_size,
            _pad: 0,
        }
    }
}

/// `struct qb_ipc_connection_response`: the server's 12328-byte answer.
/// `connection_type` is 0 (socket) or 1 (shm); `connection` is the server's opaque
/// pointer (ignored by clients); the three paths name the transport's objects.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct ConnectionResponse {
    pub hdr: QbIpcResponseHeader,
    pub connection_type: i32,
    pub max_msg_size: u32,
    pub connection: u64,
    pub request: [u8; PATH_FIELD],
    pub response: [u8; PATH_FIELD],
    pub event: [u8; PATH_FIELD],
}

impl Default for ConnectionResponse {
    fn default() -> Self {
        Self {
            hdr: QbIpcResponseHeader::default(),
            connection_type: 0,
            max_msg_size: 0,
            connection: 0,
            request: [0; PATH_FIELD],
            response: [0; PATH_FIELD],
            event: [0; PATH_FIELD],
        }
    }
}

/// The smallest buffer either side uses: a client asks for at least this much
/// (`MAX(requested, sizeof(struct qb_ipc_connection_response))`).
pub const MIN_MSG_SIZE: u32 = size_of::<ConnectionResponse>() as u32;

/// One direction's counters in the socket transport's 24-byte control file
/// (`struct ipc_us_control`): `sent` is changed atomically by both sides;
/// `flow_control` of the request entry gates the client's sends.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UsControl {
    pub sent: i32,
    pub flow_control: i32,
}

/// Control file entries: request, response, event.
pub const CONTROL_REQUEST: usize = 0;
pub const CONTROL_RESPONSE: usize = 1;
pub const CONTROL_EVENT: usize = 2;
pub const CONTROL_FILE_SIZE: usize = 3 * size_of::<UsControl>();

/// Where Debian's libqb puts filesystem sockets, and the file that turns them on.
pub const SOCKET_DIR: &str = "/tmp";
pub const FORCE_FILESYSTEM_SOCKETS: &str = "/etc/libqb/force-filesystem-sockets";

/// `struct sockaddr_un` length libqb binds and connects with (abstract names use the
/// whole NUL-padded 108-byte `sun_path`).
pub const SOCKADDR_UN_LEN: u32 = 110;

/// Longest wait a client makes in one slice while checking that the server is alive.
pub const MAX_WAIT_MS: i32 = 2000;

/// Per-connection directory the server creates:
/// `/dev/shm/qb-<server pid>-<client pid>-<accepted fd>-XXXXXX` (mkdtemp template).
pub fn connection_dir_template(server_pid: i32, client_pid: i32, fd: i32) -> String {
    format!("/dev/shm/qb-{server_pid}-{client_pid}-{fd}-XXXXXX")
}

/// SHM ring names inside a connection directory `dir`: `<dir>/qb-request-<service>` etc.
/// (each ring adds `-header` and `-data`).
pub fn shm_ring_names(dir: &str, service: &str) -> [String; 3] {
    [
        format!("{dir}/qb-request-{service}"),
        format!("{dir}/qb-response-{service}"),
        format!("{dir}/qb-event-{service}"),
    ]
}

/// Socket transport names: the control file and the datagram socket base
/// (`<base>-request`, `-response`, `-event`, `-event-tx`, all abstract).
pub fn socket_names(dir: &str, service: &str) -> (String, String) {
    (
        format!("{dir}/qb-control-{service}"),
        format!("{dir}/qb-{service}"),
    )
}

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<ConnectionRequest>() == 24);
    assert!(offset_of!(ConnectionRequest, max_msg_size) == 16);
    assert!(size_of::<ConnectionResponse>() == 12328);
    assert!(offset_of!(ConnectionResponse, connection_type) == 24);
    assert!(offset_of!(ConnectionResponse, max_msg_size) == 28);
    assert!(offset_of!(ConnectionResponse, connection) == 32);
    assert!(offset_of!(ConnectionResponse, request) == 40);
    assert!(offset_of!(ConnectionResponse, response) == 4136);
    assert!(offset_of!(ConnectionResponse, event) == 8232);
    assert!(CONTROL_FILE_SIZE == 24);
};
