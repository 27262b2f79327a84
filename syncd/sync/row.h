/* row.h — one row on its way to the units, for snapshot (COPY rows) and
 * stream (pgoutput rows) alike: where it goes, the masked columns a unit
 * receives, and its quarantine entry when it cannot be routed. */
#ifndef SYNCD_SYNC_ROW_H
#define SYNCD_SYNC_ROW_H

#include <stddef.h>

#include "common/buf.h"
#include "connectors/connector.h"
#include "syncd/sync/plan.h"

#define ROW_QUARANTINE (-1) /* row_route: no unit, the row is quarantined */
#define ROW_NOMEM      (-2) /* row_route: out of memory */

/* The row's primary key as text, "," between columns, a NULL adding
 * nothing (the quarantine's and the override file's form).  Returns
 * key->data (borrowed, valid until key changes), or NULL out of memory. */
const char *row_key_text(const struct plan_table *p, const struct connector_value *v, struct buf *key);

/* Where a row goes: its unit's index in run->units, ROW_QUARANTINE with
 * *why set, or ROW_NOMEM.  v holds the values (unescaped) of the routing
 * and key columns at least; key is scratch for the override file's key,
 * built only for rows that need it.  *era (may be NULL): the era the code
 * was read in. */
int row_route(const struct sync_run *run, const struct plan_table *p, const struct connector_value *v,
	      struct buf *key, enum router_reason *why, enum routing_era *era);

/* The columns a unit receives (the first p->nout): out[i] is in[i], or for
 * a masked column its masked value, kept in store (CV_NULL when the mask
 * gives NULL).  Returns 0, or -1 out of memory. */
int row_mask(const struct plan_table *p, const struct connector_value *in, struct connector_value *out,
	     struct buf *store) __attribute__((warn_unused_result));

/* Quarantines a row that could not be routed: every column read (v, all of
 * them; CV_ABSENT reads as NULL) as JSON, its key, its unit value and why,
 * at lsn; counted in run->quarantined and run->per_reason.  key is
 * scratch.  Returns 0, or -1 with err. */
int row_quarantine(struct sync_run *run, const struct plan_table *p, const struct connector_value *v,
		   enum router_reason why, const char *lsn, struct buf *key, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
