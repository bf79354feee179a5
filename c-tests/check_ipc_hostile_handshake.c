/*
 * libqb-rs C tests: the IPC server against hostile clients during the
 * handshake (security.md §4 cases 1, 2, 3 and 12): hellos cut short, of the
 * wrong shape or carrying control messages nobody asked for, and symlinks
 * planted where the server is about to create a connection's rings.
 *
 * The attacker is this program with a raw socket; the server, the good
 * client and the checks every case ends with are in ipc_hostile_wire.h.
 * Cases where libqb-rs is deliberately stricter than stock are
 * QBT_OURS_ONLY; QBT_HOSTILE_ON_STOCK=1 runs them on stock anyway (see
 * c-tests/HOSTILE-IPC-STOCK.md for what stock does).
 *
 * Skipped parts:
 *   case 3 "no SCM_CREDENTIALS": Linux attaches credentials to every message
 *     once the server set SO_PASSCRED, and an unprivileged sender cannot
 *     forge them, so only extra and truncated control messages are sent;
 *   case 12 blackbox names: logging, not IPC (left to the logging suite).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc_hostile_wire.h"

/* Case 1: 4 of the 24 hello bytes, then silence. The server closes the
 * socket after its authentication timeout; others are served meanwhile. */
START_TEST(test_01_truncated_hello_times_out)
{
	struct server_opts o = {.env = {"LIBQB_IPC_AUTH_TIMEOUT_MS=300"}};
	int32_t id = QB_IPC_MSG_AUTHENTICATE;
	long long deadline;
	int fd, closed = 0;

	HOSTILE_CASE(); /* stock keeps a silent half-open socket forever */
	server_start(&o);
	fd = raw_connect();
	raw_send(fd, &id, 4);
	good_client_served();
	/* Stale handshakes are reaped when the next client arrives. */
	deadline = now_ms() + SETTLE_MS;
	while (!closed && now_ms() < deadline) {
		closed = raw_closed_within(fd, 100);
		if (!closed)
			good_client_served();
	}
	ck_assert_msg(closed, "the server still holds a socket that sent 4 bytes");
	close(fd);
	case_finish();
}
END_TEST

/* Case 2: hellos that are not connection requests are closed without a
 * connection directory: wrong id, random bytes, 1 MiB of junk. */
START_TEST(test_02_garbage_hello_closed)
{
	static uint8_t junk[1 << 20];
	struct evil_wire_resp r;
	size_t i, sent = 0;
	int fd;

	server_start(NULL);
	/* wrong id */
	fd = raw_connect();
	raw_hello(fd, QB_IPC_MSG_USER_START, 24, 65536);
	ck_assert_msg(raw_answer(fd, &r, GUARD_MS) == 0, "answer to a wrong id");
	close(fd);
	/* random bytes (never starting with the AUTHENTICATE id) */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = ipcc_byte(77, i);
	junk[0] = 0x17;
	fd = raw_connect();
	raw_send(fd, junk, 24);
	ck_assert_msg(raw_answer(fd, &r, GUARD_MS) == 0, "answer to random bytes");
	close(fd);
	/* 1 MiB of junk, as fast as the socket takes it */
	fd = raw_connect();
	while (sent < sizeof(junk)) {
		ssize_t n = send(fd, junk + sent, sizeof(junk) - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			ck_assert_int_ge(poll(&p, 1, GUARD_MS), 1);
			continue;
		}
		break; /* EPIPE / ECONNRESET: the server closed it */
	}
	ck_assert_msg(raw_closed_within(fd, GUARD_MS), "the server kept a junk socket");
	close(fd);
	ck_assert_int_eq(shm_entries_of(S.pid), S.stale_shm);
	case_finish();
}
END_TEST

/* Case 2 (cont.): AUTHENTICATE id with a header size other than 24. */
START_TEST(test_02_hello_wrong_size_closed)
{
	static const int32_t sizes[] = {0, 16, 25, -24, 0x7fffffff};
	struct evil_wire_resp r;
	size_t i;

	HOSTILE_CASE(); /* stock only looks at the id */
	server_start(NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fd = raw_connect();

		raw_hello(fd, QB_IPC_MSG_AUTHENTICATE, sizes[i], 65536);
		ck_assert_msg(raw_answer(fd, &r, GUARD_MS) == 0,
			      "hello with hdr.size %d got an answer (error %d)", sizes[i],
			      r.hdr.error);
		close(fd);
	}
	case_finish();
}
END_TEST

/* Sends the hello in `parts` pieces, each with `nfds` descriptors attached
 * as SCM_RIGHTS next to an explicit SCM_CREDENTIALS of our own. */
static void hello_with_cmsgs(int fd, int parts, int nfds)
{
	struct evil_wire_req req;
	size_t off = 0, piece = sizeof(req) / (size_t)parts;
	int p;

	memset(&req, 0, sizeof(req));
	req.hdr.id = QB_IPC_MSG_AUTHENTICATE;
	req.hdr.size = 24;
	req.max_msg_size = 65536;
	for (p = 0; p < parts; p++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {(char *)&req + off,
				    p == parts - 1 ? sizeof(req) - off : piece};
		struct msghdr m;
		struct cmsghdr *c;
		struct ucred uc = {getpid(), geteuid(), getegid()};
		int fds[8], i;

		ck_assert_int_le(nfds, 8);
		memset(&u, 0, sizeof(u));
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(uc)) + CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
		c = CMSG_NXTHDR(&m, c);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		for (i = 0; i < nfds; i++) {
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			ck_assert_int_ge(fds[i], 0);
		}
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
		ck_assert_int_eq(sendmsg(fd, &m, MSG_NOSIGNAL), (ssize_t)iov.iov_len);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		off += iov.iov_len;
	}
}

/* Case 3: control messages the server did not ask for. Descriptors passed
 * with the hello must not stay open in the server; connection_accept sees
 * the kernel's credentials. */
START_TEST(test_03_hello_with_extra_cmsgs)
{
	struct evil_wire_resp r;
	static const int shapes[][2] = {{1, 1}, {1, 8}, {3, 2}};
	size_t i;

	server_start(NULL);
	server_ask("HOLD %zu", sizeof(shapes) / sizeof(shapes[0]));
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		int fd = raw_connect();
		unsigned uid = 0, gid = 0;

		hello_with_cmsgs(fd, shapes[i][0], shapes[i][1]);
		ck_assert_int_eq(server_read_line(GUARD_MS), 0);
		ck_assert_msg(sscanf(S.line, "HELD %u %u", &uid, &gid) == 2, "%s", S.line);
		ck_assert_uint_eq(uid, geteuid());
		ck_assert_uint_eq(gid, getegid());
		server_send("GO");
		ck_assert_int_eq(raw_answer(fd, &r, GUARD_MS), (ssize_t)sizeof(r));
		ck_assert_int_eq(r.hdr.error, 0);
		close(fd);
	}
	case_finish();
}
END_TEST

/* Case 12: while connection_accept runs, the attacker plants symlinks to a
 * canary at the names the server will create in the connection directory:
 * nothing follows them, the canary is untouched, the setup fails cleanly. */
START_TEST(test_12_planted_ring_names)
{
	static const char *kinds[] = {"request", "response", "event"};
	static const char *ends[] = {"header", "data"};
	char canary[64], dir[PATH_MAX] = "", path[PATH_MAX + 300], prefix[64];
	struct evil_wire_resp r;
	struct stat before, after;
	DIR *d;
	struct dirent *e;
	int fd, k, j;

	make_canary(canary, sizeof(canary), "links");
	ck_assert_int_eq(stat(canary, &before), 0);
	server_start(NULL);
	server_ask("HOLD 1");
	fd = raw_connect();
	raw_hello(fd, QB_IPC_MSG_AUTHENTICATE, 24, 65536);
	ck_assert_int_eq(server_read_line(GUARD_MS), 0);
	ck_assert_msg(strncmp(S.line, "HELD", 4) == 0, "%s", S.line);
	/* the connection directory exists now: find it */
	snprintf(prefix, sizeof(prefix), "qb-%d-%d-", (int)S.pid, (int)getpid());
	d = opendir("/dev/shm");
	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			snprintf(dir, sizeof(dir), "/dev/shm/%s", e->d_name);
	closedir(d);
	ck_assert_msg(dir[0] != '\0', "no connection directory during connection_accept");
	for (k = 0; k < 3; k++)
		for (j = 0; j < 2; j++) {
			snprintf(path, sizeof(path), "%s/qb-%s-%s-%s", dir, kinds[k], S.name,
				 ends[j]);
			ck_assert_int_eq(symlink(canary, path), 0);
		}
	server_send("GO");
	ck_assert_int_ge(raw_answer(fd, &r, GUARD_MS), 0);
	ck_assert_msg(r.hdr.error != 0, "the server set up rings over planted symlinks");
	close(fd);
	ck_assert_int_eq(lstat(canary, &after), 0);
	ck_assert(S_ISREG(after.st_mode));
	ck_assert_int_eq(after.st_size, before.st_size);
	ck_assert_int_eq(after.st_mode, before.st_mode);
	ck_assert_int_eq(after.st_uid, before.st_uid);
	/* the planted links are the attacker's: still there, still links */
	for (k = 0; k < 3; k++)
		for (j = 0; j < 2; j++) {
			struct stat ls;

			snprintf(path, sizeof(path), "%s/qb-%s-%s-%s", dir, kinds[k], S.name,
				 ends[j]);
			ck_assert_int_eq(lstat(path, &ls), 0);
			ck_assert(S_ISLNK(ls.st_mode));
			unlink(path);
		}
	rmdir(dir); /* the server could not remove it while it held our links */
	unlink(canary);
	case_finish();
}
END_TEST

static Suite *hostile_handshake_suite(void)
{
	Suite *s = suite_create("ipc_hostile_handshake");

	QBT_ADD_TEST(s, test_01_truncated_hello_times_out);
	QBT_ADD_TEST(s, test_02_garbage_hello_closed);
	QBT_ADD_TEST(s, test_02_hello_wrong_size_closed);
	QBT_ADD_TEST(s, test_03_hello_with_extra_cmsgs);
	QBT_ADD_TEST(s, test_12_planted_ring_names);
	return s;
}

int main(void)
{
	return hostile_wire_main(hostile_handshake_suite);
}
