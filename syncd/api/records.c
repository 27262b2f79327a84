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

/* POST /v1/records/search {"unit", "q"}: personal data stays out of URLs. */
enum MHD_Result ep_records_search(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	char err[256], reason[512], object[300];
	json_t *o = body_object(rq, err, sizeof(err)), *hits = NULL;
	const char *q = o ? json_string_value(json_object_get(o, "q")) : NULL;
	int unit = o ? unit_parse(json_string_value(json_object_get(o, "unit"))) : -1;
	struct read_ctx rc = {api, me, unit};
	struct authz_decision d1, d2;
	bool any;
	int st;
	(void)hole;

	if (q == NULL || unit < 0 || strlen(q) < 2 || strlen(q) > 100) {
		json_decref(o);
		return respond_error(
			c, rq, 400, "bad_request",
			"needs {\"unit\": \"CODE\", \"q\": TEXT} (2-100 characters: a name, a personal ID, or "
			"SHEET/NUMBER of a parcel)");
	}
	/* the query is personal data: the permanent row keeps a keyed hash of
	 * it (equal queries of this run match), never the text */
	{
		unsigned char mac[32];
		unsigned int maclen = sizeof(mac);
		char hex[17];

		HMAC(EVP_sha256(), api->query_key, sizeof(api->query_key), (const unsigned char *)q,
		     strlen(q), mac, &maclen);
		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", mac[i]);
		snprintf(object, sizeof(object), "q=hmac:%s len=%zu", hex, strlen(q));
	}
	if (authz_check(api->az, me->uid, "civil.record.read", unit, &d1) == LP_UNAVAILABLE ||
	    authz_check(api->az, me->uid, "land.record.read", unit, &d2) == LP_UNAVAILABLE) {
		json_decref(o);
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	}
	any = d1.allow || d2.allow;
	if (!audited(api, rq, "record.search", unit, object, any ? "allow" : "deny", any ? "" : d1.reason)) {
		json_decref(o);
		return audit_down(c, rq);
	}
	if (!any) {
		json_decref(o);
		return respond_error(c, rq, 403, "forbidden",
				     "searching needs land.record.read or civil.record.read in unit %05d",
				     unit);
	}
	st = records_search(api->deps.cfg, api->deps.docs, unit, q, may_read_kind, &rc, &hits, reason,
			    sizeof(reason));
	json_decref(o);
	if (st != 0) {
		json_decref(hits);
		return respond_reason(c, rq, (unsigned)st, reason);
	}
	return respond_json(c, rq, 200, json_pack("{s:o}", "results", hits));
}
