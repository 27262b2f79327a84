/* state.c — the sync engine's rows in the state database: quarantine,
 * checkpoints, detached units, requests, snapshot markers (see state.h). */
#include "syncd/sync/state.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/fence.h"
#include "common/pg.h"
#include "common/schema.h"
#include "connectors/copytext.h"

#define QUARANTINE_FLUSH (256 * 1024)

struct state {
	PGconn *conn;
	struct buf qrows; /* quarantined rows waiting for COPY */
	bool in_tx;
};

struct state *state_open(const char *conninfo, const char *password, char *err, size_t errlen)
{
	struct state *st = calloc(1, sizeof(*st));
	char msg[1024];

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* the quarantine is written with COPY text: the same session settings as
	 * the sources' (copy_session), or dates and floats would read differently */
	st->conn = pg_connect(&(const struct pg_connect_opts){.conninfo = conninfo,
							      .password = password,
							      .what = "state database",
							      .pin_search_path = true,
							      .quiet = true,
							      .copy_session = true},
			      msg, sizeof(msg));
	if (st->conn == NULL) {
		snprintf(err, errlen, "%s; check [state] conninfo", msg);
		free(st);
		return NULL;
	}
	if (schema_apply(st->conn, err, errlen) < 0) {
		state_free(st);
		return NULL;
	}
	return st;
}

bool state_alive(const struct state *st)
{
	return PQstatus(st->conn) == CONNECTION_OK;
}

void state_free(struct state *st)
{
	if (st == NULL)
		return;
	PQfinish(st->conn);
	buf_free(&st->qrows);
	free(st);
}

int state_snapshot_get(struct state *st, const char *source, struct state_snapshot *out, char *err,
		       size_t errlen)
{
	const char *params[1] = {source};
	char msg[1024];
	PGresult *res =
		pg_query(st->conn,
			 "SELECT slot, lsn, completed_at, rows_old, rows_new, quarantined, units, seconds "
			 "FROM syncd_snapshot WHERE source = $1",
			 1, params, msg, sizeof(msg));
	int found;

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_snapshot: %s", msg);
		return -1;
	}
	found = PQntuples(res) == 1;
	if (found) {
		snprintf(out->slot, sizeof(out->slot), "%s", PQgetvalue(res, 0, 0));
		snprintf(out->lsn, sizeof(out->lsn), "%s", PQgetvalue(res, 0, 1));
		snprintf(out->completed_at, sizeof(out->completed_at), "%s", PQgetvalue(res, 0, 2));
		out->rows_old = atoll(PQgetvalue(res, 0, 3));
		out->rows_new = atoll(PQgetvalue(res, 0, 4));
		out->quarantined = atoll(PQgetvalue(res, 0, 5));
		out->units = atoi(PQgetvalue(res, 0, 6));
		out->seconds = atof(PQgetvalue(res, 0, 7));
	}
	PQclear(res);
	return found;
}

static int exec_params(struct state *st, const char *what, const char *sql, int n, const char *const *params,
		       char *err, size_t errlen)
{
	PGresult *res = PQexecParams(st->conn, sql, n, NULL, params, NULL, NULL, 0);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "state database: %s: %s", what, PQerrorMessage(st->conn));
		r = -1;
	}
	PQclear(res);
	return r;
}

int state_snapshot_clear(struct state *st, const char *source, char *err, size_t errlen)
{
	const char *params[1] = {source};

	return exec_params(st, "syncd_snapshot", "DELETE FROM syncd_snapshot WHERE source = $1", 1, params,
			   err, errlen);
}

int state_snapshot_complete(struct state *st, const char *source, const struct state_snapshot *s, char *err,
			    size_t errlen)
{
	char ro[32], rn[32], q[32], u[16], sec[32];
	const char *params[8] = {source, s->slot, s->lsn, ro, rn, q, u, sec};

	snprintf(ro, sizeof(ro), "%lld", s->rows_old);
	snprintf(rn, sizeof(rn), "%lld", s->rows_new);
	snprintf(q, sizeof(q), "%lld", s->quarantined);
	snprintf(u, sizeof(u), "%d", s->units);
	snprintf(sec, sizeof(sec), "%.3f", s->seconds);
	return exec_params(
		st, "syncd_snapshot",
		"INSERT INTO syncd_snapshot (source, slot, lsn, rows_old, rows_new, quarantined, units, seconds) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source) DO UPDATE SET "
		"slot = EXCLUDED.slot, lsn = EXCLUDED.lsn, rows_old = EXCLUDED.rows_old, "
		"rows_new = EXCLUDED.rows_new, quarantined = EXCLUDED.quarantined, units = EXCLUDED.units, "
		"seconds = EXCLUDED.seconds, completed_at = now()",
		8, params, err, errlen);
}

int state_quarantine_begin(struct state *st, const char *source, bool reset, char *err, size_t errlen)
{
	const char *params[1] = {source};

	buf_reset(&st->qrows);
	if (pg_exec(st->conn, "BEGIN", err, errlen) < 0)
		return -1;
	st->in_tx = true;
	if (reset && exec_params(st, "syncd_quarantine", "DELETE FROM syncd_quarantine WHERE source = $1", 1,
				 params, err, errlen) < 0)
		return -1;
	return 0;
}

static int quarantine_flush(struct state *st, char *err, size_t errlen)
{
	char msg[1024];

	if (st->qrows.len == 0)
		return 0;
	if (pg_copy_in(
		    st->conn,
		    "COPY syncd_quarantine (source, tbl, key, unit_value, reason, row_data, lsn) FROM STDIN",
		    st->qrows.data, st->qrows.len, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "state database: syncd_quarantine: %s", msg);
		return -1;
	}
	buf_reset(&st->qrows);
	return 0;
}

static int field(struct buf *b, const char *v, char sep)
{
	if (v == NULL) {
		if (buf_puts(b, "\\N") < 0)
			return -1;
	} else if (copytext_escape(v, strlen(v), b) < 0) {
		return -1;
	}
	return buf_append(b, &sep, 1);
}

int state_quarantine_add(struct state *st, const char *source, const char *table, const char *key,
			 const char *unit_value, const char *reason, const char *row_json, const char *lsn,
			 char *err, size_t errlen)
{
	struct buf *b = &st->qrows;

	if (field(b, source, '\t') < 0 || field(b, table, '\t') < 0 || field(b, key, '\t') < 0 ||
	    field(b, unit_value, '\t') < 0 || field(b, reason, '\t') < 0 || field(b, row_json, '\t') < 0 ||
	    field(b, lsn, '\n') < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return b->len >= QUARANTINE_FLUSH ? quarantine_flush(st, err, errlen) : 0;
}

int state_quarantine_commit(struct state *st, const char *source, const char *lsn, char *err, size_t errlen)
{
	char term[24];
	const char *params[3] = {source, lsn, term};

	fence_text(term, sizeof(term));
	if (quarantine_flush(st, err, errlen) < 0)
		return -1;
	if (exec_params(
		    st, "syncd_checkpoint",
		    "INSERT INTO syncd_checkpoint (source, unit, lsn, term) VALUES ($1, 'quarantine', $2, $3) "
		    "ON CONFLICT (source, unit) DO UPDATE SET lsn = EXCLUDED.lsn, term = EXCLUDED.term, "
		    "updated_at = now()",
		    3, params, err, errlen) < 0)
		return -1;
	if (pg_exec(st->conn, "COMMIT", err, errlen) < 0)
		return -1;
	st->in_tx = false;
	return 0;
}

void state_quarantine_rollback(struct state *st)
{
	char msg[256];

	buf_reset(&st->qrows);
	st->in_tx = false;
	if (PQtransactionStatus(st->conn) != PQTRANS_IDLE)
		(void)pg_exec(st->conn, "ROLLBACK", msg, sizeof(msg));
}

bool state_quarantine_open(const struct state *st)
{
	return st->in_tx;
}

long state_quarantine_remove(struct state *st, const char *source, const char *table, const char *key,
			     char *err, size_t errlen)
{
	const char *params[3] = {source, table, key};
	PGresult *res;
	long n;

	if (quarantine_flush(st, err, errlen) < 0)
		return -1;
	res = PQexecParams(st->conn,
			   "DELETE FROM syncd_quarantine WHERE source = $1 AND tbl = $2 AND key = $3", 3,
			   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "state database: syncd_quarantine: %s", PQerrorMessage(st->conn));
		PQclear(res);
		return -1;
	}
	n = atol(PQcmdTuples(res));
	PQclear(res);
	return n;
}

int state_quarantine_fetch(struct state *st, const char *source, const char *table, const char *key,
			   const char *column, struct buf *out, bool *is_null, char *err, size_t errlen)
{
	const char *params[4] = {source, table, key, column};
	char msg[1024];
	PGresult *res;
	int r;

	if (quarantine_flush(st, err, errlen) < 0)
		return -1;
	res = pg_query(
		st->conn,
		"SELECT row_data->>$4 FROM syncd_quarantine WHERE source = $1 AND tbl = $2 AND key = $3 "
		"ORDER BY id DESC LIMIT 1",
		4, params, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_quarantine: %s", msg);
		return -1;
	}
	r = PQntuples(res) == 1;
	if (r) {
		*is_null = PQgetisnull(res, 0, 0);
		if (buf_append(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0)) < 0)
			r = -1;
	}
	PQclear(res);
	return r;
}

int state_quarantine_truncate(struct state *st, const char *source, const char *table, char *err,
			      size_t errlen)
{
	const char *params[2] = {source, table};

	if (quarantine_flush(st, err, errlen) < 0)
		return -1;
	return exec_params(st, "syncd_quarantine",
			   "DELETE FROM syncd_quarantine WHERE source = $1 AND tbl = $2", 2, params, err,
			   errlen);
}

int state_cursor_get(struct state *st, const char *source, struct buf *cursor, long long *page_seq, char *err,
		     size_t errlen)
{
	const char *params[1] = {source};
	char msg[1024];
	PGresult *res =
		pg_query(st->conn, "SELECT cursor, page_seq FROM syncd_source_cursor WHERE source = $1", 1,
			 params, msg, sizeof(msg));
	int r = 0;

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_source_cursor: %s", msg);
		return -1;
	}
	buf_reset(cursor);
	*page_seq = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 1)) : 0;
	if ((PQntuples(res) == 1 &&
	     buf_append(cursor, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0)) < 0) ||
	    buf_puts(cursor, "") < 0) {
		snprintf(err, errlen, "out of memory");
		r = -1;
	}
	PQclear(res);
	return r;
}

int state_cursor_set(struct state *st, const char *source, const char *cursor, long long page_seq, char *err,
		     size_t errlen)
{
	char seq[32];
	const char *params[3] = {source, cursor[0] != '\0' ? cursor : NULL, seq};

	if (!st->in_tx) {
		snprintf(err, errlen,
			 "state database: syncd_source_cursor: written outside the quarantine's transaction");
		return -1;
	}
	snprintf(seq, sizeof(seq), "%lld", page_seq);
	return exec_params(st, "syncd_source_cursor",
			   "INSERT INTO syncd_source_cursor (source, cursor, page_seq) VALUES ($1, $2, $3) "
			   "ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, "
			   "page_seq = EXCLUDED.page_seq, updated_at = now()",
			   3, params, err, errlen);
}

int state_checkpoint_get(struct state *st, const char *source, char *lsn, size_t lsnlen, char *err,
			 size_t errlen)
{
	char msg[1024], term[24];
	const char *params[2] = {source, term};
	PGresult *res;

	/* the read raises the row's term to this instance's: from here on, a
	 * write of an earlier term (a paused instance resuming) is refused */
	fence_text(term, sizeof(term));
	res = pg_query(st->conn,
		       "UPDATE syncd_checkpoint SET term = $2 WHERE source = $1 AND unit = 'quarantine' "
		       "RETURNING lsn",
		       2, params, msg, sizeof(msg));

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_checkpoint: %s", msg);
		return -1;
	}
	snprintf(lsn, lsnlen, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

long state_request_add(struct state *st, const char *source, const char *kind, const char *unit,
		       const char *table, char *err, size_t errlen)
{
	const char *params[4] = {source, kind, unit, table};
	char msg[1024];
	/* the same request still pending is not queued twice */
	PGresult *res = pg_query(
		st->conn,
		"WITH e AS (SELECT id FROM syncd_request WHERE source = $1 AND kind = $2 AND unit IS NOT DISTINCT FROM $3 "
		"  AND tbl IS NOT DISTINCT FROM $4 AND done_at IS NULL LIMIT 1), "
		"i AS (INSERT INTO syncd_request (source, kind, unit, tbl) SELECT $1, $2, $3, $4 "
		"  WHERE NOT EXISTS (SELECT 1 FROM e) RETURNING id) "
		"SELECT id FROM i UNION ALL SELECT id FROM e",
		4, params, msg, sizeof(msg));
	long id;

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_request: %s", msg);
		return -1;
	}
	id = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return id;
}

int state_request_next(struct state *st, const char *source, struct state_request *out, char *err,
		       size_t errlen)
{
	const char *params[1] = {source};
	char msg[1024];
	PGresult *res = pg_query(st->conn,
				 "SELECT id, kind, coalesce(unit, ''), coalesce(tbl, '') FROM syncd_request "
				 "WHERE source = $1 AND done_at IS NULL ORDER BY id LIMIT 1",
				 1, params, msg, sizeof(msg));
	int found;

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_request: %s", msg);
		return -1;
	}
	found = PQntuples(res) == 1;
	if (found) {
		out->id = atol(PQgetvalue(res, 0, 0));
		snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, 0, 1));
		snprintf(out->unit, sizeof(out->unit), "%s", PQgetvalue(res, 0, 2));
		snprintf(out->table, sizeof(out->table), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return found;
}

int state_request_done(struct state *st, long id, const char *result, char *err, size_t errlen)
{
	char ids[32];
	const char *params[2] = {ids, result};

	snprintf(ids, sizeof(ids), "%ld", id);
	return exec_params(st, "syncd_request",
			   "UPDATE syncd_request SET done_at = now(), result = $2 WHERE id = $1", 2, params,
			   err, errlen);
}

int state_request_result(struct state *st, long id, char *result, size_t resultlen, char *err, size_t errlen)
{
	char ids[32], msg[1024];
	const char *params[1] = {ids};
	PGresult *res;
	int done;

	snprintf(ids, sizeof(ids), "%ld", id);
	res = pg_query(st->conn,
		       "SELECT done_at IS NOT NULL, coalesce(result, '') FROM syncd_request WHERE id = $1", 1,
		       params, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_request: %s", msg);
		return -1;
	}
	done = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	snprintf(result, resultlen, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "");
	PQclear(res);
	return done;
}

long state_quarantine_rows(struct state *st, const char *source, struct state_qrow **rows, char *err,
			   size_t errlen)
{
	const char *params[1] = {source};
	char msg[1024];
	PGresult *res = pg_query(
		st->conn,
		"SELECT id, tbl, coalesce(key, ''), row_data::text FROM syncd_quarantine WHERE source = $1 "
		"ORDER BY id",
		1, params, msg, sizeof(msg));
	long n;

	*rows = NULL;
	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_quarantine: %s", msg);
		return -1;
	}
	n = PQntuples(res);
	*rows = calloc((size_t)n + 1, sizeof(**rows));
	if (*rows == NULL) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long i = 0; i < n; i++) {
		(*rows)[i].id = atol(PQgetvalue(res, (int)i, 0));
		(*rows)[i].table = strdup(PQgetvalue(res, (int)i, 1));
		(*rows)[i].key = strdup(PQgetvalue(res, (int)i, 2));
		(*rows)[i].row_json = strdup(PQgetvalue(res, (int)i, 3));
	}
	PQclear(res);
	return n;
}

void state_qrows_free(struct state_qrow *rows, long n)
{
	for (long i = 0; i < n && rows != NULL; i++) {
		free(rows[i].table);
		free(rows[i].key);
		free(rows[i].row_json);
	}
	free(rows);
}

int state_quarantine_release(struct state *st, const char *source, const long *ids, size_t n, const char *lsn,
			     char *err, size_t errlen)
{
	struct buf arr = {0};
	int r = -1;

	if (buf_puts(&arr, "{") < 0)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (buf_printf(&arr, "%s%ld", i ? "," : "", ids[i]) < 0)
			goto oom;
	if (buf_puts(&arr, "}") < 0)
		goto oom;
	if (state_quarantine_begin(st, source, false, err, errlen) < 0)
		goto out;
	{
		const char *params[2] = {source, arr.data};

		if (exec_params(st, "syncd_quarantine",
				"DELETE FROM syncd_quarantine WHERE source = $1 AND id = ANY($2::bigint[])",
				2, params, err, errlen) < 0) {
			state_quarantine_rollback(st);
			goto out;
		}
	}
	if (state_quarantine_commit(st, source, lsn, err, errlen) < 0) {
		state_quarantine_rollback(st);
		goto out;
	}
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	buf_free(&arr);
	return r;
}

long state_quarantine_count(struct state *st, const char *source, char *err, size_t errlen)
{
	const char *params[1] = {source};
	char msg[1024];
	PGresult *res = pg_query(st->conn, "SELECT count(*) FROM syncd_quarantine WHERE source = $1", 1,
				 params, msg, sizeof(msg));
	long n;

	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_quarantine: %s", msg);
		return -1;
	}
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

int state_policy_digest(struct state *st, const char *source, const char *digest, bool set, char *err,
			size_t errlen)
{
	const char *params[2] = {source, digest};
	char msg[1024];
	PGresult *res;
	int same;

	if (set)
		return exec_params(st, "syncd_snapshot",
				   "UPDATE syncd_snapshot SET policy_digest = $2 WHERE source = $1", 2,
				   params, err, errlen);
	res = pg_query(st->conn,
		       "SELECT policy_digest IS NOT DISTINCT FROM $2 FROM syncd_snapshot WHERE source = $1",
		       2, params, msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_snapshot: %s", msg);
		return -1;
	}
	same = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return same;
}

int state_unit_detach(struct state *st, const char *source, int unit, const char *reason, char *err,
		      size_t errlen)
{
	char u[8];
	const char *params[3] = {source, u, reason};

	snprintf(u, sizeof(u), "%05d", unit);
	return exec_params(st, "syncd_unit_state",
			   "INSERT INTO syncd_unit_state (source, unit, reason) VALUES ($1, $2, $3) "
			   "ON CONFLICT (source, unit) DO NOTHING",
			   3, params, err, errlen);
}

int state_unit_attach(struct state *st, const char *source, int unit, char *err, size_t errlen)
{
	char u[8];
	const char *params[2] = {source, u};

	snprintf(u, sizeof(u), "%05d", unit);
	return exec_params(st, "syncd_unit_state",
			   "DELETE FROM syncd_unit_state WHERE source = $1 AND unit = $2", 2, params, err,
			   errlen);
}

int state_unit_detached(struct state *st, const char *source, int unit, char *err, size_t errlen)
{
	char u[8], msg[1024];
	const char *params[2] = {source, u};
	PGresult *res;
	int r;

	snprintf(u, sizeof(u), "%05d", unit);
	res = pg_query(st->conn, "SELECT 1 FROM syncd_unit_state WHERE source = $1 AND unit = $2", 2, params,
		       msg, sizeof(msg));
	if (res == NULL) {
		snprintf(err, errlen, "state database: syncd_unit_state: %s", msg);
		return -1;
	}
	r = PQntuples(res) == 1;
	PQclear(res);
	return r;
}
