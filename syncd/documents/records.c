/* records.c — reading the unit's copy: a document's record, one routed
 * table's record, and the search over the kinds' search columns. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/pg.h"

char *records_quote_table(PGconn *c, const char *schema_dot_table)
{
	const char *dot = strchr(schema_dot_table, '.');
	char *s, *t, *out = NULL;

	if (dot == NULL) {
		t = PQescapeIdentifier(c, schema_dot_table, strlen(schema_dot_table));
		out = t ? strdup(t) : NULL;
		PQfreemem(t);
		return out;
	}
	s = PQescapeIdentifier(c, schema_dot_table, (size_t)(dot - schema_dot_table));
	t = PQescapeIdentifier(c, dot + 1, strlen(dot + 1));
	if (s != NULL && t != NULL && asprintf(&out, "%s.%s", s, t) < 0)
		out = NULL;
	PQfreemem(s);
	PQfreemem(t);
	return out;
}

int records_fields(const struct config *cfg, const struct doc_kind *k, int unit, const char *key,
		   json_t **out, char *reason, size_t reasonlen)
{
	char *conninfo = config_expand_unit(cfg->tier_conninfo, unit),
	     *schema = config_expand_unit(cfg->tier_schema, unit);
	char err[512], *rel = NULL, *qs = NULL, *qt = NULL, *qk = NULL;
	struct buf sql = {0};
	PGconn *c = conninfo ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	PGresult *r = NULL;
	const char *params[1] = {key};
	int rc = -503;

	*out = NULL;
	if (c == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (the unit's copy cannot be read: %s)",
			 conninfo ? err : "out of memory");
		goto out;
	}
	qs = PQescapeIdentifier(c, schema, strlen(schema));
	qt = PQescapeIdentifier(c, k->target, strlen(k->target));
	qk = PQescapeIdentifier(c, k->key, strlen(k->key));
	if (qs == NULL || qt == NULL || qk == NULL || buf_puts(&sql, "SELECT ") < 0)
		goto oom;
	for (size_t i = 0; i < k->nfields; i++) {
		char *col = PQescapeIdentifier(c, k->fields[i].column, strlen(k->fields[i].column));
		int bad = col == NULL || buf_printf(&sql, "%s%s::text", i ? ", " : "", col) < 0;

		PQfreemem(col);
		if (bad)
			goto oom;
	}
	if (buf_printf(&sql, " FROM %s.%s WHERE %s = $1", qs, qt, qk) < 0)
		goto oom;
	r = PQexecParams(c, sql.data, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		pg_error(c, NULL, err, sizeof(err));
		if (state != NULL && strncmp(state, "22", 2) == 0) {
			snprintf(reason, reasonlen, "bad_key (%s is not a valid %s)", key, k->key);
			rc = -400;
		} else {
			snprintf(reason, reasonlen, "tier_unavailable (%s)", err);
		}
		goto out;
	}
	if (PQntuples(r) != 1) {
		snprintf(reason, reasonlen, "record_not_in_unit (no %s %s in unit %05d's copy of %s)", k->key,
			 key, unit, k->table);
		rc = 0;
		goto out;
	}
	*out = json_array();
	for (size_t i = 0; i < k->nfields && *out; i++)
		json_array_append_new(*out,
				      json_pack("{s:s,s:s?}", "label", k->fields[i].label, "value",
						PQgetisnull(r, 0, (int)i) ? NULL : PQgetvalue(r, 0, (int)i)));
	rc = 1;
	goto out;
oom:
	snprintf(reason, reasonlen, "internal (out of memory)");
	rc = -500;
out:
	PQclear(r);
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qk);
	buf_free(&sql);
	free(rel);
	free(conninfo);
	free(schema);
	return rc;
}

int record_get(const struct config *cfg, const struct routing *rt, const char *source, const char *table,
	       int unit, const char *key, char **json, char *reason, size_t reasonlen)
{
	const struct routing_table *t = NULL;
	char *conninfo = NULL, *schema = NULL, *sql = NULL, err[512];
	char *qs = NULL, *qt = NULL, *qk = NULL;
	PGconn *c;
	PGresult *r = NULL;
	int rc = -503;

	*json = NULL;
	for (size_t i = 0; i < routing_table_count(rt); i++) {
		const struct routing_table *x = routing_table_get(rt, i);

		if (strcmp(x->source, source) == 0 &&
		    (strcmp(x->table, table) == 0 || strcmp(x->name, table) == 0))
			t = x;
	}
	if (t == NULL) {
		snprintf(reason, reasonlen, "unknown_table (source %s routes no table %s)", source, table);
		return -404;
	}
	conninfo = config_expand_unit(cfg->tier_conninfo, unit);
	schema = config_expand_unit(cfg->tier_schema, unit);
	c = conninfo && schema ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	if (c == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (%s)", conninfo ? err : "out of memory");
		goto out;
	}
	{
		const char *p[2] = {schema, t->target_table ? t->target_table : t->name};

		r = PQexecParams(
			c,
			"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
			"AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass(quote_ident($1) || '.' || "
			"quote_ident($2)) AND i.indisprimary AND i.indnatts = 1",
			2, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			snprintf(reason, reasonlen,
				 "no_single_key (the unit's %s has no one-column primary key)", table);
			rc = PQresultStatus(r) == PGRES_TUPLES_OK ? -400 : -503;
			goto out;
		}
		qs = PQescapeIdentifier(c, schema, strlen(schema));
		qt = PQescapeIdentifier(c, p[1], strlen(p[1]));
		qk = PQescapeIdentifier(c, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
		PQclear(r);
		r = NULL;
	}
	if (qs == NULL || qt == NULL || qk == NULL ||
	    asprintf(&sql, "SELECT row_to_json(t)::text FROM %s.%s t WHERE %s = $1", qs, qt, qk) < 0) {
		sql = NULL;
		snprintf(reason, reasonlen, "internal (out of memory)");
		rc = -500;
		goto out;
	}
	r = PQexecParams(c, sql, 1, NULL, &key, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		pg_error(c, NULL, err, sizeof(err));
		rc = state && strncmp(state, "22", 2) == 0 ? -400 : -503;
		snprintf(reason, reasonlen, rc == -400 ? "bad_key (%s)" : "tier_unavailable (%s)", err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		snprintf(reason, reasonlen, "record_not_in_unit (no record %s in unit %05d's copy of %s)",
			 key, unit, table);
		rc = 0;
		goto out;
	}
	*json = strdup(PQgetvalue(r, 0, 0));
	rc = *json ? 1 : -500;
out:
	PQclear(r);
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qk);
	free(sql);
	free(conninfo);
	free(schema);
	return rc;
}

/* The WHERE clause for one kind's search columns; $1 is the text, $2/$3
 * the sheet and number of a "SHEET/NUMBER" query. */
static int search_where(PGconn *c, const struct doc_kind *k, bool sheet_query, struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i < k->nsearch; i++) {
		const char *col = k->search[i], *slash = strchr(col, '/');
		char *a = NULL, *z = NULL;
		int bad = 0;

		if (slash != NULL) {
			if (!sheet_query)
				continue;
			a = PQescapeIdentifier(c, col, (size_t)(slash - col));
			z = PQescapeIdentifier(c, slash + 1, strlen(slash + 1));
			bad = a == NULL || z == NULL ||
			      buf_printf(b, "%s(%s::text = $2 AND %s::text = $3)", n ? " OR " : "", a, z) < 0;
		} else {
			a = PQescapeIdentifier(c, col, strlen(col));
			bad = a == NULL ||
			      buf_printf(b, "%s%s::text ILIKE '%%' || $1 || '%%'", n ? " OR " : "", a) < 0;
		}
		PQfreemem(a);
		PQfreemem(z);
		if (bad)
			return -1;
		n++;
	}
	return n;
}

/* q for LIKE: its own wildcards are taken literally */
static void like_escape(const char *q, char *like, size_t cap)
{
	size_t j = 0;

	for (const char *p = q; *p && j + 2 < cap; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			like[j++] = '\\';
		like[j++] = *p;
	}
	like[j] = '\0';
}

int records_search(const struct config *cfg, const struct documents *d, int unit, const char *q,
		   bool (*may_read)(const struct doc_kind *k, void *arg), void *arg, json_t **out,
		   char *reason, size_t reasonlen)
{
	char *conninfo = config_expand_unit(cfg->tier_conninfo, unit),
	     *schema = config_expand_unit(cfg->tier_schema, unit);
	char err[512], sheet[16] = "", number[16] = "", like[200];
	bool sheet_query = sscanf(q, "%15[0-9]/%15[0-9]", sheet, number) == 2;
	PGconn *c = conninfo && schema ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	int rc = 0;

	*out = json_array();
	if (c == NULL || *out == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (%s)", conninfo ? err : "out of memory");
		rc = 503;
		goto out;
	}
	like_escape(q, like, sizeof(like));
	for (size_t i = 0; i < documents_count(d) && rc == 0; i++) {
		const struct doc_kind *k = documents_nth(d, i);
		struct buf sql = {0};
		char *qs, *qt, *qk;
		const char *p[3] = {like, sheet, number};
		bool dup = false;
		PGresult *r;

		for (size_t j = 0; j < i; j++)
			dup |= strcmp(documents_nth(d, j)->table, k->table) == 0 &&
			       strcmp(documents_nth(d, j)->source, k->source) == 0;
		if (dup || k->nsearch == 0 || !may_read(k, arg))
			continue;
		qs = PQescapeIdentifier(c, schema, strlen(schema));
		qt = PQescapeIdentifier(c, k->target, strlen(k->target));
		qk = PQescapeIdentifier(c, k->key, strlen(k->key));
		if (qs == NULL || qt == NULL || qk == NULL || buf_printf(&sql, "SELECT %s::text", qk) < 0)
			rc = 500;
		for (size_t f = 0; f < k->nfields && rc == 0; f++) {
			char *col = PQescapeIdentifier(c, k->fields[f].column, strlen(k->fields[f].column));

			if (col == NULL || buf_printf(&sql, ", %s::text", col) < 0)
				rc = 500;
			PQfreemem(col);
		}
		if (rc == 0 &&
		    buf_printf(&sql,
			       " FROM %s.%s WHERE $1::text IS NOT NULL AND $2::text IS NOT NULL AND "
			       "$3::text IS NOT NULL AND (",
			       qs, qt) < 0)
			rc = 500;
		PQfreemem(qs);
		PQfreemem(qt);
		PQfreemem(qk);
		if (rc == 0) {
			int nw = search_where(c, k, sheet_query, &sql);

			if (nw < 0 || buf_printf(&sql, ") ORDER BY 1 LIMIT 50") < 0)
				rc = 500;
			else if (nw == 0) {
				buf_free(&sql);
				continue;
			}
		}
		if (rc != 0) {
			buf_free(&sql);
			snprintf(reason, reasonlen, "internal (out of memory)");
			break;
		}
		r = PQexecParams(c, sql.data, 3, NULL, p, NULL, NULL, 0);
		buf_free(&sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pg_error(c, NULL, err, sizeof(err));
			snprintf(reason, reasonlen, "tier_unavailable (%s)", err);
			PQclear(r);
			rc = 503;
			break;
		}
		for (int row = 0; row < PQntuples(r); row++) {
			json_t *fields = json_array();

			for (size_t f = 0; f < k->nfields; f++)
				json_array_append_new(
					fields, json_pack("{s:s,s:s?}", "label", k->fields[f].label, "value",
							  PQgetisnull(r, row, (int)f + 1)
								  ? NULL
								  : PQgetvalue(r, row, (int)f + 1)));
			json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:o}", "kind", k->name, "table",
							      k->table, "key", PQgetvalue(r, row, 0),
							      "fields", fields));
		}
		PQclear(r);
	}
out:
	free(conninfo);
	free(schema);
	return rc;
}
