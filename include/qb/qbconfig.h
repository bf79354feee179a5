/*
 * libqb-rs: qbconfig.h - build configuration and the libqb API level implemented.
 *
 * libqb-rs implements the libqb 2.0.10 API; the same numbers are in libqb.pc and
 * in the exported data qb_ver / qb_ver_str.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_CONFIG_H_DEFINED
#define QB_CONFIG_H_DEFINED

#include <qb/qbdefs.h>

/* The qb_atomic_int_get/set and qb_atomic_pointer_get/set macros call the library
 * functions (which carry the memory barriers) rather than plain loads/stores. */
#define QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED 1

#define QB_VER_MAJOR 2
#define QB_VER_MINOR 0
#define QB_VER_MICRO 10
#define QB_VER_REST ""

#define QB_VER_STR                                                          \
	QB_PP_STRINGIFY(QB_VER_MAJOR) "." QB_PP_STRINGIFY(QB_VER_MINOR) "." \
	QB_PP_STRINGIFY(QB_VER_MICRO) QB_VER_REST

#endif /* QB_CONFIG_H_DEFINED */
