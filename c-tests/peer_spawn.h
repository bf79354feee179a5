/*
 * Starting a peer program (rb_peer, ipc_peer) on a chosen libqb, for the
 * C tests that drive one: its stdin carries our commands, its fd 3 its
 * answers, one line each. The peer dies with us (PR_SET_PDEATHSIG), and it
 * gets QBT_PEER_EXPECT_LIB so it can refuse to run on the wrong library.
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_PEER_SPAWN_H
#define QBT_PEER_SPAWN_H

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "qbtest.h"

struct qbt_peer_proc {
	pid_t pid;
	int cmd; /* we write: the peer's stdin */
	int ans; /* we read: the peer's fd 3 */
};

/* Moves `fd` above the descriptors the child rearranges (close-on-exec). */
static inline int qbt_lift_fd(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	ck_assert_int_ge(high, 10);
	close(fd);
	return high;
}

/* Runs argv[0] with LD_LIBRARY_PATH=`libdir`. `child_setup` (may be NULL)
 * runs in the child right before exec, for extra environment or limits. */
static inline struct qbt_peer_proc qbt_peer_spawn(char *const argv[], const char *libdir,
						  void (*child_setup)(void *), void *arg)
{
	struct qbt_peer_proc p;
	char expect[PATH_MAX];
	int to[2], from[2];

	ck_assert_msg(argv[0] != NULL && access(argv[0], X_OK) == 0,
		      "peer program %s missing", argv[0] ? argv[0] : "(null)");
	ck_assert_msg(libdir != NULL, "no library directory for the peer");
	snprintf(expect, sizeof(expect), "%s/libqb.so.100", libdir);
	ck_assert_msg(access(expect, R_OK) == 0, "peer library %s missing", expect);
	ck_assert_int_eq(pipe(to), 0);
	ck_assert_int_eq(pipe(from), 0);
	to[0] = qbt_lift_fd(to[0]);
	to[1] = qbt_lift_fd(to[1]);
	from[0] = qbt_lift_fd(from[0]);
	from[1] = qbt_lift_fd(from[1]);
	fflush(stdout);
	fflush(stderr);
	p.pid = fork();
	ck_assert_int_ge(p.pid, 0);
	if (p.pid == 0) {
		/* dup2 clears close-on-exec on the copies the peer keeps. */
		if (dup2(to[0], 0) < 0 || dup2(from[1], 3) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed case */
		setenv("LD_LIBRARY_PATH", libdir, 1);
		setenv("QBT_PEER_EXPECT_LIB", expect, 1);
		if (child_setup != NULL)
			child_setup(arg);
		execv(argv[0], argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p.cmd = to[1];
	p.ans = from[0];
	return p;
}

/* The directory of the OTHER libqb, the one an interop peer runs on: stock
 * when this program runs on libqb-rs, libqb-rs when it runs on stock. */
static inline const char *qbt_other_libdir(void)
{
	return getenv(qbt_is_stock() ? "QBT_OURS_LIBDIR" : "QBT_STOCK_LIBDIR");
}

/* False (after saying so) when the other library is not installed, e.g. no
 * Debian libqb100 on this machine: interop cases then have nothing to do.
 * `peer_var` names the variable that holds the peer program's path. */
static inline int qbt_other_lib_available(const char *peer_var)
{
	const char *libdir = qbt_other_libdir();
	char lib[PATH_MAX];

	ck_assert_msg(libdir != NULL && getenv(peer_var) != NULL,
		      "%s, QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR must be set", peer_var);
	snprintf(lib, sizeof(lib), "%s/libqb.so.100", libdir);
	if (access(lib, R_OK) == 0)
		return 1;
	printf("SKIP: %s not installed, no interop peer\n", lib);
	return 0;
}

/* ------------------------------------------------------- talking to a peer */

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Formats one command line into line[size], adds the '\n' and writes it to
 * `fd`. Returns the line's length, or -1 when the write fell short (the
 * peer is gone); `line` keeps the text for error messages either way. */
static inline int qbt_vsend_line(int fd, char *line, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(line, size - 1, fmt, ap);

	ck_assert(n > 0 && n < (int)size - 1);
	line[n++] = '\n';
	line[n] = '\0';
	return write(fd, line, (size_t)n) == n ? n : -1;
}

/* Answer bytes read from a peer and not consumed yet: a read may end in
 * the middle of a line or hold several. */
struct qbt_answers {
	char buf[8192];
	size_t len;
};

static inline int qbt_has_line(struct qbt_answers *a)
{
	return memchr(a->buf, '\n', a->len) != NULL;
}

/* Moves the first complete line, without its '\n', into line[size];
 * returns 0 when no complete line is buffered yet. */
static inline int qbt_take_line(struct qbt_answers *a, char *line, size_t size)
{
	char *nl = memchr(a->buf, '\n', a->len);
	size_t n;

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - a->buf);
	ck_assert_uint_lt(n, size);
	memcpy(line, a->buf, n);
	line[n] = '\0';
	a->len -= n + 1;
	memmove(a->buf, nl + 1, a->len);
	return 1;
}

/* One read() of what the peer wrote (blocks until something comes);
 * returns its result, <= 0 when the peer closed its end. */
static inline ssize_t qbt_fill(struct qbt_answers *a, int fd)
{
	ssize_t r = read(fd, a->buf + a->len, sizeof(a->buf) - 1 - a->len);

	if (r > 0)
		a->len += (size_t)r;
	ck_assert_uint_lt(a->len, sizeof(a->buf) - 1);
	return r;
}

/* The peer's next answer line from `fd`, waiting at most timeout_ms (-1:
 * as long as it takes). Returns 1 with a line, 0 when the answers ended,
 * -1 when the time ran out. */
static inline int qbt_read_line(struct qbt_answers *a, int fd, char *line, size_t size,
				int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!qbt_take_line(a, line, size)) {
		if (timeout_ms >= 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -1;
			if (poll(&p, 1, (int)left) <= 0)
				continue;
		}
		if (qbt_fill(a, fd) <= 0)
			return 0;
	}
	return 1;
}

#endif /* QBT_PEER_SPAWN_H */
