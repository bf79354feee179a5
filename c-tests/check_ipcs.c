/*
 * libqb-rs C tests: the IPC server (qbipcs.h), over SHM and SOCKET.
 *
 * The server runs on a qb_loop in a thread of the test process (the server is
 * driven only through its poll hooks, so that is enough); the main thread is
 * the client, either libqb's qbipcc.h or, for misbehaving-client cases, a raw
 * client that speaks the wire protocol itself. Commands that must run on the
 * server's thread (rate limits, destroy) go through a pipe the loop watches,
 * and every wait is for an event with a generous bound, never a sleep.
 *
 * After each case: lifecycle callbacks counted (created, closed and destroyed
 * exactly once per connection), no /dev/shm entry of this process left and
 * the descriptor count back where it was.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qbrb.h>

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

static void bump(int *counter)
{
	pthread_mutex_lock(&mu);
	(*counter)++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static int get(const int *counter)
{
	int v;
	pthread_mutex_lock(&mu);
	v = *counter;
	pthread_mutex_unlock(&mu);
	return v;
}

/* Waits until *counter >= want (bounded). */
static int wait_for(const int *counter, int want)
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

static int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	ck_assert_int_eq(uid, getuid());
	ck_assert_int_eq(gid, getgid());
	if (auth_mode)
		qb_ipcs_connection_auth_set(c, getuid(), getgid(), auth_mode);
	bump(&n_accept);
	return accept_result;
}

static void on_created(qb_ipcs_connection_t *c)
{
	bump(&n_created);
	ck_assert_int_eq(qb_ipcs_service_id_get(c), 7);
	ck_assert_ptr_eq(qb_ipcs_connection_service_context_get(c), &srv_name);
	qb_ipcs_context_set(c, &n_created);
	if (disconnect_in_created)
		qb_ipcs_disconnect(c);
}

static int32_t on_closed(qb_ipcs_connection_t *c)
{
	ck_assert_ptr_eq(qb_ipcs_context_get(c), &n_created);
	bump(&n_closed);
	if (closed_retries > 0) {
		closed_retries--;
		return 1;
	}
	return 0;
}

static void on_destroyed(qb_ipcs_connection_t *c)
{
	if (qb_ipcs_context_get(c) == NULL)
		bump(&n_destroyed_uncreated);
	else
		ck_assert_ptr_eq(qb_ipcs_context_get(c), &n_created);
	bump(&n_destroyed);
}

static int count_connections(void)
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

static void respond(qb_ipcs_connection_t *c, int32_t id, int32_t error)
{
	struct qb_ipc_response_header res = {.id = id, .size = sizeof(res), .error = error};
	ck_assert_int_eq(qb_ipcs_response_send(c, &res, sizeof(res)), sizeof(res));
}

static int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
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

static int32_t h_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(srv_loop, p, data, fn);
}
static int32_t h_add(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(srv_loop, p, fd, ev, data, fn);
}
static int32_t h_mod(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(srv_loop, p, fd, ev, data, fn);
}
static int32_t h_del(int32_t fd)
{
	return qb_loop_poll_del(srv_loop, fd);
}

enum { CMD_STOP = 1, CMD_RATE_OFF, CMD_RATE_NORMAL, CMD_COUNT };

/* Runs a command on the server's thread and answers one int. */
static int32_t on_cmd(int32_t fd, int32_t revents, void *data)
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

static int32_t command(char op)
{
	int32_t answer = -1;
	struct pollfd p = {.fd = ack_pipe[0], .events = POLLIN};

	ck_assert_int_eq(write(cmd_pipe[1], &op, 1), 1);
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	ck_assert_int_eq(read(ack_pipe[0], &answer, sizeof(answer)), sizeof(answer));
	return answer;
}

static void *server_main(void *arg)
{
	(void)arg;
	qb_loop_run(srv_loop);
	return NULL;
}

static int shm_entries(void);
static int fd_count(void);
static int base_fds, base_shm;

static void start_server(enum qb_ipc_type type)
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

	base_fds = fd_count();
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

static void stop_server(void)
{
	command(CMD_STOP);
	ck_assert_int_eq(pthread_join(srv_thread, NULL), 0);
	qb_loop_destroy(srv_loop);
	close(cmd_pipe[0]);
	close(cmd_pipe[1]);
	close(ack_pipe[0]);
	close(ack_pipe[1]);
	ck_assert_int_eq(shm_entries(), base_shm);
	ck_assert_int_eq(fd_count(), base_fds);
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_destroyed_uncreated), 0);
}

/* -------------------------------------------------------------- leak probes */

/* Entries in /dev/shm that this process's server created (qb-<pid>-...). */
static int shm_entries(void)
{
	char prefix[32];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/dev/shm");

	ck_assert_ptr_nonnull(d);
	snprintf(prefix, sizeof(prefix), "qb-%d-", (int)getpid());
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int fd_count(void)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own descriptor */
}

/* ------------------------------------------------------------- the clients */

static qb_ipcc_connection_t *connect_client(void)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(srv_name, MAX_MSG);
	ck_assert_msg(c != NULL, "qb_ipcc_connect: %s", strerror(errno));
	return c;
}

static void echo(qb_ipcc_connection_t *c, const char *text)
{
	struct req r = {.hdr = {.id = REQ_ECHO}};
	struct req back;

	snprintf(r.payload, sizeof(r.payload), "%s", text);
	r.hdr.size = offsetof(struct req, payload) + strlen(text) + 1;
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
	ck_assert_int_eq(qb_ipcc_recv(c, &back, sizeof(back), WAIT_MS), r.hdr.size);
	ck_assert_str_eq(back.payload, text);
}

static int32_t simple(qb_ipcc_connection_t *c, int32_t id, int32_t arg)
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

static struct stats_res stats_of(qb_ipcc_connection_t *c)
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

static int raw_connect(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int on = 1, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", srv_name);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	return fd;
}

static int raw_hello(struct hello_res *res, uint32_t max)
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
static int closed_by_server(int fd)
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

/* ------------------------------------------------------------------ cases */

static void lifecycle(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct stats_res s;
	struct qb_ipcs_stats ss;

	start_server(type);
	c = connect_client();
	ck_assert(wait_for(&n_created, 1));
	echo(c, "hello");
	echo(c, "world");
	s = stats_of(c);
	ck_assert_int_eq(s.st.client_pid, getpid());
	ck_assert_int_eq(s.st.requests, 3);
	ck_assert_int_eq(s.st.responses, 2);
	ck_assert_int_eq(s.connections, 1);
	ck_assert_int_eq(s.service_id, 7);
	ck_assert_int_ge(s.buffer_size, MAX_MSG);
	ck_assert_int_eq(qb_ipcc_get_buffer_size(c), s.buffer_size);
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_accept), 1);
	ck_assert_int_eq(get(&n_created), 1);
	ck_assert_int_eq(get(&n_closed), 1);
	ck_assert_int_eq(command(CMD_COUNT), 0);
	ck_assert_int_eq(qb_ipcs_stats_get(srv, &ss, 0), 0);
	ck_assert_int_eq(ss.active_connections, 0);
	ck_assert_int_eq(ss.closed_connections, 1);
	stop_server();
	ck_assert_int_eq(get(&n_destroyed), 1);
}

START_TEST(lifecycle_shm) { lifecycle(QB_IPC_SHM); }
END_TEST
START_TEST(lifecycle_socket) { lifecycle(QB_IPC_SOCKET); }
END_TEST

static void events(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct qb_ipc_response_header ev;
	struct stats_res s;
	char buf[64];

	start_server(type);
	c = connect_client();
	ck_assert_int_eq(simple(c, REQ_EVENTS, 20), 0);
	s = stats_of(c);
	ck_assert_int_eq(s.st.events, 20);
	ck_assert_int_eq(s.event_q_length, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(qb_ipcc_event_recv(c, &ev, sizeof(ev), WAIT_MS), sizeof(ev));
		ck_assert_int_eq(ev.id, i);
	}
	ck_assert_int_eq(stats_of(c).event_q_length, 0);
	/* sendv: three parts arrive as one message on both channels. */
	{
		struct req r = {.hdr = {.id = REQ_SENDV, .size = sizeof(struct qb_ipc_request_header)}};
		ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
		ck_assert_int_eq(qb_ipcc_recv(c, buf, sizeof(buf), WAIT_MS), 32);
		ck_assert_int_eq(memcmp(buf + 24, "abcdefgh", 8), 0);
		ck_assert_int_eq(qb_ipcc_event_recv(c, buf, sizeof(buf), WAIT_MS), 32);
		ck_assert_int_eq(memcmp(buf + 24, "abcdefgh", 8), 0);
	}
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}

START_TEST(events_shm) { events(QB_IPC_SHM); }
END_TEST
START_TEST(events_socket) { events(QB_IPC_SOCKET); }
END_TEST

static void disconnect_in_msg_process(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c, *other;
	struct req r = {.hdr = {.id = REQ_DISCONNECT, .size = sizeof(struct qb_ipc_request_header)}};
	struct qb_ipc_response_header res;

	start_server(type);
	other = connect_client();
	c = connect_client();
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_lt(qb_ipcc_recv(c, &res, sizeof(res), WAIT_MS), 0);
	ck_assert_int_eq(qb_ipcc_is_connected(c), 0);
	qb_ipcc_disconnect(c);
	/* The other client is unaffected. */
	echo(other, "still here");
	ck_assert_int_eq(get(&n_closed), 1);
	qb_ipcc_disconnect(other);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
	ck_assert_int_eq(get(&n_created), 2);
	ck_assert_int_eq(get(&n_closed), 2);
	ck_assert_int_eq(get(&n_destroyed), 2);
}

START_TEST(disconnect_from_msg_process_shm) { disconnect_in_msg_process(QB_IPC_SHM); }
END_TEST
START_TEST(disconnect_from_msg_process_socket) { disconnect_in_msg_process(QB_IPC_SOCKET); }
END_TEST

/* Stock skips connection_closed for a connection disconnected inside
 * connection_created; libqb-rs runs each callback exactly once. */
static void disconnect_on_created(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = sizeof(struct qb_ipc_request_header)}};
	struct qb_ipc_response_header res;

	disconnect_in_created = 1;
	start_server(type);
	c = qb_ipcc_connect(srv_name, MAX_MSG);
	ck_assert(wait_for(&n_destroyed, 1));
	if (c != NULL) {
		int32_t rc = qb_ipcc_send(c, &r, r.hdr.size);
		if (rc >= 0)
			rc = qb_ipcc_recv(c, &res, sizeof(res), WAIT_MS);
		ck_assert_int_lt(rc, 0);
		qb_ipcc_disconnect(c);
	}
	ck_assert_int_eq(get(&n_created), 1);
	ck_assert_int_eq(get(&n_destroyed), 1);
	stop_server();
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_closed), 1);
}

START_TEST(disconnect_from_created_shm) { disconnect_on_created(QB_IPC_SHM); }
END_TEST
START_TEST(disconnect_from_created_socket) { disconnect_on_created(QB_IPC_SOCKET); }
END_TEST

/* A refused client gets the application's error; no connection callbacks
 * beyond accept (stock calls connection_destroyed without created). */
static void rejected(enum qb_ipc_type type)
{
	accept_result = -EACCES;
	start_server(type);
	errno = 0;
	ck_assert_ptr_null(qb_ipcc_connect(srv_name, MAX_MSG));
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(get(&n_accept), 1);
	ck_assert_int_eq(command(CMD_COUNT), 0);
	stop_server();
	ck_assert_int_eq(get(&n_created), 0);
	ck_assert_int_eq(get(&n_closed), 0);
	ck_assert_int_eq(get(&n_destroyed), get(&n_destroyed_uncreated));
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_destroyed), 0);
}

START_TEST(rejected_shm) { rejected(QB_IPC_SHM); }
END_TEST
START_TEST(rejected_socket) { rejected(QB_IPC_SOCKET); }
END_TEST

static void flow_control(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c, *d;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = sizeof(struct qb_ipc_request_header)}};
	struct stats_res s;

	start_server(type);
	c = connect_client();
	ck_assert_int_eq(simple(c, REQ_FC_ON, 0), 0);
	/* The gate is in shared memory: the client refuses to send. */
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), -EAGAIN);
	/* A new connection starts open and can lift the limit for everyone. */
	d = connect_client();
	ck_assert_int_eq(simple(d, REQ_FC_OFF, 0), 0);
	echo(c, "flowing again");
	s = stats_of(c);
	ck_assert_int_eq(s.st.flow_control_state, 0);
	ck_assert_int_eq(s.st.flow_control_count, 2);
	/* The same gate set from outside a callback. */
	command(CMD_RATE_OFF);
	ck_assert_int_eq(qb_ipcc_send(d, &r, r.hdr.size), -EAGAIN);
	command(CMD_RATE_NORMAL);
	echo(d, "open");
	qb_ipcc_disconnect(c);
	qb_ipcc_disconnect(d);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}

START_TEST(flow_control_shm) { flow_control(QB_IPC_SHM); }
END_TEST
START_TEST(flow_control_socket) { flow_control(QB_IPC_SOCKET); }
END_TEST

/* connection_closed asking to be called again: retried from a job, then
 * destroyed once. */
static void closed_retry(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;

	closed_retries = 2;
	start_server(type);
	c = connect_client();
	echo(c, "x");
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_closed), 3);
	stop_server();
	ck_assert_int_eq(get(&n_destroyed), 1);
}

START_TEST(closed_retry_shm) { closed_retry(QB_IPC_SHM); }
END_TEST
START_TEST(closed_retry_socket) { closed_retry(QB_IPC_SOCKET); }
END_TEST

/* Destroying the service with clients connected closes them all. */
static void destroy_with_clients(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c[3];
	struct qb_ipc_response_header res;

	start_server(type);
	for (int i = 0; i < 3; i++)
		c[i] = connect_client();
	ck_assert_int_eq(command(CMD_COUNT), 3);
	command(CMD_STOP);
	ck_assert_int_eq(pthread_join(srv_thread, NULL), 0);
	ck_assert_int_eq(get(&n_closed), 3);
	ck_assert_int_eq(get(&n_destroyed), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_lt(qb_ipcc_recv(c[i], &res, sizeof(res), 500), 0);
		qb_ipcc_disconnect(c[i]);
	}
	qb_loop_destroy(srv_loop);
	close(cmd_pipe[0]);
	close(cmd_pipe[1]);
	close(ack_pipe[0]);
	close(ack_pipe[1]);
	ck_assert_int_eq(shm_entries(), base_shm);
	ck_assert_int_eq(fd_count(), base_fds);
}

START_TEST(destroy_with_clients_shm) { destroy_with_clients(QB_IPC_SHM); }
END_TEST
START_TEST(destroy_with_clients_socket) { destroy_with_clients(QB_IPC_SOCKET); }
END_TEST

/* qb_ipcs_enforce_buffer_size wins over a smaller client request. */
static void enforced_size(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;

	enforce_size = 200000;
	start_server(type);
	c = qb_ipcc_connect(srv_name, 20000);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ge(qb_ipcc_get_buffer_size(c), 200000);
	ck_assert_int_eq(stats_of(c).buffer_size, qb_ipcc_get_buffer_size(c));
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}

START_TEST(enforced_size_shm) { enforced_size(QB_IPC_SHM); }
END_TEST
START_TEST(enforced_size_socket) { enforced_size(QB_IPC_SOCKET); }
END_TEST

/* auth_set's mode lands on the shared-memory files. */
START_TEST(auth_mode_shm)
{
	struct hello_res res;
	struct stat st;
	char path[4200];
	int fd;

	auth_mode = 0640;
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	ck_assert_int_eq(res.connection_type, QB_IPC_SHM);
	snprintf(path, sizeof(path), "%s-header", res.request);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(st.st_uid, getuid());
	close(fd);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}
END_TEST

/* Handshake garbage: wrong id, short hello, silence. None becomes a
 * connection; the server keeps serving. */
static void bad_hello(enum qb_ipc_type type)
{
	struct {
		struct qb_ipc_request_header hdr;
		uint32_t max;
	} __attribute__((aligned(8))) bogus = {.hdr = {.id = 5, .size = 24}, .max = MAX_MSG};
	qb_ipcc_connection_t *c;
	int a, b;

	start_server(type);
	a = raw_connect();
	ck_assert_int_eq(send(a, &bogus, 24, 0), 24);
	ck_assert(closed_by_server(a));
	close(a);
	b = raw_connect();
	ck_assert_int_eq(send(b, &bogus, 4, 0), 4);
	close(b);
	c = connect_client();
	echo(c, "served");
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_accept), 1);
	stop_server();
}

START_TEST(bad_hello_shm) { bad_hello(QB_IPC_SHM); }
END_TEST
START_TEST(bad_hello_socket) { bad_hello(QB_IPC_SOCKET); }
END_TEST

/* A raw SHM client writes a request whose header claims more bytes than the
 * chunk holds: libqb-rs disconnects it without calling msg_process (stock
 * hands the bytes beyond the chunk to msg_process). */
START_TEST(shm_lying_size)
{
	struct hello_res res;
	qb_ringbuffer_t *rq;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = 1000}};
	qb_ipcc_connection_t *good;
	int fd;

	QBT_OURS_ONLY();
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	rq = qb_rb_open(res.request, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, sizeof(int32_t));
	ck_assert_ptr_nonnull(rq);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	ck_assert(closed_by_server(fd));
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_msgs), 0);
	qb_rb_close(rq);
	close(fd);
	good = connect_client();
	echo(good, "fine");
	qb_ipcc_disconnect(good);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}
END_TEST

/* Two requests but a single doorbell byte: a stock server then blocks in a
 * read of the second byte; libqb-rs keeps serving everyone. */
START_TEST(shm_missing_doorbell)
{
	struct hello_res res;
	qb_ringbuffer_t *rq, *rs;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = 24}};
	char back[64];
	qb_ipcc_connection_t *good;
	int fd;

	QBT_OURS_ONLY();
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	rq = qb_rb_open(res.request, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, sizeof(int32_t));
	rs = qb_rb_open(res.response, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rq);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	ck_assert_int_eq(qb_rb_chunk_read(rs, back, sizeof(back), WAIT_MS), 24);
	ck_assert_int_eq(qb_rb_chunk_read(rs, back, sizeof(back), WAIT_MS), 24);
	good = connect_client();
	echo(good, "not stalled");
	qb_ipcc_disconnect(good);
	qb_rb_close(rq);
	qb_rb_close(rs);
	close(fd);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}
END_TEST

/* Service-level errors: unsupported types and missing poll hooks. */
START_TEST(run_errors)
{
	struct qb_ipcs_service_handlers sh = {.msg_process = on_msg};
	qb_ipcs_service_t *s;

	s = qb_ipcs_create("qbt-ipcs-mq", 1, QB_IPC_POSIX_MQ, &sh);
	ck_assert_ptr_nonnull(s);
	/* No poll handlers: refused (and released, as documented). */
	ck_assert_int_eq(qb_ipcs_run(s), -EINVAL);
	s = qb_ipcs_create("qbt-ipcs-mq", 1, QB_IPC_SYSV_MQ, &sh);
	{
		struct qb_ipcs_poll_handlers ph = {NULL, h_add, h_mod, h_del};
		srv_loop = qb_loop_create();
		qb_ipcs_poll_handlers_set(s, &ph);
		ck_assert_int_eq(qb_ipcs_run(s), -ENOTSUP);
		qb_loop_destroy(srv_loop);
	}
	ck_assert_int_eq(qb_ipcs_service_id_get(NULL), -EINVAL);
	ck_assert_ptr_null(qb_ipcs_connection_stats_get_2(NULL, 0));
	ck_assert_int_eq(qb_ipcs_connection_get_buffer_size(NULL), -EINVAL);
	ck_assert_int_eq(qb_ipcs_response_send(NULL, "x", 1), -EINVAL);
}
END_TEST

/* NATIVE is served over shared memory. */
START_TEST(native_is_shm)
{
	struct hello_res res;
	int fd;

	start_server(QB_IPC_NATIVE);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	ck_assert_int_eq(res.connection_type, QB_IPC_SHM);
	ck_assert_int_ge(res.max_msg_size, MAX_MSG);
	close(fd);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcs");

	QBT_ADD_TEST(s, lifecycle_shm);
	QBT_ADD_TEST(s, lifecycle_socket);
	QBT_ADD_TEST(s, events_shm);
	QBT_ADD_TEST(s, events_socket);
	QBT_ADD_TEST(s, disconnect_from_msg_process_shm);
	QBT_ADD_TEST(s, disconnect_from_msg_process_socket);
	QBT_ADD_TEST(s, disconnect_from_created_shm);
	QBT_ADD_TEST(s, disconnect_from_created_socket);
	QBT_ADD_TEST(s, rejected_shm);
	QBT_ADD_TEST(s, rejected_socket);
	QBT_ADD_TEST(s, flow_control_shm);
	QBT_ADD_TEST(s, flow_control_socket);
	QBT_ADD_TEST(s, closed_retry_shm);
	QBT_ADD_TEST(s, closed_retry_socket);
	QBT_ADD_TEST(s, destroy_with_clients_shm);
	QBT_ADD_TEST(s, destroy_with_clients_socket);
	QBT_ADD_TEST(s, enforced_size_shm);
	QBT_ADD_TEST(s, enforced_size_socket);
	QBT_ADD_TEST(s, auth_mode_shm);
	QBT_ADD_TEST(s, bad_hello_shm);
	QBT_ADD_TEST(s, bad_hello_socket);
	QBT_ADD_TEST(s, shm_lying_size);
	QBT_ADD_TEST(s, shm_missing_doorbell);
	QBT_ADD_TEST(s, run_errors);
	QBT_ADD_TEST(s, native_is_shm);
	return qbt_main(s);
}
