/*
 * Demo: a tiny service registry built on libqb's handle database, maps and
 * stopwatch. Build and run it with `make demo`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qb/qbdefs.h>
#include <qb/qbhdb.h>
#include <qb/qbmap.h>
#include <qb/qbutil.h>

struct service {
	char name[32];
	int port;
};

/* Declared statically and never created explicitly, as corosync's libraries do. */
QB_HDB_DECLARE(services, NULL)

static qb_handle_t add_service(qb_map_t *by_name, const char *name, int port)
{
	struct service *svc;
	qb_handle_t handle;

	if (qb_hdb_handle_create(&services, sizeof(*svc), &handle) != 0)
		return 0;
	qb_hdb_handle_get(&services, handle, (void **)&svc);
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	svc->port = port;
	qb_map_put(by_name, svc->name, svc);
	qb_hdb_handle_put(&services, handle);
	return handle;
}

int main(void)
{
	qb_map_t *by_name = qb_trie_create();
	qb_util_stopwatch_t *sw = qb_util_stopwatch_create();
	qb_map_iter_t *iter;
	struct service *svc;
	const char *key;
	void *value;
	qb_handle_t cmap, handle;
	int rc = 0;

	printf("libqb %s: handles, maps, stopwatch\n", qb_ver_str);
	qb_util_stopwatch_start(sw);

	cmap = add_service(by_name, "cmap", 5405);
	add_service(by_name, "cpg", 5406);
	add_service(by_name, "cfg", 5407);

	printf("services starting with \"c\" (sorted by the trie):\n");
	iter = qb_map_pref_iter_create(by_name, "c");
	while ((key = qb_map_iter_next(iter, &value)) != NULL)
		printf("  %-5s port %d\n", key, ((struct service *)value)->port);
	qb_map_iter_free(iter);

	/* A destroyed handle goes stale: the next get fails with -EBADF. */
	qb_hdb_handle_get(&services, cmap, (void **)&svc);
	qb_map_rm(by_name, svc->name);
	qb_hdb_handle_put(&services, cmap);
	qb_hdb_handle_destroy(&services, cmap);
	if (qb_hdb_handle_get(&services, cmap, (void **)&svc) != -EBADF) {
		printf("unexpected: stale handle still valid\n");
		rc = 1;
	}
	printf("after removing cmap: %zu services in the map\n", qb_map_count_get(by_name));

	qb_hdb_iterator_reset(&services);
	while (qb_hdb_iterator_next(&services, (void **)&svc, &handle) == 0) {
		printf("  handle %" PRIx64 " -> %s\n", handle, svc->name);
		qb_hdb_handle_put(&services, handle);
	}

	qb_util_stopwatch_stop(sw);
	printf("done in %" PRIu64 " us\n", qb_util_stopwatch_us_elapsed_get(sw));
	qb_util_stopwatch_free(sw);
	qb_map_destroy(by_name);
	qb_hdb_destroy(&services);
	return rc;
}
