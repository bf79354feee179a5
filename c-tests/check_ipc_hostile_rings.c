/*
 * libqb-rs C tests: the IPC server against a client that corrupts what it
 * shares with the server (security.md §4 cases 14-19): request headers that
 * lie about size or id, a payload changed while the handler reads it, ring
 * chunks with a bad length word or magic, the rings' shared header fields,
 * the file paths stored in them, and their semaphores.
 *
 * The client owns the files of its connection and can write any byte of
 * them; this program plays that client (ipc_hostile_shm.h: the server
 * process, the attacker, the good client and the checks every case ends
 * with). Stock libqb trusts the client and fails most of these: those cases
 * are QBT_OURS_ONLY (QBT_HOSTILE_ON_STOCK=1 runs them on stock anyway; the
 * outcome is in c-tests/HOSTILE-IPC-STOCK.md).
 *
 * Skipped: case 15 on SOCKET: that transport always receives into a private
 * buffer.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <unistd.h>

#include "ipc_hostile_shm.h"

/* ---------------------------------------------- case 14: bad hdr.size/id */

struct bad_req {
	const char *what;
	int32_t id;
	int32_t size; /* hdr.size; INT32_MAX: max_msg_size + 1 */
	uint32_t len; /* bytes actually sent */
	int kicked;   /* the server must disconnect the client */
};

static const struct bad_req BAD_REQS[] = {
	{"size 0", IPCC_ECHO, 0, 64, 1},
	{"size -1", IPCC_ECHO, -1, 64, 1},
	{"size INT32_MIN", IPCC_ECHO, INT32_MIN, 64, 1},
	{"size 8 < header", IPCC_ECHO, 8, 64, 1},
	{"size past the chunk", IPCC_ECHO, 65, 64, 1},
	{"size past max_msg_size", IPCC_ECHO, INT32_MAX, 64, 1},
	{"chunk shorter than a header", IPCC_ECHO, 8, 8, 1},
	{"id INT32_MIN", INT32_MIN, 64, 64, 0},
	{"id -2", -2, 64, 64, 0},
};

static void bad_requests(enum qb_ipc_type type)
{
	struct scene sc;
	size_t i;
	int closed = 0;

	scene_open(&sc, type);
	for (i = first_variant(); i < sizeof(BAD_REQS) / sizeof(BAD_REQS[0]); i++) {
		const struct bad_req *b = &BAD_REQS[i];
		struct attacker a;
		uint8_t msg[64];
		struct qb_ipc_request_header h;
		int before[C_N];

		trace("%s", b->what);
		attacker_connect(&sc.s, &a);
		memset(msg, 0xab, sizeof(msg));
		h.id = b->id;
		h.size = b->size == INT32_MAX ? (int32_t)a.max + 1 : b->size;
		memcpy(msg, &h, b->len < sizeof(h) ? b->len : sizeof(h));
		server_counts(&sc.s, before);
		attacker_deliver(&a, msg, b->len);
		if (b->kicked) {
			scene_refused(&sc, ++closed, before, b->what);
		} else {
			server_wait(&sc.s, "requests", before[C_REQ] + 1, NULL);
		}
		scene_check(&sc);
		attacker_hangup(&a);
		if (!b->kicked)
			scene_kicked(&sc, ++closed);
	}
	scene_close(&sc);
}

START_TEST(test_bad_request_header_shm)
{
	HOSTILE_CASE();
	bad_requests(QB_IPC_SHM);
}
END_TEST

START_TEST(test_bad_request_header_socket)
{
	HOSTILE_CASE();
	bad_requests(QB_IPC_SOCKET);
}
END_TEST

/* --------------------------------------------------- case 15: TOCTOU race */

struct racer {
	struct evil_ring *r;
	uint32_t at;  /* word of the chunk */
	uint32_t len; /* payload bytes */
	volatile int stop;
	unsigned long flips;
};

static void *race(void *arg)
{
	struct racer *x = arg;

	while (!x->stop) {
		size_t i;
		int32_t sz;

		/* hdr.size between two valid values, and every payload byte */
		sz = (x->flips & 1) ? (int32_t)x->len - 4 : (int32_t)x->len;
		memcpy(evil_byte(x->r, (x->at + 2) % x->r->words, 8), &sz, 4);
		for (i = IPCC_REQ_HDR; i < x->len; i++)
			*evil_byte(x->r, (x->at + 2) % x->r->words, i) ^= 0xff;
		x->flips++;
	}
	return NULL;
}

START_TEST(test_toctou_payload_flipped_during_dispatch)
{
	struct scene sc;
	struct attacker a;
	int round;
	uint8_t msg[4096], reply[256];

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	server_ask(&sc.s, "STABLE");
	attacker_connect(&sc.s, &a);
	for (round = 0; round < 5; round++) {
		struct racer x = {.r = &a.ring[R_REQ], .len = sizeof(msg)};
		pthread_t th;
		ssize_t r;
		int64_t deadline = now_ms() + SERVE_MS;
		struct qb_ipc_response_header rh;
		long at;

		make_req(msg, IPCC_STABLE, sizeof(msg));
		ipcc_pattern(msg + IPCC_REQ_HDR, sizeof(msg) - IPCC_REQ_HDR, (uint32_t)round);
		at = evil_put_chunk(&a.ring[R_REQ], msg, sizeof(msg), sizeof(msg),
				    EV_MAGIC_COMMITTED, 1);
		ck_assert_int_ge(at, 0);
		x.at = (uint32_t)at;
		ck_assert_int_eq(pthread_create(&th, NULL, race, &x), 0);
		while (x.flips < 2)
			sched_yield();
		ck_assert_int_eq(evil_doorbells(a.setup_fd, 1), 0);
		do {
			r = qb_ipcc_recv(a.c, reply, sizeof(reply), 100);
		} while ((r == -EAGAIN || r == -ETIMEDOUT) && now_ms() < deadline);
		x.stop = 1;
		pthread_join(th, NULL);
		ck_assert_int_eq(r, IPCC_RES_HDR + 12);
		memcpy(&rh, reply, sizeof(rh));
		ck_assert_int_eq(rh.id, IPCC_STABLE);
		ck_assert_msg(ipcc_get32(reply + IPCC_RES_HDR + 4) == 0,
			      "round %d: the handler saw its request change %u times while "
			      "the racer flipped it (%lu flips)",
			      round, ipcc_get32(reply + IPCC_RES_HDR + 4), x.flips);
		scene_check(&sc);
	}
	attacker_hangup(&a);
	scene_kicked(&sc, 1);
	scene_close(&sc);
}
END_TEST

/* ------------------------------------------ case 16: chunk length / magic */

struct bad_chunk {
	const char *what;
	uint32_t len_word; /* 0: the real length */
	uint32_t magic;
	int len_word_rel;  /* 1: len_word is added to the ring's byte size,
			      2: to max_msg_size */
};

static const struct bad_chunk BAD_CHUNKS[] = {
	{"length 0xffffffff", 0xffffffffu, EV_MAGIC_COMMITTED, 0},
	{"length 0x80000000", 0x80000000u, EV_MAGIC_COMMITTED, 0},
	{"length = ring size + 4", 4, EV_MAGIC_COMMITTED, 1},
	{"length = max_msg_size + 1", 1, EV_MAGIC_COMMITTED, 2},
	{"length past the write position", 4000, EV_MAGIC_COMMITTED, 0},
	{"magic ALLOC", 0, EV_MAGIC_ALLOC, 0},
	{"magic DEAD", 0, EV_MAGIC_DEAD, 0},
	{"magic 0", 0, 0, 0},
	{"magic random", 0, 0x5eed1e55u, 0},
};

START_TEST(test_bad_chunk_length_and_magic)
{
	struct scene sc;
	size_t i;
	int closed = 0;

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	for (i = first_variant(); i < sizeof(BAD_CHUNKS) / sizeof(BAD_CHUNKS[0]); i++) {
		const struct bad_chunk *b = &BAD_CHUNKS[i];
		struct attacker a;
		uint8_t msg[64];
		uint32_t lw = b->len_word;
		int before[C_N];

		trace("%s", b->what);
		attacker_connect(&sc.s, &a);
		if (b->len_word_rel == 1)
			lw += (uint32_t)a.ring[R_REQ].data_len;
		else if (b->len_word_rel == 2)
			lw += a.max;
		else if (lw == 0)
			lw = sizeof(msg);
		ipcc_make_echo(msg, sizeof(msg), 7);
		server_counts(&sc.s, before);
		ck_assert_int_ge(evil_put_chunk(&a.ring[R_REQ], msg, sizeof(msg), lw, b->magic, 1),
				 0);
		ck_assert_int_eq(evil_doorbells(a.setup_fd, 1), 0);
		scene_refused(&sc, ++closed, before, b->what);
		scene_check(&sc);
		attacker_hangup(&a);
	}
	scene_close(&sc);
}
END_TEST

/* ----------------------------------------- case 17: shared header fields */

struct bad_field {
	const char *what;
	int ring;
	size_t off;
	uint32_t value; /* UINT32_MAX - 1: the ring's word count */
};

#define RING_WORDS (UINT32_MAX - 1)

static const struct bad_field BAD_FIELDS[] = {
	{"request word_size 0", R_REQ, EV_OFF_WORD_SIZE, 0},
	{"request word_size 1", R_REQ, EV_OFF_WORD_SIZE, 1},
	{"request word_size 2^32-1", R_REQ, EV_OFF_WORD_SIZE, UINT32_MAX},
	{"request read_pt = size", R_REQ, EV_OFF_READ_PT, RING_WORDS},
	{"request read_pt huge", R_REQ, EV_OFF_READ_PT, 0xfffffff0u},
	{"request write_pt = size", R_REQ, EV_OFF_WRITE_PT, RING_WORDS},
	{"request write_pt huge", R_REQ, EV_OFF_WRITE_PT, 0x7fffffffu},
	{"request ref_count INT_MIN", R_REQ, EV_OFF_REF_COUNT, 0x80000000u},
	{"response word_size 0", R_RES, EV_OFF_WORD_SIZE, 0},
	{"response word_size 2^32-1", R_RES, EV_OFF_WORD_SIZE, UINT32_MAX},
	{"response read_pt huge", R_RES, EV_OFF_READ_PT, 0xfffffff0u},
	{"response write_pt = size", R_RES, EV_OFF_WRITE_PT, RING_WORDS},
	{"response ref_count INT_MIN", R_RES, EV_OFF_REF_COUNT, 0x80000000u},
	{"event word_size 0", R_EVT, EV_OFF_WORD_SIZE, 0},
	{"event read_pt huge", R_EVT, EV_OFF_READ_PT, 0xfffffff0u},
	{"event write_pt huge", R_EVT, EV_OFF_WRITE_PT, 0x7fffffffu},
};

START_TEST(test_corrupt_ring_header_fields)
{
	struct scene sc;
	size_t i;
	int closed = 0;

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	for (i = first_variant(); i < sizeof(BAD_FIELDS) / sizeof(BAD_FIELDS[0]); i++) {
		const struct bad_field *b = &BAD_FIELDS[i];
		struct attacker a;
		uint8_t msg[128];
		uint32_t v = b->value;
		int before[C_N];

		trace("%s", b->what);
		attacker_connect(&sc.s, &a);
		if (v == RING_WORDS)
			v = a.ring[b->ring].words;
		server_counts(&sc.s, before);
		if (b->ring == R_REQ) {
			/* a valid request first, then the damage, then the doorbell */
			ipcc_make_echo(msg, sizeof(msg), 9);
			ck_assert_int_ge(evil_put_chunk(&a.ring[R_REQ], msg, sizeof(msg),
							sizeof(msg), EV_MAGIC_COMMITTED, 1),
					 0);
			evil_set(&a.ring[R_REQ], b->off, v);
			ck_assert_int_eq(evil_doorbells(a.setup_fd, 1), 0);
		} else {
			evil_set(&a.ring[b->ring], b->off, v);
			if (b->ring == R_RES)
				ipcc_make_echo(msg, sizeof(msg), 9);
			else
				make_events_req(msg, 3, 100);
			attacker_deliver(&a, msg,
					 b->ring == R_RES ? sizeof(msg) : IPCC_REQ_HDR + 12);
		}
		/* Whatever the server made of it, it goes on serving others. */
		scene_check(&sc);
		attacker_hangup(&a);
		scene_kicked(&sc, ++closed);
		scene_check(&sc);
	}
	scene_close(&sc);
}
END_TEST

/* -------------------------------------- case 18: paths point at a canary */

/* The good client's directory is also qb-<srvpid>-*: wait_shm_clean cannot
 * be used while it is connected. This variant waits for the attacker's own
 * directory instead. */
static int wait_gone_soft(const char *dir)
{
	int64_t deadline = now_ms() + SETTLE_MS;

	while (access(dir, F_OK) == 0) {
		if (now_ms() >= deadline)
			return 0;
		usleep(1000); /* polling for the condition; the bound is the deadline */
	}
	return 1;
}

static void wait_gone(const char *dir)
{
	ck_assert_msg(wait_gone_soft(dir), "%s still there", dir);
}

START_TEST(test_paths_point_at_canary)
{
	struct scene sc;
	int ring, closed = 0;

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	for (ring = 0; ring < 3; ring++) {
		struct attacker a;
		char hdr_canary[PATH_MAX], data_canary[PATH_MAX];
		struct evil_ring *r;
		int gone;

		attacker_connect(&sc.s, &a);
		r = &a.ring[ring];
		make_canary(hdr_canary, sizeof(hdr_canary), "hdr");
		make_canary(data_canary, sizeof(data_canary), "data");
		memset(r->hdr + EV_OFF_HDR_PATH, 0, EV_PATH_MAX);
		memset(r->hdr + EV_OFF_DATA_PATH, 0, EV_PATH_MAX);
		strcpy((char *)r->hdr + EV_OFF_HDR_PATH, hdr_canary);
		strcpy((char *)r->hdr + EV_OFF_DATA_PATH, data_canary);
		attacker_hangup(&a);
		scene_kicked(&sc, ++closed);
		/* the server's cleanup is over once the directory is gone */
		gone = wait_gone_soft(a.dir);
		check_canary(hdr_canary);
		check_canary(data_canary);
		ck_assert_msg(gone, "%s still there", a.dir);
	}
	scene_close(&sc);
}
END_TEST

START_TEST(test_paths_unterminated)
{
	struct scene sc;
	int ring, closed = 0;

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	for (ring = 0; ring < 3; ring++) {
		struct attacker a;
		struct evil_ring *r;

		attacker_connect(&sc.s, &a);
		r = &a.ring[ring];
		/* No NUL anywhere in either path; the only '/' lies past PATH_MAX
		 * (in ref_count / the semaphore / user data). */
		memset(r->hdr + EV_OFF_HDR_PATH, 'A', EV_PATH_MAX);
		memset(r->hdr + EV_OFF_DATA_PATH, 'B', EV_PATH_MAX);
		r->hdr[EV_OFF_REF_COUNT + 2] = '/';
		r->hdr[EV_OFF_SEM + 20] = '/';
		attacker_hangup(&a);
		scene_kicked(&sc, ++closed);
		scene_check(&sc);
		wait_gone(a.dir);
	}
	scene_close(&sc);
}
END_TEST

/* ------------------------------------------------- case 19: the semaphore */

START_TEST(test_semaphore_garbage)
{
	static const uint8_t fills[] = {0xff, 0x7f, 0x00};
	struct scene sc;
	int closed = 0;
	size_t i;
	int ring;

	HOSTILE_CASE();
	scene_open(&sc, QB_IPC_SHM);
	for (ring = 0; ring < 3; ring++) {
		for (i = 0; i < sizeof(fills) + 1; i++) {
			struct attacker a;
			uint8_t msg[128];
			struct evil_ring *r;

			trace("%s ring, semaphore fill %zu", RING_KIND[ring], i);
			attacker_connect(&sc.s, &a);
			r = &a.ring[ring];
			if (i < sizeof(fills)) {
				memset(r->hdr + EV_OFF_SEM, fills[i], EV_SEM_BYTES);
			} else {
				/* a negative count */
				uint32_t neg = 0x80000000u;

				memcpy(r->hdr + EV_OFF_SEM, &neg, 4);
			}
			if (ring == R_REQ) {
				ipcc_make_echo(msg, sizeof(msg), 3);
				ck_assert_int_ge(evil_put_chunk(r, msg, sizeof(msg), sizeof(msg),
								EV_MAGIC_COMMITTED, 0),
						 0);
				ck_assert_int_eq(evil_doorbells(a.setup_fd, 1), 0);
			} else if (ring == R_RES) {
				ipcc_make_echo(msg, sizeof(msg), 3);
				attacker_deliver(&a, msg, sizeof(msg));
			} else {
				make_events_req(msg, 3, 100);
				attacker_deliver(&a, msg, IPCC_REQ_HDR + 12);
			}
			scene_check(&sc);
			attacker_hangup(&a);
			scene_kicked(&sc, ++closed);
		}
	}
	scene_close(&sc);
}
END_TEST

START_TEST(test_semaphore_posted_a_million_times)
{
	struct scene sc;
	struct attacker a;
	sem_t *sem;
	int i;

	/* stock passes too */
	scene_open(&sc, QB_IPC_SHM);
	attacker_connect(&sc.s, &a);
	sem = (sem_t *)(void *)(a.ring[R_REQ].hdr + EV_OFF_SEM);
	for (i = 0; i < 1000000; i++)
		ck_assert_int_eq(sem_post(sem), 0);
	/* a million requests announced, none there: a protocol violation */
	ck_assert_int_eq(evil_doorbells(a.setup_fd, 1), 0);
	scene_kicked(&sc, 1);
	scene_check(&sc);
	attacker_hangup(&a);
	scene_close(&sc);
}
END_TEST

static Suite *hostile_rings_suite(void)
{
	Suite *s = suite_create("ipc_hostile_rings");

	QBT_ADD_TEST(s, test_bad_request_header_shm);
	QBT_ADD_TEST(s, test_bad_request_header_socket);
	QBT_ADD_TEST(s, test_toctou_payload_flipped_during_dispatch);
	QBT_ADD_TEST(s, test_bad_chunk_length_and_magic);
	QBT_ADD_TEST(s, test_corrupt_ring_header_fields);
	QBT_ADD_TEST(s, test_paths_point_at_canary);
	QBT_ADD_TEST(s, test_paths_unterminated);
	QBT_ADD_TEST(s, test_semaphore_garbage);
	QBT_ADD_TEST(s, test_semaphore_posted_a_million_times);
	return s;
}

int main(void)
{
	return qbt_main(hostile_rings_suite());
}
