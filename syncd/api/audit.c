/* audit.c — /v1/audit and /v1/audit/verify: who may read the audit log, and
 * its rows rendered as JSON or CSV (the query itself is authz/audit's). */
#include "syncd/api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

/* The page as CSV (header first); a cell a spreadsheet would run (= + - @
 * ...) is made inert.  A new string (caller frees), NULL when memory runs
 * out. */
static char *audit_csv(const struct audit_page *p, size_t *len)
{
	struct buf q = {0};
	bool bad = false;

	for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++)
		bad |= buf_puts(&q, audit_cols[k]) < 0 ||
		       buf_puts(&q, k + 1 == AUDIT_NCOLS ? "\r\n" : ",") < 0;
	for (int i = 0; i < p->n && !bad; i++)
		for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++) {
			char *cell = text_csv_cell(audit_page_value(p, i, k));

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

/* The page as a JSON array of events (seq a number, the rest strings). */
static json_t *audit_events(const struct audit_page *p)
{
	json_t *ev = json_array();

	for (int i = 0; i < p->n; i++) {
		json_t *e = json_object();

		for (size_t k = 0; k < AUDIT_NCOLS; k++)
			json_object_set_new(e, audit_cols[k],
					    k == 0 ? json_integer(atoll(audit_page_value(p, i, 0)))
						   : json_string(audit_page_value(p, i, k)));
		json_array_append_new(ev, e);
	}
	return ev;
}

/* A city auditor reads every unit (a city role with audit.read); a unit
 * auditor only its own.  True when allowed (the allow row written); else
 * *res is the answer. */
static bool may_read(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
		     int unit, const char *object, enum MHD_Result *res)
{
	struct authz_decision d;
	bool all_units;

	if (authz_city_role(api->az, me->uid, "audit.read", &d) == LP_UNAVAILABLE) {
		*res = respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
		return false;
	}
	/* a unit the city does not have is refused, a city auditor included */
	all_units = d.allow && (unit == 0 || authz_unit_known(api->az, unit));
	if (!all_units && unit == 0) {
		if (!audited(api, rq, "audit.read", 0, object, "deny",
			     "unit_required (only a city auditor reads every unit)"))
			*res = audit_down(c, rq);
		else
			*res = respond_error(c, rq, 403, "forbidden",
					     "add ?unit=CODE: only a city auditor reads every unit's events");
		return false;
	}
	if (!all_units)
		return permitted(api, c, rq, me, "audit.read", unit, "audit.read", object, res);
	if (!audited(api, rq, "audit.read", unit, object, "allow", "city_role")) {
		*res = audit_down(c, rq);
		return false;
	}
	return true;
}

/* The page as the request asked: CSV (the next cursor in a header) or JSON. */
static enum MHD_Result audit_reply(struct MHD_Connection *c, struct req *rq, struct audit_page *page,
				   bool csv)
{
	if (csv) {
		size_t len = 0;
		char *text = audit_csv(page, &len);

		snprintf(rq->next, sizeof(rq->next), "%s", page->next);
		audit_page_free(page);
		if (text == NULL)
			return respond_error(c, rq, 500, "internal", "out of memory");
		return respond(c, rq, 200, "text/csv; charset=utf-8", text, len);
	} else {
		json_t *ev = audit_events(page),
		       *next = page->next[0] ? json_string(page->next) : json_null();

		audit_page_free(page);
		return respond_json(c, rq, 200, json_pack("{s:o,s:o}", "events", ev, "next_cursor", next));
	}
}

/* format=csv, or an Accept that names text/csv (docs/api.md) */
static bool wants_csv(struct MHD_Connection *c, const char *fmt)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

	if (fmt != NULL)
		return strcmp(fmt, "csv") == 0;
	return accept != NULL && strcasestr(accept, "text/csv") != NULL;
}

enum MHD_Result ep_audit_query(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole)
{
	const char *us = req_arg(c, "unit"), *fmt = req_arg(c, "format"), *lim = req_arg(c, "limit");
	struct audit_filter f = {
		.unit = us,
		.actor = req_arg(c, "actor"),
		.action = req_arg(c, "action"),
		.object = req_arg(c, "object"),
		.decision = req_arg(c, "decision"),
		.from = req_arg(c, "from"),
		.to = req_arg(c, "to"),
		.cursor = req_arg(c, "cursor"),
		.limit = lim ? strtol(lim, NULL, 10) : 100,
	};
	int unit = us ? unit_parse(us) : 0;
	char err[512], object[300];
	struct audit_page page;
	enum MHD_Result res;
	PGconn *db;
	time_t t;
	(void)hole;

	if (unit < 0 || f.limit < 1 || f.limit > 1000 ||
	    (f.from && authz_time_parse(f.from, &t) < 0 && strlen(f.from) != 27) ||
	    (f.cursor && strspn(f.cursor, "0123456789") != strlen(f.cursor)))
		return respond_error(
			c, rq, 400, "bad_request",
			"unit is a 5-digit code, limit 1-1000, from/to RFC 3339 UTC times, cursor as given");
	snprintf(object, sizeof(object), "unit=%s actor=%s action=%s from=%s to=%s", us ? us : "*",
		 f.actor ? f.actor : "*", f.action ? f.action : "*", f.from ? f.from : "", f.to ? f.to : "");
	if (!may_read(api, c, rq, me, unit, object, &res))
		return res;
	db = thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));
	if (db == NULL)
		return respond_error(c, rq, 503, "state_unavailable", "%s", err);
	switch (audit_query(db, &f, &page, err, sizeof(err))) {
	case AUDIT_QUERY_OK: break;
	case AUDIT_QUERY_BAD_FILTER: return respond_error(c, rq, 400, "query_failed", "%s", err);
	case AUDIT_QUERY_UNAVAILABLE: return respond_error(c, rq, 503, "query_failed", "%s", err);
	case AUDIT_QUERY_NOMEM: return respond_error(c, rq, 500, "internal", "out of memory");
	}
	return audit_reply(c, rq, &page, wants_csv(c, fmt));
}

enum MHD_Result ep_audit_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole)
{
	struct audit_verdict v;
	struct authz_decision d;
	char err[512];
	const struct config *cfg = api->deps.cfg;
	(void)hole;

	/* the whole chain: a city auditor only */
	if (authz_city_role(api->az, me->uid, "audit.read", &d) == LP_UNAVAILABLE)
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	if (!d.allow) {
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
