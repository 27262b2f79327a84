/* grants.c — /v1/grants and /v1/authz/check: grants and decisions as JSON,
 * authz's outcomes turned into HTTP statuses. */
#include "syncd/api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/grants.h"
#include "common/log.h"

/* authz's outcome of a grant operation as the HTTP status to answer (0:
 * done): the one place where grant outcomes become statuses. */
static int grant_status(enum authz_grant_result r)
{
	switch (r) {
	case AUTHZ_GRANT_OK: return 0;
	case AUTHZ_GRANT_INVALID: return 400;
	case AUTHZ_GRANT_FORBIDDEN: return 403;
	case AUTHZ_GRANT_UNKNOWN: return 404;
	case AUTHZ_GRANT_REVOKED: return 409;
	case AUTHZ_GRANT_UNAVAILABLE: return 503;
	case AUTHZ_GRANT_FAILED: break;
	}
	return 500;
}

static json_t *grant_json(const struct grant *g)
{
	char nb[32], na[32], cr[32], unit[12], gee[128], gor[128];
	time_t now = time(NULL);
	const char *state = g->revoked		  ? "revoked"
			    : now >= g->not_after ? "expired"
			    : now < g->not_before ? "pending"
						  : "active";

	authz_time_rfc3339(g->not_before, nb, sizeof(nb));
	authz_time_rfc3339(g->not_after, na, sizeof(na));
	authz_time_rfc3339(g->created, cr, sizeof(cr));
	snprintf(unit, sizeof(unit), "%05d", g->unit);
	authz_dn_uid(g->grantee_dn, gee, sizeof(gee));
	authz_dn_uid(g->grantor_dn, gor, sizeof(gor));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:i,s:s,s:b,s:s}", "id", g->id, "grantee",
			 gee, "grantee_dn", g->grantee_dn, "role", g->role, "unit", unit, "grantor", gor,
			 "grantor_dn", g->grantor_dn, "parent",
			 g->parent[0] ? json_string(g->parent) : json_null(), "not_before", nb, "not_after",
			 na, "may_delegate", g->depth, "created", cr, "revoked", g->revoked, "state", state);
}

static json_t *decision_json(const struct authz_decision *d, const char *user, const char *action, int unit)
{
	json_t *chain = json_array();
	char u[12];

	snprintf(u, sizeof(u), "%05d", unit);
	for (size_t i = 0; i < d->nchain && chain != NULL; i++) {
		const struct authz_link *l = &d->chain[i];
		char na[32] = "", lu[12] = "", gee[128], gor[128];

		if (l->not_after)
			authz_time_rfc3339(l->not_after, na, sizeof(na));
		if (l->unit)
			snprintf(lu, sizeof(lu), "%05d", l->unit);
		authz_dn_uid(l->grantee_dn, gee, sizeof(gee));
		authz_dn_uid(l->grantor_dn, gor, sizeof(gor));
		json_array_append_new(
			chain, json_pack("{s:o,s:s,s:o,s:s,s:o,s:o}", "id",
					 l->id[0] ? json_string(l->id) : json_null(), "role", l->role, "unit",
					 l->unit ? json_string(lu) : json_null(), "grantee", gee, "grantor",
					 l->grantor_dn[0] ? json_string(gor) : json_null(), "not_after",
					 l->not_after ? json_string(na) : json_null()));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "decision", d->allow ? "allow" : "deny", "reason",
			 d->reason, "user", user, "action", action, "unit", u, "chain",
			 chain ? chain : json_array());
}

/* May u see the grants / decisions of others in unit?  grant managers and
 * auditors of that unit (or city-wide) may. */
static int may_oversee(struct api *api, const struct authz_user *u, int unit, struct authz_decision *d)
{
	static const char *const perms[] = {"grant.manage", "audit.read"};
	int r = 0;

	for (size_t i = 0; i < 2; i++) {
		r = authz_check(api->az, u->uid, perms[i], unit, d);
		if (r < 0 || d->allow)
			return r;
	}
	return r;
}

/* May u see every unit's grants?  A city role that manages grants or
 * audits may. */
static int may_oversee_city(struct api *api, const struct authz_user *u, struct authz_decision *d)
{
	static const char *const perms[] = {"grant.manage", "audit.read"};
	int r = 0;

	for (size_t i = 0; i < 2; i++) {
		r = authz_city_role(api->az, u->uid, perms[i], d);
		if (r < 0 || d->allow)
			return r;
	}
	return r;
}

enum MHD_Result ep_check(struct api *api, struct MHD_Connection *c, struct req *rq,
			 const struct authz_user *me, const char *hole)
{
	const char *user = req_arg(c, "user"), *action = req_arg(c, "action"), *us = req_arg(c, "unit");
	int unit = unit_parse(us), r;
	struct authz_decision d;
	char fu[140], fme[140];
	(void)hole;

	if (user == NULL || action == NULL || us == NULL)
		return respond_error(c, rq, 400, "bad_request", "needs ?user=UID&action=ACTION&unit=CODE");
	if (unit < 0)
		return respond_error(c, rq, 400, "unknown_unit",
				     "unit must be a 5-digit unit code, not \"%s\"", us);
	authz_uid_normalize(user ? user : "", fu, sizeof(fu));
	authz_uid_normalize(me->uid, fme, sizeof(fme));
	if (user != NULL && strcmp(fu, fme) != 0) { /* someone else: KIEM.DO is kiem.do */
		r = may_oversee(api, me, unit, &d);
		if (r < 0)
			return respond_error(
				c, rq, 503, "directory_unavailable",
				"the directory cannot be reached; decisions are denied until it returns");
		if (!d.allow)
			return respond_error(
				c, rq, 403, "forbidden",
				"checking someone else's rights needs grant.manage or audit.read in unit %05d (%s)",
				unit, d.reason);
	}
	r = authz_check(api->az, user, action, unit, &d);
	{
		char object[300];

		snprintf(object, sizeof(object), "%s %s", user, action);
		if (!audited(api, rq, "authz.check", unit, object, d.allow ? "allow" : "deny", d.reason))
			return audit_down(c, rq);
	}
	log_info("%s %s: check %s %s in %05d: %s (%s)", rq->addr, me->uid, user, action, unit,
		 d.allow ? "allow" : "deny", d.reason);
	return respond_json(c, rq, r == LP_UNAVAILABLE ? 503 : 200, decision_json(&d, user, action, unit));
}

static int time_field(json_t *o, const char *name, time_t *t, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	*t = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || authz_time_parse(json_string_value(v), t) < 0) {
		snprintf(err, errlen, "%s must be a UTC time like 2026-12-31T00:00:00Z", name);
		return -1;
	}
	return 0;
}

enum MHD_Result ep_grant_create(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole)
{
	static const char *const known[] = {"grantee",	  "role",      "unit",
					    "not_before", "not_after", "may_delegate"};
	struct grant_request gr = {0};
	struct grant g;
	char reason[512], err[256];
	json_t *o = body_object(rq, err, sizeof(err)), *v;
	const char *key;
	enum MHD_Result res;
	int st;
	(void)hole;

	if (o == NULL)
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	json_object_foreach (o, key, v) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			res = respond_error(
				c, rq, 400, "bad_request",
				"unknown field \"%s\" (known: grantee, role, unit, not_before, not_after, may_delegate)",
				key);
			json_decref(o);
			return res;
		}
	}
	gr.grantee = json_string_value(json_object_get(o, "grantee"));
	gr.role = json_string_value(json_object_get(o, "role"));
	v = json_object_get(o, "unit");
	gr.unit = json_is_string(v) ? unit_parse(json_string_value(v)) : -1;
	v = json_object_get(o, "may_delegate");
	if (v != NULL && !json_is_integer(v)) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request", "may_delegate must be an integer");
	}
	if (v != NULL && (json_integer_value(v) < 0 || json_integer_value(v) > 100)) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "may_delegate must be between 0 and the role's deepest re-delegation");
	}
	gr.may_delegate = v ? (int)json_integer_value(v) : 0;
	if (gr.grantee == NULL || gr.role == NULL || gr.unit < 0) {
		json_decref(o);
		return respond_error(
			c, rq, 400, "bad_request",
			"needs \"grantee\" (uid), \"role\" and \"unit\" (a 5-digit code as a string)");
	}
	if (time_field(o, "not_before", &gr.not_before, err, sizeof(err)) < 0 ||
	    time_field(o, "not_after", &gr.not_after, err, sizeof(err)) < 0) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	}
	{
		char object[300];

		/* the intent first: no grant exists without a row that announced it */
		snprintf(object, sizeof(object), "- %s %s", gr.grantee, gr.role);
		if (!audited(api, rq, "grant.create", gr.unit, object, "intent", "")) {
			json_decref(o);
			return audit_down(c, rq);
		}
		st = grant_status(authz_grant_create(api->az, me, &gr, &g, reason, sizeof(reason)));
		snprintf(object, sizeof(object), "%s %s %s", st == 0 ? g.id : "-", gr.grantee, gr.role);
		outcome(api, rq, "grant.create", gr.unit, object, st, "allow", reason);
	}
	if (st != 0) {
		res = respond_reason(c, rq, (unsigned)st, reason);
		json_decref(o);
		return res;
	}
	log_info("%s %s: granted %s to %s in %05d until %ld (grant %s, parent %s)", rq->addr, me->uid, g.role,
		 gr.grantee, g.unit, (long)g.not_after, g.id, g.parent[0] ? g.parent : "none");
	rq->logged = true;
	json_decref(o);
	return respond_json(c, rq, 201, grant_json(&g));
}

enum MHD_Result ep_grant_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *id)
{
	char reason[512];
	int st, gunit = 0;

	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		return respond_error(c, rq, 404, "unknown_grant", "a grant id is 32 hex digits");
	/* the intent first: no revocation happens without a row that announced it */
	if (!audited(api, rq, "grant.revoke", 0, id, "intent", ""))
		return audit_down(c, rq);
	st = grant_status(authz_grant_revoke(api->az, me, id, &gunit, reason, sizeof(reason)));
	/* the outcome in the grant's unit, so that unit's auditor sees it */
	outcome(api, rq, "grant.revoke", gunit, id, st, "allow", reason);
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	log_info("%s %s: revoked grant %s", rq->addr, me->uid, id);
	rq->logged = true;
	return respond(c, rq, 204, "application/json", strdup(""), 0);
}

enum MHD_Result ep_grants_list(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole)
{
	const char *us = req_arg(c, "unit"), *grantee = req_arg(c, "grantee");
	int unit = us ? unit_parse(us) : 0;
	struct authz_decision d;
	struct grant *g = NULL;
	char reason[512];
	json_t *arr;
	size_t n = 0;
	int st;
	(void)hole;

	if (unit < 0)
		return respond_error(c, rq, 400, "unknown_unit", "unit must be a 5-digit unit code");
	if (grantee != NULL && grantee[0] == '\0')
		grantee = NULL;
	if (grantee == NULL || strcmp(grantee, me->uid) != 0) {
		/* without a unit: only a city role that manages grants or audits */
		st = unit ? may_oversee(api, me, unit, &d) : may_oversee_city(api, me, &d);
		if (st < 0)
			return respond_error(c, rq, 503, "directory_unavailable",
					     "the directory cannot be reached");
		if (!d.allow) {
			if (!audited(api, rq, "grant.list", unit, grantee ? grantee : "", "deny", d.reason))
				return audit_down(c, rq);
			return respond_error(
				c, rq, 403, "forbidden",
				unit ? "listing grants of unit %05d needs grant.manage or audit.read there"
				     : "listing every unit's grants needs a city role; add ?unit=CODE%.0d",
				unit);
		}
	}
	if (!audited(api, rq, "grant.list", unit, grantee ? grantee : "", "allow", ""))
		return audit_down(c, rq);
	st = grant_status(authz_grants_list(api->az, unit, grantee, &g, &n, reason, sizeof(reason)));
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, grant_json(&g[i]));
	free(g);
	return respond_json(c, rq, 200, json_pack("{s:o}", "grants", arr));
}
