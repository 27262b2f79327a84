/* session.h — one streaming session's state, shared by stream.c (the
 * pgoutput loop and its batches) and requests.c (resync, table copies and
 * re-routing run between its transactions); private to syncd/sync/. */
#ifndef SYNCD_SYNC_SESSION_H
#define SYNCD_SYNC_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "connectors/connector.h"
#include "syncd/sync/plan.h"
#include "syncd/sync/row.h"
#include "syncd/sync/state.h"
#include "syncd/sync/stream.h"

struct pgo_parser;
struct resync;
struct spill;

enum { DEST_QUARANTINE = ROW_QUARANTINE };

/* Source relation (by OID, from Relation messages) -> plan. */
struct rel_map {
	uint32_t oid;
	struct plan_table *p; /* NULL: not routed */
	int *col_of;	      /* relation column -> plan column, -1: not read */
	int ncols;
};

/* One row of a change in plan column order. */
struct row {
	struct connector_value *v;
	struct buf store; /* fetched/masked values live here */
};

struct stream {
	struct sync_run run;
	const struct stream_options *opt;
	struct pgo_parser *parser;
	/* streamed (in-progress) transactions, staged until their Stream Commit */
	struct spill *spill;
	uint32_t stream_xid; /* the xid of the open Stream Start block */
	bool spill_failed;   /* staging failed (a full disk): retry, never stop */
	struct rel_map *rels;
	size_t nrels;
	uint64_t *ckpt; /* per unit index */
	bool *detached; /* per unit: its database stayed down too long; resynced when back */
	bool hold;	/* a unit is down but not detached: the slot must keep its WAL */
	struct timespec last_maint;
	uint64_t ckpt_q;
	bool *touched;
	bool q_touched;
	bool in_txn;
	uint64_t txn_final;
	int64_t txn_time, batch_time; /* source commit times, µs since 2000-01-01 */
	bool batch_open;
	int batch_txns;
	uint64_t batch_final, batch_end;
	struct timespec batch_start;
	uint64_t received;    /* highest WAL position received */
	uint64_t live_target; /* the source's WAL position when this session began */
	bool own_requests;    /* this session queued requests (--once waits for them) */
	uint64_t flushed;     /* reported to the server */
	long long applied, quarantined;
	long long n_insert, n_update, n_delete, batches; /* for /metrics */
	struct row oldr, newr, outr;
	/* a resync or table copy waiting for the stream to reach its LSN */
	struct {
		struct state_request req;
		struct resync *rs;
		uint64_t lsn;
		char lsn_text[32];
		bool *units_on;
	} pending;
	struct timespec last_poll;
	struct timespec last_pub; /* status_publish */
	struct connector_value keyv[MAX_KEY_COLS];
	struct buf keytext;
};

/* stream.c */
/* Opens destination idx's transaction (and the batch) for the current
 * source transaction; *skip: the destination has it already, or waits. */
int stream_dest_begin(struct stream *s, int idx, bool *skip, char *err, size_t errlen);
/* Commits the open batch (apply_commit) and advances the checkpoints. */
int stream_batch_commit(struct stream *s, char *err, size_t errlen);
void stream_batch_rollback(struct stream *s);
int stream_route_row(struct stream *s, const struct plan_table *p, struct row *r, enum router_reason *why,
		     char *err, size_t errlen);
/* The key of a row, in key order, into s->keyv (for WHERE clauses). */
void stream_row_key(struct stream *s, const struct plan_table *p, const struct row *r);
/* The output row (s->outr): the columns a unit receives, masked. */
int stream_row_output(struct stream *s, const struct plan_table *p, const struct row *in);

/* requests.c */
/* At a session's start: queues copies of tables new in routing.json and a
 * re-route of the quarantine when the policy changed. */
int requests_start(struct stream *s, char *err, size_t errlen);
/* Takes the next request: 1 a copy is pending (applied at its LSN), 0 none
 * pending, -1 error. */
int requests_poll(struct stream *s, char *err, size_t errlen);
/* Applies the pending copy once the stream stands exactly at its LSN. */
int requests_apply(struct stream *s, char *err, size_t errlen);
void requests_clear(struct stream *s);

#endif
