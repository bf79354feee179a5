/*
 * libqb-rs: qbarray.h - a growable array whose elements never move
 *
 * Drop-in replacement for libqb's <qb/qbarray.h>. Elements are grouped in bins
 * of qb_array_elems_per_bin_get() elements; a bin is allocated (zero-filled)
 * the first time one of its elements is indexed and stays at the same address
 * until qb_array_free(), so element pointers survive qb_array_grow().
 *
 * This library is free software; you can redistribute it and/or modify it
 * under the terms of the GNU Lesser General Public License as published by
 * the Free Software Foundation; either version 2.1 of the License, or (at
 * your option) any later version.
 */
#ifndef QB_ARRAY_H_DEFINED
#define QB_ARRAY_H_DEFINED

#include <stdint.h>
#ifndef S_SPLINT_S
#include <unistd.h>
#endif /* S_SPLINT_S */
#include <qb/qbdefs.h>

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

/** Significant bits of an array index. */
#define QB_ARRAY_MAX_INDEX_BITS 16
/** Upper limit for max_elements (create and grow fail with EINVAL above it). */
#define QB_ARRAY_MAX_ELEMENTS (1 << QB_ARRAY_MAX_INDEX_BITS)

struct qb_array;

/** An opaque array handle. */
typedef struct qb_array qb_array_t;

/**
 * Called after qb_array_index() allocated bin number @bin (no lock is held,
 * so the callback may use the array).
 */
typedef void (*qb_array_new_bin_cb_fn)(qb_array_t * a, uint32_t bin);

/*
 * Functions:
 *  qb_array_create(max_elements, element_size)
 *  qb_array_create_2(max_elements, element_size, autogrow_elements)
 *      NULL with errno EINVAL if max_elements > QB_ARRAY_MAX_ELEMENTS,
 *      element_size == 0 or autogrow_elements > elements per bin. With
 *      autogrow_elements != 0, indexing past the end grows the array.
 *  qb_array_index(a, idx, &element)  0, -EINVAL (NULL argument) or -ERANGE
 *      (idx negative or past the end); the element is zero on first use.
 *  qb_array_grow(a, max_elements)    0 (never shrinks) or -EINVAL
 *  qb_array_num_bins_get(a), qb_array_elems_per_bin_get(a)
 *      ((size_t)-EINVAL for a NULL array)
 *  qb_array_new_bin_cb_set(a, fn)    0 or -EINVAL
 *  qb_array_free(a)                  frees the array and every element
 */
/* @generated-begin by cbindgen from src/ffi/qbarray.rs */
qb_array_t *qb_array_create(size_t max_elements, size_t element_size);

qb_array_t *qb_array_create_2(size_t max_elements, size_t element_size, size_t autogrow_elements);

int32_t qb_array_index(qb_array_t *a, int32_t idx, void **element_out);

int32_t qb_array_grow(qb_array_t *a, size_t max_elements);

size_t qb_array_num_bins_get(qb_array_t *a);

size_t qb_array_elems_per_bin_get(qb_array_t *a);

int32_t qb_array_new_bin_cb_set(qb_array_t *a, qb_array_new_bin_cb_fn new_bin_fn);

void qb_array_free(qb_array_t *a);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif
/* *INDENT-ON* */

#endif /* QB_ARRAY_H_DEFINED */
