/* pg_target.c — PostgreSQL destination: units' copies as tables in a schema
 * per unit (or a database per unit), loaded with COPY FROM STDIN. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fence.h"
#include "connectors/connector.h"
#include "common/pg.h"
#include "connectors/pg_target.h"

static unsigned sql_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % STMT_BUCKETS;
}

/* Reads the results of everything sent in pipeline mode and leaves it;
 * returns the first failure (0 if none).  A broken connection stays in
 * pipeline mode: the caller reconnects. */
int pgt_pipe_drain(struct pg_target *t, char *err, size_t errlen)
{
	int r = 0;

	if (!t->piped)
		return 0;
	if (PQpipelineSync(t->conn) != 1) {
		snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
		pg_one_line(err);
		return -1;
	}
	for (size_t i = 0; i < t->npend; i++) {
		const struct pending *pd = &t->pend[i];
		PGresult *res;

		while ((res = PQgetResult(t->conn)) != NULL) {
			ExecStatusType st = PQresultStatus(res);

			if (r == 0 && st == PGRES_FATAL_ERROR) {
				snprintf(err, errlen, "%s %s: %s", pd->what, pd->st->rel,
					 PQresultErrorMessage(res));
				pg_one_line(err);
				r = -1;
			} else if (r == 0 && st == PGRES_COMMAND_OK && pd->expect > 0 &&
				   atol(PQcmdTuples(res)) != pd->expect) {
				if (pd->expect == 1)
					snprintf(err, errlen,
						 "%s %s: no row with that key (the unit's copy has diverged; "
						 "resync it)",
						 pd->what, pd->st->rel);
				else
					snprintf(err, errlen,
						 "%s %s: %ld of %ld keys have no row (the unit's copy has "
						 "diverged; resync it)",
						 pd->what, pd->st->rel, pd->expect - atol(PQcmdTuples(res)),
						 pd->expect);
				r = -1;
			}
			PQclear(res);
		}
		if (PQstatus(t->conn) != CONNECTION_OK) {
			if (r == 0)
				snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
			pg_one_line(err);
			t->npend = 0;
			return -1;
		}
	}
	t->npend = 0;
	for (;;) {
		PGresult *res = PQgetResult(t->conn);
		ExecStatusType st;

		if (res == NULL) { /* only a lost connection ends the pipeline early */
			if (r == 0)
				snprintf(err, errlen, "pipeline ended before its sync: %s",
					 PQerrorMessage(t->conn));
			pg_one_line(err);
			return -1;
		}
		st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (PQexitPipelineMode(t->conn) != 1) {
		if (r == 0)
			snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
		pg_one_line(err);
		return -1;
	}
	t->piped = false;
	return r;
}

/* The prepared statement for t->sql (prepared on first use), or NULL with
 * err set. */
static struct stmt *stmt_get(struct pg_target *t, int n, const char *schema, const char *table, char *err,
			     size_t errlen)
{
	unsigned h = sql_hash(t->sql.data);
	struct stmt *st;
	PGresult *res;

	for (st = t->stmts[h]; st != NULL; st = st->next)
		if (strcmp(st->sql, t->sql.data) == 0)
			return st;
	if (pgt_pipe_drain(t, err, errlen) < 0)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->sql = strdup(t->sql.data)) == NULL ||
	    asprintf(&st->rel, "%s.%s", schema, table) < 0) {
		if (st != NULL)
			free(st->sql);
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(st->name, sizeof(st->name), "syncd_%u", t->nstmts++);
	res = PQprepare(t->conn, st->name, st->sql, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
		pg_one_line(err);
		PQclear(res);
		free(st->sql);
		free(st->rel);
		free(st);
		return NULL;
	}
	PQclear(res);
	st->next = t->stmts[h];
	t->stmts[h] = st;
	return st;
}

/* Runs t->sql (prepared once) with n text parameters (NULL: SQL NULL);
 * returns the result (caller PQclear) or NULL with err set. */
static PGresult *stmt_exec(struct pg_target *t, int n, const char *const *params, ExecStatusType want,
			   char *err, size_t errlen)
{
	struct stmt *st = stmt_get(t, n, "", "", err, errlen);
	PGresult *res;

	if (st == NULL || pgt_pipe_drain(t, err, errlen) < 0)
		return NULL;
	res = PQexecPrepared(t->conn, st->name, n, params, NULL, NULL, 0);
	if (PQresultStatus(res) != want) {
		snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
		pg_one_line(err);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Sends t->sql (prepared once) in pipeline mode; its result is checked by
 * the next pgt_pipe_drain. */
int pgt_stmt_send(struct pg_target *t, const struct stmt *st, int n, const char *const *params,
		  const char *what, long expect, char *err, size_t errlen)
{
	struct pending *pd;

	if (t->npend == PIPE_MAX && pgt_pipe_drain(t, err, errlen) < 0)
		return -1;
	if (!t->piped) {
		if (PQenterPipelineMode(t->conn) != 1) {
			snprintf(err, errlen, "%s", PQerrorMessage(t->conn));
			pg_one_line(err);
			return -1;
		}
		t->piped = true;
	}
	if (PQsendQueryPrepared(t->conn, st->name, n, params, NULL, NULL, 0) != 1) {
		snprintf(err, errlen, "%s %s: %s", what, st->rel, PQerrorMessage(t->conn));
		pg_one_line(err);
		return -1;
	}
	pd = &t->pend[t->npend++];
	pd->what = what;
	pd->expect = expect;
	pd->st = st;
	return 0;
}

static unsigned shape_hash(char kind, uint64_t mask, const char *schema, const char *table)
{
	unsigned h = 2166136261u ^ (unsigned char)kind;

	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '.') * 16777619u;
	for (const char *p = table; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (unsigned)((h ^ (unsigned)mask ^ (unsigned)(mask >> 32)) % STMT_BUCKETS);
}

/* The statement of a shape seen before, or NULL (then build t->sql and
 * call pgt_shape_add).  Shapes are compared by content, never by pointer. */
struct stmt *pgt_shape_find(struct pg_target *t, char kind, uint64_t mask, const char *schema,
			    const char *table, size_t ncols)
{
	for (struct shape *sh = t->shapes[shape_hash(kind, mask, schema, table)]; sh != NULL; sh = sh->next)
		if (sh->kind == kind && sh->mask == mask && sh->ncols == ncols &&
		    strcmp(sh->table, table) == 0 && strcmp(sh->schema, schema) == 0)
			return sh->st;
	return NULL;
}

/* Prepares t->sql (n parameters) and remembers it for the shape. */
struct stmt *pgt_shape_add(struct pg_target *t, char kind, uint64_t mask, const char *schema,
			   const char *table, size_t ncols, int n, char *err, size_t errlen)
{
	struct stmt *st = stmt_get(t, n, schema, table, err, errlen);
	struct shape *sh;
	unsigned h;

	if (st == NULL)
		return NULL;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL || (sh->schema = strdup(schema)) == NULL || (sh->table = strdup(table)) == NULL) {
		if (sh != NULL)
			free(sh->schema);
		free(sh);
		return st; /* found by its text next time */
	}
	sh->kind = kind;
	sh->mask = mask;
	sh->ncols = ncols;
	sh->st = st;
	h = shape_hash(kind, mask, schema, table);
	sh->next = t->shapes[h];
	t->shapes[h] = sh;
	return st;
}

/* The statements that need their answer at once: what was pipelined is
 * read (and checked) first. */
static int t_exec(struct pg_target *t, const char *sql, char *err, size_t errlen)
{
	return pgt_pipe_drain(t, err, errlen) < 0 ? -1 : pg_exec(t->conn, sql, err, errlen);
}

static PGresult *t_query(struct pg_target *t, const char *sql, int n, const char *const *params, char *err,
			 size_t errlen)
{
	return pgt_pipe_drain(t, err, errlen) < 0 ? NULL : pg_query(t->conn, sql, n, params, err, errlen);
}

static void *target_open(const char *conninfo, const char *password, const void *opts, char *err,
			 size_t errlen)
{
	struct pg_target *t = calloc(1, sizeof(*t));

	(void)opts; /* PostgreSQL needs nothing beyond the conninfo */
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* the same session as the sources': COPY text reads alike on both sides */
	t->conn = pg_connect(&(const struct pg_connect_opts){.conninfo = conninfo,
							     .password = password,
							     .copy_session = true},
			     err, errlen);
	if (t->conn == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static int target_begin(void *ctx, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	return t_exec(t, "BEGIN", err, errlen);
}

/* Appends one element of a text[] literal, quoted. */
int pgt_array_elem(struct buf *b, const char *s, size_t len)
{
	size_t from = 0;

	if (buf_puts(b, "\"") < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '"' || s[i] == '\\') {
			if (buf_append(b, s + from, i - from) < 0 || buf_puts(b, "\\") < 0)
				return -1;
			from = i;
		}
	return buf_append(b, s + from, len - from) < 0 ? -1 : buf_puts(b, "\"");
}

/* Appends "schema"."name" quoted. */
int pgt_qualified(PGconn *conn, struct buf *b, const char *schema, const char *name)
{
	return pg_append_ident(conn, b, schema) < 0 || buf_puts(b, ".") < 0 ||
			       pg_append_ident(conn, b, name) < 0
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
		if ((i > 0 && buf_puts(&sa, ",") < 0) ||
		    pgt_array_elem(&sa, schemas[i], strlen(schemas[i])) < 0)
			goto oom;
	for (size_t i = 0; i < ntables; i++)
		if ((i > 0 && buf_puts(&ta, ",") < 0) ||
		    pgt_array_elem(&ta, tables[i].name, strlen(tables[i].name)) < 0)
			goto oom;
	if (buf_puts(&sa, "}") < 0 || buf_puts(&ta, "}") < 0)
		goto oom;
	params[0] = sa.data;
	params[1] = ta.data;
	res = t_query(t,
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

	if (buf_puts(b, "CREATE TABLE ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0 ||
	    buf_puts(b, " (") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++) {
		if ((i > 0 && buf_puts(b, ", ") < 0) || pg_append_ident(t->conn, b, tb->cols[i].name) < 0 ||
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
				     pg_append_ident(t->conn, b, tb->cols[i].name) < 0))
					return -1;
		if (buf_puts(b, ")") < 0)
			return -1;
	}
	return buf_puts(b, ");\n");
}

/* The checkpoint's fence in one schema: the term column and the trigger
 * that refuses to lower it (see common/fence.h). */
static int fence_sql(PGconn *conn, struct buf *b, const char *schema)
{
	return buf_puts(b, "ALTER TABLE ") < 0 || pgt_qualified(conn, b, schema, "syncd_checkpoint") < 0 ||
			       buf_puts(b, " ADD COLUMN IF NOT EXISTS term bigint NOT NULL DEFAULT 0;\n"
					   "CREATE OR REPLACE FUNCTION ") < 0 ||
			       pgt_qualified(conn, b, schema, "syncd_checkpoint_fence") < 0 ||
			       buf_puts(
				       b,
				       "() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN\n"
				       "IF NEW.term < OLD.term THEN RAISE EXCEPTION 'syncd fence: %.% (% %) was "
				       "written under term %; a write under term % is refused', TG_TABLE_SCHEMA, "
				       "TG_TABLE_NAME, OLD.source, OLD.unit, OLD.term, NEW.term USING ERRCODE = "
				       "'" FENCE_SQLSTATE "'; END IF;\nRETURN NEW; END $f$;\n"
				       "CREATE OR REPLACE TRIGGER syncd_checkpoint_fence BEFORE UPDATE ON ") <
				       0 ||
			       pgt_qualified(conn, b, schema, "syncd_checkpoint") < 0 ||
			       buf_puts(b, " FOR EACH ROW EXECUTE FUNCTION ") < 0 ||
			       pgt_qualified(conn, b, schema, "syncd_checkpoint_fence") < 0 ||
			       buf_puts(b, "();\n") < 0
		       ? -1
		       : 0;
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

	if (pgs_flush_all(t, err, errlen) < 0)
		return -1;
	buf_reset(b);
	for (size_t s = 0; s < nschemas; s++)
		if (buf_puts(b, "CREATE SCHEMA IF NOT EXISTS ") < 0 ||
		    pg_append_ident(t->conn, b, schemas[s]) < 0 ||
		    buf_puts(b, ";\nCREATE TABLE IF NOT EXISTS ") < 0 ||
		    pgt_qualified(t->conn, b, schemas[s], "syncd_checkpoint") < 0 ||
		    buf_puts(
			    b,
			    " (source text NOT NULL, unit text NOT NULL, lsn pg_lsn NOT NULL, "
			    "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, unit));\n") <
			    0 ||
		    fence_sql(t->conn, b, schemas[s]) < 0)
			goto oom;
	if (t_exec(t, b->data, err, errlen) < 0)
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
			     pgt_qualified(t->conn, &trunc, schemas[s], tables[i].name) < 0))
				goto oom;
		}
	if (trunc.len > 0 && buf_append(b, trunc.data, trunc.len) < 0)
		goto oom;
	if (b->len > 0 && t_exec(t, b->data, err, errlen) < 0)
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
	if (buf_puts(b, "COPY ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0 ||
	    buf_puts(b, " (") < 0)
		goto oom;
	for (size_t i = 0; i < tb->ncols; i++)
		if ((i > 0 && buf_puts(b, ", ") < 0) || pg_append_ident(t->conn, b, tb->cols[i].name) < 0)
			goto oom;
	if (buf_puts(b, ") FROM STDIN") < 0)
		goto oom;
	if (pgs_flush_all(t, err, errlen) < 0 || pgt_pipe_drain(t, err, errlen) < 0)
		return -1;
	return pg_copy_in(t->conn, b->data, rows, len, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int target_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			     char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	char ustr[8], term[24];
	const char *params[4] = {source, ustr, lsn, term};
	struct stmt *st = pgt_shape_find(t, 'C', 0, schema, "syncd_checkpoint", 0);

	snprintf(ustr, sizeof(ustr), "%05d", unit);
	fence_text(term, sizeof(term));
	if (st == NULL) {
		buf_reset(b);
		if (buf_puts(b, "INSERT INTO ") < 0 ||
		    pgt_qualified(t->conn, b, schema, "syncd_checkpoint") < 0 ||
		    buf_puts(b,
			     " (source, unit, lsn, term) VALUES ($1, $2, $3, $4) ON CONFLICT (source, unit) "
			     "DO UPDATE SET lsn = EXCLUDED.lsn, term = EXCLUDED.term, updated_at = now()") <
			    0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st = pgt_shape_add(t, 'C', 0, schema, "syncd_checkpoint", 0, 4, err, errlen);
		if (st == NULL)
			return -1;
	}
	return pgt_stmt_send(t, st, 4, params, "INSERT INTO", false, err, errlen);
}

/* Collects parameter values as NUL-terminated strings in t->params; the
 * pointers are fixed up once all are in (the buffer may move). */
struct param_list {
	int n;
	size_t off[1600];
	bool null[1600];
	const char *ptr[1600];
};

static int param_add(struct pg_target *t, struct param_list *pl, const struct connector_value *v)
{
	if (pl->n >= 1600)
		return -1;
	pl->null[pl->n] = v->kind == CV_NULL;
	pl->off[pl->n] = t->params.len;
	if (v->kind == CV_VALUE && buf_append(&t->params, v->p, v->len) < 0)
		return -1;
	if (buf_append(&t->params, "", 1) < 0)
		return -1;
	pl->n++;
	return 0;
}

static int params_key(struct pg_target *t, struct param_list *pl, const struct connector_value *key, int nk)
{
	for (int k = 0; k < nk; k++)
		if (param_add(t, pl, &key[k]) < 0)
			return -1;
	return 0;
}

static const char *const *param_ptrs(struct pg_target *t, struct param_list *pl)
{
	for (int i = 0; i < pl->n; i++)
		pl->ptr[i] = pl->null[i] ? NULL : t->params.data + pl->off[i];
	return pl->ptr;
}

/* Appends " WHERE k1 = $n AND k2 = $n+1 ..." for the key columns. */
static int where_key(struct pg_target *t, const struct connector_table *tb, int first)
{
	struct buf *b = &t->sql;
	int k = 0;

	for (int pos = 1;; pos++) {
		size_t i;

		for (i = 0; i < tb->ncols; i++)
			if (tb->cols[i].key_pos == pos)
				break;
		if (i == tb->ncols)
			break;
		if (buf_puts(b, k == 0 ? " WHERE " : " AND ") < 0 ||
		    pg_append_ident(t->conn, b, tb->cols[i].name) < 0 ||
		    buf_printf(b, " = $%d", first + k) < 0)
			return -1;
		k++;
	}
	return k;
}

int pgt_key_count(const struct connector_table *tb)
{
	int n = 0;

	for (size_t i = 0; i < tb->ncols; i++)
		if (tb->cols[i].key_pos > 0)
			n++;
	return n;
}

/* Sends a change of that shape; build() writes its SQL into t->sql the
 * first time the shape is seen. */
static int exec_change(struct pg_target *t, struct param_list *pl, char kind, uint64_t mask, const char *what,
		       const char *schema, const struct connector_table *tb, long expect,
		       const struct connector_value *vals,
		       int (*build)(struct pg_target *, const char *, const struct connector_table *,
				    const struct connector_value *),
		       char *err, size_t errlen)
{
	bool fast = tb->ncols <= 64;
	struct stmt *st = fast ? pgt_shape_find(t, kind, mask, schema, tb->name, tb->ncols) : NULL;

	if (st == NULL) {
		/* preparing needs the pipeline read first: its failure is its own */
		if (pgt_pipe_drain(t, err, errlen) < 0)
			return -1;
		buf_reset(&t->sql);
		if (build(t, schema, tb, vals) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st = fast ? pgt_shape_add(t, kind, mask, schema, tb->name, tb->ncols, pl->n, err, errlen)
			  : stmt_get(t, pl->n, schema, tb->name, err, errlen);
		if (st == NULL) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "%s %s.%s: %s", what, schema, tb->name, msg);
			return -1;
		}
	}
	return pgt_stmt_send(t, st, pl->n, param_ptrs(t, pl), what, expect, err, errlen);
}

static int insert_sql(struct pg_target *t, const char *schema, const struct connector_table *tb,
		      const struct connector_value *vals)
{
	struct buf *b = &t->sql;

	(void)vals;
	if (buf_puts(b, "INSERT INTO ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0 ||
	    buf_puts(b, " (") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++)
		if ((i > 0 && buf_puts(b, ", ") < 0) || pg_append_ident(t->conn, b, tb->cols[i].name) < 0)
			return -1;
	if (buf_puts(b, ") VALUES (") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++)
		if (buf_printf(b, "%s$%zu", i > 0 ? ", " : "", i + 1) < 0)
			return -1;
	return buf_puts(b, ")");
}

/* An UPDATE sets the columns sent: an unchanged TOAST value is left alone.
 * Its shape's mask says which (with more than 64 columns the statement is
 * found by its text instead). */
static int update_sql(struct pg_target *t, const char *schema, const struct connector_table *tb,
		      const struct connector_value *vals)
{
	struct buf *b = &t->sql;
	int n = 0;

	if (buf_puts(b, "UPDATE ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0 ||
	    buf_puts(b, " SET ") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++) {
		if (vals[i].kind == CV_ABSENT)
			continue;
		if ((n > 0 && buf_puts(b, ", ") < 0) || pg_append_ident(t->conn, b, tb->cols[i].name) < 0 ||
		    buf_printf(b, " = $%d", n + 1) < 0)
			return -1;
		n++;
	}
	return where_key(t, tb, n + 1) < 0 ? -1 : 0;
}

static int remove_sql(struct pg_target *t, const char *schema, const struct connector_table *tb,
		      const struct connector_value *vals)
{
	struct buf *b = &t->sql;

	(void)vals;
	if (buf_puts(b, "DELETE FROM ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0)
		return -1;
	return where_key(t, tb, 1) < 0 ? -1 : 0;
}

int pgt_send_insert(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *vals, char *err, size_t errlen)
{
	struct param_list pl;

	pl.n = 0;
	buf_reset(&t->params);
	for (size_t i = 0; i < tb->ncols; i++)
		if (param_add(t, &pl, &vals[i]) < 0)
			goto oom;
	return exec_change(t, &pl, 'I', 0, "INSERT INTO", schema, tb, 0, vals, insert_sql, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int pgt_send_update(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *key, const struct connector_value *vals, char *err,
		    size_t errlen)
{
	struct param_list pl;
	uint64_t mask = 0;

	pl.n = 0;
	buf_reset(&t->params);
	for (size_t i = 0; i < tb->ncols; i++) {
		if (vals[i].kind == CV_ABSENT)
			continue; /* unchanged TOAST: never overwritten */
		if (param_add(t, &pl, &vals[i]) < 0)
			goto oom;
		if (i < 64)
			mask |= (uint64_t)1 << i;
	}
	if (pl.n == 0)
		return 0;
	if (params_key(t, &pl, key, pgt_key_count(tb)) < 0)
		goto oom;
	return exec_change(t, &pl, 'U', mask, "UPDATE", schema, tb, 1, vals, update_sql, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int pgt_send_remove(struct pg_target *t, const char *schema, const struct connector_table *tb,
		    const struct connector_value *key, char *err, size_t errlen)
{
	struct param_list pl;

	pl.n = 0;
	buf_reset(&t->params);
	if (params_key(t, &pl, key, pgt_key_count(tb)) < 0)
		goto oom;
	return exec_change(t, &pl, 'D', 0, "DELETE FROM", schema, tb, 1, NULL, remove_sql, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int target_fetch(void *ctx, const char *schema, const struct connector_table *tb,
			const struct connector_value *key, size_t col, struct buf *out, bool *is_null,
			char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	struct param_list pl;
	int nk = pgt_key_count(tb), r;
	char msg[1024];
	PGresult *res;

	if (pgs_flush_table(t, schema, tb->name, err, errlen) < 0)
		return -1;
	pl.n = 0;
	buf_reset(b);
	buf_reset(&t->params);
	if (buf_puts(b, "SELECT ") < 0 || pg_append_ident(t->conn, b, tb->cols[col].name) < 0 ||
	    buf_puts(b, " FROM ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0 ||
	    where_key(t, tb, 1) < 0)
		goto oom;
	if (params_key(t, &pl, key, nk) < 0)
		goto oom;
	res = stmt_exec(t, pl.n, param_ptrs(t, &pl), PGRES_TUPLES_OK, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "SELECT from %s.%s: %s", schema, tb->name, msg);
		return -1;
	}
	r = PQntuples(res) == 1;
	if (r) {
		*is_null = PQgetisnull(res, 0, 0);
		if (buf_append(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0)) < 0) {
			PQclear(res);
			goto oom;
		}
	}
	PQclear(res);
	return r;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int target_truncate(void *ctx, const char *schema, const struct connector_table *tb, char *err,
			   size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	char msg[1024];

	if (pgs_flush_table(t, schema, tb->name, err, errlen) < 0)
		return -1;
	buf_reset(b);
	if (buf_puts(b, "TRUNCATE ") < 0 || pgt_qualified(t->conn, b, schema, tb->name) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t_exec(t, b->data, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "TRUNCATE %s.%s: %s", schema, tb->name, msg);
		return -1;
	}
	return 0;
}

static int target_add_column(void *ctx, const char *schema, const char *table, const char *name,
			     const char *type, const char *default_expr, char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	char msg[1024];

	if (pgs_flush_all(t, err, errlen) < 0)
		return -1;
	buf_reset(b);
	if (buf_puts(b, "ALTER TABLE ") < 0 || pgt_qualified(t->conn, b, schema, table) < 0 ||
	    buf_puts(b, " ADD COLUMN IF NOT EXISTS ") < 0 || pg_append_ident(t->conn, b, name) < 0 ||
	    buf_printf(b, " %s", type) < 0 ||
	    (default_expr != NULL && buf_printf(b, " DEFAULT %s", default_expr) < 0)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t_exec(t, b->data, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", b->data, msg);
		return -1;
	}
	return 0;
}

static int target_describe(void *ctx, const char *schema, const char *table, struct connector_column **cols,
			   size_t *n, char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	const char *params[2] = {schema, table};
	char msg[1024];
	PGresult *res =
		t_query(t,
			"SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod "
			"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
			"JOIN pg_namespace n ON n.oid = c.relnamespace "
			"WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
			"ORDER BY a.attnum",
			2, params, msg, sizeof(msg));

	*cols = NULL;
	*n = 0;
	if (res == NULL) {
		snprintf(err, errlen, "%s.%s: %s", schema, table, msg);
		return -1;
	}
	*cols = calloc((size_t)PQntuples(res) + 1, sizeof(**cols));
	if (*cols == NULL) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		(*cols)[i].name = strdup(PQgetvalue(res, i, 0));
		(*cols)[i].type = strdup(PQgetvalue(res, i, 1));
		(*cols)[i].type_oid = (unsigned)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		(*cols)[i].typmod = atoi(PQgetvalue(res, i, 3));
	}
	*n = (size_t)PQntuples(res);
	PQclear(res);
	return 0;
}

/* A unit copy made before the fence existed gets it (once per schema). */
static int fence_ensure(struct pg_target *t, const char *schema, char *err, size_t errlen)
{
	struct buf *b = &t->sql;
	const char *params[1] = {b->data};
	char msg[1024];
	PGresult *res;
	bool has;

	buf_reset(b);
	if (pgt_qualified(t->conn, b, schema, "syncd_checkpoint") < 0 || buf_append(b, "", 1) < 0)
		goto oom;
	params[0] = b->data;
	res = t_query(t,
		      "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = $1::regclass "
		      "AND attname = 'term' AND NOT attisdropped)",
		      1, params, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "%s.syncd_checkpoint: %s", schema, msg);
		return -1;
	}
	has = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (has)
		return 0;
	buf_reset(b);
	if (fence_sql(t->conn, b, schema) < 0)
		goto oom;
	if (t_exec(t, b->data, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s.syncd_checkpoint: adding the term column: %s", schema, msg);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int target_checkpoint_get(void *ctx, const char *schema, const char *source, int unit, char *lsn,
				 size_t lsnlen, char *err, size_t errlen)
{
	struct pg_target *t = ctx;
	struct buf *b = &t->sql;
	char ustr[8], msg[1024], term[24];
	const char *params[3] = {source, ustr, term};
	PGresult *res;

	snprintf(ustr, sizeof(ustr), "%05d", unit);
	fence_text(term, sizeof(term));
	/* a stream's transactions are short: one left open by a paused
	 * process must not hold the checkpoint rows a takeover raises */
	if (!t->streaming &&
	    t_exec(t, "SET idle_in_transaction_session_timeout = '60s'", msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", schema, msg);
		return -1;
	}
	t->streaming = true;
	if (fence_ensure(t, schema, err, errlen) < 0)
		return -1;
	/* the read raises the row's term to this instance's: from here on, a
	 * write of an earlier term (a paused instance resuming) is refused */
	buf_reset(b);
	if (buf_puts(b, "UPDATE ") < 0 || pgt_qualified(t->conn, b, schema, "syncd_checkpoint") < 0 ||
	    buf_puts(b, " SET term = $3 WHERE source = $1 AND unit = $2 RETURNING lsn") < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	res = t_query(t, b->data, 3, params, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "%s.syncd_checkpoint: %s", schema, msg);
		return -1;
	}
	snprintf(lsn, lsnlen, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

static int target_commit(void *ctx, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	if (pgs_flush_all(t, err, errlen) < 0)
		return -1;
	return t_exec(t, "COMMIT", err, errlen);
}

static bool target_alive(void *ctx)
{
	struct pg_target *t = ctx;

	return PQstatus(t->conn) == CONNECTION_OK;
}

static void target_rollback(void *ctx)
{
	struct pg_target *t = ctx;
	char err[256];

	pgs_discard(t);
	if (pgt_pipe_drain(t, err, sizeof(err)) < 0 && t->piped)
		return; /* connection lost: the caller reconnects */
	if (PQtransactionStatus(t->conn) != PQTRANS_IDLE)
		(void)t_exec(t, "ROLLBACK", err, sizeof(err));
}

static void target_close(void *ctx)
{
	struct pg_target *t = ctx;

	if (t == NULL)
		return;
	pgs_free(t);
	PQfinish(t->conn);
	buf_free(&t->sql);
	buf_free(&t->params);
	for (unsigned h = 0; h < STMT_BUCKETS; h++)
		while (t->stmts[h] != NULL) {
			struct stmt *next = t->stmts[h]->next;

			free(t->stmts[h]->sql);
			free(t->stmts[h]->rel);
			free(t->stmts[h]);
			t->stmts[h] = next;
		}
	for (unsigned h = 0; h < STMT_BUCKETS; h++)
		while (t->shapes[h] != NULL) {
			struct shape *next = t->shapes[h]->next;

			free(t->shapes[h]->schema);
			free(t->shapes[h]->table);
			free(t->shapes[h]);
			t->shapes[h] = next;
		}
	free(t);
}

const struct connector_ops pg_target_ops = {
	.name = "postgresql",
	.open = target_open,
	.begin = target_begin,
	.prepare = target_prepare,
	.load = target_load,
	.checkpoint = target_checkpoint,
	.insert = pgs_insert,
	.update = pgs_update,
	.remove = pgs_remove,
	.fetch = target_fetch,
	.truncate = target_truncate,
	.add_column = target_add_column,
	.checkpoint_get = target_checkpoint_get,
	.describe = target_describe,
	.commit = target_commit,
	.rollback = target_rollback,
	.alive = target_alive,
	.close = target_close,
};
