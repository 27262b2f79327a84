/* authz.h — who may do what in which unit: decisions against the LDAP
 * directory, cached per user and unit (or city-wide), failing closed.
 * Grants are authz/grants.h's, logins authz/login.h's.
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

/* decide(uid, action) city-wide: allowed only through a city role (a
 * roles.json role of scope "city" whose LDAP group holds the user) that has
 * the action; reason "city_role", else a deny with "no_city_role" (or
 * unknown_action, unknown_user).  The same cache, TTL and fail-closed rule
 * as authz_check: 0, or LP_UNAVAILABLE / LP_ERROR with a deny. */
int authz_city_role(struct authz *a, const char *uid, const char *action, struct authz_decision *d);

/* Is uid's grant grant_id in unit in force now: itself and its whole chain
 * up to a grantor who still holds the city role (the rule decisions use)?
 * On the same cached facts as authz_check.  1 yes; 0 no, with reason
 * (e.g. parent_grant_invalid, unknown_grant); LP_UNAVAILABLE / LP_ERROR
 * when the directory cannot tell (fail closed). */
int authz_grant_in_force(struct authz *a, const char *uid, int unit, const char *grant_id, char *reason,
			 size_t reasonlen);

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
