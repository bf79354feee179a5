/*
 * libqb-rs C tests: the IPC server (qbipcs.h) against clients that break the
 * wire protocol.
 *
 * A raw client (ipcs_fixture.h) sends a bad or short handshake, a request
 * whose header claims more bytes than its SHM chunk holds, or two requests
 * with a single doorbell byte: none may stop the server serving others.
 */
#define _GNU_SOURCE
#include <qb/qbrb.h>

#include "ipcs_fixture.h"

/* Handshake garbage: wrong id, short hello, silence. None becomes a
 * connection; the server keeps serving. */
static void bad_hello(enum qb_ipc_type type)
{
	struct {
		struct qb_ipc_request_header hdr;
		uint32_t max;
	} __attribute__((aligned(8))) bogus = {.hdr = {.id = 5, .size = 24}, .max = MAX_MSG};
	qb_ipcc_connection_t *c;
	int a, b;

	start_server(type);
	a = raw_connect();
	ck_assert_int_eq(send(a, &bogus, 24, 0), 24);
	ck_assert(closed_by_server(a));
	close(a);
	b = raw_connect();
	ck_assert_int_eq(send(b, &bogus, 4, 0), 4);
	close(b);
	c = connect_client();
	echo(c, "served");
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_accept), 1);
	stop_server();
}

START_TEST(bad_hello_shm) { bad_hello(QB_IPC_SHM); }
END_TEST
START_TEST(bad_hello_socket) { bad_hello(QB_IPC_SOCKET); }
END_TEST

/* A raw SHM client writes a request whose header claims more bytes than the
 * chunk holds: libqb-rs disconnects it without calling msg_process (stock
 * hands the bytes beyond the chunk to msg_process). */
START_TEST(shm_lying_size)
{
	struct hello_res res;
	qb_ringbuffer_t *rq;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = 1000}};
	qb_ipcc_connection_t *good;
	int fd;

	QBT_OURS_ONLY();
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	rq = qb_rb_open(res.request, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, sizeof(int32_t));
	ck_assert_ptr_nonnull(rq);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	ck_assert(closed_by_server(fd));
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_msgs), 0);
	qb_rb_close(rq);
	close(fd);
	good = connect_client();
	echo(good, "fine");
	qb_ipcc_disconnect(good);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}
END_TEST

/* Two requests but a single doorbell byte: a stock server then blocks in a
 * read of the second byte; libqb-rs keeps serving everyone. */
START_TEST(shm_missing_doorbell)
{
	struct hello_res res;
	qb_ringbuffer_t *rq, *rs;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = 24}};
	char back[64];
	qb_ipcc_connection_t *good;
	int fd;

	QBT_OURS_ONLY();
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	rq = qb_rb_open(res.request, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, sizeof(int32_t));
	rs = qb_rb_open(res.response, res.max_msg_size, QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rq);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(qb_rb_chunk_write(rq, &r, 24), 24);
	ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	ck_assert_int_eq(qb_rb_chunk_read(rs, back, sizeof(back), WAIT_MS), 24);
	ck_assert_int_eq(qb_rb_chunk_read(rs, back, sizeof(back), WAIT_MS), 24);
	good = connect_client();
	echo(good, "not stalled");
	qb_ipcc_disconnect(good);
	qb_rb_close(rq);
	qb_rb_close(rs);
	close(fd);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcs_raw_client");

	QBT_ADD_TEST(s, bad_hello_shm);
	QBT_ADD_TEST(s, bad_hello_socket);
	QBT_ADD_TEST(s, shm_lying_size);
	QBT_ADD_TEST(s, shm_missing_doorbell);
	return qbt_main(s);
}
