/* records.c — reading the unit's copy: a document's record, one routed
 * table's record, and the search over the kinds' search columns (names
 * folded: any normalisation, case and Vietnamese marks; IDs exact; paged). */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/pg.h"
#include "syncd/documents/fold.h"

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

/* How a query is matched: a name (folded, by substring), a personal ID
 * number (all digits: equal, never a part of one), or SHEET/NUMBER. */
enum search_mode { BY_TEXT, BY_ID, BY_SHEET };

/*
 * Folding is computed in the query, not kept in the unit copy: a name
 * matches by substring ('%q%'), which no b-tree index (on a column or on
 * its fold) can serve, and a unit's tables are small (a ward holds a few
 * thousand rows of each), so a scan that folds each searched column costs
 * milliseconds.  Keeping a folded column or index would make pg_target
 * create an IMMUTABLE fold function in each of the 103 unit databases,
 * migrate existing copies and maintain it on every streamed change — for
 * no gain.  The fold: NFC (whatever normalisation the text came in), then
 * every Vietnamese letter with a mark to its base ($4 -> $5, the lists of
 * fold.c), then lower case; the query is folded the same way.
 */
#define FOLD(x) "lower(translate(normalize(" x "::text, NFC), $4, $5))"

/* The WHERE terms for one kind's search columns; $1 is the text (escaped
 * for LIKE, or the ID as typed), $2/$3 the sheet and number of a
 * "SHEET/NUMBER" query.  The number of terms, or -1. */
static int search_where(PGconn *c, const struct doc_kind *k, enum search_mode mode, struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i < k->nsearch; i++) {
		const char *col = k->search[i], *slash = strchr(col, '/');
		char *a = NULL, *z = NULL;
		int bad = 0;

		if (slash != NULL) {
			if (mode != BY_SHEET)
				continue;
			a = PQescapeIdentifier(c, col, (size_t)(slash - col));
			z = PQescapeIdentifier(c, slash + 1, strlen(slash + 1));
			bad = a == NULL || z == NULL ||
			      buf_printf(b, "%s(%s::text = $2 AND %s::text = $3)", n ? " OR " : "", a, z) < 0;
		} else {
			a = PQescapeIdentifier(c, col, strlen(col));
			bad = a == NULL ||
			      (mode == BY_ID
				       ? buf_printf(b, "%s%s::text = $1", n ? " OR " : "", a)
				       : buf_printf(b, "%s" FOLD("%s") " LIKE '%%' || " FOLD("$1") " || '%%'",
						    n ? " OR " : "", a)) < 0;
		}
		PQfreemem(a);
		PQfreemem(z);
		if (bad)
			return -1;
		n++;
	}
	return n;
}

/* One kind's part of the search, appended to b: (kind's index, rank by
 * key, key, its fields padded with NULLs to width columns).  The number of
 * WHERE terms (0: nothing appended), or -1. */
static int search_branch(PGconn *c, const char *schema, const struct doc_kind *k, size_t idx, size_t width,
			 enum search_mode mode, struct buf *b)
{
	char *qs = PQescapeIdentifier(c, schema, strlen(schema)),
	     *qt = PQescapeIdentifier(c, k->target, strlen(k->target)),
	     *qk = PQescapeIdentifier(c, k->key, strlen(k->key));
	struct buf part = {0};
	int n = -1;

	if (qs == NULL || qt == NULL || qk == NULL ||
	    buf_printf(&part, "SELECT %zu, row_number() OVER (ORDER BY %s), %s::text", idx, qk, qk) < 0)
		goto out;
	for (size_t f = 0; f < width; f++) {
		char *col = f < k->nfields
				    ? PQescapeIdentifier(c, k->fields[f].column, strlen(k->fields[f].column))
				    : NULL;
		int bad = (f < k->nfields && col == NULL) ||
			  buf_printf(&part, ", %s::text", col ? col : "NULL") < 0;

		PQfreemem(col);
		if (bad)
			goto out;
	}
	if (buf_printf(&part, " FROM %s.%s WHERE ", qs, qt) < 0)
		goto out;
	n = search_where(c, k, mode, &part);
	if (n > 0 && buf_printf(b, "%s%s", b->len ? " UNION ALL " : "", part.data) < 0)
		n = -1;
out:
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qk);
	buf_free(&part);
	return n;
}

/* The whole search: every kind searched (the one asked for, else each
 * table once, by its first kind) that the caller may read, in the order of
 * documents.json and by key within a kind; $6 is the page's offset. */
static int search_sql(PGconn *c, const char *schema, const struct documents *d,
		      const struct records_query *rq, enum search_mode mode,
		      bool (*may_read)(const struct doc_kind *k, void *arg), void *arg, struct buf *sql)
{
	struct buf parts = {0};
	size_t width = 0;
	int rc = 0;

	for (size_t i = 0; i < documents_count(d); i++)
		if (documents_nth(d, i)->nfields > width)
			width = documents_nth(d, i)->nfields;
	for (size_t i = 0; i < documents_count(d) && rc == 0; i++) {
		const struct doc_kind *k = documents_nth(d, i);
		bool dup = false;

		for (size_t j = 0; j < i && rq->kind == NULL; j++)
			dup |= strcmp(documents_nth(d, j)->table, k->table) == 0 &&
			       strcmp(documents_nth(d, j)->source, k->source) == 0;
		if ((rq->kind != NULL && k != rq->kind) || dup || k->nsearch == 0 || !may_read(k, arg))
			continue;
		if (search_branch(c, schema, k, i, width, mode, &parts) < 0)
			rc = -1;
	}
	if (rc == 0 && parts.len > 0 &&
	    buf_printf(sql,
		       "SELECT * FROM (%s) h WHERE $1::text IS NOT NULL AND $2::text IS NOT NULL AND "
		       "$3::text IS NOT NULL AND $4::text IS NOT NULL AND $5::text IS NOT NULL "
		       "ORDER BY 1, 2 LIMIT %d OFFSET $6::int",
		       parts.data, RECORDS_PAGE_SIZE + 1) < 0)
		rc = -1;
	buf_free(&parts);
	return rc;
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

/* Which way q is matched; a SHEET/NUMBER query's parts into sheet and
 * number (16 bytes each). */
static enum search_mode search_mode_of(const char *q, char *sheet, char *number)
{
	if (sscanf(q, "%15[0-9]/%15[0-9]", sheet, number) == 2)
		return BY_SHEET;
	return q[strspn(q, "0123456789")] == '\0' ? BY_ID : BY_TEXT;
}

/* The page's rows as hits: [{kind, table, key, fields: [{label, value}]}]. */
static void search_hits(const struct documents *d, PGresult *r, json_t *hits)
{
	for (int row = 0; row < PQntuples(r) && row < RECORDS_PAGE_SIZE; row++) {
		const struct doc_kind *k = documents_nth(d, (size_t)atoi(PQgetvalue(r, row, 0)));
		json_t *fields = json_array();

		for (size_t f = 0; f < k->nfields; f++)
			json_array_append_new(fields,
					      json_pack("{s:s,s:s?}", "label", k->fields[f].label, "value",
							PQgetisnull(r, row, (int)f + 3)
								? NULL
								: PQgetvalue(r, row, (int)f + 3)));
		json_array_append_new(hits, json_pack("{s:s,s:s,s:s,s:o}", "kind", k->name, "table", k->table,
						      "key", PQgetvalue(r, row, 2), "fields", fields));
	}
}

int records_search(const struct config *cfg, const struct documents *d, int unit,
		   const struct records_query *rq, bool (*may_read)(const struct doc_kind *k, void *arg),
		   void *arg, json_t **hits, bool *more, char *reason, size_t reasonlen)
{
	char *conninfo = config_expand_unit(cfg->tier_conninfo, unit),
	     *schema = config_expand_unit(cfg->tier_schema, unit);
	char err[512], sheet[16] = "", number[16] = "", like[2 * RECORDS_QUERY_MAX + 1], offset[16];
	enum search_mode mode = search_mode_of(rq->q, sheet, number);
	PGconn *c = conninfo && schema ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	struct buf sql = {0}, from = {0}, to = {0};
	PGresult *r = NULL;
	int rc = 0;

	*more = false;
	*hits = json_array();
	if (c == NULL || *hits == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (%s)", conninfo ? err : "out of memory");
		rc = 503;
		goto out;
	}
	like_escape(rq->q, like, sizeof(like));
	snprintf(offset, sizeof(offset), "%d", (rq->page - 1) * RECORDS_PAGE_SIZE);
	if (fold_lists(&from, &to) < 0 || search_sql(c, schema, d, rq, mode, may_read, arg, &sql) < 0) {
		snprintf(reason, reasonlen, "internal (out of memory)");
		rc = 500;
		goto out;
	}
	if (sql.len == 0) /* nothing the caller may read has search columns */
		goto out;
	{
		const char *p[6] = {mode == BY_ID ? rq->q : like, sheet, number, from.data, to.data, offset};

		r = PQexecParams(c, sql.data, 6, NULL, p, NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(c, NULL, err, sizeof(err));
		snprintf(reason, reasonlen, "tier_unavailable (%s)", err);
		rc = 503;
		goto out;
	}
	search_hits(d, r, *hits);
	*more = PQntuples(r) > RECORDS_PAGE_SIZE;
out:
	PQclear(r);
	buf_free(&sql);
	buf_free(&from);
	buf_free(&to);
	free(conninfo);
	free(schema);
	return rc;
}
