/*
 * libqb-rs: qbrb.h - a ring buffer of whole messages ("chunks") in shared memory
 *
 * Drop-in replacement for libqb's <qb/qbrb.h>, using libqb's file format so a
 * process linked against stock libqb can sit at the other end of a ring.
 *
 * A ring is a pair of files, "<name>-header" and "<name>-data". A name without
 * a '/' lives in /dev/shm as "qb-<name>-header" / "qb-<name>-data" (or in /tmp
 * as "<name>-header" / "<name>-data" if that fails); a name with a '/' is used
 * as a path prefix. One process (or thread) writes chunks, one reads them; each
 * chunk is read whole or not at all. A normal ring refuses new chunks when full
 * (-EAGAIN); an overwrite ring discards its oldest chunks instead.
 *
 * Readers are woken by a POSIX semaphore kept in the shared header, unless the
 * ring was opened with QB_RB_FLAG_NO_SEMAPHORE. Nothing in the shared files is
 * trusted: a corrupted ring makes calls fail with -EBADMSG or -EINVAL.
 *
 * This library is free software; you can redistribute it and/or modify it
 * under the terms of the GNU Lesser General Public License as published by
 * the Free Software Foundation; either version 2.1 of the License, or (at
 * your option) any later version.
 */
#ifndef QB_RB_H_DEFINED
#define QB_RB_H_DEFINED

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <sys/types.h>
#include <stdint.h>

/** Make new files (they must not exist yet) instead of opening a ring. */
#define QB_RB_FLAG_CREATE		0x01

/** When the ring is full, drop the oldest chunks to make room. */
#define QB_RB_FLAG_OVERWRITE		0x02

/** Accepted for compatibility; it changes nothing. */
#define QB_RB_FLAG_SHARED_THREAD	0x04

/** Other processes use the ring: the semaphore is process-shared (and only
 *  the creator initialises it). */
#define QB_RB_FLAG_SHARED_PROCESS	0x08

/** No semaphore: reads never wait, and an empty ring reads as -ETIMEDOUT. */
#define QB_RB_FLAG_NO_SEMAPHORE		0x10

struct qb_ringbuffer_s;

/** An opaque ring buffer handle. */
typedef struct qb_ringbuffer_s qb_ringbuffer_t;

/*
 * Functions (errors are negative errno values unless stated otherwise):
 *
 *  qb_rb_open(name, size, flags, shared_user_data_size)
 *      Creates (QB_RB_FLAG_CREATE) or opens the ring `name` for chunks of up
 *      to `size` bytes, with `shared_user_data_size` bytes of caller-defined
 *      shared memory. The data file is size + 13 bytes rounded up to a page.
 *      NULL with errno set on failure (EEXIST, ENOENT, EINVAL, ...).
 *  qb_rb_close(rb)
 *      Unmaps the ring; the creator also removes both files.
 *  qb_rb_name_get(rb)            path of the header file (owned by rb)
 *  qb_rb_shared_user_data_get(rb)  start of the shared user-data area
 *  qb_rb_refcount_get(rb)        number of handles open on the ring
 *
 *  qb_rb_chunk_write(rb, data, len)   copies one chunk in; len or -EAGAIN
 *  qb_rb_chunk_alloc(rb, len)    room for a chunk of up to len bytes, written
 *      in place then published with qb_rb_chunk_commit(rb, len); NULL with
 *      errno EAGAIN when the ring is full.
 *  qb_rb_chunk_read(rb, buf, len, timeout)
 *      Copies the oldest chunk out and frees it; returns its length,
 *      -ETIMEDOUT if none arrived, -ENOBUFS if len is too small.
 *  qb_rb_chunk_peek(rb, &ptr, timeout)
 *      Points at the oldest chunk without freeing it (0 if none arrived);
 *      free it with qb_rb_chunk_reclaim(rb).
 *      timeout: < 0 waits forever, 0 does not wait, > 0 waits that many ms.
 *
 *  qb_rb_space_free(rb), qb_rb_space_used(rb)   bytes
 *  qb_rb_chunks_used(rb)         chunks waiting (-ENOTSUP without semaphore)
 *
 *  qb_rb_write_to_file(rb, fd)   dumps the ring to fd; bytes written
 *  qb_rb_create_from_file(fd, flags)  rebuilds a private, semaphore-less ring
 *      from such a dump (flags are ignored); NULL on a bad dump.
 *  qb_rb_chown(rb, owner, group), qb_rb_chmod(rb, mode)   apply to both files
 */
/* @generated-begin by cbindgen from src/ffi/qbrb.rs */
qb_ringbuffer_t *qb_rb_open(const char *name,
                            size_t size,
                            uint32_t flags,
                            size_t shared_user_data_size);

void qb_rb_close(qb_ringbuffer_t *rb);

char *qb_rb_name_get(qb_ringbuffer_t *rb);

void *qb_rb_shared_user_data_get(qb_ringbuffer_t *rb);

ssize_t qb_rb_chunk_write(qb_ringbuffer_t *rb, const void *data, size_t len);

void *qb_rb_chunk_alloc(qb_ringbuffer_t *rb, size_t len);

int32_t qb_rb_chunk_commit(qb_ringbuffer_t *rb, size_t len);

ssize_t qb_rb_chunk_peek(qb_ringbuffer_t *rb, void **data_out, int32_t timeout);

void qb_rb_chunk_reclaim(qb_ringbuffer_t *rb);

ssize_t qb_rb_chunk_read(qb_ringbuffer_t *rb, void *data_out, size_t len, int32_t timeout);

int32_t qb_rb_refcount_get(qb_ringbuffer_t *rb);

ssize_t qb_rb_space_free(qb_ringbuffer_t *rb);

ssize_t qb_rb_space_used(qb_ringbuffer_t *rb);

ssize_t qb_rb_chunks_used(qb_ringbuffer_t *rb);

ssize_t qb_rb_write_to_file(qb_ringbuffer_t *rb, int32_t fd);

qb_ringbuffer_t *qb_rb_create_from_file(int32_t fd, uint32_t flags);

int32_t qb_rb_chown(qb_ringbuffer_t *rb, uid_t owner, gid_t group);

int32_t qb_rb_chmod(qb_ringbuffer_t *rb, mode_t mode);
/* @generated-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif /* __cplusplus */
/* *INDENT-ON* */

#endif /* QB_RB_H_DEFINED */
