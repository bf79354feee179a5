/*
 * libqb-rs C tests for <qb/qbmap.h>: every function and notification event,
 * run against our library and against stock libqb.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbdefs.h>
#include <qb/qbmap.h>

#include "qbtest.h"

enum kind { K_HASH, K_SKIP, K_TRIE, K_COUNT };

static qb_map_t *make(enum kind k)
{
	switch (k) {
	case K_HASH:
		return qb_hashtable_create(16);
	case K_SKIP:
		return qb_skiplist_create();
	default:
		return qb_trie_create();
	}
}

/* ---- an event recorder -------------------------------------------------- */

#define LOG_MAX 64
struct rec {
	uint32_t event;
	char *key;
	void *old_value;
	void *value;
	void *user;
};
static struct rec log_[LOG_MAX];
static int nlog;

static void rec_cb(uint32_t event, char *key, void *old_value, void *value, void *user)
{
	/* Stock's skiplist also reports its list head (key NULL) at destroy: skip it. */
	if (key == NULL || nlog >= LOG_MAX)
		return;
	log_[nlog].event = event;
	log_[nlog].key = key;
	log_[nlog].old_value = old_value;
	log_[nlog].value = value;
	log_[nlog].user = user;
	nlog++;
}

static void other_cb(uint32_t event, char *key, void *old_value, void *value, void *user)
{
	(void)event, (void)key, (void)old_value, (void)value, (void)user;
}

static void log_reset(void)
{
	nlog = 0;
	memset(log_, 0, sizeof(log_));
}

/* ---- basic operations ----------------------------------------------------- */

START_TEST(test_put_get_rm_count)
{
	static char v1[] = "v1", v2[] = "v2", v3[] = "v3";
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(qb_map_count_get(m), 0);
		qb_map_put(m, "alpha", v1);
		qb_map_put(m, "beta", v2);
		qb_map_put(m, "alphabet", v3);
		ck_assert_uint_eq(qb_map_count_get(m), 3);
		ck_assert_ptr_eq(qb_map_get(m, "alpha"), v1);
		ck_assert_ptr_eq(qb_map_get(m, "alphabet"), v3);
		ck_assert_ptr_null(qb_map_get(m, "alph"));
		ck_assert_ptr_null(qb_map_get(m, "gamma"));
		qb_map_put(m, "alpha", v2);
		ck_assert_uint_eq(qb_map_count_get(m), 3);
		ck_assert_ptr_eq(qb_map_get(m, "alpha"), v2);
		ck_assert_int_eq(qb_map_rm(m, "beta"), QB_TRUE);
		ck_assert_int_eq(qb_map_rm(m, "beta"), QB_FALSE);
		ck_assert_int_eq(qb_map_rm(m, "nothing"), QB_FALSE);
		ck_assert_ptr_null(qb_map_get(m, "beta"));
		ck_assert_uint_eq(qb_map_count_get(m), 2);
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_high_bytes)
{
	static const char *keys[] = { "\x7e", "\x7e\x7f", "\x7e\x7f\x80", "\x7e\x7f\x80\x81",
				      "\xc3\xa9t\xc3\xa9", "\xff", "\x80", "plain" };
	const int n = sizeof(keys) / sizeof(keys[0]);
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		for (int i = 0; i < n; i++)
			qb_map_put(m, keys[i], (void *)keys[i]);
		ck_assert_uint_eq(qb_map_count_get(m), n);
		for (int i = 0; i < n; i++)
			ck_assert_ptr_eq(qb_map_get(m, keys[i]), keys[i]);
		for (int i = 0; i < n; i++)
			ck_assert_int_eq(qb_map_rm(m, keys[i]), QB_TRUE);
		ck_assert_uint_eq(qb_map_count_get(m), 0);
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_hashtable_grows_past_hint)
{
	static char keys[5000][16];
	qb_map_t *m = qb_hashtable_create(4);
	for (int i = 0; i < 5000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key.%d", i);
		qb_map_put(m, keys[i], keys[i]);
	}
	ck_assert_uint_eq(qb_map_count_get(m), 5000);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(qb_map_get(m, keys[i]), keys[i]);
	for (int i = 0; i < 5000; i += 2)
		ck_assert_int_eq(qb_map_rm(m, keys[i]), QB_TRUE);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(qb_map_get(m, keys[i]), (i % 2) ? keys[i] : NULL);
	ck_assert_uint_eq(qb_map_count_get(m), 2500);
	qb_map_destroy(m);
}
END_TEST

/* An absurd size hint is only a hint (stock loops forever on SIZE_MAX). */
START_TEST(test_hashtable_huge_hint)
{
	size_t hints[] = { SIZE_MAX, (size_t)1 << 40, (size_t)INT32_MAX + 1 };
	QBT_OURS_ONLY();
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		qb_map_t *m = qb_hashtable_create(hints[i]);
		ck_assert_ptr_nonnull(m);
		qb_map_put(m, "k", "v");
		ck_assert_str_eq(qb_map_get(m, "k"), "v");
		ck_assert_uint_eq(qb_map_count_get(m), 1);
		qb_map_destroy(m);
	}
}
END_TEST

/* ---- iteration ------------------------------------------------------------ */

static int walk(qb_map_iter_t *it, char *out, size_t outsz)
{
	const char *key;
	void *value = NULL;
	int n = 0;
	out[0] = '\0';
	while ((key = qb_map_iter_next(it, &value)) != NULL) {
		ck_assert_str_eq((const char *)value, key);
		strncat(out, key, outsz - strlen(out) - 2);
		strcat(out, ",");
		n++;
	}
	qb_map_iter_free(it);
	return n;
}

START_TEST(test_sorted_iteration)
{
	static const char *keys[] = { "b", "ab", "a", "Z", "ba", "0", "aa" };
	char out[256];
	for (int k = K_SKIP; k <= K_TRIE; k++) {
		qb_map_t *m = make(k);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			qb_map_put(m, keys[i], (void *)keys[i]);
		ck_assert_int_eq(walk(qb_map_iter_create(m), out, sizeof(out)), 7);
		ck_assert_str_eq(out, "0,Z,a,aa,ab,b,ba,");
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_unordered_iteration_sees_all)
{
	static char keys[100][12];
	int seen[100] = { 0 };
	const char *key;
	void *value;
	qb_map_t *m = qb_hashtable_create(100);
	qb_map_iter_t *it;
	int n = 0;

	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%d", i);
		qb_map_put(m, keys[i], &seen[i]);
	}
	it = qb_map_iter_create(m);
	while ((key = qb_map_iter_next(it, &value)) != NULL) {
		ck_assert_ptr_eq(value, &seen[atoi(key)]);
		seen[atoi(key)]++;
		n++;
	}
	qb_map_iter_free(it);
	ck_assert_int_eq(n, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
	qb_map_destroy(m);
}
END_TEST

START_TEST(test_trie_prefix_iteration)
{
	static const char *keys[] = { "svc.a", "svc", "svc.b.x", "svd", "sv", "other", "svc\xc3\xa9" };
	char out[256];
	qb_map_t *m = qb_trie_create();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		qb_map_put(m, keys[i], (void *)keys[i]);
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "svc."), out, sizeof(out)), 2);
	ck_assert_str_eq(out, "svc.a,svc.b.x,");
	/* stock's trie compares bytes as signed char: 0xC3 sorts before '.' */
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "svc"), out, sizeof(out)), 4);
	ck_assert_str_eq(out, "svc,svc\xc3\xa9,svc.a,svc.b.x,");
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "sv"), out, sizeof(out)), 6);
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "zz"), out, sizeof(out)), 0);
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "svc.b.x"), out, sizeof(out)), 1);
	qb_map_destroy(m);
}
END_TEST

START_TEST(test_prefix_ignored_by_other_kinds)
{
	char out[256];
	for (int k = K_HASH; k <= K_SKIP; k++) {
		qb_map_t *m = make(k);
		qb_map_put(m, "x1", "x1");
		qb_map_put(m, "y1", "y1");
		ck_assert_int_eq(walk(qb_map_pref_iter_create(m, "x"), out, sizeof(out)), 2);
		qb_map_destroy(m);
	}
}
END_TEST

/* The trie skips NULL values when walking and finds nothing under "". */
START_TEST(test_trie_null_value_and_empty_prefix)
{
	char out[256];
	qb_map_t *m = qb_trie_create();
	qb_map_put(m, "a", "a");
	qb_map_put(m, "b", "b");
	qb_map_put(m, "c", NULL);
	ck_assert_uint_eq(qb_map_count_get(m), 3);
	ck_assert_ptr_null(qb_map_get(m, "c"));
	ck_assert_int_eq(walk(qb_map_iter_create(m), out, sizeof(out)), 2);
	ck_assert_str_eq(out, "a,b,");
	ck_assert_int_eq(walk(qb_map_pref_iter_create(m, ""), out, sizeof(out)), 0);
	ck_assert_int_eq(qb_map_rm(m, "c"), QB_TRUE);
	ck_assert_uint_eq(qb_map_count_get(m), 2);
	qb_map_destroy(m);
}
END_TEST

static int32_t count_until(const char *key, void *value, void *data)
{
	int *n = data;
	(void)value;
	(*n)++;
	return strcmp(key, "c") == 0;
}

START_TEST(test_foreach_and_stop)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		int n = 0;
		qb_map_put(m, "a", "1");
		qb_map_put(m, "b", "2");
		qb_map_put(m, "c", "3");
		qb_map_put(m, "d", "4");
		qb_map_foreach(m, count_until, &n);
		if (k == K_HASH)
			ck_assert(n >= 1 && n <= 4);
		else
			ck_assert_int_eq(n, 3);
		qb_map_destroy(m);
	}
}
END_TEST

/* Remove each entry as soon as the iterator returns it: DELETED arrives only
 * when the iterator moves past it, and the returned key stays usable. */
START_TEST(test_delete_current_while_iterating)
{
	static const char *keys[] = { "k1", "k2", "k3", "k4", "k5" };
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		qb_map_iter_t *it;
		const char *key;
		void *value;
		int n = 0;

		for (int i = 0; i < 5; i++)
			qb_map_put(m, keys[i], (void *)keys[i]);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb,
						   QB_MAP_NOTIFY_DELETED | QB_MAP_NOTIFY_RECURSIVE, NULL), 0);
		log_reset();
		it = qb_map_iter_create(m);
		while ((key = qb_map_iter_next(it, &value)) != NULL) {
			ck_assert_int_eq(nlog, n);
			ck_assert_int_eq(qb_map_rm(m, key), QB_TRUE);
			ck_assert_int_eq(nlog, n); /* deferred */
			ck_assert_ptr_eq(value, key);
			n++;
			ck_assert_uint_eq(qb_map_count_get(m), 5 - n);
		}
		qb_map_iter_free(it);
		ck_assert_int_eq(n, 5);
		ck_assert_int_eq(nlog, 5);
		for (int i = 0; i < 5; i++) {
			ck_assert_uint_eq(log_[i].event, QB_MAP_NOTIFY_DELETED);
			ck_assert_ptr_eq(log_[i].key, log_[i].old_value);
		}
		ck_assert_uint_eq(qb_map_count_get(m), 0);
		/* stock's skiplist crashes destroying a list emptied under an iterator */
		if (k != K_SKIP || !qbt_is_stock())
			qb_map_destroy(m);
	}
}
END_TEST

/* Entries removed and added while an iterator is parked. */
START_TEST(test_modify_while_iterating_sorted)
{
	for (int k = K_SKIP; k <= K_TRIE; k++) {
		qb_map_t *m = make(k);
		qb_map_iter_t *it;
		const char *key;
		void *value;
		char out[128] = "";

		qb_map_put(m, "aaaa", "1");
		qb_map_put(m, "bbbb", "2");
		qb_map_put(m, "cccc", "3");
		it = qb_map_iter_create(m);
		ck_assert_str_eq(qb_map_iter_next(it, &value), "aaaa");
		ck_assert_str_eq(qb_map_iter_next(it, &value), "bbbb");
		qb_map_rm(m, "aaaa");
		qb_map_rm(m, "cccc");
		qb_map_put(m, "abcd", "behind");
		qb_map_put(m, "dddd", "ahead");
		while ((key = qb_map_iter_next(it, &value)) != NULL)
			strcat(out, key);
		qb_map_iter_free(it);
		ck_assert_str_eq(out, "dddd");
		ck_assert_uint_eq(qb_map_count_get(m), 3);
		qb_map_destroy(m);
	}
}
END_TEST

/* Freeing an iterator early releases the entry it was parked on (stock's
 * hashtable and skiplist leak that reference; its trie does not). */
START_TEST(test_iter_free_releases_entry)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m;
		qb_map_iter_t *it;
		const char *key;
		void *value;

		if (k != K_TRIE && qbt_is_stock())
			continue;
		m = make(k);
		qb_map_put(m, "one", "1");
		qb_map_put(m, "two", "2");
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb,
						   QB_MAP_NOTIFY_DELETED | QB_MAP_NOTIFY_RECURSIVE, NULL), 0);
		log_reset();
		it = qb_map_iter_create(m);
		key = qb_map_iter_next(it, &value);
		ck_assert_ptr_nonnull(key);
		ck_assert_int_eq(qb_map_rm(m, key), QB_TRUE);
		ck_assert_int_eq(nlog, 0);
		qb_map_iter_free(it);
		ck_assert_int_eq(nlog, 1);
		ck_assert_ptr_eq(log_[0].key, key);
		ck_assert_uint_eq(qb_map_count_get(m), 1);
		qb_map_destroy(m);
	}
}
END_TEST

/* ---- notifications -------------------------------------------------------- */

START_TEST(test_global_event_sequence)
{
	static char k1[] = "key", k2[] = "key", v1[] = "v1", v2[] = "v2", other[] = "x";
	int ud;
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb,
						   QB_MAP_NOTIFY_INSERTED | QB_MAP_NOTIFY_DELETED |
						   QB_MAP_NOTIFY_REPLACED | QB_MAP_NOTIFY_RECURSIVE, &ud), 0);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb,
						   QB_MAP_NOTIFY_FREE, &ud), 0);
		log_reset();

		qb_map_put(m, k1, v1);
		ck_assert_int_eq(nlog, 1);
		ck_assert_uint_eq(log_[0].event, QB_MAP_NOTIFY_INSERTED);
		ck_assert_ptr_eq(log_[0].key, k1);
		ck_assert_ptr_null(log_[0].old_value);
		ck_assert_ptr_eq(log_[0].value, v1);
		ck_assert_ptr_eq(log_[0].user, &ud);

		/* replace with another key pointer: the old one is reported, then FREE */
		qb_map_put(m, k2, v2);
		ck_assert_int_eq(nlog, 3);
		ck_assert_uint_eq(log_[1].event, QB_MAP_NOTIFY_REPLACED);
		ck_assert_ptr_eq(log_[1].key, k1);
		ck_assert_ptr_eq(log_[1].old_value, v1);
		ck_assert_ptr_eq(log_[1].value, v2);
		ck_assert_uint_eq(log_[2].event, QB_MAP_NOTIFY_FREE);
		ck_assert_ptr_eq(log_[2].key, k1);
		ck_assert_ptr_eq(log_[2].old_value, v1);

		/* the map now hands out the new key pointer */
		{
			qb_map_iter_t *it = qb_map_iter_create(m);
			void *value;
			ck_assert_ptr_eq(qb_map_iter_next(it, &value), k2);
			ck_assert_ptr_eq(value, v2);
			ck_assert_ptr_null(qb_map_iter_next(it, &value));
			qb_map_iter_free(it);
		}

		ck_assert_int_eq(qb_map_rm(m, "key"), QB_TRUE);
		ck_assert_int_eq(nlog, 5);
		ck_assert_uint_eq(log_[3].event, QB_MAP_NOTIFY_DELETED);
		ck_assert_ptr_eq(log_[3].key, k2);
		ck_assert_ptr_eq(log_[3].old_value, v2);
		ck_assert_ptr_null(log_[3].value);
		ck_assert_uint_eq(log_[4].event, QB_MAP_NOTIFY_FREE);
		ck_assert_ptr_eq(log_[4].key, k2);

		/* destroy reports the remaining entries */
		qb_map_put(m, other, other);
		log_reset();
		qb_map_destroy(m);
		ck_assert_int_eq(nlog, 2);
		ck_assert_uint_eq(log_[0].event, QB_MAP_NOTIFY_DELETED);
		ck_assert_ptr_eq(log_[0].key, other);
		ck_assert_uint_eq(log_[1].event, QB_MAP_NOTIFY_FREE);
	}
}
END_TEST

START_TEST(test_notifier_order_and_removal)
{
	int a, b;
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		const int ev = QB_MAP_NOTIFY_INSERTED | QB_MAP_NOTIFY_RECURSIVE;
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, QB_MAP_NOTIFY_FREE, &a), 0);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, ev, &a), 0);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, ev, &b), 0);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, ev, &b), -EEXIST);
		log_reset();
		qb_map_put(m, "x", "1");
		/* newest first */
		ck_assert_int_eq(nlog, 2);
		ck_assert_ptr_eq(log_[0].user, &b);
		ck_assert_ptr_eq(log_[1].user, &a);

		ck_assert_int_eq(qb_map_notify_del_2(m, NULL, rec_cb, ev, &a), 0);
		ck_assert_int_eq(qb_map_notify_del_2(m, NULL, rec_cb, ev, &a), -ENOENT);
		log_reset();
		qb_map_put(m, "y", "2");
		ck_assert_int_eq(nlog, 1);
		ck_assert_ptr_eq(log_[0].user, &b);

		/* notify_del ignores user_data and removes every match */
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, ev, &a), 0);
		ck_assert_int_eq(qb_map_notify_del(m, NULL, rec_cb, ev), 0);
		ck_assert_int_eq(qb_map_notify_del(m, NULL, rec_cb, ev), -ENOENT);
		ck_assert_int_eq(qb_map_notify_del(m, NULL, other_cb, QB_MAP_NOTIFY_FREE), -ENOENT);
		log_reset();
		qb_map_put(m, "z", "3");
		ck_assert_int_eq(nlog, 0);
		/* events must match exactly */
		ck_assert_int_eq(qb_map_notify_del(m, NULL, rec_cb, QB_MAP_NOTIFY_FREE | 1), -ENOENT);
		ck_assert_int_eq(qb_map_notify_del(m, NULL, rec_cb, QB_MAP_NOTIFY_FREE), 0);
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_free_notifier_rules)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		qb_map_put(m, "present", "p");
		ck_assert_int_eq(qb_map_notify_add(m, "present", rec_cb, QB_MAP_NOTIFY_FREE, NULL), -EINVAL);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, QB_MAP_NOTIFY_FREE, NULL), 0);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, other_cb, QB_MAP_NOTIFY_FREE, NULL), -EEXIST);
		ck_assert_int_eq(qb_map_notify_add(m, NULL, other_cb,
						   QB_MAP_NOTIFY_FREE | QB_MAP_NOTIFY_DELETED, NULL), 0);
		log_reset();
		/* a FREE-only notifier hears FREE after each removal, never INSERTED */
		qb_map_put(m, "new", "n");
		ck_assert_int_eq(nlog, 0);
		qb_map_rm(m, "new");
		ck_assert_int_eq(nlog, 1);
		ck_assert_uint_eq(log_[0].event, QB_MAP_NOTIFY_FREE);
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_keyed_notifiers)
{
	int u;
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		int rc;
		qb_map_put(m, "watched", "1");
		qb_map_put(m, "other", "1");
		rc = qb_map_notify_add(m, "missing", rec_cb, QB_MAP_NOTIFY_DELETED, &u);
		if (k == K_HASH)
			ck_assert_int_eq(rc, -ENOENT);
		else if (k == K_SKIP)
			ck_assert_int_eq(rc, -EINVAL);
		else
			ck_assert_int_eq(rc, 0); /* the trie accepts keys not present yet */
		ck_assert_int_eq(qb_map_notify_add(m, "watched", rec_cb,
						   QB_MAP_NOTIFY_REPLACED | QB_MAP_NOTIFY_DELETED, &u), 0);
		ck_assert_int_eq(qb_map_notify_add(m, "watched", rec_cb,
						   QB_MAP_NOTIFY_REPLACED | QB_MAP_NOTIFY_DELETED, &u), -EEXIST);
		log_reset();
		qb_map_put(m, "other", "2");
		qb_map_rm(m, "other");
		ck_assert_int_eq(nlog, 0);
		qb_map_put(m, "watched", "2");
		ck_assert_int_eq(nlog, 1);
		ck_assert_uint_eq(log_[0].event, QB_MAP_NOTIFY_REPLACED);
		ck_assert_str_eq(log_[0].key, "watched");
		ck_assert_str_eq(log_[0].old_value, "1");
		ck_assert_str_eq(log_[0].value, "2");
		ck_assert_int_eq(qb_map_notify_del(m, "watched", rec_cb, QB_MAP_NOTIFY_REPLACED), -ENOENT);
		ck_assert_int_eq(qb_map_notify_del(m, "nowhere", rec_cb, QB_MAP_NOTIFY_REPLACED), -ENOENT);
		qb_map_rm(m, "watched");
		ck_assert_int_eq(nlog, 2);
		ck_assert_uint_eq(log_[1].event, QB_MAP_NOTIFY_DELETED);
		if (k == K_TRIE) {
			/* trie notifiers outlive the value */
			ck_assert_int_eq(qb_map_notify_del_2(m, "watched", rec_cb,
							     QB_MAP_NOTIFY_REPLACED | QB_MAP_NOTIFY_DELETED, &u), 0);
			ck_assert_int_eq(qb_map_notify_del(m, "missing", rec_cb, QB_MAP_NOTIFY_DELETED), 0);
		}
		qb_map_destroy(m);
	}
}
END_TEST

START_TEST(test_trie_recursive_notifiers)
{
	int pre, exact, root;
	qb_map_t *m = qb_trie_create();
	ck_assert_int_eq(qb_map_notify_add(m, "add", rec_cb,
					   QB_MAP_NOTIFY_INSERTED | QB_MAP_NOTIFY_DELETED |
					   QB_MAP_NOTIFY_REPLACED | QB_MAP_NOTIFY_RECURSIVE, &pre), 0);
	ck_assert_int_eq(qb_map_notify_add(m, "adder", rec_cb, QB_MAP_NOTIFY_INSERTED, &exact), 0);
	/* at the root, without RECURSIVE nothing is reported */
	ck_assert_int_eq(qb_map_notify_add(m, NULL, rec_cb, QB_MAP_NOTIFY_INSERTED, &root), 0);
	log_reset();

	qb_map_put(m, "adder", "snake");
	ck_assert_int_eq(nlog, 2);
	ck_assert_ptr_eq(log_[0].user, &exact); /* deepest node first */
	ck_assert_ptr_eq(log_[1].user, &pre);
	ck_assert_uint_eq(log_[1].event, QB_MAP_NOTIFY_INSERTED);

	qb_map_put(m, "adjust", "it");
	qb_map_put(m, "ad", "x");
	ck_assert_int_eq(nlog, 2);

	qb_map_put(m, "add", "self");
	ck_assert_int_eq(nlog, 3);
	ck_assert_str_eq(log_[2].key, "add");

	qb_map_put(m, "adder", "+++");
	ck_assert_int_eq(nlog, 4);
	ck_assert_uint_eq(log_[3].event, QB_MAP_NOTIFY_REPLACED);
	ck_assert_str_eq(log_[3].old_value, "snake");

	qb_map_rm(m, "adder");
	ck_assert_int_eq(nlog, 5);
	ck_assert_uint_eq(log_[4].event, QB_MAP_NOTIFY_DELETED);
	ck_assert_str_eq(log_[4].key, "adder");
	ck_assert_str_eq(log_[4].old_value, "+++");
	qb_map_destroy(m);
}
END_TEST

static int seen_in_callback;

static void iterate_cb(uint32_t event, char *key, void *old_value, void *value, void *user)
{
	qb_map_t *m = user;
	qb_map_iter_t *it = qb_map_iter_create(m);
	void *v;
	(void)event, (void)key, (void)old_value, (void)value;
	seen_in_callback = 0;
	while (qb_map_iter_next(it, &v) != NULL)
		seen_in_callback++;
	qb_map_iter_free(it);
}

/* A notifier may use the map; it sees the map without the removed entry. */
START_TEST(test_callback_reenters_map)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		qb_map_put(m, "k1", "1");
		qb_map_put(m, "k12", "2");
		qb_map_put(m, "k34", "3");
		ck_assert_int_eq(qb_map_notify_add(m, NULL, iterate_cb,
						   QB_MAP_NOTIFY_DELETED | QB_MAP_NOTIFY_RECURSIVE, m), 0);
		seen_in_callback = -1;
		ck_assert_int_eq(qb_map_rm(m, "k12"), QB_TRUE);
		ck_assert_int_eq(seen_in_callback, 2);
		ck_assert_uint_eq(qb_map_count_get(m), 2);
		ck_assert_int_eq(qb_map_notify_del(m, NULL, iterate_cb,
						   QB_MAP_NOTIFY_DELETED | QB_MAP_NOTIFY_RECURSIVE), 0);
		qb_map_destroy(m);
	}
}
END_TEST

/* A notifier that looks at the map while it is being destroyed. */
static int destroy_calls;

static void count_during_destroy(uint32_t event, char *key, void *old_value, void *value,
				 void *user)
{
	qb_map_t *m = user;
	(void)key, (void)old_value, (void)value;
	if (event == QB_MAP_NOTIFY_DELETED) {
		destroy_calls++;
		(void)qb_map_count_get(m);
		(void)qb_map_get(m, "k1");
	}
}

START_TEST(test_callback_uses_map_during_destroy)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		qb_map_put(m, "k1", "1");
		qb_map_put(m, "k2", "2");
		ck_assert_int_eq(qb_map_notify_add(m, NULL, count_during_destroy,
						   QB_MAP_NOTIFY_DELETED | QB_MAP_NOTIFY_RECURSIVE, m), 0);
		destroy_calls = 0;
		qb_map_destroy(m);
		ck_assert_int_ge(destroy_calls, 2);
	}
}
END_TEST

static void free_both(uint32_t event, char *key, void *old_value, void *value, void *user)
{
	int *frees = user;
	(void)value;
	/* key NULL: stock skiplist's list head at destroy */
	if (event == QB_MAP_NOTIFY_FREE && key != NULL) {
		free(key);
		free(old_value);
		(*frees)++;
	}
}

/* The usual ownership pattern: the map's FREE notifier owns heap keys/values. */
START_TEST(test_free_notifier_owns_memory)
{
	for (int k = 0; k < K_COUNT; k++) {
		qb_map_t *m = make(k);
		int frees = 0;
		ck_assert_int_eq(qb_map_notify_add(m, NULL, free_both, QB_MAP_NOTIFY_FREE, &frees), 0);
		for (int i = 0; i < 50; i++) {
			char buf[16];
			snprintf(buf, sizeof(buf), "k%d", i % 20);
			qb_map_put(m, strdup(buf), strdup(buf));
		}
		ck_assert_int_eq(frees, 30);
		ck_assert_uint_eq(qb_map_count_get(m), 20);
		ck_assert_int_eq(qb_map_rm(m, "k3"), QB_TRUE);
		ck_assert_int_eq(frees, 31);
		ck_assert_str_eq(qb_map_get(m, "k4"), "k4");
		qb_map_destroy(m);
		ck_assert_int_eq(frees, 50);
	}
}
END_TEST

START_TEST(test_trie_dump_runs)
{
	qb_map_t *m = qb_trie_create();
	qb_map_put(m, "a.b", "1");
	qb_map_put(m, "a.c", "2");
	qb_trie_dump(m);
	fflush(stdout);
	ck_assert_uint_eq(qb_map_count_get(m), 2);
	ck_assert_str_eq(qb_map_get(m, "a.c"), "2");
	qb_map_destroy(m);
}
END_TEST

/* NULL arguments are refused instead of crashing (stock dereferences them). */
START_TEST(test_null_arguments)
{
	qb_map_t *m;
	QBT_OURS_ONLY();
	m = qb_trie_create();
	qb_map_put(m, NULL, "x");
	ck_assert_uint_eq(qb_map_count_get(m), 0);
	ck_assert_ptr_null(qb_map_get(m, NULL));
	ck_assert_ptr_null(qb_map_get(NULL, "x"));
	ck_assert_int_eq(qb_map_rm(m, NULL), -EINVAL);
	ck_assert_int_eq(qb_map_notify_add(m, NULL, NULL, QB_MAP_NOTIFY_DELETED, NULL), -EINVAL);
	ck_assert_int_eq(qb_map_notify_add(NULL, NULL, rec_cb, QB_MAP_NOTIFY_DELETED, NULL), -EINVAL);
	ck_assert_int_eq(qb_map_notify_del(NULL, NULL, rec_cb, 1), -EINVAL);
	ck_assert_int_eq(qb_map_notify_del_2(NULL, NULL, rec_cb, 1, NULL), -EINVAL);
	ck_assert_uint_eq(qb_map_count_get(NULL), 0);
	ck_assert_ptr_null(qb_map_iter_create(NULL));
	ck_assert_ptr_null(qb_map_iter_next(NULL, NULL));
	qb_map_iter_free(NULL);
	qb_map_foreach(m, NULL, NULL);
	qb_trie_dump(NULL);
	qb_map_destroy(NULL);
	/* iter_next with a NULL value pointer still walks */
	qb_map_put(m, "k", "v");
	{
		qb_map_iter_t *it = qb_map_iter_create(m);
		ck_assert_str_eq(qb_map_iter_next(it, NULL), "k");
		ck_assert_ptr_null(qb_map_iter_next(it, NULL));
		ck_assert_ptr_null(qb_map_iter_next(it, NULL));
		qb_map_iter_free(it);
	}
	qb_map_destroy(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qbmap");
	QBT_ADD_TEST(s, test_put_get_rm_count);
	QBT_ADD_TEST(s, test_high_bytes);
	QBT_ADD_TEST(s, test_hashtable_grows_past_hint);
	QBT_ADD_TEST(s, test_hashtable_huge_hint);
	QBT_ADD_TEST(s, test_sorted_iteration);
	QBT_ADD_TEST(s, test_unordered_iteration_sees_all);
	QBT_ADD_TEST(s, test_trie_prefix_iteration);
	QBT_ADD_TEST(s, test_prefix_ignored_by_other_kinds);
	QBT_ADD_TEST(s, test_trie_null_value_and_empty_prefix);
	QBT_ADD_TEST(s, test_foreach_and_stop);
	QBT_ADD_TEST(s, test_delete_current_while_iterating);
	QBT_ADD_TEST(s, test_modify_while_iterating_sorted);
	QBT_ADD_TEST(s, test_iter_free_releases_entry);
	QBT_ADD_TEST(s, test_global_event_sequence);
	QBT_ADD_TEST(s, test_notifier_order_and_removal);
	QBT_ADD_TEST(s, test_free_notifier_rules);
	QBT_ADD_TEST(s, test_keyed_notifiers);
	QBT_ADD_TEST(s, test_trie_recursive_notifiers);
	QBT_ADD_TEST(s, test_callback_reenters_map);
	QBT_ADD_TEST(s, test_callback_uses_map_during_destroy);
	QBT_ADD_TEST(s, test_free_notifier_owns_memory);
	QBT_ADD_TEST(s, test_trie_dump_runs);
	QBT_ADD_TEST(s, test_null_arguments);
	return qbt_main(s);
}
