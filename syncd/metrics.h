/* metrics.h — the daemon's facts in one table: the counters syncd keeps (changes by
 * unit/table/op, API decisions, documents, audit appends) and the views that read them. */
#ifndef SYNCD_METRICS_H
#define SYNCD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* The routed tables counted per unit; changes to a table past it are not counted. */
#define METRICS_MAX_TABLES 64

enum metrics_op { METRICS_INSERT, METRICS_UPDATE, METRICS_DELETE, METRICS_NOPS };

/* One source as its stream shows it at the moment of reading. */
struct metrics_source {
	bool streaming;			/* in a replication session (else retrying) */
	bool ended;			/* its thread has stopped */
	unsigned long beats;		/* loop turns: a source that stops turning is wedged */
	unsigned long long received;	/* highest WAL position received */
	unsigned long long flushed;	/* confirmed to the source */
	long long applied, quarantined; /* since start */
	long long pending_since; /* µs since 2000-01-01 of the oldest change not yet in the units; 0 */
	long long inserts, updates, deletes, batches; /* of this session */
	unsigned long retries;
	int units_down, units_detached;
	const atomic_ullong *unit_lsn; /* per unit (routing order), borrowed; NULL until known */
	size_t nunits;		       /* entries of unit_lsn */
};

/* One HTTP target as its delivery shows it (syncd/deliver.c). */
#define METRICS_MAX_TARGETS 16
struct metrics_target {
	const char *name;				      /* borrowed */
	unsigned long long delivered, changes, retries, dead; /* since start */
	/* from the state database, read every few seconds; -1 until first read */
	long long pending, pending_bytes, paused_units, dead_open;
};

/* A histogram kept elsewhere (the directory's operation times). */
#define METRICS_MAX_BUCKETS 31
struct metrics_histogram {
	const double *bounds; /* n upper bounds, borrowed */
	size_t n;
	unsigned long counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; [n]: +Inf */
	double sum;
};

/* Where the facts syncd does not count itself come from; every hook is
 * called from any thread and must only read. */
struct metrics_hooks {
	void *ctx;
	void (*source)(void *ctx, size_t i, struct metrics_source *out);
	/* unit u of the routing (routing order): false past the last; name borrowed */
	bool (*unit)(void *ctx, size_t u, int *code, const char **name);
	/* routed table t of the routing in force, NULL past the last; borrowed */
	const char *(*table)(void *ctx, size_t t);
	/* -1: no directory configured, 0: unreachable, 1: reachable */
	int (*directory)(void *ctx);
	/* the directory's operation times: 0, or -1 when there is no directory */
	int (*ldap)(void *ctx, struct metrics_histogram *out);
	/* HTTP target i: false past the last */
	bool (*target)(void *ctx, size_t i, struct metrics_target *out);
};

/* The parts a missing piece of the configuration turns off. */
struct metrics_features {
	bool documents, signing, delegation;
};

struct metrics;

/* Counters for nsources sources (names borrowed for the life of the
 * object) of nunits units each; NULL when memory runs out.  Free with
 * metrics_free(); metrics_free(NULL) does nothing. */
struct metrics *metrics_new(size_t nsources, const char *const *names, size_t nunits,
			    const struct metrics_features *features, const struct metrics_hooks *hooks);
void metrics_free(struct metrics *m);

/* Counting; thread-safe.  An index out of range (or m NULL) is ignored. */
void metrics_op_add(struct metrics *m, size_t source, long unit, long table, enum metrics_op op);
void metrics_decision_add(struct metrics *m, const char *outcome, const char *reason);
void metrics_document_add(struct metrics *m, const char *kind);
void metrics_audit_add(struct metrics *m, bool appended);

/* Reading. */
size_t metrics_nsources(struct metrics *m);
void metrics_source_read(struct metrics *m, size_t i, struct metrics_source *out);

/* The views.  The Prometheus text exposition (HELP and TYPE per family),
 * appended to out: 0, or -1 when memory runs out. */
int metrics_render(struct metrics *m, struct buf *out) __attribute__((warn_unused_result));

/* STATUS= for systemd: per source its state, lag and units down or
 * detached, the quarantine, the directory, the features that are off. */
/* The election's outcome (syncd/leader.c): whether this instance is the
 * active one, the term, and who holds the lease ("host listen, pid N, term
 * T"); /readyz, /v1/status, STATUS and /metrics say it. */
void metrics_set_leader(struct metrics *m, bool active, long long term, const char *leader);
/* True on the active instance; leader gets who holds the lease. */
bool metrics_active(struct metrics *m, char *leader, size_t leaderlen);

void metrics_status_line(struct metrics *m, char *out, size_t outlen);

/* The features that are off ("" when none), as STATUS says them. */
void metrics_features_off(struct metrics *m, char *out, size_t outlen);

/* The body of /readyz; *ready tells 200 from 503.  Returns a new
 * reference (jansson's json_t), NULL when memory runs out. */
struct json_t *metrics_readyz(struct metrics *m, bool *ready);

/* The body of /v1/status; quarantined maps a source name to the rows in
 * its quarantine (borrowed, may be NULL).  Returns a new reference. */
struct json_t *metrics_status(struct metrics *m, struct json_t *quarantined);

#endif
