/*
 * Threaded logging (qblog.h, QB_LOG_CONF_THREADED): order kept through the
 * queue, qb_log_fini() flushing what is queued (with and without the logging
 * thread running), many producers, a full queue making producers wait instead
 * of dropping lines, nested logging from the logging thread, new call sites
 * raced by several threads, and the logging thread's scheduling parameters.
 */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "log_target_fixture.h"

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

int main(void)
{
	Suite *s = suite_create("log_threaded");

	QBT_ADD_TEST(s, test_threaded_in_order);
	QBT_ADD_TEST(s, test_threaded_without_thread_waits_for_fini);
	QBT_ADD_TEST(s, test_threaded_many_threads);
	QBT_ADD_TEST(s, test_threaded_full_queue_without_thread);
	QBT_ADD_TEST(s, test_threaded_nested_log);
	QBT_ADD_TEST(s, test_threaded_full_queue_waits);
	QBT_ADD_TEST(s, test_new_callsite_many_threads);
	QBT_ADD_TEST(s, test_thread_sched_params);
	QBT_ADD_TEST(s, test_thread_sched_params_running);
	return log_target_main(s);
}
