/* decide.c — validity of grant chains and decisions, from facts only. */
#include "authz/decide.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct grant *grant_find(const struct authz_facts *f, const char *id)
{
	for (size_t i = 0; i < f->ngrants; i++)
		if (strcasecmp(f->grants[i].id, id) == 0)
			return &f->grants[i];
	return NULL;
}

static const struct city_holder *holder_find(const struct authz_facts *f, const char *uuid, const char *role,
					     const char *perm)
{
	for (size_t i = 0; i < f->nholders; i++) {
		const struct city_holder *h = &f->holders[i];

		if (strcasecmp(h->uuid, uuid) != 0)
			continue;
		if ((role != NULL && role_may_grant(h->role, role)) ||
		    (perm != NULL && role_has_perm(h->role, perm)))
			return h;
	}
	return NULL;
}

static bool valid_at(const struct roles *roles, const struct authz_facts *f, const struct grant *g,
		     time_t now, int depth, char *reason, size_t reasonlen)
{
	const struct role *role = roles_find(roles, g->role);
	const struct grant *p;
	char inner[160];

	if (depth >= AUTHZ_MAX_CHAIN) {
		snprintf(reason, reasonlen, "delegation_chain_too_long (grant %s)", g->id);
		return false;
	}
	if (role == NULL || role->scope != ROLE_UNIT) {
		snprintf(reason, reasonlen,
			 "unknown_role (grant %s has role %s, not a unit role of roles.json)", g->id,
			 g->role);
		return false;
	}
	if (g->revoked) {
		snprintf(reason, reasonlen, "grant_revoked (grant %s)", g->id);
		return false;
	}
	if (now < g->not_before) {
		snprintf(reason, reasonlen, "grant_not_yet_valid (grant %s)", g->id);
		return false;
	}
	if (now >= g->not_after) {
		snprintf(reason, reasonlen, "grant_expired (grant %s)", g->id);
		return false;
	}
	if (g->depth > role->max_delegate) {
		snprintf(reason, reasonlen, "grant_depth_exceeds_role (grant %s)", g->id);
		return false;
	}
	if (g->parent[0] == '\0') {
		if (holder_find(f, g->grantor_uuid, g->role, NULL) != NULL)
			return true;
		snprintf(reason, reasonlen,
			 "grantor_no_longer_authorized (grant %s: its grantor holds no city role "
			 "that may grant %s)",
			 g->id, g->role);
		return false;
	}
	p = grant_find(f, g->parent);
	if (p == NULL || p->unit != g->unit) {
		snprintf(reason, reasonlen, "parent_grant_missing (grant %s was made under %s)", g->id,
			 g->parent);
		return false;
	}
	if (!valid_at(roles, f, p, now, depth + 1, inner, sizeof(inner))) {
		snprintf(reason, reasonlen, "parent_grant_invalid: %s", inner);
		return false;
	}
	if (strcasecmp(p->grantee_uuid, g->grantor_uuid) != 0 ||
	    !role_may_grant(roles_find(roles, p->role), g->role) || p->depth < 1 || g->depth > p->depth - 1 ||
	    g->not_after > p->not_after) {
		snprintf(reason, reasonlen, "grant_outside_parent (grant %s exceeds what grant %s allows)",
			 g->id, p->id);
		return false;
	}
	return true;
}

bool grant_valid(const struct roles *roles, const struct authz_facts *f, const struct grant *g, time_t now,
		 char *reason, size_t reasonlen)
{
	return valid_at(roles, f, g, now, 0, reason, reasonlen);
}

static void link_grant(struct authz_link *l, const struct grant *g)
{
	snprintf(l->id, sizeof(l->id), "%s", g->id);
	snprintf(l->role, sizeof(l->role), "%s", g->role);
	l->unit = g->unit;
	snprintf(l->grantee_dn, sizeof(l->grantee_dn), "%s", g->grantee_dn);
	snprintf(l->grantor_dn, sizeof(l->grantor_dn), "%s", g->grantor_dn);
	l->not_after = g->not_after;
}

/* The chain from g up to its root; the decision is good until the first
 * not_after of the chain. */
static void chain_fill(const struct authz_facts *f, const struct grant *g, struct authz_decision *d)
{
	d->nchain = 0;
	while (g != NULL && d->nchain < AUTHZ_MAX_CHAIN) {
		link_grant(&d->chain[d->nchain++], g);
		if (g->not_after < d->valid_until)
			d->valid_until = g->not_after;
		g = g->parent[0] ? grant_find(f, g->parent) : NULL;
	}
}

void authz_decide(const struct roles *roles, const struct authz_facts *f, const char *action, int unit,
		  bool unit_known, time_t now, struct authz_decision *d)
{
	const struct city_holder *h;
	bool reasoned = false;

	memset(d, 0, sizeof(*d));
	d->valid_until = now + 365L * 86400;
	if (!roles_action_known(roles, action)) {
		snprintf(d->reason, sizeof(d->reason), "unknown_action");
		return;
	}
	if (!unit_known) {
		snprintf(d->reason, sizeof(d->reason), "unknown_unit");
		return;
	}
	if (f->user_uuid[0] == '\0') {
		snprintf(d->reason, sizeof(d->reason), "unknown_user");
		return;
	}
	h = holder_find(f, f->user_uuid, NULL, action);
	if (h != NULL) {
		d->allow = true;
		snprintf(d->reason, sizeof(d->reason), "city_role");
		snprintf(d->chain[0].role, sizeof(d->chain[0].role), "%s", h->role->name);
		snprintf(d->chain[0].grantee_dn, sizeof(d->chain[0].grantee_dn), "%s", f->user_dn);
		d->nchain = 1;
		return;
	}
	snprintf(d->reason, sizeof(d->reason), "no_grant");
	for (size_t i = 0; i < f->ngrants; i++) {
		const struct grant *g = &f->grants[i];
		char why[160];

		if (g->unit != unit || !role_has_perm(roles_find(roles, g->role), action))
			continue;
		if (strcasecmp(g->grantee_uuid, f->user_uuid) != 0) {
			/* same DN, other entryUUID: an account re-created under an old name */
			if (!reasoned && strcasecmp(g->grantee_dn, f->user_dn) == 0) {
				snprintf(
					d->reason, sizeof(d->reason),
					"grant_for_previous_account (grant %s was given to an earlier entry with this DN)",
					g->id);
				reasoned = true;
			}
			continue;
		}
		if (now < g->not_before && g->not_before < d->valid_until)
			d->valid_until = g->not_before;
		if (grant_valid(roles, f, g, now, why, sizeof(why))) {
			d->allow = true;
			snprintf(d->reason, sizeof(d->reason), "grant");
			chain_fill(f, g, d);
			return;
		}
		if (!reasoned) {
			snprintf(d->reason, sizeof(d->reason), "%s", why);
			reasoned = true;
		}
	}
}

int authz_grant_authority(const struct roles *roles, const struct authz_facts *f, const char *role,
			  int may_delegate, time_t now, const struct grant **parent, time_t *limit_after,
			  char *reason, size_t reasonlen)
{
	const struct role *target = roles_find(roles, role);
	const struct grant *best = NULL;
	bool reasoned = false;

	*parent = NULL;
	*limit_after = 0;
	if (target == NULL) {
		snprintf(reason, reasonlen, "unknown_role (%s is not in roles.json)", role);
		return 0;
	}
	if (target->scope != ROLE_UNIT) {
		snprintf(
			reason, reasonlen,
			"role_not_grantable (%s is a city role: add the person to its LDAP group cn=%s,ou=roles)",
			role, target->group);
		return 0;
	}
	if (may_delegate < 0 || may_delegate > target->max_delegate) {
		snprintf(reason, reasonlen, "may_delegate_exceeds_role (%s allows at most %d)", role,
			 target->max_delegate);
		return 0;
	}
	if (f->user_uuid[0] == '\0') {
		snprintf(reason, reasonlen, "unknown_user");
		return 0;
	}
	if (holder_find(f, f->user_uuid, role, NULL) != NULL)
		return 1;
	snprintf(reason, reasonlen, "no_authority (you hold no valid role in this unit that may grant %s)",
		 role);
	for (size_t i = 0; i < f->ngrants; i++) {
		const struct grant *g = &f->grants[i];
		const struct role *gr = roles_find(roles, g->role);
		char why[160];

		if (strcasecmp(g->grantee_uuid, f->user_uuid) != 0 || gr == NULL || gr->nmay_grant == 0)
			continue;
		if (!grant_valid(roles, f, g, now, why, sizeof(why))) {
			if (!reasoned)
				snprintf(reason, reasonlen, "grantor_grant_invalid: %s", why);
			reasoned = true;
			continue;
		}
		if (!role_may_grant(gr, role)) {
			if (!reasoned)
				snprintf(reason, reasonlen, "role_not_grantable (%s may not grant %s)",
					 gr->name, role);
			reasoned = true;
			continue;
		}
		if (g->depth < 1 || may_delegate > g->depth - 1) {
			snprintf(
				reason, reasonlen,
				"delegation_depth_exhausted (grant %s may re-delegate to depth %d; asked %d)",
				g->id, g->depth - 1, may_delegate);
			reasoned = true;
			continue;
		}
		if (best == NULL || g->not_after > best->not_after)
			best = g;
	}
	if (best == NULL)
		return 0;
	*parent = best;
	*limit_after = best->not_after;
	return 1;
}

/* s has shape, where 'D' stands for a digit (strptime alone takes blanks
 * and one-digit fields). */
static bool time_shape(const char *s, const char *shape)
{
	for (; *shape != '\0'; s++, shape++)
		if (*shape == 'D' ? !(*s >= '0' && *s <= '9') : *s != *shape)
			return false;
	return *s == '\0';
}

int authz_time_parse(const char *s, time_t *t)
{
	struct tm tm, want;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (time_shape(s, "DDDD-DD-DDTDD:DD:DDZ"))
		end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else if (time_shape(s, "DDDDDDDDDDDDDDZ"))
		end = strptime(s, "%Y%m%d%H%M%SZ", &tm);
	else
		return -1;
	if (end == NULL || *end != '\0' || tm.tm_year < 70 || tm.tm_year > 1100)
		return -1;
	want = tm;
	*t = timegm(&tm);
	/* timegm moves 2026-02-31 to March 3rd and 23:59:60 to the next day: not a time */
	if (want.tm_mday != tm.tm_mday || want.tm_mon != tm.tm_mon || want.tm_year != tm.tm_year ||
	    want.tm_hour != tm.tm_hour || want.tm_min != tm.tm_min || want.tm_sec != tm.tm_sec)
		return -1;
	return 0;
}

void authz_time_rfc3339(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void authz_time_ldap(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y%m%d%H%M%SZ", &tm);
}
