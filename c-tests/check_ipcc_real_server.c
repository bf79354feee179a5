/*
 * check_ipcc_real_server: the IPC client (qbipcc.h) against real servers.
 *
 * The servers are c-tests/ipc_peer in server mode (ipc_chat.h protocol),
 * run under stock libqb and, unless QBT_IPCC_SKIP_OUR_SERVER=1, under
 * libqb-rs; each case runs over SHM and SOCKET (a Check loop test over the
 * four combinations). Covered: echoes and accessors, timeouts, events, flow
 * control, async connect, the server hanging up, and a dead server.
 *
 * Environment (set by the Makefile): QBT_IPC_PEER (defaults to ipc_peer
 * next to this program), QBT_STOCK_LIBDIR, QBT_OURS_LIBDIR.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcc_fixture.h"
#include "peer_spawn.h"

/* ------------------------------------------------------------ environment */

static const char *server_libdir(int which)
{
	return getenv(which == 0 ? "QBT_STOCK_LIBDIR" : "QBT_OURS_LIBDIR");
}

static int server_usable(int which)
{
	const char *dir = server_libdir(which);
	char lib[PATH_MAX];

	if (which == 1) {
		const char *skip = getenv("QBT_IPCC_SKIP_OUR_SERVER");

		if (skip != NULL && strcmp(skip, "1") == 0)
			return 0;
	}
	if (dir == NULL)
		return 0;
	snprintf(lib, sizeof(lib), "%s/libqb.so.100", dir);
	return access(lib, R_OK) == 0;
}

static const char *peer_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("QBT_IPC_PEER");
	ssize_t n;
	char *slash;

	if (env != NULL)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	ck_assert_int_gt(n, 0);
	path[n] = '\0';
	slash = strrchr(path, '/');
	ck_assert_ptr_nonnull(slash);
	strcpy(slash + 1, "ipc_peer");
	return path;
}

/* ------------------------------------------------------------ peer server */

struct peer {
	pid_t pid;
	int cmd, ans;
	struct qbt_answers in;
	char name[64];
	int shm;
};

static void peer_line(struct peer *p, char *line, size_t size)
{
	ck_assert_msg(qbt_read_line(&p->in, p->ans, line, size, -1) > 0,
		      "ipc_peer stopped answering");
}

/* Sends one command and returns the peer's answer line (must start "OK"). */
static void peer_cmd(struct peer *p, char *line, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void peer_cmd(struct peer *p, char *line, size_t size, const char *fmt, ...)
{
	char out[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = qbt_vsend_line(p->cmd, out, sizeof(out), fmt, ap);
	va_end(ap);
	ck_assert_int_gt(n, 0);
	peer_line(p, line, size);
	ck_assert_msg(strncmp(line, "OK", 2) == 0, "ipc_peer: %s", line);
}

static void peer_start(struct peer *p, int which, int shm)
{
	const char *path = peer_path();
	char line[128];
	struct qbt_peer_proc pp;

	memset(p, 0, sizeof(*p));
	p->shm = shm;
	unique_name(p->name, sizeof(p->name), shm ? "shm" : "sock");
	ck_assert_msg(access(path, X_OK) == 0, "no ipc_peer at %s", path);
	{
		char *argv[] = {(char *)path, "server", p->name, shm ? "shm" : "socket", NULL};

		pp = qbt_peer_spawn(argv, server_libdir(which), NULL, NULL);
	}
	p->pid = pp.pid;
	p->cmd = pp.cmd;
	p->ans = pp.ans;
	peer_line(p, line, sizeof(line));
	ck_assert_msg(strncmp(line, "READY", 5) == 0, "ipc_peer: %s", line);
}

static void peer_close_pipes(struct peer *p)
{
	close(p->cmd);
	close(p->ans);
	p->cmd = p->ans = -1;
}

static void peer_quit(struct peer *p)
{
	char line[256];
	int status = 0;

	ck_assert_int_eq(write(p->cmd, "QUIT\n", 5), 5);
	peer_line(p, line, sizeof(line));
	ck_assert_msg(strncmp(line, "BYE", 3) == 0, "ipc_peer: %s", line);
	peer_close_pipes(p);
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void peer_kill(struct peer *p)
{
	ck_assert_int_eq(kill(p->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(p->pid, NULL, 0), p->pid);
	peer_close_pipes(p);
}

/* Entries the peer's connections left in /dev/shm ("qb-<pid>-..."). */
static int peer_shm_entries(struct peer *p)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "qb-%d-", (int)p->pid);
	return count_shm_prefixed(prefix);
}

/* A killed server's connection directories ("qb-<pid>-..."): once the client
 * has disconnected they must hold no file (the rings were removed); they are
 * then removed here. Stock libqb 2.0.6 leaves them (empty); libqb-rs removes
 * them itself, so on our library there is nothing to do. */
static void peer_remove_empty_dirs(struct peer *p)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	char prefix[32], path[PATH_MAX];

	ck_assert_ptr_nonnull(d);
	snprintf(prefix, sizeof(prefix), "qb-%d-", (int)p->pid);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		ck_assert_msg(rmdir(path) == 0, "%s not removable (%s): files left in it", path,
			      strerror(errno));
	}
	closedir(d);
}

/* Loop index: bit 0 = transport (0 shm, 1 socket), bit 1 = server library. */
static int start_for(int i, struct peer *p)
{
	int which = (i >> 1) & 1;

	if (!server_usable(which)) {
		printf("SKIP: %s server not available\n", which ? "libqb-rs" : "stock");
		return 0;
	}
	peer_start(p, which, (i & 1) == 0);
	return 1;
}

static uint8_t msg[IPCC_MAX_MSG], reply[IPCC_MAX_MSG];

static qb_ipcc_connection_t *connect_to(struct peer *p, size_t max)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(p->name, max);

	ck_assert_msg(c != NULL, "connect %s: %s", p->name, strerror(errno));
	return c;
}

static void echo(qb_ipcc_connection_t *c, uint32_t len, uint32_t seq)
{
	ssize_t r;
	const char *why;

	ipcc_make_echo(msg, len, seq);
	ck_assert_int_eq(qb_ipcc_send(c, msg, len), len);
	r = qb_ipcc_recv(c, reply, sizeof(reply), 5000);
	why = ipcc_check_reply(reply, r, IPCC_ECHO, len, seq, IPCC_SALT_RES);
	ck_assert_msg(why == NULL, "echo %u: %s (%zd)", len, why, r);
}

static void echo_v(qb_ipcc_connection_t *c, uint32_t len, uint32_t seq, int32_t ms)
{
	struct iovec iov[3];
	ssize_t r;
	const char *why;

	ipcc_make_echo(msg, len, seq);
	iov[0].iov_base = msg;
	iov[0].iov_len = 7;
	iov[1].iov_base = msg + 7;
	iov[1].iov_len = 0;
	iov[2].iov_base = msg + 7;
	iov[2].iov_len = len - 7;
	r = qb_ipcc_sendv_recv(c, iov, 3, reply, sizeof(reply), ms);
	why = ipcc_check_reply(reply, r, IPCC_ECHO, len, seq, IPCC_SALT_RES);
	ck_assert_msg(why == NULL, "sendv_recv %u: %s (%zd)", len, why, r);
}

/* How long "forever" is: stock libqb's SHM recv(-1) never notices a dead
 * server, so stock runs get a timeout, which it does check afterwards. */
static int32_t forever(void)
{
	return qbt_is_stock() ? 3000 : -1;
}

/* A request the server counts as bad and never answers. */
static struct qb_ipc_request_header unanswered(void)
{
	struct qb_ipc_request_header h;

	memset(&h, 0, sizeof(h));
	h.id = 999;
	h.size = sizeof(h);
	return h;
}

static void send_unanswered(qb_ipcc_connection_t *c)
{
	struct qb_ipc_request_header h = unanswered();

	ck_assert_int_eq(qb_ipcc_send(c, &h, sizeof(h)), sizeof(h));
}

/* The end of a case whose server is still up: the client leaves, the server
 * quits cleanly, and the connection left nothing in /dev/shm nor (unless
 * fds < 0) a descriptor of ours. */
static void finish_with_server(qb_ipcc_connection_t *c, struct peer *p, int fds)
{
	qb_ipcc_disconnect(c);
	peer_quit(p);
	if (fds >= 0)
		ck_assert_int_eq(count_fds(), fds);
	ck_assert_int_eq(peer_shm_entries(p), 0);
}

/* The end of a case whose server was killed: the client removed the dead
 * server's files for this connection (stock leaves the empty directory
 * behind, removed here) and kept no descriptor. */
static void finish_without_server(qb_ipcc_connection_t *c, struct peer *p, int fds)
{
	qb_ipcc_disconnect(c);
	ck_assert_int_eq(count_fds(), fds);
	if (qbt_is_stock())
		peer_remove_empty_dirs(p);
	ck_assert_int_eq(peer_shm_entries(p), 0);
}

/* ------------------------------------------------------------ real server */

START_TEST(test_echo_and_accessors)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	pid_t pid = 0;
	uid_t uid = 1;
	gid_t gid = 1;
	int fd = -1, fds = count_fds();
	struct stat st;
	uint32_t len;

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 70000);
	ck_assert_int_ge(qb_ipcc_get_buffer_size(c), 70000);
	ck_assert_int_eq(qb_ipcc_is_connected(c), QB_TRUE);
	ck_assert_int_eq(qb_ipcc_auth_get(c, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, p.pid);
	ck_assert_int_eq(uid, getuid());
	ck_assert_int_eq(gid, getgid());
	ck_assert_int_eq(qb_ipcc_auth_get(c, NULL, NULL, NULL), 0);
	ck_assert_int_eq(qb_ipcc_fd_get(c, &fd), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_ptr_null(qb_ipcc_context_get(c));
	qb_ipcc_context_set(c, &p);
	ck_assert_ptr_eq(qb_ipcc_context_get(c), &p);

	for (len = IPCC_MIN_MSG; len <= 65536; len *= 4)
		echo(c, len, len);
	for (len = IPCC_MIN_MSG + 3; len <= 65536; len *= 4)
		echo_v(c, len, len + 1, -1);
	echo_v(c, IPCC_MIN_MSG, 2, 0 + 5000);

	/* Too big for the agreed buffer: refused before anything is sent. */
	ck_assert_int_eq(qb_ipcc_send(c, msg, (size_t)qb_ipcc_get_buffer_size(c) + 1), -EMSGSIZE);
	{
		struct iovec big[2] = {{msg, (size_t)qb_ipcc_get_buffer_size(c)}, {msg, 1}};

		ck_assert_int_eq(qb_ipcc_sendv(c, big, 2), -EMSGSIZE);
	}
	echo(c, IPCC_MIN_MSG, 77);
	ck_assert_int_eq(qb_ipcc_is_connected(c), QB_TRUE);
	finish_with_server(c, &p, fds);
}
END_TEST

START_TEST(test_timeouts)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	struct iovec iov;
	struct qb_ipc_request_header h;
	char line[256];
	int fds = count_fds();

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	/* Nothing to receive: recv times out, event_recv says EAGAIN. */
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), 0), -ETIMEDOUT);
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), 150), -ETIMEDOUT);
	ck_assert_int_eq(qb_ipcc_event_recv(c, reply, sizeof(reply), 0), -EAGAIN);
	ck_assert_int_eq(qb_ipcc_event_recv(c, reply, sizeof(reply), 150), -EAGAIN);

	/* A request that is never answered. */
	h = unanswered();
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	ck_assert_int_eq(qb_ipcc_sendv_recv(c, &iov, 1, reply, sizeof(reply), 150), -ETIMEDOUT);
	ck_assert_int_eq(qb_ipcc_sendv_recv(c, &iov, 1, reply, sizeof(reply), 0), -ETIMEDOUT);
	peer_cmd(&p, line, sizeof(line), "WAIT requests 2");

	/* The connection still works, with every kind of timeout. */
	ipcc_make_echo(msg, 100, 5);
	ck_assert_int_eq(qb_ipcc_send(c, msg, 100), 100);
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), -1), 100);
	ck_assert_ptr_null(ipcc_check_reply(reply, 100, IPCC_ECHO, 100, 5, IPCC_SALT_RES));
	ck_assert_int_eq(qb_ipcc_send(c, msg, 100), 100);
	peer_cmd(&p, line, sizeof(line), "WAIT requests 4");
	/* The answer is there by now (the server answers before counting). */
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), 0), 100);
	ck_assert_int_eq(qb_ipcc_is_connected(c), QB_TRUE);
	finish_with_server(c, &p, fds);
}
END_TEST

START_TEST(test_events)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	struct pollfd pfd;
	char line[256];
	int fd = -1;
	uint32_t i;
	ssize_t r;

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	ck_assert_int_eq(qb_ipcc_fd_get(c, &fd), 0);
	echo(c, IPCC_MIN_MSG, 1); /* the server knows the connection now */
	peer_cmd(&p, line, sizeof(line), "PUSH 3 200 10");
	ck_assert_str_eq(line, "OK 3");

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert(pfd.revents & POLLIN);
	for (i = 0; i < 3; i++) {
		r = qb_ipcc_event_recv(c, reply, sizeof(reply), i == 0 ? 0 : -1);
		ck_assert_ptr_null(ipcc_check_reply(reply, r, IPCC_EVENT, 200, 10 + i, IPCC_SALT_EVT));
	}
	ck_assert_int_eq(qb_ipcc_event_recv(c, reply, sizeof(reply), 0), -EAGAIN);
	/* Nothing left to announce. */
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);

	/* An event bigger than the caller's buffer is refused (libqb's
	 * socket transport writes past the buffer). */
	if (!qbt_is_stock()) {
		peer_cmd(&p, line, sizeof(line), "PUSH 1 300 20");
		r = qb_ipcc_event_recv(c, reply, 100, 2000);
		ck_assert_int_lt(r, 0);
	}
	finish_with_server(c, &p, -1);
}
END_TEST

START_TEST(test_flow_control)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	char line[256];

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	echo(c, IPCC_MIN_MSG, 1);
	ck_assert_int_eq(qb_ipcc_fc_enable_max_set(c, 3), -EINVAL);

	/* Level 1 stops senders by default... */
	peer_cmd(&p, line, sizeof(line), "RATE off");
	ipcc_make_echo(msg, IPCC_MIN_MSG, 2);
	ck_assert_int_eq(qb_ipcc_send(c, msg, IPCC_MIN_MSG), -EAGAIN);
	{
		struct iovec iov = {msg, IPCC_MIN_MSG};

		ck_assert_int_eq(qb_ipcc_sendv(c, &iov, 1), -EAGAIN);
		ck_assert_int_eq(qb_ipcc_sendv_recv(c, &iov, 1, reply, sizeof(reply), 100), -EAGAIN);
	}
	/* ... unless the client raised its threshold below it. */
	ck_assert_int_eq(qb_ipcc_fc_enable_max_set(c, 0), 0);
	ck_assert_int_eq(qb_ipcc_send(c, msg, IPCC_MIN_MSG), IPCC_MIN_MSG);
	peer_cmd(&p, line, sizeof(line), "RATE normal");
	ck_assert_ptr_null(ipcc_check_reply(reply, qb_ipcc_recv(c, reply, sizeof(reply), 5000),
					    IPCC_ECHO, IPCC_MIN_MSG, 2, IPCC_SALT_RES));

	/* Level 2 only stops clients that asked for it. */
	ck_assert_int_eq(qb_ipcc_fc_enable_max_set(c, 1), 0);
	peer_cmd(&p, line, sizeof(line), "RATE off2");
	ck_assert_int_eq(qb_ipcc_send(c, msg, IPCC_MIN_MSG), IPCC_MIN_MSG);
	ck_assert_int_eq(qb_ipcc_fc_enable_max_set(c, 2), 0);
	ck_assert_int_eq(qb_ipcc_send(c, msg, IPCC_MIN_MSG), -EAGAIN);
	peer_cmd(&p, line, sizeof(line), "RATE normal");
	ck_assert_ptr_null(ipcc_check_reply(reply, qb_ipcc_recv(c, reply, sizeof(reply), 5000),
					    IPCC_ECHO, IPCC_MIN_MSG, 2, IPCC_SALT_RES));
	echo(c, IPCC_MIN_MSG, 3);
	finish_with_server(c, &p, -1);
}
END_TEST

static int32_t async_connect(struct peer *p, qb_ipcc_connection_t **out)
{
	qb_ipcc_connection_t *c;
	struct pollfd pfd;
	int fd = -1;

	c = qb_ipcc_connect_async(p->name, 8192, &fd);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ge(fd, 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	*out = c;
	return qb_ipcc_connect_continue(c);
}

START_TEST(test_async_connect)
{
	struct peer p;
	qb_ipcc_connection_t *c = NULL;
	pid_t pid = 0;
	int fds = count_fds();

	if (!start_for(_i, &p))
		return;
	ck_assert_int_eq(async_connect(&p, &c), 0);
	ck_assert_int_ge(qb_ipcc_get_buffer_size(c), 8192);
	ck_assert_int_eq(qb_ipcc_auth_get(c, &pid, NULL, NULL), 0);
	ck_assert_int_eq(pid, p.pid);
	echo(c, 500, 9);
	echo_v(c, 600, 10, 1000);
	finish_with_server(c, &p, fds);
}
END_TEST

START_TEST(test_server_disconnects_us)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	struct qb_ipc_request_header h;
	char line[256];
	int fds = count_fds();

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	echo(c, IPCC_MIN_MSG, 1);
	/* "bye": the server disconnects us from msg_process, no answer. */
	memset(&h, 0, sizeof(h));
	h.id = IPCC_BYE;
	h.size = sizeof(h);
	ck_assert_int_eq(qb_ipcc_send(c, &h, sizeof(h)), sizeof(h));
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), forever()), -ENOTCONN);
	ck_assert_int_eq(qb_ipcc_is_connected(c), QB_FALSE);
	ck_assert_int_eq(qb_ipcc_event_recv(c, reply, sizeof(reply), -1), -ENOTCONN);
	qb_ipcc_disconnect(c);
	peer_cmd(&p, line, sizeof(line), "WAIT destroyed 1");
	ck_assert_int_eq(peer_shm_entries(&p), 0);
	peer_quit(&p);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_dead_server)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	int fds = count_fds();
	ssize_t r;

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	echo(c, IPCC_MIN_MSG, 1);
	send_unanswered(c);
	peer_kill(&p);
	/* Waiting forever still notices that the server is gone. */
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), forever()), -ENOTCONN);
	ck_assert_int_eq(qb_ipcc_is_connected(c), QB_FALSE);
	r = qb_ipcc_send(c, msg, IPCC_MIN_MSG);
	ck_assert_int_lt(r, 0);
	ck_assert_int_ne(r, -EAGAIN);
	finish_without_server(c, &p, fds);
}
END_TEST

START_TEST(test_dead_server_sendv_recv)
{
	struct peer p;
	qb_ipcc_connection_t *c;
	struct qb_ipc_request_header h;
	struct iovec iov = {&h, sizeof(h)};
	int fds = count_fds();
	ssize_t r;

	if (!start_for(_i, &p))
		return;
	c = connect_to(&p, 8192);
	echo(c, IPCC_MIN_MSG, 1);
	peer_kill(&p);
	h = unanswered();
	r = qb_ipcc_sendv_recv(c, &iov, 1, reply, sizeof(reply), -1);
	/* SHM: the doorbell finds the socket closed; SOCKET: the datagram is
	 * refused by the dead peer. */
	ck_assert_msg(r == -ENOTCONN || (!p.shm && r == -ECONNREFUSED), "got %zd", r);
	finish_without_server(c, &p, fds);
}
END_TEST

/* ------------------------------------------------------------------ main */

/* Each case runs four times, see start_for(): SHM and SOCKET, against the
 * stock server and against ours. */
#define ADD_LOOP(s, fn)                                                     \
	do {                                                                \
		TCase *tc_ = tcase_create(#fn);                             \
		tcase_add_loop_test(tc_, fn, 0, 4);                         \
		tcase_set_timeout(tc_, 60);                                 \
		suite_add_tcase((s), tc_);                                  \
	} while (0)

int main(void)
{
	Suite *s = suite_create("ipcc_real_server");

	signal(SIGPIPE, SIG_IGN);
	ADD_LOOP(s, test_echo_and_accessors);
	ADD_LOOP(s, test_timeouts);
	ADD_LOOP(s, test_events);
	ADD_LOOP(s, test_flow_control);
	ADD_LOOP(s, test_async_connect);
	ADD_LOOP(s, test_server_disconnects_us);
	ADD_LOOP(s, test_dead_server);
	ADD_LOOP(s, test_dead_server_sendv_recv);
	return qbt_main(s);
}
