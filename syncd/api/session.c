/* session.c — browser sessions: the bounded table (ids kept only as SHA-256,
 * idle and absolute timeouts, expired lazily) and /v1/session. */
#include "syncd/api/session.h"

#include "authz/grants.h"
#include "common/log.h"
#include "syncd/documents/documents.h"
#include "syncd/api/internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	bool used;
	unsigned char key[32]; /* SHA-256 of the id: the id itself is never kept */
	struct session_info info;
};

struct session_table {
	pthread_mutex_t lock;
	struct slot *v;
	size_t cap, n;
	atomic_long idle, max;
};

struct session_table *session_table_new(size_t capacity, long idle, long max)
{
	struct session_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = capacity ? capacity : SESSION_CAPACITY;
	t->v = calloc(t->cap, sizeof(*t->v));
	if (t->v == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	atomic_store(&t->idle, idle);
	atomic_store(&t->max, max);
	return t;
}

void session_table_free(struct session_table *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t->v, t->cap * sizeof(*t->v));
	free(t->v);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void session_table_limits(struct session_table *t, long idle, long max)
{
	atomic_store(&t->idle, idle);
	atomic_store(&t->max, max);
}

void session_table_get_limits(struct session_table *t, long *idle, long *max)
{
	*idle = atomic_load(&t->idle);
	*max = atomic_load(&t->max);
}

bool session_expired(time_t created, time_t last, time_t now, long idle, long max)
{
	return now - last >= idle || now - created >= max || now < created;
}

bool session_token_equal(const char *a, const char *b)
{
	size_t n;

	if (a == NULL || b == NULL || (n = strlen(a)) != strlen(b) || n == 0)
		return false;
	return CRYPTO_memcmp(a, b, n) == 0;
}

static bool hex_token(const char *s, size_t n)
{
	if (n != SESSION_TOKEN_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool session_cookie_parse(const char *header, char id[SESSION_TOKEN_HEX + 1])
{
	const size_t nl = strlen(SESSION_COOKIE);
	const char *p = header;

	id[0] = '\0';
	while (p != NULL && *p != '\0') {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		len = strcspn(p, ";");
		if (len > nl && strncmp(p, SESSION_COOKIE, nl) == 0 && p[nl] == '=') {
			size_t vlen = len - nl - 1;

			while (vlen > 0 && (p[nl + 1 + vlen - 1] == ' ' || p[nl + 1 + vlen - 1] == '\t'))
				vlen--;
			if (hex_token(p + nl + 1, vlen)) {
				memcpy(id, p + nl + 1, SESSION_TOKEN_HEX);
				id[SESSION_TOKEN_HEX] = '\0';
				return true;
			}
		}
		p += len;
	}
	return false;
}

static bool random_hex(char out[SESSION_TOKEN_HEX + 1])
{
	unsigned char rnd[SESSION_TOKEN_HEX / 2];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return false;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return true;
}

static void id_key(const char *id, unsigned char key[32])
{
	unsigned int n = 32;

	if (EVP_Digest(id, strlen(id), key, &n, EVP_sha256(), NULL) != 1)
		memset(key, 0, 32); /* then no slot matches: a used slot's key is a real digest */
}

enum session_result session_create(struct session_table *t, const struct authz_user *u, time_t now,
				   char id[SESSION_TOKEN_HEX + 1], char csrf[SESSION_TOKEN_HEX + 1])
{
	long idle = atomic_load(&t->idle), max = atomic_load(&t->max);
	struct slot *s = NULL;

	if (!random_hex(id) || !random_hex(csrf))
		return SESSION_NO_RANDOM;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->cap && s == NULL; i++)
		if (!t->v[i].used)
			s = &t->v[i];
	/* full: the first expired session makes room; live ones are never evicted */
	for (size_t i = 0; i < t->cap && s == NULL; i++)
		if (session_expired(t->v[i].info.created, t->v[i].info.last, now, idle, max)) {
			s = &t->v[i];
			t->n--;
		}
	if (s == NULL) {
		pthread_mutex_unlock(&t->lock);
		return SESSION_FULL;
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	id_key(id, s->key);
	s->info.user = *u;
	memcpy(s->info.csrf, csrf, SESSION_TOKEN_HEX + 1);
	s->info.created = s->info.last = now;
	t->n++;
	pthread_mutex_unlock(&t->lock);
	return SESSION_OK;
}

/* The used slot of key, or NULL (under the lock). */
static struct slot *slot_find(struct session_table *t, const unsigned char key[32])
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].used && memcmp(t->v[i].key, key, 32) == 0)
			return &t->v[i];
	return NULL;
}

static void slot_clear(struct session_table *t, struct slot *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
	s->used = false;
	t->n--;
}

bool session_lookup(struct session_table *t, const char *id, time_t now, struct session_info *out)
{
	unsigned char key[32];
	struct slot *s;
	bool live = false;

	id_key(id, key);
	pthread_mutex_lock(&t->lock);
	s = slot_find(t, key);
	if (s != NULL && session_expired(s->info.created, s->info.last, now, atomic_load(&t->idle),
					 atomic_load(&t->max))) {
		slot_clear(t, s);
		s = NULL;
	}
	if (s != NULL) {
		s->info.last = now;
		*out = s->info;
		live = true;
	}
	pthread_mutex_unlock(&t->lock);
	return live;
}

bool session_remove(struct session_table *t, const char *id)
{
	unsigned char key[32];
	struct slot *s;

	id_key(id, key);
	pthread_mutex_lock(&t->lock);
	s = slot_find(t, key);
	if (s != NULL)
		slot_clear(t, s);
	pthread_mutex_unlock(&t->lock);
	return s != NULL;
}

size_t session_count(struct session_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ------------------------------------------------------------ /v1/session */

/* {"user","name","csrf","idle","max"}: what sign-in and GET answer alike. */
static json_t *session_json(struct api *api, const struct authz_user *u, const char *csrf)
{
	long idle, max;

	session_table_get_limits(api->sessions, &idle, &max);
	return json_pack("{s:s,s:s,s:s,s:I,s:I}", "user", u->uid, "name", u->name, "csrf", csrf, "idle",
			 (json_int_t)idle, "max", (json_int_t)max);
}

/* POST /v1/session {"user","password"}: the same bind, throttle and audit
 * as HTTP Basic (login_check), then a session and its cookie. */
enum MHD_Result ep_session_create(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	char err[300], id[SESSION_TOKEN_HEX + 1], csrf[SESSION_TOKEN_HEX + 1];
	enum MHD_Result res;
	struct authz_user u;
	json_t *o, *pw;
	const char *user;
	int ok;
	enum session_result sr;

	(void)me;
	(void)hole;
	if (cross_site(c, rq, true, &res))
		return res;
	if (api->az == NULL)
		return respond_error(c, rq, 503, "directory_unavailable",
				     "no [ldap] section in syncd.conf: the API cannot sign anyone in");
	o = body_object(rq, err, sizeof(err));
	explicit_bzero(rq->body.data ? rq->body.data : err, rq->body.data ? rq->body.len : 0);
	if (o == NULL)
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	user = json_string_value(json_object_get(o, "user"));
	pw = json_object_get(o, "password");
	if (user == NULL || user[0] == '\0' || !json_is_string(pw)) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "the body is {\"user\": UID, \"password\": PASSWORD}");
	}
	ok = login_check(api, c, rq, user, json_string_value(pw), "bad_credentials", &u, &res);
	explicit_bzero((char *)(uintptr_t)json_string_value(pw), json_string_length(pw));
	json_decref(o);
	if (!ok)
		return res;
	rq->authed = true;
	sr = session_create(api->sessions, &u, time(NULL), id, csrf);
	if (sr == SESSION_FULL) {
		long idle, max;

		session_table_get_limits(api->sessions, &idle, &max);
		return respond_error(
			c, rq, 503, "sessions_full",
			"%d people are signed in already, the most syncd keeps (nobody is signed "
			"out to make room); try again when sessions end: sign-out, or %ld s unused",
			SESSION_CAPACITY, idle);
	}
	if (sr != SESSION_OK)
		return respond_error(c, rq, 500, "internal", "no randomness for a session id");
	if (!audited(api, rq, "login", 0, "session", "allow", "session")) {
		session_remove(api->sessions, id);
		return audit_down(c, rq);
	}
	snprintf(rq->set_cookie, sizeof(rq->set_cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
		 SESSION_COOKIE, id, api->secure_cookie ? "; Secure" : "");
	explicit_bzero(id, sizeof(id));
	return respond_json(c, rq, 200, session_json(api, &u, csrf));
}

static int grant_order(const void *a, const void *b)
{
	const struct grant *x = a, *y = b;

	return x->unit != y->unit ? (x->unit < y->unit ? -1 : 1) : strcmp(x->role, y->role);
}

/* One active grant as {"id","role","until","not_after","permissions"}. */
static json_t *grant_role_json(const struct roles *roles, const struct grant *g)
{
	const struct role *role = roles_find(roles, g->role);
	json_t *perms = json_array();
	char na[32], until[12];

	for (size_t i = 0; role != NULL && i < role->nperms; i++)
		json_array_append_new(perms, json_string(role->perms[i]));
	authz_time_rfc3339(g->not_after, na, sizeof(na));
	snprintf(until, sizeof(until), "%.10s", na);
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", g->id, "role", g->role, "until", until, "not_after",
			 na, "permissions", perms ? perms : json_array());
}

/* The units where me holds a grant now, each with its roles: authz's grant
 * list for the grantee across units, roles.json for what each role may.
 * NULL when the directory cannot say. */
static json_t *session_units(struct api *api, const struct authz_user *me)
{
	const struct roles *roles = authz_roles(api->az);
	json_t *units = json_array(), *unit = NULL;
	struct grant *g = NULL;
	size_t n = 0;
	char reason[300];
	time_t now = time(NULL);
	int last = -1, r;

	if (authz_grants_list(api->az, 0, me->uid, &g, &n, reason, sizeof(reason)) != AUTHZ_GRANT_OK) {
		log_warn("session of %s: the directory cannot list the grants: %s", me->uid, reason);
		json_decref(units);
		free(g);
		return NULL;
	}
	if (n > 1) /* g is NULL when there is none: qsort's pointer must not be */
		qsort(g, n, sizeof(*g), grant_order);
	for (size_t i = 0; i < n && units != NULL; i++) {
		const struct unit_info *ui;
		char code[12];

		if (g[i].revoked || now < g[i].not_before || now >= g[i].not_after)
			continue;
		/* in force only with its whole chain (a chair replaced ends what
		 * the chair delegated): the rule every decision applies */
		r = authz_grant_in_force(api->az, me->uid, g[i].unit, g[i].id, reason, sizeof(reason));
		if (r < 0) {
			log_warn("session of %s: the directory cannot check grant %s: %s", me->uid, g[i].id,
				 reason);
			json_decref(units);
			units = NULL;
			break;
		}
		if (r == 0)
			continue;
		if (g[i].unit != last) {
			snprintf(code, sizeof(code), "%05d", g[i].unit);
			ui = routing_unit_find(api->deps.rt, g[i].unit);
			unit = json_pack("{s:s,s:s,s:[]}", "code", code, "name", ui ? ui->full_name : code,
					 "roles");
			json_array_append_new(units, unit);
			last = g[i].unit;
		}
		json_array_append_new(json_object_get(unit, "roles"), grant_role_json(roles, &g[i]));
	}
	free(g);
	return units;
}

/* The city roles me holds: each city role of roles.json whose permission
 * authz_city_role allows through that very role.  -1: directory down. */
static int session_city_roles(struct api *api, const struct authz_user *me, json_t *out)
{
	const struct roles *roles = authz_roles(api->az);
	struct authz_decision d;

	for (size_t i = 0; i < roles->n; i++) {
		const struct role *r = &roles->v[i];

		if (r->scope != ROLE_CITY)
			continue;
		for (size_t p = 0; p < r->nperms; p++) {
			if (authz_city_role(api->az, me->uid, r->perms[p], &d) < 0)
				return -1;
			if (d.allow && d.nchain > 0 && strcmp(d.chain[0].role, r->name) == 0) {
				json_array_append_new(out, json_string(r->name));
				break;
			}
		}
	}
	return 0;
}

/* May me do perm anywhere (city-wide, or in one of its units)?  The page
 * shows the chair's and the auditor's screens on it; the server still
 * decides each request.  -1: directory down. */
static int session_may(struct api *api, const struct authz_user *me, const json_t *units, const char *perm)
{
	struct authz_decision d;
	size_t i;
	json_t *u;

	if (authz_city_role(api->az, me->uid, perm, &d) < 0)
		return -1;
	if (d.allow)
		return 1;
	json_array_foreach (units, i, u) {
		if (authz_check(api->az, me->uid, perm,
				unit_parse(json_string_value(json_object_get(u, "code"))), &d) < 0)
			return -1;
		if (d.allow)
			return 1;
	}
	return 0;
}

/* What the page offers comes from the policy files, never a copy in the
 * page: "kinds" (documents.json: each kind's source, table, permission and
 * title) and "may_grant" (roles.json: for each role the person holds, the
 * roles it may grant).  The server still decides every request. */
static void session_policy(struct api *api, json_t *j)
{
	const struct roles *roles = authz_roles(api->az);
	json_t *kinds = json_object(), *mg = json_object(), *held = json_array(), *v;
	size_t i;

	for (i = 0; api->deps.docs != NULL && i < documents_count(api->deps.docs); i++) {
		const struct doc_kind *k = documents_nth(api->deps.docs, i);

		json_object_set_new(kinds, k->name,
				    json_pack("{s:s,s:s,s:s,s:s}", "source", k->source, "table", k->table,
					      "permission", k->perm, "title", k->title));
	}
	v = json_object_get(j, "city_roles");
	for (i = 0; i < json_array_size(v); i++)
		json_array_append(held, json_array_get(v, i));
	for (i = 0; i < json_array_size(json_object_get(j, "units")); i++) {
		json_t *ur = json_object_get(json_array_get(json_object_get(j, "units"), i), "roles");

		for (size_t r = 0; r < json_array_size(ur); r++)
			json_array_append(held, json_object_get(json_array_get(ur, r), "role"));
	}
	for (i = 0; i < json_array_size(held); i++) {
		const char *name = json_string_value(json_array_get(held, i));
		const struct role *role = roles_find(roles, name);
		json_t *list = json_array();

		for (size_t n = 0; role != NULL && n < role->nmay_grant; n++)
			json_array_append_new(list, json_string(role->may_grant[n]));
		json_object_set_new(mg, name, list);
	}
	json_decref(held);
	json_object_set_new(j, "kinds", kinds);
	json_object_set_new(j, "may_grant", mg);
}

/* GET /v1/session: who is signed in, their units and roles (with expiry
 * and permissions), their city roles and what screens they may use. */
enum MHD_Result ep_session_get(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole)
{
	json_t *j, *units, *city = json_array();
	int gm, ar;

	(void)hole;
	if (!rq->via_session) {
		json_decref(city);
		return respond_error(c, rq, 401, "no_session",
				     "not signed in: sign in with POST /v1/session");
	}
	units = session_units(api, me);
	if (units == NULL || city == NULL || session_city_roles(api, me, city) < 0 ||
	    (gm = session_may(api, me, units, "grant.manage")) < 0 ||
	    (ar = session_may(api, me, units, "audit.read")) < 0) {
		json_decref(units);
		json_decref(city);
		return respond_error(
			c, rq, 503, "directory_unavailable",
			"the directory cannot be reached: your units and roles cannot be shown now; "
			"the units' copies are intact, try again shortly");
	}
	j = session_json(api, me, rq->csrf);
	json_object_set_new(j, "units", units);
	json_object_set_new(j, "city_roles", city);
	json_object_set_new(j, "may", json_pack("{s:b,s:b}", "grant.manage", gm, "audit.read", ar));
	session_policy(api, j);
	return respond_json(c, rq, 200, j);
}

/* DELETE /v1/session (cookie + X-CSRF-Token, checked by the dispatch):
 * the session ends on the server and the cookie is cleared. */
enum MHD_Result ep_session_delete(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	(void)me;
	(void)hole;
	if (!rq->via_session)
		return respond_error(c, rq, 401, "no_session", "not signed in: there is no session to end");
	if (!audited(api, rq, "logout", 0, "session", "allow", "session"))
		return audit_down(c, rq);
	session_remove(api->sessions, rq->sid);
	explicit_bzero(rq->sid, sizeof(rq->sid));
	snprintf(rq->set_cookie, sizeof(rq->set_cookie),
		 "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s", SESSION_COOKIE,
		 api->secure_cookie ? "; Secure" : "");
	return respond(c, rq, 204, "application/json", strdup(""), 0);
}
