/*
 * peer_side.h: the peer programs' end of peer_spawn.h (ipc_peer.c,
 * rb_peer.c). Answers go out one line each on fd 3, or on stdout when fd 3
 * is not open (a peer run by hand); a failure is one "FAIL <why>" line and
 * exit status 1. Everything is static inline so a peer may use only part of
 * it.
 */
#ifndef QBT_PEER_SIDE_H
#define QBT_PEER_SIDE_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mapped_lib.h"

static FILE *answers;
static const char *peer_name = "peer";  /* in messages on stderr */
static void (*peer_cleanup)(void);      /* run by fail() before it exits */

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(answers, fmt, ap);
	va_end(ap);
	fputc('\n', answers);
	fflush(answers);
}

static inline void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", peer_name, msg);
	say("FAIL %s", msg);
	if (peer_cleanup != NULL)
		peer_cleanup();
	exit(1);
}

/* Opens the answer channel and checks the library (see qbt_peer_check_lib;
 * `mapped` may be NULL). */
static inline void peer_begin(const char *name, char *mapped, size_t mapped_size)
{
	peer_name = name;
	answers = fcntl(3, F_GETFD) >= 0 ? fdopen(3, "w") : stdout;
	if (answers == NULL)
		answers = stdout;
	qbt_peer_check_lib(fail, mapped, mapped_size);
}

#endif /* QBT_PEER_SIDE_H */
