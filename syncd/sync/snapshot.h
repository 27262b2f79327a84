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

/* Resync while the stream runs: a temporary slot with an exported snapshot
 * gives a consistent copy at its LSN.  The stream calls resync_apply when it
 * has applied every transaction up to that LSN and none after: the chosen
 * units' tables (one table, or all) are emptied and refilled from the
 * snapshot and their checkpoints set to the LSN, in one transaction per
 * connection group; with quarantine, that table's quarantined rows too. */
struct sync_run;
struct resync;
struct resync *resync_begin(struct sync_run *run, char *lsn, size_t lsnlen, char *err, size_t errlen);
int resync_apply(struct sync_run *run, struct resync *rs, const char *lsn, const bool *units_on,
		 const char *table, bool quarantine, char *err, size_t errlen);
void resync_free(struct resync *rs);

#endif
