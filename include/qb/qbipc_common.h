/*
 * libqb-rs: qbipc_common.h - framing shared by IPC clients and servers.
 *
 * Every IPC message starts with one of these headers. Each int32 member is 8-byte
 * aligned (so the request header is 16 bytes and the response header 24): this is
 * libqb's wire layout and must not change.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_IPC_COMMON_H_DEFINED
#define QB_IPC_COMMON_H_DEFINED

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct qb_ipc_request_header {
	int32_t id __attribute__((aligned(8)));
	int32_t size __attribute__((aligned(8))); /* whole message, header included */
} __attribute__((aligned(8)));

struct qb_ipc_response_header {
	int32_t id __attribute__((aligned(8)));
	int32_t size __attribute__((aligned(8))); /* whole message, header included */
	int32_t error __attribute__((aligned(8))); /* 0 or -errno */
} __attribute__((aligned(8)));

/* Transport a service offers. NATIVE selects shared memory on Linux. */
enum qb_ipc_type {
	QB_IPC_SOCKET,
	QB_IPC_SHM,
	QB_IPC_POSIX_MQ,
	QB_IPC_SYSV_MQ,
	QB_IPC_NATIVE,
};

/* Message ids: user ids start at 0; negative ids belong to the library. */
#define QB_IPC_MSG_NEW_MESSAGE 0
#define QB_IPC_MSG_USER_START QB_IPC_MSG_NEW_MESSAGE
#define QB_IPC_MSG_AUTHENTICATE -1
#define QB_IPC_MSG_NEW_EVENT_SOCK -2
#define QB_IPC_MSG_DISCONNECT -3

#ifdef __cplusplus
}
#endif

#endif /* QB_IPC_COMMON_H_DEFINED */
