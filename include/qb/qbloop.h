/*
 * libqb-rs: qbloop.h - the main loop: jobs, timers, file descriptors and
 * signals, dispatched by priority
 *
 * Drop-in replacement for libqb's <qb/qbloop.h>.
 *
 * Priorities are advisory, not strict: the loop works in passes and each pass
 * runs HIGH, then MED, then LOW, down to a floor that rotates (HIGH only, then
 * HIGH+MED, then all three), with at most four callbacks per level per pass.
 * A busy HIGH level therefore gets the largest share but never starves MED or
 * LOW. Jobs added during a pass run in a later pass, in the order added.
 *
 * A NULL loop argument means the default loop: the first loop created (and
 * not destroyed since). The loop is driven by the thread in qb_loop_run();
 * qb_loop_stop() and qb_loop_job_add() (indeed every function) may also be
 * called from other threads and wake the loop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_LOOP_H_DEFINED
#define QB_LOOP_H_DEFINED

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <signal.h>
#include <stdint.h>
#include <poll.h>  /* POLLIN, POLLOUT, ... for the events arguments */

/** Priorities of jobs, timers, descriptors and signal handlers. */
enum qb_loop_priority {
	QB_LOOP_LOW = 0,
	QB_LOOP_MED = 1,
	QB_LOOP_HIGH = 2,
};

/** An opaque main loop. */
typedef struct qb_loop qb_loop_t;

/** Names one timer; 0 and the handles of expired or deleted timers are invalid. */
typedef uint64_t qb_loop_timer_handle;

/** Names one signal handler (an opaque token). */
typedef void *qb_loop_signal_handle;

/** Descriptor callback: revents are poll(2) bits; return < 0 to remove the source. */
typedef int32_t (*qb_loop_poll_dispatch_fn) (int32_t fd, int32_t revents, void *data);
/** One-shot job callback. */
typedef void (*qb_loop_job_dispatch_fn)(void *data);
/** One-shot timer callback. */
typedef void (*qb_loop_timer_dispatch_fn)(void *data);
/** Signal callback, run by the loop (not in signal context); non-zero removes it. */
typedef int32_t (*qb_loop_signal_dispatch_fn)(int32_t rsignal, void *data);

/** Told when descriptors run short (not_enough = 1) and when they recover (0). */
typedef void (*qb_loop_poll_low_fds_event_fn) (int32_t not_enough, int32_t fds_available);

/*
 * Functions (0 or -errno unless stated):
 *  qb_loop_create()                a new loop (the first one becomes the default)
 *  qb_loop_destroy(l)              frees the loop and everything registered in it
 *  qb_loop_run(l)                  dispatches until qb_loop_stop()
 *  qb_loop_stop(l)                 run() returns after the current callback
 *  qb_loop_job_add(l, p, data, fn) one-shot job for a later pass
 *  qb_loop_job_del(l, p, data, fn) removes the first such job not yet run; -ENOENT
 *  qb_loop_timer_add(l, p, nsec, data, fn, &handle)
 *                                  one-shot timer nsec from now (CLOCK_MONOTONIC)
 *  qb_loop_timer_del(l, handle)    -EINVAL for expired, deleted or bogus handles
 *  qb_loop_timer_is_running(l, h)  1 while the timer waits for its time
 *  qb_loop_timer_expire_time_get(l, h)       its expiry (monotonic ns), else 0
 *  qb_loop_timer_expire_time_remaining(l, h) ns left, else 0
 *  qb_loop_poll_low_fds_event_set(l, fn)
 *  qb_loop_poll_add(l, p, fd, events, data, fn)  -EEXIST if fd is watched
 *  qb_loop_poll_mod(l, p, fd, events, data, fn)  -EBADF if fd is not watched
 *  qb_loop_poll_del(l, fd)                       -EBADF if fd is not watched
 *  qb_loop_signal_add(l, p, sig, data, fn, &handle)  several handlers per signal
 *  qb_loop_signal_mod(l, p, sig, data, fn, handle)
 *  qb_loop_signal_del(l, handle)
 */

/* @generated-begin by cbindgen from src/ffi/qbloop.rs */
qb_loop_t *qb_loop_create(void);

void qb_loop_destroy(qb_loop_t *l);

void qb_loop_stop(qb_loop_t *l);

void qb_loop_run(qb_loop_t *l);

int32_t qb_loop_job_add(qb_loop_t *l,
                        enum qb_loop_priority p,
                        void *data,
                        qb_loop_job_dispatch_fn dispatch_fn);

int32_t qb_loop_job_del(qb_loop_t *l,
                        enum qb_loop_priority p,
                        void *data,
                        qb_loop_job_dispatch_fn dispatch_fn);

int32_t qb_loop_timer_add(qb_loop_t *l,
                          enum qb_loop_priority p,
                          uint64_t nsec_duration,
                          void *data,
                          qb_loop_timer_dispatch_fn dispatch_fn,
                          qb_loop_timer_handle *timer_handle_out);

int32_t qb_loop_timer_del(qb_loop_t *l, qb_loop_timer_handle th);

int32_t qb_loop_timer_is_running(qb_loop_t *l, qb_loop_timer_handle th);

uint64_t qb_loop_timer_expire_time_get(qb_loop_t *l, qb_loop_timer_handle th);

uint64_t qb_loop_timer_expire_time_remaining(qb_loop_t *l, qb_loop_timer_handle th);

int32_t qb_loop_poll_low_fds_event_set(qb_loop_t *l, qb_loop_poll_low_fds_event_fn fn_);

int32_t qb_loop_poll_add(qb_loop_t *l,
                         enum qb_loop_priority p,
                         int32_t fd,
                         int32_t events,
                         void *data,
                         qb_loop_poll_dispatch_fn dispatch_fn);

int32_t qb_loop_poll_mod(qb_loop_t *l,
                         enum qb_loop_priority p,
                         int32_t fd,
                         int32_t events,
                         void *data,
                         qb_loop_poll_dispatch_fn dispatch_fn);

int32_t qb_loop_poll_del(qb_loop_t *l, int32_t fd);

int32_t qb_loop_signal_add(qb_loop_t *l,
                           enum qb_loop_priority p,
                           int32_t sig,
                           void *data,
                           qb_loop_signal_dispatch_fn dispatch_fn,
                           qb_loop_signal_handle *handle);

int32_t qb_loop_signal_mod(qb_loop_t *l,
                           enum qb_loop_priority p,
                           int32_t sig,
                           void *data,
                           qb_loop_signal_dispatch_fn dispatch_fn,
                           qb_loop_signal_handle handle);

int32_t qb_loop_signal_del(qb_loop_t *l, qb_loop_signal_handle handle);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif /* __cplusplus */
/* *INDENT-ON* */
#endif /* QB_LOOP_H_DEFINED */
