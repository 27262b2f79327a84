/* login.c — who is asking: the one directory entry of a uid, and HTTP Basic
 * logins checked by a bind, a success cached as an HMAC (never the password). */
#include "authz/login.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/internal.h"

struct login {
	struct login *next;
	char key[128]; /* the uid as typed, normalized (authz_uid_normalize) */
	unsigned char mac[32];
	unsigned gen;
	time_t expires;
	struct authz_user user;
};

/* ------------------------------------------------------------ people and logins */

void az_logins_drop(struct authz *a)
{
	for (size_t b = 0; b < CACHE_BUCKETS; b++)
		while (a->logins[b] != NULL) {
			struct login *n = a->logins[b]->next;

			OPENSSL_cleanse(a->logins[b], sizeof(*a->logins[b]));
			free(a->logins[b]);
			a->logins[b] = n;
		}
}

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
	long long t0 = az_mono_us();
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
	az_directory_seen(a, r, t0);
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
	h = az_bucket(key);
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
