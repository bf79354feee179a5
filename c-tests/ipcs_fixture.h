/*
 * ipcs_fixture.h: the IPC server under test for check_ipcs_*.c, and the
 * clients that talk to it.
 *
 * The server runs on a qb_loop in a thread of the test process (the server is
 * driven only through its poll hooks, so that is enough); the main thread is
 * the client, either libqb's qbipcc.h or, for misbehaving-client cases, a raw
 * client that speaks the wire protocol itself. Commands that must run on the
 * server's thread (rate limits, destroy) go through a pipe the loop watches,
 * and every wait is for an event with a generous bound, never a sleep.
 *
 * stop_server() ends each case: lifecycle callbacks counted (created, closed
 * and destroyed exactly once per connection), no /dev/shm entry of this
 * process left and the descriptor count back where it was.
 *
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_IPCS_FIXTURE_H
#define QBT_IPCS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "leak_probes.h"
#include "qbtest.h"

#define WAIT_MS 20000 /* only turns a hang into a failure */
#define MAX_MSG 65536

enum req_id {
	REQ_ECHO = 1,	 /* respond with the request's bytes */
	REQ_EVENTS,	 /* send `arg` events (id = index), then respond */
	REQ_DISCONNECT,	 /* qb_ipcs_disconnect() from msg_process, no response */
	REQ_FC_ON,	 /* rate limit OFF (clients must stop sending), respond */
	REQ_FC_OFF,	 /* rate limit NORMAL, respond */
	REQ_STATS,	 /* respond with this connection's stats + connection count */
	REQ_SENDV,	 /* respond and send an event, both through *_sendv */
};

struct req {
	struct qb_ipc_request_header hdr;
	int32_t arg;
	char payload[256];
} __attribute__((aligned(8)));

struct stats_res {
	struct qb_ipc_response_header hdr;
	struct qb_ipcs_connection_stats st;
	int32_t connections;
	int32_t service_id;
	int32_t buffer_size;
	uint32_t event_q_length;
} __attribute__((aligned(8)));

/* ------------------------------------------------------------- the server */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int n_accept, n_created, n_closed, n_destroyed, n_msgs;
static int n_destroyed_uncreated; /* stock does this for refused clients */

/* Behaviour switches (set before the server starts). */
static int32_t accept_result;
static int disconnect_in_created;
static int closed_retries;	/* connection_closed returns 1 this many times */
static uint32_t enforce_size;
static int auth_mode;		/* non-zero: qb_ipcs_connection_auth_set(own ids, mode) */

static qb_loop_t *srv_loop;
static qb_ipcs_service_t *srv;
static pthread_t srv_thread;
static enum qb_ipc_type srv_type;
static char srv_name[64];
static int cmd_pipe[2], ack_pipe[2];

static inline void bump(int *counter)
{
	pthread_mutex_lock(&mu);
	(*counter)++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static inline int get(const int *counter)
{
	int v;
	pthread_mutex_lock(&mu);
	v = *counter;
	pthread_mutex_unlock(&mu);
	return v;
}

/* Waits until *counter >= want (bounded). */
static inline int wait_for(const int *counter, int want)
{
	struct timespec dl;
	int ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&mu);
	while (*counter < want &&
	       pthread_cond_timedwait(&cv, &mu, &dl) != ETIMEDOUT)
		;
	ok = *counter >= want;
	pthread_mutex_unlock(&mu);
	return ok;
}

static inline int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	ck_assert_int_eq(uid, getuid());
	ck_assert_int_eq(gid, getgid());
	if (auth_mode)
		qb_ipcs_connection_auth_set(c, getuid(), getgid(), auth_mode);
	bump(&n_accept);
	return accept_result;
}

static inline void on_created(qb_ipcs_connection_t *c)
{
	bump(&n_created);
	ck_assert_int_eq(qb_ipcs_service_id_get(c), 7);
	ck_assert_ptr_eq(qb_ipcs_connection_service_context_get(c), &srv_name);
	qb_ipcs_context_set(c, &n_created);
	if (disconnect_in_created)
		qb_ipcs_disconnect(c);
}

static inline int32_t on_closed(qb_ipcs_connection_t *c)
{
	ck_assert_ptr_eq(qb_ipcs_context_get(c), &n_created);
	bump(&n_closed);
	if (closed_retries > 0) {
		closed_retries--;
		return 1;
	}
	return 0;
}

static inline void on_destroyed(qb_ipcs_connection_t *c)
{
	if (qb_ipcs_context_get(c) == NULL)
		bump(&n_destroyed_uncreated);
	else
		ck_assert_ptr_eq(qb_ipcs_context_get(c), &n_created);
	bump(&n_destroyed);
}

static inline int count_connections(void)
{
	int n = 0;
	qb_ipcs_connection_t *c = qb_ipcs_connection_first_get(srv), *next;

	while (c != NULL) {
		n++;
		next = qb_ipcs_connection_next_get(srv, c);
		qb_ipcs_connection_unref(c);
		c = next;
	}
	return n;
}

static inline void respond(qb_ipcs_connection_t *c, int32_t id, int32_t error)
{
	struct qb_ipc_response_header res = {.id = id, .size = sizeof(res), .error = error};
	ck_assert_int_eq(qb_ipcs_response_send(c, &res, sizeof(res)), sizeof(res));
}

static inline int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct req *r = data;

	bump(&n_msgs);
	ck_assert_int_eq(size, r->hdr.size);
	switch (r->hdr.id) {
	case REQ_ECHO: {
		char buf[sizeof(struct req)];
		struct qb_ipc_response_header *res = (void *)buf;

		ck_assert_uint_le(size, sizeof(buf));
		memcpy(buf, data, size);
		res->id = REQ_ECHO;
		res->size = size;
		ck_assert_int_eq(qb_ipcs_response_send(c, buf, size), (ssize_t)size);
		break;
	}
	case REQ_EVENTS:
		for (int32_t i = 0; i < r->arg; i++) {
			struct qb_ipc_response_header ev = {.id = i, .size = sizeof(ev)};
			ck_assert_int_eq(qb_ipcs_event_send(c, &ev, sizeof(ev)), sizeof(ev));
		}
		respond(c, REQ_EVENTS, 0);
		break;
	case REQ_DISCONNECT:
		qb_ipcs_disconnect(c);
		break;
	case REQ_FC_ON:
		qb_ipcs_request_rate_limit(srv, QB_IPCS_RATE_OFF);
		respond(c, REQ_FC_ON, 0);
		break;
	case REQ_FC_OFF:
		qb_ipcs_request_rate_limit(srv, QB_IPCS_RATE_NORMAL);
		respond(c, REQ_FC_OFF, 0);
		break;
	case REQ_STATS: {
		struct stats_res res = {.hdr = {.id = REQ_STATS, .size = sizeof(res)}};
		struct qb_ipcs_connection_stats_2 *s2 = qb_ipcs_connection_stats_get_2(c, 0);

		ck_assert_ptr_nonnull(s2);
		ck_assert_int_eq(qb_ipcs_connection_stats_get(c, &res.st, 0), 0);
		res.event_q_length = s2->event_q_length;
		ck_assert_int_eq(s2->requests, res.st.requests);
		free(s2);
		res.connections = count_connections();
		res.service_id = qb_ipcs_service_id_get(c);
		res.buffer_size = qb_ipcs_connection_get_buffer_size(c);
		ck_assert_int_eq(qb_ipcs_response_send(c, &res, sizeof(res)), sizeof(res));
		break;
	}
	case REQ_SENDV: {
		struct qb_ipc_response_header h = {.id = REQ_SENDV, .size = sizeof(h) + 8};
		struct iovec iov[3] = {{&h, sizeof(h)}, {(void *)"abcd", 4}, {(void *)"efgh", 4}};

		ck_assert_int_eq(qb_ipcs_event_sendv(c, iov, 3), sizeof(h) + 8);
		ck_assert_int_eq(qb_ipcs_response_sendv(c, iov, 3), sizeof(h) + 8);
		break;
	}
	default:
		ck_abort_msg("unexpected request id %d", r->hdr.id);
	}
	return 0;
}

static inline int32_t h_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(srv_loop, p, data, fn);
}
static inline int32_t h_add(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data,
			qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(srv_loop, p, fd, ev, data, fn);
}
static inline int32_t h_mod(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data,
			qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(srv_loop, p, fd, ev, data, fn);
}
static inline int32_t h_del(int32_t fd)
{
	return qb_loop_poll_del(srv_loop, fd);
}

enum { CMD_STOP = 1, CMD_RATE_OFF, CMD_RATE_NORMAL, CMD_COUNT };

/* Runs a command on the server's thread and answers one int. */
static inline int32_t on_cmd(int32_t fd, int32_t revents, void *data)
{
	char op;
	int32_t answer = 0;

	(void)revents;
	(void)data;
	if (read(fd, &op, 1) != 1)
		return 0;
	switch (op) {
	case CMD_STOP:
		qb_ipcs_destroy(srv);
		srv = NULL;
		qb_loop_poll_del(srv_loop, fd);
		qb_loop_stop(srv_loop);
		break;
	case CMD_RATE_OFF:
		qb_ipcs_request_rate_limit(srv, QB_IPCS_RATE_OFF);
		break;
	case CMD_RATE_NORMAL:
		qb_ipcs_request_rate_limit(srv, QB_IPCS_RATE_NORMAL);
		break;
	case CMD_COUNT:
		answer = count_connections();
		break;
	}
	ck_assert_int_eq(write(ack_pipe[1], &answer, sizeof(answer)), sizeof(answer));
	return 0;
}

static inline int32_t command(char op)
{
	int32_t answer = -1;
	struct pollfd p = {.fd = ack_pipe[0], .events = POLLIN};

	ck_assert_int_eq(write(cmd_pipe[1], &op, 1), 1);
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	ck_assert_int_eq(read(ack_pipe[0], &answer, sizeof(answer)), sizeof(answer));
	return answer;
}

static inline void *server_main(void *arg)
{
	(void)arg;
	qb_loop_run(srv_loop);
	return NULL;
}

/* -------------------------------------------------------------- leak probes */

/* Entries in /dev/shm that this process's server created (qb-<pid>-...). */
static inline int shm_entries(void)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "qb-%d-", (int)getpid());
	return count_shm_prefixed(prefix);
}

/* What start_server() found, for stop_server() to compare. */
static int base_fds, base_shm;

static inline void start_server(enum qb_ipc_type type)
{
	struct qb_ipcs_service_handlers sh = {
		.connection_accept = on_accept,
		.connection_created = on_created,
		.msg_process = on_msg,
		.connection_closed = on_closed,
		.connection_destroyed = on_destroyed,
	};
	struct qb_ipcs_poll_handlers ph = {
		.job_add = h_job_add,
		.dispatch_add = h_add,
		.dispatch_mod = h_mod,
		.dispatch_del = h_del,
	};

	base_fds = count_fds();
	base_shm = shm_entries();
	srv_type = type;
	snprintf(srv_name, sizeof(srv_name), "qbt-ipcs-%d-%d", (int)getpid(), (int)type);
	srv_loop = qb_loop_create();
	ck_assert_ptr_nonnull(srv_loop);
	srv = qb_ipcs_create(srv_name, 7, type, &sh);
	ck_assert_ptr_nonnull(srv);
	qb_ipcs_service_context_set(srv, &srv_name);
	ck_assert_ptr_eq(qb_ipcs_service_context_get(srv), &srv_name);
	if (enforce_size)
		qb_ipcs_enforce_buffer_size(srv, enforce_size);
	qb_ipcs_poll_handlers_set(srv, &ph);
	ck_assert_int_eq(qb_ipcs_run(srv), 0);
	ck_assert_int_eq(pipe2(cmd_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ack_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(qb_loop_poll_add(srv_loop, QB_LOOP_HIGH, cmd_pipe[0], POLLIN, NULL, on_cmd), 0);
	ck_assert_int_eq(pthread_create(&srv_thread, NULL, server_main, NULL), 0);
}

/* Once the server thread has ended: its loop and pipes go, and nothing the
 * server made may be left. */
static inline void release_server(void)
{
	qb_loop_destroy(srv_loop);
	close(cmd_pipe[0]);
	close(cmd_pipe[1]);
	close(ack_pipe[0]);
	close(ack_pipe[1]);
	ck_assert_int_eq(shm_entries(), base_shm);
	ck_assert_int_eq(count_fds(), base_fds);
}

static inline void stop_server(void)
{
	command(CMD_STOP);
	ck_assert_int_eq(pthread_join(srv_thread, NULL), 0);
	release_server();
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_destroyed_uncreated), 0);
}

/* ------------------------------------------------------------- the clients */

static inline qb_ipcc_connection_t *connect_client(void)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(srv_name, MAX_MSG);
	ck_assert_msg(c != NULL, "qb_ipcc_connect: %s", strerror(errno));
	return c;
}

static inline void echo(qb_ipcc_connection_t *c, const char *text)
{
	struct req r = {.hdr = {.id = REQ_ECHO}};
	struct req back;

	snprintf(r.payload, sizeof(r.payload), "%s", text);
	r.hdr.size = offsetof(struct req, payload) + strlen(text) + 1;
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
	ck_assert_int_eq(qb_ipcc_recv(c, &back, sizeof(back), WAIT_MS), r.hdr.size);
	ck_assert_str_eq(back.payload, text);
}

static inline int32_t simple(qb_ipcc_connection_t *c, int32_t id, int32_t arg)
{
	struct req r = {.hdr = {.id = id, .size = sizeof(struct qb_ipc_request_header) + 8}, .arg = arg};
	struct qb_ipc_response_header res;
	int32_t rc = qb_ipcc_send(c, &r, r.hdr.size);

	if (rc < 0)
		return rc;
	rc = qb_ipcc_recv(c, &res, sizeof(res), WAIT_MS);
	if (rc < 0)
		return rc;
	ck_assert_int_eq(res.id, id);
	return res.error;
}

static inline struct stats_res stats_of(qb_ipcc_connection_t *c)
{
	struct req r = {.hdr = {.id = REQ_STATS, .size = sizeof(struct qb_ipc_request_header)}};
	struct stats_res s;

	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
	ck_assert_int_eq(qb_ipcc_recv(c, &s, sizeof(s), WAIT_MS), sizeof(s));
	return s;
}

/* Raw client: connects and authenticates by hand; returns the setup socket
 * and fills the handshake response. */
struct hello_res {
	struct qb_ipc_response_header hdr;
	int32_t connection_type;
	uint32_t max_msg_size;
	uint64_t connection;
	char request[4096];
	char response[4096];
	char event[4096];
} __attribute__((aligned(8)));

static inline int raw_connect(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int on = 1, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", srv_name);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	return fd;
}

static inline int raw_hello(struct hello_res *res, uint32_t max)
{
	struct {
		struct qb_ipc_request_header hdr;
		uint32_t max_msg_size;
	} __attribute__((aligned(8))) hello = {.hdr = {.id = -1, .size = 24}, .max_msg_size = max};
	int fd = raw_connect();

	ck_assert_int_eq(send(fd, &hello, 24, 0), 24);
	ck_assert_int_eq(recv(fd, res, sizeof(*res), MSG_WAITALL), sizeof(*res));
	return fd;
}

/* True when the server closed (or shut down) the socket within the bound. */
static inline int closed_by_server(int fd)
{
	char b[64];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		if (poll(&p, 1, WAIT_MS) != 1)
			return 0;
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return 1;
	}
}

#endif /* QBT_IPCS_FIXTURE_H */
