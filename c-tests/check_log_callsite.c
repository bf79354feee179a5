/*
 * Call-site lookup (qb_log_callsite_get/get2): identity and state rules that
 * must hold whether a lookup is answered by the pointer-keyed fast path or by
 * the full string compare. Runs unchanged against stock libqb.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbdefs.h>
#include <qb/qblog.h>

#include "qbtest.h"

static void setup_stderr(uint8_t priority)
{
	qb_log_init("callsite", LOG_USER, LOG_INFO);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE), 0);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "*", priority), 0);
	ck_assert_int_eq(qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
}

static struct qb_log_callsite *get(const char *file, const char *format,
				   uint8_t priority, uint32_t line, uint32_t tags)
{
	return qb_log_callsite_get("fn", file, format, priority, line, tags);
}

START_TEST(test_repeat_lookup_is_stable)
{
	struct qb_log_callsite *a, *b;
	int i;

	setup_stderr(LOG_DEBUG);
	a = get("cs.c", "stable %d", LOG_INFO, 10, 0);
	ck_assert_ptr_nonnull(a);
	for (i = 0; i < 1000; i++) {
		b = get("cs.c", "stable %d", LOG_INFO, 10, 0);
		ck_assert_ptr_eq(a, b);
	}
	ck_assert_str_eq(a->format, "stable %d");
	ck_assert_str_eq(a->filename, "cs.c");
	ck_assert_uint_eq(a->lineno, 10);
	ck_assert_uint_eq(a->priority, LOG_INFO);
	ck_assert(a->targets & (1U << QB_LOG_STDERR));
	qb_log_fini();
}
END_TEST

START_TEST(test_key_fields)
{
	struct qb_log_callsite *a;

	setup_stderr(LOG_DEBUG);
	a = get("key.c", "key", LOG_INFO, 20, 0);
	ck_assert_ptr_ne(a, get("key.c", "key", LOG_NOTICE, 20, 0));
	ck_assert_ptr_ne(a, get("key.c", "key", LOG_INFO, 21, 0));
	ck_assert_ptr_ne(a, get("other.c", "key", LOG_INFO, 20, 0));
	ck_assert_ptr_ne(a, get("key.c", "key2", LOG_INFO, 20, 0));
	/* The function is not part of the key. */
	ck_assert_ptr_eq(a, qb_log_callsite_get("other_fn", "key.c", "key", LOG_INFO, 20, 0));
	ck_assert_ptr_eq(a, get("key.c", "key", LOG_INFO, 20, 0));
	qb_log_fini();
}
END_TEST

START_TEST(test_equal_strings_other_pointers)
{
	struct qb_log_callsite *a;
	char *file = strdup("equal.c");
	char *format = strdup("equal %s");
	char stack_format[16];

	ck_assert_ptr_nonnull(file);
	ck_assert_ptr_nonnull(format);
	snprintf(stack_format, sizeof(stack_format), "equal %%s");
	setup_stderr(LOG_DEBUG);
	a = get("equal.c", "equal %s", LOG_WARNING, 30, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(a, get(file, format, LOG_WARNING, 30, 0));
	ck_assert_ptr_eq(a, get(file, "equal %s", LOG_WARNING, 30, 0));
	ck_assert_ptr_eq(a, get("equal.c", stack_format, LOG_WARNING, 30, 0));
	ck_assert_ptr_eq(a, get("equal.c", "equal %s", LOG_WARNING, 30, 0));
	free(file);
	free(format);
	qb_log_fini();
}
END_TEST

/* A string buffer reused with new contents is a new call site, never the one
 * its address answered before. */
START_TEST(test_reused_buffer_new_contents)
{
	struct qb_log_callsite *a, *b;
	char format[32];

	setup_stderr(LOG_DEBUG);
	snprintf(format, sizeof(format), "first %%d");
	a = get("reuse.c", format, LOG_INFO, 40, 0);
	a = get("reuse.c", format, LOG_INFO, 40, 0);
	ck_assert_str_eq(a->format, "first %d");
	snprintf(format, sizeof(format), "second %%d");
	b = get("reuse.c", format, LOG_INFO, 40, 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(b->format, "second %d");
	snprintf(format, sizeof(format), "first %%d");
	ck_assert_ptr_eq(a, get("reuse.c", format, LOG_INFO, 40, 0));
	qb_log_fini();
}
END_TEST

START_TEST(test_recomputed_after_reinit)
{
	struct qb_log_callsite *a;
	int i;

	setup_stderr(LOG_DEBUG);
	for (i = 0; i < 3; i++)
		a = get("reinit.c", "reinit", LOG_DEBUG, 50, 0);
	ck_assert(a->targets & (1U << QB_LOG_STDERR));
	qb_log_fini();
	ck_assert_ptr_null(get("reinit.c", "reinit", LOG_DEBUG, 50, 0));

	/* Now stderr only takes up to LOG_INFO: the debug site must lose its bit. */
	setup_stderr(LOG_INFO);
	a = get("reinit.c", "reinit", LOG_DEBUG, 50, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->targets & (1U << QB_LOG_STDERR), 0);
	a = get("reinit.c", "reinit", LOG_DEBUG, 50, 0);
	ck_assert_uint_eq(a->targets & (1U << QB_LOG_STDERR), 0);
	qb_log_fini();
}
END_TEST

START_TEST(test_tags_on_known_site)
{
	struct qb_log_callsite *a;

	setup_stderr(LOG_DEBUG);
	a = get("tags.c", "tags", LOG_INFO, 60, 5);
	a = get("tags.c", "tags", LOG_INFO, 60, 5);
	ck_assert_uint_eq(a->tags, 5);
	ck_assert_ptr_eq(a, get("tags.c", "tags", LOG_INFO, 60, 9));
	ck_assert_uint_eq(a->tags, 9);
	/* Zero tags leave a known site's tags alone. */
	ck_assert_ptr_eq(a, get("tags.c", "tags", LOG_INFO, 60, 0));
	ck_assert_uint_eq(a->tags, 9);
	qb_log_fini();
}
END_TEST

static int filter_calls;

static void count_filter(struct qb_log_callsite *cs)
{
	(void)cs;
	filter_calls++;
}

START_TEST(test_custom_filter_runs_on_every_lookup)
{
	int i;

	setup_stderr(LOG_DEBUG);
	get("filter.c", "filtered", LOG_INFO, 70, 0);
	get("filter.c", "filtered", LOG_INFO, 70, 0);
	ck_assert_int_eq(qb_log_filter_fn_set(count_filter), 0);
	filter_calls = 0;
	for (i = 0; i < 10; i++)
		get("filter.c", "filtered", LOG_INFO, 70, 0);
	ck_assert_int_eq(filter_calls, 10);
	ck_assert_int_eq(qb_log_filter_fn_set(NULL), 0);
	get("filter.c", "filtered", LOG_INFO, 70, 0);
	ck_assert_int_eq(filter_calls, 10);
	qb_log_fini();
}
END_TEST

START_TEST(test_filter_change_reaches_cached_site)
{
	struct qb_log_callsite *a;

	setup_stderr(LOG_INFO);
	a = get("change.c", "change", LOG_DEBUG, 80, 0);
	a = get("change.c", "change", LOG_DEBUG, 80, 0);
	ck_assert_uint_eq(a->targets & (1U << QB_LOG_STDERR), 0);
	ck_assert_int_eq(qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
					   QB_LOG_FILTER_FILE, "change.c", LOG_DEBUG), 0);
	ck_assert_ptr_eq(a, get("change.c", "change", LOG_DEBUG, 80, 0));
	ck_assert(a->targets & (1U << QB_LOG_STDERR));
	qb_log_fini();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_callsite");

	QBT_ADD_TEST(s, test_repeat_lookup_is_stable);
	QBT_ADD_TEST(s, test_key_fields);
	QBT_ADD_TEST(s, test_equal_strings_other_pointers);
	QBT_ADD_TEST(s, test_reused_buffer_new_contents);
	QBT_ADD_TEST(s, test_recomputed_after_reinit);
	QBT_ADD_TEST(s, test_tags_on_known_site);
	QBT_ADD_TEST(s, test_custom_filter_runs_on_every_lookup);
	QBT_ADD_TEST(s, test_filter_change_reaches_cached_site);
	return qbt_main(s);
}
