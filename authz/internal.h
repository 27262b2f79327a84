/* internal.h — what authz.c, grants.c and login.c share: the authz handle,
 * the facts read from the directory for one user and unit, and the timing. */
#ifndef SYNCD_AUTHZ_INTERNAL_H
#define SYNCD_AUTHZ_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "authz/authz.h"

#define CACHE_BUCKETS 4096
#define PAGE_SIZE     500

/* What a grant entry holds (az_grant_read reads these). */
#define GRANT_ATTRS                                                                                          \
	"cn", "syncdGrantee", "syncdGranteeUUID", "syncdRole", "syncdUnit", "syncdGrantor",                  \
		"syncdGrantorUUID", "syncdParentGrant", "syncdNotBefore", "syncdNotAfter", "syncdDepth",     \
		"syncdCreated", "syncdRevoked"

/* What one (user, unit) pair needs: the user, the user's grants with their
 * ancestors, and the city roles of the user and of the chains' roots. */
struct facts {
	struct authz_facts f;
	struct grant *g;
	size_t ng, capg;
	struct city_holder *h;
	size_t nh, caph;
};

struct centry;
struct login;

struct authz {
	char *base;
	int *units;
	size_t nunits;
	atomic_long ttl;
	struct roles *retired[16]; /* roles replaced by reloads: readers may still hold them */
	size_t nretired;
	struct roles *roles;
	struct ldap_pool *pool;
	pthread_rwlock_t lock;
	atomic_ulong ldap_hist[AUTHZ_LDAP_BUCKETS + 1]; /* last: +Inf */
	atomic_ullong ldap_sum_us;
	atomic_bool down;	 /* the last directory operation could not reach it */
	atomic_llong last_ok_ms; /* when the directory last answered (monotonic) */
	unsigned gen;
	size_t ncached;
	struct centry *cache[CACHE_BUCKETS]; /* facts per (user, unit), authz.c */
	struct login *logins[CACHE_BUCKETS]; /* accepted logins, login.c */
	unsigned char key[32];		     /* keys the login hashes; never leaves memory */
};

/* authz.c */
long long az_mono_us(void);
/* Records the time of a directory operation started at t0_us, and whether
 * the directory answered (r != LP_UNAVAILABLE). */
void az_directory_seen(struct authz *a, int r, long long t0_us);
unsigned az_bucket(const char *s);
/* Makes room for one more element of size in *v (n used, *cap allocated). */
int az_grow(void **v, size_t *cap, size_t n, size_t size);
void az_grant_read(LDAP *ld, LDAPMessage *e, const char *dn, struct grant *g);
/* One user in one unit (0: the user and the city roles only); unit_dn, when
 * not NULL, gets the unit entry's DN.  0 or an LP_ code with err. */
int az_facts_load(struct authz *a, const char *uid, int unit, struct facts *fx, char *unit_dn,
		  size_t unit_dn_len, char *err, size_t errlen);
void az_facts_free(struct facts *fx);

/* login.c */
/* Forgets every cached login (under the write lock). */
void az_logins_drop(struct authz *a);

#endif
