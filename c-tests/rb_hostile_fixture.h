/*
 * rb_hostile_fixture.h: the framework of the hostile ring-buffer suites
 * (c-tests/check_rb_hostile_header.c, _chunks.c and _files.c), which test
 * qbrb.h against a hostile peer.
 *
 * Whoever shares a ring can write every byte of its /dev/shm header and data
 * files and can truncate them. The suites play that peer: each maps the files
 * of a ring it created through the library with plain open+mmap, corrupts
 * them, and then calls the library's read, peek, space, write and close
 * functions. Each attack runs in a forked child so that a crash is observed,
 * not suffered; the child also checks that its descriptors and the ring's
 * files are gone after qb_rb_close, and that the process still works. The
 * parent checks the exit status and that a canary file the attack pointed
 * the ring's paths at is untouched.
 *
 * Stock libqb trusts shared memory and fails most of these, so every case is
 * HOSTILE_CASE(): skipped on stock unless QBT_HOSTILE_ON_STOCK=1 (see
 * c-tests/HOSTILE-RB-STOCK.md for the outcome).
 *
 * A suite defines _GNU_SOURCE before including this (pipe2). Functions are
 * static inline so a suite that leaves some unused still compiles under
 * -Werror.
 */
#ifndef RB_HOSTILE_FIXTURE_H
#define RB_HOSTILE_FIXTURE_H

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

#include "leak_probes.h"
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

static inline void vflag(const char *fmt, va_list ap)
{
	char msg[400];
	ssize_t ignored;

	if (flagged++)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	ignored = write(cur->report_fd, msg, strlen(msg));
	(void)ignored;
}

static inline void flag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void flag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vflag(fmt, ap);
	va_end(ap);
}

/* A failure after which the attack cannot go on. */
static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vflag(fmt, ap);
	va_end(ap);
	_exit(1);
}

static inline uint32_t *hdr_u32(struct victim *v, size_t off)
{
	return (uint32_t *)(void *)(v->hdr + off);
}

static inline void *map_file(const char *path, size_t *len)
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

static inline void attacker_unmap(struct victim *v)
{
	if (v->hdr != NULL)
		munmap(v->hdr, v->hdr_len);
	if (v->data != NULL)
		munmap(v->data, v->data_len);
	v->hdr = NULL;
	v->data = NULL;
}

static inline void write_seq(struct victim *v, uint32_t seq)
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
static inline void victim_setup(struct victim *v, uint32_t extra_flags, uint32_t chunks)
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

static inline int is_errno(ssize_t r)
{
	return r < 0 && r >= -4095;
}

static inline int is_refusal(ssize_t r)
{
	return r == -EBADMSG || r == -EINVAL || r == -ETIMEDOUT || r == -EAGAIN ||
	       r == -ENOBUFS || r == -EIO;
}

static inline void check_space(struct victim *v, const char *what, ssize_t r)
{
	if (!is_errno(r) && (r < 0 || (size_t)r > v->data_len))
		flag("%s returned %zd for a ring of %zu bytes", what, r, v->data_len);
}

/* Judges one peek/read result; `data` holds r bytes when r > 0. */
static inline void judge(struct victim *v, enum expect e, const char *what, ssize_t r,
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
static inline void probe_reads(struct victim *v, enum expect e)
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
static inline void probe_write(struct victim *v)
{
	uint32_t len = rbi_len(777, SPREAD);
	ssize_t r;

	rbi_fill(buf, 777, len);
	r = qb_rb_chunk_write(v->rb, buf, len);
	if (r != (ssize_t)len && !is_errno(r))
		flag("chunk_write returned %zd", r);
}

/* ------------------------------------------------- the child's framework */

static inline int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* After everything is closed the process must still work normally. */
static inline void healthy_after(struct victim *v)
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

static inline void child_main(struct victim *v, attack_fn attack)
{
	int fds = dir_entries("/proc/self/fd"); /* the child reports with die() */

	cur = v;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a hang dies with the test case */
	attack(v);
	attacker_unmap(v);
	if (v->rb != NULL)
		qb_rb_close(v->rb);
	v->rb = NULL;
	if (exists(v->hdr_file) || exists(v->data_file))
		die("ring files left in /dev/shm after qb_rb_close");
	if (dir_entries("/proc/self/fd") != fds)
		die("%d descriptors before, %d after", fds, dir_entries("/proc/self/fd"));
	healthy_after(v);
	_exit(flagged ? 1 : 0);
}

static const char canary_text[] = "canary: must survive every attack\n";

static inline void make_canary(struct victim *v, char *dir, size_t dir_len)
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
static inline const char *canary_damage(const struct victim *v)
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
static inline int remove_leftovers(const char *dir, const char *name)
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
static inline const char *run_attack(const char *what, uint32_t flags, uint32_t value,
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
static inline void run_matrix(const char *what, const uint32_t *values, size_t nvalues,
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

static inline void run_one(const char *what, attack_fn attack)
{
	uint32_t zero = 0;

	run_matrix(what, &zero, 1, 0, attack);
}

#define NVALUES(a) (sizeof(a) / sizeof((a)[0]))

/* Every suite's main(): the names of rings and canaries carry this pid. */
static inline int rb_hostile_main(Suite *s)
{
	main_pid = getpid();
	return qbt_main(s);
}

#endif /* RB_HOSTILE_FIXTURE_H */
