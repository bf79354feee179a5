//! libqb IPC (qbipcs.h server, qbipcc.h client) over shared memory or sockets,
//! wire-compatible with stock libqb 2.0.x.

pub mod client;
pub mod control_words;
pub mod placement;
pub mod server;
pub mod sock;
pub mod wire;
