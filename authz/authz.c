/* authz.c — decisions against the directory: the facts of one user in one
 * unit (or city-wide), cached per person with a TTL, fail-closed. */
#include "authz/authz.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authz/internal.h"
#include "common/log.h"

#define CACHE_MAX 100000

struct centry {
	struct centry *next;
	char *key;
	unsigned gen;
	time_t expires;
	struct facts fx;
};

#define PROBE_MS 1000 /* a cached decision trusts the directory's last answer this long */

long long az_mono_us(void)
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
void az_directory_seen(struct authz *a, int r, long long t0_us)
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
	t0 = az_mono_us();
	az_directory_seen(a, lpool_probe(a->pool, err, sizeof(err)), t0);
	return !atomic_load(&a->down);
}

unsigned az_bucket(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CACHE_BUCKETS;
}

void az_facts_free(struct facts *fx)
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

			az_facts_free(&a->cache[b]->fx);
			free(a->cache[b]->key);
			free(a->cache[b]);
			a->cache[b] = n;
		}
	}
	a->ncached = 0;
	az_logins_drop(a);
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

int az_grow(void **v, size_t *cap, size_t n, size_t size)
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

void az_grant_read(LDAP *ld, LDAPMessage *e, const char *dn, struct grant *g)
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
		if (az_grow((void **)&r->fx->g, &r->fx->capg, r->fx->ng, sizeof(struct grant)) < 0)
			rc = -1;
		else
			az_grant_read(ld, e, dn, &r->fx->g[r->fx->ng++]);
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
				if (az_grow((void **)&r->members, &r->capm, r->nmembers,
					    sizeof(struct member)) < 0) {
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

	if (az_grow((void **)&fx->h, &fx->caph, fx->nh, sizeof(*fx->h)) < 0)
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

/* The first search's filter: the user, the city role groups and, for a
 * unit, its entry and every grant in it (a new string, NULL when memory
 * runs out).  r1 learns the groups' DNs. */
static char *facts_filter(struct authz *a, const char *uid, int unit, struct rt1 *r1)
{
	char *esc = lpool_filter_escape(uid), *filter = NULL;
	size_t flen = 0;
	FILE *f;

	if (esc == NULL || (f = open_memstream(&filter, &flen)) == NULL) {
		free(esc);
		return NULL;
	}
	fprintf(f, "(|(&(objectClass=inetOrgPerson)(uid=%s))", esc);
	if (unit != 0)
		fprintf(f,
			"(&(objectClass=syncdGrant)(syncdUnit=%05d))"
			"(&(objectClass=syncdUnitObject)(syncdUnitCode=%05d))",
			unit, unit);
	fputs("(&(objectClass=groupOfNames)(|", f);
	for (size_t i = 0; i < a->roles->n && r1->ngroups < 8; i++) {
		char dn[AUTHZ_DN_LEN];

		if (a->roles->v[i].scope != ROLE_CITY)
			continue;
		fprintf(f, "(cn=%s)", a->roles->v[i].group); /* checked names: a-z 0-9 _ . */
		snprintf(dn, sizeof(dn), "cn=%s,ou=roles,%s", a->roles->v[i].group, a->base);
		dn_norm(dn, r1->group_dn[r1->ngroups], AUTHZ_DN_LEN);
		r1->group_role[r1->ngroups++] = &a->roles->v[i];
	}
	fputs(")))", f);
	fclose(f);
	free(esc);
	return filter;
}

/* One user in one unit (unit 0: city-wide, the user and the city role
 * groups only): at most two round trips.  The first fetches the user, every
 * grant of the unit, the unit entry and the city role groups;
 * the second, only if a chain has a root, who the roots' grantors are now. */
int az_facts_load(struct authz *a, const char *uid, int unit, struct facts *fx, char *unit_dn,
		  size_t unit_dn_len, char *err, size_t errlen)
{
	static char *attrs1[] = {"uid", "entryUUID", "member", "syncdUnitCode", GRANT_ATTRS, NULL};
	long long t0 = az_mono_us();
	static char *attrs2[] = {"entryUUID", NULL};
	struct rt1 r1;
	char *filter, *uuids = NULL;
	size_t ulen = 0;
	FILE *f;
	int r = LP_ERROR, nroots = 0;

	memset(fx, 0, sizeof(*fx));
	memset(&r1, 0, sizeof(r1));
	r1.a = a;
	r1.fx = fx;
	filter = facts_filter(a, uid, unit, &r1);
	if (filter == NULL) {
		snprintf(err, errlen, "out of memory");
		return LP_ERROR;
	}
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
		az_facts_free(fx);
	az_directory_seen(a, r, t0);
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

/* The decision on facts; city-wide (unit 0) only a city role allows. */
static void decide(const struct authz *a, const struct facts *fx, const char *action, int unit, time_t now,
		   struct authz_decision *d)
{
	authz_decide(a->roles, &fx->f, action, unit, true, now, d);
	if (unit == 0 && !d->allow && strcmp(d->reason, "no_grant") == 0)
		snprintf(d->reason, sizeof(d->reason), "no_city_role");
}

/* Keeps fx (taken) under key until the TTL or its next grant change ends,
 * unless a grant changed since generation gen. */
static void cache_put(struct authz *a, const char *key, unsigned h, unsigned gen, struct facts *fx,
		      time_t now)
{
	struct centry *e;

	if (atomic_load(&a->ttl) <= 0) {
		az_facts_free(fx);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		az_facts_free(fx);
		return;
	}
	e->fx = *fx;
	e->fx.f.grants = e->fx.g;
	e->fx.f.holders = e->fx.h;
	e->expires = next_change(fx, now, now + atomic_load(&a->ttl));
	pthread_rwlock_wrlock(&a->lock);
	if (gen != a->gen) { /* a grant changed meanwhile: these facts may be stale */
		pthread_rwlock_unlock(&a->lock);
		az_facts_free(&e->fx);
		free(e->key);
		free(e);
		return;
	}
	if (a->ncached >= CACHE_MAX)
		cache_drop_all(a);
	for (struct centry **pp = &a->cache[h]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			struct centry *old = *pp;

			*pp = old->next;
			az_facts_free(&old->fx);
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
}

/* What a caller asks of one person's facts in a unit, on the cached facts
 * or on facts read now (then cached). */
struct facts_use {
	void (*use)(const struct authz *a, const struct facts *fx, time_t now, void *arg);
	void *arg;
};

/* Runs u on the facts of uid in unit (0: city-wide): cached while the
 * directory answers, else read now and cached.  Fail closed: 0, or the
 * directory's LP_UNAVAILABLE / LP_ERROR (u not run). */
static int facts_with(struct authz *a, const char *uid, int unit, const struct facts_use *u)
{
	char key[160], norm[128], err[512];
	struct facts fx;
	struct centry *e;
	time_t now = time(NULL);
	unsigned gen, h;
	bool up;
	int r;

	/* one cache entry per person, however the uid was typed (the directory
	 * resolves every spelling to the same entry) */
	authz_uid_normalize(uid, norm, sizeof(norm));
	snprintf(key, sizeof(key), "%s%c%05d", norm, 0x1f, unit);
	h = az_bucket(key);
	/* fail closed: while the directory is unreachable nothing cached is trusted */
	up = directory_up(a);
	pthread_rwlock_rdlock(&a->lock);
	for (e = up ? a->cache[h] : NULL; e != NULL; e = e->next)
		if (e->gen == a->gen && e->expires > now && strcmp(e->key, key) == 0) {
			u->use(a, &e->fx, now, u->arg);
			pthread_rwlock_unlock(&a->lock);
			return 0;
		}
	gen = a->gen;
	pthread_rwlock_unlock(&a->lock);

	r = az_facts_load(a, uid, unit, &fx, NULL, 0, err, sizeof(err));
	if (r != 0) {
		if (unit == 0)
			log_warn("city-wide decision for %s: directory: %s", uid, err);
		else
			log_warn("decision for %s in %05d: directory: %s", uid, unit, err);
		return r;
	}
	u->use(a, &fx, now, u->arg);
	cache_put(a, key, h, gen, &fx, now);
	return 0;
}

struct decide_args {
	const char *action;
	int unit;
	struct authz_decision *d;
};

static void decide_use(const struct authz *a, const struct facts *fx, time_t now, void *arg)
{
	struct decide_args *x = arg;

	decide(a, fx, x->action, x->unit, now, x->d);
}

/* decide(uid, action, unit) on uid's facts in unit (0: city-wide). */
static int decide_cached(struct authz *a, const char *uid, const char *action, int unit,
			 struct authz_decision *d)
{
	struct decide_args x = {action, unit, d};
	struct facts_use u = {decide_use, &x};
	int r = facts_with(a, uid, unit, &u);

	if (r != 0)
		deny(d, r == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error");
	return r;
}

struct in_force_args {
	const char *id;
	int valid; /* 1 in force, 0 not, -1 not among the facts */
	char *reason;
	size_t reasonlen;
};

static void in_force_use(const struct authz *a, const struct facts *fx, time_t now, void *arg)
{
	struct in_force_args *x = arg;
	const struct grant *g = facts_grant(fx, x->id);

	if (g == NULL) {
		x->valid = -1;
		snprintf(x->reason, x->reasonlen, "unknown_grant");
		return;
	}
	x->valid = grant_valid(a->roles, &fx->f, g, now, x->reason, x->reasonlen) ? 1 : 0;
}

int authz_grant_in_force(struct authz *a, const char *uid, int unit, const char *grant_id, char *reason,
			 size_t reasonlen)
{
	struct in_force_args x = {grant_id, -1, reason, reasonlen};
	struct facts_use u = {in_force_use, &x};
	int r;

	reason[0] = '\0';
	if (uid == NULL || uid[0] == '\0' || strlen(uid) >= 128 || !authz_unit_known(a, unit)) {
		snprintf(reason, reasonlen, "unknown_grant");
		return 0;
	}
	r = facts_with(a, uid, unit, &u);
	if (r != 0) {
		snprintf(reason, reasonlen, "%s",
			 r == LP_UNAVAILABLE ? "directory_unavailable" : "directory_error");
		return r;
	}
	return x.valid == 1;
}

int authz_check(struct authz *a, const char *uid, const char *action, int unit, struct authz_decision *d)
{
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
	return decide_cached(a, uid, action, unit, d);
}

int authz_city_role(struct authz *a, const char *uid, const char *action, struct authz_decision *d)
{
	if (!roles_action_known(a->roles, action)) {
		deny(d, "unknown_action");
		return 0;
	}
	if (uid == NULL || uid[0] == '\0' || strlen(uid) >= 128) {
		deny(d, "unknown_user");
		return 0;
	}
	return decide_cached(a, uid, action, 0, d);
}
