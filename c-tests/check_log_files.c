/*
 * Log file targets (qblog.h): the exact bytes of each line, appending to an
 * existing file and the new file's mode, close-on-exec, the slots file
 * targets take and give back, closing, reopening (log rotation, also while
 * other threads log) and QB_LOG_CONF_FILE_SYNC.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "log_target_fixture.h"

START_TEST(test_file_lines_exact)
{
	const char *path = tmp_name("exact.log");
	char want[512];
	int32_t t;
	int line;

	start_logging();
	t = open_file_target(path, LOG_INFO);
	ck_assert_int_eq(t, QB_LOG_TARGET_DYNAMIC_START);

	/* Default format, then a custom one; debug is filtered out. */
	qb_log(LOG_INFO, "hello %d", 1);
	qb_log(LOG_DEBUG, "not written");
	qb_log(LOG_ERR, "second line\n");
	qb_log_format_set(t, "%p|%n|%l|%b");
	qb_log(LOG_WARNING, "with %s", "fields"); line = __LINE__;
	qb_log(LOG_NOTICE, "short" QB_XS "extended");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_EXTENDED, QB_FALSE), 0);
	qb_log(LOG_NOTICE, "short" QB_XS "extended");
	qb_log(LOG_NOTICE, QB_XS "only extended");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_MAX_LINE_LEN, 16), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ELLIPSIS, QB_TRUE), 0);
	qb_log_format_set(t, "%b");
	qb_log(LOG_ERR, "0123456789abcdefghij");

	snprintf(want, sizeof(want),
		 "[info] hello 1\n"
		 "[error] second line\n"
		 "warning|%s|%d|with fields\n"
		 "notice|%s|%d|short|extended\n"
		 "notice|%s|%d|short\n"
		 "0123456789ab...\n",
		 __func__, line, __func__, line + 1, __func__, line + 3);
	ck_assert_str_eq(slurp(path), want);
	qb_log_fini();
	unlink(path);
}
END_TEST

START_TEST(test_file_appends_and_mode)
{
	const char *path = tmp_name("append.log");
	struct stat st;
	FILE *f = fopen(path, "w");
	mode_t old = umask(022);
	int32_t t;

	fputs("kept\n", f);
	fclose(f);
	unlink(path);
	f = fopen(path, "w");
	fputs("kept\n", f);
	fclose(f);
	start_logging();
	t = open_file_target(path, LOG_INFO);
	qb_log(LOG_INFO, "added");
	ck_assert_str_eq(slurp(path), "kept\n[info] added\n");

	/* A new file gets 0666 less the umask, as fopen() would. */
	path = tmp_name("mode.log");
	t = qb_log_file_open(path);
	ck_assert_int_gt(t, 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	umask(old);
	qb_log_fini();
}
END_TEST

START_TEST(test_file_cloexec)
{
	const char *path = tmp_name("cloexec.log");
	char link[64], target[PATH_MAX];
	int fd, found = 0;

	QBT_OURS_ONLY(); /* stock opens with fopen("a+"): no close-on-exec */
	start_logging();
	open_file_target(path, LOG_INFO);
	for (fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0) {
			ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
			ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
			ck_assert_int_ne(fcntl(fd, F_GETFL) & O_APPEND, 0);
			found = 1;
		}
	}
	ck_assert_int_eq(found, 1);
	qb_log_fini();
}
END_TEST

START_TEST(test_file_slots)
{
	const char *path = tmp_name("slots.log");
	int32_t t[QB_LOG_TARGET_MAX];
	int i, n = 0;

	/* Nothing before qb_log_init(). */
	ck_assert_int_eq(qb_log_file_open(path), -EMFILE);
	start_logging();
	ck_assert_int_eq(qb_log_file_open("/nonexistent-dir/x.log"), -ENOENT);
	for (i = QB_LOG_TARGET_DYNAMIC_START; i <= QB_LOG_TARGET_DYNAMIC_END; i++) {
		t[n] = qb_log_file_open(path);
		ck_assert_int_eq(t[n], i);
		n++;
	}
	ck_assert_int_eq(qb_log_file_open(path), -EMFILE);
	/* Closing frees the slot (and only that one), which is handed out again. */
	qb_log_file_close(t[3]);
	ck_assert_int_eq(qb_log_ctl(t[3], QB_LOG_CONF_STATE_GET, 0), -EBADF);
	ck_assert_int_eq(qb_log_ctl(t[4], QB_LOG_CONF_STATE_GET, 0), QB_LOG_STATE_DISABLED);
	ck_assert_int_eq(qb_log_file_open(path), t[3]);
	qb_log_fini();
	unlink(path);
}
END_TEST

START_TEST(test_file_close_stops_output)
{
	const char *path = tmp_name("close.log");
	int32_t t;

	start_logging();
	t = open_file_target(path, LOG_INFO);
	qb_log(LOG_INFO, "before");
	qb_log_file_close(t);
	qb_log(LOG_INFO, "after");
	ck_assert_str_eq(slurp(path), "[info] before\n");
	/* The freed slot comes back without the old filters (stock keeps them: its
	 * clean-up call passes a NULL text, which its own check refuses). */
	if (qbt_is_stock()) {
		qb_log_fini();
		return;
	}
	ck_assert_int_eq(qb_log_file_open(path), t);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	qb_log(LOG_INFO, "after");
	ck_assert_str_eq(slurp(path), "[info] before\n");
	qb_log_fini();
}
END_TEST

START_TEST(test_file_reopen)
{
	const char *path = tmp_name("rotate.log");
	const char *rotated = tmp_name("rotate.log.1");
	const char *other = tmp_name("other.log");
	int32_t t;

	start_logging();
	t = open_file_target(path, LOG_INFO);
	qb_log(LOG_INFO, "one");
	/* Log rotation: rename, then reopen the same name. */
	ck_assert_int_eq(rename(path, rotated), 0);
	qb_log(LOG_INFO, "two");
	ck_assert_int_eq(qb_log_file_reopen(t, NULL), 0);
	qb_log(LOG_INFO, "three");
	ck_assert_str_eq(slurp(rotated), "[info] one\n[info] two\n");
	ck_assert_str_eq(slurp(path), "[info] three\n");
	/* A new name is used from then on, also by later NULL reopens. */
	ck_assert_int_eq(qb_log_file_reopen(t, other), 0);
	qb_log(LOG_INFO, "four");
	ck_assert_int_eq(qb_log_file_reopen(t, NULL), 0);
	qb_log(LOG_INFO, "five");
	ck_assert_str_eq(slurp(other), "[info] four\n[info] five\n");
	/* A failed reopen keeps the current file. */
	ck_assert_int_eq(qb_log_file_reopen(t, "/nonexistent-dir/x.log"), -ENOENT);
	qb_log(LOG_INFO, "six");
	ck_assert_str_eq(slurp(other), "[info] four\n[info] five\n[info] six\n");
	qb_log_fini();
	unlink(path);
	unlink(rotated);
	unlink(other);
}
END_TEST

START_TEST(test_file_reopen_rejects_other_targets)
{
	QBT_OURS_ONLY(); /* stock would fopen() "stderr"/"custom-N" */
	start_logging();
	ck_assert_int_eq(qb_log_file_reopen(QB_LOG_STDERR, NULL), -EBADF);
	ck_assert_int_eq(qb_log_file_reopen(20, NULL), -EBADF);
	ck_assert_int_eq(qb_log_file_reopen(-1, NULL), -EBADF);
	ck_assert_int_eq(qb_log_file_reopen(QB_LOG_TARGET_MAX, NULL), -EBADF);
	qb_log_fini();
}
END_TEST

#define RW_THREADS 4
#define RW_LINES 5000

static void *reopen_writer(void *arg)
{
	long id = (long)arg;
	int i;

	for (i = 0; i < RW_LINES; i++)
		qb_log(LOG_INFO, "writer %ld line %d", id, i);
	return NULL;
}

START_TEST(test_file_reopen_while_logging)
{
	const char *path = tmp_name("busy.log");
	char old[PATH_MAX];
	pthread_t th[RW_THREADS];
	int32_t t;
	long i;
	int rounds, total;

	QBT_OURS_ONLY(); /* stock drops concurrent log calls and fcloses under writers */
	start_logging();
	t = open_file_target(path, LOG_INFO);
	for (i = 0; i < RW_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reopen_writer, (void *)i), 0);
	for (rounds = 0; rounds < 50; rounds++) {
		snprintf(old, sizeof(old), "%s.%d", path, rounds);
		ck_assert_int_eq(rename(path, old), 0);
		ck_assert_int_eq(qb_log_file_reopen(t, NULL), 0);
	}
	for (i = 0; i < RW_THREADS; i++)
		pthread_join(th[i], NULL);
	total = count_lines(path);
	unlink(path);
	for (rounds = 0; rounds < 50; rounds++) {
		snprintf(old, sizeof(old), "%s.%d", path, rounds);
		total += count_lines(old);
		unlink(old);
	}
	ck_assert_int_eq(total, RW_THREADS * RW_LINES);
	qb_log_fini();
}
END_TEST

START_TEST(test_file_sync)
{
	const char *path = tmp_name("sync.log");
	int32_t t;

	start_logging();
	t = open_file_target(path, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_FILE_SYNC, QB_TRUE), 0);
	qb_log(LOG_INFO, "synced %d", 1);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_FILE_SYNC, QB_FALSE), 0);
	qb_log(LOG_INFO, "synced %d", 2);
	ck_assert_str_eq(slurp(path), "[info] synced 1\n[info] synced 2\n");
	qb_log_fini();
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_files");

	QBT_ADD_TEST(s, test_file_lines_exact);
	QBT_ADD_TEST(s, test_file_appends_and_mode);
	QBT_ADD_TEST(s, test_file_cloexec);
	QBT_ADD_TEST(s, test_file_slots);
	QBT_ADD_TEST(s, test_file_close_stops_output);
	QBT_ADD_TEST(s, test_file_reopen);
	QBT_ADD_TEST(s, test_file_reopen_rejects_other_targets);
	QBT_ADD_TEST(s, test_file_reopen_while_logging);
	QBT_ADD_TEST(s, test_file_sync);
	return log_target_main(s);
}
