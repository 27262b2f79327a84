/* pg_target.h — inside the PostgreSQL destination: shared by pg_target.c
 * (the connection, prepared statements, pipeline, DDL, COPY) and
 * pg_sets.c (changes held per table and sent set-based).  Not for use
 * outside connectors/: everything else goes through pg_target_ops. */
#ifndef SYNCD_CONNECTORS_PG_TARGET_H
#define SYNCD_CONNECTORS_PG_TARGET_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "connectors/connector.h"

#define STMT_BUCKETS 1024

/* Prepared statements by SQL text: a unit tier has hundreds of tables and
 * each change kind needs its own statement. */
struct stmt {
	struct stmt *next;
	char *sql;
	char *rel; /* schema.table, for messages */
	char name[16];
};

/* A change's shape (kind, unit schema, table, columns sent) -> its
 * statement, found without building the SQL text again. */
struct shape {
	struct shape *next;
	char kind; /* 'I'nsert, 'U'pdate, 'D'elete, 'C'heckpoint; lower case: set-based */
	uint64_t mask;
	size_t ncols;
	char *schema, *table;
	struct stmt *st;
};

/* Changes are sent in pipeline mode (no round trip per row); each sent
 * statement is remembered here until its result has been read. */
#define PIPE_MAX 1000

struct pending {
	const char *what;      /* "INSERT INTO", "UPDATE", ... */
	long expect;	       /* rows it must affect (0: not checked) */
	const struct stmt *st; /* its rel names the table in messages */
};

struct pg_sets; /* pg_sets.c */

struct pg_target {
	PGconn *conn;
	struct buf sql;
	struct buf params; /* NUL-terminated copies of parameter values */
	struct stmt *stmts[STMT_BUCKETS];
	struct shape *shapes[STMT_BUCKETS];
	unsigned nstmts;
	bool piped; /* in pipeline mode */
	size_t npend;
	struct pending pend[PIPE_MAX];
	struct pg_sets *sets;
	bool streaming; /* a stream's session (checkpoint_get ran): idle transactions time out */
};

/* ---- pg_target.c ---- */

/* Reads every pipelined result; the first failure, or 0. */
int pgt_pipe_drain(struct pg_target *t, char *err, size_t errlen);
/* Sends a prepared statement in pipeline mode; checked by the next drain. */
int pgt_stmt_send(struct pg_target *t, const struct stmt *st, int n, const char *const *params,
		  const char *what, long expect, char *err, size_t errlen);
/* The statement of a shape seen before, or NULL (build t->sql, then add). */
struct stmt *pgt_shape_find(struct pg_target *t, char kind, uint64_t mask, const char *schema,
			    const char *table, size_t ncols);
struct stmt *pgt_shape_add(struct pg_target *t, char kind, uint64_t mask, const char *schema,
			   const char *table, size_t ncols, int n, char *err, size_t errlen);
int pgt_qualified(PGconn *conn, struct buf *b, const char *schema, const char *name);
/* One element of a text[] literal, quoted and escaped. */
int pgt_array_elem(struct buf *b, const char *s, size_t len);
int pgt_key_count(const struct connector_table *tb);
/* One change, one pipelined statement. */
int pgt_send_insert(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *vals, char *err, size_t errlen);
int pgt_send_update(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *key, const struct connector_value *vals, char *err,
		    size_t errlen);
int pgt_send_remove(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *key, char *err, size_t errlen);

/* ---- pg_sets.c ---- */

/* The connector's insert/update/remove: held per (schema, table), reduced,
 * and sent when a table's set is full, read, truncated or committed. */
int pgs_insert(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *vals, char *err, size_t errlen);
int pgs_update(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *key, const struct connector_value *vals, char *err,
	       size_t errlen);
int pgs_remove(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *key, char *err, size_t errlen);
/* Sends what one table (or every table) holds. */
int pgs_flush_table(struct pg_target *t, const char *schema, const char *table, char *err, size_t errlen);
int pgs_flush_all(struct pg_target *t, char *err, size_t errlen);
/* Forgets what is held (the transaction is rolled back). */
void pgs_discard(struct pg_target *t);
void pgs_free(struct pg_target *t);

#endif
