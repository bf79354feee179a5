/*
 * libqb-rs C tests: qbarray.h (growable array with stable element addresses).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include <qb/qbarray.h>

#include "qbtest.h"

struct rec {
	int64_t id;
	int32_t x, y;
	char tag[40];
};

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

START_TEST(test_create_rejects_bad_arguments)
{
	qb_array_t *a;

	errno = 0;
	a = qb_array_create(QB_ARRAY_MAX_ELEMENTS + 1, 8);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	a = qb_array_create((size_t)-3, 8);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	a = qb_array_create(20, 0);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	a = qb_array_create_2(20, 8, 17);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(errno, EINVAL);

	a = qb_array_create(QB_ARRAY_MAX_ELEMENTS, 8);
	ck_assert_ptr_nonnull(a);
	qb_array_free(a);
	a = qb_array_create_2(0, 1, 16);
	ck_assert_ptr_nonnull(a);
	qb_array_free(a);
}
END_TEST

START_TEST(test_index_errors)
{
	qb_array_t *a = qb_array_create(10, sizeof(struct rec));
	void *p = (void *)&p;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(qb_array_index(a, 10, &p), -ERANGE);
	ck_assert_int_eq(qb_array_index(a, 11000, &p), -ERANGE);
	ck_assert_int_eq(qb_array_index(a, -1, &p), -ERANGE);
	ck_assert_int_eq(qb_array_index(a, INT32_MIN, &p), -ERANGE);
	ck_assert_int_eq(qb_array_index(NULL, 0, &p), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, 0, NULL), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, -1, NULL), -EINVAL);
	/* failures leave the output alone */
	ck_assert_ptr_eq(p, (void *)&p);
	ck_assert_int_eq(qb_array_index(a, 9, &p), 0);
	ck_assert_ptr_ne(p, (void *)&p);
	qb_array_free(a);
}
END_TEST

START_TEST(test_elements_zeroed_distinct_and_kept)
{
	qb_array_t *a = qb_array_create(300, sizeof(struct rec));
	struct rec *r, *prev = NULL;
	int32_t i;

	ck_assert_ptr_nonnull(a);
	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(qb_array_index(a, i, (void **)&r), 0);
		ck_assert(all_zero(r, sizeof(*r)));
		/* elements of one bin are contiguous */
		if (prev != NULL && i % (int32_t)qb_array_elems_per_bin_get(a) != 0)
			ck_assert_ptr_eq(r, prev + 1);
		r->id = 1000 + i;
		r->x = i;
		r->y = -i;
		snprintf(r->tag, sizeof(r->tag), "rec-%d", i);
		prev = r;
	}
	for (i = 299; i >= 0; i--) {
		char want[40];

		ck_assert_int_eq(qb_array_index(a, i, (void **)&r), 0);
		ck_assert_int_eq(r->id, 1000 + i);
		ck_assert_int_eq(r->x, i);
		ck_assert_int_eq(r->y, -i);
		snprintf(want, sizeof(want), "rec-%d", i);
		ck_assert_str_eq(r->tag, want);
	}
	qb_array_free(a);
}
END_TEST

START_TEST(test_addresses_survive_grow)
{
	qb_array_t *a = qb_array_create(50, sizeof(int64_t));
	int64_t *first[50], *p;
	int32_t i;

	ck_assert_ptr_nonnull(a);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(qb_array_index(a, i, (void **)&first[i]), 0);
		*first[i] = i * 3;
	}
	ck_assert_int_eq(qb_array_index(a, 50, (void **)&p), -ERANGE);
	ck_assert_int_eq(qb_array_grow(a, 5000), 0);
	ck_assert_int_eq(qb_array_index(a, 4999, (void **)&p), 0);
	ck_assert(all_zero(p, sizeof(*p)));
	*p = 77;
	ck_assert_int_eq(qb_array_index(a, 5000, (void **)&p), -ERANGE);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(qb_array_index(a, i, (void **)&p), 0);
		ck_assert_ptr_eq(p, first[i]);
		ck_assert_int_eq(*p, i * 3);
	}
	/* growing to a smaller size is a successful no-op */
	ck_assert_int_eq(qb_array_grow(a, 10), 0);
	ck_assert_int_eq(qb_array_index(a, 4999, (void **)&p), 0);
	ck_assert_int_eq(*p, 77);
	qb_array_free(a);
}
END_TEST

START_TEST(test_grow_limits)
{
	qb_array_t *a = qb_array_create(16, 4);
	void *p;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(qb_array_grow(NULL, 20), -EINVAL);
	ck_assert_int_eq(qb_array_grow(a, QB_ARRAY_MAX_ELEMENTS + 1), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, 16, &p), -ERANGE);
	ck_assert_int_eq(qb_array_grow(a, QB_ARRAY_MAX_ELEMENTS), 0);
	ck_assert_int_eq(qb_array_index(a, QB_ARRAY_MAX_ELEMENTS - 1, &p), 0);
	ck_assert_int_eq(qb_array_index(a, QB_ARRAY_MAX_ELEMENTS, &p), -ERANGE);
	qb_array_free(a);
}
END_TEST

START_TEST(test_bin_counts)
{
	qb_array_t *a = qb_array_create(10, 4);
	qb_array_t *big = qb_array_create(QB_ARRAY_MAX_ELEMENTS, 4);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(qb_array_elems_per_bin_get(a), 16);
	ck_assert_uint_eq(qb_array_num_bins_get(a), 1);
	ck_assert_int_eq(qb_array_grow(a, 100), 0);
	ck_assert_uint_eq(qb_array_num_bins_get(a), 8);
	ck_assert_uint_eq(qb_array_num_bins_get(big),
			  QB_ARRAY_MAX_ELEMENTS / 16);
	ck_assert_uint_eq(qb_array_num_bins_get(NULL), (size_t)-EINVAL);
	ck_assert_uint_eq(qb_array_elems_per_bin_get(NULL), (size_t)-EINVAL);
	qb_array_free(a);
	qb_array_free(big);
}
END_TEST

START_TEST(test_autogrow)
{
	qb_array_t *a = qb_array_create_2(4, sizeof(int32_t), 4);
	qb_array_t *fixed = qb_array_create_2(4, sizeof(int32_t), 0);
	int32_t *p, *p2;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(fixed);
	ck_assert_int_eq(qb_array_index(fixed, 4, (void **)&p), -ERANGE);
	ck_assert_int_eq(qb_array_index(a, 2, (void **)&p2), 0);
	*p2 = 22;
	ck_assert_int_eq(qb_array_index(a, 100, (void **)&p), 0);
	ck_assert(all_zero(p, sizeof(*p)));
	ck_assert_uint_eq(qb_array_num_bins_get(a), 8);
	ck_assert_int_eq(qb_array_index(a, QB_ARRAY_MAX_ELEMENTS - 1,
					(void **)&p), 0);
	/* past the absolute limit: a clean error, not a crash */
	ck_assert_int_eq(qb_array_index(a, QB_ARRAY_MAX_ELEMENTS,
					(void **)&p), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, INT32_MAX, (void **)&p), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, 2, (void **)&p), 0);
	ck_assert_ptr_eq(p, p2);
	ck_assert_int_eq(*p, 22);
	qb_array_free(a);
	qb_array_free(fixed);
}
END_TEST

static uint32_t bins_seen[64];
static int bins_calls;
static qb_array_t *cb_array;

static void on_new_bin(qb_array_t *a, uint32_t bin)
{
	void *p;

	ck_assert_ptr_eq(a, cb_array);
	if (bins_calls < 64)
		bins_seen[bins_calls] = bin;
	bins_calls++;
	/* called without the array's lock: indexing an existing bin is fine */
	ck_assert_int_eq(qb_array_index(a, (int32_t)bin * 16, &p), 0);
}

START_TEST(test_new_bin_callback)
{
	qb_array_t *a = qb_array_create(200, 8);
	void *p;

	ck_assert_ptr_nonnull(a);
	cb_array = a;
	bins_calls = 0;
	ck_assert_int_eq(qb_array_new_bin_cb_set(NULL, on_new_bin), -EINVAL);
	ck_assert_int_eq(qb_array_index(a, 0, &p), 0); /* bin 0, no cb yet */
	ck_assert_int_eq(qb_array_new_bin_cb_set(a, on_new_bin), 0);
	ck_assert_int_eq(qb_array_index(a, 1, &p), 0);
	ck_assert_int_eq(bins_calls, 0);
	ck_assert_int_eq(qb_array_index(a, 35, &p), 0);
	ck_assert_int_eq(qb_array_index(a, 33, &p), 0);
	ck_assert_int_eq(qb_array_index(a, 199, &p), 0);
	ck_assert_int_eq(qb_array_index(a, 16, &p), 0);
	ck_assert_int_eq(bins_calls, 3);
	ck_assert_uint_eq(bins_seen[0], 2);
	ck_assert_uint_eq(bins_seen[1], 12);
	ck_assert_uint_eq(bins_seen[2], 1);
	/* a failed index allocates nothing */
	ck_assert_int_eq(qb_array_index(a, 200, &p), -ERANGE);
	ck_assert_int_eq(bins_calls, 3);
	ck_assert_int_eq(qb_array_new_bin_cb_set(a, NULL), 0);
	ck_assert_int_eq(qb_array_index(a, 50, &p), 0);
	ck_assert_int_eq(bins_calls, 3);
	qb_array_free(a);
}
END_TEST

#define THREADS 4
#define PER_THREAD 2000

static qb_array_t *shared;

static void *indexer(void *arg)
{
	intptr_t t = (intptr_t)arg;
	int32_t i;

	for (i = 0; i < PER_THREAD; i++) {
		int32_t idx = i * THREADS + (int32_t)t;
		int64_t *p;

		if (qb_array_index(shared, idx, (void **)&p) != 0 || *p != 0)
			return (void *)1;
		*p = idx + 1;
	}
	return NULL;
}

START_TEST(test_concurrent_autogrow_index)
{
	pthread_t th[THREADS];
	void *rv;
	intptr_t t;
	int32_t i;

	shared = qb_array_create_2(1, sizeof(int64_t), 16);
	ck_assert_ptr_nonnull(shared);
	for (t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, indexer, (void *)t), 0);
	for (t = 0; t < THREADS; t++) {
		ck_assert_int_eq(pthread_join(th[t], &rv), 0);
		ck_assert_ptr_null(rv);
	}
	for (i = 0; i < THREADS * PER_THREAD; i++) {
		int64_t *p;

		ck_assert_int_eq(qb_array_index(shared, i, (void **)&p), 0);
		ck_assert_int_eq(*p, i + 1);
	}
	qb_array_free(shared);
}
END_TEST

/* Resident memory of this process, in bytes. */
static long resident_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * 4096;
}

START_TEST(test_huge_elements)
{
	qb_array_t *a;
	void *p = NULL;
	long before, grown;
	int32_t rc;

	/* Bins that cannot exist: a clean ENOMEM. */
	a = qb_array_create(4, SIZE_MAX / 4);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(qb_array_index(a, 0, &p), -ENOMEM);
	qb_array_free(a);
	a = qb_array_create(4, SIZE_MAX / 32);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(qb_array_index(a, 0, &p), -ENOMEM);
	qb_array_free(a);

	/* A big bin (16 x 16 MiB) is zeroed lazily, as calloc does: indexing one
	 * element does not make the whole bin resident. */
	a = qb_array_create(4, (size_t)16 << 20);
	ck_assert_ptr_nonnull(a);
	before = resident_bytes();
	rc = qb_array_index(a, 3, &p);
	if (rc == 0) {
		grown = resident_bytes() - before;
		ck_assert_int_lt(grown, 64L << 20);
		ck_assert(all_zero(p, 4096));
	} else {
		ck_assert_int_eq(rc, -ENOMEM);
	}
	qb_array_free(a);
}
END_TEST

START_TEST(test_free_null_is_harmless)
{
	QBT_OURS_ONLY(); /* stock dereferences NULL */
	qb_array_free(NULL);
	ck_assert_int_eq(qb_array_grow(NULL, 1), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qbarray");

	QBT_ADD_TEST(s, test_create_rejects_bad_arguments);
	QBT_ADD_TEST(s, test_index_errors);
	QBT_ADD_TEST(s, test_elements_zeroed_distinct_and_kept);
	QBT_ADD_TEST(s, test_addresses_survive_grow);
	QBT_ADD_TEST(s, test_grow_limits);
	QBT_ADD_TEST(s, test_bin_counts);
	QBT_ADD_TEST(s, test_autogrow);
	QBT_ADD_TEST(s, test_new_bin_callback);
	QBT_ADD_TEST(s, test_concurrent_autogrow_index);
	QBT_ADD_TEST(s, test_huge_elements);
	QBT_ADD_TEST(s, test_free_null_is_harmless);
	return qbt_main(s);
}
