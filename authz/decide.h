/* decide.h — the delegation model, pure: given what the directory says
 * about one user and one unit, is an action allowed, why, and through which
 * chain of grants?  No I/O here; authz/authz.c fetches the facts. */
#ifndef SYNCD_AUTHZ_DECIDE_H
#define SYNCD_AUTHZ_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "authz/roles.h"

#define AUTHZ_ID_LEN	40
#define AUTHZ_UUID_LEN	40
#define AUTHZ_DN_LEN	512
#define AUTHZ_MAX_CHAIN 16

struct grant {
	char id[AUTHZ_ID_LEN];
	char dn[AUTHZ_DN_LEN]; /* the entry's DN, as the server gave it */
	char grantee_dn[AUTHZ_DN_LEN];
	char grantee_uuid[AUTHZ_UUID_LEN];
	char role[64];
	int unit;
	char grantor_dn[AUTHZ_DN_LEN];
	char grantor_uuid[AUTHZ_UUID_LEN];
	char parent[AUTHZ_ID_LEN]; /* "" for a grant made from city level */
	time_t not_before, not_after, created;
	int depth; /* remaining re-delegation depth */
	bool revoked;
};

/* A person holding a city role (member of the role's group), by entryUUID. */
struct city_holder {
	char uuid[AUTHZ_UUID_LEN];
	char dn[AUTHZ_DN_LEN];
	const struct role *role;
};

/* What the directory said about one user in one unit. */
struct authz_facts {
	char user_dn[AUTHZ_DN_LEN];
	char user_uuid[AUTHZ_UUID_LEN];
	const struct grant *grants; /* every grant of the unit (chains stay in their unit) */
	size_t ngrants;
	const struct city_holder *holders; /* city roles of the user and of root grantors */
	size_t nholders;
};

struct authz_link {
	char id[AUTHZ_ID_LEN]; /* grant id, or "" for a city role */
	char role[64];
	int unit; /* 0 for a city role */
	char grantee_dn[AUTHZ_DN_LEN];
	char grantor_dn[AUTHZ_DN_LEN];
	time_t not_after; /* 0 for a city role */
};

struct authz_decision {
	bool allow;
	char reason[160];
	struct authz_link chain[AUTHZ_MAX_CHAIN];
	size_t nchain;
	time_t valid_until; /* the decision may change at this time (a grant starts or ends) */
};

/* Is grant g valid at now (itself, every ancestor, and the authority of the
 * grantor of the chain's root)?  On false, reason says why. */
bool grant_valid(const struct roles *roles, const struct authz_facts *f, const struct grant *g, time_t now,
		 char *reason, size_t reasonlen);

/* decide(user, action, unit) on the facts.  unit_known: the unit is one of
 * the city's.  The chain is the user's grant first, then its ancestors. */
void authz_decide(const struct roles *roles, const struct authz_facts *f, const char *action, int unit,
		  bool unit_known, time_t now, struct authz_decision *d);

/* The grant among f's that the user would grant `role` under in that unit:
 * returns 1 and sets *parent (NULL: authority from a city role) and
 * *limit_after (the latest not_after allowed; 0: none), 0 with reason if the
 * user may not grant it. */
int authz_grant_authority(const struct roles *roles, const struct authz_facts *f, const char *role,
			  int may_delegate, time_t now, const struct grant **parent, time_t *limit_after,
			  char *reason, size_t reasonlen);

/* "2026-11-27T10:00:00Z" <-> time_t; LDAP GeneralizedTime "20261127100000Z" too. */
int authz_time_parse(const char *s, time_t *t);
void authz_time_rfc3339(time_t t, char *out, size_t outlen);
void authz_time_ldap(time_t t, char *out, size_t outlen);

#endif
