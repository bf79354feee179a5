/*
 * ipc_chat.h: the little protocol spoken by the IPC interop tests.
 *
 * Shared by c-tests/ipc_peer.c (a stand-alone server/client run under one
 * libqb) and the tests that drive it under the other (check_ipc_interop_*.c,
 * check_ipcc_real_server.c), so both sides build and verify messages the
 * same way. Only public API is used.
 *
 * Messages (every one starts with a libqb header whose size is the total):
 *   echo request   req hdr {IPCC_ECHO, L}   | u32 seq | pattern(seq ^ SALT_REQ)
 *   echo response  res hdr {IPCC_ECHO, L, 0} | u32 seq | pattern(seq ^ SALT_RES)
 *                  (same total length L as the request)
 *   events request req hdr {IPCC_EVENTS}    | u32 n | u32 size | u32 first seq
 *   events answer  res hdr {IPCC_EVENTS, 28, error} | u32 events sent
 *   event          res hdr {IPCC_EVENT, L, 0} | u32 seq | pattern(seq ^ SALT_EVT)
 *   bye request    req hdr {IPCC_BYE, 20} | u32 how: the server disconnects
 *                  the client (how 0: inside msg_process, 1: from a loop job)
 *                  and does not answer.
 * A server that finds a request damaged answers (when it can) with error
 * -EBADMSG and counts it in `bad`.
 */
#ifndef IPC_CHAT_H
#define IPC_CHAT_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <qb/qbipc_common.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#define IPCC_ECHO (QB_IPC_MSG_USER_START + 40)
#define IPCC_EVENTS (QB_IPC_MSG_USER_START + 41)
#define IPCC_BYE (QB_IPC_MSG_USER_START + 42)
#define IPCC_EVENT (QB_IPC_MSG_USER_START + 43)

#define IPCC_REQ_HDR ((uint32_t)sizeof(struct qb_ipc_request_header))
#define IPCC_RES_HDR ((uint32_t)sizeof(struct qb_ipc_response_header))
/* The smallest echo or event: a response header and the sequence word. */
#define IPCC_MIN_MSG (IPCC_RES_HDR + 4)
/* Largest message either side handles (buffers are this big). */
#define IPCC_MAX_MSG (1u << 20)
/* What clients ask for; servers then use at least this. */
#define IPCC_CLIENT_MAX (64u * 1024u)

#define IPCC_SALT_REQ 0x5EEDu
#define IPCC_SALT_RES 0xA5A5u
#define IPCC_SALT_EVT 0x3C3Cu

/* Deterministic payload bytes: every position of every message differs. */
static inline uint8_t ipcc_byte(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;

	return (uint8_t)(x >> 13 ^ x >> 24 ^ i);
}

static inline void ipcc_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = ipcc_byte(seed, i);
}

/* 0 when p[0..len) is the pattern for seed, else 1 + the first bad index. */
static inline size_t ipcc_pattern_bad(const uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ipcc_byte(seed, i))
			return i + 1;
	return 0;
}

static inline uint32_t ipcc_get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline void ipcc_put32(void *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Builds an echo request of total length len (>= IPCC_MIN_MSG) in buf. */
static inline void ipcc_make_echo(uint8_t *buf, uint32_t len, uint32_t seq)
{
	struct qb_ipc_request_header h;

	memset(&h, 0, sizeof(h));
	h.id = IPCC_ECHO;
	h.size = (int32_t)len;
	memcpy(buf, &h, sizeof(h));
	ipcc_put32(buf + IPCC_REQ_HDR, seq);
	ipcc_pattern(buf + IPCC_REQ_HDR + 4, len - IPCC_REQ_HDR - 4, seq ^ IPCC_SALT_REQ);
}

/* Builds a response-shaped message (echo answer or event). */
static inline void ipcc_make_reply(uint8_t *buf, int32_t id, uint32_t len, uint32_t seq,
				   uint32_t salt)
{
	struct qb_ipc_response_header h;

	memset(&h, 0, sizeof(h));
	h.id = id;
	h.size = (int32_t)len;
	h.error = 0;
	memcpy(buf, &h, sizeof(h));
	ipcc_put32(buf + IPCC_RES_HDR, seq);
	ipcc_pattern(buf + IPCC_RES_HDR + 4, len - IPCC_RES_HDR - 4, seq ^ salt);
}

/*
 * Checks a response-shaped message of `got` bytes: id, size, error 0, the
 * expected seq and pattern. Returns NULL when it is right, else a reason.
 */
static inline const char *ipcc_check_reply(const uint8_t *buf, ssize_t got, int32_t id,
					   uint32_t len, uint32_t seq, uint32_t salt)
{
	struct qb_ipc_response_header h;

	if (got != (ssize_t)len)
		return "wrong length";
	memcpy(&h, buf, sizeof(h));
	if (h.id != id)
		return "wrong id";
	if (h.size != (int32_t)len)
		return "header size differs from the length";
	if (h.error != 0)
		return "error set in the header";
	if (ipcc_get32(buf + IPCC_RES_HDR) != seq)
		return "wrong sequence number";
	if (ipcc_pattern_bad(buf + IPCC_RES_HDR + 4, len - IPCC_RES_HDR - 4, seq ^ salt))
		return "payload damaged";
	return NULL;
}

/*
 * A client's send meets a full request ring when the server has answered the
 * previous request but not yet reclaimed it (libqb reclaims after
 * msg_process returns): -EAGAIN, and the caller tries again. Nothing can be
 * waited on, so this yields; the bound only turns a stuck server into an
 * error.
 */
#define IPCC_SEND_TRIES 20000000L

#define IPCC_RETRY_EAGAIN(res, call)                                        \
	do {                                                                \
		long tries_ = 0;                                            \
		while (((res) = (call)) == -EAGAIN && ++tries_ < IPCC_SEND_TRIES) \
			sched_yield();                                      \
	} while (0)

/* ------------------------------------------------------------ the server */

/* What happened to one connection, by its creation order. */
struct ipcc_conn_log {
	int accepted, created, closed, destroyed;
};

/* Connections one server logs over its life (the hostile suite makes hundreds). */
#define IPCC_MAX_CONNS 2048

struct ipcc_server {
	qb_ipcs_service_t *svc;
	qb_loop_t *loop;
	/* Totals over all connections. */
	int accepted, created, closed, destroyed, requests, bad, events_sent;
	/* Lifecycle anomalies: callbacks out of order or repeated. */
	int anomalies;
	struct ipcc_conn_log conns[IPCC_MAX_CONNS];
	int nconns;
	qb_ipcs_connection_t *last; /* most recently created, NULL once destroyed */
	/* Called after anything above changed (the test stops its loop there). */
	void (*changed)(struct ipcc_server *srv);
	/* Optional: consulted first by connection_accept; non-zero refuses with it. */
	int32_t (*accept_hook)(struct ipcc_server *srv, uid_t uid, gid_t gid);
	/* Optional: handles request ids msg_process does not know; returns 0 when
	 * it took the request (else it counts as bad). data is what libqb passed. */
	int32_t (*other_msg)(struct ipcc_server *srv, qb_ipcs_connection_t *c,
			     const void *data, size_t size);
	uint8_t buf[IPCC_MAX_MSG];
};

static inline struct ipcc_server *ipcc_srv_of(qb_ipcs_connection_t *c)
{
	return (struct ipcc_server *)qb_ipcs_connection_service_context_get(c);
}

/* The log entry of c, or NULL (an anomaly) when it has none. */
static inline struct ipcc_conn_log *ipcc_log_of(struct ipcc_server *srv,
						qb_ipcs_connection_t *c)
{
	intptr_t idx = (intptr_t)qb_ipcs_context_get(c);

	if (idx < 1 || idx > srv->nconns)
		return NULL;
	return &srv->conns[idx - 1];
}

static inline void ipcc_changed(struct ipcc_server *srv)
{
	if (srv->changed != NULL)
		srv->changed(srv);
}

static int32_t ipcc_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	struct ipcc_server *srv = ipcc_srv_of(c);

	if (srv->accept_hook != NULL) {
		int32_t refuse = srv->accept_hook(srv, uid, gid);

		if (refuse != 0)
			return refuse;
	}
	if (srv->nconns >= IPCC_MAX_CONNS)
		return -EMFILE;
	srv->conns[srv->nconns].accepted = 1;
	srv->nconns++;
	qb_ipcs_context_set(c, (void *)(intptr_t)srv->nconns);
	srv->accepted++;
	ipcc_changed(srv);
	return 0;
}

static void ipcc_created(qb_ipcs_connection_t *c)
{
	struct ipcc_server *srv = ipcc_srv_of(c);
	struct ipcc_conn_log *log = ipcc_log_of(srv, c);

	if (log == NULL || log->created || log->closed || log->destroyed)
		srv->anomalies++;
	if (log != NULL)
		log->created++;
	srv->created++;
	srv->last = c;
	ipcc_changed(srv);
}

static int32_t ipcc_closed(qb_ipcs_connection_t *c)
{
	struct ipcc_server *srv = ipcc_srv_of(c);
	struct ipcc_conn_log *log = ipcc_log_of(srv, c);

	if (log == NULL || !log->created || log->closed || log->destroyed)
		srv->anomalies++;
	if (log != NULL)
		log->closed++;
	srv->closed++;
	ipcc_changed(srv);
	return 0;
}

static void ipcc_destroyed(qb_ipcs_connection_t *c)
{
	struct ipcc_server *srv = ipcc_srv_of(c);
	struct ipcc_conn_log *log = ipcc_log_of(srv, c);

	/* closed may be skipped only for a connection that never got created */
	if (log == NULL || log->destroyed || (log->created && !log->closed))
		srv->anomalies++;
	if (log != NULL)
		log->destroyed++;
	srv->destroyed++;
	if (srv->last == c)
		srv->last = NULL;
	ipcc_changed(srv);
}

/* Sends n events of `size` bytes with sequence numbers from `seq` to c;
 * returns how many went out, or the first error when none did. */
static inline int32_t ipcc_send_events(struct ipcc_server *srv, qb_ipcs_connection_t *c,
				       uint32_t n, uint32_t size, uint32_t seq)
{
	uint32_t i;
	ssize_t r;

	if (size < IPCC_MIN_MSG || size > IPCC_MAX_MSG)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ipcc_make_reply(srv->buf, IPCC_EVENT, size, seq + i, IPCC_SALT_EVT);
		if (i % 2 == 0) {
			r = qb_ipcs_event_send(c, srv->buf, size);
		} else {
			/* the vectored form, split at an awkward place */
			struct iovec iov[2] = {{srv->buf, 5}, {srv->buf + 5, size - 5}};

			r = qb_ipcs_event_sendv(c, iov, 2);
		}
		if (r != (ssize_t)size)
			return i > 0 ? (int32_t)i : (int32_t)(r < 0 ? r : -EIO);
		srv->events_sent++;
	}
	return (int32_t)n;
}

static void ipcc_bye_job(void *data)
{
	qb_ipcs_connection_t *c = data;

	qb_ipcs_disconnect(c);
	qb_ipcs_connection_unref(c);
}

static int32_t ipcc_msg_process(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct ipcc_server *srv = ipcc_srv_of(c);
	const uint8_t *req = data;
	struct qb_ipc_request_header h;
	uint8_t *out = srv->buf;
	uint32_t len = (uint32_t)size, seq;
	ssize_t r;

	srv->requests++;
	if (size < IPCC_REQ_HDR || size > IPCC_MAX_MSG) {
		srv->bad++;
		ipcc_changed(srv);
		return 0;
	}
	memcpy(&h, req, sizeof(h));
	if (h.size != (int32_t)size)
		srv->bad++;
	switch (h.id) {
	case IPCC_ECHO:
		if (size < IPCC_MIN_MSG) {
			srv->bad++;
			break;
		}
		seq = ipcc_get32(req + IPCC_REQ_HDR);
		ipcc_make_reply(out, IPCC_ECHO, len, seq, IPCC_SALT_RES);
		if (ipcc_pattern_bad(req + IPCC_REQ_HDR + 4, len - IPCC_REQ_HDR - 4,
				     seq ^ IPCC_SALT_REQ)) {
			srv->bad++;
			((struct qb_ipc_response_header *)(void *)out)->error = -EBADMSG;
		}
		if (seq % 2 == 0) {
			r = qb_ipcs_response_send(c, out, len);
		} else {
			struct iovec iov[3] = {{out, 3}, {out + 3, 40 < len ? 37 : len - 3}, {NULL, 0}};

			if (len > 40) {
				iov[2].iov_base = out + 40;
				iov[2].iov_len = len - 40;
			}
			r = qb_ipcs_response_sendv(c, iov, 3);
		}
		if (r != (ssize_t)len)
			srv->bad++;
		break;
	case IPCC_EVENTS: {
		struct qb_ipc_response_header *rh = (void *)out;
		uint32_t n, esize, first;
		int32_t sent;

		if (size != IPCC_REQ_HDR + 12) {
			srv->bad++;
			break;
		}
		n = ipcc_get32(req + IPCC_REQ_HDR);
		esize = ipcc_get32(req + IPCC_REQ_HDR + 4);
		first = ipcc_get32(req + IPCC_REQ_HDR + 8);
		sent = ipcc_send_events(srv, c, n, esize, first);
		memset(out, 0, IPCC_RES_HDR + 4);
		rh->id = IPCC_EVENTS;
		rh->size = (int32_t)(IPCC_RES_HDR + 4);
		rh->error = sent < 0 ? sent : 0;
		ipcc_put32(out + IPCC_RES_HDR, sent < 0 ? 0 : (uint32_t)sent);
		if (qb_ipcs_response_send(c, out, IPCC_RES_HDR + 4) != IPCC_RES_HDR + 4)
			srv->bad++;
		break;
	}
	case IPCC_BYE:
		/*
		 * Payload word 0: disconnect right here (0) or from a job after
		 * this dispatch (1). Stock libqb 2.0.x keeps using a connection
		 * after msg_process returns, so disconnecting it inside the
		 * callback makes stock read freed memory or call connection_closed
		 * twice: the test asks stock servers for the job.
		 */
		if (size >= IPCC_REQ_HDR + 4 && ipcc_get32(req + IPCC_REQ_HDR) == 1) {
			qb_ipcs_connection_ref(c);
			if (qb_loop_job_add(srv->loop, QB_LOOP_HIGH, c, ipcc_bye_job) != 0) {
				qb_ipcs_connection_unref(c);
				srv->bad++;
			}
		} else {
			qb_ipcs_disconnect(c);
		}
		break;
	default:
		if (srv->other_msg == NULL || srv->other_msg(srv, c, data, size) != 0)
			srv->bad++;
		break;
	}
	ipcc_changed(srv);
	return 0;
}

/* --------------------------------------------- a qb_loop under the service */

static qb_loop_t *ipcc_loop;

static int32_t ipcc_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ipcc_loop, p, data, fn);
}

static int32_t ipcc_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events,
				 void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ipcc_loop, p, fd, events, data, fn);
}

static int32_t ipcc_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events,
				 void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ipcc_loop, p, fd, events, data, fn);
}

static int32_t ipcc_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(ipcc_loop, fd);
}

/* Creates and runs the service `name` on `loop`; returns 0 or -errno. */
static inline int32_t ipcc_server_start(struct ipcc_server *srv, qb_loop_t *loop,
					const char *name, enum qb_ipc_type type)
{
	static struct qb_ipcs_service_handlers handlers = {
		.connection_accept = ipcc_accept,
		.connection_created = ipcc_created,
		.msg_process = ipcc_msg_process,
		.connection_closed = ipcc_closed,
		.connection_destroyed = ipcc_destroyed,
	};
	static struct qb_ipcs_poll_handlers poll_handlers = {
		.job_add = ipcc_job_add,
		.dispatch_add = ipcc_dispatch_add,
		.dispatch_mod = ipcc_dispatch_mod,
		.dispatch_del = ipcc_dispatch_del,
	};
	int32_t r;

	ipcc_loop = loop;
	srv->loop = loop;
	srv->svc = qb_ipcs_create(name, 1, type, &handlers);
	if (srv->svc == NULL)
		return errno > 0 ? -errno : -EINVAL;
	qb_ipcs_service_context_set(srv->svc, srv);
	qb_ipcs_poll_handlers_set(srv->svc, &poll_handlers);
	r = qb_ipcs_run(srv->svc);
	if (r != 0) {
		qb_ipcs_destroy(srv->svc);
		srv->svc = NULL;
	}
	return r;
}

/* Disconnects every client from outside any callback; returns how many. */
static inline int ipcc_server_kick_all(struct ipcc_server *srv)
{
	qb_ipcs_connection_t *c = qb_ipcs_connection_first_get(srv->svc), *next;
	int n = 0;

	while (c != NULL) {
		next = qb_ipcs_connection_next_get(srv->svc, c);
		qb_ipcs_disconnect(c);
		qb_ipcs_connection_unref(c);
		n++;
		c = next;
	}
	return n;
}

/* Parses a transport word of the peer protocol. */
static inline int ipcc_parse_type(const char *s, enum qb_ipc_type *type)
{
	if (strcmp(s, "shm") == 0)
		*type = QB_IPC_SHM;
	else if (strcmp(s, "socket") == 0)
		*type = QB_IPC_SOCKET;
	else if (strcmp(s, "native") == 0)
		*type = QB_IPC_NATIVE;
	else
		return -1;
	return 0;
}

#endif /* IPC_CHAT_H */
