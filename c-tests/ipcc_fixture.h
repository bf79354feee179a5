/*
 * ipcc_fixture.h: what the IPC client tests (check_ipcc_*.c) share: the
 * headers they build on and the names they give their services.
 *
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_IPCC_FIXTURE_H
#define QBT_IPCC_FIXTURE_H

#include <stdio.h>
#include <unistd.h>

#include <qb/qbdefs.h>
#include <qb/qbipcc.h>

#include "ipc_chat.h"
#include "leak_probes.h"
#include "qbtest.h"

/* A service name no other case, program or concurrent run uses. */
static inline void unique_name(char *buf, size_t size, const char *what)
{
	static int seq;

	snprintf(buf, size, "qbt-ipcc-%s-%d-%d", what, (int)getpid(), seq++);
}

#endif /* QBT_IPCC_FIXTURE_H */
