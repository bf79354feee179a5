/*
 * libqb-rs C tests: qbloop.h (main loop).
 *
 * Orders are recorded as strings and compared exactly: the same binary run
 * against stock libqb gives the same strings. Timer tests check order and
 * "ran at or after its expiry", never durations.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbloop.h>
#include <qb/qbutil.h>

#include "qbtest.h"

/* ---- a trace of callbacks ---- */

static char trace[4096];

static void note(const char *s)
{
	if (trace[0] != '\0')
		strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

static qb_loop_t *cur;

static void job_note(void *data)
{
	note((const char *)data);
}

static void job_stop(void *data)
{
	if (data != NULL)
		note((const char *)data);
	qb_loop_stop(cur);
}

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
	qb_loop_t *l = qb_loop_create();

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();
	int p, i;

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();
	int i;

	cur = l;
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
	qb_loop_t *l = qb_loop_create();
	struct tmo t[4] = {{"t3", 0, 1}, {"t1", 0, 0}, {"t2", 0, 0}, {"t0", 0, 0}};
	qb_loop_timer_handle h;

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();

	cur = l;
	trace[0] = '\0';
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
	qb_loop_t *l = qb_loop_create();
	qb_loop_timer_handle h;

	cur = l;
	trace[0] = '\0';
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
	l = qb_loop_create();
	cur = l;
	trace[0] = '\0';
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

static void noop(void *data)
{
	(void)data;
}

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

/* ---- descriptors ---- */

static int32_t fd_read_note(int32_t fd, int32_t revents, void *data)
{
	char c;

	ck_assert(revents & POLLIN);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	note((const char *)data);
	return 0;
}

static int32_t fd_read_stop(int32_t fd, int32_t revents, void *data)
{
	fd_read_note(fd, revents, data);
	qb_loop_stop(cur);
	return 0;
}

static void make_pipe(int p[2], int ready)
{
	ck_assert_int_eq(pipe(p), 0);
	if (ready)
		ck_assert_int_eq(write(p[1], "x", 1), 1);
}

static void close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

START_TEST(test_poll_add_mod_del)
{
	qb_loop_t *l = qb_loop_create();
	int p[2];

	cur = l;
	trace[0] = '\0';
	make_pipe(p, 1);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, p[0], POLLIN, "first", fd_read_note), 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, p[0], POLLIN, "again", fd_read_note), -EEXIST);
	ck_assert_int_eq(qb_loop_poll_mod(l, QB_LOOP_MED, p[1], POLLOUT, "x", fd_read_note), -EBADF);
	ck_assert_int_eq(qb_loop_poll_del(l, p[1]), -EBADF);
	/* the new callback and data replace the old ones */
	ck_assert_int_eq(qb_loop_poll_mod(l, QB_LOOP_HIGH, p[0], POLLIN, "modded", fd_read_stop), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "modded");
	ck_assert_int_eq(qb_loop_poll_del(l, p[0]), 0);
	/* stock finds the slot its refused duplicate add left behind and says 0 */
	if (!qbt_is_stock())
		ck_assert_int_eq(qb_loop_poll_del(l, p[0]), -EBADF);
	/* and it can be added again */
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, p[0], POLLIN, "x", fd_read_note), 0);
	ck_assert_int_eq(qb_loop_poll_del(l, p[0]), 0);
	close_pipe(p);
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_poll_priorities)
{
	qb_loop_t *l = qb_loop_create();
	int a[2], b[2], c[2];

	cur = l;
	trace[0] = '\0';
	make_pipe(a, 1);
	make_pipe(b, 1);
	make_pipe(c, 1);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_LOW, a[0], POLLIN, "low", fd_read_stop), 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, b[0], POLLIN, "med", fd_read_note), 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_HIGH, c[0], POLLIN, "high", fd_read_note), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "high med low");
	close_pipe(a);
	close_pipe(b);
	close_pipe(c);
	qb_loop_destroy(l);
}
END_TEST

static int pa[2], pb[2];
static int deleter_calls;

static int32_t fd_deletes_both(int32_t fd, int32_t revents, void *data)
{
	(void)revents;
	(void)data;
	deleter_calls++;
	ck_assert_int_eq(qb_loop_poll_del(cur, pa[0]), 0);
	ck_assert_int_eq(qb_loop_poll_del(cur, pb[0]), 0);
	ck_assert(fd == pa[0] || fd == pb[0]);
	return 0;
}

START_TEST(test_poll_callback_deletes_itself_and_another)
{
	qb_loop_t *l = qb_loop_create();

	cur = l;
	deleter_calls = 0;
	make_pipe(pa, 1);
	make_pipe(pb, 1);
	/* both are ready at the first pass and queued together */
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, pa[0], POLLIN, NULL, fd_deletes_both), 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_MED, pb[0], POLLIN, NULL, fd_deletes_both), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(l);
	ck_assert_int_eq(deleter_calls, 1);
	close_pipe(pa);
	close_pipe(pb);
	qb_loop_destroy(l);
}
END_TEST

static int32_t fd_read_then_remove(int32_t fd, int32_t revents, void *data)
{
	fd_read_note(fd, revents, data);
	return -1;
}

START_TEST(test_poll_negative_result_removes)
{
	qb_loop_t *l = qb_loop_create();
	int p[2];

	cur = l;
	trace[0] = '\0';
	make_pipe(p, 1);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_HIGH, p[0], POLLIN, "once", fd_read_then_remove), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	ck_assert_str_eq(trace, "once stop");
	ck_assert_int_eq(qb_loop_poll_del(l, p[0]), -EBADF);
	close_pipe(p);
	qb_loop_destroy(l);
}
END_TEST

static int hup_calls;

static int32_t fd_ignores_hup(int32_t fd, int32_t revents, void *data)
{
	(void)fd;
	(void)data;
	ck_assert(revents & POLLHUP);
	hup_calls++;
	return 0;
}

static int chain_left;

static void job_chain(void *data)
{
	if (--chain_left == 0) {
		qb_loop_stop(cur);
		return;
	}
	ck_assert_int_eq(qb_loop_job_add(cur, QB_LOOP_LOW, data, job_chain), 0);
}

START_TEST(test_poll_ignored_hangup_does_not_spin)
{
	qb_loop_t *l;
	int p[2];

	QBT_OURS_ONLY(); /* stock calls the callback on every pass */
	l = qb_loop_create();
	cur = l;
	hup_calls = 0;
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_HIGH, p[0], POLLIN, NULL, fd_ignores_hup), 0);
	chain_left = 10;
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_chain), 0);
	qb_loop_run(l);
	ck_assert_int_eq(hup_calls, 1);
	/* still registered until deleted; a new qb_loop_poll_mod re-arms it */
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_HIGH, p[0], POLLIN, NULL, fd_ignores_hup), -EEXIST);
	ck_assert_int_eq(qb_loop_poll_mod(l, QB_LOOP_HIGH, p[0], POLLIN, NULL, fd_ignores_hup), 0);
	chain_left = 3;
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_chain), 0);
	qb_loop_run(l);
	ck_assert_int_eq(hup_calls, 2);
	ck_assert_int_eq(qb_loop_poll_del(l, p[0]), 0);
	close(p[0]);
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_poll_input_checks)
{
	qb_loop_t *l;

	QBT_OURS_ONLY(); /* stock crashes later on these */
	l = qb_loop_create();
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_LOW, 0, POLLIN, NULL, NULL), -EINVAL);
	ck_assert_int_eq(qb_loop_poll_add(l, 7, 0, POLLIN, NULL, fd_read_note), -EINVAL);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_LOW, -1, POLLIN, NULL, fd_read_note), -EBADF);
	ck_assert_int_eq(qb_loop_timer_add(l, 7, 0, NULL, noop, NULL), -EINVAL);
	qb_loop_destroy(l);
	/* no default loop */
	ck_assert_int_eq(qb_loop_poll_del(NULL, 0), -EINVAL);
	ck_assert_int_eq(qb_loop_timer_del(NULL, 1), -EINVAL);
	qb_loop_run(NULL);
	qb_loop_stop(NULL);
}
END_TEST

static int low_events, low_last_flag, low_last_avail;

static void low_fds(int32_t not_enough, int32_t available)
{
	low_events++;
	low_last_flag = not_enough;
	low_last_avail = available;
}

START_TEST(test_low_fds_event)
{
	struct rlimit lim;
	qb_loop_t *l;
	int a[2], b[2];

	/* 50 descriptors are kept back, one is the loop's own: room for 3 more */
	make_pipe(a, 0);
	make_pipe(b, 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
	lim.rlim_cur = 54;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	l = qb_loop_create();
	cur = l;
	low_events = 0;
	ck_assert_int_eq(qb_loop_poll_low_fds_event_set(l, low_fds), 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_LOW, a[0], POLLIN, NULL, fd_read_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(l);
	ck_assert_int_eq(low_events, 0);
	ck_assert_int_eq(qb_loop_poll_add(l, QB_LOOP_LOW, b[0], POLLIN, NULL, fd_read_note), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(l);
	ck_assert_int_eq(low_events, 1);
	ck_assert_int_eq(low_last_flag, 1);
	ck_assert_int_eq(low_last_avail, 1);
	/* 2 available is not yet "enough" */
	ck_assert_int_eq(qb_loop_poll_del(l, b[0]), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(l);
	ck_assert_int_eq(low_events, 1);
	ck_assert_int_eq(qb_loop_poll_del(l, a[0]), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, NULL, job_stop), 0);
	qb_loop_run(l);
	ck_assert_int_eq(low_events, 2);
	ck_assert_int_eq(low_last_flag, 0);
	ck_assert_int_eq(low_last_avail, 3);
	close_pipe(a);
	close_pipe(b);
	qb_loop_destroy(l);
}
END_TEST

/* ---- signals ---- */

static int32_t sig_note(int32_t sig, void *data)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s:%d", (const char *)data, sig);
	note(buf);
	return 0;
}

static int32_t sig_note_once(int32_t sig, void *data)
{
	sig_note(sig, data);
	return 1;	/* removes this handler */
}

START_TEST(test_signal_handlers)
{
	qb_loop_t *l = qb_loop_create();
	qb_loop_signal_handle h1, h2, h3;
	char want[128];

	cur = l;
	trace[0] = '\0';
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, SIGUSR2, "a", sig_note_once, &h1), 0);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, SIGUSR2, "b", sig_note, &h2), 0);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_HIGH, SIGUSR1, "c", sig_note, &h3), 0);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_LOW, SIGUSR1, "x", NULL, &h3), -EINVAL);
	ck_assert_int_eq(raise(SIGUSR2), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	snprintf(want, sizeof(want), "a:%d b:%d stop", SIGUSR2, SIGUSR2);
	ck_assert_str_eq(trace, want);
	/* "a" removed itself */
	trace[0] = '\0';
	ck_assert_int_eq(raise(SIGUSR2), 0);
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, "stop", job_stop), 0);
	qb_loop_run(l);
	snprintf(want, sizeof(want), "b:%d stop", SIGUSR2);
	ck_assert_str_eq(trace, want);
	ck_assert_int_eq(qb_loop_signal_del(l, h2), 0);
	ck_assert_int_eq(qb_loop_signal_del(l, h3), 0);
	qb_loop_destroy(l);
}
END_TEST

static int app_usr1;

static void app_handler(int sig)
{
	(void)sig;
	app_usr1++;
}

START_TEST(test_signal_leaves_other_handlers_alone)
{
	qb_loop_t *l = qb_loop_create();
	qb_loop_signal_handle h;
	struct sigaction sa, now;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_handler;
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, SIGUSR2, "u2", sig_note, &h), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &now), 0);
	ck_assert(now.sa_handler == app_handler);
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &now), 0);
	ck_assert(now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN);
	/* moving the handler to SIGHUP gives SIGUSR2 back to the default */
	ck_assert_int_eq(qb_loop_signal_mod(l, QB_LOOP_MED, SIGHUP, "hup", sig_note, h), 0);
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &now), 0);
	ck_assert(now.sa_handler == SIG_DFL);
	ck_assert_int_eq(sigaction(SIGHUP, NULL, &now), 0);
	ck_assert(now.sa_handler != SIG_DFL);
	ck_assert_int_eq(qb_loop_signal_del(l, h), 0);
	ck_assert_int_eq(sigaction(SIGHUP, NULL, &now), 0);
	ck_assert(now.sa_handler == SIG_DFL);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(app_usr1, 1);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &now), 0);
	ck_assert(now.sa_handler == app_handler);
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_signal_bad_input)
{
	qb_loop_t *l;
	qb_loop_signal_handle h;

	QBT_OURS_ONLY(); /* stock accepts these (and crashes on a bogus handle) */
	l = qb_loop_create();
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, SIGKILL, "k", sig_note, &h), -EINVAL);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, 0, "k", sig_note, &h), -EINVAL);
	ck_assert_int_eq(qb_loop_signal_add(l, QB_LOOP_MED, 65, "k", sig_note, &h), -EINVAL);
	ck_assert_int_eq(qb_loop_signal_del(l, (void *)&h), -EINVAL);
	ck_assert_int_eq(qb_loop_signal_del(l, NULL), -EINVAL);
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

START_TEST(test_stop_from_another_thread)
{
	qb_loop_t *l;

	QBT_OURS_ONLY(); /* stock sleeps in epoll and never notices */
	l = qb_loop_create();
	cur = l;
	trace[0] = '\0';
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, stopper, job_spawns), 0);
	qb_loop_run(l);
	pthread_join(thr, NULL);
	ck_assert_str_eq(trace, "spawn");
	qb_loop_destroy(l);
}
END_TEST

START_TEST(test_job_add_from_another_thread)
{
	qb_loop_t *l;

	QBT_OURS_ONLY(); /* stock sleeps in epoll and never notices */
	l = qb_loop_create();
	cur = l;
	trace[0] = '\0';
	ck_assert_int_eq(qb_loop_job_add(l, QB_LOOP_LOW, adder, job_spawns), 0);
	qb_loop_run(l);
	pthread_join(thr, NULL);
	ck_assert_str_eq(trace, "spawn from-thread");
	qb_loop_destroy(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");

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
	QBT_ADD_TEST(s, test_poll_add_mod_del);
	QBT_ADD_TEST(s, test_poll_priorities);
	QBT_ADD_TEST(s, test_poll_callback_deletes_itself_and_another);
	QBT_ADD_TEST(s, test_poll_negative_result_removes);
	QBT_ADD_TEST(s, test_poll_ignored_hangup_does_not_spin);
	QBT_ADD_TEST(s, test_poll_input_checks);
	QBT_ADD_TEST(s, test_low_fds_event);
	QBT_ADD_TEST(s, test_signal_handlers);
	QBT_ADD_TEST(s, test_signal_leaves_other_handlers_alone);
	QBT_ADD_TEST(s, test_signal_bad_input);
	QBT_ADD_TEST(s, test_stop_from_another_thread);
	QBT_ADD_TEST(s, test_job_add_from_another_thread);
	return qbt_main(s);
}
