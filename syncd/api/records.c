/* records.c — /v1/records: one record of a unit's copy, and the search
 * (its query kept in the audit log only as a keyed hash). */
#include "syncd/api/internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /v1/records/{source}/{table}/{key}?unit=CODE: from the unit's copy,
 * with <source>.record.read there. */
enum MHD_Result ep_record_get(struct api *api, struct MHD_Connection *c, struct req *rq,
			      const struct authz_user *me, const char *rest)
{
	char source[64], table[128], key[128], perm[96], object[400], reason[512], *json = NULL;
	const char *us = req_arg(c, "unit");
	int unit = unit_parse(us), st;
	enum MHD_Result res;

	if (sscanf(rest, "%63[^/]/%127[^/]/%127[^/]", source, table, key) != 3 || unit < 0)
		return respond_error(c, rq, 400, "bad_request",
				     "GET /v1/records/{source}/{table}/{key}?unit=CODE");
	snprintf(perm, sizeof(perm), "%s.record.read", source);
	snprintf(object, sizeof(object), "%s/%s/%s", source, table, key);
	if (!permitted(api, c, rq, me, perm, unit, "record.read", object, &res))
		return res;
	st = record_get(api->deps.cfg, api->deps.rt, source, table, unit, key, &json, reason, sizeof(reason));
	if (st <= 0)
		return respond_reason(c, rq, st == 0 ? 404 : (unsigned)-st, reason);
	{
		char u[12];
		json_t *rec = json_loads(json, 0, NULL);

		free(json);
		snprintf(u, sizeof(u), "%05d", unit);
		return respond_json(c, rq, 200,
				    json_pack("{s:s,s:s,s:s,s:s,s:o}", "source", source, "table", table,
					      "unit", u, "key", key, "record", rec ? rec : json_null()));
	}
}

struct read_ctx {
	struct api *api;
	const struct authz_user *me;
	int unit;
};

static bool may_read_kind(const struct doc_kind *k, void *arg)
{
	struct read_ctx *r = arg;
	struct authz_decision d;

	return authz_check(r->api->az, r->me->uid, k->read_perm, r->unit, &d) == 0 && d.allow;
}

/* The search's body checked into *sq and *unit: NULL, or the message of
 * the 400 (naming the field and what it takes) in msg. */
static const char *search_args(const struct api *api, json_t *o, struct records_query *sq, int *unit,
			       char *msg, size_t msglen)
{
	json_t *page = json_object_get(o, "page"), *kind = json_object_get(o, "kind");
	const char *q = json_string_value(json_object_get(o, "q"));
	const struct documents *d = api->deps.docs;

	*unit = unit_parse(json_string_value(json_object_get(o, "unit")));
	if (q == NULL || *unit < 0 || strlen(q) < 2 || strlen(q) > RECORDS_QUERY_MAX)
		return "needs {\"unit\": \"CODE\", \"q\": TEXT} (2-100 characters: a name, a personal ID, or "
		       "SHEET/NUMBER of a parcel)";
	sq->q = q;
	sq->page = 1;
	sq->kind = NULL;
	if (page != NULL && !json_is_null(page)) {
		if (!json_is_integer(page) || json_integer_value(page) < 1 ||
		    json_integer_value(page) > RECORDS_PAGE_MAX)
			return "page must be a whole number from 1 to 1000 (1, or no page, is the first page)";
		sq->page = (int)json_integer_value(page);
	}
	if (kind == NULL || json_is_null(kind))
		return NULL;
	sq->kind = json_is_string(kind) ? documents_kind(d, json_string_value(kind)) : NULL;
	if (sq->kind == NULL) {
		size_t n = (size_t)snprintf(msg, msglen, "kind must be one of");

		for (size_t i = 0; i < documents_count(d) && n < msglen; i++)
			n += (size_t)snprintf(msg + n, msglen - n, "%s%s", i ? ", " : " ",
					      documents_nth(d, i)->name);
		if (n < msglen)
			snprintf(msg + n, msglen - n, " (or no kind, for every kind)");
		return msg;
	}
	if (sq->kind->nsearch == 0) {
		snprintf(msg, msglen,
			 "kind %s has no search columns in policies/documents.json: search another kind of "
			 "table %s, or give no kind",
			 sq->kind->name, sq->kind->table);
		return msg;
	}
	return NULL;
}

/* The audit row's object: the query is personal data, so the permanent
 * row keeps a keyed hash of it (equal queries of this run match), never
 * the text. */
static void search_object(const struct api *api, const char *q, char *object, size_t len)
{
	unsigned char mac[32];
	unsigned int maclen = sizeof(mac);
	char hex[17];

	HMAC(EVP_sha256(), api->query_key, sizeof(api->query_key), (const unsigned char *)q, strlen(q), mac,
	     &maclen);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	snprintf(object, len, "q=hmac:%s len=%zu", hex, strlen(q));
}

/* POST /v1/records/search {"unit", "q", "page"?, "kind"?}: personal data
 * stays out of URLs.  {"results", "page", "more"}. */
enum MHD_Result ep_records_search(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	char err[256], reason[512], object[300], msg[512];
	json_t *o = body_object(rq, err, sizeof(err)), *hits = NULL;
	struct records_query sq;
	int unit = -1;
	const char *bad = o ? search_args(api, o, &sq, &unit, msg, sizeof(msg))
			    : "needs {\"unit\": \"CODE\", \"q\": TEXT} (2-100 characters: a name, a personal "
			      "ID, or SHEET/NUMBER of a parcel)";
	struct read_ctx rc = {api, me, unit};
	struct authz_decision d1, d2;
	bool any, more = false;
	int st;
	(void)hole;

	if (bad != NULL) {
		enum MHD_Result res = respond_error(c, rq, 400, "bad_request", "%s", bad);

		json_decref(o);
		return res;
	}
	search_object(api, sq.q, object, sizeof(object));
	if (authz_check(api->az, me->uid, sq.kind ? sq.kind->read_perm : "civil.record.read", unit, &d1) ==
		    LP_UNAVAILABLE ||
	    authz_check(api->az, me->uid, sq.kind ? sq.kind->read_perm : "land.record.read", unit, &d2) ==
		    LP_UNAVAILABLE) {
		json_decref(o);
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	}
	any = d1.allow || d2.allow;
	if (!audited(api, rq, "record.search", unit, object, any ? "allow" : "deny", any ? "" : d1.reason)) {
		json_decref(o);
		return audit_down(c, rq);
	}
	if (!any) {
		enum MHD_Result res =
			sq.kind ? respond_error(c, rq, 403, "forbidden", "searching %s needs %s in unit %05d",
						sq.kind->name, sq.kind->read_perm, unit)
				: respond_error(
					  c, rq, 403, "forbidden",
					  "searching needs land.record.read or civil.record.read in unit %05d",
					  unit);

		json_decref(o);
		return res;
	}
	st = records_search(api->deps.cfg, api->deps.docs, unit, &sq, may_read_kind, &rc, &hits, &more,
			    reason, sizeof(reason));
	if (st != 0) {
		json_decref(o);
		json_decref(hits);
		return respond_reason(c, rq, (unsigned)st, reason);
	}
	json_decref(o);
	return respond_json(c, rq, 200,
			    json_pack("{s:o,s:i,s:b}", "results", hits, "page", sq.page, "more", more));
}
