/* stream.h — continuous sync of one source: the slot's pgoutput stream
 * decoded, each change routed by its row (UPDATE and DELETE by the old row)
 * and applied to its unit or the quarantine, several source transactions
 * per target transaction, each destination's checkpoint in the same
 * transaction as its rows. */
#ifndef SYNCD_STREAM_H
#define SYNCD_STREAM_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syncd/config.h"
#include "syncd/metrics.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/snapshot.h"

/* What a running stream shows the rest of the daemon (status line,
 * watchdog, /readyz, /metrics); written by the stream's thread only. */
struct stream_status {
	atomic_ulong beats;		   /* loop turns: a stream that stops turning is wedged */
	atomic_bool streaming;		   /* in a replication session (else retrying) */
	atomic_ullong received;		   /* highest WAL position received */
	atomic_ullong flushed;		   /* confirmed to the source */
	atomic_llong applied, quarantined; /* since start */
	atomic_llong pending_since;	   /* source commit time (µs since 2000-01-01) of the oldest change
					      received and not yet committed in the units; 0: none */
	atomic_llong inserts, updates, deletes, batches; /* of this session */
	atomic_ulong retries;				 /* sessions ended by an error and retried */
	atomic_int units_down, units_detached;
	atomic_ullong *unit_lsn; /* per unit (routing order): its durable checkpoint; NULL until known */
	size_t nunits;		 /* entries of unit_lsn */
	struct metrics *metrics; /* counts the changes applied per unit, table and op; may be NULL */
	size_t source;		 /* this source's index there */
};

struct stream_options {
	bool once;		      /* stop once caught up with the source's WAL position at start */
	volatile sig_atomic_t *stop;  /* set (by a signal): finish the batch and return */
	struct stream_status *status; /* NULL: nobody watches */
	/* the routing in force (a reload may replace it: the stream then plans
	 * again between transactions); NULL: the one passed to stream_run */
	const struct routing *_Atomic *routing;
};

struct stream_result {
	struct snapshot_result snap; /* the snapshot taken (or found) first */
	long long applied;	     /* changes applied to units */
	long long quarantined;	     /* rows that went to the quarantine */
	char position[32];	     /* LSN the stream had reached */
};

/* Snapshots the source if needed, then streams.  Returns 0 when stopped or
 * caught up (once), -1 with err set on an error that a retry cannot mend
 * (a schema change it may not apply, a diverged unit copy, bad config). */
int stream_run(const struct config *cfg, const struct routing *rt, const struct config_source *src,
	       const struct stream_options *opt, struct stream_result *res, char *err, size_t errlen);

#endif
