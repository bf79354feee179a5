/*
 * Log targets (qblog.h): file targets (open/close/reopen, exact line bytes),
 * custom targets and their user data, threaded logging, the journal option and
 * its fallback, regex filters, registered call-site arrays and their dump, the
 * internal-message hook, and the qb_log_ctl() directives these targets take.
 *
 * syslog is observed by interposing the C library's openlog/syslog/closelog
 * (stock libqb calls the fortified __syslog_chk, so that one is caught too).
 */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>
#include <qb/qbutil.h>

#include "qbtest.h"

/* ---- syslog interposition ---- */

static char sl_ident[64];
static int sl_facility = -1;
static int sl_opens;
static int sl_lines;
static int sl_last_priority = -1;
static char sl_last_line[1024];

void openlog(const char *ident, int option, int facility)
{
	(void)option;
	snprintf(sl_ident, sizeof(sl_ident), "%s", ident ? ident : "");
	sl_facility = facility;
	sl_opens++;
}

void closelog(void)
{
}

static void sl_record(int priority, const char *fmt, va_list ap)
{
	sl_last_priority = priority;
	vsnprintf(sl_last_line, sizeof(sl_last_line), fmt, ap);
	sl_lines++;
}

void syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_record(priority, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...);
void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	sl_record(priority, fmt, ap);
	va_end(ap);
}

/* ---- helpers ---- */

static char dir_path[256];

/* A fresh file name in a per-process temporary directory. */
static const char *tmp_name(const char *leaf)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%d-%s", dir_path, (int)getpid(), leaf);
	unlink(p);
	return p;
}

/* Whole content of a file (static buffer, "" when missing). */
static const char *slurp(const char *path)
{
	static char text[1 << 20];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	text[0] = '\0';
	if (f == NULL)
		return text;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static int count_lines(const char *path)
{
	const char *t = slurp(path);
	int n = 0;

	for (; *t; t++)
		n += (*t == '\n');
	return n;
}

/* Logging with syslog off, as a daemon writing its own files would set it up. */
static void start_logging(void)
{
	qb_log_init("targets", LOG_DAEMON, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
}

static int32_t open_file_target(const char *path, uint8_t priority)
{
	int32_t t = qb_log_file_open(path);

	ck_assert_int_ge(t, QB_LOG_TARGET_DYNAMIC_START);
	ck_assert_int_le(t, QB_LOG_TARGET_DYNAMIC_END);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", priority), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	return t;
}

/* ---- file targets ---- */

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

/* ---- custom targets ---- */

static int cust_calls;
static int cust_closes;
static int32_t cust_last_t = -1;
static char cust_last_msg[QB_LOG_ABSOLUTE_MAX_LEN];
static char cust_last_line[QB_LOG_ABSOLUTE_MAX_LEN];
static uint32_t cust_last_lineno;
static int cust_had_ts;

static void cust_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
			const char *msg)
{
	cust_calls++;
	cust_last_t = t;
	cust_last_lineno = cs->lineno;
	cust_had_ts = ts != NULL && ts->tv_sec > 0;
	snprintf(cust_last_msg, sizeof(cust_last_msg), "%s", msg);
	qb_log_target_format(t, cs, ts, msg, cust_last_line);
	/* A nested log call is dropped, and never deadlocks. */
	qb_log(LOG_ERR, "nested from the logger");
}

static void cust_close(int32_t t)
{
	(void)t;
	cust_closes++;
}

START_TEST(test_custom_target)
{
	static int data = 1, other = 2;
	int32_t t;
	int line;

	start_logging();
	t = qb_log_custom_open(cust_logger, cust_close, NULL, &data);
	ck_assert_int_eq(t, QB_LOG_TARGET_DYNAMIC_START);
	ck_assert_ptr_eq(qb_log_target_user_data_get(t), &data);
	ck_assert_int_eq(qb_log_target_user_data_set(t, &other), 0);
	ck_assert_ptr_eq(qb_log_target_user_data_get(t), &other);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_DEBUG), 0);
	qb_log_format_set(t, "%p:%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);

	qb_log(LOG_DEBUG, "custom %s", "one"); line = __LINE__;
	ck_assert_int_eq(cust_calls, 1);
	ck_assert_int_eq(cust_last_t, t);
	ck_assert_int_eq(cust_last_lineno, line);
	ck_assert_int_eq(cust_had_ts, 1);
	ck_assert_str_eq(cust_last_msg, "custom one");
	ck_assert_str_eq(cust_last_line, "debug:custom one");
	qb_log(LOG_TRACE, "filtered");
	ck_assert_int_eq(cust_calls, 1);
	qb_log(LOG_INFO, "a" QB_XS "b");
	ck_assert_str_eq(cust_last_msg, "a|b");
	ck_assert_int_eq(cust_calls, 2);

	/* Disabling closes it; re-enabling brings it back. */
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
	ck_assert_int_eq(cust_closes, 1);
	qb_log(LOG_INFO, "while disabled");
	ck_assert_int_eq(cust_calls, 2);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	qb_log(LOG_INFO, "again");
	ck_assert_int_eq(cust_calls, 3);

	/* Closing calls the close function once and frees the slot. */
	qb_log_custom_close(t);
	ck_assert_int_eq(cust_closes, 2);
	qb_log(LOG_INFO, "after close");
	ck_assert_int_eq(cust_calls, 3);
	errno = 0;
	ck_assert_ptr_null(qb_log_target_user_data_get(t));
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(qb_log_target_user_data_set(t, &data), -EBADF);
	ck_assert_int_eq(qb_log_target_user_data_set(-1, &data), -EBADF);
	ck_assert_int_eq(qb_log_target_user_data_set(QB_LOG_TARGET_MAX, &data), -EBADF);

	/* qb_log_fini() closes an enabled custom target. */
	t = qb_log_custom_open(cust_logger, cust_close, NULL, NULL);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	qb_log_fini();
	ck_assert_int_eq(cust_closes, 3);
	ck_assert_int_eq(qb_log_target_user_data_set(t, &data), -EINVAL);
}
END_TEST

static int32_t reconf_t;
static int reconf_rc = 1;
static int reconf_calls;

static void reconf_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
			  const char *msg)
{
	(void)cs;
	(void)ts;
	(void)msg;
	reconf_calls++;
	/* Reconfiguring from inside a logger must not deadlock. */
	reconf_rc = qb_log_ctl(t, QB_LOG_CONF_MAX_LINE_LEN, 100 + reconf_calls);
	qb_log_format_set(reconf_t, "%b");
}

START_TEST(test_custom_logger_reconfigures)
{
	start_logging();
	reconf_t = qb_log_custom_open(reconf_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(reconf_t, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(reconf_t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	qb_log(LOG_INFO, "first");
	qb_log(LOG_INFO, "second");
	ck_assert_int_eq(reconf_calls, 2);
	ck_assert_int_eq(reconf_rc, 0);
	qb_log_fini();
}
END_TEST

/* Many threads, one custom target: every message arrives, in order per thread. */
#define MT_THREADS 8
#define MT_LINES 4000

static pthread_mutex_t mt_lock = PTHREAD_MUTEX_INITIALIZER;
static int mt_next[MT_THREADS];
static int mt_out_of_order;
static int mt_total;

static void mt_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
		      const char *msg)
{
	int id, seq;

	(void)t;
	(void)cs;
	(void)ts;
	if (sscanf(msg, "thread %d seq %d", &id, &seq) != 2 || id < 0 || id >= MT_THREADS)
		return;
	pthread_mutex_lock(&mt_lock);
	if (seq != mt_next[id])
		mt_out_of_order++;
	mt_next[id] = seq + 1;
	mt_total++;
	pthread_mutex_unlock(&mt_lock);
}

static void *mt_thread(void *arg)
{
	long id = (long)arg;
	int i;

	for (i = 0; i < MT_LINES; i++)
		qb_log(LOG_INFO, "thread %ld seq %d", id, i);
	return NULL;
}

static void run_many_threads(void)
{
	pthread_t th[MT_THREADS];
	long i;

	for (i = 0; i < MT_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, mt_thread, (void *)i), 0);
	for (i = 0; i < MT_THREADS; i++)
		pthread_join(th[i], NULL);
}

static int32_t open_mt_target(void)
{
	int32_t t = qb_log_custom_open(mt_logger, NULL, NULL, NULL);

	ck_assert_int_ge(t, 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	return t;
}

START_TEST(test_custom_many_threads)
{
	QBT_OURS_ONLY(); /* stock drops a log call made while another thread logs */
	start_logging();
	open_mt_target();
	run_many_threads();
	ck_assert_int_eq(mt_total, MT_THREADS * MT_LINES);
	ck_assert_int_eq(mt_out_of_order, 0);
	qb_log_fini();
}
END_TEST

/* ---- threaded logging ---- */

START_TEST(test_threaded_in_order)
{
	const char *path = tmp_name("threaded.log");
	char want[64];
	const char *text;
	int32_t t;
	int i;

	start_logging();
	t = open_file_target(path, LOG_INFO);
	qb_log_format_set(t, "%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_thread_start(), 0);
	ck_assert_int_eq(qb_log_thread_start(), 0);
	for (i = 0; i < 2000; i++)
		qb_log(LOG_INFO, "line %d", i);
	/* qb_log_fini() writes everything still queued before it returns. */
	qb_log_fini();
	text = slurp(path);
	for (i = 0; i < 2000; i++) {
		snprintf(want, sizeof(want), "line %d\n", i);
		ck_assert_int_eq(strncmp(text, want, strlen(want)), 0);
		text += strlen(want);
	}
	ck_assert_str_eq(text, "");
	unlink(path);
}
END_TEST

START_TEST(test_threaded_without_thread_waits_for_fini)
{
	int32_t t;
	int i;

	QBT_OURS_ONLY(); /* stock crashes: its queue lock only exists once the thread runs */
	start_logging();
	cust_calls = 0;
	t = qb_log_custom_open(cust_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	qb_log_format_set(t, "%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	for (i = 0; i < 10; i++)
		qb_log(LOG_INFO, "queued %d", i);
	ck_assert_int_eq(cust_calls, 0);
	qb_log_fini();
	ck_assert_int_eq(cust_calls, 10);
	ck_assert_str_eq(cust_last_msg, "queued 9");
	ck_assert_str_eq(cust_last_line, "queued 9");
}
END_TEST

START_TEST(test_threaded_many_threads)
{
	int32_t t;

	QBT_OURS_ONLY(); /* stock drops concurrent calls and anything past its queue */
	start_logging();
	t = open_mt_target();
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_thread_start(), 0);
	run_many_threads();
	qb_log_fini();
	ck_assert_int_eq(mt_total, MT_THREADS * MT_LINES);
	ck_assert_int_eq(mt_out_of_order, 0);
}
END_TEST

START_TEST(test_threaded_full_queue_without_thread)
{
	const char *path = tmp_name("flood.log");
	static char big[200];
	int32_t t;

	/* 800 kB through a 512 kB queue that nobody drains: nothing may be lost. */
	QBT_OURS_ONLY(); /* stock drops what does not fit */
	memset(big, 'x', sizeof(big) - 1);
	start_logging();
	t = open_file_target(path, LOG_INFO);
	qb_log_format_set(t, "%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	for (mt_total = 0; mt_total < 4000; mt_total++)
		qb_log(LOG_INFO, "%s", big);
	qb_log_fini();
	ck_assert_int_eq(count_lines(path), 4000);
	unlink(path);
}
END_TEST

/* A threaded target whose logger logs again (to the same threaded target). */
static int nested_calls;

static void nested_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
			  const char *msg)
{
	(void)t;
	(void)cs;
	(void)ts;
	(void)msg;
	nested_calls++;
	qb_log(LOG_ERR, "from the logging thread %d", nested_calls);
}

START_TEST(test_threaded_nested_log)
{
	int32_t t;
	int i;

	QBT_OURS_ONLY(); /* stock's logging thread deadlocks on its own queue lock */
	start_logging();
	t = qb_log_custom_open(nested_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_thread_start(), 0);
	for (i = 0; i < 20000; i++)
		qb_log(LOG_INFO, "producer %d", i);
	qb_log_fini();
	/* The nested calls are dropped; every producer line is written once. */
	ck_assert_int_eq(nested_calls, 20000);
}
END_TEST

/* A stalled logging thread: the queue fills and the producer waits for room
 * (no time limit, nothing dropped); once the thread resumes, every line is
 * written and no loss is reported. */
static pthread_mutex_t stall_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stall_cond = PTHREAD_COND_INITIALIZER;
static int stall_entered;
static int stall_released;
static int stall_calls;
static int stall_posted;
static char stall_big[4000];

static void stall_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
			 const char *msg)
{
	(void)t;
	(void)cs;
	(void)ts;
	(void)msg;
	pthread_mutex_lock(&stall_lock);
	stall_entered = 1;
	pthread_cond_broadcast(&stall_cond);
	while (!stall_released)
		pthread_cond_wait(&stall_cond, &stall_lock);
	stall_calls++;
	pthread_mutex_unlock(&stall_lock);
}

#define STALL_LINES 300

static void *stall_producer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < STALL_LINES; i++) {
		qb_log(LOG_INFO, "%s", stall_big);
		pthread_mutex_lock(&stall_lock);
		stall_posted++;
		pthread_cond_broadcast(&stall_cond);
		pthread_mutex_unlock(&stall_lock);
	}
	return NULL;
}

START_TEST(test_threaded_full_queue_waits)
{
	char report[256];
	FILE *capture;
	pthread_t producer;
	int saved, posted;
	int32_t t;

	QBT_OURS_ONLY(); /* stock drops what does not fit (its producers also block on
			  * the lock its stalled thread holds) */
	memset(stall_big, 'y', sizeof(stall_big) - 1);
	capture = tmpfile();
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(capture), STDOUT_FILENO);

	start_logging();
	t = qb_log_custom_open(stall_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_MAX_LINE_LEN, QB_LOG_ABSOLUTE_MAX_LEN), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_thread_start(), 0);
	ck_assert_int_eq(pthread_create(&producer, NULL, stall_producer, NULL), 0);
	/* ~4 kB each: the 512 kB queue takes 126 of them. Once the thread is stuck
	 * on its first batch (at least one line), at least 127 calls return, and at
	 * most 2 * 126 can: the producer must then be waiting, not dropping. */
	pthread_mutex_lock(&stall_lock);
	while (!stall_entered || stall_posted < 127)
		pthread_cond_wait(&stall_cond, &stall_lock);
	posted = stall_posted;
	stall_released = 1;
	pthread_cond_broadcast(&stall_cond);
	pthread_mutex_unlock(&stall_lock);
	ck_assert_int_lt(posted, STALL_LINES);
	pthread_join(producer, NULL);
	qb_log(LOG_INFO, "after the stall");
	qb_log_fini();

	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(capture);
	memset(report, 0, sizeof(report));
	/* Nothing was lost, so nothing is reported. */
	ck_assert_ptr_null(fgets(report, sizeof(report), capture));
	fclose(capture);
	ck_assert_int_eq(stall_calls, STALL_LINES + 1);
}
END_TEST

/* Threads racing on call sites nobody has used yet: the first lines of a new
 * call site must not be lost while another thread is still setting it up. */
#define FRESH_THREADS 4
#define FRESH_ROUNDS 2000

static pthread_barrier_t fresh_barrier;
static int fresh_lines;

static void fresh_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
			 const char *msg)
{
	(void)t;
	(void)cs;
	(void)ts;
	(void)msg;
	__atomic_add_fetch(&fresh_lines, 1, __ATOMIC_RELAXED);
}

static void *fresh_thread(void *arg)
{
	int round;

	(void)arg;
	for (round = 0; round < FRESH_ROUNDS; round++) {
		pthread_barrier_wait(&fresh_barrier);
		/* A new line number is a new call site. */
		qb_log_from_external_source(__func__, __FILE__, "round %d", LOG_INFO,
					    100000 + round, 0, round);
	}
	return NULL;
}

START_TEST(test_new_callsite_many_threads)
{
	pthread_t th[FRESH_THREADS];
	int32_t t;
	long i;

	QBT_OURS_ONLY(); /* stock drops a log call made while another thread logs */
	start_logging();
	t = qb_log_custom_open(fresh_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(pthread_barrier_init(&fresh_barrier, NULL, FRESH_THREADS), 0);
	for (i = 0; i < FRESH_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, fresh_thread, (void *)i), 0);
	for (i = 0; i < FRESH_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&fresh_barrier);
	qb_log_fini();
	ck_assert_int_eq(fresh_lines, FRESH_THREADS * FRESH_ROUNDS);
}
END_TEST

START_TEST(test_thread_sched_params)
{
	int32_t t;

	start_logging();
	t = qb_log_custom_open(cust_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_THREADED, QB_TRUE), 0);
	/* Queued until the thread starts, which then fails. */
	ck_assert_int_eq(qb_log_thread_priority_set(SCHED_RR, -1), 0);
	ck_assert_int_ne(qb_log_thread_start(), 0);
	qb_log_fini();
}
END_TEST

START_TEST(test_thread_sched_params_running)
{
	start_logging();
	ck_assert_int_eq(qb_log_thread_start(), 0);
	ck_assert_int_eq(qb_log_thread_priority_set(SCHED_RR, -1), -EINVAL);
	/* Policies without priorities ignore the one given. */
	ck_assert_int_eq(qb_log_thread_priority_set(SCHED_OTHER, 50), 0);
	ck_assert_int_eq(qb_log_thread_priority_set(SCHED_BATCH, 50), 0);
	qb_log_fini();
}
END_TEST

/* ---- syslog, journal, qb_log_ctl directives ---- */

START_TEST(test_journal_option)
{
	int journal = access("/run/systemd/journal/socket", F_OK) == 0;
	int rc;

	qb_log_init("jtest", LOG_DAEMON, LOG_INFO);
	/* Only the syslog target takes it. */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_USE_JOURNAL, 1), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_USE_JOURNAL, 1), -EINVAL);
	rc = qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_USE_JOURNAL, 1);
	if (qbt_is_stock() || journal) {
		/* Stock (built with libsystemd) accepts it whether a journal runs or not. */
		ck_assert_int_eq(rc, 0);
	} else {
		/* No journal here: refused, and syslog stays in use. */
		ck_assert_int_eq(rc, -EOPNOTSUPP);
		sl_lines = 0;
		qb_log(LOG_ERR, "still to syslog");
		ck_assert_int_eq(sl_lines, 1);
		ck_assert_str_eq(sl_last_line, "[error] still to syslog");
		ck_assert_int_eq(sl_last_priority, LOG_ERR);
	}
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_USE_JOURNAL, 0), 0);
	sl_lines = 0;
	qb_log(LOG_ERR, "back to syslog");
	ck_assert_int_eq(sl_lines, 1);
	qb_log_fini();
}
END_TEST

START_TEST(test_syslog_ident_facility_bump)
{
	qb_log_init("first", LOG_DAEMON, LOG_DEBUG);
	ck_assert_str_eq(sl_ident, "first");
	ck_assert_int_eq(sl_facility, LOG_DAEMON);
	ck_assert_int_eq(qb_log_ctl2(QB_LOG_SYSLOG, QB_LOG_CONF_IDENT,
				     QB_LOG_CTL2_S("second")), 0);
	ck_assert_str_eq(sl_ident, "second");
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_FACILITY, LOG_LOCAL3), 0);
	ck_assert_int_eq(sl_facility, LOG_LOCAL3);
	ck_assert_str_eq(sl_ident, "second");

	/* Debug messages are bumped; more important ones are not. */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_PRIORITY_BUMP,
				    LOG_INFO - LOG_DEBUG), 0);
	qb_log(LOG_DEBUG, "bumped");
	ck_assert_int_eq(sl_last_priority, LOG_INFO);
	ck_assert_str_eq(sl_last_line, "[debug] bumped");
	qb_log(LOG_WARNING, "not bumped");
	ck_assert_int_eq(sl_last_priority, LOG_WARNING);
	qb_log_fini();
}
END_TEST

START_TEST(test_ctl_directives_on_file_target)
{
	const char *path = tmp_name("ctl.log");
	int32_t t;

	start_logging();
	t = qb_log_file_open(path);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_STATE_GET, 0), QB_LOG_STATE_DISABLED);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_SIZE, 4096), -ENOSYS);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_DEBUG, 1), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_MAX_LINE_LEN, QB_LOG_ABSOLUTE_MAX_LEN + 1),
			 -EINVAL);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_PRIORITY_BUMP, 1), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_FACILITY, LOG_LOCAL0), 0);
	ck_assert_int_eq(qb_log_ctl2(t, QB_LOG_CONF_IDENT, QB_LOG_CTL2_S("fileident")), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_STATE_GET, 0), QB_LOG_STATE_ENABLED);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
					   LOG_DEBUG), 0);
	/* The ident shows through %N; the bump only concerns syslog. */
	qb_log_format_set(t, "%N %p %b");
	qb_log(LOG_DEBUG, "debug stays debug");
	ck_assert_str_eq(slurp(path), "fileident debug debug stays debug\n");
	qb_log_fini();
	unlink(path);
}
END_TEST

/* ---- regex filters ---- */

static void regex_file_fn(void)
{
	qb_log(LOG_INFO, "in regex_file_fn");
}

START_TEST(test_regex_filters)
{
	const char *path = tmp_name("regex.log");
	int32_t t;

	start_logging();
	t = qb_log_file_open(path);
	qb_log_format_set(t, "%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);

	/* Bad expressions are refused. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "a\\{1", LOG_INFO), -EINVAL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX,
					   "[", LOG_INFO), -EINVAL);

	/* POSIX basic syntax: '+' is literal, \{m,n\} is an interval. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^x\\{2,3\\}y", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), -EEXIST);
	qb_log(LOG_INFO, "ab+c literal plus");
	qb_log(LOG_INFO, "abbc not matched");
	qb_log(LOG_INFO, "xxy interval");
	qb_log(LOG_INFO, "xy not matched");
	qb_log(LOG_DEBUG, "ab+c too verbose");

	/* Function and file expressions. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FUNCTION_REGEX,
					   "^regex_.*_fn$", LOG_INFO), 0);
	regex_file_fn();
	qb_log_from_external_source("f", "lib/ipc_shm.c", "%s", LOG_INFO, 10, 0,
				    "not yet");
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX,
					   "ipc_[a-z]*\\.c$", LOG_INFO), 0);
	qb_log_from_external_source("f", "lib/ipc_shm.c", "%s", LOG_INFO, 10, 0,
				    "file matched");
	qb_log_from_external_source("f", "lib/ipc_shm.h", "%s", LOG_INFO, 11, 0,
				    "header not matched");

	/* Removing a regex rule forgets it for new call sites only (as libqb). */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_REMOVE, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), 0);
	qb_log(LOG_INFO, "ab+c new site after removal");
	qb_log_from_external_source("f", "g.c", "ab+c literal plus", LOG_INFO, 99, 0);

	ck_assert_str_eq(slurp(path),
			 "ab+c literal plus\n"
			 "xxy interval\n"
			 "in regex_file_fn\n"
			 "file matched\n");

	/* A tag rule with an expression sets tags. */
	ck_assert_int_eq(qb_log_filter_ctl(7, QB_LOG_TAG_SET, QB_LOG_FILTER_FORMAT_REGEX,
					   "^tagged", LOG_TRACE), 0);
	ck_assert_uint_eq(qb_log_callsite_get("f", "t.c", "tagged message", LOG_INFO, 5,
					      0)->tags, 7);
	ck_assert_uint_eq(qb_log_callsite_get("f", "t.c", "untagged", LOG_INFO, 6,
					      0)->tags, 0);
	qb_log_fini();
	unlink(path);
}
END_TEST

/* ---- registered call-site arrays ---- */

static struct qb_log_callsite app_sites[3];
static int app_filter_runs;

static void app_filter(struct qb_log_callsite *cs)
{
	if (cs >= app_sites && cs < app_sites + 3)
		app_filter_runs++;
}

START_TEST(test_callsites_register)
{
	int32_t t;

	memset(app_sites, 0, sizeof(app_sites));
	app_sites[0] = (struct qb_log_callsite){ "app_fn", "app.c", "app says %d",
						 LOG_INFO, 101, 0, 0, NULL };
	app_sites[1] = (struct qb_log_callsite){ "app_fn", "app.c", "app debug",
						 LOG_DEBUG, 102, 0, 0, NULL };
	/* app_sites[2] has line 0: unused. */
	app_sites[2].priority = LOG_ERR;

	start_logging();
	cust_calls = 0;
	t = qb_log_custom_open(cust_logger, NULL, NULL, NULL);
	qb_log_format_set(t, "%f:%l %b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "app.c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_fn_set(app_filter), 0);

	ck_assert_int_eq(qb_log_callsites_register(NULL, app_sites + 3), -EINVAL);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, NULL), -EINVAL);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 3), 0);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 2), -EEXIST);
	ck_assert_int_eq(qb_log_callsites_register(app_sites + 1, app_sites + 3), -EEXIST);
	/* Existing filters and the custom filter were applied on registration. */
	ck_assert_uint_eq(app_sites[0].targets, 1u << t);
	ck_assert_uint_eq(app_sites[1].targets, 0);
	ck_assert_uint_eq(app_sites[2].targets, 0);
	ck_assert_int_eq(app_filter_runs, 2);

	/* Later filter changes reach them too. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT,
					   "debug", LOG_DEBUG), 0);
	ck_assert_uint_eq(app_sites[1].targets, 1u << t);
	ck_assert_int_eq(qb_log_filter_ctl(5, QB_LOG_TAG_SET, QB_LOG_FILTER_FUNCTION,
					   "app_fn", LOG_DEBUG), 0);
	ck_assert_uint_eq(app_sites[0].tags, 5);

	/* Logging through them works like any call site. */
	qb_log_real_(&app_sites[0], 42);
	ck_assert_int_eq(cust_calls, 1);
	ck_assert_str_eq(cust_last_line, "app.c:101 app says 42");
	qb_log_fini();
}
END_TEST

START_TEST(test_callsites_dump_format)
{
	static char out[1 << 16];
	char row[128], start[64];
	FILE *capture;
	size_t n;
	int saved;

	memset(app_sites, 0, sizeof(app_sites));
	app_sites[0] = (struct qb_log_callsite){ "app_fn", "app.c", "app says %d",
						 LOG_INFO, 101, 3, 9, NULL };
	start_logging();
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 3), 0);
	app_sites[0].targets = 3;

	capture = tmpfile();
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(capture), STDOUT_FILENO);
	qb_log_callsites_dump();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(capture);
	n = fread(out, 1, sizeof(out) - 1, capture);
	out[n] = '\0';
	fclose(capture);

	ck_assert_int_eq(strncmp(out, "Callsite Database [", 19), 0);
	ck_assert_ptr_nonnull(strstr(out, "]\n---------------------\n"));
	snprintf(start, sizeof(start), " start %p - stop %p\n", (void *)app_sites,
		 (void *)(app_sites + 3));
	ck_assert_ptr_nonnull(strstr(out, start));
	ck_assert_ptr_nonnull(strstr(out, "filename    lineno targets         tags\n"));
	snprintf(row, sizeof(row), "%12s %6u %16u %16u\n", "app.c", 101u, 3u, 9u);
	ck_assert_ptr_nonnull(strstr(out, row));
	qb_log_fini();
}
END_TEST

/* ---- qb_util_set_log_function (deprecated, still exported) ---- */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static char hook_file[256];
static char hook_msg[256];
static int hook_line;
static int hook_severity;
static int hook_calls;

static void internal_hook(const char *file, int32_t line, int32_t severity, const char *msg)
{
	snprintf(hook_file, sizeof(hook_file), "%s", file);
	snprintf(hook_msg, sizeof(hook_msg), "%s", msg);
	hook_line = line;
	hook_severity = severity;
	hook_calls++;
}

START_TEST(test_internal_message_hook)
{
	int32_t t;
	int line;

	start_logging();
	t = qb_log_custom_open(cust_logger, NULL, NULL, NULL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_DEBUG), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	qb_util_set_log_function(internal_hook);

	/* Only messages tagged as libqb's own reach the hook. */
	qb_log(LOG_ERR, "application message");
	ck_assert_int_eq(hook_calls, 0);
	qb_logt(LOG_WARNING, QB_LOG_TAG_LIBQB_MSG, "internal %d" QB_XS "more", 5);
	line = __LINE__;
	ck_assert_int_eq(hook_calls, 1);
	ck_assert_str_eq(hook_file, __FILE__);
	ck_assert_int_eq(hook_line, line - 1);
	ck_assert_int_eq(hook_severity, LOG_WARNING);
	ck_assert_str_eq(hook_msg, "internal 5|more");

	qb_util_set_log_function(NULL);
	qb_logt(LOG_WARNING, QB_LOG_TAG_LIBQB_MSG, "internal %d", 6);
	ck_assert_int_eq(hook_calls, 1);
	qb_log_fini();
}
END_TEST

static Suite *targets_suite(void)
{
	Suite *s = suite_create("log_targets");

	QBT_ADD_TEST(s, test_file_lines_exact);
	QBT_ADD_TEST(s, test_file_appends_and_mode);
	QBT_ADD_TEST(s, test_file_cloexec);
	QBT_ADD_TEST(s, test_file_slots);
	QBT_ADD_TEST(s, test_file_close_stops_output);
	QBT_ADD_TEST(s, test_file_reopen);
	QBT_ADD_TEST(s, test_file_reopen_rejects_other_targets);
	QBT_ADD_TEST(s, test_file_reopen_while_logging);
	QBT_ADD_TEST(s, test_file_sync);
	QBT_ADD_TEST(s, test_custom_target);
	QBT_ADD_TEST(s, test_custom_logger_reconfigures);
	QBT_ADD_TEST(s, test_custom_many_threads);
	QBT_ADD_TEST(s, test_threaded_in_order);
	QBT_ADD_TEST(s, test_threaded_without_thread_waits_for_fini);
	QBT_ADD_TEST(s, test_threaded_many_threads);
	QBT_ADD_TEST(s, test_threaded_full_queue_without_thread);
	QBT_ADD_TEST(s, test_threaded_nested_log);
	QBT_ADD_TEST(s, test_threaded_full_queue_waits);
	QBT_ADD_TEST(s, test_new_callsite_many_threads);
	QBT_ADD_TEST(s, test_thread_sched_params);
	QBT_ADD_TEST(s, test_thread_sched_params_running);
	QBT_ADD_TEST(s, test_journal_option);
	QBT_ADD_TEST(s, test_syslog_ident_facility_bump);
	QBT_ADD_TEST(s, test_ctl_directives_on_file_target);
	QBT_ADD_TEST(s, test_regex_filters);
	QBT_ADD_TEST(s, test_callsites_register);
	QBT_ADD_TEST(s, test_callsites_dump_format);
	QBT_ADD_TEST(s, test_internal_message_hook);
	return s;
}

int main(void)
{
	char path[PATH_MAX + 300];
	struct dirent *d;
	DIR *dir;
	int rc;

	/* Every case (a forked child) works in one directory, removed at the end. */
	snprintf(dir_path, sizeof(dir_path), "/tmp/qbt-targets-%d", (int)getpid());
	if (mkdir(dir_path, 0700) != 0)
		return 2;
	rc = qbt_main(targets_suite());
	dir = opendir(dir_path);
	while (dir && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_path, d->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(dir_path);
	return rc;
}
