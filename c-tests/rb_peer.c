/*
 * rb_peer: the far side of the ring-buffer interop tests.
 *
 * A stand-alone program that uses only the public qbrb.h API. The test
 * (check_rb_interop.c) runs it with LD_LIBRARY_PATH pointing at the OTHER
 * libqb implementation, so one process uses libqb-rs and the other stock libqb
 * on the same /dev/shm ring.
 *
 * Conversation: the test sends command lines on stdin ("GO", "CLOSE"); the
 * peer answers lines on fd 3 (stdout when fd 3 is not open, since
 * qb_rb_write_to_file prints to stdout). Every answer is "READY ...",
 * "OK ...", "DUMPED ...", "CLOSED" or "FAIL <reason>". End of input aborts.
 *
 *   create-write  NAME N       create, write N chunks, wait for GO, read the ack
 *   open-read     NAME N       open the test's ring, read N chunks, write an ack
 *   stream-write  NAME N create|open   write N chunks while the test reads
 *   stream-read   NAME N create|open   read N chunks while the test writes
 *   overwrite-fill NAME N      overwrite ring, write N chunks (wraps), wait
 *   overwrite-read NAME N      open the test's overwrite ring, read what is left
 *   dump          NAME FILE N  overwrite ring of N chunks, qb_rb_write_to_file
 *   load-verify   FILE N       qb_rb_create_from_file, read what is left
 *
 * Exit status: 0 success, 1 verification failure, 2 usage/setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbrb.h>

#include "mapped_lib.h"
#include "peer_side.h"
#include "rb_chunks.h"

#define WAIT_MS 30000 /* only turns a dead partner into a failure */

static qb_ringbuffer_t *ring;
static uint8_t chunk[65536];

/* A failure still closes the ring, so no /dev/shm file outlives the peer. */
static void close_ring(void)
{
	if (ring != NULL)
		qb_rb_close(ring);
}

/* Blocks until the test sends `want`; end of input means the test gave up. */
static void await(const char *want)
{
	char line[128];

	if (fgets(line, sizeof(line), stdin) == NULL)
		fail("input closed while waiting for %s", want);
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, want) != 0)
		fail("expected command %s, got '%s'", want, line);
}

static uint32_t parse_u32(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		fail("bad number '%s'", s);
	return (uint32_t)v;
}

static qb_ringbuffer_t *open_ring(const char *name, size_t size, uint32_t flags)
{
	qb_ringbuffer_t *rb = qb_rb_open(name, size, flags, RBI_USER_SIZE);

	if (rb == NULL)
		fail("qb_rb_open(%s, %zu, 0x%x): %s", name, size, flags, strerror(errno));
	return rb;
}

static void write_chunk(uint32_t seq, uint32_t spread, int retry_when_full)
{
	uint32_t len = rbi_len(seq, spread);
	ssize_t r;

	rbi_fill(chunk, seq, len);
	for (;;) {
		r = qb_rb_chunk_write(ring, chunk, len);
		if (r == -EAGAIN && retry_when_full) {
			sched_yield(); /* the reader frees space; nothing to wait on */
			continue;
		}
		break;
	}
	if (r != (ssize_t)len)
		fail("chunk_write seq %u len %u returned %zd", seq, len, r);
}

/* Reads chunk `seq`, using peek+reclaim for even numbers so both paths run. */
static void read_chunk(uint32_t seq, uint32_t spread, int32_t timeout)
{
	ssize_t r;

	if (seq % 2 == 0) {
		void *data = NULL;

		r = qb_rb_chunk_peek(ring, &data, timeout);
		if (r <= 0 || data == NULL)
			fail("peek of seq %u returned %zd", seq, r);
		if (rbi_check(data, r, seq, spread) != 0)
			fail("peeked chunk %u is wrong (len %zd, seq %u)", seq, r,
			     rbi_seq_of(data));
		qb_rb_chunk_reclaim(ring);
	} else {
		r = qb_rb_chunk_read(ring, chunk, sizeof(chunk), timeout);
		if (rbi_check(chunk, r, seq, spread) != 0)
			fail("read of seq %u returned %zd (seq %u)", seq, r,
			     r > 0 ? rbi_seq_of(chunk) : 0);
	}
}

/* Reads until the ring reports it is empty; the chunks must be a run ending
 * at last_seq. Returns how many were read; *first gets the first seq. */
static uint32_t drain_run(uint32_t last_seq, uint32_t spread, uint32_t *first)
{
	uint32_t count = 0, seq = 0;
	ssize_t r;

	for (;;) {
		r = qb_rb_chunk_read(ring, chunk, sizeof(chunk), 0);
		if (r < 0)
			break;
		if (r < RBI_MIN_LEN)
			fail("short chunk of %zd bytes", r);
		seq = rbi_seq_of(chunk);
		if (count == 0)
			*first = seq;
		else if (seq != *first + count)
			fail("seq %u follows %u", seq, *first + count - 1);
		if (rbi_check(chunk, r, seq, spread) != 0)
			fail("chunk %u content is wrong", seq);
		count++;
		if (count > last_seq + 1)
			fail("more chunks than were written");
	}
	if (r != -ETIMEDOUT)
		fail("empty ring read returned %zd, expected -ETIMEDOUT", r);
	if (count == 0)
		fail("no chunks survived");
	if (seq != last_seq)
		fail("last chunk is %u, expected %u", seq, last_seq);
	return count;
}

static void finish(void)
{
	await("CLOSE");
	qb_rb_close(ring);
	ring = NULL;
	say("CLOSED");
}

static int cmd_create_write(const char *name, uint32_t n)
{
	uint32_t seq;
	ssize_t r;

	ring = open_ring(name, RBI_BASIC_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS);
	rbi_user_fill(qb_rb_shared_user_data_get(ring), RBI_USER_A);
	for (seq = 0; seq < n; seq++)
		write_chunk(seq, RBI_BASIC_SPREAD, 0);
	say("READY %zd %zd %zd %d", qb_rb_space_used(ring), qb_rb_space_free(ring),
	    qb_rb_chunks_used(ring), qb_rb_refcount_get(ring));
	await("GO");
	if (qb_rb_refcount_get(ring) != 2)
		fail("refcount %d while the test holds the ring", qb_rb_refcount_get(ring));
	if (!rbi_user_is(qb_rb_shared_user_data_get(ring), RBI_USER_B))
		fail("user data written by the test is not visible");
	r = qb_rb_chunk_read(ring, chunk, sizeof(chunk), WAIT_MS);
	if (rbi_check(chunk, r, RBI_ACK_SEQ, RBI_BASIC_SPREAD) != 0)
		fail("ack chunk wrong: %zd", r);
	r = qb_rb_chunk_read(ring, chunk, sizeof(chunk), 0);
	if (r != -ETIMEDOUT)
		fail("read of an empty ring returned %zd", r);
	say("OK");
	await("CLOSE");
	if (qb_rb_refcount_get(ring) != 1)
		fail("refcount %d after the test closed", qb_rb_refcount_get(ring));
	qb_rb_close(ring);
	ring = NULL;
	say("CLOSED");
	return 0;
}

static int cmd_open_read(const char *name, uint32_t n)
{
	uint32_t seq;
	ssize_t r, used;

	ring = open_ring(name, RBI_BASIC_SIZE, QB_RB_FLAG_SHARED_PROCESS);
	if (qb_rb_refcount_get(ring) != 2)
		fail("refcount %d after opening", qb_rb_refcount_get(ring));
	if (!rbi_user_is(qb_rb_shared_user_data_get(ring), RBI_USER_A))
		fail("creator's user data not visible");
	used = qb_rb_chunks_used(ring);
	if (used != (ssize_t)n)
		fail("chunks_used %zd, expected %u", used, n);
	say("READY %zd %zd %zd", qb_rb_space_used(ring), qb_rb_space_free(ring), used);
	await("GO");
	for (seq = 0; seq < n; seq++)
		read_chunk(seq, RBI_BASIC_SPREAD, 0);
	r = qb_rb_chunk_read(ring, chunk, sizeof(chunk), 0);
	if (r != -ETIMEDOUT)
		fail("read of an empty ring returned %zd", r);
	if (qb_rb_space_used(ring) != 0)
		fail("space_used %zd after draining", qb_rb_space_used(ring));
	write_chunk(RBI_ACK_SEQ, RBI_BASIC_SPREAD, 0);
	rbi_user_fill(qb_rb_shared_user_data_get(ring), RBI_USER_B);
	say("OK");
	finish();
	return 0;
}

static int cmd_stream_write(const char *name, uint32_t n, int create)
{
	uint32_t seq;

	if (create) {
		ring = open_ring(name, RBI_STREAM_SIZE,
				 QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS);
		say("READY");
		await("GO"); /* the reader has the ring open */
	} else {
		ring = open_ring(name, RBI_STREAM_SIZE, QB_RB_FLAG_SHARED_PROCESS);
		say("READY");
	}
	for (seq = 0; seq < n; seq++)
		write_chunk(seq, RBI_STREAM_SPREAD, 1);
	say("OK %u", n);
	finish();
	return 0;
}

static int cmd_stream_read(const char *name, uint32_t n, int create)
{
	uint32_t seq;

	ring = open_ring(name, RBI_STREAM_SIZE,
			 QB_RB_FLAG_SHARED_PROCESS | (create ? QB_RB_FLAG_CREATE : 0));
	say("READY");
	for (seq = 0; seq < n; seq++)
		read_chunk(seq, RBI_STREAM_SPREAD, WAIT_MS);
	say("OK %u", n);
	finish();
	return 0;
}

static int cmd_overwrite_fill(const char *name, uint32_t n)
{
	uint32_t seq;

	ring = open_ring(name, RBI_OVER_SIZE,
			 QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE |
				 QB_RB_FLAG_SHARED_PROCESS | QB_RB_FLAG_NO_SEMAPHORE);
	for (seq = 0; seq < n; seq++)
		write_chunk(seq, RBI_OVER_SPREAD, 0);
	say("READY %zd", qb_rb_space_used(ring));
	finish();
	return 0;
}

static int cmd_overwrite_read(const char *name, uint32_t n)
{
	uint32_t count, first = 0;
	ssize_t used;

	ring = open_ring(name, RBI_OVER_SIZE,
			 QB_RB_FLAG_SHARED_PROCESS | QB_RB_FLAG_NO_SEMAPHORE);
	used = qb_rb_space_used(ring);
	count = drain_run(n - 1, RBI_OVER_SPREAD, &first);
	say("OK %u %u %zd", count, first, used);
	finish();
	return 0;
}

static int cmd_dump(const char *name, const char *file, uint32_t n)
{
	uint32_t seq;
	ssize_t used, written;
	int fd;

	ring = open_ring(name, RBI_OVER_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE);
	for (seq = 0; seq < n; seq++)
		write_chunk(seq, RBI_OVER_SPREAD, 0);
	used = qb_rb_space_used(ring);
	fd = open(file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("open %s: %s", file, strerror(errno));
	fflush(stdout);
	written = qb_rb_write_to_file(ring, fd);
	fflush(stdout);
	close(fd);
	qb_rb_close(ring);
	ring = NULL;
	if (written <= 0)
		fail("qb_rb_write_to_file returned %zd", written);
	say("DUMPED %zd %zd", written, used);
	return 0;
}

static int cmd_load_verify(const char *file, uint32_t n)
{
	uint32_t count, first = 0;
	ssize_t used;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail("open %s: %s", file, strerror(errno));
	fflush(stdout);
	ring = qb_rb_create_from_file(fd, 0);
	fflush(stdout);
	close(fd);
	if (ring == NULL)
		fail("qb_rb_create_from_file(%s) failed: %s", file, strerror(errno));
	used = qb_rb_space_used(ring);
	count = drain_run(n - 1, RBI_OVER_SPREAD, &first);
	qb_rb_close(ring);
	ring = NULL;
	say("OK %u %u %zd", count, first, used);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: rb_peer create-write|open-read|overwrite-fill|"
			"overwrite-read NAME N\n"
			"       rb_peer stream-write|stream-read NAME N create|open\n"
			"       rb_peer dump NAME FILE N\n"
			"       rb_peer load-verify FILE N\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd;

	peer_cleanup = close_ring;
	peer_begin("rb_peer", NULL, 0);
	if (argc < 2)
		return usage();
	cmd = argv[1];
	if (argc == 4 && strcmp(cmd, "create-write") == 0)
		return cmd_create_write(argv[2], parse_u32(argv[3]));
	if (argc == 4 && strcmp(cmd, "open-read") == 0)
		return cmd_open_read(argv[2], parse_u32(argv[3]));
	if (argc == 5 && (strcmp(cmd, "stream-write") == 0 || strcmp(cmd, "stream-read") == 0)) {
		int create;

		if (strcmp(argv[4], "create") == 0)
			create = 1;
		else if (strcmp(argv[4], "open") == 0)
			create = 0;
		else
			return usage();
		if (cmd[7] == 'w')
			return cmd_stream_write(argv[2], parse_u32(argv[3]), create);
		return cmd_stream_read(argv[2], parse_u32(argv[3]), create);
	}
	if (argc == 4 && strcmp(cmd, "overwrite-fill") == 0)
		return cmd_overwrite_fill(argv[2], parse_u32(argv[3]));
	if (argc == 4 && strcmp(cmd, "overwrite-read") == 0)
		return cmd_overwrite_read(argv[2], parse_u32(argv[3]));
	if (argc == 5 && strcmp(cmd, "dump") == 0)
		return cmd_dump(argv[2], argv[3], parse_u32(argv[4]));
	if (argc == 4 && strcmp(cmd, "load-verify") == 0)
		return cmd_load_verify(argv[2], parse_u32(argv[3]));
	return usage();
}
