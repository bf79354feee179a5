/*
 * Basic logging (qblog.h): init/ctl, filters, call sites, formats and the
 * stderr/stdout targets. Output lines are captured by pointing the stream at a
 * temporary file and compared byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "qbtest.h"

/* Captures what a stdio stream (stderr or stdout) receives. */
struct capture {
	FILE *stream;
	int saved_fd;
	FILE *file;
};

static void
capture_start(struct capture *c, FILE *stream)
{
	c->stream = stream;
	fflush(stream);
	c->file = tmpfile();
	ck_assert_ptr_nonnull(c->file);
	c->saved_fd = dup(fileno(stream));
	ck_assert_int_ge(c->saved_fd, 0);
	ck_assert_int_ge(dup2(fileno(c->file), fileno(stream)), 0);
}

/* Stops capturing and returns what was written (static buffer). */
static const char *
capture_end(struct capture *c)
{
	static char text[8192];
	size_t n;

	fflush(c->stream);
	dup2(c->saved_fd, fileno(c->stream));
	close(c->saved_fd);
	rewind(c->file);
	n = fread(text, 1, sizeof(text) - 1, c->file);
	text[n] = '\0';
	fclose(c->file);
	return text;
}

/* Logging set up like a command-line tool: only `target`, everything up to
 * `priority`, with `format`. */
static void
setup_target(int32_t target, uint8_t priority, const char *format)
{
	qb_log_init("basic", LOG_USER, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
	ck_assert_int_eq(qb_log_filter_ctl(target, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", priority), 0);
	qb_log_format_set(target, format);
	ck_assert_int_eq(qb_log_ctl(target, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
}

START_TEST(test_nothing_before_init)
{
	ck_assert_ptr_null(qb_log_callsite_get("f", "file.c", "fmt", LOG_INFO, 10, 0));
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE), -EINVAL);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", LOG_DEBUG), -EINVAL);
	ck_assert_int_eq(qb_log_filter_fn_set(NULL), -EINVAL);
	/* A NULL call site is a no-op. */
	qb_log_real_(NULL, 1, 2);
	qb_log(LOG_ERR, "dropped %d", 1);
}
END_TEST

START_TEST(test_ctl)
{
	qb_log_init("basic", LOG_DAEMON, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_STATE_GET, 0),
			 QB_LOG_STATE_ENABLED);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_STATE_GET, 0),
			 QB_LOG_STATE_DISABLED);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_STATE_GET, 0),
			 QB_LOG_STATE_DISABLED);
	/* Dynamic slots are unused until opened; out-of-range slots are bad. */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_TARGET_DYNAMIC_START, QB_LOG_CONF_STATE_GET, 0), -EBADF);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_TARGET_MAX, QB_LOG_CONF_STATE_GET, 0), -EBADF);
	ck_assert_int_eq(qb_log_ctl(-1, QB_LOG_CONF_ENABLED, 1), -EBADF);

	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_STATE_GET, 0),
			 QB_LOG_STATE_ENABLED);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_STATE_GET, 0),
			 QB_LOG_STATE_DISABLED);

	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, 4097), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_MAX_LINE_LEN, 4096), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_SIZE, 4096), -ENOSYS);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 0), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_DEBUG, 1), -EINVAL);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_THREADED, 0), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_FILE_SYNC, 1), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ELLIPSIS, 1), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_EXTENDED, 0), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_PRIORITY_BUMP, -1), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_FACILITY, LOG_LOCAL0), 0);
	ck_assert_int_eq(qb_log_ctl2(QB_LOG_SYSLOG, QB_LOG_CONF_IDENT,
				     QB_LOG_CTL2_S("renamed")), 0);
	ck_assert_int_eq(qb_log_ctl2(QB_LOG_STDERR, QB_LOG_CONF_STATE_GET,
				     QB_LOG_CTL2_I32(0)), QB_LOG_STATE_DISABLED);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, (enum qb_log_conf)99, 0), -EINVAL);

	qb_log_fini();
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_STATE_GET, 0), -EINVAL);
}
END_TEST

START_TEST(test_filter_ctl_errors)
{
	qb_log_init("basic", LOG_USER, LOG_INFO);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, NULL, LOG_INFO), -EINVAL);
	ck_assert_int_eq(qb_log_filter_ctl2(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					    QB_LOG_FILTER_FILE, "*", LOG_INFO, LOG_ERR), -EINVAL);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_TARGET_DYNAMIC_START, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", LOG_INFO), -EBADF);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "a.c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "a.c", LOG_INFO), -EEXIST);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_REMOVE,
					   QB_LOG_FILTER_FILE, "a.c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "a.c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   (enum qb_log_filter_type)17, "x", LOG_INFO), -EINVAL);
	qb_log_fini();
}
END_TEST

START_TEST(test_callsite_identity)
{
	struct qb_log_callsite *a, *b, *c;

	qb_log_init("basic", LOG_USER, LOG_INFO);
	a = qb_log_callsite_get("fn_a", "dir/site.c", "value %d", LOG_INFO, 120, 0);
	ck_assert_ptr_nonnull(a);
	b = qb_log_callsite_get("fn_a", "dir/site.c", "value %d", LOG_INFO, 120, 0);
	ck_assert_ptr_eq(a, b);
	/* Function and tags are not part of the identity. */
	b = qb_log_callsite_get("fn_b", "dir/site.c", "value %d", LOG_INFO, 120, 0);
	ck_assert_ptr_eq(a, b);
	/* Line, priority, file and format are. */
	c = qb_log_callsite_get("fn_a", "dir/site.c", "value %d", LOG_INFO, 121, 0);
	ck_assert_ptr_ne(a, c);
	c = qb_log_callsite_get("fn_a", "dir/site.c", "value %d", LOG_NOTICE, 120, 0);
	ck_assert_ptr_ne(a, c);
	c = qb_log_callsite_get("fn_a", "dir/other.c", "value %d", LOG_INFO, 120, 0);
	ck_assert_ptr_ne(a, c);
	c = qb_log_callsite_get("fn_a", "dir/site.c", "value %u", LOG_INFO, 120, 0);
	ck_assert_ptr_ne(a, c);

	ck_assert_str_eq(a->function, "fn_a");
	ck_assert_str_eq(a->filename, "dir/site.c");
	ck_assert_str_eq(a->format, "value %d");
	ck_assert_int_eq(a->priority, LOG_INFO);
	ck_assert_int_eq(a->lineno, 120);
	ck_assert_int_eq(a->tags, 0);
	ck_assert_ptr_null(a->message_id);

	c = qb_log_callsite_get2("0123456789abcdef", "fn_a", "dir/site.c", "id", LOG_ERR, 7, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->message_id, "0123456789abcdef");
	qb_log_fini();
}
END_TEST

START_TEST(test_callsite_targets_follow_filters)
{
	struct qb_log_callsite *info, *debug, *other;

	/* qb_log_init gives syslog everything up to LOG_INFO. */
	qb_log_init("basic", LOG_USER, LOG_INFO);
	info = qb_log_callsite_get("f", "one.c", "i", LOG_INFO, 1, 0);
	debug = qb_log_callsite_get("f", "one.c", "d", LOG_DEBUG, 2, 0);
	other = qb_log_callsite_get("g", "two.c", "o", LOG_ERR, 3, 0);
	ck_assert_uint_eq(info->targets, 1U << QB_LOG_SYSLOG);
	ck_assert_uint_eq(debug->targets, 0);
	ck_assert_uint_eq(other->targets, 1U << QB_LOG_SYSLOG);

	/* Filters reach existing call sites, enabled target or not. */
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "x.c,one.c", LOG_DEBUG), 0);
	ck_assert_uint_eq(info->targets, (1U << QB_LOG_SYSLOG) | (1U << QB_LOG_STDERR));
	ck_assert_uint_eq(debug->targets, 1U << QB_LOG_STDERR);
	ck_assert_uint_eq(other->targets, 1U << QB_LOG_SYSLOG);

	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDOUT, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FUNCTION, "g", LOG_DEBUG), 0);
	ck_assert_uint_eq(other->targets, (1U << QB_LOG_SYSLOG) | (1U << QB_LOG_STDOUT));
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDOUT, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FORMAT, "d", LOG_DEBUG), 0);
	ck_assert_uint_eq(debug->targets, (1U << QB_LOG_STDERR) | (1U << QB_LOG_STDOUT));

	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_REMOVE,
					   QB_LOG_FILTER_FILE, "*", LOG_INFO), 0);
	ck_assert_uint_eq(info->targets, 1U << QB_LOG_STDERR);
	ck_assert_uint_eq(other->targets, 1U << QB_LOG_STDOUT);

	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL,
					   QB_LOG_FILTER_FILE, "", 0), 0);
	ck_assert_uint_eq(info->targets, 0);
	ck_assert_uint_eq(debug->targets, 1U << QB_LOG_STDOUT);

	/* New call sites only take filters of enabled targets (stdout is not). */
	info = qb_log_callsite_get("g", "three.c", "n", LOG_INFO, 4, 0);
	ck_assert_uint_eq(info->targets, 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	info = qb_log_callsite_get("g", "three.c", "n", LOG_INFO, 5, 0);
	ck_assert_uint_eq(info->targets, 1U << QB_LOG_STDOUT);

	/* Tags: explicit tags win; otherwise tag filters decide. */
	ck_assert_int_eq(qb_log_filter_ctl(5, QB_LOG_TAG_SET, QB_LOG_FILTER_FILE,
					   "one.c", LOG_DEBUG), 0);
	ck_assert_uint_eq(debug->tags, 5);
	ck_assert_uint_eq(other->tags, 0);
	info = qb_log_callsite_get("f", "one.c", "t", LOG_INFO, 6, 0);
	ck_assert_uint_eq(info->tags, 5);
	info = qb_log_callsite_get("f", "one.c", "t2", LOG_INFO, 7, 9);
	ck_assert_uint_eq(info->tags, 9);
	ck_assert_int_eq(qb_log_filter_ctl(5, QB_LOG_TAG_CLEAR_ALL, QB_LOG_FILTER_FILE,
					   "", LOG_DEBUG), 0);
	ck_assert_uint_eq(debug->tags, 0);
	qb_log_fini();
}
END_TEST

static int filter_calls;

static void
only_errors_to_stderr(struct qb_log_callsite *cs)
{
	filter_calls++;
	if (cs->priority <= LOG_ERR) {
		qb_bit_set(cs->targets, QB_LOG_STDERR);
	} else {
		qb_bit_clear(cs->targets, QB_LOG_STDERR);
	}
}

START_TEST(test_custom_filter_fn)
{
	struct qb_log_callsite *err, *info;

	qb_log_init("basic", LOG_USER, LOG_EMERG);
	err = qb_log_callsite_get("f", "a.c", "e", LOG_ERR, 1, 0);
	ck_assert_uint_eq(err->targets, 0);
	ck_assert_int_eq(qb_log_filter_fn_set(only_errors_to_stderr), 0);
	ck_assert_int_ge(filter_calls, 1);
	ck_assert_uint_eq(err->targets, 1U << QB_LOG_STDERR);
	info = qb_log_callsite_get("f", "a.c", "i", LOG_INFO, 2, 0);
	ck_assert_uint_eq(info->targets, 0);
	/* It runs again on every lookup. */
	filter_calls = 0;
	err->targets = 0;
	ck_assert_ptr_eq(qb_log_callsite_get("f", "a.c", "e", LOG_ERR, 1, 0), err);
	ck_assert_int_eq(filter_calls, 1);
	ck_assert_uint_eq(err->targets, 1U << QB_LOG_STDERR);
	ck_assert_int_eq(qb_log_filter_fn_set(NULL), 0);
	qb_log_fini();
}
END_TEST

static int logging_filter_calls;

/* A filter that logs: its own line's lookup must not run it again and again. */
static void
logging_filter(struct qb_log_callsite *cs)
{
	logging_filter_calls++;
	qb_log(LOG_DEBUG, "filtering line %u", cs->lineno);
}

START_TEST(test_filter_fn_that_logs)
{
	struct qb_log_callsite *cs;

	QBT_OURS_ONLY(); /* stock recurses until the stack overflows */
	qb_log_init("basic", LOG_USER, LOG_EMERG);
	cs = qb_log_callsite_get("f", "a.c", "e", LOG_ERR, 1, 0);
	ck_assert_ptr_nonnull(cs);
	logging_filter_calls = 0;
	ck_assert_int_eq(qb_log_filter_fn_set(logging_filter), 0);
	ck_assert_int_ge(logging_filter_calls, 1);
	logging_filter_calls = 0;
	ck_assert_ptr_eq(qb_log_callsite_get("f", "a.c", "e", LOG_ERR, 1, 0), cs);
	ck_assert_int_eq(logging_filter_calls, 1);
	ck_assert_int_eq(qb_log_filter_fn_set(NULL), 0);
	qb_log_fini();
}
END_TEST

START_TEST(test_stderr_lines)
{
	struct capture cap;
	int line_a, line_b;
	const char *out;
	char expect[512];

	setup_target(QB_LOG_STDERR, LOG_INFO, "%p|%n|%b");
	capture_start(&cap, stderr);
	qb_log(LOG_INFO, "hello %s %d", "world", 42);
	qb_log(LOG_DEBUG, "not shown");
	qb_log(LOG_ERR, "with newline\n");
	qb_log(LOG_WARNING, "short" QB_XS "extended part");
	line_a = __LINE__; qb_log(LOG_NOTICE, "value %05.1f", 2.5);
	errno = ENOENT;
	qb_perror(LOG_ERR, "oops");
	out = capture_end(&cap);
	snprintf(expect, sizeof(expect),
		 "info|test_stderr_lines_fn|hello world 42\n"
		 "error|test_stderr_lines_fn|with newline\n"
		 "warning|test_stderr_lines_fn|short|extended part\n"
		 "notice|test_stderr_lines_fn|value 002.5\n"
		 "error|test_stderr_lines_fn|oops: %s (%d)\n",
		 strerror(ENOENT), ENOENT);
	ck_assert_str_eq(out, expect);

	/* Widths, line numbers, extended information off, trailing "%%". */
	qb_log_format_set(QB_LOG_STDERR, "[%8p][%-8p][%3n]%l:%b%%");
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_EXTENDED, QB_FALSE), 0);
	capture_start(&cap, stderr);
	line_b = __LINE__; qb_log(LOG_INFO, "msg" QB_XS "hidden");
	qb_log(LOG_INFO, QB_XS "only extended");
	out = capture_end(&cap);
	snprintf(expect, sizeof(expect), "[info    ][    info][tes]%d:msg\n", line_b);
	ck_assert_str_eq(out, expect);
	ck_assert_int_gt(line_b, line_a);
	qb_log_fini();
}
END_TEST

START_TEST(test_stdout_default_format_and_limits)
{
	struct capture cap;
	const char *out;

	setup_target(QB_LOG_STDOUT, LOG_DEBUG, NULL);
	capture_start(&cap, stdout);
	qb_log(LOG_DEBUG, "default %s", "format");
	qb_log(LOG_TRACE, "above the filter");
	out = capture_end(&cap);
	ck_assert_str_eq(out, "[debug] default format\n");

	/* A 20-byte line: 19 characters at most; with the ellipsis option the
	 * message is first cut to 19 bytes, then the line's last 3 become "...". */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_MAX_LINE_LEN, 20), 0);
	capture_start(&cap, stdout);
	qb_log(LOG_INFO, "0123456789abcdefghijklmnop");
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_ELLIPSIS, QB_TRUE), 0);
	qb_log(LOG_INFO, "0123456789abcdefghijklmnop");
	qb_log(LOG_INFO, "fits");
	out = capture_end(&cap);
	ck_assert_str_eq(out, "[info] 0123456789ab\n"
			      "[info] 012345678...\n"
			      "[info] fits\n");

	/* "%N" and "%P" are expanded when the format is set. */
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDOUT, QB_LOG_CONF_MAX_LINE_LEN, 512), 0);
	qb_log_format_set(QB_LOG_STDOUT, "%N:%5N:%-7N|%b");
	capture_start(&cap, stdout);
	qb_log(LOG_INFO, "x");
	out = capture_end(&cap);
	ck_assert_str_eq(out, "basic:basic:  basic|x\n");
	qb_log_fini();
}
END_TEST

static const char *
tag_name(uint32_t tags)
{
	return tags == 3 ? "three" : "other";
}

START_TEST(test_tags_and_external_source)
{
	struct capture cap;
	const char *out;
	char expect[512];
	int l1, l2;

	setup_target(QB_LOG_STDERR, LOG_DEBUG, "%5g|%l|%b");
	qb_log_tags_stringify_fn_set(tag_name);
	capture_start(&cap, stderr);
	l1 = __LINE__; qb_logt(LOG_INFO, 3, "tagged");
	l2 = __LINE__; qb_logt(LOG_INFO, 0, "untagged");
	qb_log_from_external_source("ext_fn", "/abs/path/ext.c", "ext %s=%d",
				    LOG_NOTICE, 77, 3, "k", 1);
	qb_log_from_external_source("ext_fn", "/abs/path/ext.c", "ext %s=%d",
				    LOG_NOTICE, 77, 0, "k", 2);
	out = capture_end(&cap);
	/* A known call site keeps its tags when asked again with tags 0. */
	snprintf(expect, sizeof(expect),
		 "three|%d|tagged\n"
		 "other|%d|untagged\n"
		 "three|77|ext k=1\n"
		 "three|77|ext k=2\n", l1, l2);
	ck_assert_str_eq(out, expect);
	qb_log_fini();
}
END_TEST

/* A stringifier that uses the logger while a line is being rendered. */
static int32_t stringify_saw_state;
static int32_t stringify_filter_rc;
static int stringify_logs;

static const char *
tag_name_reentrant(uint32_t tags)
{
	stringify_saw_state = qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_STATE_GET, 0);
	stringify_filter_rc = qb_log_filter_ctl(QB_LOG_STDOUT, QB_LOG_FILTER_ADD,
						QB_LOG_FILTER_FILE, "nowhere.c",
						LOG_DEBUG);
	if (stringify_logs) {
		/* Dropped: libqb ignores lines logged while it is logging. */
		qb_log(LOG_INFO, "nested");
	}
	if (!qbt_is_stock()) {
		/* Stock holds its format lock here: it would deadlock. */
		qb_log_format_set(QB_LOG_STDOUT, "%b");
	}
	return tags == 3 ? "three" : "other";
}

START_TEST(test_stringify_fn_may_use_the_logger)
{
	struct qb_log_callsite *cs;
	struct timespec ts = { 0, 0 };
	struct capture cap;
	const char *out;
	char buf[QB_LOG_MAX_LEN];
	char expect[512];
	int l1;

	setup_target(QB_LOG_STDERR, LOG_DEBUG, "%g|%l|%b");
	qb_log_tags_stringify_fn_set(tag_name_reentrant);
	stringify_saw_state = 0;
	stringify_filter_rc = 1;
	stringify_logs = 1;
	capture_start(&cap, stderr);
	l1 = __LINE__; qb_logt(LOG_INFO, 3, "tagged");
	out = capture_end(&cap);
	snprintf(expect, sizeof(expect), "three|%d|tagged\n", l1);
	ck_assert_str_eq(out, expect);
	ck_assert_int_eq(stringify_saw_state, QB_LOG_STATE_ENABLED);
	ck_assert_int_eq(stringify_filter_rc, 0);

	/* qb_log_target_format runs the stringifier too. */
	stringify_logs = 0;
	stringify_saw_state = 0;
	cs = qb_log_callsite_get("func", "a.c", "fmt", LOG_CRIT, 31, 3);
	ck_assert_ptr_nonnull(cs);
	qb_log_target_format(QB_LOG_STDERR, cs, &ts, "message", buf);
	ck_assert_str_eq(buf, "three|31|message");
	ck_assert_int_eq(stringify_saw_state, QB_LOG_STATE_ENABLED);
	qb_log_tags_stringify_fn_set(NULL);
	qb_log_fini();
}
END_TEST

START_TEST(test_target_format_and_facilities)
{
	struct qb_log_callsite *cs;
	struct timespec ts = { 0, 0 };
	char buf[QB_LOG_MAX_LEN];

	qb_log_init("basic", LOG_USER, LOG_INFO);
	qb_log_format_set(QB_LOG_STDERR, "%n/%f/%l/%p/%b");
	cs = qb_log_callsite_get("func", "a/b/c.c", "fmt", LOG_CRIT, 31, 0);
	ck_assert_ptr_nonnull(cs);
	qb_log_target_format(QB_LOG_STDERR, cs, &ts, "message", buf);
	/* "%f" is the file name exactly as the call site has it. */
	ck_assert_str_eq(buf, "func/a/b/c.c/31/crit/message");
	qb_log_format_set(QB_LOG_STDERR, NULL);
	qb_log_target_format(QB_LOG_STDERR, cs, &ts, "message", buf);
	ck_assert_str_eq(buf, "[crit] message");

	ck_assert_int_eq(qb_log_facility2int("daemon"), LOG_DAEMON);
	ck_assert_int_eq(qb_log_facility2int("local7"), LOG_LOCAL7);
	ck_assert_int_eq(qb_log_facility2int("nope"), -EINVAL);
	ck_assert_int_eq(qb_log_facility2int(NULL), -EINVAL);
	ck_assert_str_eq(qb_log_facility2str(LOG_AUTH), "auth");
	ck_assert_str_eq(qb_log_facility2str(LOG_USER), "user");
	ck_assert_ptr_null(qb_log_facility2str(12345));
	qb_log_fini();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log_basic");

	QBT_ADD_TEST(s, test_nothing_before_init);
	QBT_ADD_TEST(s, test_ctl);
	QBT_ADD_TEST(s, test_filter_ctl_errors);
	QBT_ADD_TEST(s, test_callsite_identity);
	QBT_ADD_TEST(s, test_callsite_targets_follow_filters);
	QBT_ADD_TEST(s, test_custom_filter_fn);
	QBT_ADD_TEST(s, test_filter_fn_that_logs);
	QBT_ADD_TEST(s, test_stderr_lines);
	QBT_ADD_TEST(s, test_stdout_default_format_and_limits);
	QBT_ADD_TEST(s, test_tags_and_external_source);
	QBT_ADD_TEST(s, test_stringify_fn_may_use_the_logger);
	QBT_ADD_TEST(s, test_target_format_and_facilities);
	return qbt_main(s);
}
