/*
 * libqb-rs C tests: the blackbox (flight recorder) target, its dumps and the
 * qb-blackbox reader.
 *
 * Dumps written by the library under test are listed by BOTH readers: stock's
 * /usr/sbin/qb-blackbox run on Debian's libqb, and our tools/qb-blackbox run on
 * libqb-rs. Since the suite runs once against each library (check-c and
 * check-c-stock), every dump format direction is covered: ours read by stock,
 * stock's read by ours. The record lines of both readers must be identical and
 * carry the expected messages.
 *
 * Environment (set by the Makefile): QBT_BB_TOOL (our qb-blackbox),
 * QBT_OURS_LIBDIR, QBT_STOCK_LIBDIR, QBT_BB_CORPUS (corrupted dumps).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "leak_probes.h"
#include "qbtest.h"

#define STOCK_TOOL "/usr/sbin/qb-blackbox"
#define OUT_MAX (1 << 20)

static char dir[64];
static char dump_path[128];

/* ------------------------------------------------------------ helpers */

/* Blackbox ring files of this process in /dev/shm. */
static int count_rings(void)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "qb-bbtest-%d-blackbox", (int)getpid());
	return count_shm_prefixed(prefix);
}

static int fd_baseline;

static void start(int32_t size)
{
	snprintf(dir, sizeof(dir), "/tmp/qbt-bb-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dump_path, sizeof(dump_path), "%s/dump.fdata", dir);
	fd_baseline = count_fds();
	qb_log_init("bbtest", LOG_USER, LOG_EMERG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_BLACKBOX, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", LOG_TRACE), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, size), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(count_rings(), 2);
}

/* After qb_log_fini nothing may be left: no ring files, no descriptors. */
static void finish(void)
{
	qb_log_fini();
	ck_assert_int_eq(count_rings(), 0);
	ck_assert_int_eq(count_fds(), fd_baseline);
	unlink(dump_path);
	rmdir(dir);
}

/* Runs `tool file` with LD_LIBRARY_PATH=libdir; returns its stdout (static). */
static char *run_reader(const char *tool, const char *libdir, const char *file)
{
	static char out[2][OUT_MAX];
	static int which;
	char *buf = out[which ^= 1];
	size_t len = 0;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		dup2(null, 2);
		setenv("LD_LIBRARY_PATH", libdir, 1);
		execl(tool, tool, file, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, OUT_MAX - 1 - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	buf[len] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s exited with status 0x%x", tool, status);
	return buf;
}

/* Keeps only the record lines (stock's reader also prints a ring summary). */
static void records_only(char *text)
{
	static const char *names[] = {"emerg ", "alert ", "crit ", "error ",
		"warning ", "notice ", "info ", "debug ", "trace "};
	char *src = text, *dst = text;

	while (*src) {
		char *eol = strchrnul(src, '\n');
		size_t len = (size_t)(eol - src) + (*eol == '\n');
		int keep = 0;

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			keep |= strncmp(src, names[i], strlen(names[i])) == 0;
		if (keep) {
			memmove(dst, src, len);
			dst += len;
		}
		src += len;
	}
	*dst = '\0';
}

static int readers_available(void)
{
	const char *ours = getenv("QBT_OURS_LIBDIR");
	const char *stock = getenv("QBT_STOCK_LIBDIR");
	const char *tool = getenv("QBT_BB_TOOL");
	char lib[PATH_MAX];

	ck_assert_msg(ours && stock && tool,
		      "QBT_BB_TOOL, QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR must be set");
	snprintf(lib, sizeof(lib), "%s/libqb.so.100", stock);
	if (access(STOCK_TOOL, X_OK) != 0 || access(lib, R_OK) != 0) {
		printf("SKIP: stock qb-blackbox or libqb not installed\n");
		return 0;
	}
	return 1;
}

/* Lists `file` with both readers, checks they agree; returns the records. */
static char *list_both(const char *file)
{
	char *stock = run_reader(STOCK_TOOL, getenv("QBT_STOCK_LIBDIR"), file);
	char *ours = run_reader(getenv("QBT_BB_TOOL"), getenv("QBT_OURS_LIBDIR"), file);

	records_only(stock);
	records_only(ours);
	ck_assert_str_eq(ours, stock);
	return ours;
}

/* The message of the n-th record line (0-based) into `msg`. */
static int nth_message(const char *records, int n, char *msg, size_t cap)
{
	const char *line = records;

	for (int i = 0; i < n && line; i++) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (line == NULL || *line == '\0')
		return 0;
	/* "prio time function(line):tags: message" */
	const char *m = strstr(line, "):");
	const char *colon = m ? strstr(m + 2, ": ") : NULL;
	if (colon == NULL)
		return 0;
	colon += 2;
	size_t len = strcspn(colon, "\n");
	if (len >= cap)
		len = cap - 1;
	memcpy(msg, colon, len);
	msg[len] = '\0';
	return 1;
}

/* ------------------------------------------------------------ cases */

START_TEST(test_dump_listed_by_both_readers)
{
	char expect[16][600];
	char got[600];
	const char *nil = NULL;
	char *records;
	int n = 0;

	if (!readers_available())
		return;
	start(64 * 1024);
	qb_log(LOG_INFO, "hello %s %d %u %ld %lld %zu", "world", -5, 7u, -9L,
	       123456789012LL, (size_t)77);
	snprintf(expect[n++], 600, "hello %s %d %u %ld %lld %zu", "world", -5, 7u,
		 -9L, 123456789012LL, (size_t)77);
	qb_log(LOG_DEBUG, "f %.3f %e %g|%c|%p|%5s|%-5s|%.2s", 3.14159, 2.5, 0.1, 'Z',
	       (void *)0x1234, "ab", "cd", "efgh");
	snprintf(expect[n++], 600, "f %.3f %e %g|%c|%p|%5s|%-5s|%.2s", 3.14159, 2.5,
		 0.1, 'Z', (void *)0x1234, "ab", "cd", "efgh");
	qb_log(LOG_WARNING, "w %*d p %.*d x%xX%X o%o", 6, 42, 4, 7, 255, 255, 8);
	snprintf(expect[n++], 600, "w %*d p %.*d x%xX%X o%o", 6, 42, 4, 7, 255, 255, 8);
	qb_log(LOG_ERR, "null %s end", nil);
	snprintf(expect[n++], 600, "null (null) end");
	qb_log(LOG_ERR, "ext" QB_XS "info %d", 5);
	snprintf(expect[n++], 600, "ext|info 5");
	qb_log(LOG_NOTICE, "trailing newline\n");
	snprintf(expect[n++], 600, "trailing newline");
	qb_log(LOG_TRACE, "%u%s", 1u, "x");
	snprintf(expect[n++], 600, "1x");

	ck_assert_int_gt(qb_log_blackbox_write_to_file(dump_path), 0);
	records = list_both(dump_path);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(nth_message(records, i, got, sizeof(got)),
			      "record %d missing in:\n%s", i, records);
		ck_assert_str_eq(got, expect[i]);
	}
	ck_assert(!nth_message(records, n, got, sizeof(got)));
	ck_assert_ptr_nonnull(strstr(records, "info    "));
	ck_assert_ptr_nonnull(strstr(records, " test_dump_listed_by_both_readers"));
	finish();
}
END_TEST

/* A message longer than the line length is replaced by libqb's fixed text. */
START_TEST(test_long_message_replaced)
{
	static char big[2000];
	char got[600];
	char *records;

	if (!readers_available())
		return;
	start(8192);
	memset(big, 'q', sizeof(big) - 1);
	qb_log(LOG_INFO, "big %s", big);
	qb_log(LOG_INFO, "small");
	ck_assert_int_gt(qb_log_blackbox_write_to_file(dump_path), 0);
	records = list_both(dump_path);
	ck_assert(nth_message(records, 0, got, sizeof(got)));
	ck_assert_str_eq(got, "Log message too long to be stored in the blackbox.  "
			      "Maximum is QB_LOG_MAX_LEN");
	ck_assert(nth_message(records, 1, got, sizeof(got)));
	ck_assert_str_eq(got, "small");
	finish();
}
END_TEST

/* An overwrite ring keeps the newest records, in order. */
START_TEST(test_wraparound_keeps_newest)
{
	char got[600], want[64];
	char *records;
	int kept = 0, first = -1;

	if (!readers_available())
		return;
	start(1024);
	for (int i = 0; i < 1000; i++)
		qb_log(LOG_INFO, "record %d", i);
	ck_assert_int_gt(qb_log_blackbox_write_to_file(dump_path), 0);
	records = list_both(dump_path);
	while (nth_message(records, kept, got, sizeof(got))) {
		int v = -1;

		ck_assert_int_eq(sscanf(got, "record %d", &v), 1);
		if (first < 0)
			first = v;
		ck_assert_int_eq(v, first + kept);
		kept++;
	}
	ck_assert_int_gt(kept, 1);
	ck_assert_int_lt(kept, 1000);
	snprintf(want, sizeof(want), "record %d", 999);
	ck_assert(nth_message(records, kept - 1, got, sizeof(got)));
	ck_assert_str_eq(got, want);
	finish();
}
END_TEST

/* A child forked while logging into the blackbox writes into the same ring
 * (the mapping is shared); the parent keeps logging after it, and one dump
 * shows all three runs in order, as with libqb. */
START_TEST(test_forked_child_logs_into_the_same_ring)
{
	char got[600];
	char *records;
	int before = 0, child = 0, after = 0, at = 0, first = -1, status;
	pid_t pid;

	if (!readers_available())
		return;
	start(16 * 1024);
	for (int i = 0; i < 300; i++)
		qb_log(LOG_INFO, "before %d", i);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			qb_log(LOG_INFO, "child %d", i);
		_exit(0); /* the ring's files are the parent's to remove */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 5; i++)
		qb_log(LOG_INFO, "after %d", i);
	ck_assert_int_gt(qb_log_blackbox_write_to_file(dump_path), 0);
	records = list_both(dump_path);
	for (; nth_message(records, at, got, sizeof(got)); at++) {
		int v = -1;

		if (sscanf(got, "before %d", &v) == 1) {
			ck_assert_msg(child == 0 && after == 0, "out of order: %s", got);
			if (first < 0)
				first = v;
			ck_assert_int_eq(v, first + before);
			before++;
		} else if (sscanf(got, "child %d", &v) == 1) {
			ck_assert_msg(after == 0 && v == child, "out of order: %s", got);
			child++;
		} else {
			ck_assert_int_eq(sscanf(got, "after %d", &v), 1);
			ck_assert_int_eq(v, after);
			after++;
		}
	}
	/* the newest "before" records, up to the fork */
	ck_assert_int_gt(before, 100);
	ck_assert_int_eq(first + before, 300);
	ck_assert_int_eq(child, 3);
	ck_assert_int_eq(after, 5);
	finish();
}
END_TEST

static void dump_on_segv(int sig)
{
	ssize_t rc = qb_log_blackbox_write_to_file(dump_path);

	(void)sig;
	_exit(rc > 0 ? 42 : 43);
}

/* The crash-handler use: a log call with a wild %s pointer faults, and the
 * SIGSEGV handler dumps the blackbox, which still holds the earlier records. */
START_TEST(test_dump_from_sigsegv_handler)
{
	int status;
	pid_t pid;
	char got[600];
	char *records;

	if (!readers_available())
		return;
	start(16384);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = dump_on_segv;
		sigaction(SIGSEGV, &sa, NULL);
		qb_log(LOG_CRIT, "before the crash %d", 7);
		qb_log(LOG_INFO, "wild %s", (const char *)(uintptr_t)16);
		_exit(44);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		      "child status 0x%x", status);
	records = list_both(dump_path);
	ck_assert(nth_message(records, 0, got, sizeof(got)));
	ck_assert_str_eq(got, "before the crash 7");
	finish();
}
END_TEST

START_TEST(test_enable_needs_size)
{
	qb_log_init("bbtest", LOG_USER, LOG_EMERG);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 1000), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE), -EINVAL);
	ck_assert_int_eq(count_rings(), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 1024), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(count_rings(), 2);
	/* A new size re-creates the ring. */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 100000), 0);
	ck_assert_int_eq(count_rings(), 2);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
	ck_assert_int_eq(count_rings(), 0);
	qb_log_fini();
}
END_TEST

START_TEST(test_dump_without_blackbox)
{
	char path[] = "/tmp/qbt-bb-none-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	qb_log_init("bbtest", LOG_USER, LOG_EMERG);
	ck_assert_int_eq(qb_log_blackbox_write_to_file(path), -ENOENT);
	qb_log_fini();
	unlink(path);
}
END_TEST

/* Ours truncates (no stale tail from a longer earlier file) and refuses to
 * follow a symlink; stock does neither. */
START_TEST(test_dump_truncates_and_refuses_symlinks)
{
	char link_path[160];
	struct stat st;
	ssize_t n;
	int fd;

	QBT_OURS_ONLY();
	start(4096);
	qb_log(LOG_INFO, "x");
	fd = open(dump_path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	n = qb_log_blackbox_write_to_file(dump_path);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(stat(dump_path, &st), 0);
	ck_assert_int_eq(st.st_size, n);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	ck_assert_int_eq(symlink(dump_path, link_path), 0);
	ck_assert_int_eq(qb_log_blackbox_write_to_file(link_path), -ELOOP);
	unlink(link_path);
	finish();
}
END_TEST

/* Every corrupted dump of the corpus is either listed or refused; the reader
 * never crashes (each file in a child process) and never leaves /dev/shm files. */
START_TEST(test_corrupt_corpus)
{
	const char *corpus = getenv("QBT_BB_CORPUS");
	struct dirent *e;
	DIR *d;
	int files = 0;

	QBT_OURS_ONLY(); /* stock's reader crashes or asserts on some of them */
	ck_assert_ptr_nonnull(corpus);
	d = opendir(corpus);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		int status;
		pid_t pid;

		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".bin") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, e->d_name);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			alarm(20);
			_exit(qb_log_blackbox_print_from_file(path) <= 0 ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "%s: status 0x%x", path, status);
		files++;
	}
	closedir(d);
	ck_assert_int_gt(files, 5);
	ck_assert_int_eq(count_rings(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_blackbox");

	QBT_ADD_TEST(s, test_dump_listed_by_both_readers);
	QBT_ADD_TEST(s, test_long_message_replaced);
	QBT_ADD_TEST(s, test_wraparound_keeps_newest);
	QBT_ADD_TEST(s, test_forked_child_logs_into_the_same_ring);
	QBT_ADD_TEST(s, test_dump_from_sigsegv_handler);
	QBT_ADD_TEST(s, test_enable_needs_size);
	QBT_ADD_TEST(s, test_dump_without_blackbox);
	QBT_ADD_TEST(s, test_dump_truncates_and_refuses_symlinks);
	QBT_ADD_TEST(s, test_corrupt_corpus);
	return qbt_main(s);
}
