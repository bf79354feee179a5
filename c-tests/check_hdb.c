/*
 * libqb-rs C tests: qbhdb.h (handle database).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include <qb/qbdefs.h>
#include <qb/qbhdb.h>

#include "qbtest.h"

struct obj {
	uint64_t self;  /* the handle this instance belongs to */
	int64_t value;
	char pad[48];
};

static int destructed;
static void *last_destructed;

static void count_destructor(void *instance)
{
	destructed++;
	last_destructed = instance;
}

static uint32_t index_of(qb_handle_t h)
{
	return (uint32_t)(h & 0xffffffffu);
}

static uint32_t check_of(qb_handle_t h)
{
	return (uint32_t)(h >> 32);
}

/* A database declared like corosync's client libraries do: never passed to
 * qb_hdb_create(). */
QB_HDB_DECLARE(static_db, count_destructor)

START_TEST(test_declared_db_needs_no_create)
{
	qb_handle_t h;
	struct obj *o;
	int i;

	ck_assert_uint_eq(static_db.first_run, QB_TRUE);
	ck_assert_ptr_null(static_db.handles);
	destructed = 0;
	ck_assert_int_eq(qb_hdb_handle_create(&static_db, sizeof(struct obj), &h), 0);
	ck_assert_uint_eq(static_db.first_run, QB_FALSE);
	ck_assert_ptr_nonnull(static_db.handles);
	ck_assert_uint_eq(static_db.handle_count, 1);
	ck_assert_uint_eq(index_of(h), 0);
	ck_assert_uint_gt(check_of(h), 0);
	ck_assert_uint_le(check_of(h), INT32_MAX);
	ck_assert_uint_eq(qb_hdb_base_convert(h), 0);

	ck_assert_int_eq(qb_hdb_handle_get(&static_db, h, (void **)&o), 0);
	for (i = 0; i < (int)sizeof(*o); i++)
		ck_assert_int_eq(((unsigned char *)o)[i], 0);
	o->value = 5;
	ck_assert_int_eq(qb_hdb_handle_put(&static_db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&static_db, h), 0);
	ck_assert_int_eq(destructed, 1);
	ck_assert_ptr_eq(last_destructed, o);
}
END_TEST

QB_HDB_DECLARE(untouched_db, NULL)

START_TEST(test_declared_db_first_use_by_get)
{
	void *p = (void *)&p;
	qb_handle_t h;

	/* the first call on a declared database may be any function */
	ck_assert_int_eq(qb_hdb_handle_get(&untouched_db, 0, &p), -EBADF);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(qb_hdb_handle_put(&untouched_db, 0), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_create(&untouched_db, 8, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&untouched_db, h), 1);
	ck_assert_int_eq(qb_hdb_handle_destroy(&untouched_db, h), 0);
}
END_TEST

START_TEST(test_refcount_lifecycle)
{
	struct qb_hdb db;
	qb_handle_t h;
	struct obj *o, *o2;

	memset(&db, 0xa5, sizeof(db));
	qb_hdb_create(&db);
	ck_assert_ptr_null((void *)db.destructor); /* create resets it */
	db.destructor = count_destructor;
	destructed = 0;

	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &h), 0);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 1);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o), 0);
	o->self = h;
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 2);
	ck_assert_int_eq(qb_hdb_handle_get_always(&db, h, (void **)&o2), 0);
	ck_assert_ptr_eq(o, o2);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 3);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 1);

	/* destroy with a reference outstanding: no new references, no destructor */
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), 0);
	ck_assert_int_eq(destructed, 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o2), -EBADF);
	ck_assert_ptr_null(o2);
	ck_assert_int_eq(qb_hdb_handle_get_always(&db, h, (void **)&o2), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 1);
	ck_assert_uint_eq(o->self, h); /* still usable by the holder */

	/* the last put runs the destructor; the handle is gone */
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(destructed, 1);
	ck_assert_ptr_eq(last_destructed, o);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o2), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), -EBADF);
	ck_assert_int_eq(destructed, 1);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_stale_handle_after_reuse)
{
	struct qb_hdb db;
	qb_handle_t old, fresh;
	struct obj *o;
	void *p;

	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &old), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, old), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &fresh), 0);
	ck_assert_uint_eq(index_of(fresh), index_of(old));
	ck_assert_uint_ne(check_of(fresh), check_of(old));
	ck_assert_int_eq(qb_hdb_handle_get(&db, old, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_put(&db, old), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, old), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, old), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, fresh), 1);

	/* a reused slot's instance is zeroed again */
	ck_assert_int_eq(qb_hdb_handle_get(&db, fresh, (void **)&o), 0);
	ck_assert_uint_eq(o->self, 0);
	ck_assert_int_eq(o->value, 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, fresh), 0);

	/* wrong check bits, unknown indices */
	ck_assert_int_eq(qb_hdb_handle_get(&db, fresh ^ (1ULL << 40), &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_get(&db, fresh & 0xffffffffu, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_get(&db, fresh + 1, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_get(&db, fresh | 0x7fffffffu, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, fresh + 5), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, fresh + 5), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, fresh), 0);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_lowest_free_index_is_reused)
{
	struct qb_hdb db;
	qb_handle_t h[6], n;
	int i;

	qb_hdb_create(&db);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(qb_hdb_handle_create(&db, 16, &h[i]), 0);
		ck_assert_uint_eq(index_of(h[i]), i);
	}
	ck_assert_uint_eq(db.handle_count, 5);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[3]), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[1]), 0);
	ck_assert_uint_eq(db.handle_count, 5);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 16, &n), 0);
	ck_assert_uint_eq(index_of(n), 1);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 16, &n), 0);
	ck_assert_uint_eq(index_of(n), 3);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 16, &n), 0);
	ck_assert_uint_eq(index_of(n), 5);
	ck_assert_uint_eq(db.handle_count, 6);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_nocheck_and_base_convert)
{
	struct qb_hdb db;
	qb_handle_t h, any;
	struct obj *o, *o2;

	ck_assert_uint_eq(qb_hdb_nocheck_convert(7), 0xffffffff00000007ULL);
	ck_assert_uint_eq(qb_hdb_base_convert(0x1234567800000abcULL), 0xabc);
	ck_assert_uint_eq(qb_hdb_base_convert(qb_hdb_nocheck_convert(99)), 99);

	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 8, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &h), 0);
	any = qb_hdb_nocheck_convert(qb_hdb_base_convert(h));
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, any, (void **)&o2), 0);
	ck_assert_ptr_eq(o, o2);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, any), 3);
	ck_assert_int_eq(qb_hdb_handle_put(&db, any), 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, any), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&o), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_get(&db, any, (void **)&o), -EBADF);
	/* an empty slot reports 0 references to a nocheck probe */
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, any), 0);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, qb_hdb_nocheck_convert(2)), -EBADF);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_iteration)
{
	struct qb_hdb db;
	qb_handle_t h[5], got;
	struct obj *o;
	int i, n;

	qb_hdb_create(&db);
	qb_hdb_iterator_reset(&db);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), -1);

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &h[i]), 0);
		ck_assert_int_eq(qb_hdb_handle_get(&db, h[i], (void **)&o), 0);
		o->self = h[i];
		ck_assert_int_eq(qb_hdb_handle_put(&db, h[i]), 0);
	}
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[1]), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[4]), 0);

	/* live handles in index order, each with a reference taken */
	qb_hdb_iterator_reset(&db);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), 0);
	ck_assert_uint_eq(got, h[0]);
	ck_assert_uint_eq(o->self, h[0]);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, got), 2);
	ck_assert_int_eq(qb_hdb_handle_put(&db, got), 0);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), 0);
	ck_assert_uint_eq(got, h[2]);
	ck_assert_uint_eq(o->self, h[2]);
	ck_assert_int_eq(qb_hdb_handle_put(&db, got), 0);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), 0);
	ck_assert_uint_eq(got, h[3]);
	ck_assert_int_eq(qb_hdb_handle_put(&db, got), 0);
	/* the last slot is empty: libqb reports that slot's -EBADF, then -1 */
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), -EBADF);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, (void **)&o, &got), -1);

	/* reset starts over; a pending handle is skipped */
	ck_assert_int_eq(qb_hdb_handle_get(&db, h[3], (void **)&o), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[3]), 0);
	qb_hdb_iterator_reset(&db);
	n = 0;
	while (qb_hdb_iterator_next(&db, (void **)&o, &got) == 0) {
		ck_assert_uint_eq(o->self, got);
		ck_assert_int_eq(qb_hdb_handle_put(&db, got), 0);
		n++;
	}
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h[3]), 0);

	/* a live last slot ends with -1 */
	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &got), 0);
	ck_assert_uint_eq(index_of(got), 1);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[0]), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[2]), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &h[4]), 0);
	ck_assert_uint_eq(index_of(h[4]), 0);
	qb_hdb_iterator_reset(&db);
	n = 0;
	while (qb_hdb_iterator_next(&db, (void **)&o, &h[0]) == 0) {
		ck_assert_int_eq(qb_hdb_handle_put(&db, h[0]), 0);
		n++;
	}
	ck_assert_int_eq(n, 2);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_instance_sizes)
{
	struct qb_hdb db;
	qb_handle_t h;
	unsigned char *big;
	void *p;
	int i;

	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 0, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, &p), 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 1 << 20, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, (void **)&big), 0);
	for (i = 0; i < (1 << 20); i += 4093)
		ck_assert_int_eq(big[i], 0);
	big[(1 << 20) - 1] = 1;
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, -1, &h), -ENOMEM);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_destroy_db)
{
	struct qb_hdb db;
	qb_handle_t h, h2;
	void *p;

	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 32, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 32, &h2), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h2, &p), 0);
	qb_hdb_destroy(&db);
	ck_assert_ptr_null(db.handles);
	ck_assert_uint_eq(db.handle_count, 0);
	ck_assert_uint_eq(db.first_run, 0);
	/* a destroyed database refuses everything until created again */
	ck_assert_int_eq(qb_hdb_handle_create(&db, 32, &h), -EINVAL);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h2, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h2), -EBADF);
	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 32, &h), 0);
	ck_assert_uint_eq(index_of(h), 0);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_many_handles)
{
	struct qb_hdb db;
	static qb_handle_t h[3000];
	struct obj *o;
	int i;

	qb_hdb_create(&db);
	for (i = 0; i < 3000; i++) {
		ck_assert_int_eq(qb_hdb_handle_create(&db, sizeof(struct obj), &h[i]), 0);
		ck_assert_int_eq(qb_hdb_handle_get(&db, h[i], (void **)&o), 0);
		o->self = h[i];
		ck_assert_int_eq(qb_hdb_handle_put(&db, h[i]), 0);
	}
	for (i = 0; i < 3000; i += 2)
		ck_assert_int_eq(qb_hdb_handle_destroy(&db, h[i]), 0);
	for (i = 0; i < 3000; i++) {
		int rc = qb_hdb_handle_get(&db, h[i], (void **)&o);

		if (i % 2 == 0) {
			ck_assert_int_eq(rc, -EBADF);
		} else {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(o->self, h[i]);
			ck_assert_int_eq(qb_hdb_handle_put(&db, h[i]), 0);
		}
	}
	ck_assert_uint_eq(db.handle_count, 3000);
	qb_hdb_destroy(&db);
}
END_TEST

/* --- deliberately stricter than stock ------------------------------------ */

START_TEST(test_double_destroy_keeps_holders_reference)
{
	struct qb_hdb db;
	qb_handle_t h;
	void *p;

	QBT_OURS_ONLY(); /* stock drops a second reference (use after free) */
	qb_hdb_create(&db);
	db.destructor = count_destructor;
	destructed = 0;
	ck_assert_int_eq(qb_hdb_handle_create(&db, 8, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, &p), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 1);
	ck_assert_int_eq(destructed, 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, h), 0);
	ck_assert_int_eq(destructed, 1);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_put_on_empty_slot_is_refused)
{
	struct qb_hdb db;
	qb_handle_t h;

	QBT_OURS_ONLY(); /* stock drives the count negative */
	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 8, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, h), 0);
	ck_assert_int_eq(qb_hdb_handle_put(&db, qb_hdb_nocheck_convert(0)), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, qb_hdb_nocheck_convert(0)), 0);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, qb_hdb_nocheck_convert(0)), -EBADF);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_null_arguments)
{
	struct qb_hdb db;
	qb_handle_t h;
	void *p;

	QBT_OURS_ONLY(); /* stock dereferences them */
	qb_hdb_create(NULL);
	qb_hdb_destroy(NULL);
	qb_hdb_iterator_reset(NULL);
	ck_assert_int_eq(qb_hdb_handle_create(NULL, 8, &h), -EINVAL);
	ck_assert_int_eq(qb_hdb_handle_get(NULL, 0, &p), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_put(NULL, 0), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_destroy(NULL, 0), -EBADF);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(NULL, 0), -EBADF);
	qb_hdb_create(&db);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 8, NULL), -EINVAL);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 8, &h), 0);
	ck_assert_int_eq(qb_hdb_handle_get(&db, h, NULL), -EINVAL);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, NULL, &h), -EINVAL);
	ck_assert_int_eq(qb_hdb_iterator_next(&db, &p, NULL), -EINVAL);
	ck_assert_int_eq(qb_hdb_handle_refcount_get(&db, h), 1);
	qb_hdb_destroy(&db);
}
END_TEST

START_TEST(test_slot_limit)
{
	struct qb_hdb db;
	qb_handle_t h;
	uint32_t i;

	QBT_OURS_ONLY(); /* stock: same limit, but its linear scan makes this slow */
	qb_hdb_create(&db);
	for (i = 0; i < QB_ARRAY_MAX_ELEMENTS; i++)
		ck_assert_int_eq(qb_hdb_handle_create(&db, 1, &h), 0);
	ck_assert_uint_eq(index_of(h), QB_ARRAY_MAX_ELEMENTS - 1);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 1, &h), -EINVAL);
	ck_assert_int_eq(qb_hdb_handle_destroy(&db, qb_hdb_nocheck_convert(4321)), 0);
	ck_assert_int_eq(qb_hdb_handle_create(&db, 1, &h), 0);
	ck_assert_uint_eq(index_of(h), 4321);
	qb_hdb_destroy(&db);
}
END_TEST

/* --- threads -------------------------------------------------------------- */

#define THREADS 4
#define SHARED 64
#define ROUNDS 20000

static struct qb_hdb tdb;
static qb_handle_t shared_h[SHARED];
static pthread_barrier_t start;
static int tdestructed;

static void atomic_destructor(void *instance)
{
	struct obj *o = instance;

	o->value = -1; /* a getter must never see this */
	__atomic_fetch_add(&tdestructed, 1, __ATOMIC_SEQ_CST);
}

static void *get_put_worker(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	uint32_t x = (uint32_t)t * 7919u + 1;
	int i;

	pthread_barrier_wait(&start);
	for (i = 0; i < ROUNDS; i++) {
		struct obj *o;
		int k;

		x = x * 1103515245u + 12345u;
		k = (x >> 8) % SHARED;
		if (qb_hdb_handle_get(&tdb, shared_h[k], (void **)&o) != 0 ||
		    o->self != shared_h[k] || o->value != k)
			return (void *)1;
		if (qb_hdb_handle_put(&tdb, shared_h[k]) != 0)
			return (void *)2;
	}
	return NULL;
}

static void setup_shared(void)
{
	int k;

	memset(&tdb, 0, sizeof(tdb));
	qb_hdb_create(&tdb);
	tdb.destructor = atomic_destructor;
	tdestructed = 0;
	for (k = 0; k < SHARED; k++) {
		struct obj *o;

		ck_assert_int_eq(qb_hdb_handle_create(&tdb, sizeof(struct obj), &shared_h[k]), 0);
		ck_assert_int_eq(qb_hdb_handle_get(&tdb, shared_h[k], (void **)&o), 0);
		o->self = shared_h[k];
		o->value = k;
		ck_assert_int_eq(qb_hdb_handle_put(&tdb, shared_h[k]), 0);
	}
}

static void run_workers(void *(*fn)(void *))
{
	pthread_t th[THREADS];
	uintptr_t t;
	void *rv;

	ck_assert_int_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, fn, (void *)t), 0);
	for (t = 0; t < THREADS; t++) {
		ck_assert_int_eq(pthread_join(th[t], &rv), 0);
		ck_assert_ptr_null(rv);
	}
	pthread_barrier_destroy(&start);
}

START_TEST(test_threads_get_put)
{
	int k;

	setup_shared();
	run_workers(get_put_worker);
	for (k = 0; k < SHARED; k++)
		ck_assert_int_eq(qb_hdb_handle_refcount_get(&tdb, shared_h[k]), 1);
	ck_assert_int_eq(tdestructed, 0);
	qb_hdb_destroy(&tdb);
}
END_TEST

/* Published handle that creator threads keep replacing while readers get it. */
static qb_handle_t volatile_h[THREADS];
static int created_total;

static void *churn_worker(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	uint32_t x = (uint32_t)t * 31u + 7;
	int i;

	pthread_barrier_wait(&start);
	for (i = 0; i < ROUNDS; i++) {
		qb_handle_t h, other;
		struct obj *o;
		int rc;

		/* create, publish, maybe hold a reference, destroy */
		if (qb_hdb_handle_create(&tdb, sizeof(struct obj), &h) != 0)
			return (void *)1;
		__atomic_fetch_add(&created_total, 1, __ATOMIC_SEQ_CST);
		if (qb_hdb_handle_get(&tdb, h, (void **)&o) != 0 || o->self != 0)
			return (void *)2;
		o->self = h;
		o->value = 1000 + (int64_t)t;
		if (qb_hdb_handle_put(&tdb, h) != 0)
			return (void *)3;
		__atomic_store_n(&volatile_h[t], h, __ATOMIC_SEQ_CST);

		/* race with other threads' destroy: a get either fails or yields a
		 * live, intact instance */
		x = x * 1103515245u + 12345u;
		other = __atomic_load_n(&volatile_h[(x >> 8) % THREADS], __ATOMIC_SEQ_CST);
		if (other != 0) {
			rc = qb_hdb_handle_get(&tdb, other, (void **)&o);
			if (rc == 0) {
				if (o->self != other || o->value < 1000)
					return (void *)4;
				if (qb_hdb_handle_put(&tdb, other) != 0)
					return (void *)5;
			} else if (rc != -EBADF) {
				return (void *)6;
			}
		}
		if (qb_hdb_handle_destroy(&tdb, h) != 0)
			return (void *)7;
		if (qb_hdb_handle_get(&tdb, h, (void **)&o) != -EBADF)
			return (void *)8;
	}
	return NULL;
}

START_TEST(test_threads_create_destroy_race)
{
	int k;

	QBT_OURS_ONLY(); /* stock's create and get/destroy are not race-free */
	setup_shared();
	created_total = 0;
	memset(volatile_h, 0, sizeof(volatile_h));
	run_workers(churn_worker);
	ck_assert_int_eq(tdestructed, created_total);
	ck_assert_int_eq(created_total, THREADS * ROUNDS);
	for (k = 0; k < SHARED; k++)
		ck_assert_int_eq(qb_hdb_handle_refcount_get(&tdb, shared_h[k]), 1);
	/* slots were recycled: each thread owns at most one handle and may be
	 * finishing the release of one more */
	ck_assert_uint_le(tdb.handle_count, SHARED + 2 * THREADS);
	qb_hdb_destroy(&tdb);
}
END_TEST

QB_HDB_DECLARE(race_db, NULL)
static qb_handle_t race_h[THREADS];

static void *first_use_worker(void *arg)
{
	uintptr_t t = (uintptr_t)arg;

	pthread_barrier_wait(&start);
	if (qb_hdb_handle_create(&race_db, 16, &race_h[t]) != 0)
		return (void *)1;
	return NULL;
}

START_TEST(test_threads_race_first_use)
{
	int i, j;

	QBT_OURS_ONLY(); /* stock's lazy initialisation is not thread-safe */
	run_workers(first_use_worker);
	/* all handles live in one table, in distinct slots */
	for (i = 0; i < THREADS; i++) {
		void *p;

		ck_assert_int_eq(qb_hdb_handle_get(&race_db, race_h[i], &p), 0);
		ck_assert_int_eq(qb_hdb_handle_refcount_get(&race_db, race_h[i]), 2);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(index_of(race_h[i]), index_of(race_h[j]));
		ck_assert_uint_lt(index_of(race_h[i]), THREADS);
	}
	ck_assert_uint_eq(race_db.handle_count, THREADS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qbhdb");

	QBT_ADD_TEST(s, test_declared_db_needs_no_create);
	QBT_ADD_TEST(s, test_declared_db_first_use_by_get);
	QBT_ADD_TEST(s, test_refcount_lifecycle);
	QBT_ADD_TEST(s, test_stale_handle_after_reuse);
	QBT_ADD_TEST(s, test_lowest_free_index_is_reused);
	QBT_ADD_TEST(s, test_nocheck_and_base_convert);
	QBT_ADD_TEST(s, test_iteration);
	QBT_ADD_TEST(s, test_instance_sizes);
	QBT_ADD_TEST(s, test_destroy_db);
	QBT_ADD_TEST(s, test_many_handles);
	QBT_ADD_TEST(s, test_double_destroy_keeps_holders_reference);
	QBT_ADD_TEST(s, test_put_on_empty_slot_is_refused);
	QBT_ADD_TEST(s, test_null_arguments);
	QBT_ADD_TEST(s, test_slot_limit);
	QBT_ADD_TEST(s, test_threads_get_put);
	QBT_ADD_TEST(s, test_threads_create_destroy_race);
	QBT_ADD_TEST(s, test_threads_race_first_use);
	return qbt_main(s);
}
