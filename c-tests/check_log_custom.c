/*
 * Custom log targets (qblog.h): the logger and close callbacks, the target's
 * user data, enabling and disabling, a logger that reconfigures its own
 * target, many threads logging through one target, and the deprecated
 * qb_util_set_log_function() hook that sees libqb's own messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>
#include <qb/qbutil.h>

#include "log_target_fixture.h"

/* Counts the close callbacks cust_logger's target gets. */
static int cust_closes;

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

int main(void)
{
	Suite *s = suite_create("log_custom");

	QBT_ADD_TEST(s, test_custom_target);
	QBT_ADD_TEST(s, test_custom_logger_reconfigures);
	QBT_ADD_TEST(s, test_custom_many_threads);
	QBT_ADD_TEST(s, test_internal_message_hook);
	return log_target_main(s);
}
