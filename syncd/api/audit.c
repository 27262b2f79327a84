/* audit.c — /v1/audit and /v1/audit/verify: who may read the audit log, and
 * its rows rendered as JSON or CSV (the query itself is authz/audit's). */
#include "syncd/api/internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

/* The columns of an audit query's rows, in SELECT order. */
static const char *const audit_cols[] = {"seq",	 "at",	   "actor",    "client", "request_id", "action",
					 "unit", "object", "decision", "reason", "hash"};
#define AUDIT_NCOLS (sizeof(audit_cols) / sizeof(audit_cols[0]))

/* n rows as CSV (header first); a cell a spreadsheet would run (= + - @ ...)
 * is made inert.  A new string (caller frees), NULL when memory runs out. */
static char *audit_csv(PGresult *r, int n, size_t *len)
{
	struct buf q = {0};
	bool bad = false;

	for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++)
		bad |= buf_puts(&q, audit_cols[k]) < 0 ||
		       buf_puts(&q, k + 1 == AUDIT_NCOLS ? "\r\n" : ",") < 0;
	for (int i = 0; i < n && !bad; i++)
		for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++) {
			char *cell = text_csv_cell(PQgetvalue(r, i, (int)k));

			bad |= cell == NULL || buf_puts(&q, cell) < 0 ||
			       buf_puts(&q, k + 1 == AUDIT_NCOLS ? "\r\n" : ",") < 0;
			free(cell);
		}
	if (bad) {
		buf_free(&q);
		return NULL;
	}
	*len = q.len;
	return q.data ? q.data : strdup("");
}

/* n rows as a JSON array of events (seq a number, the rest strings). */
static json_t *audit_events(PGresult *r, int n)
{
	json_t *ev = json_array();

	for (int i = 0; i < n; i++) {
		json_t *e = json_object();

		for (size_t k = 0; k < AUDIT_NCOLS; k++)
			json_object_set_new(e, audit_cols[k],
					    k == 0 ? json_integer(atoll(PQgetvalue(r, i, 0)))
						   : json_string(PQgetvalue(r, i, (int)k)));
		json_array_append_new(ev, e);
	}
	return ev;
}

/* The audit query of the request's filters: each one given becomes a
 * parameter (never text in the SQL).  0, or -1 when memory runs out. */
static int audit_query_sql(struct MHD_Connection *c, long limit, struct buf *sql, const char **params,
			   int *np)
{
	static const struct {
		const char *arg, *cond;
	} filters[] = {
		{"unit", "unit = $%d"},		 {"actor", "actor = $%d"},
		{"action", "action = $%d"},	 {"object", "object = $%d"},
		{"decision", "decision = $%d"},	 {"from", "at >= $%d::timestamptz"},
		{"to", "at < $%d::timestamptz"}, {"cursor", "seq > $%d::bigint"},
	};

	if (buf_puts(sql, "SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
			  "actor, client, request_id, action, unit, object, decision, reason, "
			  "encode(hash, 'hex') FROM public.syncd_audit WHERE true") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		const char *v = req_arg(c, filters[i].arg);

		if (v == NULL)
			continue;
		params[(*np)++] = v;
		if (buf_puts(sql, " AND ") < 0 || buf_printf(sql, filters[i].cond, *np) < 0)
			return -1;
	}
	return buf_printf(sql, " ORDER BY seq LIMIT %ld", limit + 1);
}

enum MHD_Result ep_audit_query(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole)
{
	const char *us = req_arg(c, "unit"), *from = req_arg(c, "from"), *to = req_arg(c, "to"),
		   *cursor = req_arg(c, "cursor"), *fmt = req_arg(c, "format"), *lim = req_arg(c, "limit");
	int unit = us ? unit_parse(us) : 0;
	long limit = lim ? strtol(lim, NULL, 10) : 100;
	struct buf sql = {0};
	const char *params[12];
	char err[512], object[300];
	struct authz_decision d;
	enum MHD_Result res;
	PGconn *db;
	PGresult *r;
	int np = 0;
	bool csv = (fmt && strcmp(fmt, "csv") == 0), all_units;
	time_t t;
	(void)hole;

	if (unit < 0 || limit < 1 || limit > 1000 ||
	    (from && authz_time_parse(from, &t) < 0 && strlen(from) != 27) ||
	    (cursor && strspn(cursor, "0123456789") != strlen(cursor)))
		return respond_error(
			c, rq, 400, "bad_request",
			"unit is a 5-digit code, limit 1-1000, from/to RFC 3339 UTC times, cursor as given");
	snprintf(object, sizeof(object), "unit=%s actor=%s action=%s from=%s to=%s", us ? us : "*",
		 req_arg(c, "actor") ? req_arg(c, "actor") : "*",
		 req_arg(c, "action") ? req_arg(c, "action") : "*", from ? from : "", to ? to : "");
	/* a city auditor reads every unit; a unit auditor only its own */
	if (authz_check(api->az, me->uid, "audit.read", unit ? unit : routing_unit_get(api->deps.rt, 0)->code,
			&d) == LP_UNAVAILABLE)
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	all_units = d.allow && strcmp(d.reason, "city_role") == 0;
	if (!all_units && unit == 0) {
		if (!audited(api, rq, "audit.read", 0, object, "deny",
			     "unit_required (only a city auditor reads every unit)"))
			return audit_down(c, rq);
		return respond_error(c, rq, 403, "forbidden",
				     "add ?unit=CODE: only a city auditor reads every unit's events");
	}
	if (!all_units && !permitted(api, c, rq, me, "audit.read", unit, "audit.read", object, &res))
		return res;
	if (all_units && !audited(api, rq, "audit.read", unit, object, "allow", "city_role"))
		return audit_down(c, rq);
	db = thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));
	if (db == NULL)
		return respond_error(c, rq, 503, "state_unavailable", "%s", err);
	if (audit_query_sql(c, limit, &sql, params, &np) < 0)
		goto oom;
	r = PQexecParams(db, sql.data, np, NULL, params, NULL, NULL, 0);
	buf_free(&sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, sizeof(err), "%s", PQerrorMessage(db));
		PQclear(r);
		return respond_error(c, rq, strstr(err, "invalid input") ? 400 : 503, "query_failed", "%s",
				     err);
	}
	{
		int n = PQntuples(r) > limit ? (int)limit : PQntuples(r);
		bool more = PQntuples(r) > limit;

		if (csv) {
			size_t len = 0;
			char *text = audit_csv(r, n, &len);

			if (more && n > 0)
				snprintf(rq->next, sizeof(rq->next), "%s", PQgetvalue(r, n - 1, 0));
			PQclear(r);
			if (text == NULL)
				goto oom;
			return respond(c, rq, 200, "text/csv; charset=utf-8", text, len);
		} else {
			json_t *ev = audit_events(r, n);
			char next[24] = "";

			if (more && n > 0)
				snprintf(next, sizeof(next), "%s", PQgetvalue(r, n - 1, 0));
			PQclear(r);
			return respond_json(c, rq, 200,
					    json_pack("{s:o,s:o}", "events", ev, "next_cursor",
						      next[0] ? json_string(next) : json_null()));
		}
	}
oom:
	buf_free(&sql);
	return respond_error(c, rq, 500, "internal", "out of memory");
}

enum MHD_Result ep_audit_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole)
{
	struct audit_verdict v;
	struct authz_decision d;
	char err[512];
	const struct config *cfg = api->deps.cfg;
	(void)hole;

	if (authz_check(api->az, me->uid, "audit.read", 31120, &d) == LP_UNAVAILABLE)
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	if (!d.allow || strcmp(d.reason, "city_role") != 0) {
		if (!audited(api, rq, "audit.verify", 0, "", "deny", "city_auditor_required"))
			return audit_down(c, rq);
		return respond_error(c, rq, 403, "forbidden",
				     "verifying the whole chain needs a city auditor role");
	}
	if (!audited(api, rq, "audit.verify", 0, "", "allow", "city_role"))
		return audit_down(c, rq);
	if (audit_verify(cfg->state_conninfo, cfg->state_password, cfg->audit_checkpoint_file,
			 api->deps.signer, &v, err, sizeof(err)) < 0)
		return respond_error(c, rq, 503, "state_unavailable", "%s", err);
	return respond_json(
		c, rq, 200,
		json_pack("{s:b,s:I,s:I,s:o}", "ok", v.ok, "rows", (json_int_t)v.rows, "checkpoints",
			  (json_int_t)v.checkpoints, "first_broken",
			  v.ok ? json_null()
			       : json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)v.seq, "expected",
					   v.expected, "found", v.found, "problem", v.problem)));
}
