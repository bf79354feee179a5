/*
 * log_target_fixture.h: what the log target suites (c-tests/check_log_files.c,
 * _custom.c, _threaded.c, _syslog.c and _filters.c) share: a scratch directory
 * for log files, file reading helpers, the usual logging set-up, a recording
 * custom logger, and a many-threads workload with a per-thread order check.
 *
 * Each program also gets the syslog spy, so no case writes to the host's
 * syslog. Helpers are static inline so a suite that uses only some of them
 * still compiles under -Werror; every case runs in its own forked child, so
 * the recorded state starts from zero in each.
 */
#ifndef LOG_TARGET_FIXTURE_H
#define LOG_TARGET_FIXTURE_H

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "log_syslog_spy.h"
#include "qbtest.h"

/* ---- scratch files ---- */

static char dir_path[256];

/* A fresh file name in a per-process temporary directory. */
static inline const char *tmp_name(const char *leaf)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%d-%s", dir_path, (int)getpid(), leaf);
	unlink(p);
	return p;
}

/* Whole content of a file (static buffer, "" when missing). */
static inline const char *slurp(const char *path)
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

static inline int count_lines(const char *path)
{
	const char *t = slurp(path);
	int n = 0;

	for (; *t; t++)
		n += (*t == '\n');
	return n;
}

/* ---- set-up ---- */

/* Logging with syslog off, as a daemon writing its own files would set it up. */
static inline void start_logging(void)
{
	qb_log_init("targets", LOG_DAEMON, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
}

static inline int32_t open_file_target(const char *path, uint8_t priority)
{
	int32_t t = qb_log_file_open(path);

	ck_assert_int_ge(t, QB_LOG_TARGET_DYNAMIC_START);
	ck_assert_int_le(t, QB_LOG_TARGET_DYNAMIC_END);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", priority), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	return t;
}

/* ---- a custom logger that records what it was handed ---- */

static int cust_calls;
static int32_t cust_last_t = -1;
static char cust_last_msg[QB_LOG_ABSOLUTE_MAX_LEN];
static char cust_last_line[QB_LOG_ABSOLUTE_MAX_LEN];
static uint32_t cust_last_lineno;
static int cust_had_ts;

static inline void cust_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
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

/* ---- many threads, one custom target ---- */

/* Every message must arrive, in order per thread. */
#define MT_THREADS 8
#define MT_LINES 4000

static pthread_mutex_t mt_lock = PTHREAD_MUTEX_INITIALIZER;
static int mt_next[MT_THREADS];
static int mt_out_of_order;
static int mt_total;

static inline void mt_logger(int32_t t, struct qb_log_callsite *cs, struct timespec *ts,
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

static inline void *mt_thread(void *arg)
{
	long id = (long)arg;
	int i;

	for (i = 0; i < MT_LINES; i++)
		qb_log(LOG_INFO, "thread %ld seq %d", id, i);
	return NULL;
}

static inline void run_many_threads(void)
{
	pthread_t th[MT_THREADS];
	long i;

	for (i = 0; i < MT_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, mt_thread, (void *)i), 0);
	for (i = 0; i < MT_THREADS; i++)
		pthread_join(th[i], NULL);
}

static inline int32_t open_mt_target(void)
{
	int32_t t = qb_log_custom_open(mt_logger, NULL, NULL, NULL);

	ck_assert_int_ge(t, 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "*", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	return t;
}

/* ---- main ---- */

/* Runs the suite with every case (a forked child) writing into one scratch
 * directory, which is emptied and removed afterwards. */
static inline int log_target_main(Suite *s)
{
	char path[PATH_MAX + 300];
	struct dirent *d;
	DIR *dir;
	int rc;

	snprintf(dir_path, sizeof(dir_path), "/tmp/qbt-targets-%d", (int)getpid());
	if (mkdir(dir_path, 0700) != 0)
		return 2;
	rc = qbt_main(s);
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

#endif /* LOG_TARGET_FIXTURE_H */
