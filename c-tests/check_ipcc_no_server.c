/*
 * check_ipcc_no_server: the IPC client (qbipcc.h) with no server at all:
 * connecting to a name nobody serves, every call on a NULL connection, and
 * the datagram size probe.
 *
 * The client against real servers is in check_ipcc_real_server.c, against
 * fake ones in check_ipcc_fake_server.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>

#include "ipcc_fixture.h"

static uint8_t msg[IPCC_MAX_MSG], reply[IPCC_MAX_MSG];

START_TEST(test_connect_refused)
{
	char name[64];
	int fds = count_fds();

	unique_name(name, sizeof(name), "nobody");
	errno = 0;
	ck_assert_ptr_null(qb_ipcc_connect(name, 4096));
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_null_connection)
{
	struct iovec iov = {msg, 16};
	int fd = -1;

	ck_assert_int_eq(qb_ipcc_send(NULL, msg, 16), -EINVAL);
	ck_assert_int_eq(qb_ipcc_sendv(NULL, &iov, 1), -EINVAL);
	ck_assert_int_eq(qb_ipcc_recv(NULL, reply, 16, 0), -EINVAL);
	ck_assert_int_eq(qb_ipcc_sendv_recv(NULL, &iov, 1, reply, 16, 0), -EINVAL);
	ck_assert_int_eq(qb_ipcc_event_recv(NULL, reply, 16, 0), -EINVAL);
	ck_assert_int_eq(qb_ipcc_fd_get(NULL, &fd), -EINVAL);
	ck_assert_int_eq(qb_ipcc_auth_get(NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(qb_ipcc_fc_enable_max_set(NULL, 1), -EINVAL);
	ck_assert_int_eq(qb_ipcc_get_buffer_size(NULL), -EINVAL);
	ck_assert_int_eq(qb_ipcc_is_connected(NULL), QB_FALSE);
	ck_assert_ptr_null(qb_ipcc_context_get(NULL));
	qb_ipcc_context_set(NULL, msg);
	qb_ipcc_disconnect(NULL);
}
END_TEST

START_TEST(test_dgram_probe)
{
	int32_t a = qb_ipcc_verify_dgram_max_msg_size(1000000);
	int32_t b = qb_ipcc_verify_dgram_max_msg_size(1000000);

	ck_assert_int_eq(qb_ipcc_verify_dgram_max_msg_size(4096), 4096);
	ck_assert_int_gt(a, 4096);
	ck_assert_int_le(a, 1000000);
	ck_assert_int_eq(a, b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcc_no_server");

	signal(SIGPIPE, SIG_IGN);
	QBT_ADD_TEST(s, test_connect_refused);
	QBT_ADD_TEST(s, test_null_connection);
	QBT_ADD_TEST(s, test_dgram_probe);
	return qbt_main(s);
}
