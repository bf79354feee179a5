/*
 * libqb-rs C tests: what the IPC server (qbipcs.h) offers a connected
 * client, over SHM and SOCKET.
 *
 * Events (also through *_sendv), rate limits seen by the client as flow
 * control, an enforced buffer size, the file mode set by auth_set, NATIVE
 * served over SHM, and the service-level errors of qb_ipcs_run and NULL
 * connections. The server and its clients are in ipcs_fixture.h.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "ipcs_fixture.h"

static void events(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct qb_ipc_response_header ev;
	struct stats_res s;
	char buf[64];

	start_server(type);
	c = connect_client();
	ck_assert_int_eq(simple(c, REQ_EVENTS, 20), 0);
	s = stats_of(c);
	ck_assert_int_eq(s.st.events, 20);
	ck_assert_int_eq(s.event_q_length, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(qb_ipcc_event_recv(c, &ev, sizeof(ev), WAIT_MS), sizeof(ev));
		ck_assert_int_eq(ev.id, i);
	}
	ck_assert_int_eq(stats_of(c).event_q_length, 0);
	/* sendv: three parts arrive as one message on both channels. */
	{
		struct req r = {.hdr = {.id = REQ_SENDV, .size = sizeof(struct qb_ipc_request_header)}};
		ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
		ck_assert_int_eq(qb_ipcc_recv(c, buf, sizeof(buf), WAIT_MS), 32);
		ck_assert_int_eq(memcmp(buf + 24, "abcdefgh", 8), 0);
		ck_assert_int_eq(qb_ipcc_event_recv(c, buf, sizeof(buf), WAIT_MS), 32);
		ck_assert_int_eq(memcmp(buf + 24, "abcdefgh", 8), 0);
	}
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}

START_TEST(events_shm) { events(QB_IPC_SHM); }
END_TEST
START_TEST(events_socket) { events(QB_IPC_SOCKET); }
END_TEST

static void flow_control(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c, *d;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = sizeof(struct qb_ipc_request_header)}};
	struct stats_res s;

	start_server(type);
	c = connect_client();
	ck_assert_int_eq(simple(c, REQ_FC_ON, 0), 0);
	/* The gate is in shared memory: the client refuses to send. */
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), -EAGAIN);
	/* A new connection starts open and can lift the limit for everyone. */
	d = connect_client();
	ck_assert_int_eq(simple(d, REQ_FC_OFF, 0), 0);
	echo(c, "flowing again");
	s = stats_of(c);
	ck_assert_int_eq(s.st.flow_control_state, 0);
	ck_assert_int_eq(s.st.flow_control_count, 2);
	/* The same gate set from outside a callback. */
	command(CMD_RATE_OFF);
	ck_assert_int_eq(qb_ipcc_send(d, &r, r.hdr.size), -EAGAIN);
	command(CMD_RATE_NORMAL);
	echo(d, "open");
	qb_ipcc_disconnect(c);
	qb_ipcc_disconnect(d);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
}

START_TEST(flow_control_shm) { flow_control(QB_IPC_SHM); }
END_TEST
START_TEST(flow_control_socket) { flow_control(QB_IPC_SOCKET); }
END_TEST

/* qb_ipcs_enforce_buffer_size wins over a smaller client request. */
static void enforced_size(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;

	enforce_size = 200000;
	start_server(type);
	c = qb_ipcc_connect(srv_name, 20000);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ge(qb_ipcc_get_buffer_size(c), 200000);
	ck_assert_int_eq(stats_of(c).buffer_size, qb_ipcc_get_buffer_size(c));
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}

START_TEST(enforced_size_shm) { enforced_size(QB_IPC_SHM); }
END_TEST
START_TEST(enforced_size_socket) { enforced_size(QB_IPC_SOCKET); }
END_TEST

/* auth_set's mode lands on the shared-memory files. */
START_TEST(auth_mode_shm)
{
	struct hello_res res;
	struct stat st;
	char path[4200];
	int fd;

	auth_mode = 0640;
	start_server(QB_IPC_SHM);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	ck_assert_int_eq(res.connection_type, QB_IPC_SHM);
	snprintf(path, sizeof(path), "%s-header", res.request);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(st.st_uid, getuid());
	close(fd);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}
END_TEST

/* Service-level errors: unsupported types and missing poll hooks. */
START_TEST(run_errors)
{
	struct qb_ipcs_service_handlers sh = {.msg_process = on_msg};
	qb_ipcs_service_t *s;

	s = qb_ipcs_create("qbt-ipcs-mq", 1, QB_IPC_POSIX_MQ, &sh);
	ck_assert_ptr_nonnull(s);
	/* No poll handlers: refused (and released, as documented). */
	ck_assert_int_eq(qb_ipcs_run(s), -EINVAL);
	s = qb_ipcs_create("qbt-ipcs-mq", 1, QB_IPC_SYSV_MQ, &sh);
	{
		struct qb_ipcs_poll_handlers ph = {NULL, h_add, h_mod, h_del};
		srv_loop = qb_loop_create();
		qb_ipcs_poll_handlers_set(s, &ph);
		ck_assert_int_eq(qb_ipcs_run(s), -ENOTSUP);
		qb_loop_destroy(srv_loop);
	}
	ck_assert_int_eq(qb_ipcs_service_id_get(NULL), -EINVAL);
	ck_assert_ptr_null(qb_ipcs_connection_stats_get_2(NULL, 0));
	ck_assert_int_eq(qb_ipcs_connection_get_buffer_size(NULL), -EINVAL);
	ck_assert_int_eq(qb_ipcs_response_send(NULL, "x", 1), -EINVAL);
}
END_TEST

/* NATIVE is served over shared memory. */
START_TEST(native_is_shm)
{
	struct hello_res res;
	int fd;

	start_server(QB_IPC_NATIVE);
	fd = raw_hello(&res, MAX_MSG);
	ck_assert_int_eq(res.hdr.error, 0);
	ck_assert_int_eq(res.connection_type, QB_IPC_SHM);
	ck_assert_int_ge(res.max_msg_size, MAX_MSG);
	close(fd);
	ck_assert(wait_for(&n_destroyed, 1));
	stop_server();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcs_service");

	QBT_ADD_TEST(s, events_shm);
	QBT_ADD_TEST(s, events_socket);
	QBT_ADD_TEST(s, flow_control_shm);
	QBT_ADD_TEST(s, flow_control_socket);
	QBT_ADD_TEST(s, enforced_size_shm);
	QBT_ADD_TEST(s, enforced_size_socket);
	QBT_ADD_TEST(s, auth_mode_shm);
	QBT_ADD_TEST(s, run_errors);
	QBT_ADD_TEST(s, native_is_shm);
	return qbt_main(s);
}
