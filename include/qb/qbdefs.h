/*
 * libqb-rs: qbdefs.h - general-purpose macros shared by the libqb headers.
 *
 * Source-compatible with libqb 2.0.x's <qb/qbdefs.h>; written for libqb-rs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_DEFS_H_DEFINED
#define QB_DEFS_H_DEFINED

#ifdef __cplusplus
extern "C" {
#endif

/* Arithmetic helpers (arguments are evaluated more than once). */
#define QB_ROUNDUP(x, y) ((((x) + ((y) - 1)) / (y)) * (y))
#define QB_ABS(i) (((i) < 0) ? -(i) : (i))
#define QB_MAX(a, b) (((a) > (b)) ? (a) : (b))
#define QB_MIN(a, b) (((a) < (b)) ? (a) : (b))

/* Booleans as libqb spells them. */
#define QB_FALSE 0
#define QB_TRUE (!QB_FALSE)

/* Single-bit helpers on an unsigned bit array. */
#define qb_bit_value(bit) (1U << (bit))
#define qb_bit_set(barray, bit) (barray |= qb_bit_value(bit))
#define qb_bit_clear(barray, bit) (barray &= ~(qb_bit_value(bit)))
#define qb_bit_is_set(barray, bit) (barray & qb_bit_value(bit))
#define qb_bit_is_clear(barray, bit) (!(barray & qb_bit_value(bit)))

/* Token pasting and stringification that expand their arguments first. */
#define QB_PP_JOIN_(a, b) a##b
#define QB_PP_JOIN(a, b) QB_PP_JOIN_(a, b)
#define QB_PP_STRINGIFY_(arg) #arg
#define QB_PP_STRINGIFY(arg) QB_PP_STRINGIFY_(arg)

#ifndef HZ
#define HZ 100 /* ticks per second, for code that still counts in HZ */
#endif

/* Time unit ratios. */
#define QB_TIME_MS_IN_SEC 1000ULL
#define QB_TIME_US_IN_SEC 1000000ULL
#define QB_TIME_NS_IN_SEC 1000000000ULL
#define QB_TIME_US_IN_MSEC 1000ULL
#define QB_TIME_NS_IN_MSEC 1000000ULL
#define QB_TIME_NS_IN_USEC 1000ULL

/* Strict ISO modes lack the GNU keywords the list macros use. */
#if defined(__GNUC__) && defined(__STRICT_ANSI__)
#undef inline
#define inline __inline__
#undef typeof
#define typeof __typeof__
#endif

#if __GNUC__ > 3 || (__GNUC__ == 3 && __GNUC_MINOR__ >= 1)
#define QB_GNUC_DEPRECATED __attribute__((__deprecated__))
#else
#define QB_GNUC_DEPRECATED
#endif

#if __GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 5)
#define QB_GNUC_DEPRECATED_FOR(f) __attribute__((deprecated("Use " #f " instead")))
#else
#define QB_GNUC_DEPRECATED_FOR(f) QB_GNUC_DEPRECATED
#endif

#if __GNUC__ > 3 || (__GNUC__ == 3 && __GNUC_MINOR__ >= 3)
#define QB_GNUC_MAY_ALIAS __attribute__((may_alias))
#else
#define QB_GNUC_MAY_ALIAS
#endif

#ifdef __cplusplus
}
#endif

#endif /* QB_DEFS_H_DEFINED */
