/*
 * libqb-rs C tests: IPC disconnects across implementations (qbipcs.h /
 * qbipcc.h).
 *
 * Each case pairs this program, on the libqb it was started with, and
 * c-tests/ipc_peer on the OTHER libqb (see ipc_interop_peer.h), over SHM and
 * SOCKET. Covered here: the client leaving, the server dropping the client
 * from inside msg_process and from outside any callback (both roles each),
 * and the death of the peer's server or client. Every connection must be
 * created, closed and destroyed exactly once, and both sides must clean up.
 * Traffic (echo, events, rate limits) is in check_ipc_interop_traffic.c.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qbutil.h>

#include "ipc_interop_pair.h"

/* ---------------------------------------- helpers only disconnect cases need */

static long sv_kick(void)
{
	long v[1];

	if (pr.role == WE_SERVE)
		return ipcc_server_kick_all(&srv);
	ck_assert_int_eq(peer_ask(&pr.p, v, 1, "KICK"), 1);
	return v[0];
}

/* Removes the connection directories of `pid`, which must be empty. */
static void remove_empty_dirs(pid_t pid)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	char tag[32], path[PATH_MAX];

	ck_assert_ptr_nonnull(d);
	snprintf(tag, sizeof(tag), "-%d-", (int)pid);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "qb-", 3) != 0 || strstr(e->d_name + 2, tag) == NULL)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		ck_assert_msg(rmdir(path) == 0, "%s not removable (%s): files left in it", path,
			      strerror(errno));
	}
	closedir(d);
}

/* True when this process runs on the stock library. */
static int we_are_stock(void)
{
	char path[PATH_MAX];

	ck_assert_int_ge(qbt_mapped_libqb(NULL, NULL, path, sizeof(path)), 0);
	return path[0] != '\0' && is_stock_lib(path);
}

/* True when the server of this pairing runs on stock libqb. */
static int server_is_stock(void)
{
	return pr.role == WE_SERVE ? we_are_stock() : pr.peer_stock;
}

/* Asks the server to drop us: from inside msg_process, except on stock,
 * which cannot do that safely (see ipc_chat.h), where a job does it. */
static long cl_bye(void)
{
	struct qb_ipc_request_header h = {.id = IPCC_BYE, .size = IPCC_REQ_HDR + 4};
	uint32_t how = server_is_stock() ? 1 : 0;
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 1, "BYE %u", how), 1);
		return v[0];
	}
	memcpy(pr.msg, &h, sizeof(h));
	ipcc_put32(pr.msg + IPCC_REQ_HDR, how);
	return qb_ipcc_send(pr.c, pr.msg, IPCC_REQ_HDR + 4);
}

/* After the server dropped us: a receive, is_connected, an event receive and
 * a send must all report the connection as gone. */
static void cl_assert_gone(void)
{
	long v[4];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 4, "GONE"), 4);
	} else {
		v[0] = recv_sliced(0, pr.reply, sizeof(pr.reply));
		v[1] = qb_ipcc_is_connected(pr.c);
		v[2] = qb_ipcc_event_recv(pr.c, pr.reply, sizeof(pr.reply), 0);
		ipcc_make_echo(pr.msg, IPCC_MIN_MSG, 0);
		v[3] = qb_ipcc_send(pr.c, pr.msg, IPCC_MIN_MSG);
	}
	printf("%s %s: after hang-up recv %ld, is_connected %ld, event_recv %ld, send %ld\n",
	       pr.tword, pr.role == WE_SERVE ? "peer's client" : "this program's client", v[0],
	       v[1], v[2], v[3]);
	fflush(stdout);
	/* What libqb 2.0.x reports, over both transports; a send over SOCKET
	 * finds no receiver for its datagram: -ECONNREFUSED. */
	ck_assert_int_eq(v[0], -ENOTCONN);
	ck_assert_int_eq(v[1], 0);
	ck_assert_int_eq(v[2], -ENOTCONN);
	ck_assert_int_eq(v[3], pr.type == QB_IPC_SOCKET ? -ECONNREFUSED : -ENOTCONN);
}

/* ------------------------------------------------------------- scenarios */

/* The client leaves: the server sees closed and destroyed once each, its
 * /dev/shm directory goes, and a second client can come and go the same way. */
static void scn_client_disconnect(enum role role, enum qb_ipc_type type)
{
	struct counts k;

	SETUP_OR_SKIP(role, type);
	cl_connect(0);
	cl_echo(1000, 1, 0);
	cl_disconnect();
	sv_wait("destroyed", 1, &k);
	assert_lifecycles(&k, 1, 1);
	ck_assert_int_eq(count_shm(server_pid()), 0);
	cl_connect(1);
	cl_events(2, 100, 5);
	cl_disconnect();
	sv_wait("destroyed", 2, &k);
	assert_lifecycles(&k, 2, 2);
	ck_assert_int_eq(count_shm(server_pid()), 0);
	finish(2);
}

/* The server disconnects the client from inside msg_process (bye request). */
static void scn_server_bye(enum role role, enum qb_ipc_type type)
{
	struct counts k;

	SETUP_OR_SKIP(role, type);
	cl_connect(0);
	cl_echo(100, 1, 0);
	ck_assert_int_eq(cl_bye(), IPCC_REQ_HDR + 4);
	sv_wait("destroyed", 1, &k);
	assert_lifecycles(&k, 1, 2);
	cl_assert_gone();
	cl_disconnect();
	ck_assert_int_eq(count_shm(server_pid()), 0);
	finish(1);
}

/* The server disconnects the client from outside any callback. */
static void scn_server_kick(enum role role, enum qb_ipc_type type)
{
	struct counts k;

	SETUP_OR_SKIP(role, type);
	cl_connect(0);
	cl_echo(100, 1, 1);
	ck_assert_int_eq(sv_kick(), 1);
	sv_wait("destroyed", 1, &k);
	assert_lifecycles(&k, 1, 1);
	cl_assert_gone();
	cl_disconnect();
	ck_assert_int_eq(count_shm(server_pid()), 0);
	finish(1);
}

/* The peer server is killed: our client notices, and disconnecting removes
 * the files the dead server left. */
static void scn_server_death(enum qb_ipc_type type)
{
	pid_t dead;
	int status;

	SETUP_OR_SKIP(WE_CALL, type);
	cl_connect(0);
	cl_echo(100, 1, 0);
	dead = pr.p.pid;
	ck_assert_int_eq(kill(dead, SIGKILL), 0);
	status = peer_reap(&pr.p); /* gone, not a zombie: the client checks the pid */
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cl_assert_gone();
	cl_disconnect();
	/* The client removed the ring files the dead server left (stock 2.0.6
	 * leaves their empty directory; newer libqb removes it too). */
	remove_empty_dirs(dead);
	ck_assert_int_eq(count_shm(dead), 0);
	ck_assert_int_eq(count_shm(getpid()), 0);
	ck_assert_int_eq(count_fds(), pr.fds);
}

/* The peer client is killed: our server sees closed and destroyed once. */
static void scn_client_death(enum qb_ipc_type type)
{
	struct counts k;
	int status;

	SETUP_OR_SKIP(WE_SERVE, type);
	cl_connect(0);
	cl_echo(100, 1, 0);
	cl_events(2, 64, 1);
	ck_assert_int_eq(kill(pr.p.pid, SIGKILL), 0);
	ck_assert_int_eq(qb_loop_poll_del(loop, pr.p.ans), 0);
	served_peer = NULL;
	status = peer_reap(&pr.p);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	serve_until(&srv.destroyed, 1);
	counts_of_srv(&k);
	assert_lifecycles(&k, 1, 2);
	ck_assert_int_eq(count_shm(getpid()), 0);
	qb_ipcs_destroy(srv.svc);
	srv.svc = NULL;
	ck_assert_int_eq(srv.destroyed, 1); /* not again at destroy */
	qb_loop_destroy(loop);
	loop = NULL;
	ck_assert_int_eq(count_fds(), pr.fds);
}

/* ------------------------------------------------------------ case table */

BOTH_TRANSPORTS(scn_client_disconnect)
BOTH_TRANSPORTS(scn_server_bye)
BOTH_TRANSPORTS(scn_server_kick)

START_TEST(scn_server_death_shm)
{
	scn_server_death(QB_IPC_SHM);
}
END_TEST

START_TEST(scn_server_death_socket)
{
	scn_server_death(QB_IPC_SOCKET);
}
END_TEST

START_TEST(scn_client_death_shm)
{
	scn_client_death(QB_IPC_SHM);
}
END_TEST

START_TEST(scn_client_death_socket)
{
	scn_client_death(QB_IPC_SOCKET);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc_interop_disconnect");

	ADD_BOTH(s, scn_client_disconnect);
	ADD_BOTH(s, scn_server_bye);
	ADD_BOTH(s, scn_server_kick);
	QBT_ADD_TEST(s, scn_server_death_shm);
	QBT_ADD_TEST(s, scn_server_death_socket);
	QBT_ADD_TEST(s, scn_client_death_shm);
	QBT_ADD_TEST(s, scn_client_death_socket);
	return interop_main(s);
}
