/*
 * libqb-rs: qbhdb.h - handle database: reference-counted objects named by
 * 64-bit handles
 *
 * Drop-in replacement for libqb's <qb/qbhdb.h>. A handle is
 * ((uint64_t)check << 32) | index: the index names a slot, the check value
 * (random, positive) tells the current occupant from earlier ones, so a stale
 * handle is refused with -EBADF. qb_hdb_nocheck_convert(index) builds a
 * handle whose check matches whatever occupies the slot.
 *
 * A database may be set up with qb_hdb_create() or declared statically with
 * QB_HDB_DECLARE(); the latter is initialised on first use by any function.
 *
 * This library is free software; you can redistribute it and/or modify it
 * under the terms of the GNU Lesser General Public License as published by
 * the Free Software Foundation; either version 2.1 of the License, or (at
 * your option) any later version.
 */
#ifndef QB_HDB_H_DEFINED
#define QB_HDB_H_DEFINED

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <stdlib.h>
#include <stdint.h>
#include <inttypes.h>
#include <qb/qbarray.h>

/** A handle (check value in the high 32 bits, slot index in the low 32). */
typedef uint64_t qb_handle_t;

/* printf conversions for a qb_handle_t, decimal and hexadecimal. */
#define QB_HDB_D_FORMAT "%" PRIu64
#define QB_HDB_X_FORMAT "%" PRIx64

/** Layout of one slot in libqb's handle array (kept for compatibility). */
struct qb_hdb_handle {
	int32_t state;
	void *instance;
	int32_t check;
	int32_t ref_count;
};

/*
 * Defines a file-scope database ready for use without qb_hdb_create():
 *     QB_HDB_DECLARE(my_db, my_destructor_or_NULL)
 * The destructor runs on an instance when its last reference is dropped.
 */
#define QB_HDB_DECLARE(database_name, destructor_function)		\
static struct qb_hdb database_name = {					\
	.handle_count	= 0,						\
	.handles	= NULL,						\
	.iterator	= 0,						\
	.destructor	= destructor_function,				\
	.first_run	= QB_TRUE					\
};									\

/*
 * Functions (0 on success, -errno on failure unless noted):
 *  qb_hdb_create(hdb)       resets *hdb (destructor included) and sets it up
 *  qb_hdb_destroy(hdb)      frees the database; *hdb is zeroed
 *  qb_hdb_handle_create(hdb, instance_size, &handle)
 *      allocates a zero-filled instance, one reference held by the creator
 *  qb_hdb_handle_get(hdb, handle, &instance)   takes a reference (-EBADF
 *      for a stale or destroyed handle); qb_hdb_handle_get_always() is the same
 *  qb_hdb_handle_put(hdb, handle)      drops a reference; the last one runs the
 *      destructor and frees the instance
 *  qb_hdb_handle_destroy(hdb, handle)  refuses new references and drops the
 *      creator's reference
 *  qb_hdb_handle_refcount_get(hdb, handle)     the count, or -EBADF
 *  qb_hdb_iterator_reset(hdb), qb_hdb_iterator_next(hdb, &instance, &handle)
 *      walks live handles in index order, taking a reference on each (put it
 *      back); non-zero at the end
 *  qb_hdb_base_convert(handle)        the slot index
 *  qb_hdb_nocheck_convert(index)      a handle matching any occupant
 */
/* @generated-begin by cbindgen from src/ffi/qbhdb.rs */
struct qb_hdb {
  uint32_t handle_count;
  qb_array_t *handles;
  uint32_t iterator;
  void (*destructor)(void *instance);
  uint32_t first_run;
};

void qb_hdb_create(struct qb_hdb *hdb);

void qb_hdb_destroy(struct qb_hdb *hdb);

int32_t qb_hdb_handle_create(struct qb_hdb *hdb, int32_t instance_size, qb_handle_t *handle_id_out);

int32_t qb_hdb_handle_get(struct qb_hdb *hdb, qb_handle_t handle_in, void **instance);

int32_t qb_hdb_handle_get_always(struct qb_hdb *hdb, qb_handle_t handle_in, void **instance);

int32_t qb_hdb_handle_put(struct qb_hdb *hdb, qb_handle_t handle_in);

int32_t qb_hdb_handle_destroy(struct qb_hdb *hdb, qb_handle_t handle_in);

int32_t qb_hdb_handle_refcount_get(struct qb_hdb *hdb, qb_handle_t handle_in);

void qb_hdb_iterator_reset(struct qb_hdb *hdb);

int32_t qb_hdb_iterator_next(struct qb_hdb *hdb, void **instance, qb_handle_t *handle);

uint32_t qb_hdb_base_convert(qb_handle_t handle);

uint64_t qb_hdb_nocheck_convert(uint32_t handle);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif
/* *INDENT-ON* */
#endif /* QB_HDB_H_DEFINED */
