/*
 * The syslog target (qblog.h): the journal option and its fallback to syslog,
 * the ident, facility and priority bump it passes on, and the same
 * qb_log_ctl() directives given to a file target.
 *
 * syslog is observed through the spy in log_syslog_spy.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "log_target_fixture.h"

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

int main(void)
{
	Suite *s = suite_create("log_syslog");

	QBT_ADD_TEST(s, test_journal_option);
	QBT_ADD_TEST(s, test_syslog_ident_facility_bump);
	QBT_ADD_TEST(s, test_ctl_directives_on_file_target);
	return log_target_main(s);
}
