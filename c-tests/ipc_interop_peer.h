/*
 * ipc_interop_peer.h: driving c-tests/ipc_peer for the IPC interop tests
 * (check_ipc_interop_*.c), and running our own server's loop meanwhile.
 *
 * The peer runs on the OTHER libqb (LD_LIBRARY_PATH): stock when this program
 * runs on libqb-rs, libqb-rs when it runs on stock. It reads command lines on
 * its stdin and answers on its fd 3 (see ipc_peer.c). While we serve, waiting
 * for an answer runs our qb_loop, so the peer's requests are served
 * meanwhile; waits end on a line or a lifecycle callback, never on a clock
 * (a 30 s guard only turns a dead peer into a failure).
 *
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_IPC_INTEROP_PEER_H
#define QBT_IPC_INTEROP_PEER_H

#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qb/qbloop.h>
#include <qb/qbutil.h>

#include "ipc_chat.h"
#include "peer_spawn.h"
#include "qbtest.h"

#define GUARD_MS 30000 /* only turns a dead peer into a failure */
#define SLICE_MS 1000
#define SLICES 30

static pid_t main_pid;

/* ------------------------------------------------------------ peer process */

struct peer {
	pid_t pid;
	int cmd;          /* its stdin */
	int ans;          /* its fd 3 */
	int eof;          /* its answers ended */
	struct qbt_answers in;
};

static inline int peer_available(void)
{
	return qbt_other_lib_available("QBT_IPC_PEER");
}

static inline void peer_start(struct peer *p, const char *a1, const char *a2,
			      const char *a3)
{
	const char *path = getenv("QBT_IPC_PEER");
	char *argv[] = {(char *)path, (char *)a1, (char *)a2, (char *)a3, NULL};
	struct qbt_peer_proc pp;

	ck_assert_msg(path != NULL, "QBT_IPC_PEER must name the ipc_peer program");
	memset(p, 0, sizeof(*p));
	pp = qbt_peer_spawn(argv, qbt_other_libdir(), NULL, NULL);
	p->pid = pp.pid;
	p->cmd = pp.cmd;
	p->ans = pp.ans;
}

/* Closes our ends and waits for the peer; returns its wait status. */
static inline int peer_reap(struct peer *p)
{
	int status = 0;

	if (p->cmd >= 0)
		close(p->cmd);
	if (p->ans >= 0)
		close(p->ans);
	p->cmd = p->ans = -1;
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	return status;
}

static inline void peer_send(struct peer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void peer_send(struct peer *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = qbt_vsend_line(p->cmd, line, sizeof(line), fmt, ap);
	va_end(ap);
	ck_assert_int_gt(n, 0);
}

/* Reads what the peer has written so far (blocks until something comes). */
static inline void peer_fill(struct peer *p)
{
	if (qbt_fill(&p->in, p->ans) <= 0)
		p->eof = 1;
}

/* ------------------------------------------------------- our server's loop */

static struct ipcc_server srv;
static qb_loop_t *loop;
static struct peer *served_peer; /* whose answers stop the loop */
static int *stop_counter;        /* a counter in srv that stops the loop ... */
static int stop_at;              /* ... once it reaches this */
static int guard_fired;

static inline void srv_changed(struct ipcc_server *s)
{
	(void)s;
	if (stop_counter != NULL && *stop_counter >= stop_at)
		qb_loop_stop(loop);
}

static inline int32_t on_answer(int32_t fd, int32_t revents, void *data)
{
	struct peer *p = data;

	(void)fd;
	(void)revents;
	peer_fill(p);
	if (p->eof || qbt_has_line(&p->in))
		qb_loop_stop(loop);
	return p->eof ? -1 : 0;
}

static inline void on_guard(void *data)
{
	(void)data;
	guard_fired = 1;
	qb_loop_stop(loop);
}

/* Runs our loop once until something stops it (guarded). */
static inline void serve_once(void)
{
	qb_loop_timer_handle guard;

	ck_assert_int_eq(qb_loop_timer_add(loop, QB_LOOP_LOW, GUARD_MS * QB_TIME_NS_IN_MSEC,
					   NULL, on_guard, &guard),
			 0);
	qb_loop_run(loop);
	ck_assert_msg(!guard_fired, "nothing happened for %d ms while serving", GUARD_MS);
	qb_loop_timer_del(loop, guard);
}

/* Serves until srv's counter reaches `want`. */
static inline void serve_until(int *counter, int want)
{
	stop_counter = counter;
	stop_at = want;
	while (*counter < want)
		serve_once();
	stop_counter = NULL;
}

/* Next answer line of the peer; while we serve, the loop runs meanwhile. */
static inline void peer_line(struct peer *p, char *line, size_t size)
{
	while (!qbt_take_line(&p->in, line, size)) {
		ck_assert_msg(!p->eof, "peer %d ended without answering", (int)p->pid);
		if (served_peer == p)
			serve_once();
		else
			peer_fill(p);
	}
}

/* Reads the next answer, which must start with `word`; returns the rest. */
static inline const char *peer_expect(struct peer *p, const char *word)
{
	static char line[512];
	size_t wl = strlen(word);

	peer_line(p, line, sizeof(line));
	ck_assert_msg(strncmp(line, word, wl) == 0 && (line[wl] == '\0' || line[wl] == ' '),
		      "peer answered '%s', expected %s", line, word);
	return line[wl] ? line + wl + 1 : "";
}

/* Sends a command and returns the numbers of its OK answer. */
static inline int peer_ask(struct peer *p, long *v, int nv, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int peer_ask(struct peer *p, long *v, int nv, const char *fmt, ...)
{
	char cmd[256];
	const char *rest;
	char *end;
	va_list ap;
	int n = 0;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	peer_send(p, "%s", cmd);
	rest = peer_expect(p, "OK");
	while (*rest != '\0' && n < nv) {
		v[n++] = strtol(rest, &end, 10);
		ck_assert_msg(end != rest, "peer answer to %s not numeric: %s", cmd, rest);
		rest = end;
		while (*rest == ' ')
			rest++;
	}
	return n;
}

#endif /* QBT_IPC_INTEROP_PEER_H */
