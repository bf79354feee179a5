/*
 * libqb-rs: qbutil.h - helpers used across libqb: thread locks, clocks,
 * strerror_r, a stopwatch with split times, and the library version data.
 *
 * Source-compatible with libqb 2.0.x's <qb/qbutil.h>.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_UTIL_H_DEFINED
#define QB_UTIL_H_DEFINED

#ifdef __cplusplus
extern "C" {
#endif

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <qb/qbdefs.h>

/*
 * Thread locks (qb_thread_lock_create/lock/trylock/unlock/destroy).
 *
 * Lock calls return 0 or a negative errno: -EBUSY from qb_thread_trylock() when
 * another holder has the lock, -EINVAL for a NULL lock. The locks are not
 * recursive. qb_thread_lock_destroy() frees the lock in every case and reports
 * -EBUSY if it was still held.
 */

/* QB_THREAD_LOCK_SHORT: spin lock, for critical sections of a few instructions.
 * QB_THREAD_LOCK_LONG: blocking lock (waiting threads sleep). */
typedef enum {
	QB_THREAD_LOCK_SHORT,
	QB_THREAD_LOCK_LONG,
} qb_thread_lock_type_t;

/* Opaque lock handle. */
struct qb_thread_lock_s;
typedef struct qb_thread_lock_s qb_thread_lock_t;

/* Receiver of libqb's internal log messages (see qb_util_set_log_function(),
 * deprecated in favour of the qblog.h API). */
typedef void (*qb_util_log_fn_t) (const char *file_name,
				  int32_t file_line,
				  int32_t severity, const char *msg);

/*
 * Time helpers.
 *
 * qb_timespec_add_ms():            moves a timespec by a number of milliseconds.
 * qb_util_nano_current_get():      CLOCK_MONOTONIC in nanoseconds (for intervals).
 * qb_util_nano_monotonic_hz():     ticks per second of that clock.
 * qb_util_nano_from_epoch_get():   wall-clock time in nanoseconds since 1970.
 * qb_util_timespec_from_epoch_get(): the same as a struct timespec.
 *
 * qb_strerror_r(errnum, buf, buflen) returns the message for errnum, like GNU
 * strerror_r(): use the returned pointer (it need not be buf).
 */

/*
 * Stopwatch: times an operation, optionally with split (lap) times.
 *
 *   qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
 *   qb_util_stopwatch_split_ctl(sw, 8, 0);       room for 8 splits
 *   qb_util_stopwatch_start(sw);                 start (also clears splits)
 *   ... work ...  lap_us = qb_util_stopwatch_split(sw);
 *   ... work ...  qb_util_stopwatch_stop(sw);
 *   total_us = qb_util_stopwatch_us_elapsed_get(sw);
 *   qb_util_stopwatch_free(sw);
 *
 * Splits are numbered from 0; qb_util_stopwatch_split_last() gives the newest
 * index. qb_util_stopwatch_time_split_get(sw, recent, older) is the time in
 * microseconds between two splits, or from the start when recent == older; it
 * is 0 for an index that is unknown or no longer kept. Without
 * QB_UTIL_SW_OVERWRITE a full split table refuses further splits (they return
 * 0); with it, the newest max_splits splits are kept.
 */
typedef struct qb_util_stopwatch qb_util_stopwatch_t;

#define QB_UTIL_SW_OVERWRITE 0x01

/* @generated-begin by cbindgen from src/ffi/qbutil.rs */
qb_thread_lock_t *qb_thread_lock_create(qb_thread_lock_type_t type_);

int32_t qb_thread_lock(qb_thread_lock_t *tl);

int32_t qb_thread_trylock(qb_thread_lock_t *tl);

int32_t qb_thread_unlock(qb_thread_lock_t *tl);

int32_t qb_thread_lock_destroy(qb_thread_lock_t *tl);

void qb_util_set_log_function(qb_util_log_fn_t fn_);

void qb_timespec_add_ms(struct timespec *ts, int32_t ms);

uint64_t qb_util_nano_current_get(void);

uint64_t qb_util_nano_monotonic_hz(void);

uint64_t qb_util_nano_from_epoch_get(void);

void qb_util_timespec_from_epoch_get(struct timespec *ts);

char *qb_strerror_r(int errnum, char *buf, size_t buflen);

qb_util_stopwatch_t *qb_util_stopwatch_create(void);

void qb_util_stopwatch_free(qb_util_stopwatch_t *sw);

void qb_util_stopwatch_start(qb_util_stopwatch_t *sw);

void qb_util_stopwatch_stop(qb_util_stopwatch_t *sw);

uint64_t qb_util_stopwatch_us_elapsed_get(qb_util_stopwatch_t *sw);

float qb_util_stopwatch_sec_elapsed_get(qb_util_stopwatch_t *sw);

int32_t qb_util_stopwatch_split_ctl(qb_util_stopwatch_t *sw, uint32_t max_splits, uint32_t options);

uint64_t qb_util_stopwatch_split(qb_util_stopwatch_t *sw);

uint32_t qb_util_stopwatch_split_last(qb_util_stopwatch_t *sw);

uint64_t qb_util_stopwatch_time_split_get(qb_util_stopwatch_t *sw,
                                          uint32_t receint,
                                          uint32_t older);
/* @generated-end */

/* @prototypes-begin (hand-written) */
/* Deprecated: use the qblog.h API to receive libqb's own log messages. */
void qb_util_set_log_function(qb_util_log_fn_t fn) QB_GNUC_DEPRECATED;

/* Version of the running library (compare with QB_VER_* from qbconfig.h, which
 * describe the headers a program was built with). */
extern const struct qb_version {
	uint8_t major;    /* major component */
	uint8_t minor;    /* minor component */
	uint8_t micro;    /* micro component */
	const char *rest; /* suffix after the micro component, e.g. "" */
} qb_ver;

/* The same version as one string, e.g. "2.0.10". */
extern const char *const qb_ver_str;
/* @prototypes-end */

#ifdef __cplusplus
}
#endif

#endif /* QB_UTIL_H_DEFINED */
