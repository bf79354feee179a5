/*
 * libqb-rs C tests: qbrb.h against a hostile peer.
 *
 * Whoever shares a ring can write every byte of its /dev/shm header and data
 * files and can truncate them. Here the test plays that peer: it maps the
 * files of a ring it created through the library with plain open+mmap,
 * corrupts them, and then calls the library's read, peek, space, write and
 * close functions. Each attack runs in a forked child so that a crash is
 * observed, not suffered; the child also checks that its descriptors and the
 * ring's files are gone after qb_rb_close, and that the process still works.
 * The parent checks the exit status and that a canary file the attack pointed
 * the ring's paths at is untouched.
 *
 * Stock libqb trusts shared memory and fails most of these, so every case is
 * QBT_OURS_ONLY. QBT_HOSTILE_ON_STOCK=1 runs them on stock anyway (see
 * c-tests/HOSTILE-RB-STOCK.md for the outcome).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbrb.h>

#include "qbtest.h"
#include "rb_chunks.h"

/* Shared header layout (libqb's struct qb_ringbuffer_shared_s). */
#define OFF_WRITE_PT 0
#define OFF_READ_PT 4
#define OFF_WORD_SIZE 8
#define OFF_HDR_PATH 12
#define OFF_DATA_PATH 4108
#define OFF_REF_COUNT 8204
#define OFF_SEM 8208
#define SEM_BYTES 32
#define OFF_USER 8240
#define SHARED_PATH_MAX 4096

#define MAGIC_ALLOC 0xA110CED0u
#define MAGIC_COMMITTED 0xA1A1A1A1u
#define MAGIC_DEAD 0xD0D0D0D0u

#define RING_SIZE 4096u /* gives an 8192-byte data file: 2048 words */
#define SPREAD 100u
#define USER_SIZE 16u
#define CHUNKS 6u

static const uint32_t MODES[] = {0, QB_RB_FLAG_NO_SEMAPHORE};

static pid_t main_pid;
static uint8_t buf[1 << 16]; /* larger than any chunk the ring could hold */

/* ------------------------------------------------------------ the victim */

struct victim {
	char name[96];
	char hdr_file[PATH_MAX];
	char data_file[PATH_MAX];
	char canary[PATH_MAX];
	uint32_t flags;
	uint32_t value; /* the attack's parameter */
	qb_ringbuffer_t *rb;
	uint8_t *hdr; /* the attacker's own view of the header file */
	size_t hdr_len;
	uint32_t *data; /* ... and of the data file (one copy) */
	size_t data_len;
	uint32_t words;
	uint32_t next_seq; /* the chunk an intact ring would hand out next */
	int report_fd;
};

static struct victim *cur; /* for die() */

/* Records a wrong result and carries on, so that a later crash is still
 * seen; the child exits non-zero at the end. Only the first is reported. */
static int flagged;

static void vflag(const char *fmt, va_list ap)
{
	char msg[400];
	ssize_t ignored;

	if (flagged++)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	ignored = write(cur->report_fd, msg, strlen(msg));
	(void)ignored;
}

static void flag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void flag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vflag(fmt, ap);
	va_end(ap);
}

/* A failure after which the attack cannot go on. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vflag(fmt, ap);
	va_end(ap);
	_exit(1);
}

static uint32_t *hdr_u32(struct victim *v, size_t off)
{
	return (uint32_t *)(void *)(v->hdr + off);
}

static void *map_file(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		die("attacker cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size <= 0)
		die("attacker cannot size %s", path);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("attacker cannot map %s", path);
	*len = (size_t)st.st_size;
	return p;
}

static void attacker_unmap(struct victim *v)
{
	if (v->hdr != NULL)
		munmap(v->hdr, v->hdr_len);
	if (v->data != NULL)
		munmap(v->data, v->data_len);
	v->hdr = NULL;
	v->data = NULL;
}

static void write_seq(struct victim *v, uint32_t seq)
{
	uint32_t len = rbi_len(seq, SPREAD);
	ssize_t r;

	rbi_fill(buf, seq, len);
	r = qb_rb_chunk_write(v->rb, buf, len);
	if (r != (ssize_t)len)
		die("setup: chunk_write of seq %u returned %zd", seq, r);
}

/* Creates the ring through the library, writes `chunks` chunks and maps its
 * files the way a peer would. */
static void victim_setup(struct victim *v, uint32_t extra_flags, uint32_t chunks)
{
	uint32_t seq;

	v->rb = qb_rb_open(v->name, RING_SIZE,
			   QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS | extra_flags, USER_SIZE);
	if (v->rb == NULL)
		die("setup: qb_rb_open failed: %s", strerror(errno));
	for (seq = 0; seq < chunks; seq++)
		write_seq(v, seq);
	v->hdr = map_file(v->hdr_file, &v->hdr_len);
	v->data = map_file(v->data_file, &v->data_len);
	v->words = (uint32_t)(v->data_len / 4);
	if (v->hdr_len < OFF_USER + USER_SIZE)
		die("setup: header file is %zu bytes", v->hdr_len);
	if (*hdr_u32(v, OFF_WORD_SIZE) != v->words)
		die("setup: shared word_size %u but data file holds %u words",
		    *hdr_u32(v, OFF_WORD_SIZE), v->words);
	if (*hdr_u32(v, OFF_READ_PT) >= v->words || *hdr_u32(v, OFF_WRITE_PT) >= v->words)
		die("setup: positions out of range before any attack");
}

/* ------------------------------------------------------ judging results */

enum expect {
	REFUSE,           /* the corrupt state must be refused */
	REFUSE_OR_INTACT, /* refused, or the genuine next chunk */
	BOUNDED,          /* anything, as long as it stays inside the ring */
	FAILS,            /* the data is gone (truncated): errors only */
};

static int is_errno(ssize_t r)
{
	return r < 0 && r >= -4095;
}

static int is_refusal(ssize_t r)
{
	return r == -EBADMSG || r == -EINVAL || r == -ETIMEDOUT || r == -EAGAIN ||
	       r == -ENOBUFS || r == -EIO;
}

static void check_space(struct victim *v, const char *what, ssize_t r)
{
	if (!is_errno(r) && (r < 0 || (size_t)r > v->data_len))
		flag("%s returned %zd for a ring of %zu bytes", what, r, v->data_len);
}

/* Judges one peek/read result; `data` holds r bytes when r > 0. */
static void judge(struct victim *v, enum expect e, const char *what, ssize_t r,
		  const uint8_t *data)
{
	volatile uint8_t sink = 0;
	ssize_t i;

	if (r < 0) {
		if (e == FAILS ? !is_errno(r) : !is_refusal(r))
			flag("%s returned %zd (not an expected error)", what, r);
		return;
	}
	if (r == 0)
		return; /* peek's "nothing there" */
	if (e == REFUSE || e == FAILS)
		flag("%s returned a %zd-byte chunk from a corrupt ring", what, r);
	if ((size_t)r > v->data_len) {
		flag("%s returned %zd bytes from a ring of %zu", what, r, v->data_len);
		return;
	}
	if (data == NULL) {
		flag("%s returned %zd but no data", what, r);
		return;
	}
	for (i = 0; i < r; i++) /* a wild pointer faults here */
		sink ^= data[i];
	(void)sink;
	if (e == REFUSE_OR_INTACT) {
		if (rbi_check(data, r, v->next_seq, SPREAD) != 0)
			flag("%s returned a damaged chunk (%zd bytes, wanted seq %u)", what, r,
			     v->next_seq);
		v->next_seq++;
	}
}

/* Every read-side entry point, then a bounded number of reads. */
static void probe_reads(struct victim *v, enum expect e)
{
	void *peeked = NULL;
	ssize_t r;
	uint32_t i, refusals = 0;
	int before;

	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
	(void)qb_rb_chunks_used(v->rb); /* any count; it must just return */
	before = flagged;
	r = qb_rb_chunk_peek(v->rb, &peeked, 0);
	judge(v, e, "peek", r, peeked);
	if (r > 0 && flagged == before) /* a wrong chunk is left for read to meet */
		qb_rb_chunk_reclaim(v->rb);
	for (i = 0; i < CHUNKS + 4 && refusals < 3; i++) {
		r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		judge(v, e, "read", r, buf);
		if (r <= 0)
			refusals++;
	}
	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
}

/* A write on the damaged ring may succeed or fail, but must return sanely
 * (an out-of-bounds store would crash the child). */
static void probe_write(struct victim *v)
{
	uint32_t len = rbi_len(777, SPREAD);
	ssize_t r;

	rbi_fill(buf, 777, len);
	r = qb_rb_chunk_write(v->rb, buf, len);
	if (r != (ssize_t)len && !is_errno(r))
		flag("chunk_write returned %zd", r);
}

/* ------------------------------------------------- the child's framework */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* After everything is closed the process must still work normally. */
static void healthy_after(struct victim *v)
{
	char name[128];
	qb_ringbuffer_t *rb;
	uint32_t len = rbi_len(5, SPREAD);
	ssize_t r;
	void *p = malloc(1 << 20);

	if (p == NULL)
		die("malloc failed after the attack");
	memset(p, 0x5a, 1 << 20);
	free(p);
	snprintf(name, sizeof(name), "%s-after", v->name);
	rb = qb_rb_open(name, RING_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS, 0);
	if (rb == NULL)
		die("a fresh ring cannot be opened after the attack");
	rbi_fill(buf, 5, len);
	if (qb_rb_chunk_write(rb, buf, len) != (ssize_t)len)
		die("a fresh ring cannot be written after the attack");
	memset(buf, 0, len);
	r = qb_rb_chunk_read(rb, buf, sizeof(buf), 0);
	if (rbi_check(buf, r, 5, SPREAD) != 0)
		die("a fresh ring reads back wrong after the attack");
	qb_rb_close(rb);
}

typedef void (*attack_fn)(struct victim *v);

static void child_main(struct victim *v, attack_fn attack)
{
	int fds = count_fds();

	cur = v;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a hang dies with the test case */
	attack(v);
	attacker_unmap(v);
	if (v->rb != NULL)
		qb_rb_close(v->rb);
	v->rb = NULL;
	if (exists(v->hdr_file) || exists(v->data_file))
		die("ring files left in /dev/shm after qb_rb_close");
	if (count_fds() != fds)
		die("%d descriptors before, %d after", fds, count_fds());
	healthy_after(v);
	_exit(flagged ? 1 : 0);
}

static const char canary_text[] = "canary: must survive every attack\n";

static void make_canary(struct victim *v, char *dir, size_t dir_len)
{
	int fd;

	snprintf(dir, dir_len, "/tmp/rbh-%d-%d-XXXXXX", (int)main_pid, (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(v->canary, sizeof(v->canary), "%s/canary", dir);
	fd = open(v->canary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, canary_text, sizeof(canary_text) - 1),
			 (ssize_t)sizeof(canary_text) - 1);
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	close(fd);
}

/* NULL when the canary is exactly as made, else what changed. */
static const char *canary_damage(const struct victim *v)
{
	char got[sizeof(canary_text) + 16];
	struct stat st;
	ssize_t n;
	int fd;

	if (lstat(v->canary, &st) != 0)
		return "canary file was removed";
	if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644)
		return "canary file mode changed";
	if (st.st_size != (off_t)sizeof(canary_text) - 1)
		return "canary file size changed";
	fd = open(v->canary, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "canary file unreadable";
	n = read(fd, got, sizeof(got));
	close(fd);
	if (n != (ssize_t)sizeof(canary_text) - 1 || memcmp(got, canary_text, (size_t)n) != 0)
		return "canary file content changed";
	return NULL;
}

/* Unlinks entries of `dir` whose names contain `name`; returns how many. */
static int remove_leftovers(const char *dir, const char *name)
{
	char path[PATH_MAX];
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, name) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
			n++;
		}
	closedir(d);
	return n;
}

/* Runs one attack in a child; returns NULL on success, else a description
 * (kept in `why`). Cleans up whatever a failed child left behind. */
static const char *run_attack(const char *what, uint32_t flags, uint32_t value,
			      attack_fn attack, char *why, size_t why_len)
{
	struct victim v;
	char dir[128], msg[400] = "";
	const char *damage;
	int status = 0, report[2], left;
	ssize_t n;
	pid_t pid;

	memset(&v, 0, sizeof(v));
	v.flags = flags;
	v.value = value;
	snprintf(v.name, sizeof(v.name), "rbh-%d-%d-%s", (int)main_pid, (int)getpid(), what);
	snprintf(v.hdr_file, sizeof(v.hdr_file), "/dev/shm/qb-%s-header", v.name);
	snprintf(v.data_file, sizeof(v.data_file), "/dev/shm/qb-%s-data", v.name);
	ck_assert(!exists(v.hdr_file) && !exists(v.data_file));
	make_canary(&v, dir, sizeof(dir));
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(report[0]);
		v.report_fd = report[1];
		child_main(&v, attack);
	}
	close(report[1]);
	n = read(report[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(report[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	damage = canary_damage(&v);
	unlink(v.canary);
	rmdir(dir);
	left = remove_leftovers("/dev/shm", v.name) + remove_leftovers("/tmp", v.name);

	if (WIFSIGNALED(status))
		snprintf(why, why_len, "%s (flags 0x%x, value 0x%x): killed by signal %d (%s)%s%s%s%s",
			 what, flags, value, WTERMSIG(status), strsignal(WTERMSIG(status)),
			 msg[0] ? " after: " : "", msg, damage ? "; " : "", damage ? damage : "");
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(why, why_len, "%s (flags 0x%x, value 0x%x): %s%s%s", what, flags, value,
			 msg[0] ? msg : "child failed", damage ? "; " : "", damage ? damage : "");
	else if (damage != NULL)
		snprintf(why, why_len, "%s (flags 0x%x, value 0x%x): %s", what, flags, value,
			 damage);
	else if (left != 0)
		snprintf(why, why_len, "%s (flags 0x%x, value 0x%x): %d files left in /dev/shm or /tmp",
			 what, flags, value, left);
	else
		return NULL;
	return why;
}

/* Runs the attack for every value in both semaphore modes; fails the case
 * with the first problem found, after running them all. */
static void run_matrix(const char *what, const uint32_t *values, size_t nvalues,
		       int both_modes, attack_fn attack)
{
	char why[600], first[600] = "";
	int failures = 0, runs = 0;
	size_t i, m;

	for (m = 0; m < (both_modes ? 2u : 1u); m++)
		for (i = 0; i < nvalues; i++) {
			char sub[64];

			snprintf(sub, sizeof(sub), "%s-%zu-%zu", what, m, i);
			runs++;
			if (run_attack(sub, MODES[m], values[i], attack, why, sizeof(why))) {
				fprintf(stderr, "hostile: %s\n", why);
				if (failures++ == 0)
					snprintf(first, sizeof(first), "%s", why);
			}
		}
	ck_assert_msg(failures == 0, "%d of %d runs failed; first: %s", failures, runs, first);
}

static void run_one(const char *what, attack_fn attack)
{
	uint32_t zero = 0;

	run_matrix(what, &zero, 1, 0, attack);
}

#define NVALUES(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------- header geometry */

static void atk_word_size(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_WORD_SIZE) = v->value;
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_word_size_zero)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("ws0", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_tiny)
{
	static const uint32_t values[] = {1, 2, 3};

	HOSTILE_CASE();
	run_matrix("ws-tiny", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_odd)
{
	static const uint32_t values[] = {1001, 2047, 2049, 4097};

	HOSTILE_CASE();
	run_matrix("ws-odd", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_huge)
{
	static const uint32_t values[] = {0x7fffffffu, 0xffffffffu, 0x40000000u};

	HOSTILE_CASE();
	run_matrix("ws-huge", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

/* ------------------------------------------------------------ positions */

static void atk_read_pt(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_READ_PT) = v->value;
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
}

START_TEST(test_read_pt_out_of_range)
{
	/* 2048 is the ring's word count: one past the last valid index. */
	static const uint32_t values[] = {2048, 2055, 0x7fffffffu, 0xfffffff0u};

	HOSTILE_CASE();
	run_matrix("rpt", values, NVALUES(values), 1, atk_read_pt);
}
END_TEST

static void atk_write_pt(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_WRITE_PT) = v->value;
	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
	probe_write(v);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_write_pt_out_of_range)
{
	static const uint32_t values[] = {2048, 2049, 0x7fffffffu, 0xfffffff0u};

	HOSTILE_CASE();
	run_matrix("wpt", values, NVALUES(values), 1, atk_write_pt);
}
END_TEST

static void atk_both_pts(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_READ_PT) = v->value;
	*hdr_u32(v, OFF_WRITE_PT) = v->value ^ 0x5555u;
	probe_reads(v, BOUNDED);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_both_pts_garbage)
{
	static const uint32_t values[] = {0x00ffff00u, 0xfffffffeu};

	HOSTILE_CASE();
	run_matrix("pts", values, NVALUES(values), 1, atk_both_pts);
}
END_TEST

/* --------------------------------------------------------- chunk headers */

static void atk_chunk_len(struct victim *v)
{
	uint32_t rp;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	/* A value of 0 selects "the whole ring", which cannot hold a chunk plus
	 * its own header; 1 selects three rings' worth. */
	v->data[rp] = v->value == 0 ? (uint32_t)v->data_len
		      : v->value == 1 ? 3u * (uint32_t)v->data_len
				      : v->value;
	probe_reads(v, REFUSE);
	probe_write(v);
}

START_TEST(test_chunk_len_huge)
{
	static const uint32_t values[] = {0xfffffff0u, 0x7ffffff8u};

	HOSTILE_CASE();
	run_matrix("len-huge", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

START_TEST(test_chunk_len_negative)
{
	static const uint32_t values[] = {0x80000000u, 0xffffffffu};

	HOSTILE_CASE();
	run_matrix("len-neg", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

START_TEST(test_chunk_len_past_ring_end)
{
	static const uint32_t values[] = {0, 1};

	HOSTILE_CASE();
	run_matrix("len-end", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

/* A length inside the ring but running past the write position. */
static void atk_chunk_len_past_write(struct victim *v)
{
	uint32_t rp;
	ssize_t used;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	used = qb_rb_space_used(v->rb);
	v->data[rp] = (uint32_t)used + 256;
	probe_reads(v, BOUNDED);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_chunk_len_past_write_pt)
{
	HOSTILE_CASE();
	run_one("len-wpt", atk_chunk_len_past_write);
}
END_TEST

static void atk_magic(struct victim *v)
{
	uint32_t rp;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	v->data[(rp + 1) % v->words] = v->value;
	probe_reads(v, REFUSE);
	probe_write(v);
}

START_TEST(test_magic_garbage)
{
	static const uint32_t values[] = {0x12345678u, MAGIC_ALLOC, MAGIC_DEAD, 0};

	HOSTILE_CASE();
	run_matrix("magic", values, NVALUES(values), 1, atk_magic);
}
END_TEST

/* The second chunk is bad: the first still reads, then the ring stops. */
static void atk_magic_second(struct victim *v)
{
	uint32_t second;
	ssize_t r;
	int i;

	victim_setup(v, v->flags, CHUNKS);
	second = 2 + (rbi_len(0, SPREAD) + 3) / 4;
	if (v->data[second + 1] != MAGIC_COMMITTED)
		die("setup: chunk 1 is not where the format puts it");
	v->data[second + 1] = v->value;
	r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
	if (rbi_check(buf, r, 0, SPREAD) != 0)
		die("the intact first chunk read as %zd", r);
	for (i = 0; i < 3; i++) {
		r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (!is_refusal(r))
			die("read of the corrupt second chunk returned %zd", r);
	}
}

START_TEST(test_magic_garbage_second_chunk)
{
	static const uint32_t values[] = {0xdeadbeefu, MAGIC_DEAD};

	HOSTILE_CASE();
	run_matrix("magic2", values, NVALUES(values), 1, atk_magic_second);
}
END_TEST

/* Overwrite mode reclaims old chunks to make room; a corrupt oldest chunk
 * must stop that, not send it round and round. */
static void atk_overwrite_reclaim(struct victim *v)
{
	uint32_t rp, seq, len = 2000;
	ssize_t r;
	int i;

	victim_setup(v, v->flags | QB_RB_FLAG_OVERWRITE, 0);
	for (seq = 0; seq < 200; seq++) /* about 12 KiB through an 8 KiB ring */
		write_seq(v, seq);
	rp = *hdr_u32(v, OFF_READ_PT);
	if (rp >= v->words)
		die("setup: read_pt %u", rp);
	if (v->value == 0)
		v->data[rp] = 0x7ffffff0u;
	else
		v->data[(rp + 1) % v->words] = v->value;
	memset(buf, 0x11, len);
	for (i = 0; i < 4; i++) {
		r = qb_rb_chunk_write(v->rb, buf, len);
		if (r != (ssize_t)len && !is_errno(r))
			die("overwrite chunk_write returned %zd", r);
	}
	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
}

START_TEST(test_overwrite_reclaims_corrupt_chunk)
{
	/* 0: corrupt length at the oldest chunk; otherwise the magic value. */
	static const uint32_t values[] = {0, 0x12345678u, MAGIC_DEAD};

	HOSTILE_CASE();
	run_matrix("ow", values, NVALUES(values), 1, atk_overwrite_reclaim);
}
END_TEST

/* ------------------------------------------------------------- file paths */

static void put_path(struct victim *v, size_t off, const char *path)
{
	memset(v->hdr + off, 0, SHARED_PATH_MAX);
	memcpy(v->hdr + off, path, strlen(path));
}

static void atk_paths_close(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_HDR_PATH, v->canary);
	put_path(v, OFF_DATA_PATH, v->canary);
	qb_rb_close(v->rb);
	v->rb = NULL;
}

START_TEST(test_paths_to_canary_then_close)
{
	HOSTILE_CASE();
	run_one("path-close", atk_paths_close);
}
END_TEST

/* Paths with no terminator, and a '/' only far beyond PATH_MAX. */
static void atk_paths_unterminated(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	memset(v->hdr + OFF_HDR_PATH, 'A', 2 * SHARED_PATH_MAX);
	*hdr_u32(v, OFF_REF_COUNT) = 0x41414142u; /* 'AAAA' once close drops it */
	memset(v->hdr + OFF_SEM, 'A', SEM_BYTES);
	memcpy(v->hdr + OFF_USER, "/x\0", 3);
	qb_rb_close(v->rb);
	v->rb = NULL;
}

START_TEST(test_paths_unterminated_then_close)
{
	HOSTILE_CASE();
	run_one("path-nonul", atk_paths_unterminated);
}
END_TEST

static void atk_paths_chmod(struct victim *v)
{
	struct stat st;
	int32_t r;

	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_HDR_PATH, v->canary);
	put_path(v, OFF_DATA_PATH, v->canary);
	r = qb_rb_chmod(v->rb, 0640);
	if (r == 0 && (stat(v->data_file, &st) != 0 || (st.st_mode & 0777) != 0640))
		die("qb_rb_chmod returned 0 but the ring's data file is not 0640");
	if (r == 0 && (stat(v->hdr_file, &st) != 0 || (st.st_mode & 0777) != 0640))
		die("qb_rb_chmod returned 0 but the ring's header file is not 0640");
	(void)qb_rb_chown(v->rb, getuid(), getgid());
}

START_TEST(test_paths_to_canary_then_chmod)
{
	HOSTILE_CASE();
	run_one("path-chmod", atk_paths_chmod);
}
END_TEST

/* A second process opening the ring must not follow a planted data_path. */
static void atk_paths_opener(struct victim *v)
{
	qb_ringbuffer_t *creator, *opener;

	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_DATA_PATH, v->canary);
	creator = v->rb;
	opener = qb_rb_open(v->name, RING_SIZE, QB_RB_FLAG_SHARED_PROCESS | v->flags,
			    USER_SIZE);
	if (opener != NULL) {
		v->rb = opener;
		probe_reads(v, REFUSE_OR_INTACT);
		qb_rb_close(opener);
		v->rb = creator;
	}
	if (!exists(v->hdr_file) || !exists(v->data_file))
		die("closing the opener removed the creator's files");
}

START_TEST(test_paths_to_canary_then_open)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("path-open", values, 1, 1, atk_paths_opener);
}
END_TEST

/* ------------------------------------------------------------- truncation */

static void truncate_file(struct victim *v, const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ftruncate(fd, size) != 0)
		die("attacker cannot truncate %s", path);
	close(fd);
	attacker_unmap(v); /* the attacker's own view is now partly gone too */
}

static void atk_truncate_data(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	truncate_file(v, v->data_file, 0);
	probe_reads(v, FAILS);
}

START_TEST(test_truncate_data_to_zero)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("trunc-data0", values, 1, 1, atk_truncate_data);
}
END_TEST

/* Move the reader into the second half of the ring, then cut that half off. */
static void atk_truncate_data_half(struct victim *v)
{
	uint32_t len = 1000, i;
	ssize_t r;

	victim_setup(v, v->flags, 0);
	memset(buf, 0x33, len);
	for (i = 0; i < 5; i++) {
		if (qb_rb_chunk_write(v->rb, buf, len) != (ssize_t)len)
			die("setup: write %u", i);
		r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (r != (ssize_t)len)
			die("setup: read %u returned %zd", i, r);
	}
	for (i = 0; i < 2; i++)
		if (qb_rb_chunk_write(v->rb, buf, len) != (ssize_t)len)
			die("setup: write");
	if (*hdr_u32(v, OFF_READ_PT) <= v->words / 2)
		die("setup: read_pt %u is not in the second half", *hdr_u32(v, OFF_READ_PT));
	truncate_file(v, v->data_file, (off_t)v->data_len / 2);
	probe_reads(v, FAILS);
}

START_TEST(test_truncate_data_to_half)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("trunc-datah", values, 1, 1, atk_truncate_data_half);
}
END_TEST

static void atk_truncate_header(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	truncate_file(v, v->hdr_file, (off_t)v->value);
	probe_reads(v, BOUNDED);
}

START_TEST(test_truncate_header)
{
	/* 0: everything gone; 4096: positions survive, semaphore and the rest do not. */
	static const uint32_t values[] = {0, 4096};

	HOSTILE_CASE();
	run_matrix("trunc-hdr", values, NVALUES(values), 1, atk_truncate_header);
}
END_TEST

/* ------------------------------------------------ reference count, semaphore */

static void atk_ref_count(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_REF_COUNT) = v->value;
	(void)qb_rb_refcount_get(v->rb);
	probe_reads(v, REFUSE_OR_INTACT);
	/* The creator's close still removes its files whatever the count says. */
}

START_TEST(test_ref_count_garbage)
{
	static const uint32_t values[] = {0x80000000u, 0, 0xffffffffu, 0x7fffffffu};

	HOSTILE_CASE();
	run_matrix("ref", values, NVALUES(values), 0, atk_ref_count);
}
END_TEST

static void atk_semaphore(struct victim *v)
{
	int i;

	victim_setup(v, v->flags, CHUNKS);
	memset(v->hdr + OFF_SEM, (int)v->value, SEM_BYTES);
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
	for (i = 0; i < 100; i++) { /* a wild count must not turn into a spin */
		ssize_t r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);

		if (r > 0 && rbi_check(buf, r, rbi_seq_of(buf), SPREAD) != 0)
			die("read returned a damaged chunk after semaphore corruption");
		if (r < 0 && !is_refusal(r))
			die("read returned %zd after semaphore corruption", r);
	}
}

START_TEST(test_semaphore_garbage)
{
	static const uint32_t values[] = {0xff, 0x00, 0x7f};

	HOSTILE_CASE();
	run_matrix("sem", values, NVALUES(values), 0, atk_semaphore);
}
END_TEST

/* ------------------------------------------------------- squatted names */

/* An attacker plants a symlink under one of the ring's names before it is
 * created. The library may refuse (NULL) or put the file elsewhere, but it
 * must not follow, remove or replace the link, and whatever it created must
 * work and be gone after close (the parent also scans /dev/shm and /tmp). */
static void atk_squat(struct victim *v)
{
	const char *planted = v->value == 0 ? v->hdr_file : v->data_file;
	const char *other = v->value == 0 ? v->data_file : v->hdr_file;
	char target[PATH_MAX];
	ssize_t n;

	if (symlink(v->canary, planted) != 0)
		die("cannot plant symlink %s", planted);
	v->rb = qb_rb_open(v->name, RING_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS,
			   USER_SIZE);
	if (v->rb != NULL) {
		write_seq(v, 0);
		n = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (rbi_check(buf, n, 0, SPREAD) != 0)
			die("the ring created beside the planted symlink reads %zd", n);
		qb_rb_close(v->rb);
		v->rb = NULL;
	}
	n = readlink(planted, target, sizeof(target) - 1);
	if (n < 0 || (size_t)n != strlen(v->canary) || memcmp(target, v->canary, (size_t)n) != 0)
		die("the planted symlink was removed or replaced");
	if (exists(other))
		die("%s left behind", other);
	unlink(planted);
}

START_TEST(test_squatted_names)
{
	/* 0: the header name is a symlink; 1: the data name is. */
	static const uint32_t values[] = {0, 1};

	HOSTILE_CASE();
	run_matrix("squat", values, NVALUES(values), 0, atk_squat);
}
END_TEST

/* ------------------------------------------------------------------ main */

int main(void)
{
	Suite *s = suite_create("rb_hostile");

	main_pid = getpid();
	QBT_ADD_TEST(s, test_word_size_zero);
	QBT_ADD_TEST(s, test_word_size_tiny);
	QBT_ADD_TEST(s, test_word_size_odd);
	QBT_ADD_TEST(s, test_word_size_huge);
	QBT_ADD_TEST(s, test_read_pt_out_of_range);
	QBT_ADD_TEST(s, test_write_pt_out_of_range);
	QBT_ADD_TEST(s, test_both_pts_garbage);
	QBT_ADD_TEST(s, test_chunk_len_huge);
	QBT_ADD_TEST(s, test_chunk_len_negative);
	QBT_ADD_TEST(s, test_chunk_len_past_ring_end);
	QBT_ADD_TEST(s, test_chunk_len_past_write_pt);
	QBT_ADD_TEST(s, test_magic_garbage);
	QBT_ADD_TEST(s, test_magic_garbage_second_chunk);
	QBT_ADD_TEST(s, test_overwrite_reclaims_corrupt_chunk);
	QBT_ADD_TEST(s, test_paths_to_canary_then_close);
	QBT_ADD_TEST(s, test_paths_unterminated_then_close);
	QBT_ADD_TEST(s, test_paths_to_canary_then_chmod);
	QBT_ADD_TEST(s, test_paths_to_canary_then_open);
	QBT_ADD_TEST(s, test_truncate_data_to_zero);
	QBT_ADD_TEST(s, test_truncate_data_to_half);
	QBT_ADD_TEST(s, test_truncate_header);
	QBT_ADD_TEST(s, test_ref_count_garbage);
	QBT_ADD_TEST(s, test_semaphore_garbage);
	QBT_ADD_TEST(s, test_squatted_names);
	return qbt_main(s);
}
