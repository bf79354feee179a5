/*
 * ipc_hostile_fixture.h: what every hostile IPC suite
 * (c-tests/check_ipc_hostile_*.c) needs, whichever phase it attacks: the
 * switch that keeps stricter-than-stock cases off stock libqb, the library
 * directory for the server peer, a /dev/shm scan and canary files a case
 * points the server at (the clock of bounded waits is peer_spawn.h's).
 *
 * The two phases build their own fixtures on top of this one:
 * ipc_hostile_wire.h (connection phase) and ipc_hostile_shm.h (shared memory).
 * Everything here is static inline so a suite that skips a helper still
 * compiles under -Werror.
 */
#ifndef IPC_HOSTILE_FIXTURE_H
#define IPC_HOSTILE_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer_spawn.h"
#include "qbtest.h"

/* The server peer runs on the same libqb as this program (ours or stock). */
static inline const char *server_libdir(void)
{
	return getenv(qbt_is_stock() ? "QBT_STOCK_LIBDIR" : "QBT_OURS_LIBDIR");
}

/* Counts entries of /dev/shm whose name starts with prefix; copies the name
 * of one that is not in `except` (a NUL-separated list) into `found`. */
static inline int shm_scan(const char *prefix, const char *except, size_t except_len,
			   char *found, size_t found_size)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		if (found != NULL) {
			size_t off = 0;
			int known = 0;

			while (off < except_len) {
				if (strcmp(except + off, e->d_name) == 0)
					known = 1;
				off += strlen(except + off) + 1;
			}
			if (!known)
				snprintf(found, found_size, "%s", e->d_name);
		}
	}
	closedir(d);
	return n;
}

/* A 7-byte file in /tmp ("canary\n") that an attack points the server at;
 * nothing the server does may change or remove it. */
static inline void make_canary(char *path, size_t size, const char *tag)
{
	int fd;

	snprintf(path, size, "/tmp/qbh-canary-%d-%s", (int)getpid(), tag);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "canary\n", 7), 7);
	close(fd);
}

/* The canary still holds exactly what make_canary wrote; then removes it. */
static inline void check_canary(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "canary %s was removed", path);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 7);
	close(fd);
	ck_assert_msg(memcmp(buf, "canary\n", 7) == 0, "canary %s was changed", path);
	unlink(path);
}

#endif /* IPC_HOSTILE_FIXTURE_H */
