/* authz.c — decisions, grants and logins against the directory. */
#include "authz/authz.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"

#define CACHE_BUCKETS 4096
#define CACHE_MAX     100000
#define PAGE_SIZE     500

/* What a grant entry holds (grant_read reads these). */
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

struct centry {
	struct centry *next;
	char *key;
	unsigned gen;
	time_t expires;
	struct facts fx;
};

struct login {
	struct login *next;
	char key[128]; /* the uid as typed, normalized (authz_uid_normalize) */
	unsigned char mac[32];
	unsigned gen;
	time_t expires;
	struct authz_user user;
};

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
	struct centry *cache[CACHE_BUCKETS];
	struct login *logins[CACHE_BUCKETS];
	unsigned char key[32]; /* keys the login hashes; never leaves memory */
};

#define PROBE_MS 1000 /* a cached decision trusts the directory's last answer this long */

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const double authz_ldap_bounds[AUTHZ_LDAP_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
						      0.025,  0.05,  0.1,    0.25,  1};

/* One directory operation's time into the histogram. */
static void ldap_observe(struct authz *a, long long us)
{
	size_t b = 0;

	while (b < AUTHZ_LDAP_BUCKETS && (double)us / 1e6 > authz_ldap_bounds[b])
		b++;
	atomic_fetch_add(&a->ldap_hist[b], 1);
	atomic_fetch_add(&a->ldap_sum_us, (unsigned long long)us);
}

void authz_ldap_histogram(struct authz *a, unsigned long *counts, double *sum)
{
	for (size_t b = 0; b <= AUTHZ_LDAP_BUCKETS; b++)
		counts[b] = atomic_load(&a->ldap_hist[b]);
	*sum = (double)atomic_load(&a->ldap_sum_us) / 1e6;
}

/* Records whether the directory answered (r != LP_UNAVAILABLE). */
static void directory_seen(struct authz *a, int r, long long t0_us)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ldap_observe(a, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - t0_us);
	atomic_store(&a->down, r == LP_UNAVAILABLE);
	if (r != LP_UNAVAILABLE)
		atomic_store(&a->last_ok_ms, mono_ms());
}

/* Fail closed with a cache: if the directory has not answered for a while,
 * ask it something cheap before a cached decision is used. */
static bool directory_up(struct authz *a)
{
	char err[256];
	long long t0;

	if (atomic_load(&a->down))
		return false;
	if (mono_ms() - atomic_load(&a->last_ok_ms) < PROBE_MS)
		return true;
	t0 = mono_us();
	directory_seen(a, lpool_probe(a->pool, err, sizeof(err)), t0);
	return !atomic_load(&a->down);
}

static unsigned str_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CACHE_BUCKETS;
}

static void facts_free(struct facts *fx)
{
	free(fx->g);
	free(fx->h);
	memset(fx, 0, sizeof(*fx));
}

static void cache_drop_all(struct authz *a)
{
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		while (a->cache[b] != NULL) {
			struct centry *n = a->cache[b]->next;

			facts_free(&a->cache[b]->fx);
			free(a->cache[b]->key);
			free(a->cache[b]);
			a->cache[b] = n;
		}
		while (a->logins[b] != NULL) {
			struct login *n = a->logins[b]->next;

			OPENSSL_cleanse(a->logins[b], sizeof(*a->logins[b]));
			free(a->logins[b]);
			a->logins[b] = n;
		}
	}
	a->ncached = 0;
}

struct authz *authz_new(const struct authz_conf *conf, struct roles *roles, char *err, size_t errlen)
{
	struct authz *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->base = strdup(conf->base)) == NULL ||
	    (a->units = calloc(conf->nunits + 1, sizeof(int))) == NULL ||
	    RAND_bytes(a->key, sizeof(a->key)) != 1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(a->units, conf->units, conf->nunits * sizeof(int));
	a->nunits = conf->nunits;
	a->ttl = conf->cache_ttl;
	a->pool = lpool_new(&conf->ldap, err, errlen);
	if (a->pool == NULL)
		goto fail;
	pthread_rwlock_init(&a->lock, NULL);
	a->roles = roles;
	return a;
fail:
	if (a != NULL) {
		free(a->base);
		free(a->units);
		free(a);
	}
	roles_free(roles);
	return NULL;
}

void authz_free(struct authz *a)
{
	if (a == NULL)
		return;
	cache_drop_all(a);
	pthread_rwlock_destroy(&a->lock);
	lpool_free(a->pool);
	roles_free(a->roles);
	for (size_t i = 0; i < a->nretired; i++)
		roles_free(a->retired[i]);
	OPENSSL_cleanse(a->key, sizeof(a->key));
	free(a->base);
	free(a->units);
	free(a);
}

const struct roles *authz_roles(const struct authz *a)
{
	return a->roles;
}

struct ldap_pool *authz_pool(struct authz *a)
{
	return a->pool;
}

bool authz_unit_known(const struct authz *a, int unit)
{
	for (size_t i = 0; i < a->nunits; i++)
		if (a->units[i] == unit)
			return true;
	return false;
}

void authz_reload(struct authz *a, struct roles *roles, long cache_ttl)
{
	pthread_rwlock_wrlock(&a->lock);
	if (roles != NULL) {
		if (a->nretired == 16) { /* sixteen reloads ago: long done */
			roles_free(a->retired[0]);
			memmove(&a->retired[0], &a->retired[1], 15 * sizeof(a->retired[0]));
			a->nretired--;
		}
		a->retired[a->nretired++] = a->roles;
		a->roles = roles;
	}
	atomic_store(&a->ttl, cache_ttl);
	a->gen++;
	cache_drop_all(a);
	pthread_rwlock_unlock(&a->lock);
}

bool authz_directory_up(struct authz *a)
{
	return !atomic_load(&a->down);
}

void authz_cache_clear(struct authz *a)
{
	pthread_rwlock_wrlock(&a->lock);
	a->gen++;
	cache_drop_all(a);
	pthread_rwlock_unlock(&a->lock);
}

/* ------------------------------------------------------------ DNs */

/* DN in one comparable spelling (RFC 4514, lower case), or "" if invalid. */
static void dn_norm(const char *dn, char *out, size_t outlen)
{
	char *n = NULL;

	out[0] = '\0';
	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &n, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    n == NULL)
		return;
	snprintf(out, outlen, "%s", n);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	ldap_memfree(n);
}

void authz_dn_uid(const char *dn, char *uid, size_t uidlen)
{
	LDAPDN parsed = NULL;

	uid[0] = '\0';
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || parsed == NULL)
		return;
	if (parsed[0] != NULL && parsed[0][0] != NULL && parsed[0][1] == NULL &&
	    strncasecmp(parsed[0][0]->la_attr.bv_val, "uid", parsed[0][0]->la_attr.bv_len) == 0 &&
	    parsed[0][0]->la_attr.bv_len == 3)
		snprintf(uid, uidlen, "%.*s", (int)parsed[0][0]->la_value.bv_len,
			 parsed[0][0]->la_value.bv_val);
	ldap_dnfree(parsed);
}

/* ------------------------------------------------------------ reading the directory */

struct member {
	char dn[AUTHZ_DN_LEN]; /* normalized */
	const struct role *role;
};

struct rt1 {
	struct authz *a;
	struct facts *fx;
	int nusers;
	char unit_dn[AUTHZ_DN_LEN];
	struct member *members;
	size_t nmembers, capm;
	char group_dn[8][AUTHZ_DN_LEN]; /* normalized DN of each city role's group */
	const struct role *group_role[8];
	size_t ngroups;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*v, (*cap ? *cap * 2 : 16) * size);
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

static time_t attr_time(LDAP *ld, LDAPMessage *e, const char *attr)
{
	char v[32];
	time_t t = 0;

	if (lpool_attr(ld, e, attr, v, sizeof(v)) == 0)
		(void)authz_time_parse(v, &t);
	return t;
}

static void grant_read(LDAP *ld, LDAPMessage *e, const char *dn, struct grant *g)
{
	char v[32];

	memset(g, 0, sizeof(*g));
	snprintf(g->dn, sizeof(g->dn), "%s", dn);
	(void)lpool_attr(ld, e, "cn", g->id, sizeof(g->id));
	(void)lpool_attr(ld, e, "syncdGrantee", g->grantee_dn, sizeof(g->grantee_dn));
	(void)lpool_attr(ld, e, "syncdGranteeUUID", g->grantee_uuid, sizeof(g->grantee_uuid));
	(void)lpool_attr(ld, e, "syncdRole", g->role, sizeof(g->role));
	(void)lpool_attr(ld, e, "syncdGrantor", g->grantor_dn, sizeof(g->grantor_dn));
	(void)lpool_attr(ld, e, "syncdGrantorUUID", g->grantor_uuid, sizeof(g->grantor_uuid));
	(void)lpool_attr(ld, e, "syncdParentGrant", g->parent, sizeof(g->parent));
	if (lpool_attr(ld, e, "syncdUnit", v, sizeof(v)) == 0)
		g->unit = atoi(v);
	if (lpool_attr(ld, e, "syncdDepth", v, sizeof(v)) == 0)
		g->depth = atoi(v);
	g->revoked = lpool_attr(ld, e, "syncdRevoked", v, sizeof(v)) == 0 && strcasecmp(v, "TRUE") == 0;
	g->not_before = attr_time(ld, e, "syncdNotBefore");
	g->not_after = attr_time(ld, e, "syncdNotAfter");
	g->created = attr_time(ld, e, "syncdCreated");
	/* an unreadable time makes the grant invalid, never open-ended */
	if (g->not_after == 0)
		g->revoked = true;
}

static int rt1_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct rt1 *r = arg;
	char *dn = ldap_get_dn(ld, e), v[AUTHZ_DN_LEN], norm[AUTHZ_DN_LEN];
	struct berval **vals;
	int rc = 0;

	if (dn == NULL)
		return 0;
	if (lpool_attr(ld, e, "syncdRole", v, sizeof(v)) == 0) {
		if (grow((void **)&r->fx->g, &r->fx->capg, r->fx->ng, sizeof(struct grant)) < 0)
			rc = -1;
		else
			grant_read(ld, e, dn, &r->fx->g[r->fx->ng++]);
	} else if (lpool_attr(ld, e, "syncdUnitCode", v, sizeof(v)) == 0) {
		snprintf(r->unit_dn, sizeof(r->unit_dn), "%s", dn);
	} else if ((vals = ldap_get_values_len(ld, e, "member")) != NULL) {
		dn_norm(dn, norm, sizeof(norm));
		for (size_t k = 0; k < r->ngroups; k++) {
			if (strcmp(norm, r->group_dn[k]) != 0)
				continue; /* a group of that name elsewhere in the tree counts for nothing */
			for (size_t i = 0; vals[i] != NULL && rc == 0; i++) {
				char m[AUTHZ_DN_LEN];

				snprintf(m, sizeof(m), "%.*s", (int)vals[i]->bv_len, vals[i]->bv_val);
				if (grow((void **)&r->members, &r->capm, r->nmembers, sizeof(struct member)) <
				    0) {
					rc = -1;
					break;
				}
				dn_norm(m, r->members[r->nmembers].dn, AUTHZ_DN_LEN);
				r->members[r->nmembers++].role = r->group_role[k];
			}
		}
		ldap_value_free_len(vals);
	} else if (lpool_attr(ld, e, "uid", v, sizeof(v)) == 0) {
		r->nusers++;
		snprintf(r->fx->f.user_dn, sizeof(r->fx->f.user_dn), "%s", dn);
		(void)lpool_attr(ld, e, "entryUUID", r->fx->f.user_uuid, sizeof(r->fx->f.user_uuid));
	}
	ldap_memfree(dn);
	return rc;
}

static int holder_add(struct facts *fx, const char *uuid, const char *dn, const struct role *role)
{
	struct city_holder *h;

	if (grow((void **)&fx->h, &fx->caph, fx->nh, sizeof(*fx->h)) < 0)
		return -1;
	h = &fx->h[fx->nh++];
	snprintf(h->uuid, sizeof(h->uuid), "%s", uuid);
	snprintf(h->dn, sizeof(h->dn), "%s", dn);
	h->role = role;
	return 0;
}

struct rt2 {
	struct rt1 *r1;
	struct facts *fx;
};

static int rt2_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct rt2 *r = arg;
	char *dn = ldap_get_dn(ld, e), norm[AUTHZ_DN_LEN], uuid[AUTHZ_UUID_LEN];
	int rc = 0;

	if (dn == NULL)
		return 0;
	dn_norm(dn, norm, sizeof(norm));
	if (lpool_attr(ld, e, "entryUUID", uuid, sizeof(uuid)) == 0)
		for (size_t i = 0; i < r->r1->nmembers && rc == 0; i++)
			if (strcmp(r->r1->members[i].dn, norm) == 0)
				rc = holder_add(r->fx, uuid, dn, r->r1->members[i].role);
	ldap_memfree(dn);
	return rc;
}

static const struct grant *facts_grant(const struct facts *fx, const char *id)
{
	for (size_t i = 0; i < fx->ng; i++)
		if (strcasecmp(fx->g[i].id, id) == 0)
			return &fx->g[i];
	return NULL;
}

/* Keeps the user's grants and their ancestors only (what decisions read). */
static void facts_trim(struct facts *fx)
{
	bool *keep = calloc(fx->ng + 1, sizeof(bool));
	size_t n = 0;

	if (keep == NULL)
		return; /* keeping everything is correct, only larger */
	for (size_t i = 0; i < fx->ng; i++) {
		const struct grant *g = &fx->g[i];

		if (fx->f.user_uuid[0] == '\0' || strcasecmp(g->grantee_uuid, fx->f.user_uuid) != 0)
			continue;
		for (int d = 0; g != NULL && d < AUTHZ_MAX_CHAIN; d++) {
			keep[g - fx->g] = true;
			g = g->parent[0] ? facts_grant(fx, g->parent) : NULL;
		}
		/* same DN, other entryUUID: kept to explain the refusal */
	}
	for (size_t i = 0; i < fx->ng; i++)
		if (keep[i] || strcasecmp(fx->g[i].grantee_dn, fx->f.user_dn) == 0) {
			if (n != i)
				fx->g[n] = fx->g[i];
			n++;
		}
	fx->ng = n;
	free(keep);
}

/* One user in one unit: at most two round trips.  The first fetches the
 * user, every grant of the unit, the unit entry and the city role groups;
 * the second, only if a chain has a root, who the roots' grantors are now. */
static int facts_load(struct authz *a, const char *uid, int unit, struct facts *fx, char *unit_dn,
		      size_t unit_dn_len, char *err, size_t errlen)
{
	static char *attrs1[] = {"uid", "entryUUID", "member", "syncdUnitCode", GRANT_ATTRS, NULL};
	long long t0 = mono_us();
	static char *attrs2[] = {"entryUUID", NULL};
	struct rt1 r1;
	char *esc = lpool_filter_escape(uid), *filter = NULL, *uuids = NULL;
	size_t flen = 0, ulen = 0;
	FILE *f;
	int r = LP_ERROR, nroots = 0;

	memset(fx, 0, sizeof(*fx));
	memset(&r1, 0, sizeof(r1));
	r1.a = a;
	r1.fx = fx;
	if (esc == NULL || (f = open_memstream(&filter, &flen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(esc);
		return LP_ERROR;
	}
	fprintf(f,
		"(|(&(objectClass=inetOrgPerson)(uid=%s))(&(objectClass=syncdGrant)(syncdUnit=%05d))"
		"(&(objectClass=syncdUnitObject)(syncdUnitCode=%05d))(&(objectClass=groupOfNames)(|",
		esc, unit, unit);
	for (size_t i = 0; i < a->roles->n && r1.ngroups < 8; i++) {
		char dn[AUTHZ_DN_LEN];

		if (a->roles->v[i].scope != ROLE_CITY)
			continue;
		fprintf(f, "(cn=%s)", a->roles->v[i].group); /* checked names: a-z 0-9 _ . */
		snprintf(dn, sizeof(dn), "cn=%s,ou=roles,%s", a->roles->v[i].group, a->base);
		dn_norm(dn, r1.group_dn[r1.ngroups], AUTHZ_DN_LEN);
		r1.group_role[r1.ngroups++] = &a->roles->v[i];
	}
	fputs(")))", f);
	fclose(f);
	free(esc);
	r = lpool_search(a->pool, a->base, LDAP_SCOPE_SUBTREE, filter, attrs1, PAGE_SIZE, rt1_entry, &r1, err,
			 errlen);
	free(filter);
	if (r != 0)
		goto out;
	if (r1.nusers != 1) { /* none, or ambiguous: nobody */
		fx->f.user_dn[0] = '\0';
		fx->f.user_uuid[0] = '\0';
	}
	if (unit_dn != NULL)
		snprintf(unit_dn, unit_dn_len, "%s", r1.unit_dn);
	if (fx->f.user_uuid[0] != '\0') {
		char norm[AUTHZ_DN_LEN];

		dn_norm(fx->f.user_dn, norm, sizeof(norm));
		for (size_t i = 0; i < r1.nmembers; i++)
			if (strcmp(r1.members[i].dn, norm) == 0 &&
			    holder_add(fx, fx->f.user_uuid, fx->f.user_dn, r1.members[i].role) < 0)
				goto oom;
	}
	facts_trim(fx);
	/* the roots of the user's chains: is each grantor still a city role holder? */
	f = open_memstream(&uuids, &ulen);
	if (f == NULL)
		goto oom;
	fputs("(|", f);
	for (size_t i = 0; i < fx->ng; i++) {
		char *e;

		if (fx->g[i].parent[0] != '\0' || fx->g[i].grantor_uuid[0] == '\0')
			continue;
		e = lpool_filter_escape(fx->g[i].grantor_uuid);
		if (e == NULL) {
			fclose(f);
			goto oom;
		}
		fprintf(f, "(entryUUID=%s)", e);
		free(e);
		nroots++;
	}
	fputs(")", f);
	fclose(f);
	if (nroots > 0 && r1.nmembers > 0) {
		struct rt2 r2 = {.r1 = &r1, .fx = fx};

		r = lpool_search(a->pool, a->base, LDAP_SCOPE_SUBTREE, uuids, attrs2, 0, rt2_entry, &r2, err,
				 errlen);
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	r = LP_ERROR;
out:
	free(uuids);
	free(r1.members);
	fx->f.grants = fx->g;
	fx->f.ngrants = fx->ng;
	fx->f.holders = fx->h;
	fx->f.nholders = fx->nh;
	if (r != 0)
		facts_free(fx);
	directory_seen(a, r, t0);
	return r;
}

/* ------------------------------------------------------------ decisions */

static time_t next_change(const struct facts *fx, time_t now, time_t until)
{
	for (size_t i = 0; i < fx->ng; i++) {
		if (fx->g[i].not_before > now && fx->g[i].not_before < until)
			until = fx->g[i].not_before;
		if (fx->g[i].not_after > now && fx->g[i].not_after < until)
			until = fx->g[i].not_after;
	}
	return until;
}

static void deny(struct authz_decision *d, const char *reason)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

int authz_check(struct authz *a, const char *uid, const char *action, int unit, struct authz_decision *d)
{
	char key[160], norm[128], err[512];
	struct facts fx;
	struct centry *e;
	time_t now = time(NULL);
	unsigned gen, h;
	bool up;
	int r;

	if (!roles_action_known(a->roles, action)) {
		deny(d, "unknown_action");
		return 0;
	}
	if (!authz_unit_known(a, unit)) {
		deny(d, "unknown_unit");
		return 0;
	}
	if (uid == NULL || uid[0] == '\0' || strlen(uid) >= 128) {
		deny(d, "unknown_user");
		return 0;
	}
	/* one cache entry per person, however the uid was typed (the directory
	 * resolves every spelling to the same entry) */
	authz_uid_normalize(uid, norm, sizeof(norm));
	snprintf(key, sizeof(key), "%s%c%05d", norm, 0x1f, unit);
	h = str_hash(key);
	/* fail closed: while the directory is unreachable nothing cached is trusted */
	up = directory_up(a);
	pthread_rwlock_rdlock(&a->lock);
	for (e = up ? a->cache[h] : NULL; e != NULL; e = e->next)
		if (e->gen == a->gen && e->expires > now && strcmp(e->key, key) == 0) {
			authz_decide(a->roles, &e->fx.f, action, unit, true, now, d);
			pthread_rwlock_unlock(&a->lock);
			return 0;
		}
	gen = a->gen;
	pthread_rwlock_unlock(&a->lock);

	r = facts_load(a, uid, unit, &fx, NULL, 0, err, sizeof(err));
	if (r != 0) {
		log_warn("decision for %s in %05d: directory: %s", uid, unit, err);
		deny(d, r == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error");
		return r;
	}
	authz_decide(a->roles, &fx.f, action, unit, true, now, d);
	if (atomic_load(&a->ttl) <= 0) {
		facts_free(&fx);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		facts_free(&fx);
		return 0;
	}
	e->fx = fx;
	e->fx.f.grants = e->fx.g;
	e->fx.f.holders = e->fx.h;
	e->expires = next_change(&fx, now, now + atomic_load(&a->ttl));
	pthread_rwlock_wrlock(&a->lock);
	if (gen != a->gen) { /* a grant changed meanwhile: these facts may be stale */
		pthread_rwlock_unlock(&a->lock);
		facts_free(&e->fx);
		free(e->key);
		free(e);
		return 0;
	}
	if (a->ncached >= CACHE_MAX)
		cache_drop_all(a);
	for (struct centry **pp = &a->cache[h]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			struct centry *old = *pp;

			*pp = old->next;
			facts_free(&old->fx);
			free(old->key);
			free(old);
			a->ncached--;
			break;
		}
	e->gen = gen;
	e->next = a->cache[h];
	a->cache[h] = e;
	a->ncached++;
	pthread_rwlock_unlock(&a->lock);
	return 0;
}

/* ------------------------------------------------------------ people and logins */

struct user_search {
	int n;
	struct authz_user *u;
};

static int user_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct user_search *s = arg;
	char *dn = ldap_get_dn(ld, e);

	if (dn == NULL)
		return 0;
	if (s->n++ == 0) {
		snprintf(s->u->dn, sizeof(s->u->dn), "%s", dn);
		(void)lpool_attr(ld, e, "entryUUID", s->u->uuid, sizeof(s->u->uuid));
		(void)lpool_attr(ld, e, "uid", s->u->uid, sizeof(s->u->uid));
		(void)lpool_attr(ld, e, "cn", s->u->name, sizeof(s->u->name));
	}
	ldap_memfree(dn);
	return 0;
}

int authz_user_find(struct authz *a, const char *uid, struct authz_user *u, char *err, size_t errlen)
{
	static char *attrs[] = {"uid", "entryUUID", "cn", NULL};
	long long t0 = mono_us();
	struct user_search s = {.u = u};
	char *esc, filter[512];
	int r;

	memset(u, 0, sizeof(*u));
	if (uid == NULL || uid[0] == '\0' || strlen(uid) >= sizeof(u->uid)) {
		snprintf(err, errlen, "no such user");
		return 0;
	}
	esc = lpool_filter_escape(uid);
	if (esc == NULL || strlen(esc) > 400) {
		free(esc);
		snprintf(err, errlen, "no such user");
		return 0;
	}
	snprintf(filter, sizeof(filter), "(&(objectClass=inetOrgPerson)(uid=%s))", esc);
	free(esc);
	r = lpool_search(a->pool, a->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, user_entry, &s, err, errlen);
	directory_seen(a, r, t0);
	if (r != 0)
		return r;
	if (s.n != 1 || u->uuid[0] == '\0' || u->uid[0] == '\0') {
		snprintf(err, errlen,
			 s.n == 0  ? "no such user"
			 : s.n > 1 ? "several entries have this uid"
				   : "the entry has no readable uid or entryUUID");
		memset(u, 0, sizeof(*u));
		return 0;
	}
	/* u->uid is the entry's own spelling: AN.NGUYEN and an.nguyen are one person */
	return 1;
}

void authz_uid_normalize(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	bool space = false;

	if (outlen == 0)
		return;
	for (; in != NULL && *in != '\0'; in++) {
		if (*in == ' ') {
			space = n > 0; /* leading spaces vanish, inner runs become one */
			continue;
		}
		if (space && n + 1 < outlen)
			out[n++] = ' ';
		space = false;
		if (n + 1 < outlen)
			out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
}

static void login_mac(const struct authz *a, const char *uid, const char *password, unsigned char mac[32])
{
	unsigned int len = 32;
	size_t ul = strlen(uid), pl = strlen(password);
	unsigned char *msg = malloc(ul + pl + 1);

	memset(mac, 0, 32);
	if (msg == NULL)
		return;
	memcpy(msg, uid, ul);
	msg[ul] = 0;
	memcpy(msg + ul + 1, password, pl);
	HMAC(EVP_sha256(), a->key, sizeof(a->key), msg, ul + pl + 1, mac, &len);
	OPENSSL_cleanse(msg, ul + pl + 1);
	free(msg);
}

/* An unknown uid costs what a known one does: one more bind, as a DN that
 * cannot exist, so the time of a refusal does not say which uids exist. */
static void login_decoy(struct authz *a, const char *password)
{
	unsigned char rnd[16];
	char dn[AUTHZ_DN_LEN], hex[33], err[256];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(dn, sizeof(dn), "uid=syncd-nobody-%s,ou=people,%.400s", hex, a->base);
	(void)lpool_user_bind(a->pool, dn, password, err, sizeof(err));
}

int authz_authenticate(struct authz *a, const char *uid, const char *password, struct authz_user *u,
		       char *err, size_t errlen)
{
	unsigned char mac[32];
	char key[128];
	time_t now = time(NULL);
	unsigned h;
	struct login *l;
	int r;

	memset(u, 0, sizeof(*u));
	if (password == NULL || password[0] == '\0') {
		snprintf(err, errlen, "empty password");
		return 0;
	}
	if (uid == NULL || uid[0] == '\0' || strlen(uid) >= sizeof(u->uid)) {
		snprintf(err, errlen, "no such user");
		return 0;
	}
	/* the directory matches uids ignoring case and extra spaces: so does the cache */
	authz_uid_normalize(uid, key, sizeof(key));
	login_mac(a, key, password, mac);
	h = str_hash(key);
	pthread_rwlock_rdlock(&a->lock);
	for (l = atomic_load(&a->down) ? NULL : a->logins[h]; l != NULL; l = l->next)
		if (l->gen == a->gen && l->expires > now && strcmp(l->key, key) == 0 &&
		    CRYPTO_memcmp(l->mac, mac, 32) == 0) {
			*u = l->user;
			pthread_rwlock_unlock(&a->lock);
			return 1;
		}
	pthread_rwlock_unlock(&a->lock);
	r = authz_user_find(a, uid, u, err, errlen);
	if (r == 0)
		login_decoy(a, password);
	if (r != 1)
		return r;
	r = lpool_user_bind(a->pool, u->dn, password, err, errlen);
	if (r != 1 || atomic_load(&a->ttl) <= 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return 1;
	snprintf(l->key, sizeof(l->key), "%s", key);
	memcpy(l->mac, mac, 32);
	l->user = *u;
	l->expires = now + (atomic_load(&a->ttl) < 60 ? atomic_load(&a->ttl) : 60);
	pthread_rwlock_wrlock(&a->lock);
	l->gen = a->gen;
	for (struct login **pp = &a->logins[h]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			struct login *old = *pp;

			*pp = old->next;
			OPENSSL_cleanse(old, sizeof(*old));
			free(old);
			break;
		}
	l->next = a->logins[h];
	a->logins[h] = l;
	pthread_rwlock_unlock(&a->lock);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 1;
}

/* ------------------------------------------------------------ grants */

static int status_of(int r)
{
	return r == LP_UNAVAILABLE ? 503 : 500;
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

int authz_grant_create(struct authz *a, const struct authz_user *grantor, const struct grant_request *req,
		       struct grant *out, char *reason, size_t reasonlen)
{
	const struct role *role = roles_find(a->roles, req->role ? req->role : "");
	const struct grant *parent = NULL;
	struct authz_user grantee;
	struct facts fx = {0};
	char unit_dn[AUTHZ_DN_LEN], err[512], id[40];
	unsigned char rnd[16];
	time_t now = time(NULL), limit = 0, not_before, not_after;
	int r = 0, fr;

	memset(out, 0, sizeof(*out));
	if (role == NULL)
		REFUSE(400, "unknown_role (%s is not a role of roles.json)",
		       req->role ? req->role : "(none)");
	if (!authz_unit_known(a, req->unit))
		REFUSE(400, "unknown_unit (%05d is not one of the city's 103 units)", req->unit);
	if (req->may_delegate < 0)
		REFUSE(400, "bad_request (may_delegate must be 0 or more)");
	if (role->scope == ROLE_UNIT && req->may_delegate > role->max_delegate)
		REFUSE(400, "bad_request (may_delegate %d is above the role's maximum %d)", req->may_delegate,
		       role->max_delegate);
	fr = authz_user_find(a, req->grantee, &grantee, err, sizeof(err));
	if (fr < 0)
		REFUSE(status_of(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (fr == 0)
		REFUSE(400, "unknown_user (grantee: %s)", err);
	if (strcasecmp(grantee.uuid, grantor->uuid) == 0)
		REFUSE(403, "self_grant (nobody grants a role to themselves)");
	fr = facts_load(a, grantor->uid, req->unit, &fx, unit_dn, sizeof(unit_dn), err, sizeof(err));
	if (fr != 0)
		REFUSE(status_of(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (strcasecmp(fx.f.user_uuid, grantor->uuid) != 0)
		REFUSE(403, "unknown_user (the grantor's entry changed; log in again)");
	if (authz_grant_authority(a->roles, &fx.f, role->name, req->may_delegate, now, &parent, &limit,
				  reason, reasonlen) != 1) {
		r = 403;
		goto out;
	}
	if (unit_dn[0] == '\0')
		REFUSE(503,
		       "unit_entry_missing (ou=%05d,ou=units is not in the directory: load policies/ldap/example-dit.ldif)",
		       req->unit);
	not_before = req->not_before ? req->not_before : now;
	if (not_before < now - 300)
		REFUSE(400, "not_before_in_past (a grant starts now or later)");
	if (role->scope != ROLE_UNIT)
		REFUSE(403, "role_not_grantable (%s is a city role)", role->name);
	not_after = req->not_after;
	if (not_after == 0) {
		not_after = not_before + role->max_days * 86400L;
		if (limit != 0 && not_after > limit)
			not_after = limit;
	}
	if (not_after <= not_before)
		REFUSE(400, "bad_validity (not_after must be later than not_before)");
	if (not_after > not_before + role->max_days * 86400L)
		REFUSE(400, "exceeds_role_max_duration (%s is granted for at most %ld days)", role->name,
		       role->max_days);
	if (limit != 0 && not_after > limit) {
		char l[32];

		authz_time_rfc3339(limit, l, sizeof(l));
		REFUSE(403,
		       "outlives_grantor_grant (your grant %s ends %s; a grant never outlives its grantor's)",
		       parent ? parent->id : "", l);
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		REFUSE(500, "internal (no randomness for the grant id)");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(out->id, sizeof(out->id), "%s", id);
	if (strlen(unit_dn) > 400)
		REFUSE(500, "internal (the unit entry's DN is too long)");
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
		REFUSE(status_of(fr), "%s (writing the grant: %s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	authz_cache_clear(a);
out:
	facts_free(&fx);
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
	if (grow((void **)&s->g, &s->cap, s->n, sizeof(struct grant)) < 0) {
		ldap_memfree(dn);
		return -1;
	}
	grant_read(ld, e, dn, &s->g[s->n++]);
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

int authz_grant_revoke(struct authz *a, const struct authz_user *actor, const char *id, int *unit,
		       char *reason, size_t reasonlen)
{
	struct grant_search s = {0};
	struct facts fx = {0};
	const struct grant *parent;
	char filter[128], err[512];
	time_t limit;
	int r = 0, fr;

	*unit = 0;
	if (id == NULL || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		REFUSE(404, "unknown_grant (a grant id is 32 hex digits)");
	snprintf(filter, sizeof(filter), "(&(objectClass=syncdGrant)(cn=%s))", id);
	fr = grants_search(a, filter, &s, err, sizeof(err));
	if (fr != 0)
		REFUSE(status_of(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (s.n != 1)
		REFUSE(404, "unknown_grant (no grant %s)", id);
	*unit = s.g[0].unit;
	if (s.g[0].revoked)
		REFUSE(409, "already_revoked (grant %s)", id);
	/* whoever could grant it now, the grantor included: authority lost (own
	 * grant revoked or expired, city group left) takes the power to revoke */
	fr = facts_load(a, actor->uid, s.g[0].unit, &fx, NULL, 0, err, sizeof(err));
	if (fr != 0)
		REFUSE(status_of(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	if (strcasecmp(fx.f.user_uuid, actor->uuid) != 0)
		REFUSE(403, "unknown_user (your entry changed; log in again)");
	if (authz_grant_authority(a->roles, &fx.f, s.g[0].role, 0, time(NULL), &parent, &limit, reason,
				  reasonlen) != 1) {
		r = 403;
		goto out;
	}
	{
		char *t[] = {"TRUE", NULL};
		LDAPMod m = {LDAP_MOD_REPLACE, "syncdRevoked", {t}}, *mods[] = {&m, NULL};

		fr = lpool_modify(a->pool, s.g[0].dn, mods, err, sizeof(err));
	}
	if (fr != 0)
		REFUSE(status_of(fr), "%s (revoking: %s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	authz_cache_clear(a);
out:
	free(s.g);
	facts_free(&fx);
	return r;
}

int authz_grants_list(struct authz *a, int unit, const char *grantee, struct grant **out, size_t *n,
		      char *reason, size_t reasonlen)
{
	struct grant_search s = {0};
	struct authz_user u;
	char filter[256], part[128] = "", err[512];
	int r = 0, fr;

	*out = NULL;
	*n = 0;
	if (unit != 0 && !authz_unit_known(a, unit))
		REFUSE(400, "unknown_unit (%05d is not one of the city's 103 units)", unit);
	if (grantee != NULL) {
		char *esc;

		fr = authz_user_find(a, grantee, &u, err, sizeof(err));
		if (fr < 0)
			REFUSE(status_of(fr), "%s (%s)",
			       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
		if (fr == 0)
			REFUSE(404, "unknown_user (%s)", err);
		esc = lpool_filter_escape(u.uuid);
		if (esc == NULL)
			REFUSE(500, "internal (out of memory)");
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
		REFUSE(status_of(fr), "%s (%s)",
		       fr == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error", err);
	}
	*out = s.g;
	*n = s.n;
out:
	return r;
}
