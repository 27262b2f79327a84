/* pg_target.c — PostgreSQL destination: units' copies as tables in a schema
 * per unit (or a database per unit), loaded with COPY FROM STDIN. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "connector.h"
#include "pg_util.h"

struct pg_target {
	PGconn *conn;
	struct buf sql;
};

static void *target_open(const char *conninfo, const char *password, char *err, size_t errlen)
{
	struct pg_target *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->conn = pgu_connect(conninfo, password, false, err, errlen);
	if (t->conn == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static int target_begin(void *ctx, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	return pgu_exec(t->conn, "BEGIN", err, errlen);
}

/* Appends one element of a text[] literal, quoted. */
static int array_elem(struct buf *b, const char *s)
{
	if (buf_puts(b, "\"") < 0)
		return -1;
	for (; *s; s++)
		if ((*s == '"' || *s == '\\') && buf_puts(b, "\\") < 0)
			return -1;
		else if (buf_append(b, s, 1) < 0)
			return -1;
	return buf_puts(b, "\"");
}

/* Appends "schema"."name" quoted. */
static int qualified(PGconn *conn, struct buf *b, const char *schema, const char *name)
{
	return pgu_append_ident(conn, b, schema) < 0 || buf_puts(b, ".") < 0 ||
			       pgu_append_ident(conn, b, name) < 0
		       ? -1
		       : 0;
}

/* Reads the columns of every (schema, table) pair in one query: a unit
 * tier holds hundreds of tables, and a round trip each would dominate. */
static PGresult *columns_query(struct pg_target *t, const char *const *schemas, size_t nschemas,
			       const struct connector_table *tables, size_t ntables, char *err, size_t errlen)
{
	struct buf sa = {0}, ta = {0};
	const char *params[2];
	PGresult *res = NULL;
	char msg[1024];

	/* text[] literals; schema and table names are quoted element by element */
	if (buf_puts(&sa, "{") < 0 || buf_puts(&ta, "{") < 0)
		goto oom;
	for (size_t i = 0; i < nschemas; i++)
		if ((i > 0 && buf_puts(&sa, ",") < 0) || array_elem(&sa, schemas[i]) < 0)
			goto oom;
	for (size_t i = 0; i < ntables; i++)
		if ((i > 0 && buf_puts(&ta, ",") < 0) || array_elem(&ta, tables[i].name) < 0)
			goto oom;
	if (buf_puts(&sa, "}") < 0 || buf_puts(&ta, "}") < 0)
		goto oom;
	params[0] = sa.data;
	params[1] = ta.data;
	res = pgu_query(t->conn,
			"SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
			"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
			"JOIN pg_namespace n ON n.oid = c.relnamespace "
			"WHERE n.nspname = ANY($1::text[]) AND c.relname = ANY($2::text[]) AND a.attnum > 0 "
			"AND NOT a.attisdropped",
			2, params, msg, sizeof(msg));
	if (res == NULL)
		snprintf(err, errlen, "cannot read the unit tables' columns: %s", msg);
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	buf_free(&sa);
	buf_free(&ta);
	return res;
}

/* Compares an existing table with what the source has; a difference is an
 * error, never a silent partial copy.  1: the table is missing. */
static int table_check(PGresult *cols, const char *schema, const struct connector_table *tb, char *err,
		       size_t errlen)
{
	size_t found = 0;

	for (int k = 0; k < PQntuples(cols); k++) {
		const char *name = PQgetvalue(cols, k, 2);
		size_t i;

		if (strcmp(PQgetvalue(cols, k, 0), schema) != 0 ||
		    strcmp(PQgetvalue(cols, k, 1), tb->name) != 0)
			continue;
		found++;
		for (i = 0; i < tb->ncols; i++)
			if (strcmp(name, tb->cols[i].name) == 0)
				break;
		if (i == tb->ncols)
			continue; /* a column of the unit's own: harmless */
		if (strcmp(PQgetvalue(cols, k, 3), tb->cols[i].type) != 0) {
			snprintf(
				err, errlen,
				"unit table %s.%s column \"%s\" is %s but the source has %s; drop the table (it is rebuilt) or alter the column",
				schema, tb->name, name, PQgetvalue(cols, k, 3), tb->cols[i].type);
			return -1;
		}
	}
	if (found == 0)
		return 1;
	for (size_t i = 0; i < tb->ncols; i++) {
		int k;

		for (k = 0; k < PQntuples(cols); k++)
			if (strcmp(PQgetvalue(cols, k, 0), schema) == 0 &&
			    strcmp(PQgetvalue(cols, k, 1), tb->name) == 0 &&
			    strcmp(PQgetvalue(cols, k, 2), tb->cols[i].name) == 0)
				break;
		if (k == PQntuples(cols)) {
			snprintf(
				err, errlen,
				"unit table %s.%s has no column \"%s\" that the source has; drop the table (it is rebuilt) or add the column",
				schema, tb->name, tb->cols[i].name);
			return -1;
		}
	}
	return 0;
}

static int create_sql(struct pg_target *t, const char *schema, const struct connector_table *tb)
{
	struct buf *b = &t->sql;
	int nkey = 0;

	if (buf_puts(b, "CREATE TABLE ") < 0 || qualified(t->conn, b, schema, tb->name) < 0 ||
	    buf_puts(b, " (") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++) {
		if ((i > 0 && buf_puts(b, ", ") < 0) || pgu_append_ident(t->conn, b, tb->cols[i].name) < 0 ||
		    buf_printf(b, " %s%s", tb->cols[i].type, tb->cols[i].not_null ? " NOT NULL" : "") < 0)
			return -1;
		if (tb->cols[i].key_pos > nkey)
			nkey = tb->cols[i].key_pos;
	}
	if (nkey > 0) {
		if (buf_puts(b, ", PRIMARY KEY (") < 0)
			return -1;
		for (int k = 1; k <= nkey; k++)
			for (size_t i = 0; i < tb->ncols; i++)
				if (tb->cols[i].key_pos == k &&
				    ((k > 1 && buf_puts(b, ", ") < 0) ||
				     pgu_append_ident(t->conn, b, tb->cols[i].name) < 0))
					return -1;
		if (buf_puts(b, ")") < 0)
			return -1;
	}
	return buf_puts(b, ");\n");
}

static int target_prepare(void *ctx, const char *const *schemas, size_t nschemas,
			  const struct connector_table *tables, size_t ntables, bool truncate, char *err,
			  size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	struct buf trunc = {0};
	PGresult *cols = NULL;
	int r = -1;

	buf_reset(b);
	for (size_t s = 0; s < nschemas; s++)
		if (buf_puts(b, "CREATE SCHEMA IF NOT EXISTS ") < 0 ||
		    pgu_append_ident(t->conn, b, schemas[s]) < 0 ||
		    buf_puts(b, ";\nCREATE TABLE IF NOT EXISTS ") < 0 ||
		    qualified(t->conn, b, schemas[s], "syncd_checkpoint") < 0 ||
		    buf_puts(
			    b,
			    " (source text NOT NULL, unit text NOT NULL, lsn pg_lsn NOT NULL, "
			    "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, unit));\n") <
			    0)
			goto oom;
	if (pgu_exec(t->conn, b->data, err, errlen) < 0)
		goto out;
	cols = columns_query(t, schemas, nschemas, tables, ntables, err, errlen);
	if (cols == NULL)
		goto out;
	buf_reset(b);
	for (size_t s = 0; s < nschemas; s++)
		for (size_t i = 0; i < ntables; i++) {
			int c = table_check(cols, schemas[s], &tables[i], err, errlen);

			if (c < 0)
				goto out;
			if (c > 0 && create_sql(t, schemas[s], &tables[i]) < 0)
				goto oom;
			/* one TRUNCATE for all: far cheaper than one per table */
			if (c == 0 && truncate &&
			    (buf_puts(&trunc, trunc.len ? ", " : "TRUNCATE ") < 0 ||
			     qualified(t->conn, &trunc, schemas[s], tables[i].name) < 0))
				goto oom;
		}
	if (trunc.len > 0 && buf_append(b, trunc.data, trunc.len) < 0)
		goto oom;
	if (b->len > 0 && pgu_exec(t->conn, b->data, err, errlen) < 0)
		goto out;
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	PQclear(cols);
	buf_free(&trunc);
	return r;
}

static int target_load(void *ctx, const char *schema, const struct connector_table *tb, const char *rows,
		       size_t len, char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;

	buf_reset(b);
	if (buf_puts(b, "COPY ") < 0 || qualified(t->conn, b, schema, tb->name) < 0 || buf_puts(b, " (") < 0)
		goto oom;
	for (size_t i = 0; i < tb->ncols; i++)
		if ((i > 0 && buf_puts(b, ", ") < 0) || pgu_append_ident(t->conn, b, tb->cols[i].name) < 0)
			goto oom;
	if (buf_puts(b, ") FROM STDIN") < 0)
		goto oom;
	return pgu_copy_in(t->conn, b->data, rows, len, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int target_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			     char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	char ustr[8];
	const char *params[3] = {source, ustr, lsn};
	PGresult *res;

	snprintf(ustr, sizeof(ustr), "%05d", unit);
	buf_reset(b);
	if (buf_puts(b, "INSERT INTO ") < 0 || qualified(t->conn, b, schema, "syncd_checkpoint") < 0 ||
	    buf_puts(b, " (source, unit, lsn) VALUES ($1, $2, $3) ON CONFLICT (source, unit) "
			"DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = now()") < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	res = PQexecParams(t->conn, b->data, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s.syncd_checkpoint: %s", schema, PQerrorMessage(t->conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static int target_commit(void *ctx, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	return pgu_exec(t->conn, "COMMIT", err, errlen);
}

static void target_rollback(void *ctx)
{
	struct pg_target *t = ctx;
	char err[256];

	if (PQtransactionStatus(t->conn) != PQTRANS_IDLE)
		(void)pgu_exec(t->conn, "ROLLBACK", err, sizeof(err));
}

static void target_close(void *ctx)
{
	struct pg_target *t = ctx;

	if (t == NULL)
		return;
	PQfinish(t->conn);
	buf_free(&t->sql);
	free(t);
}

const struct connector_ops pg_target_ops = {
	.name = "postgresql",
	.open = target_open,
	.begin = target_begin,
	.prepare = target_prepare,
	.load = target_load,
	.checkpoint = target_checkpoint,
	.commit = target_commit,
	.rollback = target_rollback,
	.close = target_close,
};
