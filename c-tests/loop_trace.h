/*
 * loop_trace.h: what the qbloop.h tests (check_loop_*.c) share: a trace of
 * the callbacks that ran, as a string compared exactly (the same binary run
 * against stock libqb gives the same strings), and the loop those
 * callbacks act on. Everything is static inline so a program may use only
 * part of it.
 */
#ifndef QBT_LOOP_TRACE_H
#define QBT_LOOP_TRACE_H

#include <string.h>

#include <qb/qbloop.h>

static char trace[4096];

static inline void note(const char *s)
{
	if (trace[0] != '\0')
		strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

/* The loop the callbacks stop or add to. */
static qb_loop_t *cur;

/* A new loop that becomes `cur`, with the trace emptied. */
static inline qb_loop_t *traced_loop(void)
{
	qb_loop_t *l = qb_loop_create();

	cur = l;
	trace[0] = '\0';
	return l;
}

static inline void job_note(void *data)
{
	note((const char *)data);
}

static inline void job_stop(void *data)
{
	if (data != NULL)
		note((const char *)data);
	qb_loop_stop(cur);
}

static inline void noop(void *data)
{
	(void)data;
}

#endif /* QBT_LOOP_TRACE_H */
