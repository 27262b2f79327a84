/* grants.c — grants in the directory: create (the delegation rules
 * enforced), revoke and list; each answers with an authz_grant_result. */
#include "authz/grants.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authz/internal.h"
#include "authz/login.h"

/* ------------------------------------------------------------ grants */

/* What a directory failure (an LP_ code) comes to. */
static enum authz_grant_result directory_outcome(int r)
{
	return r == LP_UNAVAILABLE ? AUTHZ_GRANT_UNAVAILABLE : AUTHZ_GRANT_FAILED;
}

#define REFUSE(code, ...)                                                                                    \
	do {                                                                                                 \
		snprintf(reason, reasonlen, __VA_ARGS__);                                                    \
		r = (code);                                                                                  \
		goto out;                                                                                    \
	} while (0)

/* The grant entry of out, added to the directory: 0 or an LP_ code. */
static int grant_write(struct authz *a, struct grant *out, char *err, size_t errlen)
{
	char nb[32], na[32], cr[32], depth[8], unit[8];

	authz_time_ldap(out->not_before, nb, sizeof(nb));
	authz_time_ldap(out->not_after, na, sizeof(na));
	authz_time_ldap(out->created, cr, sizeof(cr));
	snprintf(depth, sizeof(depth), "%d", out->depth);
	snprintf(unit, sizeof(unit), "%05d", out->unit);
	{
		char *oc[] = {"syncdGrant", NULL}, *cn[] = {out->id, NULL}, *gd[] = {out->grantee_dn, NULL},
		     *gu[] = {out->grantee_uuid, NULL}, *ro[] = {out->role, NULL}, *un[] = {unit, NULL},
		     *od[] = {out->grantor_dn, NULL}, *ou[] = {out->grantor_uuid, NULL},
		     *pa[] = {out->parent, NULL}, *vb[] = {nb, NULL}, *va[] = {na, NULL},
		     *de[] = {depth, NULL}, *ct[] = {cr, NULL}, *gi[] = {out->id, NULL};
		LDAPMod m[] = {
			{LDAP_MOD_ADD, "objectClass", {oc}},	  {LDAP_MOD_ADD, "cn", {cn}},
			{LDAP_MOD_ADD, "syncdGrantId", {gi}},	  {LDAP_MOD_ADD, "syncdGrantee", {gd}},
			{LDAP_MOD_ADD, "syncdGranteeUUID", {gu}}, {LDAP_MOD_ADD, "syncdRole", {ro}},
			{LDAP_MOD_ADD, "syncdUnit", {un}},	  {LDAP_MOD_ADD, "syncdGrantor", {od}},
			{LDAP_MOD_ADD, "syncdGrantorUUID", {ou}}, {LDAP_MOD_ADD, "syncdNotBefore", {vb}},
			{LDAP_MOD_ADD, "syncdNotAfter", {va}},	  {LDAP_MOD_ADD, "syncdDepth", {de}},
			{LDAP_MOD_ADD, "syncdCreated", {ct}},	  {LDAP_MOD_ADD, "syncdParentGrant", {pa}},
		};
		LDAPMod *mods[15];
		size_t n = 0;

		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			if (!(strcmp(m[i].mod_type, "syncdParentGrant") == 0 && out->parent[0] == '\0'))
				mods[n++] = &m[i];
		mods[n] = NULL;
		return lpool_add(a->pool, out->dn, mods, err, errlen);
	}
}

/* When the new grant is valid: from not_before (now when not asked) to
 * not_after (the role's longest when not asked), never longer than the
 * role allows nor than the grantor's own grant (limit, 0: none). */
static enum authz_grant_result grant_window(const struct role *role, const struct grant_request *req,
					    const struct grant *parent, time_t limit, time_t now, time_t *nb,
					    time_t *na, char *reason, size_t reasonlen)
{
	time_t not_before, not_after;
	enum authz_grant_result r = AUTHZ_GRANT_OK;

	not_before = req->not_before ? req->not_before : now;
	if (not_before < now - 300)
		REFUSE(AUTHZ_GRANT_INVALID, "not_before_in_past (a grant starts now or later)");
	if (role->scope != ROLE_UNIT)
		REFUSE(AUTHZ_GRANT_FORBIDDEN, "role_not_grantable (%s is a city role)", role->name);
	not_after = req->not_after;
	if (not_after == 0) {
		not_after = not_before + role->max_days * 86400L;
		if (limit != 0 && not_after > limit)
			not_after = limit;
	}
	if (not_after <= not_before)
		REFUSE(AUTHZ_GRANT_INVALID, "bad_validity (not_after must be later than not_before)");
	if (not_after > not_before + role->max_days * 86400L)
		REFUSE(AUTHZ_GRANT_INVALID, "exceeds_role_max_duration (%s is granted for at most %ld days)",
		       role->name, role->max_days);
	if (limit != 0 && not_after > limit) {
		char l[32];

		authz_time_rfc3339(limit, l, sizeof(l));
		REFUSE(AUTHZ_GRANT_FORBIDDEN,
		       "outlives_grantor_grant (your grant %s ends %s; a grant never outlives its grantor's)",
		       parent ? parent->id : "", l);
	}
	*nb = not_before;
	*na = not_after;
out:
	return r;
}

enum authz_grant_result authz_grant_create(struct authz *a, const struct authz_user *grantor,
					   const struct grant_request *req, struct grant *out, char *reason,
					   size_t reasonlen)
{
	const struct role *role = roles_find(a->roles, req->role ? req->role : "");
	const struct grant *parent = NULL;
	struct authz_user grantee;
	struct facts fx = {0};
	char unit_dn[AUTHZ_DN_LEN], err[512], id[40];
	unsigned char rnd[16];
	time_t now = time(NULL), limit = 0, not_before, not_after;
	enum authz_grant_result r = AUTHZ_GRANT_OK;
	int fr;

	memset(out, 0, sizeof(*out));
	if (role == NULL)
		REFUSE(AUTHZ_GRANT_INVALID, "unknown_role (%s is not a role of roles.json)",
		       req->role ? req->role : "(none)");
	if (!authz_unit_known(a, req->unit))
		REFUSE(AUTHZ_GRANT_INVALID, "unknown_unit (%05d is not one of the city's 103 units)",
		       req->unit);
	if (req->may_delegate < 0)
		REFUSE(AUTHZ_GRANT_INVALID, "bad_request (may_delegate must be 0 or more)");
	if (role->scope == ROLE_UNIT && req->may_delegate > role->max_delegate)
		REFUSE(AUTHZ_GRANT_INVALID, "bad_request (may_delegate %d is above the role's maximum %d)",
		       req->may_delegate, role->max_delegate);
	fr = authz_user_find(a, req->grantee, &grantee, err, sizeof(err));
	if (fr < 0)
		REFUSE(directory_outcome(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (fr == 0)
		REFUSE(AUTHZ_GRANT_INVALID, "unknown_user (grantee: %s)", err);
	if (strcasecmp(grantee.uuid, grantor->uuid) == 0)
		REFUSE(AUTHZ_GRANT_FORBIDDEN, "self_grant (nobody grants a role to themselves)");
	fr = az_facts_load(a, grantor->uid, req->unit, &fx, unit_dn, sizeof(unit_dn), err, sizeof(err));
	if (fr != 0)
		REFUSE(directory_outcome(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (strcasecmp(fx.f.user_uuid, grantor->uuid) != 0)
		REFUSE(AUTHZ_GRANT_FORBIDDEN, "unknown_user (the grantor's entry changed; log in again)");
	if (authz_grant_authority(a->roles, &fx.f, role->name, req->may_delegate, now, &parent, &limit,
				  reason, reasonlen) != 1) {
		r = AUTHZ_GRANT_FORBIDDEN;
		goto out;
	}
	if (unit_dn[0] == '\0')
		REFUSE(AUTHZ_GRANT_UNAVAILABLE,
		       "unit_entry_missing (ou=%05d,ou=units is not in the directory: load policies/ldap/example-dit.ldif)",
		       req->unit);
	r = grant_window(role, req, parent, limit, now, &not_before, &not_after, reason, reasonlen);
	if (r != AUTHZ_GRANT_OK)
		goto out;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		REFUSE(AUTHZ_GRANT_FAILED, "internal (no randomness for the grant id)");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(out->id, sizeof(out->id), "%s", id);
	if (strlen(unit_dn) > 400)
		REFUSE(AUTHZ_GRANT_FAILED, "internal (the unit entry's DN is too long)");
	/* the id is ours, the rest the server's */
	snprintf(out->dn, sizeof(out->dn), "cn=%s,%.400s", id, unit_dn);
	snprintf(out->grantee_dn, sizeof(out->grantee_dn), "%s", grantee.dn);
	snprintf(out->grantee_uuid, sizeof(out->grantee_uuid), "%s", grantee.uuid);
	snprintf(out->role, sizeof(out->role), "%s", role->name);
	out->unit = req->unit;
	snprintf(out->grantor_dn, sizeof(out->grantor_dn), "%s", fx.f.user_dn);
	snprintf(out->grantor_uuid, sizeof(out->grantor_uuid), "%s", grantor->uuid);
	snprintf(out->parent, sizeof(out->parent), "%s", parent ? parent->id : "");
	out->not_before = not_before;
	out->not_after = not_after;
	out->created = now;
	out->depth = req->may_delegate;
	fr = grant_write(a, out, err, sizeof(err));
	if (fr != 0)
		REFUSE(directory_outcome(fr), "%s (writing the grant: %s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	authz_cache_clear(a);
out:
	az_facts_free(&fx);
	return r;
}

struct grant_search {
	struct grant *g;
	size_t n, cap;
};

static int grant_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct grant_search *s = arg;
	char *dn = ldap_get_dn(ld, e);

	if (dn == NULL)
		return 0;
	if (az_grow((void **)&s->g, &s->cap, s->n, sizeof(struct grant)) < 0) {
		ldap_memfree(dn);
		return -1;
	}
	az_grant_read(ld, e, dn, &s->g[s->n++]);
	ldap_memfree(dn);
	return 0;
}

static int grants_search(struct authz *a, const char *filter, struct grant_search *s, char *err,
			 size_t errlen)
{
	static char *attrs[] = {GRANT_ATTRS, NULL};

	memset(s, 0, sizeof(*s));
	return lpool_search(a->pool, a->base, LDAP_SCOPE_SUBTREE, filter, attrs, PAGE_SIZE, grant_entry, s,
			    err, errlen);
}

enum authz_grant_result authz_grant_revoke(struct authz *a, const struct authz_user *actor, const char *id,
					   int *unit, char *reason, size_t reasonlen)
{
	struct grant_search s = {0};
	struct facts fx = {0};
	const struct grant *parent;
	char filter[128], err[512];
	time_t limit;
	enum authz_grant_result r = AUTHZ_GRANT_OK;
	int fr;

	*unit = 0;
	if (id == NULL || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		REFUSE(AUTHZ_GRANT_UNKNOWN, "unknown_grant (a grant id is 32 hex digits)");
	snprintf(filter, sizeof(filter), "(&(objectClass=syncdGrant)(cn=%s))", id);
	fr = grants_search(a, filter, &s, err, sizeof(err));
	if (fr != 0)
		REFUSE(directory_outcome(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (s.n != 1)
		REFUSE(AUTHZ_GRANT_UNKNOWN, "unknown_grant (no grant %s)", id);
	*unit = s.g[0].unit;
	if (s.g[0].revoked)
		REFUSE(AUTHZ_GRANT_REVOKED, "already_revoked (grant %s)", id);
	/* whoever could grant it now, the grantor included: authority lost (own
	 * grant revoked or expired, city group left) takes the power to revoke */
	fr = az_facts_load(a, actor->uid, s.g[0].unit, &fx, NULL, 0, err, sizeof(err));
	if (fr != 0)
		REFUSE(directory_outcome(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (strcasecmp(fx.f.user_uuid, actor->uuid) != 0)
		REFUSE(AUTHZ_GRANT_FORBIDDEN, "unknown_user (your entry changed; log in again)");
	if (authz_grant_authority(a->roles, &fx.f, s.g[0].role, 0, time(NULL), &parent, &limit, reason,
				  reasonlen) != 1) {
		r = AUTHZ_GRANT_FORBIDDEN;
		goto out;
	}
	{
		char *t[] = {"TRUE", NULL};
		LDAPMod m = {LDAP_MOD_REPLACE, "syncdRevoked", {t}}, *mods[] = {&m, NULL};

		fr = lpool_modify(a->pool, s.g[0].dn, mods, err, sizeof(err));
	}
	if (fr != 0)
		REFUSE(directory_outcome(fr), "%s (revoking: %s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	authz_cache_clear(a);
out:
	free(s.g);
	az_facts_free(&fx);
	return r;
}

enum authz_grant_result authz_grants_list(struct authz *a, int unit, const char *grantee, struct grant **out,
					  size_t *n, char *reason, size_t reasonlen)
{
	struct grant_search s = {0};
	struct authz_user u;
	char filter[256], part[128] = "", err[512];
	enum authz_grant_result r = AUTHZ_GRANT_OK;
	int fr;

	*out = NULL;
	*n = 0;
	if (unit != 0 && !authz_unit_known(a, unit))
		REFUSE(AUTHZ_GRANT_INVALID, "unknown_unit (%05d is not one of the city's 103 units)", unit);
	if (grantee != NULL) {
		char *esc;

		fr = authz_user_find(a, grantee, &u, err, sizeof(err));
		if (fr < 0)
			REFUSE(directory_outcome(fr), "%s (%s)",
			       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
		if (fr == 0)
			REFUSE(AUTHZ_GRANT_UNKNOWN, "unknown_user (%s)", err);
		esc = lpool_filter_escape(u.uuid);
		if (esc == NULL)
			REFUSE(AUTHZ_GRANT_FAILED, "internal (out of memory)");
		snprintf(part, sizeof(part), "(syncdGranteeUUID=%s)", esc);
		free(esc);
	}
	if (unit != 0)
		snprintf(filter, sizeof(filter), "(&(objectClass=syncdGrant)(syncdUnit=%05d)%s)", unit, part);
	else
		snprintf(filter, sizeof(filter), "(&(objectClass=syncdGrant)%s)", part);
	fr = grants_search(a, filter, &s, err, sizeof(err));
	if (fr != 0) {
		free(s.g);
		REFUSE(directory_outcome(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	}
	*out = s.g;
	*n = s.n;
out:
	return r;
}
