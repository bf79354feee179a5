/*
 * check_ipcc_fake_server: what the IPC client (qbipcc.h) accepts from a
 * server.
 *
 * The fake servers are forked children that speak the connection handshake
 * with plain sockets and send crafted answers: errors, unknown transports,
 * rings that do not exist, half answers, unterminated names, a symlinked
 * control file, and real rings left behind by a server that died. Each
 * refused connection must leak nothing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbrb.h>

#include "ipcc_fixture.h"

static uint8_t reply[IPCC_MAX_MSG];

/* ------------------------------------------------------------ fake server */

enum fake_kind {
	FAKE_ERROR,        /* hdr.error = -EACCES */
	FAKE_BAD_TYPE,     /* connection_type 7 */
	FAKE_MQ_TYPE,      /* connection_type 2 (POSIX MQ) */
	FAKE_MISSING,      /* SHM rings that do not exist */
	FAKE_SHORT,        /* half an answer, then hang up */
	FAKE_SILENT,       /* hang up without answering */
	FAKE_NO_NUL,       /* names that fill their fields without a NUL */
	FAKE_SYMLINK_CTL,  /* SOCKET control file that is a symlink */
	FAKE_RINGS,        /* real rings at fake->dir, then the server dies */
};

struct fake_answer {
	struct qb_ipc_response_header hdr;
	int32_t connection_type __attribute__((aligned(8)));
	uint32_t max_msg_size;
	uint64_t connection;
	char request[4096];
	char response[4096];
	char event[4096];
};

struct fake {
	pid_t pid;
	char name[64];
	char dir[128];
};

static void fake_make_rings(const char *dir, struct fake_answer *a)
{
	qb_ringbuffer_t *rb;
	const char *kinds[] = {"request", "response", "event"};
	char *fields[] = {a->request, a->response, a->event};
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(fields[i], 4096, "%s/qb-%s-fake", dir, kinds[i]);
		rb = qb_rb_open(fields[i], a->max_msg_size,
				QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, i == 0 ? 4 : 0);
		if (rb == NULL)
			_exit(3);
		/* left open on purpose: this "server" dies holding them */
	}
}

static void fake_serve(int lfd, int ready, enum fake_kind kind, const char *dir)
{
	static struct fake_answer a;
	uint8_t hello[24];
	int s;
	ssize_t r;
	char b;

	if (write(ready, "r", 1) != 1)
		_exit(2);
	s = accept(lfd, NULL, NULL);
	if (s < 0)
		_exit(2);
	if (recv(s, hello, sizeof(hello), MSG_WAITALL) != (ssize_t)sizeof(hello))
		_exit(2);
	memset(&a, 0, sizeof(a));
	a.hdr.id = -1;
	a.hdr.size = sizeof(a);
	a.connection_type = 1;
	a.max_msg_size = 16384;
	switch (kind) {
	case FAKE_ERROR:
		a.hdr.error = -EACCES;
		break;
	case FAKE_BAD_TYPE:
		a.connection_type = 7;
		break;
	case FAKE_MQ_TYPE:
		a.connection_type = 2;
		break;
	case FAKE_MISSING:
		snprintf(a.request, sizeof(a.request), "/dev/shm/qb-none-%d/qb-request-x", (int)getpid());
		snprintf(a.response, sizeof(a.response), "/dev/shm/qb-none-%d/qb-response-x", (int)getpid());
		snprintf(a.event, sizeof(a.event), "/dev/shm/qb-none-%d/qb-event-x", (int)getpid());
		break;
	case FAKE_SHORT:
		r = send(s, &a, 100, MSG_NOSIGNAL);
		_exit(r == 100 ? 0 : 2);
	case FAKE_SILENT:
		_exit(0);
	case FAKE_NO_NUL:
		memset(a.request, 'A', sizeof(a.request));
		memset(a.response, 'B', sizeof(a.response));
		memset(a.event, 'C', sizeof(a.event));
		break;
	case FAKE_SYMLINK_CTL:
		a.connection_type = 0;
		snprintf(a.request, sizeof(a.request), "%s/qb-control-fake", dir);
		snprintf(a.response, sizeof(a.response), "%s/qb-fake", dir);
		break;
	case FAKE_RINGS:
		fake_make_rings(dir, &a);
		if (send(s, &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t)sizeof(a))
			_exit(2);
		_exit(0); /* dies with the rings still there */
	}
	if (send(s, &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t)sizeof(a))
		_exit(2);
	/* Stay until the client hangs up. */
	while (read(s, &b, 1) > 0)
		;
	_exit(0);
}

static void fake_start(struct fake *f, enum fake_kind kind)
{
	struct sockaddr_un sa;
	int lfd, ready[2];
	char b;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	unique_name(f->name, sizeof(f->name), "fake");
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s", f->name);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fake_serve(lfd, ready[1], kind, f->dir);
	}
	close(lfd);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);
}

static int fake_reap(struct fake *f)
{
	int status = 0;

	ck_assert_int_eq(waitpid(f->pid, &status, 0), f->pid);
	return status;
}

static int fake_skip(void)
{
	if (access("/etc/libqb/force-filesystem-sockets", F_OK) == 0) {
		printf("SKIP: filesystem sockets forced\n");
		return 1;
	}
	return 0;
}

/* Connecting to a fake server fails with `expect` and leaks nothing. */
static void fake_refused(enum fake_kind kind, int expect)
{
	struct fake f;
	int fds = count_fds();

	if (fake_skip())
		return;
	memset(&f, 0, sizeof(f));
	fake_start(&f, kind);
	errno = 0;
	ck_assert_ptr_null(qb_ipcc_connect(f.name, 8192));
	if (expect != 0)
		ck_assert_int_eq(errno, expect);
	else
		ck_assert_int_ne(errno, 0);
	fake_reap(&f);
	ck_assert_int_eq(count_fds(), fds);
}

START_TEST(test_fake_error)
{
	fake_refused(FAKE_ERROR, EACCES);
}
END_TEST

START_TEST(test_fake_bad_type)
{
	fake_refused(FAKE_BAD_TYPE, EINVAL);
	fake_refused(FAKE_MQ_TYPE, ENOTSUP);
}
END_TEST

START_TEST(test_fake_missing_rings)
{
	fake_refused(FAKE_MISSING, ENOENT);
}
END_TEST

START_TEST(test_fake_hangs_up)
{
	/* Stock's errno depends on timing (EAGAIN after its short retries). */
	fake_refused(FAKE_SHORT, qbt_is_stock() ? 0 : ENOTCONN);
	fake_refused(FAKE_SILENT, qbt_is_stock() ? 0 : ENOTCONN);
}
END_TEST

START_TEST(test_fake_async_error)
{
	struct fake f;
	qb_ipcc_connection_t *c;
	struct pollfd pfd;
	int fd = -1, fds = count_fds();

	if (fake_skip())
		return;
	memset(&f, 0, sizeof(f));
	fake_start(&f, FAKE_ERROR);
	c = qb_ipcc_connect_async(f.name, 8192, &fd);
	ck_assert_ptr_nonnull(c);
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	/* A failed continue frees the connection and closes its socket. */
	ck_assert_int_eq(qb_ipcc_connect_continue(c), -EACCES);
	fake_reap(&f);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* Names that overrun their fields: libqb reads past them; we refuse. */
START_TEST(test_fake_unterminated_names)
{
	QBT_OURS_ONLY();
	fake_refused(FAKE_NO_NUL, EINVAL);
}
END_TEST

static void make_canary(const char *path)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "canary-canary-canary-canary-canary\n", 35), 35);
	close(fd);
}

static void check_canary(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 35);
}

/* A control file that is a symlink is not followed (libqb would truncate
 * whatever it points at to 24 bytes). */
START_TEST(test_fake_symlinked_control_file)
{
	struct fake f;
	char canary[256], link[256];

	QBT_OURS_ONLY();
	if (fake_skip())
		return;
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/dev/shm/qb-ipcc-fake-%d-XXXXXX", (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	snprintf(canary, sizeof(canary), "/dev/shm/qbt-ipcc-canary-%d", (int)getpid());
	make_canary(canary);
	snprintf(link, sizeof(link), "%s/qb-control-fake", f.dir);
	ck_assert_int_eq(symlink(canary, link), 0);
	fake_start(&f, FAKE_SYMLINK_CTL);
	errno = 0;
	ck_assert_ptr_null(qb_ipcc_connect(f.name, 8192));
	ck_assert_int_eq(errno, ELOOP);
	fake_reap(&f);
	check_canary(canary);
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(rmdir(f.dir), 0);
	ck_assert_int_eq(unlink(canary), 0);
}
END_TEST

static void fake_rings_session(struct fake *f)
{
	qb_ipcc_connection_t *c;
	int fds = count_fds();

	fake_start(f, FAKE_RINGS);
	c = qb_ipcc_connect(f->name, 8192);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(fake_reap(f), 0);
	/* The server is dead: the client notices and cleans up after it. */
	ck_assert_int_eq(qb_ipcc_recv(c, reply, sizeof(reply), 0), -ENOTCONN);
	qb_ipcc_disconnect(c);
	ck_assert_int_eq(count_fds(), fds);
}

/* Rings in a libqb-shaped connection directory of a dead server: removed,
 * files and (ours) the directory. */
START_TEST(test_dead_fake_server_cleanup)
{
	struct fake f;

	if (fake_skip())
		return;
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/dev/shm/qb-ipcc-fake-%d-XXXXXX", (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	fake_rings_session(&f);
	if (qbt_is_stock()) {
		ck_assert_int_eq(dir_entries(f.dir), 0);
		ck_assert_int_eq(rmdir(f.dir), 0);
	} else {
		ck_assert_int_eq(access(f.dir, F_OK), -1);
	}
}
END_TEST

/* Rings a dead server placed elsewhere are left alone (libqb unlinks
 * whatever the server named). */
START_TEST(test_dead_fake_server_outside_shm_dirs)
{
	struct fake f;
	int n;

	QBT_OURS_ONLY();
	if (fake_skip())
		return;
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/dev/shm/qbt-ipcc-outside-%d-XXXXXX", (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	fake_rings_session(&f);
	n = dir_entries(f.dir);
	ck_assert_int_eq(n, 6);
	{
		DIR *d = opendir(f.dir);
		struct dirent *e;
		char path[512];

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", f.dir, e->d_name);
			ck_assert_int_eq(unlink(path), 0);
		}
		closedir(d);
	}
	ck_assert_int_eq(rmdir(f.dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcc_fake_server");

	signal(SIGPIPE, SIG_IGN);
	QBT_ADD_TEST(s, test_fake_error);
	QBT_ADD_TEST(s, test_fake_bad_type);
	QBT_ADD_TEST(s, test_fake_missing_rings);
	QBT_ADD_TEST(s, test_fake_hangs_up);
	QBT_ADD_TEST(s, test_fake_async_error);
	QBT_ADD_TEST(s, test_fake_unterminated_names);
	QBT_ADD_TEST(s, test_fake_symlinked_control_file);
	QBT_ADD_TEST(s, test_dead_fake_server_cleanup);
	QBT_ADD_TEST(s, test_dead_fake_server_outside_shm_dirs);
	return qbt_main(s);
}
