/*
 * libqb-rs C tests: qbloop.h (main loop), running and stopping a loop, jobs,
 * timers, and calls from other threads. Descriptors and signals are in
 * check_loop_poll.c.
 *
 * Orders are recorded as strings (loop_trace.h) and compared exactly. Timer
 * tests check order and "ran at or after its expiry", never durations.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbloop.h>
#include <qb/qbutil.h>

#include "loop_trace.h"
#include "qbtest.h"

/* ---- create / default loop / run / stop ---- */

START_TEST(test_default_loop)
{
	qb_loop_t *a, *b;

	ck_assert_int_eq(qb_loop_job_add(NULL, QB_LOOP_LOW, "x", job_note), -EINVAL);
	a = qb_loop_create();
	b = qb_loop_create();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	trace[0] = '\0';
	/* NULL means the first loop created */
	ck_assert_int_eq(qb_loop_job_add(NULL, QB_LOOP_LOW, "in-a", job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(b, QB_LOOP_LOW, "in-b", job_note), 0);
	cur = a;
	ck_assert_int_eq(qb_loop_job_add(a, QB_LOOP_LOW, "stop-a", job_stop), 0);
	qb_loop_run(NULL);
	ck_assert_str_eq(trace, "in-a stop-a");
	cur = b;
	ck_assert_int_eq(qb_loop_job_add(b, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(b);
	ck_assert_str_eq(trace, "in-a stop-a in-b");
	qb_loop_destroy(a);
	/* the second loop does not become the default */
	ck_assert_int_eq(qb_loop_job_add(NULL, QB_LOOP_LOW, "x", job_note), -EINVAL);
	qb_loop_destroy(b);
}
END_TEST

START_TEST(test_stop_returns_after_the_callback)
{
	qb_loop_t *l = traced_loop();

	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_HIGH, "a", job_stop), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_HIGH, "b", job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_HIGH, "c", job_stop), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "a");
	/* A new run resumes where the last one stopped. (The extra job keeps
	 * stock libqb from sleeping forever on its first pass: it forgets the
	 * work left over from the previous run.) */
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "z", job_note), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "a b c");
	qb_loop_destroy(l);
}
END_TEST

/* ---- jobs ---- */

START_TEST(test_job_input)
{
	qb_loop_t *l = qb_loop_create();

	ck_assert_int_eq(qb_loop_job_add(l, 3, "x", job_note), -EINVAL);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "x", NULL), -EINVAL);
	ck_assert_int_eq(qb_loop_job_del(l, 3, "x", job_note), -EINVAL);
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_LOW, "x", NULL), -EINVAL);
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_LOW, "x", job_note), -ENOENT);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "x", job_note), 0);
	/* wrong level or data: not found */
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_MED, "x", job_note), -ENOENT);
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_LOW, "y", job_note), -ENOENT);
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_LOW, "x", job_note), 0);
	ck_assert_int_eq(qb_loop_job_del(l, QB_LOOP_LOW, "x", job_note), -ENOENT);
	qb_loop_destroy(l);
}
END_TEST

static const char *names[3][8] = {
	{"L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7"},
	{"M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7"},
	{"H0", "H1", "H2", "H3", "H4", "H5", "H6", "H7"},
};

START_TEST(test_job_levels_and_four_per_pass)
{
	qb_loop_t *l = traced_loop();
	int p, i;

	for (p = QB_LOOP_LOW; p <= QB_LOOP_HIGH; p++)
		for (i = 0; i < 6; i++)
			ck_assert_int_eq(qb_loop_job_add(l, p, (void *)names[p][i], job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	/* pass 1 runs HIGH only, pass 2 HIGH+MED, pass 3 all; 4 per level per pass */
	ck_assert_str_eq(trace,
		"H0 H1 H2 H3 "
		"H4 H5 M0 M1 M2 M3 "
		"M4 M5 L0 L1 L2 L3 "
		"L4 L5 stop");
	qb_loop_destroy(l);
}
END_TEST

static void job_adds_high(void *data)
{
	note((const char *)data);
	ck_assert_int_eq(qb_loop_job_add(cur, QB_LOOP_HIGH, "B", job_note), 0);
}

START_TEST(test_job_added_by_job_runs_in_a_later_pass)
{
	qb_loop_t *l = traced_loop();

	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_MED, "A", job_adds_high), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_MED, "C", job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	/* B is HIGH but was added during the pass that ran A: C still comes first */
	ck_assert_str_eq(trace, "A C B stop");
	qb_loop_destroy(l);
}
END_TEST

static void job_deletes_queued(void *data)
{
	note((const char *)data);
	ck_assert_int_eq(qb_loop_job_del(cur, QB_LOOP_MED, "victim", job_note), 0);
	ck_assert_int_eq(qb_loop_job_del(cur, QB_LOOP_MED, "victim", job_note), -ENOENT);
}

START_TEST(test_job_del_of_a_queued_job)
{
	qb_loop_t *l = traced_loop();

	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_MED, "victim", job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_MED, "M", job_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_HIGH, "H", job_deletes_queued), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "H M stop");
	qb_loop_destroy(l);
}
END_TEST

/* A steady flood of HIGH jobs (each re-adds itself) and one LOW job that
 * re-adds itself: LOW keeps running, HIGH gets the larger share. */
static int high_runs, low_runs, high_seen[8];

static void flood_high(void *data)
{
	high_runs++;
	ck_assert_int_eq(qb_loop_job_add(cur, QB_LOOP_HIGH, data, flood_high), 0);
}

static void slow_low(void *data)
{
	high_seen[low_runs++] = high_runs;
	if (low_runs == 8) {
		qb_loop_stop(cur);
		return;
	}
	ck_assert_int_eq(qb_loop_job_add(cur, QB_LOOP_LOW, data, slow_low), 0);
}

START_TEST(test_high_flood_never_starves_low)
{
	qb_loop_t *l = traced_loop();
	int i;

	high_runs = low_runs = 0;
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_HIGH, NULL, flood_high), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, slow_low), 0);
	qb_loop_run(l);
	ck_assert_int_eq(low_runs, 8);
	/* 4 HIGH per pass, LOW every third pass: exactly 12 HIGH between LOWs */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(high_seen[i], 12 * (i + 1));
	qb_loop_destroy(l);
}
END_TEST

/* ---- timers ---- */

struct tmo {
	const char *name;
	uint64_t due;		/* earliest allowed monotonic time */
	int stop;
};

static void tmo_fired(void *data)
{
	struct tmo *t = data;

	ck_assert(qb_util_nano_current_get() >= t->due);
	note(t->name);
	if (t->stop)
		qb_loop_stop(cur);
}

static void add_tmo(qb_loop_t *l, int p, struct tmo *t, uint64_t ns, qb_loop_timer_handle *h)
{
	t->due = qb_util_nano_current_get() + ns;
	ck_assert_int_eq(qb_loop_timer_add(l, p, ns, t, tmo_fired, h), 0);
}

START_TEST(test_timer_order)
{
	qb_loop_t *l = traced_loop();
	struct tmo t[4] = {{"t3", 0, 1}, {"t1", 0, 0}, {"t2", 0, 0}, {"t0", 0, 0}};
	qb_loop_timer_handle h;

	add_tmo(l, QB_LOOP_LOW, &t[0], 3 * QB_TIME_NS_IN_MSEC, &h);
	add_tmo(l, QB_LOOP_HIGH, &t[1], 1 * QB_TIME_NS_IN_MSEC, &h);
	add_tmo(l, QB_LOOP_MED, &t[2], 2 * QB_TIME_NS_IN_MSEC, &h);
	add_tmo(l, QB_LOOP_LOW, &t[3], 0, NULL);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "t0 t1 t2 t3");
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_timer_handles)
{
	qb_loop_t *l = qb_loop_create();
	qb_loop_timer_handle h, h2;
	struct tmo t = {"t", 0, 0};
	uint64_t before, exp, left;

	ck_assert_int_eq(qb_loop_timer_add(l, QB_LOOP_LOW, 1, &t, NULL, &h), -EINVAL);
	before = qb_util_nano_current_get();
	add_tmo(l, QB_LOOP_LOW, &t, 60 * QB_TIME_NS_IN_SEC, &h);
	ck_assert_int_eq(qb_loop_timer_is_running(l, h), QB_TRUE);
	exp = qb_loop_timer_expire_time_get(l, h);
	/* absolute CLOCK_MONOTONIC nanoseconds */
	ck_assert(exp >= before + 60 * QB_TIME_NS_IN_SEC);
	ck_assert(exp <= qb_util_nano_current_get() + 60 * QB_TIME_NS_IN_SEC);
	left = qb_loop_timer_expire_time_remaining(l, h);
	ck_assert(left > 0 && left <= 60 * QB_TIME_NS_IN_SEC);
	add_tmo(l, QB_LOOP_LOW, &t, 60 * QB_TIME_NS_IN_SEC, &h2);
	ck_assert(h2 != h);

	ck_assert_int_eq(qb_loop_timer_del(l, h), 0);
	ck_assert_int_eq(qb_loop_timer_is_running(l, h), QB_FALSE);
	ck_assert(qb_loop_timer_expire_time_get(l, h) == 0);
	/* deleted and zero handles */
	ck_assert_int_eq(qb_loop_timer_del(l, h), -EINVAL);
	ck_assert_int_eq(qb_loop_timer_del(l, 0), -EINVAL);
	if (!qbt_is_stock()) {
		/* stock crashes on these */
		ck_assert(qb_loop_timer_expire_time_remaining(l, h) == 0);
		ck_assert_int_eq(qb_loop_timer_del(l, 0x12345678ffffff00ULL), -EINVAL);
		ck_assert_int_eq(qb_loop_timer_is_running(l, 0x12345678ffffff00ULL), QB_FALSE);
		ck_assert(qb_loop_timer_expire_time_remaining(l, 0x12345678ffffff00ULL) == 0);
	}
	/* the other one is untouched */
	ck_assert_int_eq(qb_loop_timer_is_running(l, h2), QB_TRUE);
	ck_assert_int_eq(qb_loop_timer_del(l, h2), 0);
	qb_loop_destroy(l);
}
END_TEST

static qb_loop_timer_handle self_h, victim_h, late_h;
static struct tmo victim = {"victim", 0, 0};
static struct tmo late = {"late", 0, 1};

static void tmo_manages_timers(void *data)
{
	note((const char *)data);
	/* its own handle is already spent while it runs */
	ck_assert_int_eq(qb_loop_timer_del(cur, self_h), -EINVAL);
	ck_assert_int_eq(qb_loop_timer_is_running(cur, self_h), QB_FALSE);
	ck_assert_int_eq(qb_loop_timer_del(cur, victim_h), 0);
	add_tmo(cur, QB_LOOP_MED, &late, 1 * QB_TIME_NS_IN_MSEC, &late_h);
}

START_TEST(test_timer_callback_adds_and_deletes)
{
	qb_loop_t *l = traced_loop();

	add_tmo(l, QB_LOOP_LOW, &victim, 2 * QB_TIME_NS_IN_MSEC, &victim_h);
	ck_assert_int_eq(qb_loop_timer_add(l, QB_LOOP_HIGH, QB_TIME_NS_IN_MSEC, "first",
					   tmo_manages_timers, &self_h), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "first late");
	/* after it ran */
	ck_assert_int_eq(qb_loop_timer_del(l, late_h), -EINVAL);
	ck_assert_int_eq(qb_loop_timer_del(l, victim_h), -EINVAL);
	qb_loop_destroy(l);
}
END_TEST

static void tmo_deletes_expired(void *data)
{
	note((const char *)data);
	/* victim expired in the same pass and waits in its level: still deletable */
	ck_assert_int_eq(qb_loop_timer_is_running(cur, victim_h), QB_FALSE);
	ck_assert_int_eq(qb_loop_timer_del(cur, victim_h), 0);
	ck_assert_int_eq(qb_loop_timer_del(cur, victim_h), -EINVAL);
	ck_assert_int_eq(qb_loop_job_add(cur, QB_LOOP_LOW, "stop", job_stop), 0);
}

START_TEST(test_timer_del_after_expiry_before_dispatch)
{
	qb_loop_t *l = traced_loop();
	qb_loop_timer_handle h;

	/* both are due at the first pass; HIGH runs first */
	add_tmo(l, QB_LOOP_LOW, &victim, 0, &victim_h);
	ck_assert_int_eq(qb_loop_timer_add(l, QB_LOOP_HIGH, 0, "high", tmo_deletes_expired, &h), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "high stop");
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_timer_huge_duration_saturates)
{
	qb_loop_t *l;
	qb_loop_timer_handle h;
	struct tmo t = {"huge", 0, 0}, z = {"zero", 0, 1};

	QBT_OURS_ONLY(); /* stock adds without saturating: the expiry wraps */
	l = traced_loop();
	ck_assert_int_eq(qb_loop_timer_add(l, QB_LOOP_HIGH, UINT64_MAX, &t, tmo_fired, &h), 0);
	ck_assert_int_eq(qb_loop_timer_is_running(l, h), QB_TRUE);
	ck_assert(qb_loop_timer_expire_time_get(l, h) == UINT64_MAX);
	add_tmo(l, QB_LOOP_LOW, &z, 0, NULL);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "zero");
	ck_assert_int_eq(qb_loop_timer_is_running(l, h), QB_TRUE);
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_timer_many_pending)
{
	enum { N = 100000 };
	static qb_loop_timer_handle hs[N];
	qb_loop_t *l;
	int i;

	QBT_OURS_ONLY(); /* stock's slot search is linear: quadratic here */
	l = qb_loop_create();
	for (i = 0; i < N; i++)
		ck_assert_int_eq(qb_loop_timer_add(l, i % 3, (uint64_t)(N - i) * QB_TIME_NS_IN_SEC,
						   NULL, noop, &hs[i]), 0);
	for (i = 0; i < N; i += 2)
		ck_assert_int_eq(qb_loop_timer_del(l, hs[i]), 0);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(qb_loop_timer_is_running(l, hs[i]), i % 2);
	for (i = 1; i < N; i += 2)
		ck_assert_int_eq(qb_loop_timer_del(l, hs[i]), 0);
	for (i = 0; i < N; i += 1000)
		ck_assert_int_eq(qb_loop_timer_del(l, hs[i]), -EINVAL);
	qb_loop_destroy(l);
}
END_TEST

/* ---- other threads ---- */

static void *stopper(void *arg)
{
	qb_loop_stop(arg);
	return NULL;
}

static void *adder(void *arg)
{
	ck_assert_int_eq(qb_loop_job_add(arg, QB_LOOP_MED, "from-thread", job_stop), 0);
	return NULL;
}

static pthread_t thr;

static void job_spawns(void *data)
{
	note("spawn");
	ck_assert_int_eq(pthread_create(&thr, NULL, data, cur), 0);
}

/* A job starts `thread_main` on another thread while the loop sleeps; the
 * trace must then read `want`. */
static void run_with_thread(void *thread_main, const char *want)
{
	qb_loop_t *l = traced_loop();

	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, thread_main, job_spawns), 0);
	qb_loop_run(l);
	pthread_join(thr, NULL);
	ck_assert_str_eq(trace, want);
	qb_loop_destroy(l);
}

START_TEST(test_stop_from_another_thread)
{
	QBT_OURS_ONLY(); /* stock sleeps in epoll and never notices */
	run_with_thread(stopper, "spawn");
}
END_TEST

START_TEST(test_job_add_from_another_thread)
{
	QBT_OURS_ONLY(); /* stock sleeps in epoll and never notices */
	run_with_thread(adder, "spawn from-thread");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop_jobs");

	QBT_ADD_TEST(s, test_default_loop);
	QBT_ADD_TEST(s, test_stop_returns_after_the_callback);
	QBT_ADD_TEST(s, test_job_input);
	QBT_ADD_TEST(s, test_job_levels_and_four_per_pass);
	QBT_ADD_TEST(s, test_job_added_by_job_runs_in_a_later_pass);
	QBT_ADD_TEST(s, test_job_del_of_a_queued_job);
	QBT_ADD_TEST(s, test_high_flood_never_starves_low);
	QBT_ADD_TEST(s, test_timer_order);
	QBT_ADD_TEST(s, test_timer_handles);
	QBT_ADD_TEST(s, test_timer_callback_adds_and_deletes);
	QBT_ADD_TEST(s, test_timer_del_after_expiry_before_dispatch);
	QBT_ADD_TEST(s, test_timer_huge_duration_saturates);
	QBT_ADD_TEST(s, test_timer_many_pending);
	QBT_ADD_TEST(s, test_stop_from_another_thread);
	QBT_ADD_TEST(s, test_job_add_from_another_thread);
	return qbt_main(s);
}
