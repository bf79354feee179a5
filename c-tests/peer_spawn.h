/*
 * Starting a peer program (rb_peer, ipc_peer) on a chosen libqb, for the
 * C tests that drive one: its stdin carries our commands, its fd 3 its
 * answers. The peer dies with us (PR_SET_PDEATHSIG), and it gets
 * QBT_PEER_EXPECT_LIB so it can refuse to run on the wrong library.
 */
#ifndef QBT_PEER_SPAWN_H
#define QBT_PEER_SPAWN_H

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

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

#endif /* QBT_PEER_SPAWN_H */
