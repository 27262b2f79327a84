/* http_target.h — an HTTP endpoint as a destination (issue 13 item 1): the
 * same connector_ops as a PostgreSQL copy.  Writes collect each unit's
 * changes; commit queues them as batches in the state database
 * (connectors/http_outbox.c) together with each unit's queued position, in
 * one transaction; the delivery threads (syncd/deliver.c) send them.  So the
 * stream never waits on a receiver, and a batch's Idempotency-Key exists
 * before its first send. */
#ifndef SYNCD_CONNECTORS_HTTP_TARGET_H
#define SYNCD_CONNECTORS_HTTP_TARGET_H

#include <stddef.h>

#include "connectors/connector.h"
#include "connectors/http_payload.h"

/* A unit of the target: the schema name the engine addresses it by. */
struct http_target_unit {
	const char *schema;
	int unit;
};

/* opts of http_target_ops.open; conninfo and password there are the state
 * database's.  Everything is borrowed for the context's life. */
struct http_target_conf {
	const char *name;   /* [target NAME] */
	const char *source; /* the source whose changes this context carries */
	enum http_format format;
	size_t batch_rows;	   /* changes per batch at most */
	size_t batch_bytes;	   /* about this many body bytes per batch at most */
	const char *const *tables; /* destination table names sent; NULL: every table */
	size_t ntables;
	const struct http_target_unit *units;
	size_t nunits;
	/* bytes a paused unit may have waiting (unit_backlog_limit); past it the
	 * unit is detached: its backlog discarded, nothing queued until a
	 * resync.  0: no limit */
	long long backlog_limit;
};

/* The position a unit's first batch starts from: lsn_from of every batch
 * is the lsn_to of the unit's batch before it (0 for the first), so a
 * receiver can see that nothing is missing between two batches. */
extern const struct connector_ops http_target_ops;

#endif
