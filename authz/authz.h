/* authz.h — who may do what in which unit: decisions (cached per user and
 * unit), grants and revocations (delegation rules enforced), and the
 * authentication of API users, all against the LDAP directory.
 *
 * Directory layout (BASE = [ldap] base): people ou=people (uid,
 * entryUUID), units ou=<code>,ou=units (syncdUnitObject), grants
 * cn=<id>,ou=<code>,ou=units (syncdGrant), city roles as groupOfNames
 * cn=<group>,ou=roles.  See policies/ldap/. */
#ifndef SYNCD_AUTHZ_AUTHZ_H
#define SYNCD_AUTHZ_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/decide.h"
#include "authz/ldap.h"
#include "authz/roles.h"

struct authz_conf {
	struct ldap_conf ldap;
	const char *base;
	const int *units; /* the city's unit codes */
	size_t nunits;
	long cache_ttl; /* seconds; 0: no cache */
};

struct authz_user {
	char uid[128];
	char dn[AUTHZ_DN_LEN];
	char uuid[AUTHZ_UUID_LEN];
	char name[256]; /* cn: how documents name the issuing official */
};

struct grant_request {
	const char *grantee; /* uid */
	const char *role;
	int unit;
	time_t not_before; /* 0: now */
	time_t not_after;  /* 0: the role's longest, capped by the grantor's own grant */
	int may_delegate;
};

struct authz;

/* Takes roles (freed with the authz). */
struct authz *authz_new(const struct authz_conf *conf, struct roles *roles, char *err, size_t errlen);
void authz_free(struct authz *a);
const struct roles *authz_roles(const struct authz *a);
bool authz_unit_known(const struct authz *a, int unit);
struct ldap_pool *authz_pool(struct authz *a);

/* decide(uid, action, unit).  Returns 0, or LP_UNAVAILABLE with a deny and
 * reason directory_unavailable (fail closed). */
int authz_check(struct authz *a, const char *uid, const char *action, int unit, struct authz_decision *d);

/* The one person with that uid, in any spelling the directory matches (case,
 * extra spaces): 1 found, 0 none (or several: refused), LP_UNAVAILABLE /
 * LP_ERROR.  u->uid is the entry's own first uid value, u->uuid its
 * entryUUID: one person has one name whatever was typed. */
int authz_user_find(struct authz *a, const char *uid, struct authz_user *u, char *err, size_t errlen);

/* HTTP Basic credentials checked by a bind as the user on a handle of its
 * own; a success is remembered (keyed hash, never the password) for
 * cache_ttl under the normalized uid.  An unknown uid costs the same bind
 * round trip as a known one.  u as authz_user_find sets it.  1 accepted, 0
 * refused, LP_UNAVAILABLE / LP_ERROR. */
int authz_authenticate(struct authz *a, const char *uid, const char *password, struct authz_user *u,
		       char *err, size_t errlen);

/* Outcome of a grant operation: 0 done, else the HTTP status to answer
 * (400, 403, 404, 409, 503) with reason "code (details)". */
int authz_grant_create(struct authz *a, const struct authz_user *grantor, const struct grant_request *req,
		       struct grant *out, char *reason, size_t reasonlen);
/* Revoking needs the authority to grant that role in that unit now: a
 * currently valid grant of the actor (its chain re-checked) or a current city
 * role, the grant's own grantor included.  *unit: the grant's unit when it
 * was found, else 0. */
int authz_grant_revoke(struct authz *a, const struct authz_user *actor, const char *id, int *unit,
		       char *reason, size_t reasonlen);
/* Grants of a unit (0: every unit) and/or of one grantee uid (NULL: all). */
int authz_grants_list(struct authz *a, int unit, const char *grantee, struct grant **out, size_t *n,
		      char *reason, size_t reasonlen);

/* A reload: new roles (taken; NULL keeps the old) and cache TTL; every
 * cached decision is dropped. */
void authz_reload(struct authz *a, struct roles *roles, long cache_ttl);

/* Time of directory operations (decisions, user lookups, probes), for a
 * Prometheus histogram: counts per bucket (upper bounds authz_ldap_bounds,
 * then +Inf; not cumulative) and the sum in seconds. */
#define AUTHZ_LDAP_BUCKETS 10
extern const double authz_ldap_bounds[AUTHZ_LDAP_BUCKETS];
void authz_ldap_histogram(struct authz *a, unsigned long *counts, double *sum);

/* Whether the directory answered the last operation (no round trip). */
bool authz_directory_up(struct authz *a);

/* Forgets every cached decision and login (a grant changed here). */
void authz_cache_clear(struct authz *a);

/* A uid as LDAP's caseIgnoreMatch compares it: ASCII lower case, leading
 * and trailing spaces dropped, inner runs of spaces made one.  out is
 * always terminated (truncated to outlen - 1). */
void authz_uid_normalize(const char *in, char *out, size_t outlen);

/* The uid of a DN whose first RDN is uid=...; "" otherwise. */
void authz_dn_uid(const char *dn, char *uid, size_t uidlen);

#endif
