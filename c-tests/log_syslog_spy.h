/*
 * log_syslog_spy.h: replaces the C library's openlog/syslog/closelog inside a
 * test program so that what libqb's syslog target sends is recorded here and
 * never reaches the host's logger. Stock libqb is built with fortification and
 * calls __syslog_chk instead of syslog, so that entry point is replaced too.
 *
 * The replacements must be ordinary external functions to take precedence over
 * libc's, so include this header from exactly one file of each program (the
 * check_log_*.c target suites get it through log_target_fixture.h).
 */
#ifndef LOG_SYSLOG_SPY_H
#define LOG_SYSLOG_SPY_H

#include <stdarg.h>
#include <stdio.h>

/* What the last openlog() and syslog() calls were given. */
static char sl_ident[64];
static int sl_facility = -1;
static int sl_opens;
static int sl_lines;
static int sl_last_priority = -1;
static char sl_last_line[1024];

void openlog(const char *ident, int option, int facility)
{
	(void)option;
	snprintf(sl_ident, sizeof(sl_ident), "%s", ident ? ident : "");
	sl_facility = facility;
	sl_opens++;
}

void closelog(void)
{
}

static inline void sl_record(int priority, const char *fmt, va_list ap)
{
	sl_last_priority = priority;
	vsnprintf(sl_last_line, sizeof(sl_last_line), fmt, ap);
	sl_lines++;
}

void syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_record(priority, fmt, ap);
	va_end(ap);
}

/* glibc declares this only under _FORTIFY_SOURCE; declare it ourselves. */
void __syslog_chk(int priority, int flag, const char *fmt, ...);
void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	sl_record(priority, fmt, ap);
	va_end(ap);
}

#endif /* LOG_SYSLOG_SPY_H */
