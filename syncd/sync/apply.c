/* apply.c — the one commit path (checkpoints, then each group, then the
 * quarantine) and its rollback; see apply.h. */
#include "syncd/sync/apply.h"

#include <stdio.h>

#include "syncd/sync/state.h"

int apply_commit(struct sync_run *run, const bool *units, const char *lsn, bool quarantine, char *err,
		 size_t errlen)
{
	char msg[1024];

	for (size_t i = 0; i < run->nunits; i++) {
		struct unit_dest *u = &run->units[i];

		if ((units == NULL || units[i]) &&
		    u->group->ops->checkpoint(u->group->ctx, u->schema, run->scfg->name, u->code, lsn, msg,
					      sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", u->code, msg);
			return -1;
		}
	}
	for (size_t g = 0; g < run->ngroups; g++) {
		if (!run->groups[g].in_tx)
			continue;
		if (run->groups[g].ops->commit(run->groups[g].ctx, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "tier %s: commit: %s", run->groups[g].conninfo, msg);
			return -1;
		}
		run->groups[g].in_tx = false;
	}
	if (quarantine && state_quarantine_commit(run->st, run->scfg->name, lsn, err, errlen) < 0)
		return -1;
	return 0;
}

void apply_rollback(struct sync_run *run, bool quarantine)
{
	for (size_t g = 0; g < run->ngroups; g++)
		if (run->groups[g].in_tx) {
			run->groups[g].ops->rollback(run->groups[g].ctx);
			run->groups[g].in_tx = false;
		}
	if (quarantine)
		state_quarantine_rollback(run->st);
}
