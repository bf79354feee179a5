/*
 * libqb-rs C tests: the IPC server's (qbipcs.h) connection lifecycle, over
 * SHM and SOCKET.
 *
 * connection_accept, _created, _closed and _destroyed: a normal connection,
 * disconnects from inside msg_process and from inside connection_created, a
 * refused client, connection_closed asking to be called again, and
 * destroying the service with clients connected. The server and its clients
 * are in ipcs_fixture.h.
 */
#define _GNU_SOURCE
#include "ipcs_fixture.h"

/* ------------------------------------------------------------------ cases */

static void lifecycle(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct stats_res s;
	struct qb_ipcs_stats ss;

	start_server(type);
	c = connect_client();
	ck_assert(wait_for(&n_created, 1));
	echo(c, "hello");
	echo(c, "world");
	s = stats_of(c);
	ck_assert_int_eq(s.st.client_pid, getpid());
	ck_assert_int_eq(s.st.requests, 3);
	ck_assert_int_eq(s.st.responses, 2);
	ck_assert_int_eq(s.connections, 1);
	ck_assert_int_eq(s.service_id, 7);
	ck_assert_int_ge(s.buffer_size, MAX_MSG);
	ck_assert_int_eq(qb_ipcc_get_buffer_size(c), s.buffer_size);
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_accept), 1);
	ck_assert_int_eq(get(&n_created), 1);
	ck_assert_int_eq(get(&n_closed), 1);
	ck_assert_int_eq(command(CMD_COUNT), 0);
	ck_assert_int_eq(qb_ipcs_stats_get(srv, &ss, 0), 0);
	ck_assert_int_eq(ss.active_connections, 0);
	ck_assert_int_eq(ss.closed_connections, 1);
	stop_server();
	ck_assert_int_eq(get(&n_destroyed), 1);
}

START_TEST(lifecycle_shm) { lifecycle(QB_IPC_SHM); }
END_TEST
START_TEST(lifecycle_socket) { lifecycle(QB_IPC_SOCKET); }
END_TEST
static void disconnect_in_msg_process(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c, *other;
	struct req r = {.hdr = {.id = REQ_DISCONNECT, .size = sizeof(struct qb_ipc_request_header)}};
	struct qb_ipc_response_header res;

	start_server(type);
	other = connect_client();
	c = connect_client();
	ck_assert_int_eq(qb_ipcc_send(c, &r, r.hdr.size), r.hdr.size);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_lt(qb_ipcc_recv(c, &res, sizeof(res), WAIT_MS), 0);
	ck_assert_int_eq(qb_ipcc_is_connected(c), 0);
	qb_ipcc_disconnect(c);
	/* The other client is unaffected. */
	echo(other, "still here");
	ck_assert_int_eq(get(&n_closed), 1);
	qb_ipcc_disconnect(other);
	ck_assert(wait_for(&n_destroyed, 2));
	stop_server();
	ck_assert_int_eq(get(&n_created), 2);
	ck_assert_int_eq(get(&n_closed), 2);
	ck_assert_int_eq(get(&n_destroyed), 2);
}

START_TEST(disconnect_from_msg_process_shm) { disconnect_in_msg_process(QB_IPC_SHM); }
END_TEST
START_TEST(disconnect_from_msg_process_socket) { disconnect_in_msg_process(QB_IPC_SOCKET); }
END_TEST

/* Stock skips connection_closed for a connection disconnected inside
 * connection_created; libqb-rs runs each callback exactly once. */
static void disconnect_on_created(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;
	struct req r = {.hdr = {.id = REQ_ECHO, .size = sizeof(struct qb_ipc_request_header)}};
	struct qb_ipc_response_header res;

	disconnect_in_created = 1;
	start_server(type);
	c = qb_ipcc_connect(srv_name, MAX_MSG);
	ck_assert(wait_for(&n_destroyed, 1));
	if (c != NULL) {
		int32_t rc = qb_ipcc_send(c, &r, r.hdr.size);
		if (rc >= 0)
			rc = qb_ipcc_recv(c, &res, sizeof(res), WAIT_MS);
		ck_assert_int_lt(rc, 0);
		qb_ipcc_disconnect(c);
	}
	ck_assert_int_eq(get(&n_created), 1);
	ck_assert_int_eq(get(&n_destroyed), 1);
	stop_server();
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_closed), 1);
}

START_TEST(disconnect_from_created_shm) { disconnect_on_created(QB_IPC_SHM); }
END_TEST
START_TEST(disconnect_from_created_socket) { disconnect_on_created(QB_IPC_SOCKET); }
END_TEST

/* A refused client gets the application's error; no connection callbacks
 * beyond accept (stock calls connection_destroyed without created). */
static void rejected(enum qb_ipc_type type)
{
	accept_result = -EACCES;
	start_server(type);
	errno = 0;
	ck_assert_ptr_null(qb_ipcc_connect(srv_name, MAX_MSG));
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(get(&n_accept), 1);
	ck_assert_int_eq(command(CMD_COUNT), 0);
	stop_server();
	ck_assert_int_eq(get(&n_created), 0);
	ck_assert_int_eq(get(&n_closed), 0);
	ck_assert_int_eq(get(&n_destroyed), get(&n_destroyed_uncreated));
	if (!qbt_is_stock())
		ck_assert_int_eq(get(&n_destroyed), 0);
}

START_TEST(rejected_shm) { rejected(QB_IPC_SHM); }
END_TEST
START_TEST(rejected_socket) { rejected(QB_IPC_SOCKET); }
END_TEST

/* connection_closed asking to be called again: retried from a job, then
 * destroyed once. */
static void closed_retry(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c;

	closed_retries = 2;
	start_server(type);
	c = connect_client();
	echo(c, "x");
	qb_ipcc_disconnect(c);
	ck_assert(wait_for(&n_destroyed, 1));
	ck_assert_int_eq(get(&n_closed), 3);
	stop_server();
	ck_assert_int_eq(get(&n_destroyed), 1);
}

START_TEST(closed_retry_shm) { closed_retry(QB_IPC_SHM); }
END_TEST
START_TEST(closed_retry_socket) { closed_retry(QB_IPC_SOCKET); }
END_TEST

/* Destroying the service with clients connected closes them all. */
static void destroy_with_clients(enum qb_ipc_type type)
{
	qb_ipcc_connection_t *c[3];
	struct qb_ipc_response_header res;

	start_server(type);
	for (int i = 0; i < 3; i++)
		c[i] = connect_client();
	ck_assert_int_eq(command(CMD_COUNT), 3);
	command(CMD_STOP);
	ck_assert_int_eq(pthread_join(srv_thread, NULL), 0);
	ck_assert_int_eq(get(&n_closed), 3);
	ck_assert_int_eq(get(&n_destroyed), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_lt(qb_ipcc_recv(c[i], &res, sizeof(res), 500), 0);
		qb_ipcc_disconnect(c[i]);
	}
	release_server();
}

START_TEST(destroy_with_clients_shm) { destroy_with_clients(QB_IPC_SHM); }
END_TEST
START_TEST(destroy_with_clients_socket) { destroy_with_clients(QB_IPC_SOCKET); }
END_TEST

int main(void)
{
	Suite *s = suite_create("ipcs_lifecycle");

	QBT_ADD_TEST(s, lifecycle_shm);
	QBT_ADD_TEST(s, lifecycle_socket);
	QBT_ADD_TEST(s, disconnect_from_msg_process_shm);
	QBT_ADD_TEST(s, disconnect_from_msg_process_socket);
	QBT_ADD_TEST(s, disconnect_from_created_shm);
	QBT_ADD_TEST(s, disconnect_from_created_socket);
	QBT_ADD_TEST(s, rejected_shm);
	QBT_ADD_TEST(s, rejected_socket);
	QBT_ADD_TEST(s, closed_retry_shm);
	QBT_ADD_TEST(s, closed_retry_socket);
	QBT_ADD_TEST(s, destroy_with_clients_shm);
	QBT_ADD_TEST(s, destroy_with_clients_socket);
	return qbt_main(s);
}
