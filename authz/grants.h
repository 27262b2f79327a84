/* grants.h — grants in the directory: create (the delegation rules
 * enforced), revoke and list, each answering with an authz_grant_result. */
#ifndef SYNCD_AUTHZ_GRANTS_H
#define SYNCD_AUTHZ_GRANTS_H

#include <stddef.h>
#include <time.h>

#include "authz/authz.h"

struct grant_request {
	const char *grantee; /* uid */
	const char *role;
	int unit;
	time_t not_before; /* 0: now */
	time_t not_after;  /* 0: the role's longest, capped by the grantor's own grant */
	int may_delegate;
};

/* What a grant operation came to; the reason says "code (details)". */
enum authz_grant_result {
	AUTHZ_GRANT_OK = 0,
	AUTHZ_GRANT_INVALID,	 /* the request itself is wrong (role, unit, grantee, dates) */
	AUTHZ_GRANT_FORBIDDEN,	 /* the actor may not (no authority, self grant, city role) */
	AUTHZ_GRANT_UNKNOWN,	 /* no such grant, or no such grantee to list */
	AUTHZ_GRANT_REVOKED,	 /* the grant was revoked already */
	AUTHZ_GRANT_UNAVAILABLE, /* the directory cannot be reached, or lacks the unit's entry */
	AUTHZ_GRANT_FAILED,	 /* the directory refused, or syncd itself failed */
};

/* A grant of req->role in req->unit to req->grantee, made by grantor under
 * the authority it holds now; out is the grant written. */
enum authz_grant_result authz_grant_create(struct authz *a, const struct authz_user *grantor,
					   const struct grant_request *req, struct grant *out, char *reason,
					   size_t reasonlen);
/* Revoking needs the authority to grant that role in that unit now: a
 * currently valid grant of the actor (its chain re-checked) or a current city
 * role, the grant's own grantor included.  *unit: the grant's unit when it
 * was found, else 0. */
enum authz_grant_result authz_grant_revoke(struct authz *a, const struct authz_user *actor, const char *id,
					   int *unit, char *reason, size_t reasonlen);
/* Grants of a unit (0: every unit) and/or of one grantee uid (NULL: all);
 * *out a new array of *n (caller frees). */
enum authz_grant_result authz_grants_list(struct authz *a, int unit, const char *grantee, struct grant **out,
					  size_t *n, char *reason, size_t reasonlen);

#endif
