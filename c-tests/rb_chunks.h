/*
 * Deterministic ring-buffer chunk contents shared by the interop test
 * (check_rb_interop.c) and its helper program (rb_peer.c), so that either side
 * can produce a chunk and the other can prove it arrived intact. The hostile
 * suites (check_rb_hostile_*.c, through rb_hostile_fixture.h) use them too.
 *
 * Chunk layout: [u32 seq][u32 total length][pattern bytes derived from seq].
 */
#ifndef RB_CHUNKS_H
#define RB_CHUNKS_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Every ring in these tests carries this many bytes of shared user data. */
#define RBI_USER_SIZE 64

/* Chunks are never shorter than their 8-byte self-description. */
#define RBI_MIN_LEN 8

/* Length of chunk `seq` when lengths vary over [8, 8 + spread). */
static inline uint32_t rbi_len(uint32_t seq, uint32_t spread)
{
	uint32_t h = seq * 2654435761u;

	h ^= h >> 15;
	return RBI_MIN_LEN + (spread ? h % spread : 0);
}

static inline uint8_t rbi_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + 1u);
}

static inline void rbi_fill(uint8_t *buf, uint32_t seq, uint32_t len)
{
	uint32_t i;

	memcpy(buf, &seq, sizeof(seq));
	memcpy(buf + 4, &len, sizeof(len));
	for (i = RBI_MIN_LEN; i < len; i++)
		buf[i] = rbi_byte(seq, i);
}

static inline uint32_t rbi_seq_of(const uint8_t *buf)
{
	uint32_t seq;

	memcpy(&seq, buf, sizeof(seq));
	return seq;
}

/* 0 when `buf` (got bytes) is exactly chunk `seq` of the given spread. */
static inline int rbi_check(const uint8_t *buf, ssize_t got, uint32_t seq,
			    uint32_t spread)
{
	uint32_t want = rbi_len(seq, spread), stored_seq, stored_len, i;

	if (got < 0 || (size_t)got != want)
		return -1;
	memcpy(&stored_seq, buf, 4);
	memcpy(&stored_len, buf + 4, 4);
	if (stored_seq != seq || stored_len != want)
		return -1;
	for (i = RBI_MIN_LEN; i < want; i++)
		if (buf[i] != rbi_byte(seq, i))
			return -1;
	return 0;
}

/* The user-data area holds one of two recognisable patterns. */
static inline void rbi_user_fill(void *user, uint8_t which)
{
	uint8_t *u = user;
	int i;

	for (i = 0; i < RBI_USER_SIZE; i++)
		u[i] = (uint8_t)(which ^ (i * 3));
}

static inline int rbi_user_is(const void *user, uint8_t which)
{
	const uint8_t *u = user;
	int i;

	for (i = 0; i < RBI_USER_SIZE; i++)
		if (u[i] != (uint8_t)(which ^ (i * 3)))
			return 0;
	return 1;
}

#define RBI_USER_A 0x5a
#define RBI_USER_B 0xc3

/* Parameters shared by both sides of each scenario. */
#define RBI_BASIC_SIZE 65536u     /* ring for create-write / open-read */
#define RBI_BASIC_SPREAD 200u
#define RBI_ACK_SEQ 0xacacu       /* the chunk sent back the other way */
#define RBI_STREAM_SIZE 8192u     /* small, so a stream wraps many times */
#define RBI_STREAM_SPREAD 2990u
#define RBI_OVER_SIZE 4096u       /* overwrite rings and dumps */
#define RBI_OVER_SPREAD 300u

#endif /* RB_CHUNKS_H */
