/*
 * ipc_leak_probes.h: what an IPC test counts before and after a case to show
 * nothing leaked: this process's open descriptors and /dev/shm entries.
 *
 * Shared by the check_ipc_interop_*, check_ipcc_* and check_ipcs_* programs.
 * Everything is static inline so a program may use only part of it.
 */
#ifndef QBT_IPC_LEAK_PROBES_H
#define QBT_IPC_LEAK_PROBES_H

#include <check.h>
#include <dirent.h>
#include <string.h>

/* Open descriptors of this process. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own descriptor */
}

/* /dev/shm entries whose names start with `prefix`. */
static inline int count_shm_prefixed(const char *prefix)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

#endif /* QBT_IPC_LEAK_PROBES_H */
