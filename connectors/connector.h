/* connector.h — the destination vtable.  A unit's copy lives behind one of
 * these; each connector exports one const struct connector_ops whose
 * functions work on an opaque per-connection context.
 *
 * Every call returns 0 or -1 with a message in err naming the object and
 * the server's own message. */
#ifndef SYNCD_CONNECTORS_CONNECTOR_H
#define SYNCD_CONNECTORS_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct connector_column {
	char *name;
	char *type; /* as format_type() prints it: "character varying(5)" */
	bool not_null;
	int key_pos; /* 1-based position in the primary key; 0: not in it */
	unsigned type_oid;
	int typmod;
	bool identity; /* carried by the replica identity (old row of UPDATE/DELETE) */
};

/* One value of a changed row, as text (PostgreSQL's output format). */
enum connector_value_kind {
	CV_VALUE,
	CV_NULL,
	CV_ABSENT, /* an unchanged TOASTed value: leave what the destination has */
};

struct connector_value {
	enum connector_value_kind kind;
	const char *p; /* CV_VALUE: not NUL-terminated */
	size_t len;
};

struct connector_table {
	const char *name; /* name in the destination schema */
	const struct connector_column *cols;
	size_t ncols;
};

struct connector_ops {
	const char *name;
	/* Returns a new context, or NULL with err set.  opts: the connector's
	 * own settings (NULL for PostgreSQL; struct http_target_conf for HTTP;
	 * struct tee_conf for a tee). */
	void *(*open)(const char *conninfo, const char *password, const void *opts, char *err, size_t errlen);
	int (*begin)(void *ctx, char *err, size_t errlen);
	/* Creates the schemas and tables that are missing, checks the columns
	 * of those that exist, and (truncate) empties them — all inside the
	 * transaction, so a crash leaves the previous state.  One call covers
	 * every unit sharing this connection. */
	int (*prepare)(void *ctx, const char *const *schemas, size_t nschemas,
		       const struct connector_table *tables, size_t ntables, bool truncate, char *err,
		       size_t errlen);
	/* Appends rows in COPY text format (each ending in '\n'). */
	int (*load)(void *ctx, const char *schema, const struct connector_table *t, const char *rows,
		    size_t len, char *err, size_t errlen);
	/* Records (source, unit) -> lsn in the schema's syncd_checkpoint, in the
	 * same transaction as the rows. */
	int (*checkpoint)(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			  char *err, size_t errlen);
	/* Changes (streaming).  vals has one entry per column of t; key one per
	 * key column in key order.  A change whose row is missing is an error. */
	int (*insert)(void *ctx, const char *schema, const struct connector_table *t,
		      const struct connector_value *vals, char *err, size_t errlen);
	int (*update)(void *ctx, const char *schema, const struct connector_table *t,
		      const struct connector_value *key, const struct connector_value *vals, char *err,
		      size_t errlen);
	int (*remove)(void *ctx, const char *schema, const struct connector_table *t,
		      const struct connector_value *key, char *err, size_t errlen);
	/* Reads column col of the row with that key into out: 1 found (*is_null
	 * set), 0 no such row. */
	int (*fetch)(void *ctx, const char *schema, const struct connector_table *t,
		     const struct connector_value *key, size_t col, struct buf *out, bool *is_null, char *err,
		     size_t errlen);
	int (*truncate)(void *ctx, const char *schema, const struct connector_table *t, char *err,
			size_t errlen);
	/* ALTER TABLE ... ADD COLUMN name type [DEFAULT expr] (schema drift). */
	int (*add_column)(void *ctx, const char *schema, const char *table, const char *name,
			  const char *type, const char *default_expr, char *err, size_t errlen);
	/* The columns a destination table has now (name, type, type_oid,
	 * typmod; caller frees each and the array); *n = 0: no such table. */
	int (*describe)(void *ctx, const char *schema, const char *table, struct connector_column **cols,
			size_t *n, char *err, size_t errlen);
	/* The (source, unit) checkpoint as LSN text; "" when none. */
	int (*checkpoint_get)(void *ctx, const char *schema, const char *source, int unit, char *lsn,
			      size_t lsnlen, char *err, size_t errlen);
	int (*commit)(void *ctx, char *err, size_t errlen);
	/* False once the connection is lost: an error then is an outage, not bad data. */
	bool (*alive)(void *ctx);
	/* Optional (NULL: not needed).  The changes that follow, until the next
	 * call or the commit, belong to the source transaction that commits at
	 * lsn (0: none, a copy).  A destination that keeps its own position
	 * apart from the engine's checkpoint (an HTTP target in a tee) drops
	 * the changes of a transaction at or below it. */
	void (*txn)(void *ctx, uint64_t lsn);
	void (*rollback)(void *ctx);
	void (*close)(void *ctx);
};

/* connectors/pg_target.c: a PostgreSQL database (COPY + one transaction). */
extern const struct connector_ops pg_target_ops;

/* Set-based apply (connectors/pg_sets.c): a table's changes are sent row by
 * row below min_rows keys, as one statement per operation from there, and
 * at the latest once max_rows keys are held (0: unchanged).  For the
 * benchmarks (bench/bench_apply.c); applies from the next send on. */
void pg_target_tune(size_t min_rows, size_t max_rows);

#endif
