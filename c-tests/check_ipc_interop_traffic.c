/*
 * libqb-rs C tests: IPC traffic across implementations (qbipcs.h / qbipcc.h).
 *
 * Each case pairs this program, on the libqb it was started with, and
 * c-tests/ipc_peer on the OTHER libqb (see ipc_interop_peer.h), with this
 * program as the server and as the client, over SHM and SOCKET (and NATIVE
 * for the plain echo). Covered here: connecting (blocking and async), echoes
 * of every size up to the buffer, events, and rate limits / flow control.
 * Disconnects and peer death are in check_ipc_interop_disconnect.c.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qbutil.h>

#include "ipc_interop_pair.h"

/* ------------------------------------------ helpers only traffic cases need */

static void sv_rate(enum qb_ipcs_rate_limit rate)
{
	static const char *words[] = {"fast", "normal", "slow", "off", "off2"};

	if (pr.role == WE_SERVE) {
		qb_ipcs_request_rate_limit(srv.svc, rate);
	} else {
		peer_send(&pr.p, "RATE %s", words[rate]);
		peer_expect(&pr.p, "OK");
	}
}

static long sv_push(uint32_t n, uint32_t size, uint32_t seq)
{
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_ptr_nonnull(srv.last);
		return ipcc_send_events(&srv, srv.last, n, size, seq);
	}
	ck_assert_int_eq(peer_ask(&pr.p, v, 1, "PUSH %u %u %u", n, size, seq), 1);
	return v[0];
}

static void sv_sstats(long *active, long *closed)
{
	long v[2];

	if (pr.role == WE_SERVE) {
		struct qb_ipcs_stats st;

		ck_assert_int_eq(qb_ipcs_stats_get(srv.svc, &st, 0), 0);
		v[0] = st.active_connections;
		v[1] = st.closed_connections;
	} else {
		ck_assert_int_eq(peer_ask(&pr.p, v, 2, "SSTATS"), 2);
	}
	*active = v[0];
	*closed = v[1];
}

static long cl_send(uint32_t size, uint32_t seq)
{
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 1, "SEND %u %u", size, seq), 1);
		return v[0];
	}
	ipcc_make_echo(pr.msg, size, seq);
	return qb_ipcc_send(pr.c, pr.msg, size);
}

/* Receives the echo of an earlier cl_send and verifies it. */
static void cl_recv(uint32_t size, uint32_t seq)
{
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 1, "RECV %u %u", size, seq), 1);
		ck_assert_int_eq(v[0], size);
		return;
	}
	assert_reply(recv_sliced(0, pr.reply, sizeof(pr.reply)), IPCC_ECHO, size, seq,
		     IPCC_SALT_RES);
}

/* event_recv on an empty event channel, without waiting. */
static long cl_evpoll(void)
{
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 1, "EVPOLL"), 1);
		return v[0];
	}
	return qb_ipcc_event_recv(pr.c, pr.reply, sizeof(pr.reply), 0);
}

static long cl_fcmax(uint32_t n)
{
	long v[1];

	if (pr.role == WE_SERVE) {
		ck_assert_int_eq(peer_ask(&pr.p, v, 1, "FCMAX %u", n), 1);
		return v[0];
	}
	return qb_ipcc_fc_enable_max_set(pr.c, n);
}

/* Open fds of the client process. */
static long cl_fds(void)
{
	long v[1];

	if (pr.role == WE_CALL)
		return count_fds();
	ck_assert_int_eq(peer_ask(&pr.p, v, 1, "FDS"), 1);
	return v[0];
}

/* ------------------------------------------------------------- scenarios */

static const uint32_t echo_sizes[] = {IPCC_MIN_MSG, IPCC_MIN_MSG + 1, 100, 1000, 4095, 4096,
				      4097, 12000, 33333};

/* Connect, echo every size up to the full buffer both ways, stats, disconnect. */
static void scn_connect_echo(enum role role, enum qb_ipc_type type)
{
	long st[7], active, closed, fds_before;
	struct counts k;
	uint32_t i, seq = 0, n = sizeof(echo_sizes) / sizeof(echo_sizes[0]);
	uint32_t big[3];

	SETUP_OR_SKIP(role, type);
	fds_before = cl_fds();
	cl_connect(0);
	big[0] = (uint32_t)pr.bufsize - 64;
	big[1] = (uint32_t)pr.bufsize - 1;
	big[2] = (uint32_t)pr.bufsize;
	for (i = 0; i < n; i++) {
		cl_echo(echo_sizes[i], seq++, 0);
		cl_echo(echo_sizes[i], seq++, 1);
	}
	for (i = 0; i < 3; i++) {
		cl_echo(big[i], seq++, 0);
		cl_echo(big[i], seq++, 1);
	}
	/* one byte over the buffer is refused by the client library */
	ck_assert_int_eq(cl_send((uint32_t)pr.bufsize + 1, seq), -EMSGSIZE);
	sv_cstats(st);
	ck_assert_int_eq(st[0], client_pid());
	ck_assert_int_eq(st[1], seq);
	ck_assert_int_eq(st[2], seq);
	ck_assert_int_eq(st[3], 0);
	sv_sstats(&active, &closed);
	ck_assert_int_eq(active, 1);
	ck_assert_int_eq(closed, 0);
	cl_disconnect();
	sv_wait("destroyed", 1, &k);
	assert_lifecycles(&k, 1, seq);
	sv_sstats(&active, &closed);
	ck_assert_int_eq(active, 0);
	ck_assert_int_eq(closed, 1);
	ck_assert_int_eq(count_shm(server_pid()), 0);
	ck_assert_int_eq(cl_fds(), fds_before);
	finish(1);
}

/* qb_ipcc_connect_async + qb_ipcc_connect_continue, then traffic. */
static void scn_async_connect(enum role role, enum qb_ipc_type type)
{
	struct counts k;

	SETUP_OR_SKIP(role, type);
	cl_connect(1);
	cl_echo(100, 1, 0);
	cl_echo(5000, 2, 1);
	cl_events(3, 200, 10);
	cl_disconnect();
	sv_wait("destroyed", 1, &k);
	assert_lifecycles(&k, 1, 3);
	finish(1);
}

/* Events requested by the client and pushed by the server, sizes up to near
 * the buffer size, in order and intact. */
static void scn_events(enum role role, enum qb_ipc_type type)
{
	long st[7], empty;

	SETUP_OR_SKIP(role, type);
	cl_connect(0);
	empty = cl_evpoll();
	ck_assert_msg(empty == -EAGAIN || empty == -ETIMEDOUT, "empty event_recv: %ld", empty);
	cl_events(8, IPCC_MIN_MSG, 100);
	cl_events(8, 1000, 200);
	cl_events(4, 8000, 300);
	cl_events(1, (uint32_t)pr.bufsize - 64, 400);
	ck_assert_int_eq(sv_push(5, 500, 1000), 5);
	cl_evrecv(5, 500, 1000);
	ck_assert_int_eq(sv_push(1, (uint32_t)pr.bufsize - 64, 2000), 1);
	cl_evrecv(1, (uint32_t)pr.bufsize - 64, 2000);
	cl_echo(300, 7, 0); /* requests still flow after events */
	ck_assert_int_eq(cl_evpoll(), empty);
	sv_cstats(st);
	ck_assert_int_eq(st[1], 5);  /* requests */
	ck_assert_int_eq(st[2], 5);  /* responses */
	ck_assert_int_eq(st[3], 27); /* events */
	ck_assert_int_eq(st[6], 0);  /* nothing queued */
	finish(1);
}

/* Flow control: RATE_OFF makes the client's send -EAGAIN; RATE_OFF_2 only
 * when the client raised its fc_enable_max to 2; back to NORMAL, the held
 * request is served. Other rates keep traffic flowing. */
static void scn_rate_limit(enum role role, enum qb_ipc_type type)
{
	long st[7];

	SETUP_OR_SKIP(role, type);
	cl_connect(0);
	cl_echo(100, 1, 0);
	sv_rate(QB_IPCS_RATE_OFF);
	sv_cstats(st);
	ck_assert_int_eq(st[4], 1);
	ck_assert_int_eq(cl_send(100, 2), -EAGAIN);
	ck_assert_int_eq(cl_send(100, 3), -EAGAIN);
	sv_rate(QB_IPCS_RATE_NORMAL);
	cl_echo(100, 4, 0);
	cl_echo(100, 5, 1);

	sv_rate(QB_IPCS_RATE_OFF_2);
	sv_cstats(st);
	ck_assert_int_eq(st[4], 2);
	ck_assert_int_eq(cl_send(200, 6), 200); /* fc 2 > default fc_enable_max 1 */
	ck_assert_int_eq(cl_fcmax(2), 0);
	ck_assert_int_eq(cl_send(100, 7), -EAGAIN);
	sv_rate(QB_IPCS_RATE_NORMAL);
	cl_recv(200, 6); /* held while flow control was on, served now */
	cl_echo(100, 8, 0);

	sv_rate(QB_IPCS_RATE_FAST);
	cl_echo(4000, 9, 0);
	sv_rate(QB_IPCS_RATE_SLOW);
	cl_echo(4000, 10, 1);
	sv_rate(QB_IPCS_RATE_NORMAL);
	sv_cstats(st);
	ck_assert_int_eq(st[1], 7); /* the -EAGAIN sends never reached the server */
	ck_assert_int_eq(st[4], 0);
	ck_assert_int_eq(st[5], 4); /* off, normal, off2, normal */
	finish(1);
}

/* ------------------------------------------------------------ case table */

BOTH_TRANSPORTS(scn_connect_echo)
PAIRED(scn_connect_echo, native, QB_IPC_NATIVE)
BOTH_TRANSPORTS(scn_async_connect)
BOTH_TRANSPORTS(scn_events)
BOTH_TRANSPORTS(scn_rate_limit)

int main(void)
{
	Suite *s = suite_create("ipc_interop_traffic");

	ADD_BOTH(s, scn_connect_echo);
	ADD_PAIRED(s, scn_connect_echo, native);
	ADD_BOTH(s, scn_async_connect);
	ADD_BOTH(s, scn_events);
	ADD_BOTH(s, scn_rate_limit);
	return interop_main(s);
}
