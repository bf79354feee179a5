/*
 * Demo: libqb logging to stderr with a custom line format and a file filter.
 * Build and run it with `make demo`.
 */
#include <errno.h>
#include <syslog.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

static void work(int step)
{
	qb_enter();
	qb_log(LOG_INFO, "step %d of %d", step, 3);
	qb_log(LOG_DEBUG, "debug details for step %d (shown: debug enabled below)", step);
	qb_leave();
}

int main(void)
{
	int step;

	qb_log_init("logging-demo", LOG_USER, LOG_INFO);
	/* Syslog off for the demo; stderr on, for every file up to LOG_DEBUG. */
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	qb_log_format_set(QB_LOG_STDERR, "%N[%P] %-7p %f:%l %n() %b");
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);

	for (step = 1; step <= 3; step++)
		work(step);

	errno = ENOENT;
	qb_perror(LOG_WARNING, "opening a file that is not there");
	qb_log(LOG_TRACE, "trace lines need a LOG_TRACE filter: not shown");

	qb_log_fini();
	return 0;
}
