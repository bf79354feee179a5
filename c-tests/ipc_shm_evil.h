/*
 * ipc_shm_evil.h: tools of the hostile IPC suite's shared-memory phase
 * (c-tests/check_ipc_hostile_rings.c and check_ipc_hostile_lifetime.c, through
 * ipc_hostile_shm.h), partly shared with c-tests/ipc_peer.c.
 *
 * An IPC client owns the files of its connection: it can write any byte of
 * the three rings (request, response, event: a header file and a data file
 * each) and of the socket transport's control file, and can truncate them.
 * These helpers map those files with plain open+mmap and write chunks into
 * the request ring by hand, so a test can send the server whatever it likes.
 *
 * Layouts follow libqb 2.0's shared ring header (write_pt @0, read_pt @4,
 * word_size @8, hdr_path @12, data_path @4108, ref_count @8204, sem_t @8208,
 * user data @8240) and chunk format ([length word][magic word][payload],
 * positions in 32-bit words).
 */
#ifndef IPC_SHM_EVIL_H
#define IPC_SHM_EVIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qb/qbipc_common.h>
#include <qb/qbutil.h>

/* A request the server of ipc_peer (command STABLE) answers with a report on
 * whether the bytes it was handed stayed the same while it looked at them. */
#define IPCC_STABLE (QB_IPC_MSG_USER_START + 60)
/* A request id nobody answers (the client then waits for nothing). */
#define IPCC_SILENT (QB_IPC_MSG_USER_START + 61)
/* How often the STABLE handler re-reads what it was given. */
#define EVIL_STABLE_ROUNDS 200

/* FNV-1a over memory that someone else may be changing. */
static inline uint32_t evil_hash(const volatile void *p, size_t n)
{
	const volatile uint8_t *b = p;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#define EV_OFF_WRITE_PT 0
#define EV_OFF_READ_PT 4
#define EV_OFF_WORD_SIZE 8
#define EV_OFF_HDR_PATH 12
#define EV_OFF_DATA_PATH 4108
#define EV_OFF_REF_COUNT 8204
#define EV_OFF_SEM 8208
#define EV_SEM_BYTES 32
#define EV_PATH_MAX 4096

#define EV_MAGIC_ALLOC 0xA110CED0u
#define EV_MAGIC_COMMITTED 0xA1A1A1A1u
#define EV_MAGIC_DEAD 0xD0D0D0D0u

/* One ring of a connection as the attacker sees it. */
struct evil_ring {
	char hdr_file[PATH_MAX];
	char data_file[PATH_MAX];
	uint8_t *hdr;
	size_t hdr_len;
	uint32_t *data;
	size_t data_len;
	uint32_t words; /* from the file size, not from the header */
};

static inline void *evil_map_file(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* Maps <dir>/qb-<kind>-<service>-{header,data}; 0 or -1. */
static inline int evil_ring_map(struct evil_ring *r, const char *dir, const char *kind,
				const char *service)
{
	memset(r, 0, sizeof(*r));
	if (snprintf(r->hdr_file, sizeof(r->hdr_file), "%s/qb-%s-%s-header", dir, kind,
		     service) >= (int)sizeof(r->hdr_file) ||
	    snprintf(r->data_file, sizeof(r->data_file), "%s/qb-%s-%s-data", dir, kind,
		     service) >= (int)sizeof(r->data_file))
		return -1;
	r->hdr = evil_map_file(r->hdr_file, &r->hdr_len);
	r->data = evil_map_file(r->data_file, &r->data_len);
	if (r->hdr == NULL || r->data == NULL || r->hdr_len < EV_OFF_SEM + EV_SEM_BYTES)
		return -1;
	r->words = (uint32_t)(r->data_len / 4);
	return 0;
}

static inline void evil_ring_unmap(struct evil_ring *r)
{
	if (r->hdr != NULL)
		munmap(r->hdr, r->hdr_len);
	if (r->data != NULL)
		munmap(r->data, r->data_len);
	r->hdr = NULL;
	r->data = NULL;
}

static inline uint32_t evil_get(const struct evil_ring *r, size_t off)
{
	return __atomic_load_n((const uint32_t *)(const void *)(r->hdr + off), __ATOMIC_ACQUIRE);
}

static inline void evil_set(struct evil_ring *r, size_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)(r->hdr + off), v, __ATOMIC_RELEASE);
}

/* Byte i of the payload area that starts at word w (wrapping at the end). */
static inline uint8_t *evil_byte(struct evil_ring *r, uint32_t w, size_t i)
{
	size_t at = ((size_t)w * 4 + i) % r->data_len;

	return (uint8_t *)r->data + at;
}

/*
 * Writes one chunk at the shared write position: `len_word` as its length
 * word, `len` bytes of `msg` as payload, `magic` as its magic, then moves the
 * write position past `len` bytes. Posts the semaphore when `post`. Returns
 * the chunk's word position, or -1 when the ring has no room (as judged from
 * the shared positions).
 */
static inline long evil_put_chunk(struct evil_ring *r, const void *msg, size_t len,
				  uint32_t len_word, uint32_t magic, int post)
{
	uint32_t w = evil_get(r, EV_OFF_WRITE_PT), rd = evil_get(r, EV_OFF_READ_PT);
	uint32_t need = 2 + (uint32_t)((len + 3) / 4), next, free_words;
	size_t i;

	if (w >= r->words || rd >= r->words)
		return -1;
	free_words = w >= rd ? r->words - (w - rd) : rd - w;
	if (free_words <= need + 3)
		return -1;
	r->data[w] = len_word;
	for (i = 0; i < len; i++)
		*evil_byte(r, (w + 2) % r->words, i) = ((const uint8_t *)msg)[i];
	next = (w + need) % r->words;
	evil_set(r, EV_OFF_WRITE_PT, next);
	__atomic_store_n(&r->data[(w + 1) % r->words], magic, __ATOMIC_RELEASE);
	if (post)
		sem_post((sem_t *)(void *)(r->hdr + EV_OFF_SEM));
	return (long)w;
}

/* One doorbell byte per request on an SHM connection's setup socket. */
static inline int evil_doorbells(int setup_fd, int n)
{
	char b[64];

	memset(b, 0x5a, sizeof(b));
	while (n > 0) {
		int k = n < (int)sizeof(b) ? n : (int)sizeof(b);

		if (send(setup_fd, b, (size_t)k, MSG_NOSIGNAL) != k)
			return -1;
		n -= k;
	}
	return 0;
}

#endif /* IPC_SHM_EVIL_H */
