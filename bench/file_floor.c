/*
 * How close can a file log target get to the kernel's own cost?
 *
 * Prints nanoseconds per line for
 *   - "write": a bare write(2) of one line per call to an O_APPEND
 *     file (what any logger that hands each line to the kernel before
 *     returning must pay at least), and
 *   - "qb_log": qb_log(LOG_INFO, ...) into a qb_log_file_open target, as the
 *     perf harness's log.file row does, through whichever libqb this
 *     program was linked with / LD_LIBRARY_PATH selects.
 * Usage: file_floor DIR [LINES]   (bench/file_floor.sh runs it on both
 * libraries and prints the ratios).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double
bare_writes(const char *path, int lines)
{
	/* As long as the lines qb_log writes below (default format "[%p] %b"). */
	static const char line[] = "[info] pcmk event node1 rc=250000 seq=250000\n";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		      0600);
	double start;
	int i;

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	start = now_ns();
	for (i = 0; i < lines; i++) {
		if (write(fd, line, sizeof(line) - 1) != sizeof(line) - 1) {
			perror("write");
			exit(1);
		}
	}
	start = (now_ns() - start) / lines;
	close(fd);
	unlink(path);
	return start;
}

static double
logged_lines(const char *path, int lines)
{
	double start;
	int32_t t;
	int i;

	qb_log_init("file_floor", LOG_USER, LOG_EMERG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
	t = qb_log_file_open(path);
	if (t < 0) {
		fprintf(stderr, "qb_log_file_open: %d\n", t);
		exit(1);
	}
	qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
			  LOG_INFO);
	qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE);
	start = now_ns();
	for (i = 0; i < lines; i++) {
		qb_log(LOG_INFO, "pcmk event %s rc=%d seq=%u", "node1", i,
		       (unsigned)i);
	}
	start = (now_ns() - start) / lines;
	qb_log_file_close(t);
	qb_log_fini();
	unlink(path);
	return start;
}

int
main(int argc, char **argv)
{
	char path[4096];
	int lines = argc > 2 ? atoi(argv[2]) : 500000;

	if (argc < 2 || lines <= 0) {
		fprintf(stderr, "usage: %s DIR [LINES]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/file_floor-%d.log", argv[1],
		 (int)getpid());
	printf("write %.1f\n", bare_writes(path, lines));
	printf("qb_log %.1f\n", logged_lines(path, lines));
	return 0;
}
