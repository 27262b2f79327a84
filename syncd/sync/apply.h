/* apply.h — the one commit path of snapshot, stream, resync and re-route:
 * checkpoint the touched units, commit each connection group, then the
 * quarantine; and the rollback of whatever is still open. */
#ifndef SYNCD_SYNC_APPLY_H
#define SYNCD_SYNC_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "syncd/sync/plan.h"

/* Commits what run's groups hold, exactly once:
 *  1. each unit with units[i] set (units NULL: every unit) gets its
 *     checkpoint lsn, written in its group's open transaction, so its rows
 *     and its checkpoint commit together;
 *  2. every group with an open transaction commits, in group order;
 *  3. with quarantine, the quarantine's rows commit with its checkpoint lsn.
 * A crash between steps leaves a destination either with its rows and
 * checkpoint or with neither, and a replay skips what a checkpoint covers.
 * Returns 0, or -1 with err naming the unit or tier; then the first failed
 * step's transaction and all later ones are still open (apply_rollback). */
int apply_commit(struct sync_run *run, const bool *units, const char *lsn, bool quarantine, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* Rolls back every group's open transaction and, with quarantine, the
 * quarantine's. */
void apply_rollback(struct sync_run *run, bool quarantine);

#endif
