/*
 * Shared helpers for the libqb-rs C test programs (Check framework).
 *
 * Every program runs twice under `make check`: against the freshly built
 * libqb.so.100 (QBT_IMPL=ours) and, when Debian's libqb100 is installed, against
 * that stock library (QBT_IMPL=stock), to show both give the same results.
 * QBT_EXPECT_LIB names the library file that must be mapped; qbt_main() refuses
 * to run if a different libqb was loaded.
 */
#ifndef QBTEST_H
#define QBTEST_H

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapped_lib.h"

/* Declared in qbutil.h; referenced here so every test program links libqb and
 * prints which version it runs against. */
extern const char *const qb_ver_str;

/* True when the program runs against stock libqb (differential run). Cases that
 * check behaviour where libqb-rs is deliberately stricter than stock return early
 * on stock. */
static inline int qbt_is_stock(void)
{
	const char *impl = getenv("QBT_IMPL");
	return impl != NULL && strcmp(impl, "stock") == 0;
}

#define QBT_OURS_ONLY()                                                     \
	do {                                                                \
		if (qbt_is_stock())                                         \
			return;                                             \
	} while (0)

/* Attacks libqb-rs withstands and stock libqb does not (the hostile suites):
 * skipped on stock unless QBT_HOSTILE_ON_STOCK=1 asks to see what it does. */
#define HOSTILE_CASE()                                                      \
	do {                                                                \
		const char *on_ = getenv("QBT_HOSTILE_ON_STOCK");           \
		if (on_ == NULL || strcmp(on_, "1") != 0)                   \
			QBT_OURS_ONLY();                                    \
	} while (0)

/* Returns 0 when the libqb.so mapped into this process is QBT_EXPECT_LIB. */
static inline int qbt_check_loaded_lib(void)
{
	const char *expect = getenv("QBT_EXPECT_LIB");
	char want[PATH_MAX];
	int found, other;

	if (expect == NULL || realpath(expect, want) == NULL) {
		fprintf(stderr, "qbtest: QBT_EXPECT_LIB not set or missing\n");
		return -1;
	}
	other = qbt_mapped_libqb(want, &found, NULL, 0);
	if (other < 0)
		return -1;
	if (!found || other) {
		fprintf(stderr, "qbtest: expected %s to be the only libqb mapped\n", want);
		return -1;
	}
	printf("qbtest: running against %s (%s, libqb %s)\n", want,
	       qbt_is_stock() ? "stock" : "ours", qb_ver_str);
	return 0;
}

/* Runs one suite; exit status 0 only if every case passed. */
static inline int qbt_main(Suite *s)
{
	SRunner *sr;
	int failed;

	if (qbt_check_loaded_lib() != 0)
		return 2;
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

#define QBT_ADD_TEST(suite, fn)                                             \
	do {                                                                \
		TCase *tc_ = tcase_create(#fn);                             \
		tcase_add_test(tc_, fn);                                    \
		suite_add_tcase((suite), tc_);                              \
	} while (0)

#endif /* QBTEST_H */
