/*
 * libqb-rs C tests for <qb/qbatomic.h>: the nine functions and the accessor
 * macros (which, with QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED, call the library).
 */
#include <pthread.h>
#include <stdint.h>

#include <qb/qbatomic.h>

#include "qbtest.h"

#define THREADS 4
#define ROUNDS 100000

START_TEST(test_init_is_harmless)
{
	int32_t v = 3;

	qb_atomic_init();
	qb_atomic_init();
	ck_assert_int_eq(qb_atomic_int_get(&v), 3);
}
END_TEST

START_TEST(test_int_exchange_and_add)
{
	volatile int32_t v = 10;

	ck_assert_int_eq(qb_atomic_int_exchange_and_add(&v, 5), 10);
	ck_assert_int_eq(v, 15);
	ck_assert_int_eq(qb_atomic_int_exchange_and_add(&v, -20), 15);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(qb_atomic_int_exchange_and_add(&v, 0), -5);
	ck_assert_int_eq(v, -5);

	/* wraps around like two's complement */
	v = INT32_MAX;
	ck_assert_int_eq(qb_atomic_int_exchange_and_add(&v, 1), INT32_MAX);
	ck_assert_int_eq(v, INT32_MIN);
}
END_TEST

START_TEST(test_int_add_inc_dec)
{
	volatile int32_t v = 0;

	qb_atomic_int_add(&v, 7);
	ck_assert_int_eq(v, 7);
	qb_atomic_int_add(&v, -9);
	ck_assert_int_eq(v, -2);

	v = 1;
	qb_atomic_int_inc(&v);
	ck_assert_int_eq(v, 2);
	ck_assert(!qb_atomic_int_dec_and_test(&v));
	ck_assert_int_eq(v, 1);
	ck_assert(qb_atomic_int_dec_and_test(&v));
	ck_assert_int_eq(v, 0);
	ck_assert(!qb_atomic_int_dec_and_test(&v));
	ck_assert_int_eq(v, -1);
}
END_TEST

START_TEST(test_int_compare_and_exchange)
{
	volatile int32_t v = 4;

	ck_assert_int_eq(qb_atomic_int_compare_and_exchange(&v, 5, 9), QB_FALSE);
	ck_assert_int_eq(v, 4);
	ck_assert_int_eq(qb_atomic_int_compare_and_exchange(&v, 4, 9), QB_TRUE);
	ck_assert_int_eq(v, 9);
	ck_assert_int_eq(qb_atomic_int_compare_and_exchange(&v, 9, INT32_MIN), QB_TRUE);
	ck_assert_int_eq(v, INT32_MIN);
}
END_TEST

START_TEST(test_pointer_compare_and_exchange)
{
	int a, b;
	void *cell = NULL;
	/* the prototype's odd "volatile void **" wants a cast, as in libqb */
	volatile void **pc = (volatile void **)&cell;

	ck_assert_int_eq(qb_atomic_pointer_compare_and_exchange(pc, &a, &b), QB_FALSE);
	ck_assert_ptr_null(cell);
	ck_assert_int_eq(qb_atomic_pointer_compare_and_exchange(pc, NULL, &a), QB_TRUE);
	ck_assert_ptr_eq(cell, &a);
	ck_assert_int_eq(qb_atomic_pointer_compare_and_exchange(pc, &a, &b), QB_TRUE);
	ck_assert_ptr_eq(cell, &b);
	ck_assert_int_eq(qb_atomic_pointer_compare_and_exchange(pc, &a, NULL), QB_FALSE);
	ck_assert_ptr_eq(cell, &b);
}
END_TEST

/* The accessor macros (size check + call of the same-named function). */
START_TEST(test_get_set_macros)
{
	int32_t v = 0;
	int x;
	void *p = NULL;

	qb_atomic_int_set(&v, 1234);
	ck_assert_int_eq(v, 1234);
	ck_assert_int_eq(qb_atomic_int_get(&v), 1234);
	qb_atomic_int_set(&v, -1);
	ck_assert_int_eq(qb_atomic_int_get(&v), -1);

	qb_atomic_pointer_set(&p, &x);
	ck_assert_ptr_eq(p, &x);
	ck_assert_ptr_eq(qb_atomic_pointer_get(&p), &x);
	qb_atomic_pointer_set(&p, NULL);
	ck_assert_ptr_null(qb_atomic_pointer_get(&p));
}
END_TEST

/* The same four operations called as functions (bypassing the macros). */
START_TEST(test_get_set_functions)
{
	volatile int32_t v = 0;
	int x;
	void *volatile p = NULL;
	int32_t (*get)(volatile int32_t *) = qb_atomic_int_get;
	void *(*pget)(volatile void **) = qb_atomic_pointer_get;

	(qb_atomic_int_set)(&v, 77);
	ck_assert_int_eq(v, 77);
	ck_assert_int_eq((qb_atomic_int_get)(&v), 77);
	ck_assert_int_eq(get(&v), 77);

	(qb_atomic_pointer_set)((volatile void **)&p, &x);
	ck_assert_ptr_eq(p, &x);
	ck_assert_ptr_eq((qb_atomic_pointer_get)((volatile void **)&p), &x);
	ck_assert_ptr_eq(pget((volatile void **)&p), &x);
}
END_TEST

/* ---- concurrency ------------------------------------------------------ */

static volatile int32_t shared_counter;
static volatile int32_t cas_counter;

static void *adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		int32_t old;

		qb_atomic_int_inc(&shared_counter);
		/* a compare-and-exchange retry loop */
		do {
			old = qb_atomic_int_get(&cas_counter);
		} while (!qb_atomic_int_compare_and_exchange(&cas_counter, old, old + 1));
	}
	return NULL;
}

START_TEST(test_concurrent_updates)
{
	pthread_t t[THREADS];
	int i;

	qb_atomic_int_set(&shared_counter, 0);
	qb_atomic_int_set(&cas_counter, 0);
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(qb_atomic_int_get(&shared_counter), THREADS * ROUNDS);
	ck_assert_int_eq(qb_atomic_int_get(&cas_counter), THREADS * ROUNDS);
}
END_TEST

struct refcount_run {
	volatile int32_t refs;
	volatile int32_t zero_seen;
	void *volatile owner;
};

static void *dropper(void *arg)
{
	struct refcount_run *r = arg;
	pthread_t self = pthread_self();

	if (qb_atomic_int_dec_and_test(&r->refs)) {
		qb_atomic_int_inc(&r->zero_seen);
		/* exactly one thread claims the slot */
		qb_atomic_pointer_compare_and_exchange((volatile void **)&r->owner,
						       NULL, (void *)self);
	}
	return NULL;
}

/* N threads each drop one of N references: exactly one sees zero. */
START_TEST(test_refcount_drop_to_zero)
{
	struct refcount_run r = { .refs = 16 };
	pthread_t t[16];
	int i;

	for (i = 0; i < 16; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, dropper, &r), 0);
	for (i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(qb_atomic_int_get(&r.refs), 0);
	ck_assert_int_eq(qb_atomic_int_get(&r.zero_seen), 1);
	ck_assert_ptr_nonnull(qb_atomic_pointer_get(&r.owner));
}
END_TEST

/* Stricter than stock: NULL cells are ignored (stock crashes). */
START_TEST(test_null_cells)
{
	QBT_OURS_ONLY();
	ck_assert_int_eq((qb_atomic_int_get)(NULL), 0);
	(qb_atomic_int_set)(NULL, 1);
	qb_atomic_int_add(NULL, 1);
	ck_assert_int_eq(qb_atomic_int_exchange_and_add(NULL, 1), 0);
	ck_assert_int_eq(qb_atomic_int_compare_and_exchange(NULL, 0, 1), QB_FALSE);
	ck_assert_ptr_null((qb_atomic_pointer_get)(NULL));
	(qb_atomic_pointer_set)(NULL, NULL);
	ck_assert_int_eq(qb_atomic_pointer_compare_and_exchange(NULL, NULL, NULL),
			 QB_FALSE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qbatomic");

	QBT_ADD_TEST(s, test_init_is_harmless);
	QBT_ADD_TEST(s, test_int_exchange_and_add);
	QBT_ADD_TEST(s, test_int_add_inc_dec);
	QBT_ADD_TEST(s, test_int_compare_and_exchange);
	QBT_ADD_TEST(s, test_pointer_compare_and_exchange);
	QBT_ADD_TEST(s, test_get_set_macros);
	QBT_ADD_TEST(s, test_get_set_functions);
	QBT_ADD_TEST(s, test_concurrent_updates);
	QBT_ADD_TEST(s, test_refcount_drop_to_zero);
	QBT_ADD_TEST(s, test_null_cells);
	return qbt_main(s);
}
