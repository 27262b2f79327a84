/* snapshot.h — the initial copy of one source into every unit: one read of
 * each table inside the slot's exported snapshot, each row routed and sent
 * to its unit with COPY; rows and checkpoints in one transaction per
 * connection group; a completion marker after the last unit. */
#ifndef SYNCD_SNAPSHOT_H
#define SYNCD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "syncd/config.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/state.h"

struct snapshot_result {
	bool already_done; /* a completed snapshot was found; nothing was copied */
	struct state_snapshot snap;
};

/* Snapshots source src unless it already has a completed one.  Returns 0, or
 * -1 with err naming the object and the fix; on error nothing is committed
 * to any unit (and a slot left behind is dropped by the next run). */
int snapshot_run(const struct config *cfg, const struct routing *rt, struct state *st,
		 const struct config_source *src, struct snapshot_result *res, char *err, size_t errlen);

/* Checks everything that can be checked before writing anything: the
 * source's server settings, tables, columns and replica identity. */
int snapshot_check_source(const struct config *cfg, const struct routing *rt, const struct config_source *src,
			  char *err, size_t errlen);

/* Reads table p once from src (inside its snapshot) and sends each row to
 * its unit (only units with units_on[i]; NULL: all), the unroutable ones to
 * the quarantine when quarantine is set; the caller commits (apply.h). */
struct sync_run;
struct plan_table;
struct pg_source;
int snapshot_copy_table(struct sync_run *run, struct pg_source *src, struct plan_table *p,
			const bool *units_on, bool quarantine, char *err, size_t errlen);

#endif
