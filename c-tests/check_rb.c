/*
 * libqb-rs C tests: qbrb.h (shared-memory ring buffer).
 *
 * Every case names its rings "rbc-<pid>-<tag>" and checks at the end that no
 * /dev/shm/qb-rbc-<pid>-* entry and no file descriptor was left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbrb.h>

#include "leak_probes.h"
#include "qbtest.h"

/* libqb's shared header layout (x86_64): fields we inspect or corrupt. */
#define HDR_WRITE_PT 0
#define HDR_READ_PT 4
#define HDR_WORD_SIZE 8
#define HDR_HDR_PATH 12
#define HDR_DATA_PATH 4108
#define HDR_REF_COUNT 8204
#define HDR_SIZE 8248

#define MAGIC_ALLOC 0xA110CED0u
#define MAGIC_COMMITTED 0xA1A1A1A1u
#define MAGIC_DEAD 0xD0D0D0D0u

static char name_buf[128];

static const char *ring_name(const char *tag)
{
	snprintf(name_buf, sizeof(name_buf), "rbc-%d-%s", (int)getpid(), tag);
	return name_buf;
}

static void shm_path(char *out, size_t n, const char *name, const char *suffix)
{
	snprintf(out, n, "/dev/shm/qb-%s-%s", name, suffix);
}

static int count_shm(void)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "qb-rbc-%d-", (int)getpid());
	return count_shm_prefixed(prefix);
}

static int base_fds;

static void baseline(void)
{
	base_fds = count_fds();
	ck_assert_int_eq(count_shm(), 0);
}

static void back_to_baseline(void)
{
	ck_assert_int_eq(count_shm(), 0);
	ck_assert_int_eq(count_fds(), base_fds);
}

/* Maps a ring's header file like a peer would (to read or corrupt it). */
static uint8_t *map_header(const char *name, size_t len)
{
	char path[PATH_MAX];
	uint8_t *p;
	int fd;

	shm_path(path, sizeof(path), name, "header");
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static uint32_t *hdr_u32(uint8_t *h, size_t off)
{
	return (uint32_t *)(void *)(h + off);
}

START_TEST(test_open_creates_stock_files)
{
	char hpath[PATH_MAX], dpath[PATH_MAX];
	struct stat st;
	qb_ringbuffer_t *rb, *peer;
	uint8_t *h;
	const char *name;

	baseline();
	name = ring_name("files");
	rb = qb_rb_open(name, 8192, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 4);
	ck_assert_ptr_nonnull(rb);
	shm_path(hpath, sizeof(hpath), name, "header");
	shm_path(dpath, sizeof(dpath), name, "data");
	ck_assert_str_eq(qb_rb_name_get(rb), hpath);

	/* 8192 + 13 rounded up to a page; header 8248 + user data. */
	ck_assert_int_eq(stat(dpath, &st), 0);
	ck_assert_int_eq(st.st_size, 12288);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(hpath, &st), 0);
	ck_assert_int_eq(st.st_size, HDR_SIZE + 4);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	h = map_header(name, HDR_SIZE + 4);
	ck_assert_uint_eq(*hdr_u32(h, HDR_WORD_SIZE), 12288 / 4);
	ck_assert_uint_eq(*hdr_u32(h, HDR_WRITE_PT), 0);
	ck_assert_uint_eq(*hdr_u32(h, HDR_READ_PT), 0);
	ck_assert_str_eq((char *)h + HDR_HDR_PATH, hpath);
	ck_assert_str_eq((char *)h + HDR_DATA_PATH, dpath);
	ck_assert_int_eq(*(int32_t *)(void *)(h + HDR_REF_COUNT), 1);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 1);

	/* A second handle (the way an IPC client attaches). */
	peer = qb_rb_open(name, 8192, QB_RB_FLAG_SHARED_PROCESS, 4);
	ck_assert_ptr_nonnull(peer);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 2);
	ck_assert_int_eq(*(int32_t *)(void *)(h + HDR_REF_COUNT), 2);

	/* The chunk is written in place in libqb's format. */
	ck_assert_int_eq(qb_rb_chunk_write(peer, "hello", 5), 5);
	ck_assert_uint_eq(*hdr_u32(h, HDR_WRITE_PT), 2 + 2);
	qb_rb_close(peer);
	ck_assert_int_eq(qb_rb_refcount_get(rb), 1);
	ck_assert_int_eq(access(hpath, F_OK), 0);

	munmap(h, HDR_SIZE + 4);
	qb_rb_close(rb);
	ck_assert_int_ne(access(hpath, F_OK), 0);
	ck_assert_int_ne(access(dpath, F_OK), 0);
	back_to_baseline();
}
END_TEST

START_TEST(test_open_errors)
{
	const char *name;

	baseline();
	name = ring_name("missing");
	errno = 0;
	ck_assert_ptr_null(qb_rb_open(name, 100, QB_RB_FLAG_SHARED_PROCESS, 0));
	ck_assert_int_eq(errno, ENOENT);
	qb_rb_close(NULL);
	back_to_baseline();
}
END_TEST

START_TEST(test_null_handles)
{
	void *p = NULL;
	char buf[8];

	baseline();
	ck_assert_ptr_null(qb_rb_name_get(NULL));
	ck_assert_ptr_null(qb_rb_shared_user_data_get(NULL));
	ck_assert_int_eq(qb_rb_refcount_get(NULL), -EINVAL);
	ck_assert_int_eq(qb_rb_chunk_write(NULL, "x", 1), -EINVAL);
	errno = 0;
	ck_assert_ptr_null(qb_rb_chunk_alloc(NULL, 1));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(qb_rb_chunk_commit(NULL, 1), -EINVAL);
	ck_assert_int_eq(qb_rb_chunk_peek(NULL, &p, 0), -EINVAL);
	qb_rb_chunk_reclaim(NULL);
	ck_assert_int_eq(qb_rb_chunk_read(NULL, buf, sizeof(buf), 0), -EINVAL);
	ck_assert_int_eq(qb_rb_space_free(NULL), -EINVAL);
	ck_assert_int_eq(qb_rb_space_used(NULL), -EINVAL);
	ck_assert_int_eq(qb_rb_chunks_used(NULL), -EINVAL);
	ck_assert_int_eq(qb_rb_write_to_file(NULL, 1), -EINVAL);
	ck_assert_int_eq(qb_rb_chown(NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(qb_rb_chmod(NULL, 0600), -EINVAL);
	ck_assert_ptr_null(qb_rb_create_from_file(-1, 0));
	back_to_baseline();
}
END_TEST

START_TEST(test_write_read_and_space)
{
	qb_ringbuffer_t *rb;
	char out[64];

	baseline();
	rb = qb_rb_open(ring_name("wr"), 100, QB_RB_FLAG_CREATE, 0);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(qb_rb_space_free(rb), 4096);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);
	ck_assert_int_eq(qb_rb_chunks_used(rb), 0);

	ck_assert_int_eq(qb_rb_chunk_write(rb, "0123456789", 10), 10);
	ck_assert_int_eq(qb_rb_chunk_write(rb, "abcd", 4), 4);
	/* 2 header words + payload rounded up to words, per chunk. */
	ck_assert_int_eq(qb_rb_space_used(rb), 4 * (2 + 3) + 4 * (2 + 1));
	ck_assert_int_eq(qb_rb_space_free(rb), 4096 - 32 - 4);
	ck_assert_int_eq(qb_rb_chunks_used(rb), 2);

	/* Too small a buffer: the chunk stays. */
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, 4, 0), -ENOBUFS);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 10);
	ck_assert_int_eq(memcmp(out, "0123456789", 10), 0);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 100), 4);
	ck_assert_int_eq(memcmp(out, "abcd", 4), 0);
	ck_assert_int_eq(qb_rb_chunks_used(rb), 0);

	/* Empty: 0 does not wait, > 0 waits and gives up. */
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -ETIMEDOUT);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 20), -ETIMEDOUT);
	/* Zero-length chunks are chunks too. */
	ck_assert_int_eq(qb_rb_chunk_write(rb, out, 0), 0);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 0);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_full_ring_eagain)
{
	qb_ringbuffer_t *rb;
	static char chunk[1000], out[1000];
	ssize_t free_before;
	int n = 0;

	baseline();
	rb = qb_rb_open(ring_name("full"), 100,
			QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_THREAD, 0);
	ck_assert_ptr_nonnull(rb);
	for (;;) {
		free_before = qb_rb_space_free(rb);
		ssize_t r = qb_rb_chunk_write(rb, chunk, sizeof(chunk));
		if (r < 0) {
			ck_assert_int_eq(r, -EAGAIN);
			ck_assert_int_lt(free_before, (ssize_t)sizeof(chunk) + 12);
			break;
		}
		ck_assert_int_ge(free_before, (ssize_t)sizeof(chunk) + 12);
		n++;
	}
	ck_assert_int_eq(n, 4);
	errno = 0;
	ck_assert_ptr_null(qb_rb_chunk_alloc(rb, sizeof(chunk)));
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 1000);
	ck_assert_int_eq(qb_rb_chunk_write(rb, chunk, sizeof(chunk)), 1000);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_alloc_commit_peek_reclaim)
{
	qb_ringbuffer_t *rb;
	char *p;
	void *q = NULL;
	char out[32];

	baseline();
	rb = qb_rb_open(ring_name("zc"), 1000, QB_RB_FLAG_CREATE, 0);
	ck_assert_ptr_nonnull(rb);

	/* Nothing committed: peek times out (0), reclaim is a no-op. */
	ck_assert_int_eq(qb_rb_chunk_peek(rb, &q, 0), 0);
	qb_rb_chunk_reclaim(rb);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);

	p = qb_rb_chunk_alloc(rb, 16);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "zero-copy!", 11);
	/* Allocated but not committed: invisible. */
	ck_assert_int_eq(qb_rb_chunks_used(rb), 0);
	ck_assert_int_eq(qb_rb_chunk_commit(rb, 11), 0);
	ck_assert_int_eq(qb_rb_chunks_used(rb), 1);

	ck_assert_int_eq(qb_rb_chunk_peek(rb, &q, 0), 11);
	ck_assert_ptr_eq(q, p);
	ck_assert_str_eq((char *)q, "zero-copy!");
	qb_rb_chunk_reclaim(rb);
	ck_assert_int_eq(qb_rb_space_used(rb), 0);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -ETIMEDOUT);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_no_semaphore)
{
	qb_ringbuffer_t *rb;
	void *q = NULL;
	char out[16];

	baseline();
	rb = qb_rb_open(ring_name("nosem"), 100,
			QB_RB_FLAG_CREATE | QB_RB_FLAG_NO_SEMAPHORE, 0);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(qb_rb_chunks_used(rb), -ENOTSUP);
	/* Nothing to wait on: even "forever" returns at once. */
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), -1), -ETIMEDOUT);
	ck_assert_int_eq(qb_rb_chunk_peek(rb, &q, 0), -EBADMSG);
	ck_assert_int_eq(qb_rb_chunk_write(rb, "abc", 3), 3);
	ck_assert_int_eq(qb_rb_chunk_peek(rb, &q, -1), 3);
	ck_assert_int_eq(memcmp(q, "abc", 3), 0);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), -1), 3);
	ck_assert_int_eq(qb_rb_chunks_used(rb), -ENOTSUP);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_overwrite_wraps)
{
	qb_ringbuffer_t *rb;
	uint32_t buf[64], i, last = 0, got = 0;
	ssize_t r;

	memset(buf, 0, sizeof(buf));
	baseline();
	rb = qb_rb_open(ring_name("ow"), 100,
			QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE, 0);
	ck_assert_ptr_nonnull(rb);
	/* Variable sizes so chunks straddle the end of the ring. */
	for (i = 1; i <= 10000; i++) {
		size_t words = 1 + i % 37;
		buf[0] = i;
		ck_assert_int_eq(qb_rb_chunk_write(rb, buf, words * 4 - i % 3),
				 (ssize_t)(words * 4 - i % 3));
	}
	while ((r = qb_rb_chunk_read(rb, buf, sizeof(buf), 0)) > 0) {
		if (got > 0)
			ck_assert_uint_eq(buf[0], last + 1);
		last = buf[0];
		got++;
	}
	/* The newest survived, the oldest were dropped. */
	ck_assert_uint_eq(last, 10000);
	ck_assert_uint_gt(got, 10);
	ck_assert_uint_lt(got, 10000);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

struct stream {
	qb_ringbuffer_t *rb;
	uint32_t count;
};

static void *writer_thread(void *arg)
{
	struct stream *s = arg;
	uint32_t i, buf[100];

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < s->count; i++) {
		ssize_t r;
		buf[0] = i;
		do {
			r = qb_rb_chunk_write(s->rb, buf, 4 + (i % 100) * 4);
			if (r == -EAGAIN)
				sched_yield();
		} while (r == -EAGAIN);
		if (r < 0)
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_writer_and_reader_threads)
{
	struct stream s;
	pthread_t t;
	uint32_t i, buf[100];
	void *ret;

	baseline();
	s.rb = qb_rb_open(ring_name("threads"), 2000, QB_RB_FLAG_CREATE, 0);
	ck_assert_ptr_nonnull(s.rb);
	s.count = 50000;
	ck_assert_int_eq(pthread_create(&t, NULL, writer_thread, &s), 0);
	for (i = 0; i < s.count; i++) {
		/* Blocks on the semaphore until the writer posts. */
		ck_assert_int_eq(qb_rb_chunk_read(s.rb, buf, sizeof(buf), -1),
				 4 + (i % 100) * 4);
		ck_assert_uint_eq(buf[0], i);
	}
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	qb_rb_close(s.rb);
	back_to_baseline();
}
END_TEST

/* Runs in a forked child: attaches to `name` and writes `count` chunks. */
static int child_writer(const char *name, uint32_t count)
{
	qb_ringbuffer_t *rb = qb_rb_open(name, 1000, QB_RB_FLAG_SHARED_PROCESS, 0);
	uint32_t i;

	if (rb == NULL)
		return 2;
	for (i = 0; i < count; i++) {
		ssize_t r;
		do {
			r = qb_rb_chunk_write(rb, &i, sizeof(i));
		} while (r == -EAGAIN);
		if (r != sizeof(i))
			return 3;
	}
	qb_rb_close(rb);
	return 0;
}

/* Runs in a forked child: attaches to `name` and checks `count` chunks. */
static int child_reader(const char *name, uint32_t count)
{
	qb_ringbuffer_t *rb = qb_rb_open(name, 1000, QB_RB_FLAG_SHARED_PROCESS, 0);
	uint32_t i, v;

	if (rb == NULL)
		return 2;
	for (i = 0; i < count; i++) {
		if (qb_rb_chunk_read(rb, &v, sizeof(v), -1) != sizeof(v) || v != i)
			return 3;
	}
	qb_rb_close(rb);
	return 0;
}

static void run_with_child(int child_writes)
{
	qb_ringbuffer_t *rb;
	const char *name;
	uint32_t i, v;
	int status;
	pid_t pid;

	baseline();
	name = ring_name(child_writes ? "childw" : "childr");
	rb = qb_rb_open(name, 1000, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rb);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_writes ? child_writer(name, 20000) : child_reader(name, 20000));
	for (i = 0; i < 20000; i++) {
		if (child_writes) {
			ck_assert_int_eq(qb_rb_chunk_read(rb, &v, sizeof(v), -1), sizeof(v));
			ck_assert_uint_eq(v, i);
		} else {
			ssize_t r;
			do {
				r = qb_rb_chunk_write(rb, &i, sizeof(i));
			} while (r == -EAGAIN);
			ck_assert_int_eq(r, sizeof(i));
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The child's handle is gone again. */
	ck_assert_int_eq(qb_rb_refcount_get(rb), 1);
	qb_rb_close(rb);
	back_to_baseline();
}

START_TEST(test_child_process_writes)
{
	run_with_child(1);
}
END_TEST

START_TEST(test_child_process_reads)
{
	run_with_child(0);
}
END_TEST

START_TEST(test_shared_user_data)
{
	qb_ringbuffer_t *rb, *peer;
	const char *name;
	int32_t *a, *b;
	uint8_t *h;

	baseline();
	name = ring_name("ud");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS,
			sizeof(int32_t));
	ck_assert_ptr_nonnull(rb);
	peer = qb_rb_open(name, 100, QB_RB_FLAG_SHARED_PROCESS, sizeof(int32_t));
	ck_assert_ptr_nonnull(peer);
	a = qb_rb_shared_user_data_get(rb);
	b = qb_rb_shared_user_data_get(peer);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(*a, 0);
	*a = 2;
	ck_assert_int_eq(*b, 2);
	/* It lives right after libqb's shared header. */
	h = map_header(name, HDR_SIZE + 4);
	ck_assert_int_eq(*(int32_t *)(void *)(h + 8240), 2);
	munmap(h, HDR_SIZE + 4);
	qb_rb_close(peer);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_dump_and_reload)
{
	char path[PATH_MAX];
	qb_ringbuffer_t *rb, *copy;
	uint32_t head[5], i, v = 0, a, b;
	int fd;

	baseline();
	rb = qb_rb_open(ring_name("dump"), 100,
			QB_RB_FLAG_CREATE | QB_RB_FLAG_OVERWRITE, 0);
	ck_assert_ptr_nonnull(rb);
	for (i = 0; i < 700; i++)
		ck_assert_int_eq(qb_rb_chunk_write(rb, &i, sizeof(i)), sizeof(i));

	snprintf(path, sizeof(path), "/tmp/rbc-%d-dump", (int)getpid());
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	ck_assert_int_eq(qb_rb_write_to_file(rb, fd), 20 + 4096);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(read(fd, head, sizeof(head)), sizeof(head));
	ck_assert_uint_eq(head[0], 1024);	/* word_size */
	ck_assert_uint_lt(head[1], 1024);	/* write_pt */
	ck_assert_uint_lt(head[2], 1024);	/* read_pt */
	ck_assert_uint_eq(head[3], 1);	/* version */
	ck_assert_uint_eq(head[4], head[0] + head[1] + head[2] + head[3]);

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	copy = qb_rb_create_from_file(fd, 0);
	ck_assert_ptr_nonnull(copy);
	close(fd);
	ck_assert_int_eq(qb_rb_chunks_used(copy), -ENOTSUP);
	ck_assert_int_eq(qb_rb_space_used(copy), qb_rb_space_used(rb));
	for (;;) {
		ssize_t ra = qb_rb_chunk_read(rb, &a, sizeof(a), 0);
		ssize_t rc = qb_rb_chunk_read(copy, &b, sizeof(b), 0);
		if (ra < 0) {
			ck_assert_int_eq(rc, -ETIMEDOUT);
			break;
		}
		ck_assert_int_eq(rc, sizeof(b));
		ck_assert_uint_eq(a, b);
		v = a;
	}
	ck_assert_uint_eq(v, 699);
	qb_rb_close(copy);
	qb_rb_close(rb);

	/* A dump whose header hash does not match is refused. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	head[4] ^= 1;
	ck_assert_int_eq(pwrite(fd, head, sizeof(head), 0), sizeof(head));
	ck_assert_ptr_null(qb_rb_create_from_file(fd, 0));
	close(fd);
	unlink(path);
	back_to_baseline();
}
END_TEST

START_TEST(test_chmod_chown)
{
	char hpath[PATH_MAX], dpath[PATH_MAX];
	qb_ringbuffer_t *rb;
	const char *name;
	struct stat st;

	baseline();
	name = ring_name("mode");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE, 0);
	ck_assert_ptr_nonnull(rb);
	shm_path(hpath, sizeof(hpath), name, "header");
	shm_path(dpath, sizeof(dpath), name, "data");
	ck_assert_int_eq(qb_rb_chmod(rb, 0640), 0);
	ck_assert_int_eq(stat(hpath, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(stat(dpath, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(qb_rb_chown(rb, getuid(), getgid()), 0);
	ck_assert_int_eq(stat(dpath, &st), 0);
	ck_assert_uint_eq(st.st_uid, getuid());
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

/* ---- libqb-rs is stricter than stock below ---- */

START_TEST(test_corrupt_header_is_detected)
{
	qb_ringbuffer_t *rb;
	const char *name;
	char out[64];
	uint8_t *h;
	void *q;

	QBT_OURS_ONLY();
	baseline();
	name = ring_name("corrupt");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(qb_rb_chunk_write(rb, "12345678", 8), 8);
	h = map_header(name, HDR_SIZE);

	/* Read position far outside the ring. */
	*hdr_u32(h, HDR_READ_PT) = 0xfffffff0u;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -EBADMSG);
	ck_assert_int_eq(qb_rb_chunk_peek(rb, &q, 0), -EBADMSG);
	ck_assert_int_eq(qb_rb_space_free(rb), -EBADMSG);
	*hdr_u32(h, HDR_READ_PT) = 0;

	/* Write position outside the ring. */
	*hdr_u32(h, HDR_WRITE_PT) = 1u << 30;
	ck_assert_int_eq(qb_rb_chunk_write(rb, "x", 1), -EBADMSG);
	*hdr_u32(h, HDR_WRITE_PT) = 4;

	/* A zero ring size in the header changes nothing for us ... */
	*hdr_u32(h, HDR_WORD_SIZE) = 0;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 8);
	ck_assert_int_eq(qb_rb_chunk_write(rb, "abc", 3), 3);
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 3);
	/* ... but nobody can attach to such a ring. */
	errno = 0;
	ck_assert_ptr_null(qb_rb_open(name, 100, QB_RB_FLAG_SHARED_PROCESS, 0));
	ck_assert_int_eq(errno, EINVAL);

	munmap(h, HDR_SIZE);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_corrupt_chunk_is_detected)
{
	char dpath[PATH_MAX];
	qb_ringbuffer_t *rb;
	const char *name;
	static char out[1 << 16];
	uint32_t *d;
	int fd;

	QBT_OURS_ONLY();
	baseline();
	name = ring_name("chunk");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE, 0);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(qb_rb_chunk_write(rb, "12345678", 8), 8);
	shm_path(dpath, sizeof(dpath), name, "data");
	fd = open(dpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	d = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(d, MAP_FAILED);
	ck_assert_uint_eq(d[0], 8);
	ck_assert_uint_eq(d[1], MAGIC_COMMITTED);

	/* Lengths running past what was written. */
	d[0] = 4096;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -EBADMSG);
	d[0] = 0xffffffffu;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -EBADMSG);
	d[0] = 8;
	/* Wrong magics. */
	d[1] = MAGIC_DEAD;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -EBADMSG);
	d[1] = MAGIC_ALLOC;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), -EBADMSG);
	/* Repaired, the chunk reads: failures gave the notification back. */
	d[1] = MAGIC_COMMITTED;
	ck_assert_int_eq(qb_rb_chunk_read(rb, out, sizeof(out), 0), 8);
	ck_assert_uint_eq(d[1], MAGIC_DEAD);
	munmap(d, 4096);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

START_TEST(test_peer_paths_never_unlinked)
{
	char canary[PATH_MAX];
	qb_ringbuffer_t *rb;
	const char *name;
	uint8_t *h;
	int fd;

	QBT_OURS_ONLY();
	baseline();
	snprintf(canary, sizeof(canary), "/tmp/rbc-%d-canary", (int)getpid());
	fd = open(canary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	name = ring_name("paths");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rb);
	h = map_header(name, HDR_SIZE);
	strcpy((char *)h + HDR_HDR_PATH, canary);
	strcpy((char *)h + HDR_DATA_PATH, canary);
	munmap(h, HDR_SIZE);
	qb_rb_close(rb);
	ck_assert_int_eq(access(canary, F_OK), 0);
	unlink(canary);
	back_to_baseline();
}
END_TEST

START_TEST(test_stricter_arguments)
{
	char dpath[PATH_MAX];
	qb_ringbuffer_t *rb;
	const char *name;

	QBT_OURS_ONLY();
	baseline();
	errno = 0;
	ck_assert_ptr_null(qb_rb_open(NULL, 100, QB_RB_FLAG_CREATE, 0));
	ck_assert_int_eq(errno, EINVAL);
	name = ring_name("strict");
	rb = qb_rb_open(name, 100, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 0);
	ck_assert_ptr_nonnull(rb);
	/* Committing more than was reserved. */
	ck_assert_ptr_nonnull(qb_rb_chunk_alloc(rb, 8));
	ck_assert_int_eq(qb_rb_chunk_commit(rb, 8192), -EINVAL);
	/* Attaching with a larger size than the ring has. */
	errno = 0;
	ck_assert_ptr_null(qb_rb_open(name, 8192, QB_RB_FLAG_SHARED_PROCESS, 0));
	ck_assert_int_eq(errno, EINVAL);
	/* A truncated data file is refused at attach time. */
	shm_path(dpath, sizeof(dpath), name, "data");
	ck_assert_int_eq(truncate(dpath, 100), 0);
	errno = 0;
	ck_assert_ptr_null(qb_rb_open(name, 100, QB_RB_FLAG_SHARED_PROCESS, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(truncate(dpath, 4096), 0);
	qb_rb_close(rb);
	back_to_baseline();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rb");

	QBT_ADD_TEST(s, test_open_creates_stock_files);
	QBT_ADD_TEST(s, test_open_errors);
	QBT_ADD_TEST(s, test_null_handles);
	QBT_ADD_TEST(s, test_write_read_and_space);
	QBT_ADD_TEST(s, test_full_ring_eagain);
	QBT_ADD_TEST(s, test_alloc_commit_peek_reclaim);
	QBT_ADD_TEST(s, test_no_semaphore);
	QBT_ADD_TEST(s, test_overwrite_wraps);
	QBT_ADD_TEST(s, test_writer_and_reader_threads);
	QBT_ADD_TEST(s, test_child_process_writes);
	QBT_ADD_TEST(s, test_child_process_reads);
	QBT_ADD_TEST(s, test_shared_user_data);
	QBT_ADD_TEST(s, test_dump_and_reload);
	QBT_ADD_TEST(s, test_chmod_chown);
	QBT_ADD_TEST(s, test_corrupt_header_is_detected);
	QBT_ADD_TEST(s, test_corrupt_chunk_is_detected);
	QBT_ADD_TEST(s, test_peer_paths_never_unlinked);
	QBT_ADD_TEST(s, test_stricter_arguments);
	return qbt_main(s);
}
