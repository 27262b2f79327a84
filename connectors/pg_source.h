/* pg_source.h — a city PostgreSQL database as a source: prerequisites,
 * publication, logical replication slot, and the initial copy read inside
 * the slot's exported snapshot. */
#ifndef SYNCD_CONNECTORS_PG_SOURCE_H
#define SYNCD_CONNECTORS_PG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "connectors/connector.h"

struct pg_source;

/* What the catalog says about one table. */
struct pg_source_table {
	char *schema;
	char *name;
	struct connector_column *cols; /* in table order */
	size_t ncols;
	char replident; /* 'd' default, 'f' full, 'i' index, 'n' nothing */
	bool owned;	/* the connecting role owns it (may publish it) */
};

enum pg_slot_state {
	PG_SLOT_MISSING,
	PG_SLOT_PRESENT,
	PG_SLOT_LOST, /* wal_status = lost: the WAL it needs is gone */
};

/* Connects.  name is the [source NAME]; slot and publication are syncd_NAME.
 * Returns a new source (pg_source_free) or NULL with err set. */
struct pg_source *pg_source_open(const char *name, const char *conninfo, const char *password, char *err,
				 size_t errlen);
void pg_source_free(struct pg_source *src);
const char *pg_source_slot_name(const struct pg_source *src);

/* wal_level = logical and the REPLICATION privilege, with the fix in err. */
int pg_source_check_server(struct pg_source *src, char *err, size_t errlen);

/* Reads a table's columns, key and replica identity.  A missing table is an
 * error naming it.  Free with pg_source_table_clear(). */
int pg_source_describe(struct pg_source *src, const char *schema, const char *name,
		       struct pg_source_table *out, char *err, size_t errlen);
void pg_source_table_clear(struct pg_source_table *t);

/* UPDATE and DELETE are routed by the old row, so the replica identity must
 * carry every routing column; a nullable unit column needs FULL.  err gets
 * the ALTER TABLE to run. */
int pg_source_check_identity(const struct pg_source_table *t, const char *const *routing_cols, size_t ncols,
			     const char *unit_col, char *err, size_t errlen);

/* Creates publication syncd_NAME over the tables (or adds missing ones) when
 * the role owns them; otherwise checks the DBA's one and says what to run.
 * dry_run only checks that this will work, changing nothing.  added (may be
 * NULL) gets, per table, whether it had to be added. */
int pg_source_publication_ensure(struct pg_source *src, const struct pg_source_table *tables, size_t ntables,
				 bool dry_run, bool *added, char *err, size_t errlen);

enum pg_slot_state pg_source_slot_state(struct pg_source *src, char *err, size_t errlen);
/* Drops the slot, waiting up to wait_s seconds while a dead client's
 * walsender still holds it active. */
int pg_source_slot_drop(struct pg_source *src, int wait_s, char *err, size_t errlen);

/* Creates the slot with an exported snapshot and starts a REPEATABLE READ
 * transaction on it; lsn gets the consistent point ("0/16B3748").  The
 * replication connection stays open and idle until pg_source_snapshot_end.
 * temporary: a slot of its own (syncd_NAME_copy) that vanishes with the
 * connection — a consistent copy while the main slot streams. */
int pg_source_snapshot_begin(struct pg_source *src, bool temporary, char *lsn, size_t lsnlen, char *err,
			     size_t errlen);
int pg_source_snapshot_end(struct pg_source *src, char *err, size_t errlen);

/* COPY table (cols) TO STDOUT inside the snapshot. */
int pg_source_copy_begin(struct pg_source *src, const struct pg_source_table *t, char *err, size_t errlen);
/* Next row in COPY text format: >0 its length with *row set (valid until the
 * next call), 0 at the end, -1 on error. */
long pg_source_copy_next(struct pg_source *src, const char **row, char *err, size_t errlen);

/* ---- streaming ---------------------------------------------------------- */

/* pg_current_wal_lsn() of the source, for --once. */
int pg_source_current_lsn(struct pg_source *src, uint64_t *lsn, char *err, size_t errlen);

/* Opens a replication connection and starts streaming the slot from its
 * confirmed position: protocol version 2 with streaming on (large
 * transactions in blocks while they run: Stream Start/Stop/Commit/Abort)
 * from PostgreSQL 14, version 1 before.  A slot still held by a dead
 * client's walsender gives 1 (retry later), an error -1. */
int pg_source_stream_start(struct pg_source *src, char *err, size_t errlen);
/* Next CopyData message, waiting up to timeout_ms: >0 its length with *buf
 * set (valid until the next call), 0 on timeout, -1 when the stream ended
 * or failed (err set). */
long pg_source_stream_read(struct pg_source *src, const uint8_t **buf, int timeout_ms, char *err,
			   size_t errlen);
/* Sends a standby status update. */
int pg_source_stream_status(struct pg_source *src, uint64_t written, uint64_t flushed, bool reply, char *err,
			    size_t errlen);
/* Ends the stream (a final status first is the caller's job). */
void pg_source_stream_stop(struct pg_source *src);

/* The slot's confirmed flush position (0 when unknown). */
int pg_source_slot_confirmed(struct pg_source *src, uint64_t *lsn, char *err, size_t errlen);
/* Bytes of WAL the slot keeps: pg_current_wal_lsn() - confirmed_flush_lsn. */
int pg_source_slot_lag(struct pg_source *src, long long *bytes, char *err, size_t errlen);

/* The default of a column that was added with one: existing rows read it
 * (ADD COLUMN ... DEFAULT writes no WAL for them).  *expr NULL: none (a new
 * string otherwise, caller frees).  *constant: the default is a constant
 * (no function call, operator or variable): the same value in every copy. */
int pg_source_column_default(struct pg_source *src, const char *schema, const char *table, const char *column,
			     char **expr, bool *constant, bool *not_null, char *type, size_t typelen,
			     char *err, size_t errlen);

#endif
