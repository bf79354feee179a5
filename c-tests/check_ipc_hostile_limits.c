/*
 * libqb-rs C tests: the IPC server against clients that push its limits
 * (security.md §4 cases 4-10): max_msg_size too small or absurdly large,
 * floods of rejected connects, a connect storm beyond the listen backlog,
 * one uid hoarding half-open handshakes or connections, and a full
 * descriptor table under accept().
 *
 * The server, the good client, the raw attacker and the checks every case
 * ends with are in ipc_hostile_wire.h. Cases where libqb-rs is deliberately
 * stricter than stock are QBT_OURS_ONLY; QBT_HOSTILE_ON_STOCK=1 runs them on
 * stock anyway (see c-tests/HOSTILE-IPC-STOCK.md for what stock does).
 *
 * Scaled down (numbers still above the cap each case is about):
 *   case 7: 3000 rejected connects instead of 10 000;
 *   case 8: 300 concurrent connects (backlog 128) instead of 1000/5000;
 *   case 9: 100 silent sockets instead of 2000, against a per-uid cap of 8.
 * Skipped parts:
 *   case 10 "log rate limited": ipc_peer installs no log target, so the log
 *     is not observed (the limiter has a Rust unit test).
 * Case 9 needs root (the caps spare root and the server's own uid, so the
 * attacker runs as 65534) and is skipped otherwise.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_hostile_wire.h"

/* Case 4: max_msg_size 0, 1 and below a header: the server grants at least
 * the handshake size (never a 0-word ring). */
START_TEST(test_04_tiny_max_msg_size)
{
	static const uint32_t asks[] = {0, 1, 15};
	struct evil_wire_resp r;
	size_t i;

	HOSTILE_CASE(); /* stock grants what was asked, 0 included */
	server_start(NULL);
	for (i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		int fd = raw_connect();

		raw_hello(fd, QB_IPC_MSG_AUTHENTICATE, 24, asks[i]);
		ck_assert_int_eq(raw_answer(fd, &r, GUARD_MS), (ssize_t)sizeof(r));
		ck_assert_int_eq(r.hdr.error, 0);
		ck_assert_msg(r.max_msg_size >= sizeof(r), "asked %u, granted %u", asks[i],
			      r.max_msg_size);
		close(fd);
	}
	case_finish();
}
END_TEST

/* Largest file in a connection directory (0 if none); -1 if it is gone. */
static long long largest_file_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long big = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
		    st.st_size > big)
			big = st.st_size;
	}
	closedir(d);
	return big;
}

/* The connection directory named by an answer's request ring name. */
static void dir_of(const char *ring, char *out, size_t size)
{
	char *slash;

	snprintf(out, size, "%s", ring);
	slash = strrchr(out, '/');
	ck_assert(slash != NULL);
	*slash = '\0';
}

/* Case 5: max_msg_size 0xFFFFFFFF from a client connection_accept rejects
 * (nothing proportional allocated) and from one it accepts (clamped to the
 * ceiling, rings sized accordingly). */
START_TEST(test_05_huge_max_msg_size)
{
	struct server_opts o = {.env = {"LIBQB_IPC_MAX_MSG_SIZE=1048576"}};
	struct evil_wire_resp r;
	char dir[EVIL_PATH_FIELD];
	long peak0, peak1;
	long long big;
	int fd;

	HOSTILE_CASE(); /* stock callocs the requested size before accept */
	server_start(&o);
	peak0 = proc_status_kib(S.pid, "VmPeak");
	server_ask("DENY %d", EACCES);
	fd = raw_connect();
	raw_hello(fd, QB_IPC_MSG_AUTHENTICATE, 24, 0xFFFFFFFFu);
	ck_assert_int_eq(raw_answer(fd, &r, GUARD_MS), (ssize_t)sizeof(r));
	ck_assert_int_eq(r.hdr.error, -EACCES);
	close(fd);
	peak1 = proc_status_kib(S.pid, "VmPeak");
	ck_assert_msg(peak1 - peak0 < 256 * 1024,
		      "a rejected client made the server reserve %ld KiB", peak1 - peak0);
	server_ask("DENY 0");
	fd = raw_connect();
	raw_hello(fd, QB_IPC_MSG_AUTHENTICATE, 24, 0xFFFFFFFFu);
	ck_assert_int_eq(raw_answer(fd, &r, GUARD_MS), (ssize_t)sizeof(r));
	ck_assert_int_eq(r.hdr.error, 0);
	ck_assert_uint_eq(r.max_msg_size, 1048576);
	dir_of(r.request, dir, sizeof(dir));
	big = largest_file_in(dir);
	ck_assert_msg(big > 0 && big <= 2 * 1048576, "largest ring file %lld bytes", big);
	close(fd);
	case_finish();
}
END_TEST

/* Case 6: our client asked for absurd sizes: refused cleanly or clamped,
 * never a huge allocation in the client. */
START_TEST(test_06_client_absurd_max)
{
	struct server_opts o = {.env = {"LIBQB_IPC_MAX_MSG_SIZE=1048576"}};
	static const size_t asks[] = {(size_t)-1, (size_t)INT32_MAX + 1, 0};
	size_t i;

	HOSTILE_CASE(); /* stock servers allocate what stock clients pass on */
	server_start(&o);
	for (i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		long peak0 = proc_status_kib(getpid(), "VmPeak"), peak1;
		qb_ipcc_connection_t *c;

		errno = 0;
		c = qb_ipcc_connect(S.name, asks[i]);
		peak1 = proc_status_kib(getpid(), "VmPeak");
		ck_assert_msg(peak1 - peak0 < 512 * 1024,
			      "connect(%zu) made the client reserve %ld KiB", asks[i],
			      peak1 - peak0);
		if (c == NULL) {
			ck_assert_msg(errno == EINVAL || errno == EMSGSIZE,
				      "connect(%zu): errno %d", asks[i], errno);
			continue;
		}
		ck_assert_int_le(qb_ipcc_get_buffer_size(c), 1048576);
		ck_assert_int_ge(qb_ipcc_get_buffer_size(c), 12328);
		echo_once(c, 2000, (uint32_t)i);
		qb_ipcc_disconnect(c);
	}
	case_finish();
}
END_TEST

/* Case 7: connection_accept says -EACCES; thousands of rejected connects
 * leave the server's descriptors, /dev/shm and memory flat. */
START_TEST(test_07_rejected_connect_flood)
{
	long rss0, rss1;
	int i;

	server_start(NULL);
	server_ask("DENY %d", EACCES);
	/* warm up allocator caches before measuring */
	for (i = 0; i < 50; i++) {
		qb_ipcc_connection_t *c = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);

		ck_assert(c == NULL);
	}
	rss0 = proc_status_kib(S.pid, "VmRSS");
	for (i = 0; i < 3000; i++) {
		qb_ipcc_connection_t *c;

		errno = 0;
		c = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);
		ck_assert_msg(c == NULL && errno == EACCES, "rejected connect %d: %p errno %d", i,
			      (void *)c, errno);
	}
	rss1 = proc_status_kib(S.pid, "VmRSS");
	ck_assert_msg(rss1 - rss0 < 8 * 1024, "server RSS grew by %ld KiB", rss1 - rss0);
	server_ask("DENY 0");
	case_finish();
}
END_TEST

/* Case 8: 300 clients connect at once (listen backlog 128), each sends one
 * request; every one succeeds or fails cleanly, and a client connected
 * before the storm is served during it. */
#define STORM 300
START_TEST(test_08_connect_storm)
{
	static qb_ipcc_connection_t *conns[STORM];
	static int fds[STORM];
	qb_ipcc_connection_t *old;
	long long deadline;
	int i, waiting = 0, ok = 0, refused = 0;

	server_start(NULL);
	old = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);
	ck_assert(old != NULL);
	for (i = 0; i < STORM; i++) {
		errno = 0;
		conns[i] = qb_ipcc_connect_async(S.name, IPCC_CLIENT_MAX, &fds[i]);
		if (conns[i] == NULL) {
			ck_assert_msg(errno == EAGAIN || errno == ECONNREFUSED,
				      "async connect %d: errno %d", i, errno);
			refused++;
		} else {
			waiting++;
		}
	}
	good_echoes(old);
	deadline = now_ms() + GUARD_MS;
	while (waiting > 0) {
		ck_assert_msg(now_ms() < deadline, "%d handshakes unanswered", waiting);
		for (i = 0; i < STORM; i++) {
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			int r;

			if (conns[i] == NULL || poll(&p, 1, 0) != 1)
				continue;
			r = qb_ipcc_connect_continue(conns[i]);
			waiting--;
			if (r != 0) {
				ck_assert_msg(r == -EAGAIN || r == -ECONNREFUSED || r == -EMFILE ||
						      r == -ENOTCONN || r == -ECONNRESET,
					      "connect_continue %d: %d", i, r);
				conns[i] = NULL;
				refused++;
				continue;
			}
			echo_once(conns[i], 200, (uint32_t)i);
			qb_ipcc_disconnect(conns[i]);
			conns[i] = NULL;
			ok++;
		}
		tick();
	}
	ck_assert_int_eq(ok + refused, STORM);
	ck_assert_msg(ok > 0, "no client of the storm got through");
	good_echoes(old);
	qb_ipcc_disconnect(old);
	case_finish();
}
END_TEST

/* Runs `fn` in a child as OTHER_UID (when root; else as ourselves) and
 * returns its exit status. The child reports through `fd`. */
static pid_t spawn_as_other(void (*fn)(int fd, void *arg), void *arg, int *report)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(stdout);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (geteuid() == 0 && (setgid(OTHER_UID) != 0 || setuid(OTHER_UID) != 0))
			_exit(90);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	*report = p[0];
	return pid;
}

static int read_int_line(int fd, int guard_ms)
{
	char buf[64];
	size_t n = 0;
	long long deadline = now_ms() + guard_ms;

	while (n < sizeof(buf) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t r;

		ck_assert_msg(left > 0, "no report from the attacker");
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(fd, buf + n, 1);
		ck_assert_msg(r == 1, "the attacker ended without a report");
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return atoi(buf);
}

#define SLOW_SOCKETS 100
#define SLOW_CAP 8

/* The slowloris: opens SLOW_SOCKETS silent sockets, reports how many the
 * server closed at once, then holds the rest until its stdin pipe ends. */
static void slowloris(int report, void *arg)
{
	int *hold = arg, fds[SLOW_SOCKETS], i, closed = 0;
	long long deadline;
	char line[32];
	char b;

	close(hold[1]);
	for (i = 0; i < SLOW_SOCKETS; i++) {
		fds[i] = raw_connect_name(S.name, 0);
		if (fds[i] < 0)
			_exit(91);
	}
	deadline = now_ms() + SETTLE_MS;
	while (now_ms() < deadline && closed < SLOW_SOCKETS - SLOW_CAP) {
		closed = 0;
		for (i = 0; i < SLOW_SOCKETS; i++) {
			struct pollfd p = {.fd = fds[i], .events = POLLIN};

			if (poll(&p, 1, 0) == 1)
				closed++;
		}
		tick();
	}
	snprintf(line, sizeof(line), "%d\n", closed);
	if (write(report, line, strlen(line)) < 0)
		_exit(92);
	/* hold the survivors until told to go */
	if (read(hold[0], &b, 1) < 0)
		_exit(93);
	_exit(0);
}

/* Case 9: one uid opens many silent sockets: only SLOW_CAP of them are
 * kept as half-open handshakes, a client of another uid still connects,
 * and the kept ones are reaped after the authentication timeout. */
START_TEST(test_09_slowloris_per_uid_cap)
{
	struct server_opts o = {.env = {"LIBQB_IPC_MAX_HALF_OPEN_PER_UID=8",
					"LIBQB_IPC_AUTH_TIMEOUT_MS=400"}};
	int hold[2], report, closed, st, held;
	long long deadline;
	pid_t kid;

	HOSTILE_CASE(); /* stock has no cap: every silent socket is kept */
	if (geteuid() != 0) {
		/* The caps spare root and the server's own uid. */
		printf("SKIP case 9 (half-open cap): needs root for a second uid\n");
		return;
	}
	server_start(&o);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	kid = spawn_as_other(slowloris, hold, &report);
	closed = read_int_line(report, GUARD_MS);
	ck_assert_msg(closed >= SLOW_SOCKETS - SLOW_CAP,
		      "server closed only %d of %d silent sockets", closed, SLOW_SOCKETS);
	held = server_fds() - S.baseline_fds;
	ck_assert_msg(held <= SLOW_CAP, "server holds %d extra descriptors", held);
	good_client_served(); /* another uid: not affected by the cap */
	/* after the timeout the next arrival reaps the survivors */
	deadline = now_ms() + SETTLE_MS;
	while (server_fds() != S.baseline_fds && now_ms() < deadline) {
		int fd = raw_connect_name(S.name, 0);

		if (fd >= 0)
			close(fd);
		tick();
	}
	ck_assert_int_eq(server_fds(), S.baseline_fds);
	close(hold[1]);
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attacker status 0x%x", st);
	close(report);
	close(hold[0]);
	case_finish();
}
END_TEST

#define UID_CONN_CAP 4

/* Opens UID_CONN_CAP + 2 full connections; reports how many worked and
 * whether the refused ones said EMFILE; holds them until told to go. */
static void connection_hog(int report, void *arg)
{
	int *hold = arg, ok = 0, emfile = 0, i;
	qb_ipcc_connection_t *c[UID_CONN_CAP + 2];
	char line[32], b;

	close(hold[1]);
	for (i = 0; i < UID_CONN_CAP + 2; i++) {
		errno = 0;
		c[i] = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);
		if (c[i] != NULL)
			ok++;
		else if (errno == EMFILE)
			emfile++;
	}
	snprintf(line, sizeof(line), "%d\n", ok * 100 + emfile);
	if (write(report, line, strlen(line)) < 0)
		_exit(92);
	if (read(hold[0], &b, 1) < 0)
		_exit(93);
	for (i = 0; i < UID_CONN_CAP + 2; i++)
		if (c[i] != NULL)
			qb_ipcc_disconnect(c[i]);
	_exit(0);
}

/* Case 9 (cont.): a uid holds at most N set-up connections; beyond that
 * connects fail with EMFILE, and another uid is unaffected. */
START_TEST(test_09_connections_per_uid_cap)
{
	struct server_opts o = {.env = {"LIBQB_IPC_MAX_CONNECTIONS_PER_UID=4"}};
	int hold[2], report, res, st;
	pid_t kid;

	HOSTILE_CASE(); /* stock has no per-uid cap */
	if (geteuid() != 0) {
		printf("SKIP case 9 (connection cap): needs root for a second uid\n");
		return;
	}
	server_start(&o);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	kid = spawn_as_other(connection_hog, hold, &report);
	res = read_int_line(report, GUARD_MS);
	ck_assert_msg(res == UID_CONN_CAP * 100 + 2, "%d connected, %d refused with EMFILE",
		      res / 100, res % 100);
	good_client_served();
	close(hold[1]);
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hog status 0x%x", st);
	close(report);
	close(hold[0]);
	case_finish();
}
END_TEST

/* Descriptors a process holds (read from outside, no round trip). */
static int proc_fd_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* utime + stime of a process, in clock ticks. */
static long long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ck_assert(f != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert(p != NULL);
	/* fields after the command: state is field 3, utime 14, stime 15 */
	for (i = 3; i <= 13 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	ck_assert(p != NULL && sscanf(p + 1, "%llu %llu", &ut, &st) == 2);
	return (long long)(ut + st);
}

/* Case 10: the server's descriptor table is full, so accept fails with
 * EMFILE: no busy loop, and it recovers once descriptors are free. */
#define FD_FLOOD 40
START_TEST(test_10_accept_emfile_no_spin)
{
	struct server_opts o = {.env = {"LIBQB_IPC_MAX_HALF_OPEN_PER_UID=0",
					"LIBQB_IPC_AUTH_TIMEOUT_MS=60000"},
				.nofile = 32};
	int fds[FD_FLOOD], i, extra;
	long long t0, c0, c1, hz = sysconf(_SC_CLK_TCK), deadline;
	qb_ipcc_connection_t *c = NULL;

	HOSTILE_CASE(); /* stock spins on a readable listener it cannot accept */
	server_start(&o);
	for (i = 0; i < FD_FLOOD; i++)
		fds[i] = raw_connect_name(S.name, 0);
	/* one more client waits in the backlog while the table is full */
	extra = raw_connect_name(S.name, 1);
	ck_assert_int_ge(extra, 0);
	t0 = now_ms();
	c0 = proc_cpu_ticks(S.pid);
	while (now_ms() - t0 < 1000)
		ck_assert_msg(server_alive(), "server died with a full descriptor table");
	c1 = proc_cpu_ticks(S.pid);
	ck_assert_msg(proc_fd_count(S.pid) >= 30, "the flood did not fill the server's table (%d)",
		      proc_fd_count(S.pid));
	/* security.md asks for < 5 % CPU; a server that spins uses far more */
	ck_assert_msg((c1 - c0) * 1000 / hz <= 50,
		      "server used %lld ms of CPU in 1 s with a full descriptor table",
		      (c1 - c0) * 1000 / hz);
	close(extra);
	for (i = 0; i < FD_FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* recovery: a good client gets through once the half-open ones are gone */
	deadline = now_ms() + SETTLE_MS;
	while (c == NULL && now_ms() < deadline) {
		c = qb_ipcc_connect(S.name, IPCC_CLIENT_MAX);
		if (c == NULL)
			tick();
	}
	ck_assert_msg(c != NULL, "no client got through after the flood ended");
	good_echoes(c);
	qb_ipcc_disconnect(c);
	case_finish();
}
END_TEST

static Suite *hostile_limits_suite(void)
{
	Suite *s = suite_create("ipc_hostile_limits");

	QBT_ADD_TEST(s, test_04_tiny_max_msg_size);
	QBT_ADD_TEST(s, test_05_huge_max_msg_size);
	QBT_ADD_TEST(s, test_06_client_absurd_max);
	QBT_ADD_TEST(s, test_07_rejected_connect_flood);
	QBT_ADD_TEST(s, test_08_connect_storm);
	QBT_ADD_TEST(s, test_09_slowloris_per_uid_cap);
	QBT_ADD_TEST(s, test_09_connections_per_uid_cap);
	QBT_ADD_TEST(s, test_10_accept_emfile_no_spin);
	return s;
}

int main(void)
{
	return hostile_wire_main(hostile_limits_suite);
}
