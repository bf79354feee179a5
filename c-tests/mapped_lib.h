/*
 * Which libqb.so files are mapped into this process, read from
 * /proc/self/maps. The test programs and the interop peers use it to prove
 * they run on the library they were meant to (ours or stock). Everything is
 * static inline so a program may use only part of it.
 */
#ifndef QBT_MAPPED_LIB_H
#define QBT_MAPPED_LIB_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scans the mapped libqb.so files. `*found` (if given) says whether `want`
 * (a real path, or NULL) is one of them; `first` (if given, `first_len`
 * bytes) receives the first one, or "" when none is mapped. Returns how many
 * mapped libqb.so lines are not `want`, or -1 when the maps are unreadable. */
static inline int qbt_mapped_libqb(const char *want, int *found, char *first,
				   size_t first_len)
{
	char line[PATH_MAX + 256];
	FILE *maps = fopen("/proc/self/maps", "r");
	int other = 0;

	if (found != NULL)
		*found = 0;
	if (first != NULL && first_len > 0)
		first[0] = '\0';
	if (maps == NULL)
		return -1;
	while (fgets(line, sizeof(line), maps)) {
		char *path = strchr(line, '/');

		if (path == NULL || strstr(path, "libqb.so") == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (first != NULL && first_len > 0 && first[0] == '\0')
			snprintf(first, first_len, "%s", path);
		if (want != NULL && strcmp(path, want) == 0) {
			if (found != NULL)
				*found = 1;
		} else {
			other++;
		}
	}
	fclose(maps);
	return other;
}

/* For a peer program: when QBT_PEER_EXPECT_LIB is set, the file it names
 * must be the only libqb mapped, so a peer never runs on the wrong side of
 * an interop test; otherwise `stop` (the peer's fail(), which must not
 * return) says why. `mapped` (if given) receives the libqb file mapped,
 * "?" when none is. */
static inline void qbt_peer_check_lib(void (*stop)(const char *fmt, ...), char *mapped,
				      size_t mapped_size)
{
	const char *expect = getenv("QBT_PEER_EXPECT_LIB");
	char want[PATH_MAX];
	int found, other;

	if (expect == NULL && mapped == NULL)
		return;
	if (expect != NULL && realpath(expect, want) == NULL)
		stop("QBT_PEER_EXPECT_LIB %s: %s", expect, strerror(errno));
	other = qbt_mapped_libqb(expect != NULL ? want : NULL, &found, mapped, mapped_size);
	if (other < 0)
		stop("cannot read /proc/self/maps");
	if (mapped != NULL && mapped_size > 1 && mapped[0] == '\0')
		snprintf(mapped, mapped_size, "?");
	if (expect != NULL && (!found || other))
		stop("expected %s to be the only libqb mapped", want);
}

#endif /* QBT_MAPPED_LIB_H */
