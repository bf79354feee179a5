/*
 * libqb-rs: log_peer, a fixed logging script for output parity tests.
 *
 * c-tests/check_log_parity.c runs this program once against stock libqb and
 * once against libqb-rs (choosing the library with LD_LIBRARY_PATH) and
 * compares what the two runs wrote, byte for byte.
 *
 *   log_peer SECTION [FILE]
 *
 * Each section configures the logger and logs a fixed list of messages. Lines
 * of the stderr target go to stderr, so do the section markers ("== name") and
 * the syslog lines (syslog(), openlog() and closelog() are replaced below,
 * like libqb's own tests do, and print what they receive). The stdout target
 * writes to stdout, the file target to FILE.
 *
 * Stock libqb reads out of bounds when a line renders to zero bytes (e.g.
 * format "%b" with an empty message, or a max line length of 1), so the script
 * never asks for one. It also indexes an array by line number, so external
 * sources use small line numbers.
 *
 * What is not deterministic and how the checker handles it:
 *  - %P (pid): the checker replaces the peer's pid with "<PID>";
 *  - %t / %T (wall clock): only in the "time" section, on lines starting with
 *    "T|"; the checker turns every digit into 'D' and every month name into
 *    "Mon" there. qb_log_target_format() gets fixed timestamps (TZ=UTC), so
 *    its %t / %T output is compared exactly.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "mapped_lib.h"

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "log_peer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ------------------------------------------------------ syslog replacement */

static char sys_ident[256];
static int sys_facility = -1;

void openlog(const char *ident, int option, int facility);
void syslog(int priority, const char *format, ...);
void __syslog_chk(int priority, int flag, const char *format, ...);
void vsyslog(int priority, const char *format, va_list ap);
void closelog(void);

void openlog(const char *ident, int option, int facility)
{
	(void)option;
	snprintf(sys_ident, sizeof(sys_ident), "%s", ident ? ident : "(null)");
	sys_facility = facility;
}

void closelog(void)
{
}

void vsyslog(int priority, const char *format, va_list ap)
{
	char text[8192];

	vsnprintf(text, sizeof(text), format, ap);
	fprintf(stderr, "SYSLOG ident=%s facility=%d priority=%d <%s>\n",
		sys_ident, sys_facility, priority, text);
}

void syslog(int priority, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsyslog(priority, format, ap);
	va_end(ap);
}

/* Stock libqb is built with _FORTIFY_SOURCE and calls this variant. */
void __syslog_chk(int priority, int flag, const char *format, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, format);
	vsyslog(priority, format, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ helpers */

static void mark(const char *what)
{
	fprintf(stderr, "== %s\n", what);
}

/* Fresh logger: syslog off, `target` on for everything up to LOG_TRACE. */
static void setup(int32_t target)
{
	qb_log_init("logpeer", LOG_USER, LOG_DEBUG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_filter_ctl(target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
			  LOG_TRACE);
	qb_log_ctl(target, QB_LOG_CONF_ENABLED, QB_TRUE);
}

static void use_format(int32_t target, const char *format)
{
	fprintf(stderr, "-- format \"%s\"\n", format ? format : "(default)");
	qb_log_format_set(target, format);
}

/* A few messages every format is tried with. */
static void sample_messages(void)
{
	qb_log(LOG_INFO, "hello world");
	qb_log(LOG_WARNING, "value=%d name=%s", 42, "node1");
	qb_log(LOG_ERR, "a somewhat longer message that goes past thirty bytes");
	qb_log(LOG_DEBUG, "%s", "-");
}

static char big[6000];

static const char *filled(size_t n, char c)
{
	if (n >= sizeof(big))
		n = sizeof(big) - 1;
	memset(big, c, n);
	big[n] = '\0';
	return big;
}

/* ----------------------------------------------------------------- sections */

static void section_fields(void)
{
	static const char *const formats[] = {
		"%n|%f|%l|%p|%b",
		"[%p] %b",
		"%b",
		"<%%> %q %b %",
		"%.10b|%.3p",
		"%z%y%b%x",
		"plain text, no directive",
		NULL,
	};
	int i;

	setup(QB_LOG_STDERR);
	for (i = 0; i < (int)(sizeof(formats) / sizeof(formats[0])); i++) {
		if (formats[i] != NULL && formats[i][strlen(formats[i]) - 1] == '%')
			continue; /* a trailing lone '%' makes stock read past the end */
		use_format(QB_LOG_STDERR, formats[i]);
		sample_messages();
	}
	use_format(QB_LOG_STDERR, "%p:%b");
	qb_log(LOG_EMERG, "emerg");
	qb_log(LOG_ALERT, "alert");
	qb_log(LOG_CRIT, "crit");
	qb_log(LOG_ERR, "err");
	qb_log(LOG_WARNING, "warning");
	qb_log(LOG_NOTICE, "notice");
	qb_log(LOG_INFO, "info");
	qb_log(LOG_DEBUG, "debug");
	qb_log(LOG_TRACE, "trace");
	qb_log_fini();
}

static void section_widths(void)
{
	static const char *const formats[] = {
		"[%-20n][%20n][%5l][%-5l][%3p][%-3p][%10p][%-10p]",
		"[%8f][%-30f][%1l][%0l][%00p]",
		"[%4b]",
		"[%-12b]",
		"[%12b]",
		"[%0b]",
		"[%60b]",
		"[%-60b]",
		"%-5n%5n%b",
		"[%999p]",
		"[%-9999b]",
	};
	size_t i;

	setup(QB_LOG_STDERR);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		use_format(QB_LOG_STDERR, formats[i]);
		sample_messages();
	}
	qb_log_fini();
}

static void section_static(void)
{
	char hostname[256];

	setup(QB_LOG_STDERR);
	if (gethostname(hostname, sizeof(hostname)) != 0)
		fail("gethostname");
	use_format(QB_LOG_STDERR, "%N|%P|%b");
	sample_messages();
	use_format(QB_LOG_STDERR, "[%5N][%-10N][%20N][%2H]%b");
	sample_messages();
	use_format(QB_LOG_STDERR, "%H %b");
	qb_log(LOG_INFO, "on host");
	qb_log_ctl2(QB_LOG_STDERR, QB_LOG_CONF_IDENT, QB_LOG_CTL2_S("renamed"));
	fprintf(stderr, "-- ident changed\n");
	qb_log(LOG_INFO, "same format after the ident changed");
	use_format(QB_LOG_STDERR, "%N: %b");
	qb_log(LOG_INFO, "format set again");
	qb_log_fini();
}

static void section_extended(void)
{
	int on;

	for (on = 1; on >= 0; on--) {
		setup(QB_LOG_STDERR);
		fprintf(stderr, "-- extended %d\n", on);
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_EXTENDED, on);
		qb_log(LOG_INFO, "short" QB_XS "extended %d", 1);
		qb_log(LOG_INFO, QB_XS "only extended");
		qb_log(LOG_INFO, "nothing after" QB_XS);
		qb_log(LOG_INFO, "one" QB_XS "two" QB_XS "three");
		qb_log(LOG_INFO, "no marker at all");
		qb_log(LOG_INFO, "with newline" QB_XS "ext\n");
		use_format(QB_LOG_STDERR, "%p [%b] end");
		qb_log(LOG_NOTICE, "short" QB_XS "extended");
		qb_log(LOG_NOTICE, QB_XS "only extended");
		qb_log_fini();
	}
}

static void line_length_script(void)
{
	qb_log(LOG_INFO, "short");
	qb_log(LOG_INFO, "%s", filled(10, 'a'));
	qb_log(LOG_INFO, "%s", filled(11, 'b'));
	qb_log(LOG_INFO, "%s", filled(12, 'c'));
	qb_log(LOG_INFO, "%s", filled(13, 'd'));
	qb_log(LOG_INFO, "%s", filled(19, 'e'));
	qb_log(LOG_INFO, "%s", filled(20, 'f'));
	qb_log(LOG_INFO, "%s", filled(21, 'g'));
	qb_log(LOG_INFO, "%s", filled(100, 'h'));
	qb_log(LOG_INFO, "%s\n", filled(10, 'i'));
	qb_log(LOG_INFO, "%s\n", filled(11, 'j'));
	qb_log(LOG_INFO, "%s\n", filled(12, 'k'));
	qb_log(LOG_INFO, "%s\n", filled(18, 'l'));
	qb_log(LOG_INFO, "%s\n", filled(19, 'm'));
	qb_log(LOG_INFO, "%s\n", filled(20, 'n'));
}

static void section_linelen(void)
{
	static const char *const formats[] = {
		"%b", "[%p] %b", "%b<tail>", "%-30b|", "%5b|%b", "0123456789abcdefghijklmnopq",
	};
	/* Not below 4: stock reads or writes out of bounds there (ellipsis). */
	static const int lengths[] = { 20, 13, 5, 4 };
	size_t f, l;
	int ellipsis;

	for (ellipsis = 0; ellipsis <= 1; ellipsis++) {
		for (l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
			for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
				setup(QB_LOG_STDERR);
				fprintf(stderr, "-- max %d ellipsis %d\n", lengths[l], ellipsis);
				qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, lengths[l]);
				qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ELLIPSIS, ellipsis);
				use_format(QB_LOG_STDERR, formats[f]);
				line_length_script();
				qb_log_fini();
			}
		}
	}
}

static void section_long(void)
{
	int ellipsis;

	for (ellipsis = 0; ellipsis <= 1; ellipsis++) {
		setup(QB_LOG_STDERR);
		fprintf(stderr, "-- default length, ellipsis %d\n", ellipsis);
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ELLIPSIS, ellipsis);
		qb_log(LOG_INFO, "%s", filled(509, 'a'));
		qb_log(LOG_INFO, "%s", filled(510, 'b'));
		qb_log(LOG_INFO, "%s", filled(511, 'c'));
		qb_log(LOG_INFO, "%s", filled(600, 'd'));
		qb_log(LOG_INFO, "%s\n", filled(502, 'e'));
		qb_log(LOG_INFO, "%s\n", filled(503, 'f'));
		qb_log(LOG_INFO, "%s\n", filled(504, 'g'));
		use_format(QB_LOG_STDERR, "%b");
		qb_log(LOG_INFO, "%s\n", filled(510, 'h'));
		qb_log(LOG_INFO, "%s\n", filled(511, 'i'));
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, QB_LOG_ABSOLUTE_MAX_LEN);
		fprintf(stderr, "-- max %d\n", QB_LOG_ABSOLUTE_MAX_LEN);
		qb_log(LOG_INFO, "%s", filled(4094, 'j'));
		qb_log(LOG_INFO, "%s", filled(4095, 'k'));
		qb_log(LOG_INFO, "%s", filled(4096, 'l'));
		qb_log(LOG_INFO, "%s", filled(5000, 'm'));
		qb_log(LOG_INFO, "%s and %s", filled(1000, 'n'), "more");
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, 1000);
		fprintf(stderr, "-- max 1000\n");
		qb_log(LOG_INFO, "%s", filled(999, 'o'));
		qb_log(LOG_INFO, "%s", filled(1200, 'p'));
		qb_log_fini();
	}
}

static const char *tag_names(uint32_t tags)
{
	static char text[64];

	if (tags == 0)
		return "none";
	snprintf(text, sizeof(text), "T%u", tags);
	return text;
}

static void section_tags(void)
{
	setup(QB_LOG_STDERR);
	use_format(QB_LOG_STDERR, "%g|%-6g|%6g|%2g|%b");
	fprintf(stderr, "-- no stringify function\n");
	qb_logt(LOG_INFO, 3, "tagged without names");
	qb_log_tags_stringify_fn_set(tag_names);
	fprintf(stderr, "-- stringify function set\n");
	qb_logt(LOG_INFO, 3, "tagged three");
	qb_logt(LOG_INFO, 12345, "tagged big");
	qb_log(LOG_INFO, "untagged");
	qb_log_filter_ctl(77, QB_LOG_TAG_SET, QB_LOG_FILTER_FORMAT, "filter*", LOG_TRACE);
	qb_log(LOG_INFO, "filter tagged");
	qb_log(LOG_INFO, "not filter tagged");
	use_format(QB_LOG_STDERR, "%b");
	qb_logt(LOG_INFO, 5, "format without %%g");
	qb_log_tags_stringify_fn_set(NULL);
	qb_log_fini();
}

static void section_syslog(void)
{
	static const int bumps[] = { 0, 1, -1, 3, -7, -10 };
	size_t i;

	qb_log_init("logpeer", LOG_DAEMON, LOG_TRACE);
	fprintf(stderr, "-- syslog defaults\n");
	sample_messages();
	qb_log(LOG_TRACE, "trace to syslog");
	qb_log_format_set(QB_LOG_SYSLOG, "%p|%n|%b");
	for (i = 0; i < sizeof(bumps) / sizeof(bumps[0]); i++) {
		fprintf(stderr, "-- bump %d\n", bumps[i]);
		qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_PRIORITY_BUMP, bumps[i]);
		qb_log(LOG_INFO, "info");
		qb_log(LOG_DEBUG, "debug");
		qb_log(LOG_TRACE, "trace");
		qb_log(LOG_ERR, "err");
	}
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_PRIORITY_BUMP, 0);
	fprintf(stderr, "-- facility and ident\n");
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_FACILITY, LOG_LOCAL3);
	qb_log(LOG_INFO, "local3");
	qb_log_ctl2(QB_LOG_SYSLOG, QB_LOG_CONF_IDENT, QB_LOG_CTL2_S("other-ident"));
	qb_log(LOG_INFO, "new ident");
	fprintf(stderr, "-- stderr priority bump (syslog only)\n");
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
			  "*", LOG_TRACE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_PRIORITY_BUMP, -3);
	qb_log(LOG_DEBUG, "debug to both");
	qb_log(LOG_TRACE, "trace to both");
	fprintf(stderr, "-- max line length and extended on syslog\n");
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_MAX_LINE_LEN, 16);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ELLIPSIS, 1);
	qb_log(LOG_INFO, "a message for syslog that is long");
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_EXTENDED, QB_FALSE);
	qb_log(LOG_INFO, "main" QB_XS "hidden");
	qb_log_fini();
}

static void section_special(void)
{
	setup(QB_LOG_STDERR);
	use_format(QB_LOG_STDERR, "<%b>");
	qb_log(LOG_INFO, "100%% done");
	qb_log(LOG_INFO, "%%d %%s %%%%");
	qb_log(LOG_INFO, "tab\there");
	qb_log(LOG_INFO, "carriage\rreturn");
	qb_log(LOG_INFO, "embedded\nnewline");
	qb_log(LOG_INFO, "trailing newline\n");
	qb_log(LOG_INFO, "two trailing newlines\n\n");
	qb_log(LOG_INFO, "\n");
	qb_log(LOG_INFO, "%s", "");
	qb_log(LOG_INFO, "utf-8: \xc3\xa9t\xc3\xa9 \xe2\x82\xac");
	qb_log(LOG_INFO, "high bytes \xff\xfe\x80");
	qb_log(LOG_INFO, "nul in the middle: a%cb", 0);
	qb_log(LOG_INFO, "%s|%5d|%-5d|%x|%c|%.2f|%p", "str", 7, 7, 255, 'z', 3.14159,
	       (void *)0x1234);
	qb_log(LOG_INFO, "%s", "format chars %n %b %p in the message");
	qb_log(LOG_INFO, "%lld %llu %zd", (long long)-1, 18446744073709551615ULL,
	       (ssize_t)-5);
	use_format(QB_LOG_STDERR, "[%b] after %% and \t tab");
	qb_log(LOG_INFO, "x");
	qb_log_fini();
}

static void external(const char *function, const char *file, const char *fmt,
		     uint8_t priority, uint32_t line, ...)
	__attribute__((format(printf, 3, 6)));
static void external(const char *function, const char *file, const char *fmt,
		     uint8_t priority, uint32_t line, ...)
{
	va_list ap;

	va_start(ap, line);
	qb_log_from_external_source_va(function, file, fmt, priority, line, 0, ap);
	va_end(ap);
}

static void section_external(void)
{
	char heap_format[64];

	setup(QB_LOG_STDERR);
	use_format(QB_LOG_STDERR, "%n|%f|%l|%p|%b");
	qb_log_from_external_source("ext_fn", "/abs/dir/ext.c", "external %d",
				    LOG_INFO, 77, 0, 1);
	qb_log_from_external_source("ext_fn", "rel/dir/ext.c", "external %d",
				    LOG_INFO, 78, 0, 2);
	qb_log_from_external_source("ext_fn", "noslash.c", "external %d",
				    LOG_INFO, 79, 0, 3);
	qb_log_from_external_source("ext_fn", "trailing/", "external %d",
				    LOG_INFO, 80, 0, 4);
	external("va_fn", "va.c", "via va_list %s", LOG_NOTICE, 5, "ok");
	/* Equal strings at different addresses are one call site. */
	snprintf(heap_format, sizeof(heap_format), "external %%d");
	qb_log_from_external_source("other_fn", "/abs/dir/ext.c", heap_format,
				    LOG_INFO, 77, 0, 6);
	qb_log_from_external_source("ext_fn", "/abs/dir/ext.c", "external %d",
				    LOG_DEBUG, 77, 0, 7);
	qb_log_fini();
}

static void section_target_format(void)
{
	static const char *const formats[] = {
		"%t|%T|%-20t|%8T|%p|%b",
		"%n:%l %f %g %b",
		"[%-8p] %30b!",
	};
	struct qb_log_callsite *cs;
	struct timespec ts[] = {
		{ 0, 0 },
		{ 1700000000, 123456789 },
		{ 1709251199, 999999999 },
		{ 951782400, 5000000 },
	};
	char out[QB_LOG_ABSOLUTE_MAX_LEN + 1];
	size_t f, i;

	setup(QB_LOG_STDERR);
	cs = qb_log_callsite_get("tf_fn", "dir/tf.c", "tf %d", LOG_NOTICE, 31, 0);
	if (cs == NULL)
		fail("no call site");
	for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		use_format(QB_LOG_STDERR, formats[f]);
		for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
			memset(out, 'X', sizeof(out));
			qb_log_target_format(QB_LOG_STDERR, cs, &ts[i],
					     "message text", out);
			out[sizeof(out) - 1] = '\0';
			fprintf(stderr, "target_format <%s>\n", out);
		}
	}
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, 12);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ELLIPSIS, QB_TRUE);
	memset(out, 'X', sizeof(out));
	qb_log_target_format(QB_LOG_STDERR, cs, &ts[1], "message text", out);
	out[sizeof(out) - 1] = '\0';
	fprintf(stderr, "target_format <%s>\n", out);
	qb_log_fini();
}

static void section_time(void)
{
	setup(QB_LOG_STDERR);
	use_format(QB_LOG_STDERR, "T|%t|%T|%-20t|%20T|%8t|%-4T|%b");
	qb_log(LOG_INFO, "with time");
	use_format(QB_LOG_STDERR, "T|%p %t %b");
	qb_log(LOG_INFO, "second");
	qb_log_fini();
}

static void section_stdout(void)
{
	setup(QB_LOG_STDOUT);
	use_format(QB_LOG_STDOUT, "out:%p:%b");
	sample_messages();
	qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_MAX_LINE_LEN, 10);
	qb_log(LOG_INFO, "cut on stdout too");
	qb_log_fini();
	fflush(stdout);
}

static void section_file(const char *path)
{
	int32_t (*file_open)(const char *);
	void (*file_close)(int32_t);
	int32_t t;

	file_open = (int32_t (*)(const char *))dlsym(RTLD_DEFAULT, "qb_log_file_open");
	file_close = (void (*)(int32_t))dlsym(RTLD_DEFAULT, "qb_log_file_close");
	if (file_open == NULL || file_close == NULL || path == NULL) {
		fprintf(stderr, "no file target\n");
		return;
	}
	qb_log_init("logpeer", LOG_USER, LOG_DEBUG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	t = file_open(path);
	if (t < 0)
		fail("qb_log_file_open: %d", t);
	qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE);
	fprintf(stderr, "-- file target default format\n");
	sample_messages();
	qb_log_format_set(t, "%n|%l|%p|%N|%b");
	sample_messages();
	qb_log(LOG_INFO, "extended" QB_XS "part");
	qb_log_ctl(t, QB_LOG_CONF_EXTENDED, QB_FALSE);
	qb_log(LOG_INFO, "extended" QB_XS "part");
	qb_log_ctl(t, QB_LOG_CONF_MAX_LINE_LEN, 20);
	qb_log_ctl(t, QB_LOG_CONF_ELLIPSIS, QB_TRUE);
	qb_log(LOG_INFO, "%s", filled(40, 'f'));
	qb_log(LOG_INFO, "%s\n", filled(5, 'g'));
	file_close(t);
	qb_log_fini();
}

int main(int argc, char **argv)
{
	const char *section = argc > 1 ? argv[1] : "";

	setenv("TZ", "UTC", 1);
	tzset();
	qbt_peer_check_lib(fail, NULL, 0); /* the library the checker chose */
	setvbuf(stderr, NULL, _IONBF, 0);
	mark(section);
	if (strcmp(section, "fields") == 0)
		section_fields();
	else if (strcmp(section, "widths") == 0)
		section_widths();
	else if (strcmp(section, "static") == 0)
		section_static();
	else if (strcmp(section, "extended") == 0)
		section_extended();
	else if (strcmp(section, "linelen") == 0)
		section_linelen();
	else if (strcmp(section, "long") == 0)
		section_long();
	else if (strcmp(section, "tags") == 0)
		section_tags();
	else if (strcmp(section, "syslog") == 0)
		section_syslog();
	else if (strcmp(section, "special") == 0)
		section_special();
	else if (strcmp(section, "external") == 0)
		section_external();
	else if (strcmp(section, "target_format") == 0)
		section_target_format();
	else if (strcmp(section, "time") == 0)
		section_time();
	else if (strcmp(section, "stdout") == 0)
		section_stdout();
	else if (strcmp(section, "file") == 0)
		section_file(argc > 2 ? argv[2] : NULL);
	else
		fail("unknown section \"%s\"", section);
	mark("end");
	return 0;
}
