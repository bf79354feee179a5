/*
 * libqb-rs: qbatomic.h - atomic operations on int32_t and pointer cells.
 *
 * Every operation is sequentially consistent, i.e. also a full memory barrier.
 * A cell shared between threads must only be read and written through these
 * functions (qb_atomic_int_get() / qb_atomic_pointer_get() included). The
 * usual use is reference counting with qb_atomic_int_inc() and
 * qb_atomic_int_dec_and_test(); for anything more involved, prefer a mutex.
 * Cells must be naturally aligned.
 *
 * Source-compatible with libqb 2.0.x's <qb/qbatomic.h>.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_ATOMIC_H_DEFINED
#define QB_ATOMIC_H_DEFINED

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>
#include <qb/qbdefs.h>
#include <qb/qbconfig.h>

/* @prototypes-begin (hand-written) */
/* Kept for compatibility; nothing needs initialising. */
void qb_atomic_init(void);

/* Adds val to *atomic; returns the value *atomic had before. */
int32_t qb_atomic_int_exchange_and_add(volatile int32_t QB_GNUC_MAY_ALIAS *atomic,
				       int32_t val);

/* Adds val to *atomic. */
void qb_atomic_int_add(volatile int32_t QB_GNUC_MAY_ALIAS *atomic, int32_t val);

/* If *atomic equals oldval, stores newval and returns QB_TRUE; otherwise
 * leaves *atomic alone and returns QB_FALSE. */
int32_t qb_atomic_int_compare_and_exchange(volatile int32_t QB_GNUC_MAY_ALIAS *atomic,
					   int32_t oldval, int32_t newval);

/* Pointer version of qb_atomic_int_compare_and_exchange(). */
int32_t qb_atomic_pointer_compare_and_exchange(volatile void *QB_GNUC_MAY_ALIAS *atomic,
					       void *oldval, void *newval);

/* Reads *atomic. */
int32_t qb_atomic_int_get(volatile int32_t QB_GNUC_MAY_ALIAS *atomic);

/* Stores newval into *atomic. */
void qb_atomic_int_set(volatile int32_t QB_GNUC_MAY_ALIAS *atomic, int32_t newval);

/* Reads the pointer *atomic. */
void *qb_atomic_pointer_get(volatile void *QB_GNUC_MAY_ALIAS *atomic);

/* Stores the pointer newval into *atomic. */
void qb_atomic_pointer_set(volatile void *QB_GNUC_MAY_ALIAS *atomic, void *newval);
/* @prototypes-end */

/*
 * The get/set accessors. Where plain loads and stores would do (no
 * QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED), they are plain accesses; otherwise they
 * first refuse, at compile time, a cell of the wrong size (a negative array
 * size) and then call the function of the same name (the parentheses around
 * the name stop the macro from expanding itself).
 */
#ifndef QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED
#define qb_atomic_int_get(atomic)		((int32_t)*(atomic))
#define qb_atomic_int_set(atomic, newval)	((void)(*(atomic) = (newval)))
#define qb_atomic_pointer_get(atomic)		((void *)*(atomic))
#define qb_atomic_pointer_set(atomic, newval)	((void *)(*(atomic) = (newval)))
#else
#define QB_ATOMIC_SIZE_CHECK_(atomic, size) \
	((void)sizeof(char *[sizeof(*(atomic)) == (size) ? 1 : -1]))
#define qb_atomic_int_get(atomic)                                          \
	(QB_ATOMIC_SIZE_CHECK_(atomic, sizeof(int32_t)),                   \
	 (qb_atomic_int_get)((volatile int32_t QB_GNUC_MAY_ALIAS *)         \
			     (volatile void *)(atomic)))
#define qb_atomic_int_set(atomic, newval)                                  \
	(QB_ATOMIC_SIZE_CHECK_(atomic, sizeof(int32_t)),                   \
	 (qb_atomic_int_set)((volatile int32_t QB_GNUC_MAY_ALIAS *)         \
			     (volatile void *)(atomic), (newval)))
#define qb_atomic_pointer_get(atomic)                                      \
	(QB_ATOMIC_SIZE_CHECK_(atomic, sizeof(void *)),                    \
	 (qb_atomic_pointer_get)((volatile void *QB_GNUC_MAY_ALIAS *)       \
				 (volatile void *)(atomic)))
#define qb_atomic_pointer_set(atomic, newval)                              \
	(QB_ATOMIC_SIZE_CHECK_(atomic, sizeof(void *)),                    \
	 (qb_atomic_pointer_set)((volatile void *QB_GNUC_MAY_ALIAS *)       \
				 (volatile void *)(atomic), (newval)))
#endif /* QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED */

/* Adds 1 to *atomic. */
#define qb_atomic_int_inc(atomic) (qb_atomic_int_add((atomic), 1))

/* Subtracts 1 from *atomic; true when the result is 0. */
#define qb_atomic_int_dec_and_test(atomic) \
	(qb_atomic_int_exchange_and_add((atomic), -1) == 1)

#ifdef __cplusplus
}
#endif

#endif /* QB_ATOMIC_H_DEFINED */
