/*
 * libqb-rs: qbipcc.h - the client side of libqb IPC
 *
 * Drop-in replacement for libqb's <qb/qbipcc.h>. A client connects to a
 * service by name, sends requests, and receives the server's responses and
 * its unsolicited events. The server decides the transport (shared-memory
 * rings or unix datagram sockets) and the buffer size; the client follows.
 * The wire format is libqb's, so either end may be stock libqb.
 *
 * Conventions: functions returning int32_t/ssize_t give 0 or a byte count on
 * success and a negative errno value on failure. Timeouts are milliseconds:
 * a negative timeout waits until something arrives or the server goes away,
 * 0 only checks, a positive one waits at most that long.
 *
 * This library is free software; you can redistribute it and/or modify it
 * under the terms of the GNU Lesser General Public License as published by
 * the Free Software Foundation; either version 2.1 of the License, or (at
 * your option) any later version.
 */
#ifndef QB_IPCC_H_DEFINED
#define QB_IPCC_H_DEFINED

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <sys/types.h>  /* size_t, ssize_t, pid_t, uid_t, gid_t */
#include <sys/uio.h>  /* struct iovec */

#include <qb/qbipc_common.h>

/** An open client connection (opaque). */
typedef struct qb_ipcc_connection qb_ipcc_connection_t;

/*
 * Functions:
 *
 *  qb_ipcc_connect(name, max_msg_size)
 *      Connects to the service `name` asking for buffers of at least
 *      max_msg_size bytes (the server may choose more). Returns NULL and sets
 *      errno on failure (ECONNREFUSED: no such service; others as the server
 *      reports them, e.g. EACCES when it refused us).
 *
 *  qb_ipcc_connect_async(name, max_msg_size, &fd) / qb_ipcc_connect_continue(c)
 *      The same in two steps: the first sends the request and stores the
 *      socket to watch in *fd; once *fd is readable, the second completes the
 *      connection. If qb_ipcc_connect_continue fails it returns -errno and c
 *      is freed.
 *
 *  qb_ipcc_verify_dgram_max_msg_size(max_msg_size)
 *      The largest datagram (up to max_msg_size) this host can pass over a
 *      unix socket pair, or -1.
 *
 *  qb_ipcc_disconnect(c)
 *      Closes the connection and frees c. If the server has died, what it
 *      left in /dev/shm for this connection is removed.
 *
 *  qb_ipcc_fd_get(c, &fd)
 *      A descriptor that becomes readable when an event may be waiting (for
 *      a poll loop that then calls qb_ipcc_event_recv).
 *
 *  qb_ipcc_auth_get(c, &pid, &uid, &gid)
 *      The server's pid, uid and gid as the kernel reported them when the
 *      connection was made. Any pointer may be NULL.
 *
 *  qb_ipcc_fc_enable_max_set(c, max)
 *      Sends fail with -EAGAIN while the server's flow-control level is
 *      between 1 and max (0..2, default 1).
 *
 *  qb_ipcc_send(c, msg, len) / qb_ipcc_sendv(c, iov, iov_len)
 *      Sends one request (which must start with a struct
 *      qb_ipc_request_header whose size is the total). -EMSGSIZE if longer
 *      than the buffer size, -EAGAIN under flow control or when full,
 *      -ENOTCONN once the server is gone.
 *
 *  qb_ipcc_recv(c, buf, len, ms_timeout)
 *      Receives one response; -ETIMEDOUT if none came in time, -ENOTCONN if
 *      the server went away.
 *
 *  qb_ipcc_sendv_recv(c, iov, iov_len, buf, len, ms_timeout)
 *      qb_ipcc_sendv followed by qb_ipcc_recv.
 *
 *  qb_ipcc_event_recv(c, buf, len, ms_timeout)
 *      Receives one event; -EAGAIN if none came in time.
 *
 *  qb_ipcc_context_set(c, context) / qb_ipcc_context_get(c)
 *      One pointer stored for the caller.
 *
 *  qb_ipcc_is_connected(c)
 *      QB_TRUE while the connection is known to be up.
 *
 *  qb_ipcc_get_buffer_size(c)
 *      The buffer size both ends agreed on (the largest message).
 */

/* @generated-begin by cbindgen from src/ffi/qbipcc.rs */
qb_ipcc_connection_t *qb_ipcc_connect(const char *name, size_t max_msg_size);

qb_ipcc_connection_t *qb_ipcc_connect_async(const char *name, size_t max_msg_size, int *connect_fd);

int qb_ipcc_connect_continue(qb_ipcc_connection_t *c);

int32_t qb_ipcc_verify_dgram_max_msg_size(size_t max_msg_size);

void qb_ipcc_disconnect(qb_ipcc_connection_t *c);

int32_t qb_ipcc_fd_get(qb_ipcc_connection_t *c, int32_t *fd);

int32_t qb_ipcc_auth_get(qb_ipcc_connection_t *c, pid_t *pid, uid_t *uid, gid_t *gid);

int32_t qb_ipcc_fc_enable_max_set(qb_ipcc_connection_t *c, uint32_t max);

ssize_t qb_ipcc_send(qb_ipcc_connection_t *c, const void *msg_ptr, size_t msg_len);

ssize_t qb_ipcc_sendv(qb_ipcc_connection_t *c, const struct iovec *iov, size_t iov_len);

ssize_t qb_ipcc_recv(qb_ipcc_connection_t *c, void *msg_ptr, size_t msg_len, int32_t ms_timeout);

ssize_t qb_ipcc_sendv_recv(qb_ipcc_connection_t *c,
                           const struct iovec *iov,
                           uint32_t iov_len,
                           void *msg_ptr,
                           size_t msg_len,
                           int32_t ms_timeout);

ssize_t qb_ipcc_event_recv(qb_ipcc_connection_t *c,
                           void *msg_ptr,
                           size_t msg_len,
                           int32_t ms_timeout);

void qb_ipcc_context_set(qb_ipcc_connection_t *c, void *context);

void *qb_ipcc_context_get(qb_ipcc_connection_t *c);

int32_t qb_ipcc_is_connected(qb_ipcc_connection_t *c);

int32_t qb_ipcc_get_buffer_size(qb_ipcc_connection_t *c);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif
/* *INDENT-ON* */

#endif /* QB_IPCC_H_DEFINED */
