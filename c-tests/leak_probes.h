/*
 * leak_probes.h: what a test counts before and after a case to show nothing
 * leaked: this process's open descriptors and /dev/shm entries.
 *
 * Shared by the IPC, ring-buffer and blackbox tests. Everything is static
 * inline so a program may use only part of it.
 */
#ifndef QBT_LEAK_PROBES_H
#define QBT_LEAK_PROBES_H

#include <check.h>
#include <dirent.h>
#include <string.h>

/* Entries of `dir` other than "." and ".."; -1 when it cannot be read.
 * Asserts nothing, so a forked child that reports otherwise can use it. */
static inline int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Open descriptors of this process. */
static inline int count_fds(void)
{
	int n = dir_entries("/proc/self/fd");

	ck_assert_int_gt(n, 0);
	return n - 1; /* the descriptor that listed them */
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

#endif /* QBT_LEAK_PROBES_H */
