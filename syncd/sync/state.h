/* state.h — the sync engine's rows in syncd's own database: the quarantine
 * (with its checkpoint), detached units, requests, snapshot markers. */
#ifndef SYNCD_STATE_H
#define SYNCD_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct state;

struct state_snapshot {
	char slot[64];
	char lsn[32];
	char completed_at[64];
	long long rows_old, rows_new, quarantined;
	int units;
	double seconds;
};

/* Connects and brings the state schema up to date (schema_apply).  NULL
 * with err set. */
struct state *state_open(const char *conninfo, const char *password, char *err, size_t errlen);
void state_free(struct state *st);
/* False once the connection to the state database is lost. */
bool state_alive(const struct state *st);

/* 1 and *out filled when source has a completed snapshot, 0 when not, -1 on error. */
int state_snapshot_get(struct state *st, const char *source, struct state_snapshot *out, char *err,
		       size_t errlen);
int state_snapshot_clear(struct state *st, const char *source, char *err, size_t errlen);
/* The completion marker, committed after the last unit. */
int state_snapshot_complete(struct state *st, const char *source, const struct state_snapshot *snap,
			    char *err, size_t errlen);

/* The quarantine is a destination like a unit: rows and checkpoint in one
 * transaction.  begin (reset: forget earlier rows of source, for a snapshot
 * redone from scratch), add rows, then commit with the checkpoint. */
int state_quarantine_begin(struct state *st, const char *source, bool reset, char *err, size_t errlen);
/* One quarantined row; row_json is the whole row as a JSON object. */
int state_quarantine_add(struct state *st, const char *source, const char *table, const char *key,
			 const char *unit_value, const char *reason, const char *row_json, const char *lsn,
			 char *err, size_t errlen);
int state_quarantine_commit(struct state *st, const char *source, const char *lsn, char *err, size_t errlen);
void state_quarantine_rollback(struct state *st);

/* Streaming: the quarantine as a destination of changes (inside the
 * transaction opened by state_quarantine_begin).  remove returns the
 * number of rows removed; fetch 1 when the row was found. */
long state_quarantine_remove(struct state *st, const char *source, const char *table, const char *key,
			     char *err, size_t errlen);
int state_quarantine_fetch(struct state *st, const char *source, const char *table, const char *key,
			   const char *column, struct buf *out, bool *is_null, char *err, size_t errlen);
int state_quarantine_truncate(struct state *st, const char *source, const char *table, char *err,
			      size_t errlen);
bool state_quarantine_open(const struct state *st);
/* A kind = http source's cursor (syncd_source_cursor): get gives the cursor
 * of the next page to read (empty: none yet, the API's first page) and the
 * number of the last page applied (0: none).  set writes both inside the
 * transaction opened by state_quarantine_begin, so the quarantine's rows of
 * a page and the cursor after it commit together (state_quarantine_commit). */
int state_cursor_get(struct state *st, const char *source, struct buf *cursor, long long *page_seq, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
int state_cursor_set(struct state *st, const char *source, const char *cursor, long long page_seq, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* The quarantine's checkpoint for source (LSN text), "" when none. */
int state_checkpoint_get(struct state *st, const char *source, char *lsn, size_t lsnlen, char *err,
			 size_t errlen);

/* The quarantined rows of a source, for re-routing after a policy change. */
struct state_qrow {
	long id;
	char *table;
	char *key;
	char *row_json;
};
/* Returns the number of rows (*rows: caller frees with state_qrows_free), -1 on error. */
long state_quarantine_rows(struct state *st, const char *source, struct state_qrow **rows, char *err,
			   size_t errlen);
void state_qrows_free(struct state_qrow *rows, long n);
/* The routing policy's digest recorded for source: set it, or (set false)
 * ask whether it is the same (1) or not (0). */
int state_policy_digest(struct state *st, const char *source, const char *digest, bool set, char *err,
			size_t errlen);
/* How many rows of source are quarantined, -1 on error. */
long state_quarantine_count(struct state *st, const char *source, char *err, size_t errlen);
/* Removes the rows with those ids and sets the quarantine's checkpoint, in one transaction. */
int state_quarantine_release(struct state *st, const char *source, const long *ids, size_t n, const char *lsn,
			     char *err, size_t errlen);

/* Units detached from a source (their database stayed down past
 * unit_backlog_limit): table syncd_unit_state, until a resync. */
int state_unit_detach(struct state *st, const char *source, int unit, const char *reason, char *err,
		      size_t errlen);
int state_unit_attach(struct state *st, const char *source, int unit, char *err, size_t errlen);
/* 1 detached, 0 attached, -1 error. */
int state_unit_detached(struct state *st, const char *source, int unit, char *err, size_t errlen);

/* Requests to a running syncd (syncctl resync, a table new in routing.json):
 * table syncd_request, worked through by each source's stream in order. */
struct state_request {
	long id;
	char kind[16];	 /* "resync" (units' copies) or "copy_table" (a table new to routing) */
	char unit[8];	 /* "" : every unit */
	char table[256]; /* "" : every table */
};
long state_request_add(struct state *st, const char *source, const char *kind, const char *unit,
		       const char *table, char *err, size_t errlen);
/* 1 and *out filled when source has a pending request, 0 when none. */
int state_request_next(struct state *st, const char *source, struct state_request *out, char *err,
		       size_t errlen);
int state_request_done(struct state *st, long id, const char *result, char *err, size_t errlen);
/* 1 when done (result filled), 0 when pending, -1 on error. */
int state_request_result(struct state *st, long id, char *result, size_t resultlen, char *err, size_t errlen);

#endif
