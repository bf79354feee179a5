/*
 * libqb-rs C tests: qbloop.h (main loop), descriptors (qb_loop_poll_*, the
 * low-descriptor event) and signals. Jobs, timers and threads are in
 * check_loop_jobs.c.
 *
 * Orders are recorded as strings (loop_trace.h) and compared exactly.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbloop.h>

#include "loop_trace.h"
#include "qbtest.h"

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
	qb_loop_t *l = traced_loop();
	int p[2];

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
	qb_loop_t *l = traced_loop();
	int a[2], b[2], c[2];

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
	qb_loop_t *l = traced_loop();

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
	qb_loop_t *l = traced_loop();
	int p[2];

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
	l = traced_loop();
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
	l = traced_loop();
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
	qb_loop_t *l = traced_loop();
	qb_loop_signal_handle h1, h2, h3;
	char want[128];

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

int main(void)
{
	Suite *s = suite_create("loop_poll");

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
	return qbt_main(s);
}
