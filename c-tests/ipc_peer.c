/*
 * ipc_peer: the far side of the IPC interop tests.
 *
 * A stand-alone IPC server or client that uses only the public qbipcs.h,
 * qbipcc.h and qbloop.h API. check_ipc_interop_*.c run it with
 * LD_LIBRARY_PATH pointing at the OTHER libqb, so a stock server talks to a
 * libqb-rs client and the other way round, over SHM and SOCKET.
 *
 * The test sends one command per line on stdin; the peer answers one line on
 * fd 3 (stdout when fd 3 is not open): "READY ...", "OK ..." or "FAIL <why>"
 * (after FAIL the peer exits with status 1). Messages follow ipc_chat.h.
 * Both modes first answer "READY <pid> <path of the libqb mapped>".
 *
 *   ipc_peer server NAME shm|socket|native
 *     COUNTS                  "OK accepted created closed destroyed requests bad events anomalies"
 *     WAIT FIELD N            answers COUNTS' line once FIELD (a COUNTS name) >= N
 *     RATE fast|normal|slow|off|off2   qb_ipcs_request_rate_limit
 *     PUSH N SIZE SEQ         N events to the newest connection; "OK sent"
 *     KICK                    qb_ipcs_disconnect every connection; "OK n"
 *     CSTATS                  newest connection: "OK pid requests responses events fc_state
 *                             fc_count event_q_length"
 *     SSTATS                  "OK active closed"
 *     FDS                     "OK open-fds"
 *     QUIT                    qb_ipcs_destroy, "BYE <COUNTS' numbers>", exit 0
 *   (hostile suite, check_ipc_hostile_{handshake,limits,client}.c)
 *     DENY ERRNO              connection_accept refuses with -ERRNO (0: accept again); "OK"
 *     HOLD N                  the next N connection_accept calls answer "HELD uid gid" and
 *                             block until the line "GO" arrives; "OK"
 *   (hostile suite, shared-memory phase, check_ipc_hostile_{rings,lifetime}.c)
 *     STABLE                  answer IPCC_STABLE requests (ipc_shm_evil.h): hash the payload
 *                             and re-read it many times; the answer says if it changed; "OK"
 *     KICKON created|timer|off  disconnect each new connection inside connection_created,
 *                             or from a loop timer just after it; "OK"
 *     RSS                     "OK resident-kB"
 *   ipc_peer client NAME
 *     CONNECT MAX | ACONNECT MAX   sync / async connect; "OK 0 bufsize server-pid" or "OK -errno"
 *     ECHO SIZE SEQ           send + recv, verified; "OK"
 *     ECHOV SIZE SEQ          sendv_recv in 3 pieces, verified; "OK"
 *     SEND SIZE SEQ           "OK result"       RECV SIZE SEQ   "OK result" (verified if > 0)
 *     EVENTS N SIZE SEQ       ask the server for N events, receive and verify them; "OK N"
 *     EVRECV N SIZE SEQ       receive and verify N events the server pushed; "OK N"
 *     EVPOLL                  event_recv with timeout 0; "OK result"
 *     FCMAX N                 "OK result"
 *     BYE HOW                 send the bye request (ipc_chat.h); "OK result"
 *     GONE                    wait for the server to go: "OK recv is_connected event_recv send"
 *     DISCONNECT              qb_ipcc_disconnect; "OK"
 *     FDS                     "OK open-fds"     QUIT  "BYE", exit 0
 *
 * Exit status: 0 success, 1 verification failure, 2 usage/setup error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "ipc_chat.h"
#include "mapped_lib.h"
#include "peer_side.h"

/* Waits longer than this only turn a dead partner into a failure. */
#define SLICE_MS 1000
#define SLICES 30

static const char *service;

/* The libqb file mapped into this process (reported in READY). */
static char mapped_lib[PATH_MAX] = "?";

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		fail("opendir /proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static uint32_t num(const char *s)
{
	char *end;
	unsigned long v;

	if (s == NULL)
		fail("missing number");
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		fail("bad number '%s'", s);
	return (uint32_t)v;
}

/* Splits a command line into at most 5 words. */
static int split(char *line, char **w)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t", &save); tok != NULL && n < 5;
	     tok = strtok_r(NULL, " \t", &save))
		w[n++] = tok;
	w[n] = NULL;
	return n;
}

/* ------------------------------------------------------------- server mode */

static struct ipcc_server srv;
static char wait_field[32];
static uint32_t wait_for;
static int waiting;

static int counter(const char *field)
{
	if (strcmp(field, "accepted") == 0)
		return srv.accepted;
	if (strcmp(field, "created") == 0)
		return srv.created;
	if (strcmp(field, "closed") == 0)
		return srv.closed;
	if (strcmp(field, "destroyed") == 0)
		return srv.destroyed;
	if (strcmp(field, "requests") == 0)
		return srv.requests;
	if (strcmp(field, "events") == 0)
		return srv.events_sent;
	fail("unknown counter %s", field);
}

static void say_counts(const char *word)
{
	say("%s %d %d %d %d %d %d %d %d", word, srv.accepted, srv.created, srv.closed,
	    srv.destroyed, srv.requests, srv.bad, srv.events_sent, srv.anomalies);
}

static void shm_hostile_changed(void);

static void server_changed(struct ipcc_server *s)
{
	shm_hostile_changed();
	(void)s;
	if (waiting && counter(wait_field) >= (int)wait_for) {
		waiting = 0;
		say_counts("OK");
	}
}

/* ------------------------------------- hostile suite commands (server mode) */

static int32_t deny_errno;
static uint32_t hold_count;

/* Blocks the loop inside connection_accept until the test says "GO". */
static void hold_here(void)
{
	char line[16];
	size_t n = 0;
	char ch;

	for (;;) {
		ssize_t r = read(0, &ch, 1);

		if (r <= 0)
			fail("input closed while holding");
		if (ch != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = ch;
			continue;
		}
		line[n] = '\0';
		if (strcmp(line, "GO") == 0)
			return;
		n = 0;
	}
}

static int32_t hostile_accept_hook(struct ipcc_server *s, uid_t uid, gid_t gid)
{
	(void)s;
	if (hold_count > 0) {
		hold_count--;
		say("HELD %u %u", (unsigned)uid, (unsigned)gid);
		hold_here();
	}
	return deny_errno > 0 ? -deny_errno : 0;
}

/* Returns 1 when the command was one of this block's. */
static int hostile_command(char **w, int n)
{
	if (strcmp(w[0], "DENY") == 0 && n == 2) {
		deny_errno = (int32_t)num(w[1]);
		srv.accept_hook = hostile_accept_hook;
		say("OK");
		return 1;
	}
	if (strcmp(w[0], "HOLD") == 0 && n == 2) {
		hold_count = num(w[1]);
		srv.accept_hook = hostile_accept_hook;
		say("OK");
		return 1;
	}
	return 0;
}

/* ------------------------- hostile suite, shared-memory phase (server mode) */

#include "ipc_shm_evil.h"

static enum { KICK_OFF, KICK_CREATED, KICK_TIMER } kick_mode;
static int kick_seen_created;

static int32_t stable_msg(struct ipcc_server *s, qb_ipcs_connection_t *c, const void *data,
			  size_t size)
{
	uint8_t out[IPCC_RES_HDR + 12];
	struct qb_ipc_response_header *rh = (void *)out;
	uint32_t first, changed = 0;
	int i;

	(void)s;
	if (size < IPCC_REQ_HDR || ((const struct qb_ipc_request_header *)data)->id != IPCC_STABLE)
		return -1;
	/* The size field and the payload are read again and again: a private
	 * copy never changes, a pointer into the client's ring may. */
	first = evil_hash(data, size);
	for (i = 0; i < EVIL_STABLE_ROUNDS; i++) {
		const volatile int32_t *sz = &((const volatile struct qb_ipc_request_header *)data)->size;

		if (evil_hash(data, size) != first || (size_t)*sz != size)
			changed++;
		sched_yield();
	}
	memset(out, 0, sizeof(out));
	rh->id = IPCC_STABLE;
	rh->size = (int32_t)sizeof(out);
	rh->error = changed ? -EBADMSG : 0;
	ipcc_put32(out + IPCC_RES_HDR, first);
	ipcc_put32(out + IPCC_RES_HDR + 4, changed);
	ipcc_put32(out + IPCC_RES_HDR + 8, (uint32_t)size);
	if (qb_ipcs_response_send(c, out, sizeof(out)) != (ssize_t)sizeof(out))
		srv.bad++;
	return 0;
}

static void kick_timer(void *data)
{
	qb_ipcs_connection_t *c = data;

	qb_ipcs_disconnect(c);
	qb_ipcs_connection_unref(c);
}

/* Called on every change of srv; a new `created` means we are inside
 * connection_created of srv.last. */
static void shm_hostile_changed(void)
{
	qb_loop_timer_handle th;
	qb_ipcs_connection_t *c;

	if (srv.created <= kick_seen_created)
		return;
	kick_seen_created = srv.created;
	c = srv.last;
	if (c == NULL || kick_mode == KICK_OFF)
		return;
	if (kick_mode == KICK_CREATED) {
		qb_ipcs_disconnect(c);
		return;
	}
	qb_ipcs_connection_ref(c);
	if (qb_loop_timer_add(srv.loop, QB_LOOP_HIGH, QB_TIME_NS_IN_MSEC, c, kick_timer, &th) != 0) {
		qb_ipcs_connection_unref(c);
		srv.bad++;
	}
}

static long resident_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Returns 1 when the command was one of this block's. */
static int shm_hostile_command(char **w, int n)
{
	if (strcmp(w[0], "STABLE") == 0 && n == 1) {
		srv.other_msg = stable_msg;
		say("OK");
	} else if (strcmp(w[0], "KICKON") == 0 && n == 2) {
		if (strcmp(w[1], "created") == 0)
			kick_mode = KICK_CREATED;
		else if (strcmp(w[1], "timer") == 0)
			kick_mode = KICK_TIMER;
		else
			kick_mode = KICK_OFF;
		kick_seen_created = srv.created;
		say("OK");
	} else if (strcmp(w[0], "RSS") == 0 && n == 1) {
		say("OK %ld", resident_kb());
	} else {
		return 0;
	}
	return 1;
}

static void server_command(char *line)
{
	char *w[6];
	int n = split(line, w);

	if (n == 0)
		fail("empty command");
	if (strcmp(w[0], "COUNTS") == 0) {
		say_counts("OK");
	} else if (strcmp(w[0], "WAIT") == 0 && n == 3) {
		snprintf(wait_field, sizeof(wait_field), "%s", w[1]);
		wait_for = num(w[2]);
		waiting = 1;
		server_changed(&srv);
	} else if (strcmp(w[0], "RATE") == 0 && n == 2) {
		static const char *names[] = {"fast", "normal", "slow", "off", "off2"};
		static const enum qb_ipcs_rate_limit rates[] = {
			QB_IPCS_RATE_FAST, QB_IPCS_RATE_NORMAL, QB_IPCS_RATE_SLOW,
			QB_IPCS_RATE_OFF, QB_IPCS_RATE_OFF_2};
		size_t i;

		for (i = 0; i < 5 && strcmp(names[i], w[1]) != 0; i++)
			;
		if (i == 5)
			fail("unknown rate %s", w[1]);
		qb_ipcs_request_rate_limit(srv.svc, rates[i]);
		say("OK");
	} else if (strcmp(w[0], "PUSH") == 0 && n == 4) {
		if (srv.last == NULL)
			fail("PUSH without a connection");
		say("OK %d", ipcc_send_events(&srv, srv.last, num(w[1]), num(w[2]), num(w[3])));
	} else if (strcmp(w[0], "KICK") == 0) {
		say("OK %d", ipcc_server_kick_all(&srv));
	} else if (strcmp(w[0], "CSTATS") == 0) {
		struct qb_ipcs_connection_stats st;
		struct qb_ipcs_connection_stats_2 *st2;

		if (srv.last == NULL)
			fail("CSTATS without a connection");
		memset(&st, 0, sizeof(st));
		if (qb_ipcs_connection_stats_get(srv.last, &st, 0) != 0)
			fail("qb_ipcs_connection_stats_get");
		st2 = qb_ipcs_connection_stats_get_2(srv.last, 0);
		if (st2 == NULL)
			fail("qb_ipcs_connection_stats_get_2");
		say("OK %d %llu %llu %llu %d %llu %u", st.client_pid,
		    (unsigned long long)st.requests, (unsigned long long)st.responses,
		    (unsigned long long)st.events, st.flow_control_state,
		    (unsigned long long)st.flow_control_count, st2->event_q_length);
		free(st2);
	} else if (strcmp(w[0], "SSTATS") == 0) {
		struct qb_ipcs_stats st;

		memset(&st, 0, sizeof(st));
		if (qb_ipcs_stats_get(srv.svc, &st, 0) != 0)
			fail("qb_ipcs_stats_get");
		say("OK %u %u", st.active_connections, st.closed_connections);
	} else if (strcmp(w[0], "FDS") == 0) {
		say("OK %d", count_fds());
	} else if (hostile_command(w, n)) {
		/* handled */
	} else if (shm_hostile_command(w, n)) {
		/* handled */
	} else if (strcmp(w[0], "QUIT") == 0) {
		qb_ipcs_destroy(srv.svc);
		srv.svc = NULL;
		say_counts("BYE");
		qb_loop_stop(srv.loop);
	} else {
		fail("unknown server command '%s'", w[0]);
	}
}

static char inbuf[4096];
static size_t inlen;

static int32_t on_stdin(int32_t fd, int32_t revents, void *data)
{
	ssize_t r;
	char *nl;

	(void)revents;
	(void)data;
	r = read(fd, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	if (r <= 0) {
		if (srv.svc != NULL)
			qb_ipcs_destroy(srv.svc);
		fail("input closed");
	}
	inlen += (size_t)r;
	inbuf[inlen] = '\0';
	while ((nl = strchr(inbuf, '\n')) != NULL) {
		*nl = '\0';
		server_command(inbuf);
		inlen -= (size_t)(nl + 1 - inbuf);
		memmove(inbuf, nl + 1, inlen + 1);
		if (srv.svc == NULL)
			return -1; /* QUIT: stop watching stdin */
	}
	if (inlen >= sizeof(inbuf) - 1)
		fail("command too long");
	return 0;
}

static int run_server(const char *type_word)
{
	enum qb_ipc_type type;
	qb_loop_t *loop;
	int32_t r;

	if (ipcc_parse_type(type_word, &type) != 0)
		return 2;
	loop = qb_loop_create();
	if (loop == NULL)
		fail("qb_loop_create");
	srv.changed = server_changed;
	r = ipcc_server_start(&srv, loop, service, type);
	if (r != 0)
		fail("qb_ipcs_run(%s): %d", service, r);
	if (qb_loop_poll_add(loop, QB_LOOP_HIGH, 0, POLLIN, NULL, on_stdin) != 0)
		fail("qb_loop_poll_add(stdin)");
	say("READY %d %s", (int)getpid(), mapped_lib);
	qb_loop_run(loop);
	qb_loop_destroy(loop);
	return 0;
}

/* ------------------------------------------------------------- client mode */

static qb_ipcc_connection_t *conn;
static uint8_t msg[IPCC_MAX_MSG], reply[IPCC_MAX_MSG];

static void need_conn(void)
{
	if (conn == NULL)
		fail("not connected");
}

static void check_size(uint32_t size)
{
	if (size < IPCC_MIN_MSG || size > IPCC_MAX_MSG)
		fail("size %u out of range", size);
}

/* qb_ipcc_recv in bounded slices; returns the first non-timeout result. */
static ssize_t recv_reply(void *buf, size_t len)
{
	ssize_t r = -ETIMEDOUT;
	int i;

	for (i = 0; i < SLICES; i++) {
		r = qb_ipcc_recv(conn, buf, len, SLICE_MS);
		if (r != -ETIMEDOUT && r != -EAGAIN)
			break;
	}
	return r;
}

static ssize_t recv_event(void *buf, size_t len)
{
	ssize_t r = -ETIMEDOUT;
	int i;

	for (i = 0; i < SLICES; i++) {
		r = qb_ipcc_event_recv(conn, buf, len, SLICE_MS);
		if (r != -ETIMEDOUT && r != -EAGAIN)
			break;
	}
	return r;
}

static void verify(const char *what, ssize_t got, int32_t id, uint32_t size, uint32_t seq,
		   uint32_t salt)
{
	const char *why = ipcc_check_reply(reply, got, id, size, seq, salt);

	if (why != NULL)
		fail("%s seq %u size %u: %s (got %zd)", what, seq, size, why, got);
}

static void recv_events(uint32_t n, uint32_t size, uint32_t seq)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		verify("event", recv_event(reply, sizeof(reply)), IPCC_EVENT, size, seq + i,
		       IPCC_SALT_EVT);
}

static void do_connect(uint32_t max, int async)
{
	pid_t spid = 0;
	uid_t uid;
	gid_t gid;

	if (conn != NULL)
		fail("already connected");
	errno = 0;
	if (async) {
		struct pollfd pfd = {.events = POLLIN};
		int fd = -1;

		conn = qb_ipcc_connect_async(service, max, &fd);
		if (conn != NULL) {
			int r;

			pfd.fd = fd;
			if (poll(&pfd, 1, SLICE_MS * SLICES) != 1)
				fail("no handshake response within the wait");
			r = qb_ipcc_connect_continue(conn);
			if (r != 0) {
				conn = NULL; /* continue frees it on failure */
				say("OK %d", r);
				return;
			}
		}
	} else {
		conn = qb_ipcc_connect(service, max);
	}
	if (conn == NULL) {
		say("OK %d", errno > 0 ? -errno : -EIO);
		return;
	}
	if (qb_ipcc_auth_get(conn, &spid, &uid, &gid) != 0)
		fail("qb_ipcc_auth_get");
	if (uid != geteuid() || gid != getegid())
		fail("auth_get uid/gid %u/%u", (unsigned)uid, (unsigned)gid);
	say("OK 0 %d %d", qb_ipcc_get_buffer_size(conn), (int)spid);
}

static void client_command(char *line)
{
	char *w[6];
	int n = split(line, w);
	uint32_t size, seq;
	ssize_t r;

	if (n == 0)
		fail("empty command");
	if (strcmp(w[0], "CONNECT") == 0 && n == 2) {
		do_connect(num(w[1]), 0);
	} else if (strcmp(w[0], "ACONNECT") == 0 && n == 2) {
		do_connect(num(w[1]), 1);
	} else if (strcmp(w[0], "ECHO") == 0 && n == 3) {
		need_conn();
		size = num(w[1]);
		seq = num(w[2]);
		check_size(size);
		ipcc_make_echo(msg, size, seq);
		IPCC_RETRY_EAGAIN(r, qb_ipcc_send(conn, msg, size));
		if (r != (ssize_t)size)
			fail("qb_ipcc_send of %u returned %zd", size, r);
		verify("echo", recv_reply(reply, sizeof(reply)), IPCC_ECHO, size, seq,
		       IPCC_SALT_RES);
		say("OK");
	} else if (strcmp(w[0], "ECHOV") == 0 && n == 3) {
		struct iovec iov[3];

		need_conn();
		size = num(w[1]);
		seq = num(w[2]);
		check_size(size);
		ipcc_make_echo(msg, size, seq);
		iov[0] = (struct iovec){msg, IPCC_REQ_HDR};
		iov[1] = (struct iovec){msg + IPCC_REQ_HDR, 1};
		iov[2] = (struct iovec){msg + IPCC_REQ_HDR + 1, size - IPCC_REQ_HDR - 1};
		IPCC_RETRY_EAGAIN(r, qb_ipcc_sendv_recv(conn, iov, 3, reply, sizeof(reply), -1));
		verify("sendv_recv", r, IPCC_ECHO, size, seq, IPCC_SALT_RES);
		say("OK");
	} else if (strcmp(w[0], "SEND") == 0 && n == 3) {
		need_conn();
		size = num(w[1]);
		check_size(size);
		ipcc_make_echo(msg, size, num(w[2]));
		say("OK %zd", qb_ipcc_send(conn, msg, size));
	} else if (strcmp(w[0], "RECV") == 0 && n == 3) {
		need_conn();
		size = num(w[1]);
		seq = num(w[2]);
		r = recv_reply(reply, sizeof(reply));
		if (r > 0)
			verify("recv", r, IPCC_ECHO, size, seq, IPCC_SALT_RES);
		say("OK %zd", r);
	} else if (strcmp(w[0], "EVENTS") == 0 && n == 4) {
		struct qb_ipc_request_header h = {.id = IPCC_EVENTS, .size = IPCC_REQ_HDR + 12};
		struct qb_ipc_response_header ack;
		uint32_t count = num(w[1]);

		need_conn();
		size = num(w[2]);
		seq = num(w[3]);
		memcpy(msg, &h, sizeof(h));
		ipcc_put32(msg + IPCC_REQ_HDR, count);
		ipcc_put32(msg + IPCC_REQ_HDR + 4, size);
		ipcc_put32(msg + IPCC_REQ_HDR + 8, seq);
		IPCC_RETRY_EAGAIN(r, qb_ipcc_send(conn, msg, IPCC_REQ_HDR + 12));
		if (r != IPCC_REQ_HDR + 12)
			fail("events request: send returned %zd", r);
		r = recv_reply(reply, sizeof(reply));
		memcpy(&ack, reply, sizeof(ack));
		if (r != IPCC_RES_HDR + 4 || ack.id != IPCC_EVENTS || ack.error != 0 ||
		    ipcc_get32(reply + IPCC_RES_HDR) != count)
			fail("events answer: %zd bytes, id %d, error %d", r, ack.id, ack.error);
		recv_events(count, size, seq);
		say("OK %u", count);
	} else if (strcmp(w[0], "EVRECV") == 0 && n == 4) {
		need_conn();
		recv_events(num(w[1]), num(w[2]), num(w[3]));
		say("OK %u", num(w[1]));
	} else if (strcmp(w[0], "EVPOLL") == 0) {
		need_conn();
		say("OK %zd", qb_ipcc_event_recv(conn, reply, sizeof(reply), 0));
	} else if (strcmp(w[0], "FCMAX") == 0 && n == 2) {
		need_conn();
		say("OK %d", qb_ipcc_fc_enable_max_set(conn, num(w[1])));
	} else if (strcmp(w[0], "BYE") == 0 && n == 2) {
		struct qb_ipc_request_header h = {.id = IPCC_BYE, .size = IPCC_REQ_HDR + 4};

		need_conn();
		memcpy(msg, &h, sizeof(h));
		ipcc_put32(msg + IPCC_REQ_HDR, num(w[1]));
		say("OK %zd", qb_ipcc_send(conn, msg, IPCC_REQ_HDR + 4));
	} else if (strcmp(w[0], "GONE") == 0) {
		ssize_t rr, er, sr;
		int connected;

		need_conn();
		rr = recv_reply(reply, sizeof(reply));
		connected = qb_ipcc_is_connected(conn);
		er = qb_ipcc_event_recv(conn, reply, sizeof(reply), 0);
		ipcc_make_echo(msg, IPCC_MIN_MSG, 0);
		sr = qb_ipcc_send(conn, msg, IPCC_MIN_MSG);
		say("OK %zd %d %zd %zd", rr, connected, er, sr);
	} else if (strcmp(w[0], "DISCONNECT") == 0) {
		need_conn();
		qb_ipcc_disconnect(conn);
		conn = NULL;
		say("OK");
	} else if (strcmp(w[0], "FDS") == 0) {
		say("OK %d", count_fds());
	} else if (strcmp(w[0], "QUIT") == 0) {
		if (conn != NULL)
			qb_ipcc_disconnect(conn);
		say("BYE");
		exit(0);
	} else {
		fail("unknown client command '%s'", w[0]);
	}
}

static int run_client(void)
{
	char line[512];

	say("READY %d %s", (int)getpid(), mapped_lib);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		client_command(line);
	}
	fail("input closed");
}

int main(int argc, char **argv)
{
	peer_begin("ipc_peer", mapped_lib, sizeof(mapped_lib));
	if (argc == 4 && strcmp(argv[1], "server") == 0) {
		service = argv[2];
		return run_server(argv[3]);
	}
	if (argc == 3 && strcmp(argv[1], "client") == 0) {
		service = argv[2];
		return run_client();
	}
	fprintf(stderr, "usage: ipc_peer server NAME shm|socket|native\n"
			"       ipc_peer client NAME\n");
	return 2;
}
