/*
 * ipc_interop_pair.h: one IPC interop pairing, this program and an ipc_peer
 * on the other libqb, for check_ipc_interop_*.c.
 *
 * Every scenario runs with this program as the server ("we serve") and as
 * the client ("we call"), over SHM and SOCKET, so the runs against both
 * libraries together cover every pairing. The sv_* helpers act on the
 * server's side and the cl_* helpers on the client's side, whichever process
 * plays it. finish() ends a case: the server's counters balance, and no
 * /dev/shm entry of the case and no extra fd is left on our side.
 *
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_IPC_INTEROP_PAIR_H
#define QBT_IPC_INTEROP_PAIR_H

#include <dirent.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>

#include "ipc_interop_peer.h"
#include "leak_probes.h"

/* ----------------------------------------------------------- bookkeeping */

/* /dev/shm entries of connections involving process `pid` (qb-S-C-F-xxxxxx). */
static inline int count_shm(pid_t pid)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	char tag[32];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	snprintf(tag, sizeof(tag), "-%d-", (int)pid);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "qb-", 3) == 0 && strstr(e->d_name + 2, tag) != NULL)
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------- a pairing */

enum role { WE_SERVE, WE_CALL };

struct pair {
	enum role role;
	enum qb_ipc_type type;
	const char *tword;
	char name[64];
	struct peer p;
	int fds;                 /* our baseline */
	qb_ipcc_connection_t *c; /* our client connection (WE_CALL) */
	int bufsize;
	int peer_stock;          /* the peer runs on stock libqb */
	uint8_t msg[IPCC_MAX_MSG], reply[IPCC_MAX_MSG];
};

static struct pair pr;

/* True when `path` (a mapped libqb) is the stock library. */
static inline int is_stock_lib(const char *path)
{
	const char *dir = getenv("QBT_STOCK_LIBDIR");
	char lib[PATH_MAX], stock[PATH_MAX], mapped[PATH_MAX];

	snprintf(lib, sizeof(lib), "%s/libqb.so.100", dir ? dir : "/nonexistent");
	if (realpath(lib, stock) == NULL || realpath(path, mapped) == NULL)
		return 0;
	return strcmp(stock, mapped) == 0;
}

/* True when this process runs on the stock library. */
static inline const char *tword(enum qb_ipc_type t)
{
	return t == QB_IPC_SOCKET ? "socket" : t == QB_IPC_SHM ? "shm" : "native";
}

static inline int setup(enum role role, enum qb_ipc_type type)
{
	if (!peer_available())
		return 0;
	memset(&pr, 0, sizeof(pr));
	pr.role = role;
	pr.type = type;
	pr.tword = tword(type);
	snprintf(pr.name, sizeof(pr.name), "ipcit-%d-%d-%s", (int)main_pid, (int)getpid(),
		 pr.tword);
	pr.fds = count_fds();
	ck_assert_int_eq(count_shm(getpid()), 0);
	if (role == WE_SERVE) {
		memset(&srv, 0, sizeof(srv));
		loop = qb_loop_create();
		ck_assert_ptr_nonnull(loop);
		srv.changed = srv_changed;
		ck_assert_int_eq(ipcc_server_start(&srv, loop, pr.name, type), 0);
		peer_start(&pr.p, "client", pr.name, NULL);
		ck_assert_int_eq(qb_loop_poll_add(loop, QB_LOOP_HIGH, pr.p.ans, POLLIN, &pr.p,
						  on_answer),
				 0);
		served_peer = &pr.p;
	} else {
		peer_start(&pr.p, "server", pr.name, pr.tword);
	}
	{
		const char *ready = peer_expect(&pr.p, "READY");
		const char *lib = strchr(ready, ' ');

		ck_assert_int_eq(atoi(ready), pr.p.pid);
		ck_assert_ptr_nonnull(lib);
		pr.peer_stock = is_stock_lib(lib + 1);
	}
	return 1;
}

#define SETUP_OR_SKIP(role, type)                                           \
	do {                                                                \
		if (!setup((role), (type)))                                 \
			return;                                             \
	} while (0)

/* ------------------------------------------------- the server's side, either */

struct counts {
	long accepted, created, closed, destroyed, requests, bad, events, anomalies;
};

static inline void counts_of_srv(struct counts *k)
{
	k->accepted = srv.accepted;
	k->created = srv.created;
	k->closed = srv.closed;
	k->destroyed = srv.destroyed;
	k->requests = srv.requests;
	k->bad = srv.bad;
	k->events = srv.events_sent;
	k->anomalies = srv.anomalies;
}

static inline void counts_parse(struct counts *k, const char *s)
{
	ck_assert_int_eq(sscanf(s, "%ld %ld %ld %ld %ld %ld %ld %ld", &k->accepted, &k->created,
				&k->closed, &k->destroyed, &k->requests, &k->bad, &k->events,
				&k->anomalies),
			 8);
}

/* The server's counters once `field` reached n (waiting for it). */
static inline void sv_wait(const char *field, int n, struct counts *k)
{
	if (pr.role == WE_SERVE) {
		int *ctr = strcmp(field, "created") == 0	  ? &srv.created
			   : strcmp(field, "closed") == 0	  ? &srv.closed
			   : strcmp(field, "destroyed") == 0 ? &srv.destroyed
							     : &srv.requests;

		serve_until(ctr, n);
		counts_of_srv(k);
	} else {
		peer_send(&pr.p, "WAIT %s %d", field, n);
		peer_expect(&pr.p, "OK");
		/* The wait is answered from inside the callback; the server's
		 * teardown of the connection ends with that dispatch, so one
		 * more round trip sees its result. */
		peer_send(&pr.p, "COUNTS");
		counts_parse(k, peer_expect(&pr.p, "OK"));
	}
}

/* A finished lifecycle: each connection created, closed, destroyed once. */
static inline void assert_lifecycles(const struct counts *k, long conns, long requests)
{
	ck_assert_int_eq(k->accepted, conns);
	ck_assert_int_eq(k->created, conns);
	ck_assert_int_eq(k->closed, conns);
	ck_assert_int_eq(k->destroyed, conns);
	ck_assert_int_eq(k->anomalies, 0);
	ck_assert_int_eq(k->bad, 0);
	if (requests >= 0)
		ck_assert_int_eq(k->requests, requests);
}

/* Newest connection's stats: pid requests responses events fc_state fc_count q_len. */
static inline void sv_cstats(long *v)
{
	if (pr.role == WE_SERVE) {
		struct qb_ipcs_connection_stats st;
		struct qb_ipcs_connection_stats_2 *st2;

		ck_assert_ptr_nonnull(srv.last);
		memset(&st, 0, sizeof(st));
		ck_assert_int_eq(qb_ipcs_connection_stats_get(srv.last, &st, 0), 0);
		st2 = qb_ipcs_connection_stats_get_2(srv.last, 0);
		ck_assert_ptr_nonnull(st2);
		v[0] = st.client_pid;
		v[1] = (long)st.requests;
		v[2] = (long)st.responses;
		v[3] = (long)st.events;
		v[4] = st.flow_control_state;
		v[5] = (long)st.flow_control_count;
		v[6] = st2->event_q_length;
		ck_assert_int_eq(st2->client_pid, st.client_pid);
		ck_assert_uint_eq(st2->requests, st.requests);
		free(st2);
	} else {
		ck_assert_int_eq(peer_ask(&pr.p, v, 7, "CSTATS"), 7);
	}
}

static inline pid_t server_pid(void)
{
	return pr.role == WE_SERVE ? getpid() : pr.p.pid;
}

static inline pid_t client_pid(void)
{
	return pr.role == WE_SERVE ? pr.p.pid : getpid();
}

/* ------------------------------------------------- the client's side, either */

static inline ssize_t recv_sliced(int event, void *buf, size_t len)
{
	ssize_t r = -ETIMEDOUT;
	int i;

	for (i = 0; i < SLICES; i++) {
		r = event ? qb_ipcc_event_recv(pr.c, buf, len, SLICE_MS)
			  : qb_ipcc_recv(pr.c, buf, len, SLICE_MS);
		if (r != -ETIMEDOUT && r != -EAGAIN)
			break;
	}
	return r;
}

static inline void assert_reply(ssize_t got, int32_t id, uint32_t size, uint32_t seq,
				uint32_t salt)
{
	const char *why = ipcc_check_reply(pr.reply, got, id, size, seq, salt);

	ck_assert_msg(why == NULL, "reply seq %u size %u: %s (got %zd)", seq, size,
		      why ? why : "", got);
}

static inline void cl_connect(int async)
{
	long v[3];

	if (pr.role == WE_SERVE) {
		int created = srv.created;

		ck_assert_int_eq(peer_ask(&pr.p, v, 3, "%s %u", async ? "ACONNECT" : "CONNECT",
					  IPCC_CLIENT_MAX),
				 3);
		ck_assert_int_eq(v[0], 0);
		pr.bufsize = (int)v[1];
		ck_assert_int_eq(v[2], getpid());
		serve_until(&srv.created, created + 1);
	} else {
		pid_t spid = 0;
		uid_t uid = 1;
		gid_t gid = 1;
		int fd = -1;

		if (async) {
			struct pollfd pfd = {.events = POLLIN};

			pr.c = qb_ipcc_connect_async(pr.name, IPCC_CLIENT_MAX, &fd);
			ck_assert_ptr_nonnull(pr.c);
			ck_assert_int_ge(fd, 0);
			pfd.fd = fd;
			ck_assert_int_eq(poll(&pfd, 1, GUARD_MS), 1);
			ck_assert_int_eq(qb_ipcc_connect_continue(pr.c), 0);
		} else {
			pr.c = qb_ipcc_connect(pr.name, IPCC_CLIENT_MAX);
			ck_assert_msg(pr.c != NULL, "connect %s: %s", pr.name, strerror(errno));
		}
		ck_assert_int_eq(qb_ipcc_auth_get(pr.c, &spid, &uid, &gid), 0);
		ck_assert_int_eq(spid, pr.p.pid);
		ck_assert_uint_eq(uid, geteuid());
		ck_assert_uint_eq(gid, getegid());
		ck_assert_int_eq(qb_ipcc_is_connected(pr.c), 1);
		fd = -1;
		ck_assert_int_eq(qb_ipcc_fd_get(pr.c, &fd), 0);
		ck_assert_int_ge(fd, 0);
		pr.bufsize = qb_ipcc_get_buffer_size(pr.c);
	}
	ck_assert_int_ge(pr.bufsize, (int)IPCC_CLIENT_MAX);
	ck_assert_int_le(pr.bufsize, (int)IPCC_MAX_MSG);
}

static inline void cl_echo(uint32_t size, uint32_t seq, int vectored)
{
	ssize_t r;

	if (pr.role == WE_SERVE) {
		peer_send(&pr.p, "%s %u %u", vectored ? "ECHOV" : "ECHO", size, seq);
		peer_expect(&pr.p, "OK");
		return;
	}
	ipcc_make_echo(pr.msg, size, seq);
	if (vectored) {
		struct iovec iov[3] = {{pr.msg, 7},
				       {pr.msg + 7, IPCC_REQ_HDR},
				       {pr.msg + 7 + IPCC_REQ_HDR, size - 7 - IPCC_REQ_HDR}};

		IPCC_RETRY_EAGAIN(r, qb_ipcc_sendv_recv(pr.c, iov, 3, pr.reply, sizeof(pr.reply), -1));
		assert_reply(r, IPCC_ECHO, size, seq, IPCC_SALT_RES);
	} else {
		IPCC_RETRY_EAGAIN(r, qb_ipcc_send(pr.c, pr.msg, size));
		ck_assert_int_eq(r, size);
		assert_reply(recv_sliced(0, pr.reply, sizeof(pr.reply)), IPCC_ECHO, size, seq,
			     IPCC_SALT_RES);
	}
}

static inline void cl_evrecv(uint32_t n, uint32_t size, uint32_t seq)
{
	uint32_t i;

	if (pr.role == WE_SERVE) {
		peer_send(&pr.p, "EVRECV %u %u %u", n, size, seq);
		peer_expect(&pr.p, "OK");
		return;
	}
	for (i = 0; i < n; i++)
		assert_reply(recv_sliced(1, pr.reply, sizeof(pr.reply)), IPCC_EVENT, size,
			     seq + i, IPCC_SALT_EVT);
}

/* Asks the server for n events and receives them. */
static inline void cl_events(uint32_t n, uint32_t size, uint32_t seq)
{
	struct qb_ipc_request_header h = {.id = IPCC_EVENTS, .size = IPCC_REQ_HDR + 12};
	struct qb_ipc_response_header ack;
	ssize_t r;

	if (pr.role == WE_SERVE) {
		peer_send(&pr.p, "EVENTS %u %u %u", n, size, seq);
		peer_expect(&pr.p, "OK");
		return;
	}
	memcpy(pr.msg, &h, sizeof(h));
	ipcc_put32(pr.msg + IPCC_REQ_HDR, n);
	ipcc_put32(pr.msg + IPCC_REQ_HDR + 4, size);
	ipcc_put32(pr.msg + IPCC_REQ_HDR + 8, seq);
	IPCC_RETRY_EAGAIN(r, qb_ipcc_send(pr.c, pr.msg, IPCC_REQ_HDR + 12));
	ck_assert_int_eq(r, IPCC_REQ_HDR + 12);
	r = recv_sliced(0, pr.reply, sizeof(pr.reply));
	ck_assert_int_eq(r, IPCC_RES_HDR + 4);
	memcpy(&ack, pr.reply, sizeof(ack));
	ck_assert_int_eq(ack.id, IPCC_EVENTS);
	ck_assert_int_eq(ack.error, 0);
	ck_assert_uint_eq(ipcc_get32(pr.reply + IPCC_RES_HDR), n);
	cl_evrecv(n, size, seq);
}

static inline void cl_disconnect(void)
{
	if (pr.role == WE_SERVE) {
		peer_send(&pr.p, "DISCONNECT");
		peer_expect(&pr.p, "OK");
		return;
	}
	qb_ipcc_disconnect(pr.c);
	pr.c = NULL;
}

/* ------------------------------------------------------------- teardown */

/* Ends the case: the peer quits, our side is torn down, the server's
 * counters balance and nothing is left in /dev/shm or our fd table. */
static inline void finish(long conns)
{
	struct counts k;
	int status;

	if (pr.role == WE_SERVE) {
		peer_send(&pr.p, "QUIT");
		peer_expect(&pr.p, "BYE");
		status = peer_reap(&pr.p);
		served_peer = NULL;
		serve_until(&srv.destroyed, (int)conns);
		counts_of_srv(&k);
		qb_ipcs_destroy(srv.svc);
		srv.svc = NULL;
		qb_loop_destroy(loop);
		loop = NULL;
	} else {
		if (pr.c != NULL)
			cl_disconnect();
		peer_send(&pr.p, "QUIT");
		counts_parse(&k, peer_expect(&pr.p, "BYE"));
		status = peer_reap(&pr.p);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "peer exit status 0x%x",
		      status);
	assert_lifecycles(&k, conns, -1);
	ck_assert_int_eq(count_shm(getpid()), 0);
	ck_assert_int_eq(count_fds(), pr.fds);
}

/* ------------------------------------------------------------ case table */

/* One scenario as two Check tests, <scn>_<transport>_we_serve and _we_call. */
#define PAIRED(scn, tr, TR)                                                 \
	START_TEST(scn##_##tr##_we_serve)                                   \
	{                                                                   \
		scn(WE_SERVE, TR);                                          \
	}                                                                   \
	END_TEST                                                            \
	START_TEST(scn##_##tr##_we_call)                                    \
	{                                                                   \
		scn(WE_CALL, TR);                                           \
	}                                                                   \
	END_TEST

#define BOTH_TRANSPORTS(scn)                                                \
	PAIRED(scn, shm, QB_IPC_SHM)                                        \
	PAIRED(scn, socket, QB_IPC_SOCKET)

#define ADD_PAIRED(s, scn, tr)                                              \
	do {                                                                \
		QBT_ADD_TEST(s, scn##_##tr##_we_serve);                     \
		QBT_ADD_TEST(s, scn##_##tr##_we_call);                      \
	} while (0)

#define ADD_BOTH(s, scn)                                                    \
	do {                                                                \
		ADD_PAIRED(s, scn, shm);                                    \
		ADD_PAIRED(s, scn, socket);                                 \
	} while (0)

/* Removes /dev/shm entries a failed case left behind, once all have run. */
static inline void remove_leftovers(void)
{
	char tag[32], path[PATH_MAX + 300];
	DIR *d, *sub;
	struct dirent *e, *f;

	if (getpid() != main_pid)
		return;
	snprintf(tag, sizeof(tag), "ipcit-%d-", (int)main_pid);
	d = opendir("/dev/shm");
	if (d == NULL)
		return;
	/* connection directories hold ring files named after our services */
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "qb-", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		sub = opendir(path);
		if (sub == NULL)
			continue;
		while ((f = readdir(sub)) != NULL) {
			if (strstr(f->d_name, tag) != NULL) {
				char file[PATH_MAX + 600];

				snprintf(file, sizeof(file), "%s/%s", path, f->d_name);
				unlink(file);
			}
		}
		closedir(sub);
		rmdir(path); /* only succeeds once empty */
	}
	closedir(d);
}

/* Runs the suite; the /dev/shm leftovers of failed cases go at exit. */
static inline int interop_main(Suite *s)
{
	main_pid = getpid();
	atexit(remove_leftovers);
	return qbt_main(s);
}

#endif /* QBT_IPC_INTEROP_PAIR_H */
