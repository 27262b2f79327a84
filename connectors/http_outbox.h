/* http_outbox.h — the HTTP targets' rows in the state database (issue 13;
 * dist/sql/state/005_http_targets.sql): batches queued with their unit's
 * position in one transaction, and the delivery side's reads and verdicts
 * (delivered with the delivered position, a failed attempt, dead with the
 * unit paused).  Dead letters as an operator sees them: http_deadletter.h. */
#ifndef SYNCD_CONNECTORS_HTTP_OUTBOX_H
#define SYNCD_CONNECTORS_HTTP_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* ---- queueing (inside the caller's open transaction) ---------------------- */

/* The last LSN queued for (target, source, unit), locked until the
 * transaction ends (FOR UPDATE), so two writers cannot queue the same
 * position; *queued = 0 when none.  last_batch (NULL: not wanted): the
 * lsn_to of its last batch, the next one's lsn_from (0: none yet).
 * Returns 0 or -1 with err set. */
int http_outbox_queued_get(PGconn *c, const char *target, const char *source, int unit, uint64_t *queued,
			   uint64_t *last_batch, char *err, size_t errlen);

/* Records queued as (target, source, unit)'s position, and last_batch as
 * its last batch's lsn_to (0: unchanged, no batch was queued). */
int http_outbox_queued_set(PGconn *c, const char *target, const char *source, int unit, uint64_t queued,
			   uint64_t last_batch, char *err, size_t errlen);

/* One batch queued for delivery after every batch of (target, unit) queued
 * before it.  lsn_from/lsn_to 0: none (a document).  A batch_id already
 * queued for the target is an error (the idempotency key must not be reused). */
struct http_outbox_new {
	const char *target;
	int unit;
	const char *source;
	const char *batch_id;
	uint64_t lsn_from, lsn_to;
	int changes;
	const char *content_type;
	const char *body;
	size_t len;
};
int http_outbox_enqueue(PGconn *c, const struct http_outbox_new *b, char *err, size_t errlen);

/* The paused units of target and the bytes waiting behind each (pending
 * and dead batches): arrays of *n entries, caller frees *units and *bytes. */
struct http_outbox_paused {
	int unit;
	bool detached;
	long long bytes;
};
int http_outbox_paused_list(PGconn *c, const char *target, struct http_outbox_paused **out, size_t *n,
			    char *err, size_t errlen);

/* Detaches (target, unit) (inside the caller's transaction): its waiting
 * batches are discarded, its open dead letters resolved as discarded by
 * "syncd" with why, and it stays paused, detached, until a resync
 * (http_outbox_reattach) sends a full copy. */
int http_outbox_detach(PGconn *c, const char *target, int unit, const char *why, char *err, size_t errlen);

/* A resync's full copy is queued: the unit is no longer detached or paused. */
int http_outbox_reattach(PGconn *c, const char *target, int unit, char *err, size_t errlen);

/* ---- delivery ------------------------------------------------------------- */

/* One queued batch as the delivery reads it. */
struct http_outbox_batch {
	long long id;
	int unit;
	char source[64];
	char batch_id[300];
	char lsn_to[32]; /* "" when none */
	char content_type[64];
	char *body; /* malloc'ed; http_outbox_batch_clear() */
	size_t len;
	int changes;
	int attempts;
	long long failing_s; /* seconds since its first failed attempt; 0: none failed */
	int dead;	     /* the unit's oldest open batch is dead: it waits for an operator */
};
void http_outbox_batch_clear(struct http_outbox_batch *b);

/* The units of target with a batch waiting (pending, not behind a dead
 * one): *units a new array of *n codes (caller frees).  Returns 0 or -1. */
int http_outbox_units_due(PGconn *c, const char *target, int **units, size_t *n, char *err, size_t errlen);

/* Prepares the delivery's statements on c (once per connection, before
 * http_outbox_next and http_outbox_delivered_next).  0 or -1. */
int http_outbox_prepare(PGconn *c, char *err, size_t errlen);

/* The oldest open batch of (target, unit) into b: 1 found (b->dead set when
 * it is dead), 0 none.  -1 with err set. */
int http_outbox_next(PGconn *c, const char *target, int unit, struct http_outbox_batch *b, char *err,
		     size_t errlen);

/* The receiver answered 2xx for done: it is marked delivered, its unit's
 * delivered position moves to its lsn_to, and the unit's next batch is
 * read into next, in one statement (one round trip, one transaction).
 * 1 with next filled, 0 the unit has nothing more, -1 with err set (then
 * done is not marked either: it is sent again, same key). */
int http_outbox_delivered_next(PGconn *c, const char *target, const struct http_outbox_batch *done,
			       struct http_outbox_batch *next, char *err, size_t errlen);

/* A failed attempt that will be tried again: attempts + 1, last_error, and
 * the time of the first failure (retry_deadline counts from it). */
int http_outbox_attempt_failed(PGconn *c, const struct http_outbox_batch *b, const char *error, char *err,
			       size_t errlen);

/* The batch is dead: in one transaction it is marked dead, a row goes to
 * syncd_deadletter (status 0: no answer) and (target, unit) is paused. */
struct http_outbox_death {
	long status;
	const char *error;
	const char *excerpt;
};
int http_outbox_dead(PGconn *c, const char *target, const struct http_outbox_batch *b,
		     const struct http_outbox_death *why, char *err, size_t errlen);

/* Per target: batches waiting, their bytes, paused units (for /metrics and
 * STATUS).  Returns 0 or -1. */
struct http_outbox_stats {
	long long pending, pending_bytes, paused_units, dead_open;
};
int http_outbox_stats(PGconn *c, const char *target, struct http_outbox_stats *s, char *err, size_t errlen);

/* Deletes delivered batches older than keep_s seconds; returns how many, -1. */
long long http_outbox_prune(PGconn *c, const char *target, long keep_s, char *err, size_t errlen);

#endif
