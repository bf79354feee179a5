/*
 * qb-blackbox: prints the records of libqb blackbox dumps (the files written
 * by qb_log_blackbox_write_to_file(), e.g. by a daemon's crash handler).
 *
 * Usage: qb-blackbox [FILE...]
 *
 * Same command line and output as libqb's tool: for each file a
 * "Dumping the contents of FILE" line on stdout, then one line per record
 * (see qb_log_blackbox_print_from_file()). Problems with a file are reported
 * and the next file is read; the exit status is always 0, as in libqb.
 * Diagnostics of the library itself go to stderr at every priority.
 */
#include <stdio.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

int
main(int argc, char **argv)
{
	int i;

	qb_log_init("qb_blackbox", LOG_USER, LOG_TRACE);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
			  "*", LOG_TRACE);

	for (i = 1; i < argc && argv[i] != NULL; i++) {
		printf("Dumping the contents of %s\n", argv[i]);
		(void)qb_log_blackbox_print_from_file(argv[i]);
	}
	qb_log_fini();
	return 0;
}
