/*
 * ipc_hostile_wire.h: the fixture of the connection-phase hostile IPC
 * suites (check_ipc_hostile_handshake.c, check_ipc_hostile_limits.c,
 * check_ipc_hostile_client.c; security.md §4 cases 1-10, 12, 13, 26, 27).
 *
 * The server under attack is c-tests/ipc_peer ("ipc_peer server NAME shm")
 * in a process of its own, on the libqb this program runs against, so its
 * crash is observed, not suffered; S is that server. Next to it: a
 * well-behaved client (qb_ipcc_*) that must still be served, a raw attacker
 * speaking the handshake itself over a plain socket, and case_finish(), the
 * common end of every case (server alive, good client served, descriptors
 * back to their baseline, no /dev/shm entry of the server left, clean QUIT).
 * Waits poll a condition with a deadline; none is a plain sleep.
 */
#ifndef IPC_HOSTILE_WIRE_H
#define IPC_HOSTILE_WIRE_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>

#include "ipc_chat.h"
#include "ipc_evil_server.h"
#include "ipc_hostile_fixture.h"
#include "peer_spawn.h"
#include "qbtest.h"

#define GUARD_MS 20000   /* only turns a dead or stuck peer into a failure */
#define SETTLE_MS 5000   /* bound for the server to finish cleaning up */
#define OTHER_UID 65534  /* "nobody", for the cases that need a second uid */

/* A short pause inside a bounded wait loop (never synchronisation itself). */
static inline void tick(void)
{
	poll(NULL, 0, 10);
}

/* ------------------------------------------------------- the server peer */

struct server {
	pid_t pid;
	int cmd, ans;
	struct qbt_answers in;
	char name[64];
	char line[512]; /* the last answer */
	char sent[256]; /* the last command */
	int baseline_fds;
	/* /dev/shm entries named like this server's before it ran: left by an
	 * earlier process with the same pid (pids wrap quickly in a test run). */
	int stale_shm;
};

static struct server S;
static int name_counter;

/* Reads one answer line into S.line; returns 0, or -1 on end of input. */
static inline int server_read_line(int guard_ms)
{
	int r = qbt_read_line(&S.in, S.ans, S.line, sizeof(S.line), guard_ms);

	ck_assert_msg(r >= 0, "server %d gave no answer within %d ms", (int)S.pid, guard_ms);
	return r > 0 ? 0 : -1;
}

/* Sends one command line; S.sent keeps it for messages. */
static inline void server_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void server_send(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = qbt_vsend_line(S.cmd, S.sent, sizeof(S.sent), fmt, ap);
	va_end(ap);
	ck_assert_int_gt(n, 0);
}

/* The answer line to the command just sent, which must not be FAIL. */
static inline const char *server_answer(void)
{
	ck_assert_msg(server_read_line(GUARD_MS) == 0, "server %d died (asked: %.*s)",
		      (int)S.pid, (int)strcspn(S.sent, "\n"), S.sent);
	ck_assert_msg(strncmp(S.line, "FAIL", 4) != 0, "server: %s", S.line);
	return S.line;
}

/* Sends a command and returns its answer line. */
#define server_ask(...) (server_send(__VA_ARGS__), server_answer())

struct server_opts {
	const char *env[6]; /* "NAME=value" */
	rlim_t nofile;      /* 0: inherited */
};

/* In the server's process, before exec: the options' environment and
 * limits. */
static inline void server_child_setup(void *arg)
{
	const struct server_opts *o = arg;
	struct rlimit fsize = {256u << 20, 256u << 20};
	int i;

	for (i = 0; o != NULL && i < 6 && o->env[i] != NULL; i++)
		putenv((char *)o->env[i]);
	/* A server that believes a client's 4 GiB must not fill the
	 * machine's memory through /dev/shm: EFBIG instead. */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &fsize);
	if (o != NULL && o->nofile != 0) {
		struct rlimit nf = {o->nofile, o->nofile};

		setrlimit(RLIMIT_NOFILE, &nf);
	}
}

/* Number of /dev/shm entries named qb-<pid>-... */
static inline int shm_entries_of(pid_t pid)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "qb-%d-", (int)pid);
	return shm_scan(prefix, NULL, 0, NULL, 0);
}

/*
 * Starts the server peer for service `name` (NULL: a fresh name). Returns 0
 * when it said READY, or -1 when it failed to start (its FAIL line is in
 * S.line).
 */
static inline int server_try_start(const struct server_opts *o, const char *name)
{
	const char *path = getenv("QBT_IPC_PEER"), *libdir = server_libdir();
	char *argv[] = {(char *)path, "server", S.name, "shm", NULL};
	struct qbt_peer_proc pp;

	ck_assert_msg(path != NULL && libdir != NULL,
		      "QBT_IPC_PEER, QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR must be set");
	memset(&S, 0, sizeof(S));
	if (name != NULL)
		snprintf(S.name, sizeof(S.name), "%s", name);
	else
		snprintf(S.name, sizeof(S.name), "qbhw-%d-%d", (int)getpid(), name_counter++);
	pp = qbt_peer_spawn(argv, libdir, server_child_setup, (void *)o);
	S.pid = pp.pid;
	S.cmd = pp.cmd;
	S.ans = pp.ans;
	if (server_read_line(GUARD_MS) != 0)
		return -1;
	if (strncmp(S.line, "READY ", 6) != 0)
		return -1;
	ck_assert_int_eq(atoi(S.line + 6), S.pid);
	/* No client yet, so none of these entries is the server's. */
	S.stale_shm = shm_entries_of(S.pid);
	return 0;
}

static inline int server_fds(void);

static inline void server_start(const struct server_opts *o)
{
	ck_assert_msg(server_try_start(o, NULL) == 0, "server did not start: %s", S.line);
	S.baseline_fds = server_fds();
}

static inline int server_alive(void)
{
	int st;

	return S.pid > 0 && waitpid(S.pid, &st, WNOHANG) == 0;
}

static inline int server_fds(void)
{
	int n = -1;

	ck_assert_int_eq(sscanf(server_ask("FDS"), "OK %d", &n), 1);
	return n;
}

/* Ends the server: QUIT, then its exit status must be 0. */
static inline void server_quit(void)
{
	int st = 0;

	server_send("QUIT");
	ck_assert_msg(server_read_line(GUARD_MS) == 0 && strncmp(S.line, "BYE", 3) == 0,
		      "server did not say BYE: %s", S.line);
	close(S.cmd);
	close(S.ans);
	ck_assert_int_eq(waitpid(S.pid, &st, 0), S.pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server exit status 0x%x", st);
	S.pid = 0;
}

/* Kills and reaps a server that failed a case (or was meant to die). */
static inline void server_kill(void)
{
	if (S.pid > 0) {
		kill(S.pid, SIGKILL);
		waitpid(S.pid, NULL, 0);
		close(S.cmd);
		close(S.ans);
		S.pid = 0;
	}
}

/* Bytes of VmPeak (or another /proc/<pid>/status field) in KiB. */
static inline long proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;
	size_t fl = strlen(field);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	ck_assert(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = atol(line + fl + 1);
	fclose(f);
	ck_assert_int_ge(v, 0);
	return v;
}

/* ------------------------------------------------------ the good client */

static uint8_t msg[IPCC_MAX_MSG], reply[IPCC_MAX_MSG];

static inline void echo_once(qb_ipcc_connection_t *c, uint32_t size, uint32_t seq)
{
	const char *why;
	ssize_t r;
	int i;

	ipcc_make_echo(msg, size, seq);
	IPCC_RETRY_EAGAIN(r, qb_ipcc_send(c, msg, size));
	ck_assert_msg(r == (ssize_t)size, "good client: send of %u returned %zd", size, r);
	for (i = 0; i < 10; i++) {
		r = qb_ipcc_recv(c, reply, sizeof(reply), 1000);
		if (r != -ETIMEDOUT && r != -EAGAIN)
			break;
	}
	why = ipcc_check_reply(reply, r, IPCC_ECHO, size, seq, IPCC_SALT_RES);
	ck_assert_msg(why == NULL, "good client: echo %u of %u bytes: %s (got %zd)", seq, size,
		      why, r);
}

static inline void good_echoes(qb_ipcc_connection_t *c)
{
	static const uint32_t sizes[] = {IPCC_MIN_MSG, 3000, 60000};
	static uint32_t seq;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		echo_once(c, sizes[i], seq++);
}

/* A well-behaved client connects, gets three correct echoes, disconnects. */
static inline void good_client_served(void)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);

	ck_assert_msg(c != NULL, "good client could not connect to %s: %s", S.name,
		      strerror(errno));
	good_echoes(c);
	qb_ipcc_disconnect(c);
}

/*
 * The common end of a case: server alive, a good client served, the
 * server's descriptors back to their baseline and its /dev/shm entries
 * gone (after it finished cleaning up), then a clean QUIT.
 */
static inline void case_finish(void)
{
	long long deadline;
	int fds = -1, shm = -1;

	ck_assert_msg(server_alive(), "the server process died");
	good_client_served();
	deadline = now_ms() + SETTLE_MS;
	while ((fds = server_fds()) != S.baseline_fds && now_ms() < deadline)
		tick();
	ck_assert_msg(fds == S.baseline_fds, "server holds %d descriptors, %d at start", fds,
		      S.baseline_fds);
	deadline = now_ms() + SETTLE_MS;
	while ((shm = shm_entries_of(S.pid)) != S.stale_shm && now_ms() < deadline)
		tick();
	ck_assert_msg(shm == S.stale_shm, "%d /dev/shm entries of the server left", shm);
	server_quit();
}

/* ------------------------------------------------------ the raw attacker */

/* A stream socket connected to the service, credentials passing on (as a
 * libqb client does); -errno when the connect fails. */
static inline int raw_connect_name(const char *name, int nonblock)
{
	struct sockaddr_un a;
	int one = 1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", name);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	return fd;
}

static inline int raw_connect(void)
{
	int fd = raw_connect_name(S.name, 0);

	ck_assert_msg(fd >= 0, "attacker could not connect: %s", strerror(-fd));
	return fd;
}

static inline void raw_send(int fd, const void *p, size_t len)
{
	ck_assert_int_eq(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

static inline void raw_hello(int fd, int32_t id, int32_t size, uint32_t max)
{
	struct evil_wire_req req;

	memset(&req, 0, sizeof(req));
	req.hdr.id = id;
	req.hdr.size = size;
	req.max_msg_size = max;
	raw_send(fd, &req, sizeof(req));
}

/* Reads the server's answer: the byte count read (12328 when complete),
 * 0 or a short count when the server closed first. */
static inline ssize_t raw_answer(int fd, struct evil_wire_resp *r, int guard_ms)
{
	long long deadline = now_ms() + guard_ms;
	size_t got = 0;

	memset(r, 0, sizeof(*r));
	while (got < sizeof(*r)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;

		ck_assert_msg(left > 0, "no answer from the server within %d ms", guard_ms);
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, (char *)r + got, sizeof(*r) - got, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n > 0)
			got += (size_t)n;
	}
	return (ssize_t)got;
}

/* 1 once the server has closed `fd` (end of stream or reset), 0 if it is
 * still open when `ms` run out. Drains whatever the server sent. */
static inline int raw_closed_within(int fd, int ms)
{
	long long deadline = now_ms() + ms;
	char scratch[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
}

/* ------------------------------------------------ after the last case */

/* 1 when /dev/shm/<dir> holds only files named after this suite's services
 * (or nothing a case could have made besides). */
static inline int only_suite_files(const char *dir, int evil)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int ours = 0, other = 0;

	snprintf(path, sizeof(path), "/dev/shm/%s", dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (strstr(e->d_name, evil ? "-evil-" : "-qbhw-") != NULL)
			ours++;
		else
			other++;
	}
	closedir(d);
	return ours > 0 && other == 0;
}

/*
 * A case that fails leaves its server (killed with the case) or fake
 * server with files behind; the leak checks of the passing cases ran
 * already. Removes such leftovers of dead processes named after this
 * suite, so a failed run does not pollute /dev/shm for the next one.
 */
static inline void sweep_failed_cases(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int swept = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int evil = strncmp(e->d_name, "qb-evil-", 8) == 0;
		int pid = atoi(e->d_name + (evil ? 8 : 3));
		char path[PATH_MAX + 300];
		DIR *sub;
		struct dirent *f;

		if (strncmp(e->d_name, "qb-", 3) != 0 || pid <= 0 ||
		    (kill(pid, 0) == 0 || errno != ESRCH) || !only_suite_files(e->d_name, evil))
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		sub = opendir(path);
		if (sub == NULL)
			continue;
		while ((f = readdir(sub)) != NULL)
			if (f->d_name[0] != '.')
				unlinkat(dirfd(sub), f->d_name, 0);
		closedir(sub);
		if (rmdir(path) == 0)
			swept++;
	}
	closedir(d);
	if (swept > 0)
		printf("swept %d /dev/shm directories left by failed cases\n", swept);
}

/* The main() of a connection-phase suite: its cases, then the sweep. */
static inline int hostile_wire_main(Suite *(*make_suite)(void))
{
	int rc;

	if (access("/etc/libqb/force-filesystem-sockets", F_OK) == 0) {
		printf("SKIP: filesystem sockets forced; this suite speaks abstract names\n");
		return 0;
	}
	rc = qbt_main(make_suite());
	sweep_failed_cases();
	return rc;
}

#endif /* IPC_HOSTILE_WIRE_H */
