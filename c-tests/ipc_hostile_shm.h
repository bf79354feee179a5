/*
 * ipc_hostile_shm.h: the fixture of the shared-memory hostile IPC suites
 * (check_ipc_hostile_rings.c, check_ipc_hostile_lifetime.c; security.md §4
 * cases 11 and 14-25).
 *
 * The server under attack is c-tests/ipc_peer in server mode, a process of
 * its own running the libqb this program was started with, so a crash or a
 * hang of the server is observed, not suffered. The attacker connects with
 * qb_ipcc_connect, finds the connection's directory in /dev/shm
 * (qb-<server pid>-<our pid>-<fd>-XXXXXX) and maps the six ring files (SHM)
 * or the control file (SOCKET) itself (ipc_shm_evil.h writes into them).
 * A scene is one case: the server plus a well-behaved client that must keep
 * getting verified echo replies. scene_close() is the common end: the server
 * is alive and serves the good client, every connection created was closed
 * and destroyed exactly once (ipc_peer's anomaly counter), no /dev/shm entry
 * of the server is left, its descriptor count is back to its baseline and
 * it exits cleanly on QUIT. Waits are bounded polls on a condition; the
 * bounds only turn a hung server into a failure.
 */
#ifndef IPC_HOSTILE_SHM_H
#define IPC_HOSTILE_SHM_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>

#include "ipc_chat.h"
#include "ipc_hostile_fixture.h"
#include "ipc_shm_evil.h"
#include "peer_spawn.h"
#include "qbtest.h"

/* A server that has not answered a command within this is hung. */
#define ANSWER_MS 10000
/* The good client must get its reply within this. */
#define SERVE_MS 5000
/* Cleanup (dirs removed, callbacks run) must be over within this. */
#define SETTLE_MS 10000

#define ECHO_LEN 300u

/* Progress notes on stderr with H2_TRACE=1 (to see where a server fails). */
static inline void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void trace(const char *fmt, ...)
{
	const char *on = getenv("H2_TRACE");
	va_list ap;

	if (on == NULL || strcmp(on, "1") != 0)
		return;
	va_start(ap, fmt);
	fputs("  trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* First variant of a table-driven case to run (H2_FROM=k, default 0): lets
 * the stock comparison see the variants after the first one stock fails. */
static inline unsigned first_variant(void)
{
	const char *from = getenv("H2_FROM");

	return from != NULL ? (unsigned)atoi(from) : 0;
}

/* ------------------------------------------------------ the server process */

struct server {
	pid_t pid;
	int cmd, ans;
	struct qbt_answers in;
	char name[64];
	enum qb_ipc_type type;
	int base_fds;
	/* /dev/shm entries named like this server's before it ran: left by an
	 * earlier process with the same pid (pids wrap quickly in a test run). */
	int stale_shm;
	char line[512];
};

static int name_seq;

/* Fails the case saying how the server ended (`st`: its wait status). */
static inline void server_ended(struct server *s, const char *how, int st)
{
	ck_abort_msg("server %d %s: %s %d", (int)s->pid, how,
		     WIFSIGNALED(st) ? "killed by signal" : "exit status",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static inline void server_alive(struct server *s)
{
	int st;

	if (waitpid(s->pid, &st, WNOHANG) != 0)
		server_ended(s, "died", st);
}

/* The next answer line of the server, waiting at most ANSWER_MS. */
static inline const char *server_line(struct server *s)
{
	int r = qbt_read_line(&s->in, s->ans, s->line, sizeof(s->line), ANSWER_MS);

	ck_assert_msg(r >= 0, "server %d did not answer within %d ms (hung?)", (int)s->pid,
		      ANSWER_MS);
	if (r == 0) {
		int st = 0;

		waitpid(s->pid, &st, 0);
		server_ended(s, "is gone", st);
	}
	return s->line;
}

static inline const char *server_ask(struct server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline const char *server_ask(struct server *s, const char *fmt, ...)
{
	char cmd[256];
	const char *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = qbt_vsend_line(s->cmd, cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0)
		server_alive(s);
	ck_assert_msg(s->pid > 0, "no server");
	l = server_line(s);
	ck_assert_msg(strncmp(l, "OK", 2) == 0, "server said '%s' to %.*s", l,
		      (int)strcspn(cmd, "\n"), cmd);
	return l + 2;
}

static inline int server_fds(struct server *s)
{
	return atoi(server_ask(s, "FDS"));
}

/* accepted created closed destroyed requests bad events anomalies */
enum { C_ACC, C_CRE, C_CLO, C_DES, C_REQ, C_BAD, C_EVT, C_ANO, C_N };

static inline void parse_counts(const char *p, int *c)
{
	ck_assert_int_eq(sscanf(p, "%d %d %d %d %d %d %d %d", &c[0], &c[1], &c[2], &c[3], &c[4],
				&c[5], &c[6], &c[7]),
			 C_N);
}

static inline void server_counts(struct server *s, int *c)
{
	parse_counts(server_ask(s, "COUNTS"), c);
}

static inline int count_index(const char *field)
{
	static const char *const names[C_N] = {"accepted", "created", "closed", "destroyed",
					       "requests", "bad", "events", "anomalies"};
	int i;

	for (i = 0; i < C_N; i++)
		if (strcmp(names[i], field) == 0)
			return i;
	ck_abort_msg("unknown counter %s", field);
	return 0;
}

/* Waits (bounded) until counter `field` reaches n. The server is asked
 * again and again, so a hung server and one that just did not do it are
 * told apart. */
static inline void server_wait(struct server *s, const char *field, int n, int *c)
{
	int tmp[C_N], *v = c != NULL ? c : tmp, i = count_index(field);
	int64_t deadline = now_ms() + SETTLE_MS;

	for (;;) {
		server_counts(s, v);
		if (v[i] >= n)
			return;
		ck_assert_msg(now_ms() < deadline,
			      "server %d alive, but %s stayed at %d (expected %d) for %d ms",
			      (int)s->pid, field, v[i], n, SETTLE_MS);
		usleep(1000); /* polling for the condition; the bound is the deadline */
	}
}

static inline void server_prefix(const struct server *s, char *buf, size_t size)
{
	snprintf(buf, size, "qb-%d-", (int)s->pid);
}

static inline void server_start(struct server *s, enum qb_ipc_type type)
{
	const char *path = getenv("QBT_IPC_PEER"), *libdir = server_libdir();
	struct qbt_peer_proc pp;
	const char *l;

	ck_assert_msg(path != NULL && libdir != NULL,
		      "QBT_IPC_PEER, QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR must be set");
	signal(SIGPIPE, SIG_IGN); /* a dead server's pipe: reported, not fatal */
	memset(s, 0, sizeof(*s));
	s->type = type;
	snprintf(s->name, sizeof(s->name), "h2shm-%d-%d", (int)getpid(), ++name_seq);
	{
		char *argv[] = {(char *)path, "server", s->name,
				type == QB_IPC_SOCKET ? "socket" : "shm", NULL};

		pp = qbt_peer_spawn(argv, libdir, NULL, NULL);
	}
	s->pid = pp.pid;
	s->cmd = pp.cmd;
	s->ans = pp.ans;
	l = server_line(s);
	ck_assert_msg(strncmp(l, "READY ", 6) == 0, "server: %s", l);
	{
		char prefix[64];

		/* No client yet, so none of these entries is the server's. */
		server_prefix(s, prefix, sizeof(prefix));
		s->stale_shm = shm_scan(prefix, NULL, 0, NULL, 0);
	}
	s->base_fds = server_fds(s);
}

/* QUIT, and the process must exit with status 0. */
static inline void server_quit(struct server *s, int *bye)
{
	const char *l;
	int st = 0;
	int64_t deadline = now_ms() + ANSWER_MS;

	ck_assert(write(s->cmd, "QUIT\n", 5) == 5);
	l = server_line(s);
	ck_assert_msg(strncmp(l, "BYE ", 4) == 0, "server said '%s' to QUIT", l);
	if (bye != NULL)
		parse_counts(l + 4, bye);
	close(s->cmd);
	close(s->ans);
	while (waitpid(s->pid, &st, WNOHANG) == 0) {
		ck_assert_msg(now_ms() < deadline, "server did not exit after QUIT");
		usleep(1000); /* polling for the exit; the bound is the deadline */
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server exit status 0x%x", st);
	s->pid = 0;
}

/* ---------------------------------------------------------- /dev/shm view */

/* Waits until no /dev/shm entry of the server is left (apart from the stale
 * ones counted when it started). */
static inline void wait_shm_clean(const struct server *s)
{
	char prefix[64];
	int64_t deadline = now_ms() + SETTLE_MS;

	server_prefix(s, prefix, sizeof(prefix));
	while (shm_scan(prefix, NULL, 0, NULL, 0) > s->stale_shm) {
		ck_assert_msg(now_ms() < deadline, "/dev/shm/%s* still there", prefix);
		usleep(1000); /* polling for the condition; the bound is the deadline */
	}
}

/* ------------------------------------------------------- the good client */

static inline void good_echo(qb_ipcc_connection_t *c, uint32_t seq)
{
	static uint8_t msg[ECHO_LEN], reply[IPCC_MAX_MSG];
	int64_t deadline = now_ms() + SERVE_MS;
	ssize_t r;
	const char *why;

	ipcc_make_echo(msg, ECHO_LEN, seq);
	do {
		r = qb_ipcc_send(c, msg, ECHO_LEN);
		if (r == -EAGAIN)
			sched_yield();
	} while (r == -EAGAIN && now_ms() < deadline);
	ck_assert_msg(r == ECHO_LEN, "good client: send returned %zd", r);
	do {
		int left = (int)(deadline - now_ms());

		r = qb_ipcc_recv(c, reply, sizeof(reply), left > 0 ? left : 1);
	} while ((r == -EAGAIN || r == -ETIMEDOUT) && now_ms() < deadline);
	why = ipcc_check_reply(reply, r, IPCC_ECHO, ECHO_LEN, seq, IPCC_SALT_RES);
	ck_assert_msg(why == NULL, "good client not served within %d ms: %s (recv %zd)", SERVE_MS,
		      why, r);
}

static inline qb_ipcc_connection_t *good_connect(struct server *s)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(s->name, IPCC_CLIENT_MAX);

	ck_assert_msg(c != NULL, "good client cannot connect: %s", strerror(errno));
	good_echo(c, 1);
	return c;
}

/* -------------------------------------------------------------- attacker */

struct attacker {
	qb_ipcc_connection_t *c;
	char dir[PATH_MAX];
	int setup_fd; /* the stream socket */
	int req_fd;   /* SOCKET: the datagram socket requests leave from */
	struct evil_ring ring[3]; /* request, response, event (SHM) */
	char control[PATH_MAX];   /* SOCKET */
	uint32_t max;
	int hung_up;
};

enum { R_REQ, R_RES, R_EVT };
static const char *const RING_KIND[3] = {"request", "response", "event"};

static inline int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Among descriptors not open before, the stream socket and (SOCKET) the
 * datagram socket bound to "...-response". */
static inline void find_sockets(struct attacker *a, const uint8_t *before)
{
	int fd;

	a->setup_fd = a->req_fd = -1;
	for (fd = 0; fd < 1024; fd++) {
		int type = 0;
		socklen_t tl = sizeof(type);
		struct sockaddr_un sa;
		socklen_t sl = sizeof(sa);

		if (before[fd] || !fd_open(fd))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0)
			continue;
		if (type == SOCK_STREAM) {
			a->setup_fd = fd;
			continue;
		}
		memset(&sa, 0, sizeof(sa));
		if (type == SOCK_DGRAM && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
		    sl > sizeof(sa_family_t) + 1) {
			size_t n = sl - sizeof(sa_family_t);
			char name[sizeof(sa.sun_path) + 1];

			memcpy(name, sa.sun_path + 1, n - 1);
			name[n - 1] = '\0';
			if (strstr(name, "-response") != NULL)
				a->req_fd = fd;
		}
	}
}

static inline void attacker_connect_max(struct server *s, struct attacker *a, uint32_t max)
{
	char prefix[64], names[16384], found[256] = "";
	size_t nl = 0;
	uint8_t before[1024];
	DIR *d;
	struct dirent *e;
	int fd, i;

	memset(a, 0, sizeof(*a));
	snprintf(prefix, sizeof(prefix), "qb-%d-%d-", (int)s->pid, (int)getpid());
	d = opendir("/dev/shm");
	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name) + 1;

		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && nl + l < sizeof(names)) {
			memcpy(names + nl, e->d_name, l);
			nl += l;
		}
	}
	closedir(d);
	for (fd = 0; fd < 1024; fd++)
		before[fd] = (uint8_t)fd_open(fd);
	a->c = qb_ipcc_connect(s->name, max);
	ck_assert_msg(a->c != NULL, "attacker cannot connect: %s", strerror(errno));
	a->max = (uint32_t)qb_ipcc_get_buffer_size(a->c);
	shm_scan(prefix, names, nl, found, sizeof(found));
	ck_assert_msg(found[0] != '\0', "no new /dev/shm/%s* directory", prefix);
	snprintf(a->dir, sizeof(a->dir), "/dev/shm/%s", found);
	find_sockets(a, before);
	ck_assert_msg(a->setup_fd >= 0, "attacker: setup socket not found");
	if (s->type == QB_IPC_SOCKET) {
		ck_assert_msg(a->req_fd >= 0, "attacker: request socket not found");
		ck_assert(snprintf(a->control, sizeof(a->control), "%s/qb-control-%s", a->dir,
				   s->name) < (int)sizeof(a->control));
		ck_assert_int_eq(access(a->control, F_OK), 0);
		return;
	}
	for (i = 0; i < 3; i++)
		ck_assert_msg(evil_ring_map(&a->ring[i], a->dir, RING_KIND[i], s->name) == 0,
			      "cannot map the %s ring in %s", RING_KIND[i], a->dir);
}

static inline void attacker_connect(struct server *s, struct attacker *a)
{
	attacker_connect_max(s, a, IPCC_CLIENT_MAX);
}

/* Sends one request bypassing the client library: a committed chunk plus
 * its doorbell (SHM), a datagram from the client's own socket (SOCKET). */
static inline void attacker_deliver(struct attacker *a, const void *msg, size_t len)
{
	if (a->req_fd >= 0) {
		ck_assert_int_eq(send(a->req_fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
		return;
	}
	ck_assert_msg(evil_put_chunk(&a->ring[R_REQ], msg, len, (uint32_t)len,
				     EV_MAGIC_COMMITTED, 1) >= 0,
		      "request ring full");
	ck_assert_int_eq(evil_doorbells(a->setup_fd, 1), 0);
}

/* Leaves: the server sees the setup socket hang up first, so nothing the
 * client library does afterwards matters to it. Stock's client library may
 * not survive what was done to the files (SIGBUS), so there the connection
 * object is left behind; ours is freed. */
static inline void attacker_hangup(struct attacker *a)
{
	int i;

	for (i = 0; i < 3; i++)
		evil_ring_unmap(&a->ring[i]);
	if (!a->hung_up)
		shutdown(a->setup_fd, SHUT_RDWR);
	a->hung_up = 1;
	if (a->c != NULL && !qbt_is_stock())
		qb_ipcc_disconnect(a->c);
	a->c = NULL;
}

/* ----------------------------------------------------------- a whole case */

struct scene {
	struct server s;
	qb_ipcc_connection_t *good;
	uint32_t seq;
};

static inline void scene_open(struct scene *sc, enum qb_ipc_type type)
{
	memset(sc, 0, sizeof(*sc));
	server_start(&sc->s, type);
	sc->good = good_connect(&sc->s);
	sc->seq = 2;
}

/* The server is alive and serves the good client. */
static inline void scene_check(struct scene *sc)
{
	server_alive(&sc->s);
	good_echo(sc->good, sc->seq++);
}

/* The server closed `n` connections in total (the attacker was thrown out). */
static inline void scene_kicked(struct scene *sc, int n)
{
	server_wait(&sc->s, "closed", n, NULL);
}

/* A bad request was sent: waits until the server either threw the client
 * out (`closed` reached n) or handed the request to msg_process; then both
 * must be true: not processed, thrown out. */
static inline void scene_refused(struct scene *sc, int n, const int *before, const char *what)
{
	int c[C_N];
	int64_t deadline = now_ms() + SETTLE_MS;

	for (;;) {
		server_counts(&sc->s, c);
		if (c[C_CLO] >= n || c[C_REQ] > before[C_REQ] || now_ms() >= deadline)
			break;
		usleep(1000); /* polling for the condition; the bound is the deadline */
	}
	ck_assert_msg(c[C_REQ] == before[C_REQ], "%s: msg_process was called", what);
	ck_assert_msg(c[C_CLO] >= n, "%s: the client was not disconnected within %d ms", what,
		      SETTLE_MS);
}

/* Everyone leaves; nothing of the server may remain. */
static inline void scene_close(struct scene *sc)
{
	int c[C_N], bye[C_N];

	scene_check(sc);
	qb_ipcc_disconnect(sc->good);
	sc->good = NULL;
	server_counts(&sc->s, c);
	server_wait(&sc->s, "destroyed", c[C_CRE], c);
	ck_assert_msg(c[C_CLO] == c[C_CRE] && c[C_DES] == c[C_CRE],
		      "%d connections created, %d closed, %d destroyed", c[C_CRE], c[C_CLO],
		      c[C_DES]);
	ck_assert_msg(c[C_ANO] == 0, "%d lifecycle anomalies (callbacks repeated or misordered)",
		      c[C_ANO]);
	wait_shm_clean(&sc->s);
	ck_assert_int_eq(server_fds(&sc->s), sc->s.base_fds);
	server_quit(&sc->s, bye);
	ck_assert_int_eq(bye[C_ANO], 0);
}

/* A request of `len` bytes: header {id, len}, zeroed payload. */
static inline void make_req(uint8_t *buf, int32_t id, uint32_t len)
{
	struct qb_ipc_request_header h;

	memset(buf, 0, len);
	h.id = id;
	h.size = (int32_t)len;
	memcpy(buf, &h, sizeof(h));
}

/* An events request (n events of `size` bytes) as ipc_chat.h defines it. */
static inline void make_events_req(uint8_t *buf, uint32_t n, uint32_t size)
{
	make_req(buf, IPCC_EVENTS, IPCC_REQ_HDR + 12);
	ipcc_put32(buf + IPCC_REQ_HDR, n);
	ipcc_put32(buf + IPCC_REQ_HDR + 4, size);
	ipcc_put32(buf + IPCC_REQ_HDR + 8, 1);
}

#endif /* IPC_HOSTILE_SHM_H */
