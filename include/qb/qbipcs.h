/*
 * libqb-rs: qbipcs.h - the IPC server.
 *
 * Drop-in replacement for libqb's <qb/qbipcs.h>; speaks libqb 2.0's wire
 * protocol (shared-memory rings or datagram sockets behind a unix-socket
 * handshake), so stock libqb clients can connect and vice versa.
 *
 * The server has no event loop of its own: give it your loop's hooks with
 * qb_ipcs_poll_handlers_set() before qb_ipcs_run() (which refuses to start
 * without dispatch_add, dispatch_mod and dispatch_del; job_add may be NULL).
 *
 * Lifecycle of a connection: connection_accept (return 0 to accept, or
 * -errno which the client receives), connection_created once the client got
 * its answer, msg_process for each request, connection_closed when it goes
 * away (return non-zero to be asked again later from a LOW-priority job),
 * connection_destroyed when the last reference is dropped. created, closed
 * and destroyed each run at most once per connection (closed again only when
 * it asked for it), and destroyed only after created. qb_ipcs_disconnect()
 * may be called from any callback.
 *
 * Beyond stock libqb: every request is copied out of shared memory before it
 * is checked and given to msg_process; a client that sends a malformed
 * request is disconnected; the buffer size a client may obtain is capped at
 * 64 MiB unless the service enforces more (environment variable
 * LIBQB_IPC_MAX_MSG_SIZE changes the cap).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_IPCS_H_DEFINED
#define QB_IPCS_H_DEFINED

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <sys/types.h>
#include <sys/uio.h>
#include <qb/qbipc_common.h>
#include <qb/qbloop.h>

/* How eagerly a service reads requests (qb_ipcs_request_rate_limit). */
enum qb_ipcs_rate_limit {
	QB_IPCS_RATE_FAST,	/* loop priority HIGH, up to 50 requests per wake-up */
	QB_IPCS_RATE_NORMAL,	/* MED, up to 5 */
	QB_IPCS_RATE_SLOW,	/* LOW, 1 */
	QB_IPCS_RATE_OFF,	/* LOW, and clients are told to stop sending (level 1) */
	QB_IPCS_RATE_OFF_2,	/* LOW, and clients are told to stop sending (level 2) */
};

struct qb_ipcs_connection;
typedef struct qb_ipcs_connection qb_ipcs_connection_t;

struct qb_ipcs_service;
typedef struct qb_ipcs_service qb_ipcs_service_t;

struct qb_ipcs_stats {
	uint32_t active_connections;
	uint32_t closed_connections;
};

struct qb_ipcs_connection_stats {
	int32_t client_pid;
	uint64_t requests;
	uint64_t responses;
	uint64_t events;
	uint64_t send_retries;
	uint64_t recv_retries;
	int32_t flow_control_state;
	uint64_t flow_control_count;
};

/* As above plus the number of events the client has not read yet. */
struct qb_ipcs_connection_stats_2 {
	int32_t client_pid;
	uint64_t requests;
	uint64_t responses;
	uint64_t events;
	uint64_t send_retries;
	uint64_t recv_retries;
	int32_t flow_control_state;
	uint64_t flow_control_count;
	uint32_t event_q_length;
};

/* Called by your loop when fd is ready (revents are poll(2) bits). */
typedef int32_t (*qb_ipcs_dispatch_fn_t) (int32_t fd, int32_t revents,
					  void *data);

/* Watch fd for events (poll(2) bits) and call fn(fd, revents, data). */
typedef int32_t (*qb_ipcs_dispatch_add_fn)(enum qb_loop_priority p,
					   int32_t fd,
					   int32_t events,
					   void *data,
					   qb_ipcs_dispatch_fn_t fn);
/* Change the priority, events or callback of a watched fd. */
typedef int32_t (*qb_ipcs_dispatch_mod_fn)(enum qb_loop_priority p,
					   int32_t fd,
					   int32_t events,
					   void *data,
					   qb_ipcs_dispatch_fn_t fn);
/* Stop watching fd. */
typedef int32_t (*qb_ipcs_dispatch_del_fn)(int32_t fd);

/* Run dispatch_fn(data) once, soon; return 0 if scheduled. */
typedef int32_t (*qb_ipcs_job_add_fn)(enum qb_loop_priority p,
				      void *data,
				      qb_loop_job_dispatch_fn dispatch_fn);

/* Your event loop, as the server uses it. Only job_add may be NULL. */
struct qb_ipcs_poll_handlers {
	qb_ipcs_job_add_fn job_add;
	qb_ipcs_dispatch_add_fn dispatch_add;
	qb_ipcs_dispatch_mod_fn dispatch_mod;
	qb_ipcs_dispatch_del_fn dispatch_del;
};

/* 0 accepts the client (uid/gid from the kernel); -errno refuses it. */
typedef int32_t (*qb_ipcs_connection_accept_fn) (qb_ipcs_connection_t *c,
						 uid_t uid, gid_t gid);
/* The client has its answer; the connection is ready. */
typedef void (*qb_ipcs_connection_created_fn) (qb_ipcs_connection_t *c);
/* The connection is closing; non-zero asks to be called again later. */
typedef int32_t (*qb_ipcs_connection_closed_fn) (qb_ipcs_connection_t *c);
/* The last reference is gone; free your per-connection data here. */
typedef void (*qb_ipcs_connection_destroyed_fn) (qb_ipcs_connection_t *c);
/*
 * One request: data starts with a struct qb_ipc_request_header and is valid
 * for size bytes until the callback returns. A negative result makes the
 * server stop reading from this client until its next wake-up.
 */
typedef int32_t (*qb_ipcs_msg_process_fn) (qb_ipcs_connection_t *c,
		void *data, size_t size);

struct qb_ipcs_service_handlers {
	qb_ipcs_connection_accept_fn connection_accept;
	qb_ipcs_connection_created_fn connection_created;
	qb_ipcs_msg_process_fn msg_process;
	qb_ipcs_connection_closed_fn connection_closed;
	qb_ipcs_connection_destroyed_fn connection_destroyed;
};

/*
 * Functions (see the libqb documentation for each):
 * - qb_ipcs_create() returns a service holding one reference; type NATIVE
 *   selects SHM; qb_ipcs_run() publishes it (on failure the service is
 *   released); qb_ipcs_destroy() disconnects every client, closes the
 *   socket and drops the creator's reference.
 * - qb_ipcs_connection_first_get()/next_get() return a referenced connection:
 *   release it with qb_ipcs_connection_unref().
 * - qb_ipcs_connection_stats_get_2() returns a malloc'd struct: free() it.
 * - qb_ipcs_connection_auth_set() (from connection_accept) sets the owner and
 *   mode of the connection's shared-memory files.
 * - qb_ipcs_enforce_buffer_size() makes every client use at least that size.
 */

/* @generated-begin by cbindgen from src/ffi/qbipcs.rs */
qb_ipcs_service_t *qb_ipcs_create(const char *name,
                                  int32_t service_id,
                                  enum qb_ipc_type type_,
                                  struct qb_ipcs_service_handlers *handlers);

void qb_ipcs_ref(qb_ipcs_service_t *s);

void qb_ipcs_unref(qb_ipcs_service_t *s);

void qb_ipcs_poll_handlers_set(qb_ipcs_service_t *s, struct qb_ipcs_poll_handlers *handlers);

void qb_ipcs_service_context_set(qb_ipcs_service_t *s, void *context);

void *qb_ipcs_service_context_get(qb_ipcs_service_t *s);

int32_t qb_ipcs_run(qb_ipcs_service_t *s);

void qb_ipcs_destroy(qb_ipcs_service_t *s);

void qb_ipcs_request_rate_limit(qb_ipcs_service_t *s, enum qb_ipcs_rate_limit rl);

ssize_t qb_ipcs_response_send(qb_ipcs_connection_t *c, const void *data, size_t size);

ssize_t qb_ipcs_response_sendv(qb_ipcs_connection_t *c, const struct iovec *iov, size_t iov_len);

ssize_t qb_ipcs_event_send(qb_ipcs_connection_t *c, const void *data, size_t size);

ssize_t qb_ipcs_event_sendv(qb_ipcs_connection_t *c, const struct iovec *iov, size_t iov_len);

void qb_ipcs_connection_ref(qb_ipcs_connection_t *c);

void qb_ipcs_connection_unref(qb_ipcs_connection_t *c);

void qb_ipcs_disconnect(qb_ipcs_connection_t *c);

int32_t qb_ipcs_service_id_get(qb_ipcs_connection_t *c);

void qb_ipcs_context_set(qb_ipcs_connection_t *c, void *context);

void *qb_ipcs_context_get(qb_ipcs_connection_t *c);

void *qb_ipcs_connection_service_context_get(qb_ipcs_connection_t *c);

int32_t qb_ipcs_connection_stats_get(qb_ipcs_connection_t *c,
                                     struct qb_ipcs_connection_stats *stats,
                                     int32_t clear_after_read);

struct qb_ipcs_connection_stats_2 *qb_ipcs_connection_stats_get_2(qb_ipcs_connection_t *c,
                                                                  int32_t clear_after_read);

int32_t qb_ipcs_stats_get(qb_ipcs_service_t *pt,
                          struct qb_ipcs_stats *stats,
                          int32_t clear_after_read);

qb_ipcs_connection_t *qb_ipcs_connection_first_get(qb_ipcs_service_t *pt);

qb_ipcs_connection_t *qb_ipcs_connection_next_get(qb_ipcs_service_t *pt,
                                                  qb_ipcs_connection_t *current);

void qb_ipcs_connection_auth_set(qb_ipcs_connection_t *conn, uid_t uid, gid_t gid, mode_t mode);

int32_t qb_ipcs_connection_get_buffer_size(qb_ipcs_connection_t *conn);

void qb_ipcs_enforce_buffer_size(qb_ipcs_service_t *s, uint32_t max_buf_size);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif
/* *INDENT-ON* */

#endif /* QB_IPCS_H_DEFINED */
