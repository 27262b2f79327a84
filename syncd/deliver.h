/* deliver.h — the delivery threads of the HTTP targets (issue 13 item 4):
 * each target's queued batches (connectors/http_outbox.c) sent unit by unit,
 * strictly in order with one batch in flight per unit, up to
 * max_in_flight_units units at once; retries with backoff and full jitter
 * (Retry-After honoured) until retry_deadline; a refused batch becomes a
 * dead letter and pauses its unit. */
#ifndef SYNCD_DELIVER_H
#define SYNCD_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "syncd/config.h"

struct deliver;

/* What one target has done since start and holds now (for /metrics and
 * STATUS).  The counts of the state database are read at most once a
 * second. */
struct deliver_stats {
	const char *name; /* borrowed */
	unsigned long long delivered, changes, retries, dead;
	long long pending, pending_bytes, paused_units, dead_open; /* -1: not read yet */
};

/* Starts max_in_flight_units threads per target of cfg (borrowed until
 * deliver_stop).  NULL with err set when a thread cannot start; a target
 * with no targets returns a valid empty object. */
struct deliver *deliver_start(const struct config *cfg, char *err, size_t errlen);

/* Stops and joins every thread (a send in progress ends within its timeout)
 * and frees d.  NULL: nothing. */
void deliver_stop(struct deliver *d);

/* Wakes every target's threads to look for new batches now. */
void deliver_kick(struct deliver *d);

/* Target i (false past the last). */
bool deliver_stats_read(struct deliver *d, size_t i, struct deliver_stats *out);

#endif
