/*
 * ipc_evil_server.h: a fake libqb IPC server for the hostile suite
 * (check_ipc_hostile_client.c, cases 13 and 27). Its wire structs also
 * serve the raw attacker of ipc_hostile_wire.h.
 *
 * It speaks the SHM wire protocol itself with plain syscalls (no libqb):
 * binds the abstract service name, answers one client's 24-byte hello with
 * a 12328-byte response of its choosing, creates the three rings' files in
 * its own /dev/shm directory, and then puts crafted chunks into the
 * response or event ring. It runs in a forked child of the test, so it is
 * "another process" to the client under test; it removes its own files
 * when the client hangs up.
 *
 * Layouts (libqb-abi.md §5.2-5.4): response header {id@0, size@8,
 * error@16}, connection_type@24, max_msg_size@28, connection@32, three
 * 4096-byte names from @40; ring header write_pt@0, read_pt@4,
 * word_size@8, hdr_path@12, data_path@4108, ref_count@8204, sem@8208,
 * user data@8240; chunk = [length in bytes][magic][payload].
 */
#ifndef IPC_EVIL_SERVER_H
#define IPC_EVIL_SERVER_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <qb/qbipc_common.h>

#define EVIL_PATH_FIELD 4096

struct evil_wire_req {
	struct qb_ipc_request_header hdr;
	uint32_t max_msg_size;
	uint32_t pad;
};

struct evil_wire_resp {
	struct qb_ipc_response_header hdr;
	int32_t connection_type;
	uint32_t max_msg_size;
	uint64_t connection;
	char request[EVIL_PATH_FIELD];
	char response[EVIL_PATH_FIELD];
	char event[EVIL_PATH_FIELD];
};

_Static_assert(sizeof(struct evil_wire_req) == 24, "hello is 24 bytes");
_Static_assert(sizeof(struct evil_wire_resp) == 12328, "answer is 12328 bytes");

#define EVIL_OFF_WRITE_PT 0
#define EVIL_OFF_READ_PT 4
#define EVIL_OFF_WORD_SIZE 8
#define EVIL_OFF_HDR_PATH 12
#define EVIL_OFF_DATA_PATH 4108
#define EVIL_OFF_REF_COUNT 8204
#define EVIL_OFF_SEM 8208
#define EVIL_HDR_SIZE 8248
#define EVIL_MAGIC_COMMITTED 0xA1A1A1A1u

/* What the fake server does after its answer. */
enum evil_attack {
	EVIL_NOTHING,          /* a well-formed, idle server (impostor) */
	EVIL_RESPONSE_CHUNK,   /* one response chunk whose length word is `chunk_len` */
	EVIL_EVENT_CHUNK,      /* the same in the event ring, plus its doorbell byte */
};

struct evil_plan {
	const char *name;       /* service name to bind */
	int32_t error;          /* hdr.error of the answer */
	uint32_t claimed_max;   /* max_msg_size in the answer */
	uint32_t ring_size;     /* size the ring files are really made for */
	enum evil_attack attack;
	uint32_t chunk_len;     /* length word of the crafted chunk */
	uint32_t payload_len;   /* bytes of real payload written after it */
	int32_t hdr_size;       /* `size` field of the response header in the payload */
	uid_t run_as;           /* drop to this uid/gid first (when root and non-zero) */
};

struct evil_ring {
	char base[200];
	uint8_t *hdr;
	uint8_t *data;
	size_t data_len;
};

static inline void evil_die(const char *what)
{
	fprintf(stderr, "evil server: %s: %s\n", what, strerror(errno));
	_exit(3);
}

static inline void *evil_map_new(const char *path, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	void *p;

	if (fd < 0)
		evil_die(path);
	if (ftruncate(fd, (off_t)len) != 0)
		evil_die("ftruncate");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		evil_die("mmap");
	return p;
}

/* Creates <dir>/qb-<kind>-evil-{header,data}, sized for `size`. */
static inline void evil_ring_make(struct evil_ring *r, const char dir[64], const char *kind,
			   uint32_t size, size_t user)
{
	char path[1024];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t real = ((size_t)size + 13 + page - 1) / page * page;
	uint32_t words = (uint32_t)(real / 4);

	snprintf(r->base, sizeof(r->base), "%s/qb-%s-evil", dir, kind);
	snprintf(path, sizeof(path), "%s-header", r->base);
	r->hdr = evil_map_new(path, EVIL_HDR_SIZE + user);
	memcpy(r->hdr + EVIL_OFF_WORD_SIZE, &words, 4);
	snprintf((char *)r->hdr + EVIL_OFF_HDR_PATH, EVIL_PATH_FIELD, "%s", path);
	snprintf(path, sizeof(path), "%s-data", r->base);
	snprintf((char *)r->hdr + EVIL_OFF_DATA_PATH, EVIL_PATH_FIELD, "%s", path);
	{
		int32_t one = 1;

		memcpy(r->hdr + EVIL_OFF_REF_COUNT, &one, 4);
	}
	if (sem_init((sem_t *)(void *)(r->hdr + EVIL_OFF_SEM), 1, 0) != 0)
		evil_die("sem_init");
	r->data = evil_map_new(path, real);
	r->data_len = real;
}

static inline void evil_ring_unlink(struct evil_ring *r)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s-header", r->base);
	unlink(path);
	snprintf(path, sizeof(path), "%s-data", r->base);
	unlink(path);
}

/* Commits one chunk at word 0 with a length word the plan chose. */
static inline void evil_ring_put(struct evil_ring *r, const struct evil_plan *plan)
{
	uint32_t *w = (uint32_t *)(void *)r->data;
	uint32_t magic = EVIL_MAGIC_COMMITTED;
	uint32_t payload = plan->payload_len;
	uint32_t next;
	struct qb_ipc_response_header h;

	if (payload > r->data_len - 8)
		payload = (uint32_t)(r->data_len - 8);
	memset(&h, 0, sizeof(h));
	h.id = QB_IPC_MSG_USER_START;
	h.size = plan->hdr_size;
	memset(w + 2, 0x5a, payload);
	if (payload >= sizeof(h))
		memcpy(w + 2, &h, sizeof(h));
	w[0] = plan->chunk_len;
	next = (uint32_t)(2 + (payload + 3) / 4);
	memcpy(r->hdr + EVIL_OFF_WRITE_PT, &next, 4);
	__atomic_store_n(&w[1], magic, __ATOMIC_RELEASE);
	sem_post((sem_t *)(void *)(r->hdr + EVIL_OFF_SEM));
}

/* The fake server's body; never returns. `ready` gets one byte once it
 * listens. */
static inline void evil_server_run(const struct evil_plan *plan, int ready)
{
	struct sockaddr_un a;
	struct evil_wire_req req;
	struct evil_wire_resp *resp;
	struct evil_ring rings[3];
	static const char *kinds[3] = {"request", "response", "event"};
	char dir[64];
	int lfd, cfd, i;
	size_t got = 0;
	char b = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (plan->run_as != 0 && geteuid() == 0) {
		if (setgid(plan->run_as) != 0 || setuid(plan->run_as) != 0)
			evil_die("setuid");
	}
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", plan->name);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 8) != 0)
		evil_die("bind");
	if (write(ready, "r", 1) != 1)
		evil_die("ready");
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		evil_die("accept");
	while (got < sizeof(req)) {
		ssize_t n = recv(cfd, (char *)&req + got, sizeof(req) - got, 0);

		if (n <= 0)
			_exit(4);
		got += (size_t)n;
	}
	snprintf(dir, sizeof(dir), "/dev/shm/qb-evil-%d-XXXXXX", (int)getpid());
	if (mkdtemp(dir) == NULL)
		evil_die("mkdtemp");
	resp = calloc(1, sizeof(*resp));
	if (resp == NULL)
		evil_die("calloc");
	resp->hdr.id = QB_IPC_MSG_AUTHENTICATE;
	resp->hdr.size = (int32_t)sizeof(*resp);
	resp->hdr.error = plan->error;
	if (plan->error == 0) {
		for (i = 0; i < 3; i++)
			evil_ring_make(&rings[i], dir, kinds[i], plan->ring_size, i == 0 ? 4 : 0);
		resp->connection_type = 1; /* SHM */
		resp->max_msg_size = plan->claimed_max;
		snprintf(resp->request, EVIL_PATH_FIELD, "%s", rings[0].base);
		snprintf(resp->response, EVIL_PATH_FIELD, "%s", rings[1].base);
		snprintf(resp->event, EVIL_PATH_FIELD, "%s", rings[2].base);
	}
	if (send(cfd, resp, sizeof(*resp), MSG_NOSIGNAL) != (ssize_t)sizeof(*resp))
		evil_die("send answer");
	if (plan->error == 0) {
		if (plan->attack == EVIL_RESPONSE_CHUNK)
			evil_ring_put(&rings[1], plan);
		if (plan->attack == EVIL_EVENT_CHUNK) {
			evil_ring_put(&rings[2], plan);
			if (send(cfd, &b, 1, MSG_NOSIGNAL) != 1)
				evil_die("doorbell");
		}
	}
	/* Serve until the client hangs up (doorbells are read and ignored). */
	for (;;) {
		ssize_t n = recv(cfd, &b, 1, 0);

		if (n <= 0)
			break;
	}
	if (plan->error == 0)
		for (i = 0; i < 3; i++)
			evil_ring_unlink(&rings[i]);
	rmdir(dir);
	_exit(0);
}

#endif /* IPC_EVIL_SERVER_H */
