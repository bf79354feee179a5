//! The IPC server (qbipcs.h), wire-compatible with stock libqb 2.0.x.
//!
//! * [`service`]: `qb_ipcs_service_t` — listening socket, connections, rate limit;
//! * [`accept`]: accepting clients and reading their hello with credentials;
//! * [`handshake`]: size negotiation, `connection_accept`, transport, response;
//! * [`connection`]: `qb_ipcs_connection_t` — lifecycle, reference counting,
//!   responses, events and their doorbells, flow control;
//! * [`dispatch`]: reading and validating requests, calling `msg_process`;
//! * [`shm`], [`socket`], [`control`], [`conndir`]: the transports' objects;
//! * [`poll`]: the application's loop hooks and service callbacks;
//! * [`stats`]: the counters.
//!
//! Like libqb, the server owns no event loop: `qb_ipcs_run` refuses to start
//! until `qb_ipcs_poll_handlers_set` provided the dispatch hooks, and every
//! descriptor and deferred job goes through them.
//!
//! Hardening over stock libqb (wire format unchanged): requests are copied
//! out of shared memory before they are validated; a bad request disconnects
//! only its client; doorbells are read without blocking; handshakes are
//! non-blocking, time-limited ([`accept::AUTH_TIMEOUT`]) and capped
//! ([`accept::MAX_PENDING`] per service, and per client uid both half-open
//! handshakes and set-up connections: [`accept::Limits`]); a hello whose
//! header is not exactly a connection request is refused; the negotiated
//! buffer size is clamped
//! ([`handshake::DEFAULT_MAX_MSG_CEILING`], `LIBQB_IPC_MAX_MSG_SIZE`) and
//! nothing sized by the client is allocated before `connection_accept`;
//! SOCKET-mode requests from any socket but the client's are dropped.

pub mod accept;
pub mod conndir;
pub mod connection;
pub mod control;
pub mod dispatch;
pub mod handshake;
pub mod poll;
pub mod service;
pub mod shm;
pub mod socket;
pub mod stats;

pub use connection::{Auth, Connection, State};
pub use poll::{PollHandlers, ServiceHandlers};
pub use service::Service;
pub use stats::{ConnectionStats, ConnectionStats2, ServiceStats};
