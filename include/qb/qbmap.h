/*
 * libqb-rs: qbmap.h - string-keyed maps (hashtable, sorted list, trie)
 *
 * Drop-in replacement for libqb's <qb/qbmap.h>. The three constructors build
 * maps with one common interface:
 *   - qb_hashtable_create(): unordered, sized from a capacity hint;
 *   - qb_skiplist_create():  iterated in byte order of the keys (strcmp);
 *   - qb_trie_create():      iterated in key order, supports prefix
 *                            iterators and prefix (recursive) notifiers.
 *
 * Keys and values belong to the caller: the map keeps the caller's key
 * pointer (it must stay valid while the entry exists) and never frees keys
 * or values. Register a QB_MAP_NOTIFY_FREE notifier to learn when an old key
 * and value may be released.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_MAP_H_DEFINED
#define QB_MAP_H_DEFINED

#include <stdint.h>
#ifndef S_SPLINT_S
#include <unistd.h>
#endif /* S_SPLINT_S */

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

/** An opaque map handle (any of the three kinds). */
typedef struct qb_map qb_map_t;

/** An opaque iterator over a map's entries. */
typedef struct qb_map_iter qb_map_iter_t;

/* Notification event bits (combine them in the events argument). */
/** An entry was removed (also for every entry at qb_map_destroy()). */
#define	QB_MAP_NOTIFY_DELETED   1
/** put() on an existing key: old_value is the previous value, key the previous key. */
#define	QB_MAP_NOTIFY_REPLACED  2
/** put() of a new key. */
#define QB_MAP_NOTIFY_INSERTED  4
/** Trie: also report events on every key below the registered prefix. */
#define	QB_MAP_NOTIFY_RECURSIVE 8
/** Global only: called after each DELETED/REPLACED so the user can free the old key/value. */
#define	QB_MAP_NOTIFY_FREE      16

/** Notification callback: event is one QB_MAP_NOTIFY_* bit. */
typedef void (*qb_map_notify_fn)(uint32_t event,
				 char* key,
				 void* old_value,
				 void* value,
				 void* user_data);

/** qb_map_foreach() callback: return non-zero to stop the walk. */
typedef int32_t (*qb_map_transverse_fn)(const char* key,
					void* value,
					void* user_data);

/*
 * Functions (see the libqb documentation for the full contract):
 *  qb_hashtable_create(max_size)  unordered map, max_size is a sizing hint
 *  qb_skiplist_create()           ordered map
 *  qb_trie_create()               ordered map with prefix features
 *  qb_trie_dump(m)                debug listing of a trie on stdout
 *  qb_map_notify_add(m, key, fn, events, user_data)
 *                                 key NULL = whole map; -EEXIST duplicate,
 *                                 -EINVAL FREE with a key
 *  qb_map_notify_del(m, key, fn, events)         -ENOENT if no match
 *  qb_map_notify_del_2(m, key, fn, events, user_data)
 *  qb_map_put / qb_map_get / qb_map_rm (rm returns 1 if removed, else 0)
 *  qb_map_count_get(m)            number of entries
 *  qb_map_foreach(m, fn, data)    walk all entries (in order for sorted maps)
 *  qb_map_iter_create(m), qb_map_pref_iter_create(m, prefix) (prefix: trie only)
 *  qb_map_iter_next(i, &value)    next key, NULL at the end
 *  qb_map_iter_free(i)
 *  qb_map_destroy(m)              removes every entry (DELETED/FREE events), frees the map
 */

/* @generated-begin by cbindgen from src/ffi/qbmap.rs */
qb_map_t *qb_hashtable_create(size_t max_size);

qb_map_t *qb_skiplist_create(void);

qb_map_t *qb_trie_create(void);

void qb_trie_dump(qb_map_t *m);

int32_t qb_map_notify_add(qb_map_t *m,
                          const char *key,
                          qb_map_notify_fn fn_,
                          int32_t events,
                          void *user_data);

int32_t qb_map_notify_del(qb_map_t *m, const char *key, qb_map_notify_fn fn_, int32_t events);

int32_t qb_map_notify_del_2(qb_map_t *m,
                            const char *key,
                            qb_map_notify_fn fn_,
                            int32_t events,
                            void *user_data);

void qb_map_put(qb_map_t *map, const char *key, const void *value);

void *qb_map_get(qb_map_t *map, const char *key);

int32_t qb_map_rm(qb_map_t *map, const char *key);

size_t qb_map_count_get(qb_map_t *map);

void qb_map_foreach(qb_map_t *map, qb_map_transverse_fn func, void *user_data);

qb_map_iter_t *qb_map_iter_create(qb_map_t *map);

qb_map_iter_t *qb_map_pref_iter_create(qb_map_t *map, const char *prefix);

const char *qb_map_iter_next(qb_map_iter_t *i, void **value);

void qb_map_iter_free(qb_map_iter_t *i);

void qb_map_destroy(qb_map_t *map);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif
/* *INDENT-ON* */

#endif /* QB_MAP_H_DEFINED */
