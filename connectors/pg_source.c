/* pg_source.c — a city PostgreSQL database as a source: prerequisites,
 * publication, slot, snapshot copy and the pgoutput stream (see pg_source.h). */
#include "connectors/pg_source.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fence.h"
#include "common/log.h"
#include "common/pg.h"
#include "connectors/pgoutput.h"

struct pg_source {
	char *name;
	char *slot; /* syncd_NAME: slot and publication */
	char *conninfo;
	char *password;
	PGconn *conn;
	PGconn *repl; /* held while the exported snapshot is in use, then streaming */
	char *copy_row;
	char *stream_buf;
};

/* A source session: COPY text and pgoutput values read as the targets
 * write them (ISO dates, UTF-8); replication=database for the walsender. */
static PGconn *source_connect(const char *conninfo, const char *password, bool replication, char *err,
			      size_t errlen)
{
	char appname[160];
	const struct pg_connect_opts o = {.conninfo = conninfo,
					  .password = password,
					  .appname = appname,
					  .copy_session = true,
					  .replication = replication};

	snprintf(appname, sizeof(appname), "syncd:%s", fence_cluster());
	return pg_connect(&o, err, errlen);
}

struct pg_source *pg_source_open(const char *name, const char *conninfo, const char *password, char *err,
				 size_t errlen)
{
	struct pg_source *src = calloc(1, sizeof(*src));
	char msg[1024];

	if (src == NULL || asprintf(&src->slot, "syncd_%s", name) < 0) {
		free(src);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	src->name = strdup(name);
	src->conninfo = strdup(conninfo);
	src->password = password ? strdup(password) : NULL;
	src->conn = source_connect(conninfo, password, false, msg, sizeof(msg));
	if (src->conn == NULL) {
		snprintf(
			err, errlen,
			"source %s: cannot connect: %s; check [source %s] conninfo and that the server is running",
			name, msg, name);
		pg_source_free(src);
		return NULL;
	}
	return src;
}

void pg_source_free(struct pg_source *src)
{
	if (src == NULL)
		return;
	PQfreemem(src->copy_row);
	PQfreemem(src->stream_buf);
	if (src->repl != NULL)
		PQfinish(src->repl);
	if (src->conn != NULL)
		PQfinish(src->conn);
	free(src->name);
	free(src->slot);
	free(src->conninfo);
	free(src->password);
	free(src);
}

const char *pg_source_slot_name(const struct pg_source *src)
{
	return src->slot;
}

int pg_source_check_server(struct pg_source *src, char *err, size_t errlen)
{
	char msg[1024];
	PGresult *res =
		pg_query(src->conn,
			 "SELECT current_setting('wal_level'), current_user, "
			 "(SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)",
			 0, NULL, msg, sizeof(msg));
	int r = 0;

	if (res == NULL) {
		snprintf(err, errlen, "source %s: %s", src->name, msg);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0) {
		snprintf(
			err, errlen,
			"source %s: wal_level is '%s' but logical decoding needs 'logical'; set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL",
			src->name, PQgetvalue(res, 0, 0));
		r = -1;
	} else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
		char *role =
			PQescapeIdentifier(src->conn, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));

		snprintf(
			err, errlen,
			"source %s: role %s lacks the REPLICATION privilege needed for a replication slot; run as a superuser: ALTER ROLE %s REPLICATION;",
			src->name, PQgetvalue(res, 0, 1), role ? role : PQgetvalue(res, 0, 1));
		PQfreemem(role);
		r = -1;
	}
	PQclear(res);
	return r;
}

int pg_source_describe(struct pg_source *src, const char *schema, const char *name,
		       struct pg_source_table *out, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
		"  coalesce((SELECT k.n FROM unnest(pk.indkey) WITH ORDINALITY k(att, n) WHERE k.att = a.attnum), 0), "
		"  CASE c.relreplident WHEN 'f' THEN true WHEN 'd' THEN a.attnum = ANY(pk.indkey::int2[]) "
		"    WHEN 'i' THEN a.attnum = ANY(ri.indkey::int2[]) ELSE false END, "
		"  c.relreplident, pg_has_role(c.relowner, 'USAGE'), a.atttypid, a.atttypmod "
		"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
		"LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary "
		"LEFT JOIN pg_index ri ON ri.indrelid = c.oid AND ri.indisreplident "
		"WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') ORDER BY a.attnum";
	const char *params[2] = {schema, name};
	char msg[1024];
	PGresult *res = pg_query(src->conn, sql, 2, params, msg, sizeof(msg));
	int n;

	memset(out, 0, sizeof(*out));
	if (res == NULL) {
		snprintf(err, errlen, "source %s: cannot read table %s.%s: %s", src->name, schema, name, msg);
		return -1;
	}
	n = PQntuples(res);
	if (n == 0) {
		snprintf(
			err, errlen,
			"source %s: table %s.%s does not exist (or is not visible to this role); fix \"table\" in routing.json or grant SELECT",
			src->name, schema, name);
		PQclear(res);
		return -1;
	}
	out->schema = strdup(schema);
	out->name = strdup(name);
	out->cols = calloc((size_t)n, sizeof(*out->cols));
	if (out->schema == NULL || out->name == NULL || out->cols == NULL) {
		PQclear(res);
		pg_source_table_clear(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct connector_column *c = &out->cols[i];

		c->name = strdup(PQgetvalue(res, i, 0));
		c->type = strdup(PQgetvalue(res, i, 1));
		c->not_null = PQgetvalue(res, i, 2)[0] == 't';
		c->key_pos = atoi(PQgetvalue(res, i, 3));
		c->identity = PQgetvalue(res, i, 4)[0] == 't';
		c->type_oid = (unsigned)strtoul(PQgetvalue(res, i, 7), NULL, 10);
		c->typmod = atoi(PQgetvalue(res, i, 8));
	}
	out->ncols = (size_t)n;
	out->replident = PQgetvalue(res, 0, 5)[0];
	out->owned = PQgetvalue(res, 0, 6)[0] == 't';
	PQclear(res);
	return 0;
}

void pg_source_table_clear(struct pg_source_table *t)
{
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type);
	}
	free(t->cols);
	free(t->schema);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

static const struct connector_column *column_find(const struct pg_source_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	return NULL;
}

int pg_source_check_identity(const struct pg_source_table *t, const char *const *routing_cols, size_t ncols,
			     const char *unit_col, char *err, size_t errlen)
{
	static const char *const names[] = {
		['d'] = "DEFAULT", ['f'] = "FULL", ['i'] = "USING INDEX", ['n'] = "NOTHING"};
	const char *ident =
		(t->replident == 'd' || t->replident == 'f' || t->replident == 'i' || t->replident == 'n')
			? names[(unsigned char)t->replident]
			: "?";
	const struct connector_column *uc = column_find(t, unit_col);

	if (t->replident == 'f')
		return 0;
	if (uc != NULL && !uc->not_null) {
		snprintf(
			err, errlen,
			"table %s.%s: unit column %s is nullable, so UPDATE/DELETE can only be routed with the whole old row; run: ALTER TABLE %s.%s REPLICA IDENTITY FULL;",
			t->schema, t->name, unit_col, t->schema, t->name);
		return -1;
	}
	for (size_t i = 0; i < ncols; i++) {
		const struct connector_column *c = column_find(t, routing_cols[i]);

		if (c != NULL && !c->identity) {
			snprintf(
				err, errlen,
				"table %s.%s: REPLICA IDENTITY %s does not carry routing column %s (UPDATE and DELETE are routed by the old row); run: ALTER TABLE %s.%s REPLICA IDENTITY FULL;",
				t->schema, t->name, ident, routing_cols[i], t->schema, t->name);
			return -1;
		}
	}
	return 0;
}

static int append_table_list(PGconn *conn, struct buf *b, const struct pg_source_table *tables, size_t n,
			     const bool *only)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (only != NULL && !only[i])
			continue;
		if ((!first && buf_puts(b, ", ") < 0) || pg_append_ident(conn, b, tables[i].schema) < 0 ||
		    buf_puts(b, ".") < 0 || pg_append_ident(conn, b, tables[i].name) < 0)
			return -1;
		first = false;
	}
	return 0;
}

int pg_source_publication_ensure(struct pg_source *src, const struct pg_source_table *tables, size_t ntables,
				 bool dry_run, bool *added, char *err, size_t errlen)
{
	const char *params[1] = {src->slot};
	char msg[1024];
	PGresult *res;
	bool exists, all_owned = true;
	bool *missing = calloc(ntables + 1, sizeof(bool));
	size_t nmissing = 0;
	struct buf sql = {0};
	int r = -1;

	if (missing == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	res = pg_query(src->conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, params, msg,
		       sizeof(msg));
	if (res == NULL)
		goto query_failed;
	exists = PQntuples(res) == 1;
	PQclear(res);
	res = pg_query(src->conn,
		       "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", 1,
		       params, msg, sizeof(msg));
	if (res == NULL)
		goto query_failed;
	for (size_t i = 0; i < ntables; i++) {
		bool found = false;

		for (int k = 0; k < PQntuples(res); k++)
			if (strcmp(PQgetvalue(res, k, 0), tables[i].schema) == 0 &&
			    strcmp(PQgetvalue(res, k, 1), tables[i].name) == 0)
				found = true;
		if (!found) {
			missing[i] = true;
			nmissing++;
			all_owned &= tables[i].owned;
		}
	}
	PQclear(res);
	if (nmissing == 0) {
		r = 0;
		goto out;
	}
	if (buf_puts(&sql, exists ? "ALTER PUBLICATION " : "CREATE PUBLICATION ") < 0 ||
	    pg_append_ident(src->conn, &sql, src->slot) < 0 ||
	    buf_puts(&sql, exists ? " ADD TABLE " : " FOR TABLE ") < 0 ||
	    append_table_list(src->conn, &sql, tables, ntables, missing) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!all_owned) {
		snprintf(
			err, errlen,
			"source %s: publication %s %s, and this role does not own the tables to publish them; ask the DBA to run: %s;",
			src->name, src->slot, exists ? "lacks some routed tables" : "does not exist",
			sql.data);
		goto out;
	}
	if (dry_run) {
		r = 0;
		goto out;
	}
	if (pg_exec(src->conn, sql.data, msg, sizeof(msg)) < 0) {
		snprintf(
			err, errlen,
			"source %s: %s failed: %s (publishing needs table ownership and CREATE on the database: GRANT CREATE ON DATABASE %s TO %s; or have the DBA run the statement)",
			src->name, sql.data, msg, PQdb(src->conn), PQuser(src->conn));
		goto out;
	}
	if (added != NULL)
		memcpy(added, missing, ntables * sizeof(bool));
	log_info("source %s: %s publication %s (%zu table%s)", src->name, exists ? "extended" : "created",
		 src->slot, nmissing, nmissing == 1 ? "" : "s");
	r = 0;
	goto out;
query_failed:
	snprintf(err, errlen, "source %s: cannot read publications: %s", src->name, msg);
out:
	buf_free(&sql);
	free(missing);
	return r;
}

enum pg_slot_state pg_source_slot_state(struct pg_source *src, char *err, size_t errlen)
{
	const char *params[1] = {src->slot};
	char msg[1024];
	PGresult *res = pg_query(
		src->conn, "SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
		1, params, msg, sizeof(msg));
	enum pg_slot_state st;

	if (res == NULL) {
		snprintf(err, errlen, "source %s: cannot read replication slots: %s", src->name, msg);
		return (enum pg_slot_state) - 1;
	}
	if (PQntuples(res) == 0)
		st = PG_SLOT_MISSING;
	else
		st = strcmp(PQgetvalue(res, 0, 0), "lost") == 0 ? PG_SLOT_LOST : PG_SLOT_PRESENT;
	PQclear(res);
	return st;
}

int pg_source_slot_drop(struct pg_source *src, int wait_s, char *err, size_t errlen)
{
	const char *params[1] = {src->slot};
	char msg[1024];

	/* after a crash the old walsender may hold the slot until it notices */
	for (int tries = 0;; tries++) {
		PGresult *res =
			pg_query(src->conn, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", 1,
				 params, msg, sizeof(msg));
		bool active;

		if (res == NULL) {
			snprintf(err, errlen, "source %s: cannot read replication slots: %s", src->name, msg);
			return -1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			return 0;
		}
		active = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (!active)
			break;
		if (tries >= wait_s * 10) {
			snprintf(
				err, errlen,
				"source %s: slot %s is still in use by another connection after %d s; is another syncd running for this source?",
				src->name, src->slot, wait_s);
			return -1;
		}
		usleep(100000);
	}
	{
		PGresult *res = pg_query(src->conn, "SELECT pg_drop_replication_slot($1)", 1, params, msg,
					 sizeof(msg));

		if (res == NULL) {
			snprintf(err, errlen, "source %s: cannot drop slot %s: %s", src->name, src->slot,
				 msg);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

int pg_source_snapshot_begin(struct pg_source *src, bool temporary, char *lsn, size_t lsnlen, char *err,
			     size_t errlen)
{
	char msg[1024], name[96];
	struct buf sql = {0};
	PGresult *res;
	int r = -1;

	src->repl = source_connect(src->conninfo, src->password, true, msg, sizeof(msg));
	if (src->repl == NULL) {
		snprintf(err, errlen, "source %s: cannot open a replication connection: %s", src->name, msg);
		return -1;
	}
	snprintf(name, sizeof(name), "%s%s", src->slot, temporary ? "_copy" : "");
	if (buf_puts(&sql, "CREATE_REPLICATION_SLOT ") < 0 || pg_append_ident(src->repl, &sql, name) < 0 ||
	    (temporary && buf_puts(&sql, " TEMPORARY") < 0) ||
	    buf_puts(&sql, " LOGICAL pgoutput (SNAPSHOT 'export')") < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	res = PQexec(src->repl, sql.data);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errlen, "source %s: cannot create slot %s: %s", src->name, src->slot,
			 PQerrorMessage(src->repl));
		PQclear(res);
		goto out;
	}
	snprintf(lsn, lsnlen, "%s", PQgetvalue(res, 0, 1));
	buf_reset(&sql);
	if (buf_printf(&sql,
		       "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
		       PQgetvalue(res, 0, 2)) < 0) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	PQclear(res);
	if (pg_exec(src->conn, sql.data, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "source %s: cannot import the slot's snapshot: %s", src->name, msg);
		goto out;
	}
	r = 0;
out:
	buf_free(&sql);
	return r;
}

int pg_source_snapshot_end(struct pg_source *src, char *err, size_t errlen)
{
	char msg[1024];
	int r = 0;

	if (PQtransactionStatus(src->conn) != PQTRANS_IDLE &&
	    pg_exec(src->conn, "COMMIT", msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "source %s: %s", src->name, msg);
		r = -1;
	}
	if (src->repl != NULL) {
		PQfinish(src->repl);
		src->repl = NULL;
	}
	return r;
}

int pg_source_copy_begin(struct pg_source *src, const struct pg_source_table *t, char *err, size_t errlen)
{
	struct buf sql = {0};
	PGresult *res;
	int r = -1;

	if (buf_puts(&sql, "COPY ") < 0 || pg_append_ident(src->conn, &sql, t->schema) < 0 ||
	    buf_puts(&sql, ".") < 0 || pg_append_ident(src->conn, &sql, t->name) < 0 ||
	    buf_puts(&sql, " (") < 0)
		goto oom;
	for (size_t i = 0; i < t->ncols; i++)
		if ((i > 0 && buf_puts(&sql, ", ") < 0) ||
		    pg_append_ident(src->conn, &sql, t->cols[i].name) < 0)
			goto oom;
	if (buf_puts(&sql, ") TO STDOUT") < 0)
		goto oom;
	res = PQexec(src->conn, sql.data);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		snprintf(err, errlen, "source %s: %s: %s", src->name, sql.data, PQerrorMessage(src->conn));
		PQclear(res);
		goto out;
	}
	PQclear(res);
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	buf_free(&sql);
	return r;
}

long pg_source_copy_next(struct pg_source *src, const char **row, char *err, size_t errlen)
{
	int n;

	PQfreemem(src->copy_row);
	src->copy_row = NULL;
	n = PQgetCopyData(src->conn, &src->copy_row, 0);
	if (n > 0) {
		*row = src->copy_row;
		return n;
	}
	if (n == -1) {
		PGresult *res;
		int r = 0;

		while ((res = PQgetResult(src->conn)) != NULL) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				snprintf(err, errlen, "source %s: COPY failed: %s", src->name,
					 PQerrorMessage(src->conn));
				r = -1;
			}
			PQclear(res);
		}
		return r;
	}
	snprintf(err, errlen, "source %s: COPY failed: %s", src->name, PQerrorMessage(src->conn));
	return -1;
}

int pg_source_current_lsn(struct pg_source *src, uint64_t *lsn, char *err, size_t errlen)
{
	char msg[1024];
	PGresult *res = pg_query(src->conn, "SELECT pg_current_wal_lsn()", 0, NULL, msg, sizeof(msg));
	int r = 0;

	if (res == NULL) {
		snprintf(err, errlen, "source %s: %s", src->name, msg);
		return -1;
	}
	if (pgo_lsn_parse(PQgetvalue(res, 0, 0), lsn) < 0) {
		snprintf(err, errlen, "source %s: unexpected LSN \"%s\"", src->name, PQgetvalue(res, 0, 0));
		r = -1;
	}
	PQclear(res);
	return r;
}

/* The slot is held by another session: once this process holds the
 * cluster's lease (common/fence.h), a session of the same cluster is a
 * former active instance's (killed, paused or cut off) and is ended now
 * rather than at the server's wal_sender_timeout.  Best effort: the retry
 * finds the slot free. */
static void slot_holder_end(struct pg_source *src)
{
	char appname[160], msg[256];
	const char *params[2] = {src->slot, appname};
	PGresult *res;

	if (fence_term() <= 0 || src->conn == NULL)
		return;
	/* only this cluster's own session: another program (pg_recvlogical)
	 * or a misconfigured second cluster is waited for, not ended */
	snprintf(appname, sizeof(appname), "syncd:%s", fence_cluster());
	res = pg_query(
		src->conn,
		"SELECT pg_catalog.pg_terminate_backend(s.active_pid) FROM pg_catalog.pg_replication_slots s "
		"JOIN pg_catalog.pg_stat_activity a ON a.pid = s.active_pid "
		"WHERE s.slot_name = $1 AND a.application_name = $2",
		2, params, msg, sizeof(msg));
	if (res != NULL && PQntuples(res) > 0)
		log_info("source %s: slot %s was held by an earlier instance's session; ended it", src->name,
			 src->slot);
	PQclear(res);
}

int pg_source_stream_start(struct pg_source *src, char *err, size_t errlen)
{
	char msg[1024];
	struct buf sql = {0};
	PGresult *res;
	int r = -1;

	pg_source_stream_stop(src);
	src->repl = source_connect(src->conninfo, src->password, true, msg, sizeof(msg));
	if (src->repl == NULL) {
		snprintf(err, errlen, "source %s: cannot open a replication connection: %s", src->name, msg);
		return -1;
	}
	/* 0/0: from the slot's confirmed flush position.  Protocol 2 with
	 * streaming (PostgreSQL 14+): a transaction larger than the server's
	 * logical_decoding_work_mem comes in blocks while it runs, instead of
	 * being spilled to disk by the server and decoded only at its commit. */
	if (buf_puts(&sql, "START_REPLICATION SLOT ") < 0 ||
	    pg_append_ident(src->repl, &sql, src->slot) < 0 ||
	    buf_puts(&sql, PQserverVersion(src->repl) >= 140000
				   ? " LOGICAL 0/0 (proto_version '2', streaming 'on', publication_names '"
				   : " LOGICAL 0/0 (proto_version '1', publication_names '") < 0 ||
	    pg_append_ident(src->repl, &sql, src->slot) < 0 || buf_puts(&sql, "')") < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	res = PQexec(src->repl, sql.data);
	if (PQresultStatus(res) != PGRES_COPY_BOTH) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		snprintf(err, errlen, "source %s: START_REPLICATION on slot %s: %s", src->name, src->slot,
			 PQerrorMessage(src->repl));
		for (char *p = err; (p = strchr(p, '\n')) != NULL;)
			*p = ' ';
		/* 55006 object_in_use: the slot is still held by a dead client */
		r = code != NULL && strcmp(code, "55006") == 0 ? 1 : -1;
		if (r == 1)
			slot_holder_end(src);
		PQclear(res);
		PQfinish(src->repl);
		src->repl = NULL;
		goto out;
	}
	PQclear(res);
	r = 0;
out:
	buf_free(&sql);
	return r;
}

long pg_source_stream_read(struct pg_source *src, const uint8_t **buf, int timeout_ms, char *err,
			   size_t errlen)
{
	for (;;) {
		int n;

		PQfreemem(src->stream_buf);
		src->stream_buf = NULL;
		n = PQgetCopyData(src->repl, &src->stream_buf, 1);
		if (n > 0) {
			*buf = (const uint8_t *)src->stream_buf;
			return n;
		}
		if (n == 0) {
			struct pollfd pfd = {.fd = PQsocket(src->repl), .events = POLLIN};
			int pr = poll(&pfd, 1, timeout_ms);

			if (pr == 0 || (pr < 0 && errno == EINTR))
				return 0;
			if (pr < 0 || PQconsumeInput(src->repl) == 0) {
				snprintf(err, errlen, "source %s: replication connection lost: %s", src->name,
					 PQerrorMessage(src->repl));
				return -1;
			}
			timeout_ms = 0; /* data arrived: read what there is, do not wait again */
			continue;
		}
		{
			PGresult *res = PQgetResult(src->repl);

			snprintf(err, errlen, "source %s: replication stream ended: %s", src->name,
				 PQerrorMessage(src->repl));
			PQclear(res);
		}
		for (char *p = err; (p = strchr(p, '\n')) != NULL;)
			*p = ' ';
		return -1;
	}
}

int pg_source_stream_status(struct pg_source *src, uint64_t written, uint64_t flushed, bool reply, char *err,
			    size_t errlen)
{
	uint8_t msg[PGO_STATUS_LEN];
	struct timeval tv;
	size_t n;

	gettimeofday(&tv, NULL);
	n = pgo_status_build(msg, written, flushed, flushed,
			     pgo_time_from_unix((int64_t)tv.tv_sec * 1000000 + tv.tv_usec), reply);
	if (PQputCopyData(src->repl, (const char *)msg, (int)n) != 1 || PQflush(src->repl) != 0) {
		snprintf(err, errlen, "source %s: cannot send a status update: %s", src->name,
			 PQerrorMessage(src->repl));
		return -1;
	}
	return 0;
}

void pg_source_stream_stop(struct pg_source *src)
{
	if (src->repl != NULL) {
		PQfinish(src->repl);
		src->repl = NULL;
	}
}

/* Is a default (pg_attrdef.adbin, the parse tree as text) a constant?  Only
 * constants, casts and domain checks of them, and immutable cast functions
 * (funcformat 1 explicit, 2 implicit: 'x'::varchar, 1 into numeric) count;
 * a call (now(), nextval, CURRENT_USER), an operator or an I/O coercion
 * ('now'::text::timestamptz) would give another value in each unit. */
#define DEFAULT_IS_CONSTANT                                                                                  \
	"(d.adbin IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regexp_matches(d.adbin::text, "                  \
	"'\\{([A-Z_]+)', 'g') m WHERE m[1] NOT IN ('CONST', 'FUNCEXPR', 'RELABELTYPE', 'COERCETODOMAIN', "   \
	"'ARRAYEXPR')) AND NOT EXISTS (SELECT 1 FROM regexp_matches(d.adbin::text, "                         \
	"'\\{FUNCEXPR :funcid (\\d+) :funcresulttype \\d+ :funcretset \\w+ :funcvariadic \\w+ "              \
	":funcformat (\\d+)', 'g') f LEFT JOIN pg_proc p ON p.oid = f[1]::oid "                              \
	"WHERE f[2] NOT IN ('1', '2') OR p.provolatile IS DISTINCT FROM 'i'))"

int pg_source_column_default(struct pg_source *src, const char *schema, const char *table, const char *column,
			     char **expr, bool *constant, bool *not_null, char *type, size_t typelen,
			     char *err, size_t errlen)
{
	const char *params[3] = {schema, table, column};
	char msg[1024];
	PGresult *res =
		pg_query(src->conn,
			 "SELECT pg_get_expr(d.adbin, d.adrelid), a.attnotnull, "
			 "format_type(a.atttypid, a.atttypmod), " DEFAULT_IS_CONSTANT " "
			 "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
			 "JOIN pg_namespace n ON n.oid = c.relnamespace "
			 "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
			 "WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped",
			 3, params, msg, sizeof(msg));

	*expr = NULL;
	*constant = false;
	if (res == NULL) {
		snprintf(err, errlen, "source %s: %s", src->name, msg);
		return -1;
	}
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "source %s: column %s of %s.%s not found", src->name, column, schema,
			 table);
		PQclear(res);
		return -1;
	}
	if (!PQgetisnull(res, 0, 0))
		*expr = strdup(PQgetvalue(res, 0, 0));
	*not_null = PQgetvalue(res, 0, 1)[0] == 't';
	snprintf(type, typelen, "%s", PQgetvalue(res, 0, 2));
	*constant = PQgetvalue(res, 0, 3)[0] == 't';
	PQclear(res);
	return 0;
}

/* One number about this source's slot (0 when the slot is not there). */
static int slot_number(struct pg_source *src, const char *sql, long long *out, char *err, size_t errlen)
{
	const char *params[1] = {src->slot};
	char msg[1024];
	PGresult *res = pg_query(src->conn, sql, 1, params, msg, sizeof(msg));

	if (res == NULL) {
		snprintf(err, errlen, "source %s: %s", src->name, msg);
		return -1;
	}
	*out = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	return 0;
}

int pg_source_slot_confirmed(struct pg_source *src, uint64_t *lsn, char *err, size_t errlen)
{
	long long n;

	if (slot_number(src,
			"SELECT coalesce(confirmed_flush_lsn - '0/0'::pg_lsn, 0)::bigint "
			"FROM pg_replication_slots WHERE slot_name = $1",
			&n, err, errlen) < 0)
		return -1;
	*lsn = (uint64_t)n;
	return 0;
}

int pg_source_slot_lag(struct pg_source *src, long long *bytes, char *err, size_t errlen)
{
	return slot_number(
		src,
		"SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint "
		"FROM pg_replication_slots WHERE slot_name = $1",
		bytes, err, errlen);
}
