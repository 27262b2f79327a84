/* audit_query.c — reading the audit log: the filters of a query turned into
 * parameterised SQL, and one page of rows with the cursor of the next. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "authz/audit.h"
#include "common/pg.h"

const char *const audit_cols[AUDIT_NCOLS] = {"seq",  "at",     "actor",	   "client", "request_id", "action",
					     "unit", "object", "decision", "reason", "hash"};

int audit_query_sql(const struct audit_filter *f, struct buf *sql, const char **params, int *np)
{
	const struct {
		const char *value, *cond;
	} filters[] = {
		{f->unit, "unit = $%d"},	  {f->actor, "actor = $%d"},
		{f->action, "action = $%d"},	  {f->object, "object = $%d"},
		{f->decision, "decision = $%d"},  {f->from, "at >= $%d::timestamptz"},
		{f->to, "at < $%d::timestamptz"}, {f->cursor, "seq > $%d::bigint"},
	};

	*np = 0;
	if (buf_puts(sql, "SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
			  "actor, client, request_id, action, unit, object, decision, reason, "
			  "encode(hash, 'hex') FROM public.syncd_audit WHERE true") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		if (filters[i].value == NULL)
			continue;
		params[(*np)++] = filters[i].value;
		if (buf_puts(sql, " AND ") < 0 || buf_printf(sql, filters[i].cond, *np) < 0)
			return -1;
	}
	return buf_printf(sql, " ORDER BY seq LIMIT %ld", f->limit + 1);
}

enum audit_query_result audit_query(struct pg_conn *db, const struct audit_filter *f, struct audit_page *page,
				    char *err, size_t errlen)
{
	struct buf sql = {0};
	const char *params[8];
	PGresult *r;
	int np = 0;

	memset(page, 0, sizeof(*page));
	if (audit_query_sql(f, &sql, params, &np) < 0) {
		buf_free(&sql);
		snprintf(err, errlen, "out of memory");
		return AUDIT_QUERY_NOMEM;
	}
	r = PQexecParams(db, sql.data, np, NULL, params, NULL, NULL, 0);
	buf_free(&sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(db, NULL, err, errlen);
		PQclear(r);
		return strstr(err, "invalid input") ? AUDIT_QUERY_BAD_FILTER : AUDIT_QUERY_UNAVAILABLE;
	}
	page->res = r;
	page->n = PQntuples(r) > f->limit ? (int)f->limit : PQntuples(r);
	if (PQntuples(r) > f->limit && page->n > 0)
		snprintf(page->next, sizeof(page->next), "%s", PQgetvalue(r, page->n - 1, 0));
	return AUDIT_QUERY_OK;
}

const char *audit_page_value(const struct audit_page *p, int i, size_t k)
{
	return PQgetvalue(p->res, i, (int)k);
}

void audit_page_free(struct audit_page *p)
{
	PQclear(p->res);
	p->res = NULL;
}
