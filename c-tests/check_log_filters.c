/*
 * Which call sites reach a log target (qblog.h): regular-expression filters
 * on format, function and file names (and tag rules), call-site arrays an
 * application registers itself, and the dump of the call-site database.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "log_target_fixture.h"

/* ---- regex filters ---- */

static void regex_file_fn(void)
{
	qb_log(LOG_INFO, "in regex_file_fn");
}

START_TEST(test_regex_filters)
{
	const char *path = tmp_name("regex.log");
	int32_t t;

	start_logging();
	t = qb_log_file_open(path);
	qb_log_format_set(t, "%b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);

	/* Bad expressions are refused. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "a\\{1", LOG_INFO), -EINVAL);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX,
					   "[", LOG_INFO), -EINVAL);

	/* POSIX basic syntax: '+' is literal, \{m,n\} is an interval. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^x\\{2,3\\}y", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), -EEXIST);
	qb_log(LOG_INFO, "ab+c literal plus");
	qb_log(LOG_INFO, "abbc not matched");
	qb_log(LOG_INFO, "xxy interval");
	qb_log(LOG_INFO, "xy not matched");
	qb_log(LOG_DEBUG, "ab+c too verbose");

	/* Function and file expressions. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FUNCTION_REGEX,
					   "^regex_.*_fn$", LOG_INFO), 0);
	regex_file_fn();
	qb_log_from_external_source("f", "lib/ipc_shm.c", "%s", LOG_INFO, 10, 0,
				    "not yet");
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE_REGEX,
					   "ipc_[a-z]*\\.c$", LOG_INFO), 0);
	qb_log_from_external_source("f", "lib/ipc_shm.c", "%s", LOG_INFO, 10, 0,
				    "file matched");
	qb_log_from_external_source("f", "lib/ipc_shm.h", "%s", LOG_INFO, 11, 0,
				    "header not matched");

	/* Removing a regex rule forgets it for new call sites only (as libqb). */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_REMOVE, QB_LOG_FILTER_FORMAT_REGEX,
					   "^ab+c", LOG_INFO), 0);
	qb_log(LOG_INFO, "ab+c new site after removal");
	qb_log_from_external_source("f", "g.c", "ab+c literal plus", LOG_INFO, 99, 0);

	ck_assert_str_eq(slurp(path),
			 "ab+c literal plus\n"
			 "xxy interval\n"
			 "in regex_file_fn\n"
			 "file matched\n");

	/* A tag rule with an expression sets tags. */
	ck_assert_int_eq(qb_log_filter_ctl(7, QB_LOG_TAG_SET, QB_LOG_FILTER_FORMAT_REGEX,
					   "^tagged", LOG_TRACE), 0);
	ck_assert_uint_eq(qb_log_callsite_get("f", "t.c", "tagged message", LOG_INFO, 5,
					      0)->tags, 7);
	ck_assert_uint_eq(qb_log_callsite_get("f", "t.c", "untagged", LOG_INFO, 6,
					      0)->tags, 0);
	qb_log_fini();
	unlink(path);
}
END_TEST

/* ---- registered call-site arrays ---- */

static struct qb_log_callsite app_sites[3];
static int app_filter_runs;

static void app_filter(struct qb_log_callsite *cs)
{
	if (cs >= app_sites && cs < app_sites + 3)
		app_filter_runs++;
}

START_TEST(test_callsites_register)
{
	int32_t t;

	memset(app_sites, 0, sizeof(app_sites));
	app_sites[0] = (struct qb_log_callsite){ "app_fn", "app.c", "app says %d",
						 LOG_INFO, 101, 0, 0, NULL };
	app_sites[1] = (struct qb_log_callsite){ "app_fn", "app.c", "app debug",
						 LOG_DEBUG, 102, 0, 0, NULL };
	/* app_sites[2] has line 0: unused. */
	app_sites[2].priority = LOG_ERR;

	start_logging();
	cust_calls = 0;
	t = qb_log_custom_open(cust_logger, NULL, NULL, NULL);
	qb_log_format_set(t, "%f:%l %b");
	ck_assert_int_eq(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE,
					   "app.c", LOG_INFO), 0);
	ck_assert_int_eq(qb_log_filter_fn_set(app_filter), 0);

	ck_assert_int_eq(qb_log_callsites_register(NULL, app_sites + 3), -EINVAL);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, NULL), -EINVAL);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 3), 0);
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 2), -EEXIST);
	ck_assert_int_eq(qb_log_callsites_register(app_sites + 1, app_sites + 3), -EEXIST);
	/* Existing filters and the custom filter were applied on registration. */
	ck_assert_uint_eq(app_sites[0].targets, 1u << t);
	ck_assert_uint_eq(app_sites[1].targets, 0);
	ck_assert_uint_eq(app_sites[2].targets, 0);
	ck_assert_int_eq(app_filter_runs, 2);

	/* Later filter changes reach them too. */
	ck_assert_int_eq(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FORMAT,
					   "debug", LOG_DEBUG), 0);
	ck_assert_uint_eq(app_sites[1].targets, 1u << t);
	ck_assert_int_eq(qb_log_filter_ctl(5, QB_LOG_TAG_SET, QB_LOG_FILTER_FUNCTION,
					   "app_fn", LOG_DEBUG), 0);
	ck_assert_uint_eq(app_sites[0].tags, 5);

	/* Logging through them works like any call site. */
	qb_log_real_(&app_sites[0], 42);
	ck_assert_int_eq(cust_calls, 1);
	ck_assert_str_eq(cust_last_line, "app.c:101 app says 42");
	qb_log_fini();
}
END_TEST

START_TEST(test_callsites_dump_format)
{
	static char out[1 << 16];
	char row[128], start[64];
	FILE *capture;
	size_t n;
	int saved;

	memset(app_sites, 0, sizeof(app_sites));
	app_sites[0] = (struct qb_log_callsite){ "app_fn", "app.c", "app says %d",
						 LOG_INFO, 101, 3, 9, NULL };
	start_logging();
	ck_assert_int_eq(qb_log_callsites_register(app_sites, app_sites + 3), 0);
	app_sites[0].targets = 3;

	capture = tmpfile();
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(capture), STDOUT_FILENO);
	qb_log_callsites_dump();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(capture);
	n = fread(out, 1, sizeof(out) - 1, capture);
	out[n] = '\0';
	fclose(capture);

	ck_assert_int_eq(strncmp(out, "Callsite Database [", 19), 0);
	ck_assert_ptr_nonnull(strstr(out, "]\n---------------------\n"));
	snprintf(start, sizeof(start), " start %p - stop %p\n", (void *)app_sites,
		 (void *)(app_sites + 3));
	ck_assert_ptr_nonnull(strstr(out, start));
	ck_assert_ptr_nonnull(strstr(out, "filename    lineno targets         tags\n"));
	snprintf(row, sizeof(row), "%12s %6u %16u %16u\n", "app.c", 101u, 3u, 9u);
	ck_assert_ptr_nonnull(strstr(out, row));
	qb_log_fini();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_filters");

	QBT_ADD_TEST(s, test_regex_filters);
	QBT_ADD_TEST(s, test_callsites_register);
	QBT_ADD_TEST(s, test_callsites_dump_format);
	return log_target_main(s);
}
