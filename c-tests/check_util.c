/*
 * libqb-rs C tests for <qb/qbutil.h>: thread locks, clocks, qb_strerror_r and
 * the stopwatch. Timing checks only use lower bounds obtained by busy-waiting
 * on CLOCK_MONOTONIC, or bracket a reading between two clock reads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <qb/qbutil.h>

#include "qbtest.h"

/* ---- helpers ---------------------------------------------------------- */

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(clk, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Busy-waits until at least `us` microseconds of CLOCK_MONOTONIC have passed. */
static void spin_us(uint64_t us)
{
	uint64_t until = clock_ns(CLOCK_MONOTONIC) + us * 1000ULL;

	while (clock_ns(CLOCK_MONOTONIC) < until)
		;
}

/* ---- thread locks ----------------------------------------------------- */

#define ROUNDS 200000

struct contend {
	qb_thread_lock_t *lock;
	volatile long counter;
	int errors;
};

static void *contend_worker(void *arg)
{
	struct contend *c = arg;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (qb_thread_lock(c->lock) != 0) {
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		/* a read-modify-write in two steps: lost updates show without
		 * mutual exclusion */
		long v = c->counter;
		c->counter = v + 1;
		if (qb_thread_unlock(c->lock) != 0)
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void check_exclusion(qb_thread_lock_type_t type)
{
	struct contend c = { .lock = qb_thread_lock_create(type) };
	pthread_t a, b;

	ck_assert_ptr_nonnull(c.lock);
	ck_assert_int_eq(pthread_create(&a, NULL, contend_worker, &c), 0);
	ck_assert_int_eq(pthread_create(&b, NULL, contend_worker, &c), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_int_eq(c.errors, 0);
	ck_assert_int_eq(c.counter, 2L * ROUNDS);
	ck_assert_int_eq(qb_thread_lock_destroy(c.lock), 0);
}

START_TEST(test_lock_short_excludes)
{
	check_exclusion(QB_THREAD_LOCK_SHORT);
}
END_TEST

START_TEST(test_lock_long_excludes)
{
	check_exclusion(QB_THREAD_LOCK_LONG);
}
END_TEST

static void *trylock_worker(void *arg)
{
	return (void *)(intptr_t)qb_thread_trylock(arg);
}

static int trylock_in_thread(qb_thread_lock_t *tl)
{
	pthread_t t;
	void *res;

	ck_assert_int_eq(pthread_create(&t, NULL, trylock_worker, tl), 0);
	pthread_join(t, &res);
	return (int)(intptr_t)res;
}

static void check_trylock(qb_thread_lock_type_t type)
{
	qb_thread_lock_t *tl = qb_thread_lock_create(type);

	ck_assert_ptr_nonnull(tl);
	ck_assert_int_eq(qb_thread_trylock(tl), 0);
	/* busy for another thread and for the holder itself */
	ck_assert_int_eq(trylock_in_thread(tl), -EBUSY);
	ck_assert_int_eq(qb_thread_trylock(tl), -EBUSY);
	ck_assert_int_eq(qb_thread_unlock(tl), 0);
	/* free again: another thread takes it, and the lock stays taken */
	ck_assert_int_eq(trylock_in_thread(tl), 0);
	ck_assert_int_eq(qb_thread_trylock(tl), -EBUSY);
	ck_assert_int_eq(qb_thread_unlock(tl), 0);
	ck_assert_int_eq(qb_thread_lock(tl), 0);
	ck_assert_int_eq(trylock_in_thread(tl), -EBUSY);
	ck_assert_int_eq(qb_thread_unlock(tl), 0);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), 0);
}

START_TEST(test_trylock_short)
{
	check_trylock(QB_THREAD_LOCK_SHORT);
}
END_TEST

START_TEST(test_trylock_long)
{
	check_trylock(QB_THREAD_LOCK_LONG);
}
END_TEST

struct handoff {
	qb_thread_lock_t *lock;
	int started;      /* atomic: worker is about to block */
	int written_by_holder;
	int seen;
	int lock_rc;
};

static void *handoff_worker(void *arg)
{
	struct handoff *h = arg;

	__atomic_store_n(&h->started, 1, __ATOMIC_SEQ_CST);
	h->lock_rc = qb_thread_lock(h->lock);
	h->seen = h->written_by_holder;
	qb_thread_unlock(h->lock);
	return NULL;
}

/* A waiter blocked in qb_thread_lock() gets the lock once the holder releases
 * it, and sees what the holder wrote before releasing. */
static void check_handoff(qb_thread_lock_type_t type)
{
	struct handoff h = { .lock = qb_thread_lock_create(type) };
	pthread_t t;

	ck_assert_int_eq(qb_thread_lock(h.lock), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, handoff_worker, &h), 0);
	while (!__atomic_load_n(&h.started, __ATOMIC_SEQ_CST))
		;
	h.written_by_holder = 42;
	ck_assert_int_eq(qb_thread_unlock(h.lock), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(h.lock_rc, 0);
	ck_assert_int_eq(h.seen, 42);
	ck_assert_int_eq(qb_thread_lock_destroy(h.lock), 0);
}

START_TEST(test_lock_handoff_short)
{
	check_handoff(QB_THREAD_LOCK_SHORT);
}
END_TEST

START_TEST(test_lock_handoff_long)
{
	check_handoff(QB_THREAD_LOCK_LONG);
}
END_TEST

/* pthread_mutex_destroy() refuses a held mutex with EBUSY; libqb passes that
 * on (and frees the lock regardless). */
START_TEST(test_lock_destroy_held_long)
{
	qb_thread_lock_t *tl = qb_thread_lock_create(QB_THREAD_LOCK_LONG);

	ck_assert_int_eq(qb_thread_lock(tl), 0);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), -EBUSY);
}
END_TEST

/* Stricter than stock: a held spin lock is reported as busy too, releasing a
 * lock nobody holds is -EPERM, and NULL locks are -EINVAL (stock crashes). */
START_TEST(test_lock_misuse)
{
	qb_thread_lock_t *tl;

	QBT_OURS_ONLY();
	tl = qb_thread_lock_create(QB_THREAD_LOCK_SHORT);
	ck_assert_int_eq(qb_thread_lock(tl), 0);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), -EBUSY);

	tl = qb_thread_lock_create(QB_THREAD_LOCK_SHORT);
	ck_assert_int_eq(qb_thread_unlock(tl), -EPERM);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), 0);
	tl = qb_thread_lock_create(QB_THREAD_LOCK_LONG);
	ck_assert_int_eq(qb_thread_unlock(tl), -EPERM);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), 0);

	/* any type other than SHORT behaves as LONG */
	tl = qb_thread_lock_create((qb_thread_lock_type_t)7);
	ck_assert_ptr_nonnull(tl);
	ck_assert_int_eq(qb_thread_lock(tl), 0);
	ck_assert_int_eq(qb_thread_trylock(tl), -EBUSY);
	ck_assert_int_eq(qb_thread_lock_destroy(tl), -EBUSY);

	ck_assert_int_eq(qb_thread_lock(NULL), -EINVAL);
	ck_assert_int_eq(qb_thread_trylock(NULL), -EINVAL);
	ck_assert_int_eq(qb_thread_unlock(NULL), -EINVAL);
	ck_assert_int_eq(qb_thread_lock_destroy(NULL), -EINVAL);
}
END_TEST

/* ---- internal log hook ------------------------------------------------ */

static int hook_calls;

static void count_hook(const char *file, int32_t line, int32_t severity,
		       const char *msg)
{
	(void)file;
	(void)line;
	(void)severity;
	(void)msg;
	hook_calls++;
}

START_TEST(test_set_log_function)
{
	char buf[64];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	qb_util_set_log_function(count_hook);
	/* utility calls that succeed log nothing */
	qb_strerror_r(ENOENT, buf, sizeof(buf));
	qb_util_stopwatch_free(qb_util_stopwatch_create());
	ck_assert_int_eq(hook_calls, 0);
	qb_util_set_log_function(NULL);
#pragma GCC diagnostic pop
	ck_assert_int_eq(hook_calls, 0);
}
END_TEST

/* ---- time helpers ----------------------------------------------------- */

START_TEST(test_timespec_add_ms)
{
	struct timespec ts = { .tv_sec = 10, .tv_nsec = 0 };

	qb_timespec_add_ms(&ts, 250);
	ck_assert_int_eq(ts.tv_sec, 10);
	ck_assert_int_eq(ts.tv_nsec, 250000000L);

	ts.tv_nsec = 900000000L;
	qb_timespec_add_ms(&ts, 200);
	ck_assert_int_eq(ts.tv_sec, 11);
	ck_assert_int_eq(ts.tv_nsec, 100000000L);

	ts.tv_nsec = 999999999L;
	qb_timespec_add_ms(&ts, 1);
	ck_assert_int_eq(ts.tv_sec, 12);
	ck_assert_int_eq(ts.tv_nsec, 999999L);

	ts.tv_sec = 0;
	ts.tv_nsec = 5;
	qb_timespec_add_ms(&ts, 61001);
	ck_assert_int_eq(ts.tv_sec, 61);
	ck_assert_int_eq(ts.tv_nsec, 1000005L);

	qb_timespec_add_ms(&ts, 0);
	ck_assert_int_eq(ts.tv_sec, 61);
	ck_assert_int_eq(ts.tv_nsec, 1000005L);

	/* whole negative seconds */
	qb_timespec_add_ms(&ts, -2000);
	ck_assert_int_eq(ts.tv_sec, 59);
	ck_assert_int_eq(ts.tv_nsec, 1000005L);
}
END_TEST

/* Stricter than stock: a negative amount that crosses a second boundary gives
 * a normalised timespec (stock leaves tv_nsec negative). */
START_TEST(test_timespec_add_negative_ms)
{
	struct timespec ts = { .tv_sec = 10, .tv_nsec = 100000000L };

	QBT_OURS_ONLY();
	qb_timespec_add_ms(&ts, -300);
	ck_assert_int_eq(ts.tv_sec, 9);
	ck_assert_int_eq(ts.tv_nsec, 800000000L);
	qb_timespec_add_ms(NULL, 5); /* ignored */
}
END_TEST

START_TEST(test_nano_current_is_monotonic)
{
	uint64_t before, now, after, prev;
	int i;

	before = clock_ns(CLOCK_MONOTONIC);
	now = qb_util_nano_current_get();
	after = clock_ns(CLOCK_MONOTONIC);
	ck_assert_uint_ge(now, before);
	ck_assert_uint_le(now, after);

	prev = qb_util_nano_current_get();
	for (i = 0; i < 100000; i++) {
		now = qb_util_nano_current_get();
		ck_assert_uint_ge(now, prev);
		prev = now;
	}
	spin_us(1000);
	ck_assert_uint_ge(qb_util_nano_current_get() - prev, 1000000ULL);
}
END_TEST

START_TEST(test_nano_monotonic_hz)
{
	struct timespec res;
	uint64_t hz = qb_util_nano_monotonic_hz();

	ck_assert_int_eq(clock_getres(CLOCK_MONOTONIC, &res), 0);
	ck_assert_uint_eq(hz, 1000000000ULL /
			  ((uint64_t)res.tv_sec * 1000000000ULL + (uint64_t)res.tv_nsec));
	ck_assert_uint_gt(hz, 0);
}
END_TEST

/* Wall-clock readings fall between two reads of the coarse real-time clock
 * (the cheap clock libqb uses for time stamps) and the precise one. */
START_TEST(test_epoch_time)
{
	uint64_t before, now, after;
	struct timespec ts;

	before = clock_ns(CLOCK_REALTIME_COARSE);
	now = qb_util_nano_from_epoch_get();
	after = clock_ns(CLOCK_REALTIME);
	ck_assert_uint_ge(now, before);
	ck_assert_uint_le(now, after);

	before = clock_ns(CLOCK_REALTIME_COARSE);
	ts.tv_sec = -1;
	ts.tv_nsec = -1;
	qb_util_timespec_from_epoch_get(&ts);
	after = clock_ns(CLOCK_REALTIME);
	ck_assert_int_ge(ts.tv_nsec, 0);
	ck_assert_int_lt(ts.tv_nsec, 1000000000L);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	ck_assert_uint_ge(now, before);
	ck_assert_uint_le(now, after);
}
END_TEST

/* ---- qb_strerror_r ---------------------------------------------------- */

START_TEST(test_strerror_r)
{
	char buf[128];
	char tiny[8];
	char *msg;

	memset(buf, 'x', sizeof(buf));
	msg = qb_strerror_r(ENOENT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(msg, "No such file or directory");
	msg = qb_strerror_r(EAGAIN, buf, sizeof(buf));
	ck_assert_str_eq(msg, strerror(EAGAIN));

	/* unknown numbers are formatted into the caller's buffer */
	msg = qb_strerror_r(4321, buf, sizeof(buf));
	ck_assert_ptr_eq(msg, buf);
	ck_assert_str_eq(buf, "Unknown error 4321");

	/* ... truncated to fit */
	memset(tiny, 'x', sizeof(tiny));
	msg = qb_strerror_r(4321, tiny, sizeof(tiny));
	ck_assert_ptr_eq(msg, tiny);
	ck_assert_str_eq(tiny, "Unknown");

	/* known messages are whole even when the buffer is small */
	msg = qb_strerror_r(EINVAL, tiny, sizeof(tiny));
	ck_assert_str_eq(msg, "Invalid argument");

	/* an oversized length only lets the message through */
	memset(buf, 'x', sizeof(buf));
	msg = qb_strerror_r(4321, buf, SIZE_MAX);
	ck_assert_ptr_eq(msg, buf);
	ck_assert_str_eq(buf, "Unknown error 4321");
	ck_assert_int_eq(buf[sizeof("Unknown error 4321")], 'x');
}
END_TEST

/* Ours also copies a known message into the buffer (stock may leave it
 * untouched), and never returns NULL. */
START_TEST(test_strerror_r_fills_buffer)
{
	char buf[64];
	char tiny[4];

	QBT_OURS_ONLY();
	memset(buf, 'x', sizeof(buf));
	qb_strerror_r(EPERM, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Operation not permitted");
	memset(tiny, 'x', sizeof(tiny));
	ck_assert_str_eq(qb_strerror_r(EPERM, tiny, sizeof(tiny)),
			 "Operation not permitted");
	ck_assert_str_eq(tiny, "Ope");
	ck_assert_ptr_nonnull(qb_strerror_r(4321, NULL, 0));
	ck_assert_str_eq(qb_strerror_r(ENOENT, NULL, 0),
			 "No such file or directory");
}
END_TEST

/* ---- stopwatch -------------------------------------------------------- */

START_TEST(test_stopwatch_elapsed)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	uint64_t us;

	ck_assert_ptr_nonnull(sw);
	ck_assert_uint_eq(qb_util_stopwatch_us_elapsed_get(sw), 0);
	ck_assert(qb_util_stopwatch_sec_elapsed_get(sw) == 0.0f);

	qb_util_stopwatch_start(sw);
	ck_assert_uint_eq(qb_util_stopwatch_us_elapsed_get(sw), 0);
	spin_us(2000);
	qb_util_stopwatch_stop(sw);
	us = qb_util_stopwatch_us_elapsed_get(sw);
	ck_assert_uint_ge(us, 2000);
	ck_assert(qb_util_stopwatch_sec_elapsed_get(sw) == (float)us / 1000000.0f);

	/* stopping again extends the measurement */
	spin_us(1000);
	qb_util_stopwatch_stop(sw);
	ck_assert_uint_ge(qb_util_stopwatch_us_elapsed_get(sw), us + 1000);

	/* starting again resets it */
	qb_util_stopwatch_start(sw);
	ck_assert_uint_eq(qb_util_stopwatch_us_elapsed_get(sw), 0);
	qb_util_stopwatch_free(sw);
}
END_TEST

START_TEST(test_stopwatch_no_split_table)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();

	qb_util_stopwatch_start(sw);
	spin_us(100);
	ck_assert_uint_eq(qb_util_stopwatch_split(sw), 0);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 0, 0), 0);
	qb_util_stopwatch_free(sw);
}
END_TEST

START_TEST(test_stopwatch_splits_bounded)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	uint64_t s0, s1, s2, total;

	ck_assert_int_eq(qb_util_stopwatch_split_ctl(sw, 3, 0), 0);
	qb_util_stopwatch_start(sw);

	spin_us(3000);
	s0 = qb_util_stopwatch_split(sw);
	ck_assert_uint_ge(s0, 3000);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 0);
	/* a split against itself measures from the start */
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 0, 0), s0);

	spin_us(1000);
	s1 = qb_util_stopwatch_split(sw);
	ck_assert_uint_ge(s1, 1000);
	spin_us(2000);
	s2 = qb_util_stopwatch_split(sw);
	ck_assert_uint_ge(s2, 2000);

	/* table full: refused */
	spin_us(100);
	ck_assert_uint_eq(qb_util_stopwatch_split(sw), 0);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 2);

	/* between splits = sum of the laps (each lap rounded down separately) */
	total = qb_util_stopwatch_time_split_get(sw, 2, 0);
	ck_assert_uint_ge(total, s1 + s2);
	ck_assert_uint_le(total, s1 + s2 + 1);
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 2, 1), s2);
	ck_assert_uint_le(qb_util_stopwatch_time_split_get(sw, 2, 1), s2 + 1);
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 2, 2), s0 + s1 + s2);
	ck_assert_uint_gt(qb_util_stopwatch_time_split_get(sw, 2, 2),
			  qb_util_stopwatch_time_split_get(sw, 1, 1));

	/* invalid queries */
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 3, 2), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 2, 3), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 0, 1), 0);

	/* start clears the splits and makes room again */
	qb_util_stopwatch_start(sw);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 0, 0), 0);
	spin_us(500);
	ck_assert_uint_ge(qb_util_stopwatch_split(sw), 500);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 0);
	qb_util_stopwatch_free(sw);
}
END_TEST

START_TEST(test_stopwatch_splits_overwrite)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	uint64_t lap[5];
	int i;

	ck_assert_int_eq(qb_util_stopwatch_split_ctl(sw, 3, QB_UTIL_SW_OVERWRITE), 0);
	qb_util_stopwatch_start(sw);
	for (i = 0; i < 5; i++) {
		spin_us(1000);
		lap[i] = qb_util_stopwatch_split(sw);
		ck_assert_uint_ge(lap[i], 1000);
		ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), (uint32_t)i);
		if (i < 2) {
			/* libqb quirk: until the ring has filled, lookups give 0 */
			ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, i, i), 0);
		}
	}
	/* splits 2..4 are kept, 0 and 1 were overwritten */
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 4, 2), lap[3] + lap[4]);
	ck_assert_uint_le(qb_util_stopwatch_time_split_get(sw, 4, 2), lap[3] + lap[4] + 1);
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 3, 2), lap[3]);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 4, 1), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 1, 1), 0);
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 4, 4), 5000);
	ck_assert_uint_ge(qb_util_stopwatch_time_split_get(sw, 2, 2), 3000);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 5, 4), 0);
	qb_util_stopwatch_free(sw);
}
END_TEST

/* The first split of a stopwatch that was never started starts it. */
START_TEST(test_stopwatch_split_starts)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	uint64_t first;

	ck_assert_int_eq(qb_util_stopwatch_split_ctl(sw, 2, 0), 0);
	first = qb_util_stopwatch_split(sw);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(sw, 0, 0), first);
	spin_us(1000);
	ck_assert_uint_ge(qb_util_stopwatch_split(sw), 1000);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 1);
	qb_util_stopwatch_free(sw);
}
END_TEST

/* A huge split table is refused (ENOMEM) or reserved lazily; either way the
 * stopwatch keeps working. */
START_TEST(test_stopwatch_huge_split_table)
{
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	int32_t rc;

	ck_assert_ptr_nonnull(sw);
	rc = qb_util_stopwatch_split_ctl(sw, UINT32_MAX, QB_UTIL_SW_OVERWRITE);
	if (rc == 0) {
		qb_util_stopwatch_start(sw);
		qb_util_stopwatch_split(sw);
		qb_util_stopwatch_split(sw);
		ck_assert_uint_eq(qb_util_stopwatch_split_last(sw), 1);
	} else {
		ck_assert_int_eq(rc, -ENOMEM);
	}
	qb_util_stopwatch_free(sw);
}
END_TEST

/* Stricter than stock: NULL stopwatches are ignored (stock crashes). */
START_TEST(test_stopwatch_null)
{
	QBT_OURS_ONLY();
	qb_util_stopwatch_start(NULL);
	qb_util_stopwatch_stop(NULL);
	ck_assert_uint_eq(qb_util_stopwatch_us_elapsed_get(NULL), 0);
	ck_assert(qb_util_stopwatch_sec_elapsed_get(NULL) == 0.0f);
	ck_assert_int_eq(qb_util_stopwatch_split_ctl(NULL, 3, 0), -EINVAL);
	ck_assert_uint_eq(qb_util_stopwatch_split(NULL), 0);
	ck_assert_uint_eq(qb_util_stopwatch_split_last(NULL), 0);
	ck_assert_uint_eq(qb_util_stopwatch_time_split_get(NULL, 0, 0), 0);
	qb_util_stopwatch_free(NULL);
}
END_TEST

/* ---- version data ----------------------------------------------------- */

START_TEST(test_version_data)
{
	char expect[32];

	ck_assert_int_eq(qb_ver.major, 2);
	ck_assert_ptr_nonnull(qb_ver.rest);
	ck_assert_ptr_nonnull(qb_ver_str);
	snprintf(expect, sizeof(expect), "%u.%u.%u%s", qb_ver.major, qb_ver.minor,
		 qb_ver.micro, qb_ver.rest);
	ck_assert_str_eq(qb_ver_str, expect);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qbutil");

	QBT_ADD_TEST(s, test_lock_short_excludes);
	QBT_ADD_TEST(s, test_lock_long_excludes);
	QBT_ADD_TEST(s, test_trylock_short);
	QBT_ADD_TEST(s, test_trylock_long);
	QBT_ADD_TEST(s, test_lock_handoff_short);
	QBT_ADD_TEST(s, test_lock_handoff_long);
	QBT_ADD_TEST(s, test_lock_destroy_held_long);
	QBT_ADD_TEST(s, test_lock_misuse);
	QBT_ADD_TEST(s, test_set_log_function);
	QBT_ADD_TEST(s, test_timespec_add_ms);
	QBT_ADD_TEST(s, test_timespec_add_negative_ms);
	QBT_ADD_TEST(s, test_nano_current_is_monotonic);
	QBT_ADD_TEST(s, test_nano_monotonic_hz);
	QBT_ADD_TEST(s, test_epoch_time);
	QBT_ADD_TEST(s, test_strerror_r);
	QBT_ADD_TEST(s, test_strerror_r_fills_buffer);
	QBT_ADD_TEST(s, test_stopwatch_elapsed);
	QBT_ADD_TEST(s, test_stopwatch_no_split_table);
	QBT_ADD_TEST(s, test_stopwatch_splits_bounded);
	QBT_ADD_TEST(s, test_stopwatch_splits_overwrite);
	QBT_ADD_TEST(s, test_stopwatch_split_starts);
	QBT_ADD_TEST(s, test_stopwatch_huge_split_table);
	QBT_ADD_TEST(s, test_stopwatch_null);
	QBT_ADD_TEST(s, test_version_data);
	return qbt_main(s);
}
