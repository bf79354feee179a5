/*
 * libqb-rs C tests: qbrb.h across implementations.
 *
 * Each case runs c-tests/rb_peer against the OTHER libqb: when this program
 * runs against libqb-rs (make check-c) the peer loads stock libqb, and when it
 * runs against stock (make check-c-stock) the peer loads libqb-rs. Together
 * the two runs exercise every scenario in both directions on the same
 * /dev/shm files.
 *
 * Environment (set by the Makefile): QBT_PEER (the rb_peer binary),
 * QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR (directories holding libqb.so.100).
 * The test and the peer talk over two pipes: commands go to the peer's stdin,
 * answers come back on its fd 3. No sleeps: every hand-over is a line.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbrb.h>

#include "leak_probes.h"
#include "peer_spawn.h"
#include "qbtest.h"
#include "rb_chunks.h"

#define WAIT_MS 30000 /* only turns a dead peer into a failure, never a pass */
#define OVER_N 1000u  /* chunks pushed through overwrite rings and dumps */

static uint8_t chunk[65536];

/* ------------------------------------------------------------ peer process */

struct peer {
	pid_t pid;
	FILE *cmd;     /* peer's stdin */
	FILE *answers; /* peer's fd 3 */
};

#define PEER_OR_SKIP()                                                      \
	do {                                                                \
		if (!qbt_other_lib_available("QBT_PEER"))                   \
			return;                                             \
	} while (0)

static void peer_start(struct peer *p, const char *const *args)
{
	const char *path = getenv("QBT_PEER");
	char *argv[8];
	struct qbt_peer_proc pp;
	int i;

	ck_assert_msg(path != NULL, "QBT_PEER must name the rb_peer program");
	argv[0] = (char *)path;
	for (i = 0; args[i] != NULL && i < 6; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	pp = qbt_peer_spawn(argv, qbt_other_libdir(), NULL, NULL);
	p->pid = pp.pid;
	p->cmd = fdopen(pp.cmd, "w");
	p->answers = fdopen(pp.ans, "r");
	ck_assert_ptr_nonnull(p->cmd);
	ck_assert_ptr_nonnull(p->answers);
}

/* Waits for the peer to exit; returns its wait status. */
static int peer_reap(struct peer *p)
{
	int status = 0;

	if (p->cmd != NULL)
		fclose(p->cmd);
	if (p->answers != NULL)
		fclose(p->answers);
	p->cmd = p->answers = NULL;
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	return status;
}

static void peer_send(struct peer *p, const char *line)
{
	ck_assert_int_ge(fprintf(p->cmd, "%s\n", line), 0);
	ck_assert_int_eq(fflush(p->cmd), 0);
}

/* Reads the peer's next answer, which must start with `word`. */
static void peer_expect(struct peer *p, const char *word, char *rest, size_t rest_len)
{
	char line[512];
	size_t wl = strlen(word);

	if (fgets(line, sizeof(line), p->answers) == NULL) {
		int status = peer_reap(p);

		ck_abort_msg("peer ended before answering %s (exit %d, signal %d)", word,
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	line[strcspn(line, "\n")] = '\0';
	ck_assert_msg(strncmp(line, word, wl) == 0 && (line[wl] == '\0' || line[wl] == ' '),
		      "peer answered '%s', expected %s", line, word);
	if (rest != NULL)
		snprintf(rest, rest_len, "%s", line[wl] ? line + wl + 1 : "");
}

static void peer_finish(struct peer *p)
{
	int status = peer_reap(p);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "peer exit status 0x%x", status);
}

/* Tells the peer to close its ring and exit, which it must do cleanly. */
static void peer_close(struct peer *p)
{
	peer_send(p, "CLOSE");
	peer_expect(p, "CLOSED", NULL, 0);
	peer_finish(p);
}

/* ----------------------------------------------------------- bookkeeping */

struct baseline {
	int fds;
	char tag[64];
};

/* /dev/shm entries whose names contain `tag`. */
static int count_shm(const char *tag)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, tag) != NULL)
			n++;
	closedir(d);
	return n;
}

/* The test program's pid; each case runs in a child process of it. */
static pid_t main_pid;

/* Ring names are unique per run and case: rbit-<main pid>-<case pid>-<case>. */
static void begin(struct baseline *b, char *name, size_t len, const char *what)
{
	snprintf(b->tag, sizeof(b->tag), "rbit-%d-%d-", (int)main_pid, (int)getpid());
	snprintf(name, len, "%s%s", b->tag, what);
	b->fds = count_fds();
	ck_assert_int_eq(count_shm(b->tag), 0);
}

static void end(const struct baseline *b)
{
	ck_assert_int_eq(count_shm(b->tag), 0);
	ck_assert_int_eq(count_fds(), b->fds);
}

/* ----------------------------------------------------------- ring helpers */

/* Fails the case if the peer has exited (it only exits early on failure). */
static void assert_peer_alive(struct peer *p)
{
	char line[512] = "";
	int status;

	if (waitpid(p->pid, &status, WNOHANG) != p->pid)
		return;
	if (fgets(line, sizeof(line), p->answers) == NULL)
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	ck_abort_msg("peer exited (status 0x%x) while we waited for ring space: %s", status,
		     line);
}

/* Writes chunk `seq`; with a reading peer, a full ring is retried until the
 * peer makes room (or dies). */
static void write_seq(qb_ringbuffer_t *rb, uint32_t seq, uint32_t spread, struct peer *reader)
{
	uint32_t len = rbi_len(seq, spread);
	ssize_t r;

	rbi_fill(chunk, seq, len);
	while ((r = qb_rb_chunk_write(rb, chunk, len)) == -EAGAIN && reader != NULL) {
		assert_peer_alive(reader);
		sched_yield(); /* the peer frees space; there is nothing to wait on */
	}
	ck_assert_msg(r == (ssize_t)len, "chunk_write seq %u returned %zd", seq, r);
}

/* Reads chunk `seq`: peek+reclaim for even numbers, read for odd ones. With
 * a writing peer, waits (in one-second slices, checking the peer is alive)
 * until the chunk arrives; without one the chunk must already be there. */
static void read_seq(qb_ringbuffer_t *rb, uint32_t seq, uint32_t spread, struct peer *writer)
{
	int32_t timeout = writer != NULL ? 1000 : 0;
	void *data = NULL;
	ssize_t r;
	int tries = WAIT_MS / 1000;

	for (;;) {
		if (seq % 2 == 0)
			r = qb_rb_chunk_peek(rb, &data, timeout);
		else
			r = qb_rb_chunk_read(rb, chunk, sizeof(chunk), timeout);
		/* peek reports a timeout as 0, read as -ETIMEDOUT */
		if ((r != 0 && r != -ETIMEDOUT) || writer == NULL || --tries == 0)
			break;
		assert_peer_alive(writer);
	}
	if (seq % 2 == 0) {
		ck_assert_msg(r > 0 && data != NULL, "peek of seq %u returned %zd", seq, r);
		ck_assert_msg(rbi_check(data, r, seq, spread) == 0,
			      "peeked chunk %u wrong (len %zd, seq %u)", seq, r,
			      rbi_seq_of(data));
		qb_rb_chunk_reclaim(rb);
	} else {
		ck_assert_msg(rbi_check(chunk, r, seq, spread) == 0,
			      "read of seq %u returned %zd (seq %u)", seq, r,
			      r >= 4 ? rbi_seq_of(chunk) : 0);
	}
}

/* Drains a ring that kept only its newest chunks; they must be a contiguous
 * run that ends at last_seq. Returns the count; *first gets the first seq. */
static uint32_t drain_run(qb_ringbuffer_t *rb, uint32_t last_seq, uint32_t spread,
			  uint32_t *first)
{
	uint32_t count = 0, seq = 0;
	ssize_t r;

	while ((r = qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0)) >= 0) {
		ck_assert_int_ge(r, RBI_MIN_LEN);
		seq = rbi_seq_of(chunk);
		if (count == 0)
			*first = seq;
		else
			ck_assert_uint_eq(seq, *first + count);
		ck_assert_msg(rbi_check(chunk, r, seq, spread) == 0, "chunk %u wrong", seq);
		count++;
		ck_assert_uint_le(count, last_seq + 1);
	}
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_uint_gt(count, 0);
	ck_assert_uint_eq(seq, last_seq);
	return count;
}

/* drain_run without assertions: returns the count and sets *bad to a
 * description of the first problem (NULL when the run is sound). */
static uint32_t drain_quietly(qb_ringbuffer_t *rb, uint32_t *first, uint32_t *last,
			      const char **bad)
{
	uint32_t count = 0, seq;
	ssize_t r;

	*bad = NULL;
	while ((r = qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0)) >= 0) {
		if (r < RBI_MIN_LEN) {
			*bad = "short chunk";
			return count;
		}
		seq = rbi_seq_of(chunk);
		if (count == 0)
			*first = seq;
		if (seq != *first + count || rbi_check(chunk, r, seq, RBI_OVER_SPREAD) != 0) {
			*bad = "chunks out of order or damaged";
			return count;
		}
		*last = seq;
		if (++count > OVER_N) {
			*bad = "more chunks than were written";
			return count;
		}
	}
	if (r != -ETIMEDOUT)
		*bad = "the end of the ring was not -ETIMEDOUT";
	else if (count == 0)
		*bad = "no chunks";
	return count;
}

static qb_ringbuffer_t *open_ring(const char *name, size_t size, uint32_t flags)
{
	qb_ringbuffer_t *rb = qb_rb_open(name, size, flags, RBI_USER_SIZE);

	ck_assert_msg(rb != NULL, "qb_rb_open(%s, 0x%x): %s", name, flags, strerror(errno));
	return rb;
}

/* -------------------------------------------------- peer creates and writes */

#define BASIC_N 100u

START_TEST(test_peer_writes_we_read)
{
	struct baseline b;
	struct peer p;
	char name[96], rest[256];
	const char *args[] = {"create-write", name, "100", NULL};
	ssize_t used, freeb, chunks;
	int refcount;
	qb_ringbuffer_t *rb;
	uint32_t seq;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "basic");
	peer_start(&p, args);
	peer_expect(&p, "READY", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%zd %zd %zd %d", &used, &freeb, &chunks, &refcount), 4);
	ck_assert_int_eq(chunks, BASIC_N);
	ck_assert_int_eq(refcount, 1);

	rb = open_ring(name, RBI_BASIC_SIZE, QB_RB_FLAG_SHARED_PROCESS);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 2);
	ck_assert(rbi_user_is(qb_rb_shared_user_data_get(rb), RBI_USER_A));
	/* Both implementations must account for the same bytes the same way. */
	ck_assert_int_eq(qb_rb_space_used(rb), used);
	ck_assert_int_eq(qb_rb_space_free(rb), freeb);
	ck_assert_int_eq(qb_rb_chunks_used(rb), BASIC_N);
	for (seq = 0; seq < BASIC_N; seq++)
		read_seq(rb, seq, RBI_BASIC_SPREAD, NULL);
	ck_assert_int_eq(qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0), -ETIMEDOUT);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);
	ck_assert_int_eq(qb_rb_chunks_used(rb), 0);

	/* The other direction on the same ring, and user data going back. */
	write_seq(rb, RBI_ACK_SEQ, RBI_BASIC_SPREAD, NULL);
	rbi_user_fill(qb_rb_shared_user_data_get(rb), RBI_USER_B);
	peer_send(&p, "GO");
	peer_expect(&p, "OK", NULL, 0);
	qb_rb_close(rb);
	peer_close(&p);
	end(&b);
}
END_TEST

/* -------------------------------------------------- we create and write */

START_TEST(test_we_write_peer_reads)
{
	struct baseline b;
	struct peer p;
	char name[96], rest[256];
	const char *args[] = {"open-read", name, "100", NULL};
	ssize_t used, freeb, chunks, r;
	qb_ringbuffer_t *rb;
	uint32_t seq;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "basic");
	rb = open_ring(name, RBI_BASIC_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 1);
	rbi_user_fill(qb_rb_shared_user_data_get(rb), RBI_USER_A);
	for (seq = 0; seq < BASIC_N; seq++)
		write_seq(rb, seq, RBI_BASIC_SPREAD, NULL);

	peer_start(&p, args);
	peer_expect(&p, "READY", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%zd %zd %zd", &used, &freeb, &chunks), 3);
	ck_assert_int_eq(qb_rb_space_used(rb), used);
	ck_assert_int_eq(qb_rb_space_free(rb), freeb);
	ck_assert_int_eq(chunks, BASIC_N);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 2);
	peer_send(&p, "GO");
	peer_expect(&p, "OK", NULL, 0);

	ck_assert(rbi_user_is(qb_rb_shared_user_data_get(rb), RBI_USER_B));
	ck_assert_int_eq(qb_rb_chunks_used(rb), 1);
	r = qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0);
	ck_assert_int_eq(rbi_check(chunk, r, RBI_ACK_SEQ, RBI_BASIC_SPREAD), 0);
	peer_close(&p);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 1);
	qb_rb_close(rb);
	end(&b);
}
END_TEST

/* ------------------------------------------- streaming, both at the same time */

#define STREAM_N 5000u

/* The peer streams STREAM_N chunks while the test reads them (`we_read`),
 * or the other way round; `peer_creates` picks who owns the ring. */
static void stream(int we_read, int peer_creates)
{
	struct baseline b;
	struct peer p;
	char name[96], rest[64];
	const char *args[] = {we_read ? "stream-write" : "stream-read", name, "5000",
			      peer_creates ? "create" : "open", NULL};
	qb_ringbuffer_t *rb = NULL;
	uint32_t seq;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name),
	      we_read ? (peer_creates ? "s-pc" : "s-wc") : (peer_creates ? "r-pc" : "r-wc"));
	if (!peer_creates)
		rb = open_ring(name, RBI_STREAM_SIZE,
			       QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS);
	peer_start(&p, args);
	peer_expect(&p, "READY", NULL, 0);
	if (peer_creates) {
		rb = open_ring(name, RBI_STREAM_SIZE, QB_RB_FLAG_SHARED_PROCESS);
		if (we_read)
			peer_send(&p, "GO"); /* a writing peer waits for our reader */
	}
	for (seq = 0; seq < STREAM_N; seq++) {
		if (we_read)
			read_seq(rb, seq, RBI_STREAM_SPREAD, &p);
		else
			write_seq(rb, seq, RBI_STREAM_SPREAD, &p);
	}
	peer_expect(&p, "OK", rest, sizeof(rest));
	ck_assert_str_eq(rest, "5000");
	if (we_read)
		ck_assert_int_eq(qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0), -ETIMEDOUT);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);
	if (peer_creates)
		qb_rb_close(rb);
	peer_close(&p);
	if (!peer_creates)
		qb_rb_close(rb);
	end(&b);
}

START_TEST(test_stream_peer_writes_into_our_ring)
{
	stream(1, 0);
}
END_TEST

START_TEST(test_stream_peer_writes_into_its_ring)
{
	stream(1, 1);
}
END_TEST

START_TEST(test_stream_we_write_into_our_ring)
{
	stream(0, 0);
}
END_TEST

START_TEST(test_stream_we_write_into_its_ring)
{
	stream(0, 1);
}
END_TEST

/* ------------------------------------------------ overwrite-mode wrap-around */

/* libqb's sizing rule: the requested size plus 13, rounded up to pages. */
static ssize_t ring_bytes(size_t requested)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (ssize_t)((requested + 13 + page - 1) / page * page);
}

/* Bytes the chunks first..last occupy: two header words plus the payload
 * rounded up to whole words. */
static ssize_t run_bytes(uint32_t first, uint32_t last)
{
	ssize_t words = 0;
	uint32_t s;

	for (s = first; s <= last; s++)
		words += 2 + (rbi_len(s, RBI_OVER_SPREAD) + 3) / 4;
	return words * 4;
}

/* space_used of a ring holding exactly that run. libqb reports one word less
 * once the write position has wrapped below the read position. */
static void assert_used_is_run(ssize_t used, uint32_t first, uint32_t last)
{
	ssize_t bytes = run_bytes(first, last);

	ck_assert_msg(used == bytes || used == bytes - 4,
		      "space_used %zd for chunks %u..%u occupying %zd bytes", used, first,
		      last, bytes);
	/* The writer kept as much as fit: with the next older chunk as well, the
	 * run plus the 12-byte allocation margin would not have fit the ring. */
	ck_assert_int_le(bytes, ring_bytes(RBI_OVER_SIZE));
	ck_assert_int_gt(run_bytes(first - 1, last) + 16, ring_bytes(RBI_OVER_SIZE));
}

START_TEST(test_overwrite_peer_fills_we_read)
{
	struct baseline b;
	struct peer p;
	char name[96], rest[64];
	const char *args[] = {"overwrite-fill", name, "1000", NULL};
	qb_ringbuffer_t *rb;
	ssize_t used;
	uint32_t count, first = 0;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "ow");
	peer_start(&p, args);
	peer_expect(&p, "READY", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%zd", &used), 1);
	rb = open_ring(name, RBI_OVER_SIZE, QB_RB_FLAG_SHARED_PROCESS | QB_RB_FLAG_NO_SEMAPHORE);
	ck_assert_int_eq(qb_rb_space_used(rb), used);
	count = drain_run(rb, OVER_N - 1, RBI_OVER_SPREAD, &first);
	ck_assert_uint_gt(first, 0); /* the ring really wrapped and dropped the oldest */
	ck_assert_uint_eq(first + count, OVER_N);
	assert_used_is_run(used, first, OVER_N - 1);
	qb_rb_close(rb);
	peer_close(&p);
	end(&b);
}
END_TEST

START_TEST(test_overwrite_we_fill_peer_reads)
{
	struct baseline b;
	struct peer p;
	char name[96], rest[64];
	const char *args[] = {"overwrite-read", name, "1000", NULL};
	qb_ringbuffer_t *rb;
	ssize_t used, peer_used;
	unsigned count, first;
	uint32_t seq;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "ow");
	rb = open_ring(name, RBI_OVER_SIZE,
		       QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE | QB_RB_FLAG_SHARED_PROCESS |
			       QB_RB_FLAG_NO_SEMAPHORE);
	for (seq = 0; seq < OVER_N; seq++)
		write_seq(rb, seq, RBI_OVER_SPREAD, NULL);
	used = qb_rb_space_used(rb);
	peer_start(&p, args);
	peer_expect(&p, "OK", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%u %u %zd", &count, &first, &peer_used), 3);
	ck_assert_int_eq(peer_used, used);
	ck_assert_uint_gt(first, 0);
	ck_assert_uint_eq(first + count, OVER_N);
	assert_used_is_run(used, first, OVER_N - 1);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);
	ck_assert_int_eq(qb_rb_chunk_read(rb, chunk, sizeof(chunk), 0), -ETIMEDOUT);
	peer_close(&p);
	qb_rb_close(rb);
	end(&b);
}
END_TEST

/* ------------------------------------------------------------- file dumps */

struct dump_dir {
	char dir[64];
	char file[96];
};

static void dump_dir_make(struct dump_dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/rbit-%d-%d-XXXXXX", (int)main_pid, (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->file, sizeof(d->file), "%s/ring.dump", d->dir);
}

static void dump_dir_remove(struct dump_dir *d)
{
	ck_assert_int_eq(unlink(d->file), 0);
	ck_assert_int_eq(rmdir(d->dir), 0);
}

/* The dump format: word_size, write_pt, read_pt, version 1, their sum + 1,
 * then word_size words of raw ring data. */
static void assert_dump_format(const char *file, ssize_t written)
{
	uint32_t h[5];
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, written);
	ck_assert_int_eq(read(fd, h, sizeof(h)), sizeof(h));
	close(fd);
	ck_assert_uint_eq(h[3], 1);
	ck_assert_uint_eq(h[4], h[0] + h[1] + h[2] + 1);
	ck_assert_int_eq(st.st_size, 20 + (off_t)h[0] * 4);
	ck_assert_uint_lt(h[1], h[0]);
	ck_assert_uint_lt(h[2], h[0]);
}

START_TEST(test_dump_by_peer_loaded_by_us)
{
	struct baseline b;
	struct dump_dir d;
	struct peer p;
	char name[96], rest[64];
	const char *args[] = {"dump", name, d.file, "1000", NULL};
	qb_ringbuffer_t *rb;
	ssize_t written, used, loaded_used;
	uint32_t count, first = 0, last = 0;
	const char *bad;
	int fd;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "dump");
	dump_dir_make(&d);
	peer_start(&p, args);
	peer_expect(&p, "DUMPED", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%zd %zd", &written, &used), 2);
	peer_finish(&p);
	ck_assert_int_eq(count_shm(b.tag), 0);
	assert_dump_format(d.file, written);

	fd = open(d.file, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	rb = qb_rb_create_from_file(fd, 0);
	close(fd);
	ck_assert_ptr_nonnull(rb);
	/* Stock libqb rebuilds the ring under a fixed /dev/shm name, so it is
	 * closed before anything is asserted: a failure must not leave it behind. */
	loaded_used = qb_rb_space_used(rb);
	count = drain_quietly(rb, &first, &last, &bad);
	qb_rb_close(rb);
	ck_assert_int_eq(loaded_used, used);
	ck_assert_msg(bad == NULL, "loaded dump: %s", bad);
	ck_assert_uint_eq(last, OVER_N - 1);
	ck_assert_uint_gt(first, 0);
	ck_assert_uint_eq(first + count, OVER_N);
	assert_used_is_run(used, first, OVER_N - 1);
	dump_dir_remove(&d);
	end(&b);
}
END_TEST

START_TEST(test_dump_by_us_loaded_by_peer)
{
	struct baseline b;
	struct dump_dir d;
	struct peer p;
	char name[96], rest[64];
	const char *args[] = {"load-verify", d.file, "1000", NULL};
	qb_ringbuffer_t *rb;
	ssize_t written, used, peer_used;
	unsigned count, first;
	uint32_t seq;
	int fd;

	PEER_OR_SKIP();
	begin(&b, name, sizeof(name), "dump");
	dump_dir_make(&d);
	rb = open_ring(name, RBI_OVER_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE);
	for (seq = 0; seq < OVER_N; seq++)
		write_seq(rb, seq, RBI_OVER_SPREAD, NULL);
	used = qb_rb_space_used(rb);
	fd = open(d.file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	written = qb_rb_write_to_file(rb, fd);
	fflush(stdout);
	close(fd);
	qb_rb_close(rb);
	ck_assert_int_gt(written, 0);
	assert_dump_format(d.file, written);

	peer_start(&p, args);
	peer_expect(&p, "OK", rest, sizeof(rest));
	ck_assert_int_eq(sscanf(rest, "%u %u %zd", &count, &first, &peer_used), 3);
	peer_finish(&p);
	ck_assert_int_eq(peer_used, used);
	ck_assert_uint_gt(first, 0);
	ck_assert_uint_eq(first + count, OVER_N);
	assert_used_is_run(used, first, OVER_N - 1);
	dump_dir_remove(&d);
	end(&b);
}
END_TEST

/* ------------------------------------------------------------------ main */

/* Removes rings a failed case left behind, once every case has run. */
static void remove_leftovers(void)
{
	char tag[64], path[PATH_MAX];
	DIR *d;
	struct dirent *e;

	if (getpid() != main_pid)
		return;
	d = opendir("/dev/shm");
	if (d == NULL)
		return;
	snprintf(tag, sizeof(tag), "rbit-%d-", (int)main_pid);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, tag) != NULL) {
			snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
			unlink(path);
		}
	closedir(d);
	d = opendir("/tmp");
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, tag, strlen(tag)) == 0) {
			snprintf(path, sizeof(path), "/tmp/%s/ring.dump", e->d_name);
			unlink(path);
			snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
			rmdir(path);
		}
	closedir(d);
}

int main(void)
{
	Suite *s = suite_create("rb_interop");

	main_pid = getpid();
	atexit(remove_leftovers);
	QBT_ADD_TEST(s, test_peer_writes_we_read);
	QBT_ADD_TEST(s, test_we_write_peer_reads);
	QBT_ADD_TEST(s, test_stream_peer_writes_into_our_ring);
	QBT_ADD_TEST(s, test_stream_peer_writes_into_its_ring);
	QBT_ADD_TEST(s, test_stream_we_write_into_our_ring);
	QBT_ADD_TEST(s, test_stream_we_write_into_its_ring);
	QBT_ADD_TEST(s, test_overwrite_peer_fills_we_read);
	QBT_ADD_TEST(s, test_overwrite_we_fill_peer_reads);
	QBT_ADD_TEST(s, test_dump_by_peer_loaded_by_us);
	QBT_ADD_TEST(s, test_dump_by_us_loaded_by_peer);
	return qbt_main(s);
}
