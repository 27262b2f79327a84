/* http.c — the HTTP API: request plumbing, authentication, grants and
 * authorization checks. */
#include "syncd/api/api.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/text.h"

#define BODY_MAX	   (64 * 1024)
#define THROTTLE_SIZE	   65536 /* open addressing: keys never evict each other */
#define THROTTLE_FREE	   3	 /* failures of a uid before its attempts wait */
#define THROTTLE_FREE_ADDR 20	 /* of an address (an office NAT: many people, one address) */
#define THROTTLE_MS	   1000	 /* first wait; doubles per failure */
#define THROTTLE_MAX	   30000 /* never more: a slowdown, never a lockout */
#define THROTTLE_KEEP	   900	 /* seconds a failure is remembered */

struct throttle {
	char key[160];
	int fails;
	long long last_ms; /* monotonic time of the last failure */
};

struct api {
	struct MHD_Daemon *d;
	struct api_deps deps;
	struct authz *az;
	char **proxies;
	size_t nproxies;
	char *cert, *key;
	pthread_mutex_t lock;
	struct throttle *slots; /* THROTTLE_SIZE, under lock */
	bool throttle_full_said;
	unsigned char query_key[32]; /* for the keyed hash of searches in the audit log */
	/* requests that wait on the directory or a database run on workers, so
	 * the server's own threads always answer /healthz and refusals */
	pthread_t *workers;
	size_t nworkers;
	pthread_mutex_t qlock;
	pthread_cond_t qwake;
	struct req *qhead, *qtail;
	bool stopping;
	atomic_ulong n_audit_fail; /* for /metrics */
	atomic_ulong n_appends;
	struct {
		char decision[8], reason[48];
		unsigned long n;
	} by_reason[64]; /* decisions by outcome and reason code (under lock) */
	size_t nreasons;
	struct {
		char kind[48];
		unsigned long n;
	} by_kind[16]; /* documents issued by kind (under lock) */
	size_t nkinds;
};

struct req {
	struct buf body;
	bool too_big;
	/* a request handed to a worker: its answer waits here until the
	 * connection is resumed and the server thread sends it */
	struct MHD_Connection *conn;
	struct req *qnext;
	char *url, *method;
	bool deferred, failed;
	struct MHD_Response *resp;
	unsigned status;
	char id[40];
	char addr[64];
	char user[128];
	char next[24];	 /* a CSV page's next cursor, sent as X-Next-Cursor */
	int retry_after; /* seconds, for a 429 */
	/* every refusal of a logged-in caller leaves an audit row: the
	 * endpoint's own, or one written by respond_error */
	struct api *api;
	bool authed, audit_failed, logged;
	int naudited;
	char what[160]; /* METHOD PATH, for that row */
};

/* ------------------------------------------------------------ listen address */

int api_listen_parse(const char *listen, void *ss, unsigned *len, int *loopback)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	long port;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
	memset(ss, 0, sizeof(struct sockaddr_storage));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = ss;

		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		return 0;
	} else {
		struct sockaddr_in *s4 = ss;

		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		*len = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result respond(struct MHD_Connection *c, struct req *rq, unsigned status, const char *ctype,
			       char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "X-Request-Id", rq->id);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (rq->next[0] != '\0')
		MHD_add_response_header(r, "X-Next-Cursor", rq->next);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"syncd\", charset=\"UTF-8\"");
	if (status == 429 && rq->retry_after > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", rq->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (strncmp(ctype, "text/html", 9) == 0) {
		MHD_add_response_header(r, "Content-Security-Policy", document_csp());
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
	}
	if (status < 400 && !rq->logged) /* one line per request: refusals say theirs */
		log_info("%s %s: %s: %u", rq->addr, rq->user[0] ? rq->user : "-", rq->what, status);
	rq->logged = true;
	if (rq->deferred) { /* a worker's answer: sent by the server thread on resume */
		rq->resp = r;
		rq->status = status;
		return MHD_YES;
	}
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Takes the reference to j. */
static enum MHD_Result respond_json(struct MHD_Connection *c, struct req *rq, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	return respond(c, rq, status, "application/json", s, strlen(s));
}

struct api;
static bool audited(struct api *api, struct req *rq, const char *action, int unit, const char *object,
		    const char *decision, const char *reason);

/* {"error": code, "message": text}; refusals are logged with the reason. */
static enum MHD_Result respond_error(struct MHD_Connection *c, struct req *rq, unsigned status,
				     const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static enum MHD_Result respond_error(struct MHD_Connection *c, struct req *rq, unsigned status,
				     const char *code, const char *fmt, ...)
{
	char raw[1024], msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* the message may quote the request: valid UTF-8, no controls, or no JSON */
	text_clean(raw, strlen(raw), msg, sizeof(msg));
	if (rq->authed && rq->naudited == 0 && !rq->audit_failed) {
		char reason[1100];

		snprintf(reason, sizeof(reason), "%s (%s)", code, msg);
		if (!audited(rq->api, rq, "request", 0, rq->what, status >= 500 ? "error" : "deny", reason))
			return respond_error(
				c, rq, 503, "audit_unavailable",
				"the audit log cannot be written (state database); nothing is done "
				"unaudited, try again shortly");
	}
	rq->logged = true;
	if (status >= 500)
		log_warn("%s %s: %u %s: %s", rq->addr, rq->user[0] ? rq->user : "-", status, code, msg);
	else
		log_info("%s %s: refused %u %s: %s", rq->addr, rq->user[0] ? rq->user : "-", status, code,
			 msg);
	return respond_json(c, rq, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
}

/* "code (details)" -> code and the whole text as the message. */
static enum MHD_Result respond_reason(struct MHD_Connection *c, struct req *rq, unsigned status,
				      const char *reason)
{
	char code[64];

	snprintf(code, sizeof(code), "%.*s", (int)strcspn(reason, " (:"), reason);
	return respond_error(c, rq, status, code, "%s", reason);
}

/* ------------------------------------------------------------ request context */

static bool proxy_trusted(struct api *api, const char *addr)
{
	bool yes = false;

	pthread_mutex_lock(&api->lock);
	for (size_t i = 0; i < api->nproxies && !yes; i++)
		yes = strcmp(api->proxies[i], addr) == 0;
	pthread_mutex_unlock(&api->lock);
	return yes;
}

/* "a, b c" -> the list (replacing the old one); 0 or -1. */
static int proxies_set(struct api *api, const char *list)
{
	char *copy = list ? strdup(list) : NULL, *save = NULL, **v = NULL;
	size_t n = 0;

	if (list != NULL && copy == NULL)
		return -1;
	for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t != NULL;
	     t = strtok_r(NULL, ", ", &save)) {
		char **nv = realloc(v, (n + 1) * sizeof(char *));

		if (nv == NULL || (nv[n] = strdup(t)) == NULL) {
			free(nv ? nv : v);
			free(copy);
			return -1;
		}
		v = nv;
		n++;
	}
	free(copy);
	pthread_mutex_lock(&api->lock);
	for (size_t i = 0; i < api->nproxies; i++)
		free(api->proxies[i]);
	free(api->proxies);
	api->proxies = v;
	api->nproxies = n;
	pthread_mutex_unlock(&api->lock);
	return 0;
}

void api_reload(struct api *api, const char *trusted_proxies)
{
	if (proxies_set(api, trusted_proxies) < 0)
		log_warn("reload: trusted_proxies: out of memory; the old list is kept");
}

static void client_address(struct api *api, struct MHD_Connection *c, struct req *rq)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *xff;

	snprintf(rq->addr, sizeof(rq->addr), "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
			  rq->addr, sizeof(rq->addr));
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
			  rq->addr, sizeof(rq->addr));
	/* the client's own address, as the proxy in front of us saw it */
	xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (xff != NULL && proxy_trusted(api, rq->addr)) {
		const char *last = strrchr(xff, ',');
		char a[64];
		unsigned char tmp[16];

		last = last ? last + 1 : xff;
		while (*last == ' ')
			last++;
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(last, " "), last);
		if (inet_pton(AF_INET, a, tmp) == 1 || inet_pton(AF_INET6, a, tmp) == 1)
			snprintf(rq->addr, sizeof(rq->addr), "%s", a);
	}
}

static void request_id(struct MHD_Connection *c, struct req *rq)
{
	const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
	unsigned char rnd[8];

	if (given != NULL && strlen(given) > 0 && strlen(given) < 40 &&
	    strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		    strlen(given)) {
		snprintf(rq->id, sizeof(rq->id), "%s", given);
		return;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(rq->id + 2 * i, 3, "%02x", rnd[i]);
}

static enum MHD_Result audit_down(struct MHD_Connection *c, struct req *rq);
static void outcome(struct api *api, struct req *rq, const char *action, int unit, const char *object, int st,
		    const char *done, const char *reason);

/* ------------------------------------------------------------ login throttle */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* key's slot (open addressing: a collision never resets another key's
 * count); with create, a free or forgotten slot on its path; NULL when
 * absent, or when the table is full of live keys (then not tracked). */
static struct throttle *throttle_slot(struct api *api, const char *key, long long now, bool create)
{
	unsigned h = 2166136261u;
	struct throttle *reuse = NULL;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (unsigned i = 0; i < THROTTLE_SIZE; i++) {
		struct throttle *t = &api->slots[(h + i) % THROTTLE_SIZE];

		if (t->key[0] == '\0') {
			reuse = reuse ? reuse : t;
			break;
		}
		if (strcmp(t->key, key) == 0) {
			if (now - t->last_ms > THROTTLE_KEEP * 1000LL)
				t->fails = 0;
			return t;
		}
		if (reuse == NULL && now - t->last_ms > THROTTLE_KEEP * 1000LL)
			reuse = t;
	}
	if (!create || reuse == NULL) {
		if (create && !api->throttle_full_said) {
			api->throttle_full_said = true;
			log_warn(
				"login throttle: %d addresses and uids with recent failures; new ones are not "
				"tracked until old ones are forgotten (%d s)",
				THROTTLE_SIZE, THROTTLE_KEEP);
		}
		return NULL;
	}
	snprintf(reuse->key, sizeof(reuse->key), "%s", key);
	reuse->fails = 0;
	reuse->last_ms = now;
	return reuse;
}

static long throttle_delay_ms(int fails, int free)
{
	long ms;

	if (fails < free)
		return 0;
	ms = THROTTLE_MS << (fails - free < 8 ? fails - free : 8);
	return ms < THROTTLE_MAX ? ms : THROTTLE_MAX;
}

static void throttle_keys(const char *uid, const char *addr, char ku[160], char ka[160])
{
	char folded[140];

	authz_uid_normalize(uid, folded, sizeof(folded));
	snprintf(ku, 160, "u:%s", folded);
	snprintf(ka, 160, "a:%s", addr);
}

/* Milliseconds before this uid may be tried again from this address (0: now).
 * Nobody sleeps: a caller inside that time is answered 429 at once. */
static long throttle_wait(struct api *api, const char *uid, const char *addr)
{
	char ku[160], ka[160];
	const char *keys[2] = {ku, ka};
	long long now = mono_ms(), wait = 0;

	throttle_keys(uid, addr, ku, ka);
	pthread_mutex_lock(&api->lock);
	for (int i = 0; i < 2; i++) {
		struct throttle *t = throttle_slot(api, keys[i], now, false);
		long long w = t ? t->last_ms +
					      throttle_delay_ms(t->fails,
								i == 0 ? THROTTLE_FREE : THROTTLE_FREE_ADDR) -
					      now
				: 0;

		wait = w > wait ? w : wait;
	}
	pthread_mutex_unlock(&api->lock);
	return (long)wait;
}

static void throttle_after(struct api *api, const char *uid, const char *addr, bool ok)
{
	char ku[160], ka[160];
	long long now = mono_ms();
	struct throttle *t;

	throttle_keys(uid, addr, ku, ka);
	pthread_mutex_lock(&api->lock);
	t = throttle_slot(api, ku, now, !ok);
	if (t != NULL) {
		t->fails = ok ? 0 : t->fails + 1;
		t->last_ms = now;
	}
	if (!ok && (t = throttle_slot(api, ka, now, true)) != NULL) {
		t->fails++;
		t->last_ms = now;
	}
	pthread_mutex_unlock(&api->lock);
}

/* 1: u is the caller; otherwise the response was queued (401/503). */
static int authenticate(struct api *api, struct MHD_Connection *c, struct req *rq, struct authz_user *u,
			enum MHD_Result *res)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass), err[512];
	int r;

	if (api->az == NULL) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "no [ldap] section in syncd.conf: the API cannot authenticate anyone");
		goto out;
	}
	if (user == NULL || user[0] == '\0') {
		/* credentials sent but unreadable (a NUL, no colon) are a failed login too */
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") != NULL &&
		    !audited(api, rq, "login", 0, "-", "deny", "malformed_credentials"))
			*res = audit_down(c, rq);
		else
			*res = respond_error(c, rq, 401, "unauthenticated",
					     "log in with HTTP Basic (your directory uid and password)");
		goto out;
	}
	snprintf(rq->user, sizeof(rq->user), "%s", user);
	r = authz_authenticate(api->az, user, pass ? pass : "", u, err, sizeof(err));
	if (r < 0) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "the directory cannot check the login now (%s); try again shortly", err);
		goto out;
	}
	throttle_after(api, user, rq->addr, r == 1);
	if (r == 0) {
		if (!audited(api, rq, "login", 0, user, "deny", "unauthenticated"))
			*res = audit_down(c, rq);
		else
			*res = respond_error(c, rq, 401, "unauthenticated", "uid or password not accepted");
		goto out;
	}
	/* from here on the person is the directory's uid, however it was typed */
	snprintf(rq->user, sizeof(rq->user), "%s", u->uid);
	r = 1;
	goto done;
out:
	r = 0;
done:
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	return r;
}

/* ------------------------------------------------------------ JSON of grants and decisions */

static json_t *grant_json(const struct grant *g)
{
	char nb[32], na[32], cr[32], unit[12], gee[128], gor[128];
	time_t now = time(NULL);
	const char *state = g->revoked		  ? "revoked"
			    : now >= g->not_after ? "expired"
			    : now < g->not_before ? "pending"
						  : "active";

	authz_time_rfc3339(g->not_before, nb, sizeof(nb));
	authz_time_rfc3339(g->not_after, na, sizeof(na));
	authz_time_rfc3339(g->created, cr, sizeof(cr));
	snprintf(unit, sizeof(unit), "%05d", g->unit);
	authz_dn_uid(g->grantee_dn, gee, sizeof(gee));
	authz_dn_uid(g->grantor_dn, gor, sizeof(gor));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:i,s:s,s:b,s:s}", "id", g->id, "grantee",
			 gee, "grantee_dn", g->grantee_dn, "role", g->role, "unit", unit, "grantor", gor,
			 "grantor_dn", g->grantor_dn, "parent",
			 g->parent[0] ? json_string(g->parent) : json_null(), "not_before", nb, "not_after",
			 na, "may_delegate", g->depth, "created", cr, "revoked", g->revoked, "state", state);
}

static json_t *decision_json(const struct authz_decision *d, const char *user, const char *action, int unit)
{
	json_t *chain = json_array();
	char u[12];

	snprintf(u, sizeof(u), "%05d", unit);
	for (size_t i = 0; i < d->nchain && chain != NULL; i++) {
		const struct authz_link *l = &d->chain[i];
		char na[32] = "", lu[12] = "", gee[128], gor[128];

		if (l->not_after)
			authz_time_rfc3339(l->not_after, na, sizeof(na));
		if (l->unit)
			snprintf(lu, sizeof(lu), "%05d", l->unit);
		authz_dn_uid(l->grantee_dn, gee, sizeof(gee));
		authz_dn_uid(l->grantor_dn, gor, sizeof(gor));
		json_array_append_new(
			chain, json_pack("{s:o,s:s,s:o,s:s,s:o,s:o}", "id",
					 l->id[0] ? json_string(l->id) : json_null(), "role", l->role, "unit",
					 l->unit ? json_string(lu) : json_null(), "grantee", gee, "grantor",
					 l->grantor_dn[0] ? json_string(gor) : json_null(), "not_after",
					 l->not_after ? json_string(na) : json_null()));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "decision", d->allow ? "allow" : "deny", "reason",
			 d->reason, "user", user, "action", action, "unit", u, "chain",
			 chain ? chain : json_array());
}

/* ------------------------------------------------------------ endpoints */

static int unit_parse(const char *s)
{
	if (s == NULL || strlen(s) != 5 || strspn(s, "0123456789") != 5)
		return -1;
	return atoi(s);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* May u see the grants / decisions of others in unit?  grant managers and
 * auditors of that unit (or city-wide) may. */
static int may_oversee(struct api *api, const struct authz_user *u, int unit, struct authz_decision *d)
{
	static const char *const perms[] = {"grant.manage", "audit.read"};
	int r = 0;

	for (size_t i = 0; i < 2; i++) {
		r = authz_check(api->az, u->uid, perms[i], unit, d);
		if (r < 0 || d->allow)
			return r;
	}
	return r;
}

static enum MHD_Result ep_check(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole)
{
	const char *user = arg(c, "user"), *action = arg(c, "action"), *us = arg(c, "unit");
	int unit = unit_parse(us), r;
	struct authz_decision d;
	char fu[140], fme[140];
	(void)hole;

	if (user == NULL || action == NULL || us == NULL)
		return respond_error(c, rq, 400, "bad_request", "needs ?user=UID&action=ACTION&unit=CODE");
	if (unit < 0)
		return respond_error(c, rq, 400, "unknown_unit",
				     "unit must be a 5-digit unit code, not \"%s\"", us);
	authz_uid_normalize(user ? user : "", fu, sizeof(fu));
	authz_uid_normalize(me->uid, fme, sizeof(fme));
	if (user != NULL && strcmp(fu, fme) != 0) { /* someone else: KIEM.DO is kiem.do */
		r = may_oversee(api, me, unit, &d);
		if (r < 0)
			return respond_error(
				c, rq, 503, "directory_unavailable",
				"the directory cannot be reached; decisions are denied until it returns");
		if (!d.allow)
			return respond_error(
				c, rq, 403, "forbidden",
				"checking someone else's rights needs grant.manage or audit.read in unit %05d (%s)",
				unit, d.reason);
	}
	r = authz_check(api->az, user, action, unit, &d);
	{
		char object[300];

		snprintf(object, sizeof(object), "%s %s", user, action);
		if (!audited(api, rq, "authz.check", unit, object, d.allow ? "allow" : "deny", d.reason))
			return audit_down(c, rq);
	}
	log_info("%s %s: check %s %s in %05d: %s (%s)", rq->addr, me->uid, user, action, unit,
		 d.allow ? "allow" : "deny", d.reason);
	return respond_json(c, rq, r == LP_UNAVAILABLE ? 503 : 200, decision_json(&d, user, action, unit));
}

static int time_field(json_t *o, const char *name, time_t *t, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	*t = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || authz_time_parse(json_string_value(v), t) < 0) {
		snprintf(err, errlen, "%s must be a UTC time like 2026-12-31T00:00:00Z", name);
		return -1;
	}
	return 0;
}

static json_t *body_object(struct req *rq, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, JSON_REJECT_DUPLICATES, &je);

	if (!json_is_object(o)) {
		snprintf(err, errlen, "the body must be a JSON object (each key once): %s", je.text);
		json_decref(o);
		return NULL;
	}
	return o;
}

static enum MHD_Result ep_grant_create(struct api *api, struct MHD_Connection *c, struct req *rq,
				       const struct authz_user *me, const char *hole)
{
	static const char *const known[] = {"grantee",	  "role",      "unit",
					    "not_before", "not_after", "may_delegate"};
	struct grant_request gr = {0};
	struct grant g;
	char reason[512], err[256];
	json_t *o = body_object(rq, err, sizeof(err)), *v;
	const char *key;
	enum MHD_Result res;
	int st;
	(void)hole;

	if (o == NULL)
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	json_object_foreach (o, key, v) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			res = respond_error(
				c, rq, 400, "bad_request",
				"unknown field \"%s\" (known: grantee, role, unit, not_before, not_after, may_delegate)",
				key);
			json_decref(o);
			return res;
		}
	}
	gr.grantee = json_string_value(json_object_get(o, "grantee"));
	gr.role = json_string_value(json_object_get(o, "role"));
	v = json_object_get(o, "unit");
	gr.unit = json_is_string(v) ? unit_parse(json_string_value(v)) : -1;
	v = json_object_get(o, "may_delegate");
	if (v != NULL && !json_is_integer(v)) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request", "may_delegate must be an integer");
	}
	if (v != NULL && (json_integer_value(v) < 0 || json_integer_value(v) > 100)) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "may_delegate must be between 0 and the role's deepest re-delegation");
	}
	gr.may_delegate = v ? (int)json_integer_value(v) : 0;
	if (gr.grantee == NULL || gr.role == NULL || gr.unit < 0) {
		json_decref(o);
		return respond_error(
			c, rq, 400, "bad_request",
			"needs \"grantee\" (uid), \"role\" and \"unit\" (a 5-digit code as a string)");
	}
	if (time_field(o, "not_before", &gr.not_before, err, sizeof(err)) < 0 ||
	    time_field(o, "not_after", &gr.not_after, err, sizeof(err)) < 0) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	}
	{
		char object[300];

		/* the intent first: no grant exists without a row that announced it */
		snprintf(object, sizeof(object), "- %s %s", gr.grantee, gr.role);
		if (!audited(api, rq, "grant.create", gr.unit, object, "intent", "")) {
			json_decref(o);
			return audit_down(c, rq);
		}
		st = authz_grant_create(api->az, me, &gr, &g, reason, sizeof(reason));
		snprintf(object, sizeof(object), "%s %s %s", st == 0 ? g.id : "-", gr.grantee, gr.role);
		outcome(api, rq, "grant.create", gr.unit, object, st, "allow", reason);
	}
	if (st != 0) {
		res = respond_reason(c, rq, (unsigned)st, reason);
		json_decref(o);
		return res;
	}
	log_info("%s %s: granted %s to %s in %05d until %ld (grant %s, parent %s)", rq->addr, me->uid, g.role,
		 gr.grantee, g.unit, (long)g.not_after, g.id, g.parent[0] ? g.parent : "none");
	rq->logged = true;
	json_decref(o);
	return respond_json(c, rq, 201, grant_json(&g));
}

static enum MHD_Result ep_grant_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
				       const struct authz_user *me, const char *id)
{
	char reason[512];
	int st, gunit = 0;

	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		return respond_error(c, rq, 404, "unknown_grant", "a grant id is 32 hex digits");
	/* the intent first: no revocation happens without a row that announced it */
	if (!audited(api, rq, "grant.revoke", 0, id, "intent", ""))
		return audit_down(c, rq);
	st = authz_grant_revoke(api->az, me, id, &gunit, reason, sizeof(reason));
	/* the outcome in the grant's unit, so that unit's auditor sees it */
	outcome(api, rq, "grant.revoke", gunit, id, st, "allow", reason);
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	log_info("%s %s: revoked grant %s", rq->addr, me->uid, id);
	rq->logged = true;
	return respond(c, rq, 204, "application/json", strdup(""), 0);
}

static enum MHD_Result ep_grants_list(struct api *api, struct MHD_Connection *c, struct req *rq,
				      const struct authz_user *me, const char *hole)
{
	const char *us = arg(c, "unit"), *grantee = arg(c, "grantee");
	int unit = us ? unit_parse(us) : 0;
	struct authz_decision d;
	struct grant *g = NULL;
	char reason[512];
	json_t *arr;
	size_t n = 0;
	int st;
	(void)hole;

	if (unit < 0)
		return respond_error(c, rq, 400, "unknown_unit", "unit must be a 5-digit unit code");
	if (grantee != NULL && grantee[0] == '\0')
		grantee = NULL;
	if (grantee == NULL || strcmp(grantee, me->uid) != 0) {
		/* without a unit: only a city role that manages grants or audits */
		/* every unit's grants: a city role, which any unit of the city shows */
		st = may_oversee(api, me, unit ? unit : routing_unit_get(api->deps.rt, 0)->code, &d);
		if (st < 0)
			return respond_error(c, rq, 503, "directory_unavailable",
					     "the directory cannot be reached");
		if (!d.allow || (unit == 0 && strcmp(d.reason, "city_role") != 0)) {
			if (!audited(api, rq, "grant.list", unit, grantee ? grantee : "", "deny", d.reason))
				return audit_down(c, rq);
			return respond_error(
				c, rq, 403, "forbidden",
				unit ? "listing grants of unit %05d needs grant.manage or audit.read there"
				     : "listing every unit's grants needs a city role; add ?unit=CODE%.0d",
				unit);
		}
	}
	if (!audited(api, rq, "grant.list", unit, grantee ? grantee : "", "allow", ""))
		return audit_down(c, rq);
	st = authz_grants_list(api->az, unit, grantee, &g, &n, reason, sizeof(reason));
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, grant_json(&g[i]));
	free(g);
	return respond_json(c, rq, 200, json_pack("{s:o}", "grants", arr));
}

/* ------------------------------------------------------------ audit of every decision */

/* Appends the decision to the audit log; false when it could not be
 * written (the caller then refuses: nothing happens unaudited). */
static bool audited(struct api *api, struct req *rq, const char *action, int unit, const char *object,
		    const char *decision, const char *reason)
{
	char u[12] = "", err[512];
	struct audit_event ev;

	if (unit > 0)
		snprintf(u, sizeof(u), "%05d", unit);
	ev.actor = rq->user[0] ? rq->user : "-";
	ev.client = rq->addr;
	ev.request_id = rq->id;
	ev.action = action;
	ev.unit = u;
	ev.object = object ? object : "";
	ev.decision = decision;
	ev.reason = reason ? reason : "";
	{
		char code[48];
		size_t k;

		snprintf(code, sizeof(code), "%.*s", (int)strcspn(ev.reason, " (:"), ev.reason);
		pthread_mutex_lock(&api->lock);
		for (k = 0; k < api->nreasons; k++)
			if (strcmp(api->by_reason[k].decision, decision) == 0 &&
			    strcmp(api->by_reason[k].reason, code) == 0)
				break;
		if (k == api->nreasons && k < sizeof(api->by_reason) / sizeof(api->by_reason[0])) {
			snprintf(api->by_reason[k].decision, sizeof(api->by_reason[k].decision), "%s",
				 decision);
			snprintf(api->by_reason[k].reason, sizeof(api->by_reason[k].reason), "%s", code);
			api->nreasons++;
		}
		if (k < api->nreasons)
			api->by_reason[k].n++;
		pthread_mutex_unlock(&api->lock);
	}
	if (api->deps.audit == NULL)
		return true;
	if (audit_append(api->deps.audit, &ev, NULL, err, sizeof(err)) == 0) {
		atomic_fetch_add(&api->n_appends, 1);
		rq->naudited++;
		return true;
	}
	rq->audit_failed = true;
	atomic_fetch_add(&api->n_audit_fail, 1);
	log_err("%s: %s %s not audited: %s", rq->addr, action, ev.object, err);
	return false;
}

static enum MHD_Result audit_down(struct MHD_Connection *c, struct req *rq)
{
	return respond_error(
		c, rq, 503, "audit_unavailable",
		"the audit log cannot be written (state database); nothing is done unaudited, try again shortly");
}

/* The outcome row of an action whose intent (or allow) row is already
 * committed: done on success (st 0), else deny or error with the reason.
 * The effect may be live already, so a failure here is logged, not undone:
 * the row before it announced the action. */
static void outcome(struct api *api, struct req *rq, const char *action, int unit, const char *object, int st,
		    const char *done, const char *reason)
{
	if (!audited(api, rq, action, unit, object,
		     st == 0	 ? done
		     : st >= 500 ? "error"
				 : "deny",
		     st == 0 ? "" : reason))
		log_err("%s %s: %s %s (%d): its outcome row is missing; the row before it announced it",
			rq->addr, rq->user, action, object, st);
}

/* The decision for me/perm/unit, audited; *res set and false unless allowed. */
static bool permitted(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
		      const char *perm, int unit, const char *action, const char *object,
		      enum MHD_Result *res)
{
	struct authz_decision d;
	int r = authz_check(api->az, me->uid, perm, unit, &d);

	if (!audited(api, rq, action, unit, object, d.allow ? "allow" : "deny", d.reason)) {
		*res = audit_down(c, rq);
		return false;
	}
	if (r == LP_UNAVAILABLE) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "the directory cannot be reached; nothing is allowed until it returns");
		return false;
	}
	if (!d.allow) {
		*res = respond_error(c, rq, 403, "forbidden", "%s needs %s in unit %05d (%s)", action, perm,
				     unit, d.reason);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ documents */

static enum MHD_Result ep_document_issue(struct api *api, struct MHD_Connection *c, struct req *rq,
					 const struct authz_user *me, const char *hole)
{
	char err[512], reason[512], serial[40], object[160], keybuf[64];
	json_t *o = body_object(rq, err, sizeof(err)), *kv;
	const struct doc_kind *k;
	const char *kind, *key;
	struct doc_issuer who = {me->uid, me->name, rq->id};
	enum MHD_Result res;
	char *body = NULL;
	int unit, st;
	(void)hole;

	if (o == NULL)
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	kind = json_string_value(json_object_get(o, "kind"));
	unit = unit_parse(json_string_value(json_object_get(o, "unit")));
	kv = json_object_get(o, "key");
	if (json_is_integer(kv)) {
		snprintf(keybuf, sizeof(keybuf), "%lld", (long long)json_integer_value(kv));
		key = keybuf;
	} else {
		key = json_string_value(kv);
	}
	if (kind == NULL || unit < 0 || key == NULL || key[0] == '\0' || strlen(key) > 60) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "needs {\"kind\": KIND, \"unit\": \"CODE\", \"key\": RECORD-KEY}");
	}
	k = documents_kind(api->deps.docs, kind);
	if (k == NULL) {
		res = respond_error(
			c, rq, 400, "unknown_kind",
			"no document kind \"%s\" in documents.json (birth_extract, marriage_extract, "
			"death_extract, land_parcel_extract, land_use_certificate)",
			kind);
		json_decref(o);
		return res;
	}
	snprintf(object, sizeof(object), "%s/%s", k->name, key);
	if (!permitted(api, c, rq, me, k->perm, unit, "document.issue", object, &res)) {
		json_decref(o);
		return res;
	}
	/* the allow row above is the intent; the outcome follows, with the serial */
	st = document_issue(api->deps.cfg, api->deps.rt, api->deps.signer, k, unit, key, &who, serial,
			    sizeof(serial), &body, reason, sizeof(reason));
	json_decref(o);
	if (st != 0) {
		if (!audited(api, rq, "document.issue", unit, object, st >= 500 ? "error" : "deny", reason))
			return audit_down(c, rq);
		return respond_reason(c, rq, (unsigned)st, reason);
	}
	{
		char done[200];

		snprintf(done, sizeof(done), "%s %s", object, serial);
		outcome(api, rq, "document.issue", unit, done, 0, "issued", "");
	}
	{
		size_t i;

		pthread_mutex_lock(&api->lock);
		for (i = 0; i < api->nkinds && strcmp(api->by_kind[i].kind, k->name) != 0; i++)
			;
		if (i == api->nkinds && i < sizeof(api->by_kind) / sizeof(api->by_kind[0]))
			snprintf(api->by_kind[api->nkinds++].kind, sizeof(api->by_kind[0].kind), "%s",
				 k->name);
		if (i < api->nkinds)
			api->by_kind[i].n++;
		pthread_mutex_unlock(&api->lock);
	}
	log_info("%s %s: issued %s %s (%s)", rq->addr, me->uid, k->name, serial, object);
	rq->logged = true;
	{
		json_t *doc = json_loads(body, 0, NULL);
		char hash[65];

		sha256_hex(body, strlen(body), NULL, 0, hash);
		free(body);
		return respond_json(c, rq, 201,
				    json_pack("{s:s,s:s,s:o,s:s}", "serial", serial, "hash", hash, "document",
					      doc ? doc : json_null(), "html",
					      "see GET /v1/documents/{serial}"));
	}
}

static bool wants_html(struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");

	return a != NULL && strstr(a, "text/html") != NULL && strstr(a, "application/json") == NULL;
}

static enum MHD_Result ep_document_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				       const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char reason[512];
	const struct doc_kind *k;
	enum MHD_Result res;
	int f = document_serial_valid(serial)
			? document_find(api->deps.cfg, serial, &d, reason, sizeof(reason))
			: 0;

	if (f < 0)
		return respond_reason(c, rq, 503, reason);
	if (f == 0) {
		if (!audited(api, rq, "document.read", 0, serial, "deny", "unknown_document"))
			return audit_down(c, rq);
		return respond_error(c, rq, 404, "unknown_document", "no document %s", serial);
	}
	k = documents_kind(api->deps.docs, d.kind);
	if (!permitted(api, c, rq, me, k ? k->read_perm : "audit.read", d.unit, "document.read", serial,
		       &res)) {
		doc_record_free(&d);
		return res;
	}
	if (wants_html(c)) {
		char *html = document_html(d.body, d.hash, d.revoked);

		doc_record_free(&d);
		return html ? respond(c, rq, 200, "text/html; charset=utf-8", html, strlen(html)) : MHD_NO;
	} else {
		char *js = document_json(&d);

		doc_record_free(&d);
		return js ? respond(c, rq, 200, "application/json", js, strlen(js)) : MHD_NO;
	}
}

static enum MHD_Result ep_document_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
					  const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char reason[512], err[256];
	json_t *o = body_object(rq, err, sizeof(err));
	const char *why = o ? json_string_value(json_object_get(o, "reason")) : NULL;
	const struct doc_kind *k;
	enum MHD_Result res;
	int f, st;

	if (why == NULL || why[0] == '\0') {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "needs {\"reason\": WHY} (a revocation says why)");
	}
	f = document_serial_valid(serial) ? document_find(api->deps.cfg, serial, &d, reason, sizeof(reason))
					  : 0;
	if (f <= 0) {
		json_decref(o);
		if (f < 0)
			return respond_reason(c, rq, 503, reason);
		if (!audited(api, rq, "document.revoke", 0, serial, "deny", "unknown_document"))
			return audit_down(c, rq);
		return respond_error(c, rq, 404, "unknown_document", "no document %s", serial);
	}
	k = documents_kind(api->deps.docs, d.kind);
	if (!permitted(api, c, rq, me, k ? k->perm : "grant.manage", d.unit, "document.revoke", serial,
		       &res)) {
		doc_record_free(&d);
		json_decref(o);
		return res;
	}
	/* the allow row above is the intent; the outcome follows */
	switch (document_revoke(api->deps.cfg, serial, me->uid, why, reason, sizeof(reason))) {
	case DOC_OK: st = 0; break;
	case DOC_ALREADY_REVOKED: st = 409; break;
	case DOC_STATE_DOWN:
	default: st = 503; break;
	}
	json_decref(o);
	outcome(api, rq, "document.revoke", d.unit, serial, st, "revoked", reason);
	doc_record_free(&d);
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	log_info("%s %s: revoked document %s", rq->addr, me->uid, serial);
	rq->logged = true;
	return respond(c, rq, 204, "application/json", strdup(""), 0);
}

/* Public: says whether a serial is a document syncd issued, and its state,
 * with no personal data. */
static enum MHD_Result ep_document_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
					  const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char reason[512], hash[65], day[11] = "";
	const char *status, *h = arg(c, "h");
	json_t *doc;
	int f = document_serial_valid(serial) && h != NULL && strlen(h) >= DOC_HASH_PREFIX &&
				strlen(h) <= 64 && strspn(h, "0123456789abcdef") == strlen(h)
			? document_find(api->deps.cfg, serial, &d, reason, sizeof(reason))
			: 0;
	(void)me;

	if (f < 0)
		return respond_reason(c, rq, 503, reason);
	/* the serial alone tells nothing: the hash printed with it must match */
	if (f == 1 && strncmp(d.hash, h, strlen(h)) != 0) {
		doc_record_free(&d);
		f = 0;
	}
	if (!audited(api, rq, "document.verify", f == 1 ? d.unit : 0, serial, "allow",
		     f == 1 ? "" : "unknown"))
		return audit_down(c, rq);
	if (f == 0) {
		char shown[256];

		text_clean(serial, strlen(serial), shown, sizeof(shown));
		return respond_json(c, rq, 200, json_pack("{s:s,s:s}", "serial", shown, "status", "unknown"));
	}
	sha256_hex(d.body, strlen(d.body), NULL, 0, hash);
	status = strcmp(hash, d.hash) != 0 ||
				 (api->deps.signer != NULL &&
				  signer_verify(api->deps.signer, d.body, strlen(d.body), d.signature) != 1)
			 ? "invalid"
		 : d.revoked ? "revoked"
			     : "valid";
	doc = json_loads(d.body, 0, NULL);
	snprintf(day, sizeof(day), "%.10s", doc ? json_string_value(json_object_get(doc, "issued_at")) : "");
	json_decref(doc);
	{
		char unit[12];
		json_t *j;

		snprintf(unit, sizeof(unit), "%05d", d.unit);
		j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "serial", serial, "status", status,
			      "kind", d.kind, "unit", unit, "issued_on", day, "hash", d.hash, "signature",
			      d.signature, "public_key", d.public_key, "revoked_at",
			      d.revoked ? json_string(d.revoked_at) : json_null());
		doc_record_free(&d);
		return respond_json(c, rq, 200, j);
	}
}

/* ------------------------------------------------------------ readiness and metrics */

static const char *source_state(const struct stream_status *st)
{
	return atomic_load(&st->streaming) ? "streaming" : "reconnecting";
}

/* 200 while every source streams (units down or the directory unreachable
 * make it "degraded", still ready: the other units keep syncing); 503 else. */
static enum MHD_Result ep_readyz(struct api *api, struct MHD_Connection *c, struct req *rq,
				 const struct authz_user *me, const char *hole)
{
	json_t *srcs = json_array();
	bool ready = true, degraded = false;
	const char *dir = api->az == NULL		? "not configured"
			  : authz_directory_up(api->az) ? "reachable"
							: "unreachable";
	(void)me;
	(void)hole;

	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		int down = atomic_load(&st->units_down), det = atomic_load(&st->units_detached);

		ready &= atomic_load(&st->streaming);
		degraded |= down > 0 || det > 0;
		json_array_append_new(srcs, json_pack("{s:s,s:s,s:i,s:i}", "name", api->deps.status_names[i],
						      "state", source_state(st), "units_down", down,
						      "units_detached", det));
	}
	degraded |= api->az != NULL && !authz_directory_up(api->az);
	return respond_json(c, rq, ready ? 200 : 503,
			    json_pack("{s:b,s:b,s:o,s:s,s:{s:b,s:b,s:b}}", "ready", ready, "degraded",
				      degraded, "sources", srcs, "directory", dir, "features", "documents",
				      api->deps.docs != NULL, "signing", api->deps.signer != NULL,
				      "delegation", api->az != NULL));
}

static int proc_stat(double *cpu, double *start, long *rss_pages)
{
	char buf[2048], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long long ut, st, starttime;
	long rss;
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ")": state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
	if (p == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
		   &ut, &st, &starttime, &rss) != 4)
		return -1;
	*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	{
		FILE *u = fopen("/proc/uptime", "r");
		double up = 0;

		if (u != NULL) {
			if (fscanf(u, "%lf", &up) != 1)
				up = 0;
			fclose(u);
		}
		*start = (double)time(NULL) - up + (double)starttime / (double)sysconf(_SC_CLK_TCK);
	}
	*rss_pages = rss;
	return 0;
}

#define M_HELP(b, name, type, help) buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type)

static enum MHD_Result ep_metrics(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	struct buf b = {0};
	int bad = 0;
	double cpu, start;
	long rss;
	size_t nu = api->deps.rt ? routing_unit_count(api->deps.rt) : 0;
	(void)me;
	(void)hole;

	bad |= M_HELP(&b, "syncd_source_streaming", "gauge",
		      "1 while the source's replication session runs") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_source_streaming{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].streaming) ? 1 : 0) < 0;
	bad |= M_HELP(&b, "syncd_source_lag_bytes", "gauge",
		      "WAL received from the source and not yet confirmed") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		unsigned long long r = atomic_load(&api->deps.status[i].received),
				   f = atomic_load(&api->deps.status[i].flushed);

		bad |= buf_printf(&b, "syncd_source_lag_bytes{source=\"%s\"} %llu\n",
				  api->deps.status_names[i], r > f ? r - f : 0) < 0;
	}
	bad |= M_HELP(&b, "syncd_source_lag_seconds", "gauge",
		      "age of the oldest source commit received and not yet in the units (0: none)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		long long since = atomic_load(&api->deps.status[i].pending_since);
		struct timespec ts;
		double lag = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* PostgreSQL's epoch is 2000-01-01: 946684800 s after the Unix one */
		if (since > 0)
			lag = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 -
			      (946684800.0 + (double)since / 1e6);
		bad |= buf_printf(&b, "syncd_source_lag_seconds{source=\"%s\"} %.3f\n",
				  api->deps.status_names[i], lag > 0 ? lag : 0) < 0;
	}
	bad |= M_HELP(&b, "syncd_source_confirmed_lsn", "gauge",
		      "WAL position confirmed to the source's slot") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_source_confirmed_lsn{source=\"%s\"} %llu\n",
				  api->deps.status_names[i],
				  (unsigned long long)atomic_load(&api->deps.status[i].flushed)) < 0;
	bad |= M_HELP(&b, "syncd_unit_applied_lsn", "gauge",
		      "WAL position of the source a unit's copy holds") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		for (size_t u = 0; u < nu && u < api->deps.status[i].nunits && api->deps.status[i].unit_lsn;
		     u++)
			bad |= buf_printf(&b, "syncd_unit_applied_lsn{source=\"%s\",unit=\"%05d\"} %llu\n",
					  api->deps.status_names[i], routing_unit_get(api->deps.rt, u)->code,
					  (unsigned long long)atomic_load(&api->deps.status[i].unit_lsn[u])) <
			       0;
	bad |= M_HELP(&b, "syncd_changes_applied_total", "counter",
		      "changes applied to the units since start") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_changes_applied_total{source=\"%s\"} %lld\n",
				  api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].applied)) < 0;
	bad |= M_HELP(&b, "syncd_rows_quarantined_total", "counter",
		      "rows sent to the quarantine since start") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_rows_quarantined_total{source=\"%s\"} %lld\n",
				  api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].quarantined)) < 0;
	bad |= M_HELP(&b, "syncd_units_down", "gauge",
		      "units whose database is down (the slot keeps their WAL)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_units_down{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].units_down)) < 0;
	bad |= M_HELP(&b, "syncd_units_detached", "gauge", "units detached past unit_backlog_limit") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_units_detached{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].units_detached)) < 0;
	bad |= M_HELP(&b, "syncd_decisions_total", "counter", "API decisions, by outcome and reason code") <
	       0;
	pthread_mutex_lock(&api->lock);
	for (size_t k = 0; k < api->nreasons; k++)
		bad |= buf_printf(&b, "syncd_decisions_total{outcome=\"%s\",reason=\"%s\"} %lu\n",
				  api->by_reason[k].decision,
				  api->by_reason[k].reason[0] ? api->by_reason[k].reason : "none",
				  api->by_reason[k].n) < 0;
	bad |= M_HELP(&b, "syncd_documents_issued_total", "counter",
		      "documents issued since start, by kind") < 0;
	for (size_t k = 0; k < api->nkinds; k++)
		bad |= buf_printf(&b, "syncd_documents_issued_total{kind=\"%s\"} %lu\n", api->by_kind[k].kind,
				  api->by_kind[k].n) < 0;
	pthread_mutex_unlock(&api->lock);
	bad |= M_HELP(&b, "syncd_audit_appends_total", "counter",
		      "rows appended to the audit log since start") < 0;
	bad |= buf_printf(&b, "syncd_audit_appends_total %lu\n", atomic_load(&api->n_appends)) < 0;
	bad |= M_HELP(&b, "syncd_audit_append_failures_total", "counter",
		      "audit appends that failed (the request was refused)") < 0;
	bad |= buf_printf(&b, "syncd_audit_append_failures_total %lu\n", atomic_load(&api->n_audit_fail)) < 0;
	if (api->az != NULL) {
		unsigned long counts[AUTHZ_LDAP_BUCKETS + 1], cum = 0;
		double sum;

		authz_ldap_histogram(api->az, counts, &sum);
		bad |= M_HELP(&b, "syncd_ldap_seconds", "histogram",
			      "time of directory operations behind decisions and logins") < 0;
		for (size_t k = 0; k < AUTHZ_LDAP_BUCKETS; k++) {
			cum += counts[k];
			bad |= buf_printf(&b, "syncd_ldap_seconds_bucket{le=\"%g\"} %lu\n",
					  authz_ldap_bounds[k], cum) < 0;
		}
		cum += counts[AUTHZ_LDAP_BUCKETS];
		bad |= buf_printf(&b,
				  "syncd_ldap_seconds_bucket{le=\"+Inf\"} %lu\nsyncd_ldap_seconds_sum %.6f\n"
				  "syncd_ldap_seconds_count %lu\n",
				  cum, sum, cum) < 0;
	}
	bad |= M_HELP(&b, "syncd_changes_total", "counter",
		      "changes applied to the units in this session, by operation") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		static const char *const ops[] = {"insert", "update", "delete"};
		long long v[3] = {atomic_load(&st->inserts), atomic_load(&st->updates),
				  atomic_load(&st->deletes)};

		for (int o = 0; o < 3; o++)
			bad |= buf_printf(&b, "syncd_changes_total{source=\"%s\",op=\"%s\"} %lld\n",
					  api->deps.status_names[i], ops[o], v[o]) < 0;
	}
	bad |= M_HELP(&b, "syncd_rows_applied_total", "counter",
		      "changes applied since start, by unit, table and operation (the ones seen)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		static const char *const ops[] = {"insert", "update", "delete"};

		const struct routing *cur = api->deps.current ? atomic_load(api->deps.current) : api->deps.rt;

		for (size_t u = 0; st->unit_table_ops != NULL && u < nu && u < st->nunits; u++)
			for (size_t t = 0; t < STREAM_MAX_TABLES && t < routing_table_count(cur); t++)
				for (size_t o = 0; o < 3; o++) {
					long long v = atomic_load(
						&st->unit_table_ops[(u * STREAM_MAX_TABLES + t) * 3 + o]);

					if (v > 0)
						bad |= buf_printf(
							       &b,
							       "syncd_rows_applied_total{source=\"%s\",unit=\"%05d\","
							       "table=\"%s\",op=\"%s\"} %lld\n",
							       api->deps.status_names[i],
							       routing_unit_get(api->deps.rt, u)->code,
							       routing_table_get(cur, t)->table, ops[o],
							       v) < 0;
				}
	}
	bad |= M_HELP(&b, "syncd_batches_total", "counter", "target transactions committed in this session") <
	       0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_batches_total{source=\"%s\"} %lld\n", api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].batches)) < 0;
	bad |= M_HELP(&b, "syncd_stream_retries_total", "counter",
		      "stream sessions ended by an error and retried") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_stream_retries_total{source=\"%s\"} %lu\n",
				  api->deps.status_names[i], atomic_load(&api->deps.status[i].retries)) < 0;
	bad |= M_HELP(&b, "syncd_directory_up", "gauge", "1 while the LDAP directory answers") < 0;
	bad |= buf_printf(&b, "syncd_directory_up %d\n",
			  api->az != NULL && authz_directory_up(api->az) ? 1 : 0) < 0;
	if (proc_stat(&cpu, &start, &rss) == 0) {
		bad |= M_HELP(&b, "process_cpu_seconds_total", "counter", "user and system CPU time") < 0;
		bad |= buf_printf(&b, "process_cpu_seconds_total %.2f\n", cpu) < 0;
		bad |= M_HELP(&b, "process_resident_memory_bytes", "gauge", "resident memory") < 0;
		bad |= buf_printf(&b, "process_resident_memory_bytes %ld\n", rss * sysconf(_SC_PAGESIZE)) < 0;
		bad |= M_HELP(&b, "process_start_time_seconds", "gauge", "start time since the epoch") < 0;
		bad |= buf_printf(&b, "process_start_time_seconds %.0f\n", start) < 0;
	}
	if (bad) {
		buf_free(&b);
		return respond_error(c, rq, 500, "internal", "out of memory");
	}
	return respond(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

static void lsn_text(unsigned long long lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* GET /v1/status: sources and units as syncd sees them, and the quarantine
 * by source (state DB); no personal data, no login (like /metrics). */
static enum MHD_Result ep_status(struct api *api, struct MHD_Connection *c, struct req *rq,
				 const struct authz_user *me, const char *hole)
{
	json_t *srcs = json_array(), *units = json_array(), *q = json_object();
	size_t nu = api->deps.rt ? routing_unit_count(api->deps.rt) : 0;
	char err[256];
	PGconn *db =
		thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));
	(void)me;
	(void)hole;

	if (db != NULL) {
		PGresult *r =
			PQexec(db, "SELECT source, count(*) FROM public.syncd_quarantine GROUP BY source");

		for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
			json_object_set_new(q, PQgetvalue(r, i, 0), json_integer(atoll(PQgetvalue(r, i, 1))));
		PQclear(r);
	}
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		unsigned long long rcv = atomic_load(&st->received), fl = atomic_load(&st->flushed);
		char r1[32], f1[32];
		json_t *qn = json_object_get(q, api->deps.status_names[i]);

		lsn_text(rcv, r1, sizeof(r1));
		lsn_text(fl, f1, sizeof(f1));
		json_array_append_new(
			srcs,
			json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:i}", "name",
				  api->deps.status_names[i], "state", source_state(st), "received_lsn", r1,
				  "confirmed_lsn", f1, "lag_bytes", (json_int_t)(rcv > fl ? rcv - fl : 0),
				  "applied_since_start", (json_int_t)atomic_load(&st->applied),
				  "quarantined_since_start", (json_int_t)atomic_load(&st->quarantined),
				  "quarantined", (json_int_t)(qn ? json_integer_value(qn) : 0), "units_down",
				  atomic_load(&st->units_down), "units_detached",
				  atomic_load(&st->units_detached)));
	}
	for (size_t u = 0; u < nu; u++) {
		const struct unit_info *ui = routing_unit_get(api->deps.rt, u);
		json_t *per = json_object();
		char code[12];

		snprintf(code, sizeof(code), "%05d", ui->code);
		for (size_t i = 0; i < api->deps.nstatus; i++) {
			char l[32];

			if (api->deps.status[i].unit_lsn == NULL || u >= api->deps.status[i].nunits)
				continue;
			lsn_text(atomic_load(&api->deps.status[i].unit_lsn[u]), l, sizeof(l));
			json_object_set_new(per, api->deps.status_names[i], json_string(l));
		}
		json_array_append_new(units, json_pack("{s:s,s:s,s:o}", "code", code, "name", ui->full_name,
						       "applied_lsn", per));
	}
	json_decref(q);
	return respond_json(c, rq, 200,
			    json_pack("{s:o,s:o,s:s}", "sources", srcs, "units", units, "directory",
				      api->az == NULL		    ? "not configured"
				      : authz_directory_up(api->az) ? "reachable"
								    : "unreachable"));
}

/* ------------------------------------------------------------ records */

/* GET /v1/records/{source}/{table}/{key}?unit=CODE: from the unit's copy,
 * with <source>.record.read there. */
static enum MHD_Result ep_record_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				     const struct authz_user *me, const char *rest)
{
	char source[64], table[128], key[128], perm[96], object[400], reason[512], *json = NULL;
	const char *us = arg(c, "unit");
	int unit = unit_parse(us), st;
	enum MHD_Result res;

	if (sscanf(rest, "%63[^/]/%127[^/]/%127[^/]", source, table, key) != 3 || unit < 0)
		return respond_error(c, rq, 400, "bad_request",
				     "GET /v1/records/{source}/{table}/{key}?unit=CODE");
	snprintf(perm, sizeof(perm), "%s.record.read", source);
	snprintf(object, sizeof(object), "%s/%s/%s", source, table, key);
	if (!permitted(api, c, rq, me, perm, unit, "record.read", object, &res))
		return res;
	st = record_get(api->deps.cfg, api->deps.rt, source, table, unit, key, &json, reason, sizeof(reason));
	if (st <= 0)
		return respond_reason(c, rq, st == 0 ? 404 : (unsigned)-st, reason);
	{
		char u[12];
		json_t *rec = json_loads(json, 0, NULL);

		free(json);
		snprintf(u, sizeof(u), "%05d", unit);
		return respond_json(c, rq, 200,
				    json_pack("{s:s,s:s,s:s,s:s,s:o}", "source", source, "table", table,
					      "unit", u, "key", key, "record", rec ? rec : json_null()));
	}
}

struct read_ctx {
	struct api *api;
	const struct authz_user *me;
	int unit;
};

static bool may_read_kind(const struct doc_kind *k, void *arg)
{
	struct read_ctx *r = arg;
	struct authz_decision d;

	return authz_check(r->api->az, r->me->uid, k->read_perm, r->unit, &d) == 0 && d.allow;
}

/* POST /v1/records/search {"unit", "q"}: personal data stays out of URLs. */
static enum MHD_Result ep_records_search(struct api *api, struct MHD_Connection *c, struct req *rq,
					 const struct authz_user *me, const char *hole)
{
	char err[256], reason[512], object[300];
	json_t *o = body_object(rq, err, sizeof(err)), *hits = NULL;
	const char *q = o ? json_string_value(json_object_get(o, "q")) : NULL;
	int unit = o ? unit_parse(json_string_value(json_object_get(o, "unit"))) : -1;
	struct read_ctx rc = {api, me, unit};
	struct authz_decision d1, d2;
	bool any;
	int st;
	(void)hole;

	if (q == NULL || unit < 0 || strlen(q) < 2 || strlen(q) > 100) {
		json_decref(o);
		return respond_error(
			c, rq, 400, "bad_request",
			"needs {\"unit\": \"CODE\", \"q\": TEXT} (2-100 characters: a name, a personal ID, or "
			"SHEET/NUMBER of a parcel)");
	}
	/* the query is personal data: the permanent row keeps a keyed hash of
	 * it (equal queries of this run match), never the text */
	{
		unsigned char mac[32];
		unsigned int maclen = sizeof(mac);
		char hex[17];

		HMAC(EVP_sha256(), api->query_key, sizeof(api->query_key), (const unsigned char *)q,
		     strlen(q), mac, &maclen);
		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", mac[i]);
		snprintf(object, sizeof(object), "q=hmac:%s len=%zu", hex, strlen(q));
	}
	if (authz_check(api->az, me->uid, "civil.record.read", unit, &d1) == LP_UNAVAILABLE ||
	    authz_check(api->az, me->uid, "land.record.read", unit, &d2) == LP_UNAVAILABLE) {
		json_decref(o);
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	}
	any = d1.allow || d2.allow;
	if (!audited(api, rq, "record.search", unit, object, any ? "allow" : "deny", any ? "" : d1.reason)) {
		json_decref(o);
		return audit_down(c, rq);
	}
	if (!any) {
		json_decref(o);
		return respond_error(c, rq, 403, "forbidden",
				     "searching needs land.record.read or civil.record.read in unit %05d",
				     unit);
	}
	st = records_search(api->deps.cfg, api->deps.docs, unit, q, may_read_kind, &rc, &hits, reason,
			    sizeof(reason));
	json_decref(o);
	if (st != 0) {
		json_decref(hits);
		return respond_reason(c, rq, (unsigned)st, reason);
	}
	return respond_json(c, rq, 200, json_pack("{s:o}", "results", hits));
}

/* ------------------------------------------------------------ audit log */

/* The columns of an audit query's rows, in SELECT order. */
static const char *const audit_cols[] = {"seq",	 "at",	   "actor",    "client", "request_id", "action",
					 "unit", "object", "decision", "reason", "hash"};
#define AUDIT_NCOLS (sizeof(audit_cols) / sizeof(audit_cols[0]))

/* n rows as CSV (header first); a cell a spreadsheet would run (= + - @ ...)
 * is made inert.  A new string (caller frees), NULL when memory runs out. */
static char *audit_csv(PGresult *r, int n, size_t *len)
{
	struct buf q = {0};
	bool bad = false;

	for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++)
		bad |= buf_puts(&q, audit_cols[k]) < 0 ||
		       buf_puts(&q, k + 1 == AUDIT_NCOLS ? "\r\n" : ",") < 0;
	for (int i = 0; i < n && !bad; i++)
		for (size_t k = 0; k < AUDIT_NCOLS && !bad; k++) {
			char *cell = text_csv_cell(PQgetvalue(r, i, (int)k));

			bad |= cell == NULL || buf_puts(&q, cell) < 0 ||
			       buf_puts(&q, k + 1 == AUDIT_NCOLS ? "\r\n" : ",") < 0;
			free(cell);
		}
	if (bad) {
		buf_free(&q);
		return NULL;
	}
	*len = q.len;
	return q.data ? q.data : strdup("");
}

/* n rows as a JSON array of events (seq a number, the rest strings). */
static json_t *audit_events(PGresult *r, int n)
{
	json_t *ev = json_array();

	for (int i = 0; i < n; i++) {
		json_t *e = json_object();

		for (size_t k = 0; k < AUDIT_NCOLS; k++)
			json_object_set_new(e, audit_cols[k],
					    k == 0 ? json_integer(atoll(PQgetvalue(r, i, 0)))
						   : json_string(PQgetvalue(r, i, (int)k)));
		json_array_append_new(ev, e);
	}
	return ev;
}

/* The audit query of the request's filters: each one given becomes a
 * parameter (never text in the SQL).  0, or -1 when memory runs out. */
static int audit_query_sql(struct MHD_Connection *c, long limit, struct buf *sql, const char **params,
			   int *np)
{
	static const struct {
		const char *arg, *cond;
	} filters[] = {
		{"unit", "unit = $%d"},		 {"actor", "actor = $%d"},
		{"action", "action = $%d"},	 {"object", "object = $%d"},
		{"decision", "decision = $%d"},	 {"from", "at >= $%d::timestamptz"},
		{"to", "at < $%d::timestamptz"}, {"cursor", "seq > $%d::bigint"},
	};

	if (buf_puts(sql, "SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
			  "actor, client, request_id, action, unit, object, decision, reason, "
			  "encode(hash, 'hex') FROM public.syncd_audit WHERE true") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		const char *v = arg(c, filters[i].arg);

		if (v == NULL)
			continue;
		params[(*np)++] = v;
		if (buf_puts(sql, " AND ") < 0 || buf_printf(sql, filters[i].cond, *np) < 0)
			return -1;
	}
	return buf_printf(sql, " ORDER BY seq LIMIT %ld", limit + 1);
}

static enum MHD_Result ep_audit_query(struct api *api, struct MHD_Connection *c, struct req *rq,
				      const struct authz_user *me, const char *hole)
{
	const char *us = arg(c, "unit"), *from = arg(c, "from"), *to = arg(c, "to"),
		   *cursor = arg(c, "cursor"), *fmt = arg(c, "format"), *lim = arg(c, "limit");
	int unit = us ? unit_parse(us) : 0;
	long limit = lim ? strtol(lim, NULL, 10) : 100;
	struct buf sql = {0};
	const char *params[12];
	char err[512], object[300];
	struct authz_decision d;
	enum MHD_Result res;
	PGconn *db;
	PGresult *r;
	int np = 0;
	bool csv = (fmt && strcmp(fmt, "csv") == 0), all_units;
	time_t t;
	(void)hole;

	if (unit < 0 || limit < 1 || limit > 1000 ||
	    (from && authz_time_parse(from, &t) < 0 && strlen(from) != 27) ||
	    (cursor && strspn(cursor, "0123456789") != strlen(cursor)))
		return respond_error(
			c, rq, 400, "bad_request",
			"unit is a 5-digit code, limit 1-1000, from/to RFC 3339 UTC times, cursor as given");
	snprintf(object, sizeof(object), "unit=%s actor=%s action=%s from=%s to=%s", us ? us : "*",
		 arg(c, "actor") ? arg(c, "actor") : "*", arg(c, "action") ? arg(c, "action") : "*",
		 from ? from : "", to ? to : "");
	/* a city auditor reads every unit; a unit auditor only its own */
	if (authz_check(api->az, me->uid, "audit.read", unit ? unit : routing_unit_get(api->deps.rt, 0)->code,
			&d) == LP_UNAVAILABLE)
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	all_units = d.allow && strcmp(d.reason, "city_role") == 0;
	if (!all_units && unit == 0) {
		if (!audited(api, rq, "audit.read", 0, object, "deny",
			     "unit_required (only a city auditor reads every unit)"))
			return audit_down(c, rq);
		return respond_error(c, rq, 403, "forbidden",
				     "add ?unit=CODE: only a city auditor reads every unit's events");
	}
	if (!all_units && !permitted(api, c, rq, me, "audit.read", unit, "audit.read", object, &res))
		return res;
	if (all_units && !audited(api, rq, "audit.read", unit, object, "allow", "city_role"))
		return audit_down(c, rq);
	db = thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));
	if (db == NULL)
		return respond_error(c, rq, 503, "state_unavailable", "%s", err);
	if (audit_query_sql(c, limit, &sql, params, &np) < 0)
		goto oom;
	r = PQexecParams(db, sql.data, np, NULL, params, NULL, NULL, 0);
	buf_free(&sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, sizeof(err), "%s", PQerrorMessage(db));
		PQclear(r);
		return respond_error(c, rq, strstr(err, "invalid input") ? 400 : 503, "query_failed", "%s",
				     err);
	}
	{
		int n = PQntuples(r) > limit ? (int)limit : PQntuples(r);
		bool more = PQntuples(r) > limit;

		if (csv) {
			size_t len = 0;
			char *text = audit_csv(r, n, &len);

			if (more && n > 0)
				snprintf(rq->next, sizeof(rq->next), "%s", PQgetvalue(r, n - 1, 0));
			PQclear(r);
			if (text == NULL)
				goto oom;
			return respond(c, rq, 200, "text/csv; charset=utf-8", text, len);
		} else {
			json_t *ev = audit_events(r, n);
			char next[24] = "";

			if (more && n > 0)
				snprintf(next, sizeof(next), "%s", PQgetvalue(r, n - 1, 0));
			PQclear(r);
			return respond_json(c, rq, 200,
					    json_pack("{s:o,s:o}", "events", ev, "next_cursor",
						      next[0] ? json_string(next) : json_null()));
		}
	}
oom:
	buf_free(&sql);
	return respond_error(c, rq, 500, "internal", "out of memory");
}

static enum MHD_Result ep_audit_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				       const struct authz_user *me, const char *hole)
{
	struct audit_verdict v;
	struct authz_decision d;
	char err[512];
	const struct config *cfg = api->deps.cfg;
	(void)hole;

	if (authz_check(api->az, me->uid, "audit.read", 31120, &d) == LP_UNAVAILABLE)
		return respond_error(c, rq, 503, "directory_unavailable", "the directory cannot be reached");
	if (!d.allow || strcmp(d.reason, "city_role") != 0) {
		if (!audited(api, rq, "audit.verify", 0, "", "deny", "city_auditor_required"))
			return audit_down(c, rq);
		return respond_error(c, rq, 403, "forbidden",
				     "verifying the whole chain needs a city auditor role");
	}
	if (!audited(api, rq, "audit.verify", 0, "", "allow", "city_role"))
		return audit_down(c, rq);
	if (audit_verify(cfg->state_conninfo, cfg->state_password, cfg->audit_checkpoint_file,
			 api->deps.signer, &v, err, sizeof(err)) < 0)
		return respond_error(c, rq, 503, "state_unavailable", "%s", err);
	return respond_json(
		c, rq, 200,
		json_pack("{s:b,s:I,s:I,s:o}", "ok", v.ok, "rows", (json_int_t)v.rows, "checkpoints",
			  (json_int_t)v.checkpoints, "first_broken",
			  v.ok ? json_null()
			       : json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)v.seq, "expected",
					   v.expected, "found", v.found, "problem", v.problem)));
}

/* A state-changing request from another site's page is refused before
 * anything else: its body must be JSON (a form or text/plain post cannot
 * send that without CORS), and a foreign Origin or Sec-Fetch-Site says
 * where it comes from.  True when refused (*res set). */
static bool cross_site(struct MHD_Connection *c, struct req *rq, bool has_body, enum MHD_Result *res)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *authority = origin ? strstr(origin, "://") : NULL;

	if (site != NULL && strcmp(site, "cross-site") == 0) {
		*res = respond_error(c, rq, 403, "cross_site",
				     "requests from another site's page are refused");
		return true;
	}
	if (origin != NULL && strcmp(origin, "null") != 0 &&
	    (authority == NULL || host == NULL || strcasecmp(authority + 3, host) != 0)) {
		*res = respond_error(
			c, rq, 403, "cross_site",
			"Origin %.200s is not this server; requests from another site's page are refused",
			origin);
		return true;
	}
	if (origin != NULL && strcmp(origin, "null") == 0) {
		*res = respond_error(c, rq, 403, "cross_site", "an opaque Origin (null) is refused");
		return true;
	}
	if (has_body && (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
			 (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))) {
		*res = respond_error(c, rq, 415, "unsupported_media_type",
				     "send the body as JSON with Content-Type: application/json (not %.80s)",
				     ct ? ct : "no Content-Type");
		return true;
	}
	return false;
}

static enum MHD_Result ep_healthz(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	(void)api;
	(void)me;
	(void)hole;
	return respond_json(c, rq, 200, json_pack("{s:s}", "status", "ok"));
}

/* The API, one row per endpoint.  A pattern holds at most one {}, which
 * matches one or more characters (a serial, a grant id, the rest of a record
 * path) and is handed to the handler; rows are tried in order, so the longer
 * patterns come first.  404 and 405 come from this table. */
static const struct endpoint {
	const char *method, *pattern;
	enum MHD_Result (*handler)(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *hole);
	bool login;	  /* HTTP Basic, then the handler has me */
	bool documents;	  /* off without documents.json */
	bool served_here; /* by the server thread: waits on nothing */
} endpoints[] = {
	{"GET", "/healthz", ep_healthz, false, false, true},
	{"GET", "/readyz", ep_readyz, false, false, true},
	{"GET", "/metrics", ep_metrics, false, false, true},
	{"GET", "/v1/status", ep_status, false, false, false},
	{"GET", "/v1/documents/{}/verify", ep_document_verify, false, true, false},
	{"POST", "/v1/documents/{}/revoke", ep_document_revoke, true, true, false},
	{"GET", "/v1/documents/{}", ep_document_get, true, true, false},
	{"POST", "/v1/documents", ep_document_issue, true, true, false},
	{"POST", "/v1/records/search", ep_records_search, true, true, false},
	{"GET", "/v1/records/{}", ep_record_get, true, true, false},
	{"GET", "/v1/authz/check", ep_check, true, false, false},
	{"GET", "/v1/grants", ep_grants_list, true, false, false},
	{"POST", "/v1/grants", ep_grant_create, true, false, false},
	{"DELETE", "/v1/grants/{}", ep_grant_revoke, true, false, false},
	{"GET", "/v1/audit/verify", ep_audit_verify, true, false, false},
	{"GET", "/v1/audit", ep_audit_query, true, false, false},
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

/* Whether url fits pattern; what {} matched goes to hole (holesize bytes). */
static bool pattern_match(const char *pattern, const char *url, char *hole, size_t holesize)
{
	const char *gap = strstr(pattern, "{}");
	size_t pre, post, n = strlen(url);

	hole[0] = '\0';
	if (gap == NULL)
		return strcmp(pattern, url) == 0;
	pre = (size_t)(gap - pattern);
	post = strlen(gap + 2);
	if (n <= pre + post || strncmp(url, pattern, pre) != 0 || strcmp(url + n - post, gap + 2) != 0)
		return false;
	snprintf(hole, holesize, "%.*s", (int)(n - pre - post), url + pre);
	return true;
}

/* The row for method and url; NULL with *allowed set to the methods the
 * url has ("" when none: 404). */
static const struct endpoint *endpoint_find(const char *method, const char *url, char *hole, size_t holesize,
					    char *allowed, size_t allowedlen)
{
	bool exact = false; /* /v1/records/search is not a record called "search" */

	allowed[0] = '\0';
	for (size_t i = 0; i < NENDPOINTS; i++) {
		bool has_hole = strstr(endpoints[i].pattern, "{}") != NULL;

		if ((exact && has_hole) || !pattern_match(endpoints[i].pattern, url, hole, holesize))
			continue;
		exact |= !has_hole;
		if (strcmp(endpoints[i].method, method) == 0)
			return &endpoints[i];
		if (strstr(allowed, endpoints[i].method) == NULL)
			snprintf(allowed + strlen(allowed), allowedlen - strlen(allowed), "%s%s",
				 allowed[0] ? ", " : "", endpoints[i].method);
	}
	return NULL;
}

static enum MHD_Result route(struct api *api, struct MHD_Connection *c, struct req *rq, const char *url,
			     const char *method)
{
	char hole[4200], allowed[64];
	const struct endpoint *e = endpoint_find(method, url, hole, sizeof(hole), allowed, sizeof(allowed));
	struct authz_user me;
	enum MHD_Result res = MHD_NO;

	if (e == NULL && allowed[0] != '\0')
		return respond_error(c, rq, 405, "method_not_allowed", "%s only", allowed);
	if (e == NULL)
		return respond_error(c, rq, 404, "not_found", "no endpoint %s (see docs/api.md)", url);
	if (e->documents && api->deps.docs == NULL)
		return respond_error(c, rq, 503, "documents_not_configured",
				     "documents and records are off: syncd runs without %s/documents.json; "
				     "install policies/documents.json there and restart syncd",
				     api->deps.cfg->policies_dir);
	if (!e->login)
		return e->handler(api, c, rq, NULL, hole);
	if (strcmp(method, "GET") != 0 && cross_site(c, rq, strcmp(method, "POST") == 0, &res))
		return res;
	if (!authenticate(api, c, rq, &me, &res))
		return res;
	rq->authed = true;
	return e->handler(api, c, rq, &me, hole);
}

/* ------------------------------------------------------------ workers */

static void *worker_main(void *arg)
{
	struct api *api = arg;

	for (;;) {
		struct req *rq;
		enum MHD_Result res;

		pthread_mutex_lock(&api->qlock);
		while (api->qhead == NULL && !api->stopping)
			pthread_cond_wait(&api->qwake, &api->qlock);
		rq = api->qhead;
		if (rq == NULL) { /* stopping, and nothing left to answer */
			pthread_mutex_unlock(&api->qlock);
			return NULL;
		}
		api->qhead = rq->qnext;
		if (api->qhead == NULL)
			api->qtail = NULL;
		pthread_mutex_unlock(&api->qlock);
		log_set_context("req=%s", rq->id);
		res = route(api, rq->conn, rq, rq->url, rq->method);
		if (rq->resp == NULL || res == MHD_NO)
			rq->failed = true;
		log_set_context(NULL);
		MHD_resume_connection(rq->conn);
	}
}

/* Hands rq to a worker (the connection waits, suspended); false when
 * syncd is stopping. */
static bool enqueue(struct api *api, struct MHD_Connection *c, struct req *rq, const char *url,
		    const char *method)
{
	rq->url = strdup(url);
	rq->method = strdup(method);
	if (rq->url == NULL || rq->method == NULL)
		return false;
	rq->conn = c;
	rq->deferred = true;
	pthread_mutex_lock(&api->qlock);
	if (api->stopping) {
		pthread_mutex_unlock(&api->qlock);
		rq->deferred = false;
		return false;
	}
	MHD_suspend_connection(c);
	if (api->qtail != NULL)
		api->qtail->qnext = rq;
	else
		api->qhead = rq;
	api->qtail = rq;
	pthread_cond_signal(&api->qwake);
	pthread_mutex_unlock(&api->qlock);
	return true;
}

/* Answered by the server thread itself: nothing there waits on the
 * directory or a database. */
static bool served_inline(const char *method, const char *url)
{
	char hole[8], allowed[64];
	const struct endpoint *e = endpoint_find(method, url, hole, sizeof(hole), allowed, sizeof(allowed));

	return e != NULL && e->served_here;
}

/* A login attempt inside its throttle window is refused at once. */
static bool throttled(struct api *api, struct MHD_Connection *c, struct req *rq, enum MHD_Result *res)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	long wait = user ? throttle_wait(api, user, rq->addr) : 0;

	if (user != NULL)
		snprintf(rq->user, sizeof(rq->user), "%s", user);
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	if (wait <= 0)
		return false;
	rq->retry_after = (int)((wait + 999) / 1000);
	*res = respond_error(c, rq, 429, "too_many_attempts",
			     "too many failed logins for this uid or from this address; try again in %d s",
			     rq->retry_after);
	return true;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct api *api = cls;
	struct req *rq = *con_cls;
	enum MHD_Result res;

	(void)version;
	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		request_id(c, rq);
		client_address(api, c, rq);
		rq->api = api;
		snprintf(rq->what, sizeof(rq->what), "%s %s", method, url);
		*con_cls = rq;
		return MHD_YES;
	}
	if (rq->deferred) { /* resumed: the worker's answer */
		if (rq->failed || rq->resp == NULL)
			return MHD_NO;
		res = MHD_queue_response(c, rq->status, rq->resp);
		MHD_destroy_response(rq->resp);
		rq->resp = NULL;
		rq->deferred = false;
		return res;
	}
	if (*upload_size > 0) {
		if (rq->body.len + *upload_size > BODY_MAX || buf_append(&rq->body, upload, *upload_size) < 0)
			rq->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	log_set_context("req=%s", rq->id);
	if (rq->too_big)
		res = respond_error(c, rq, 413, "body_too_large", "request bodies are limited to %d bytes",
				    BODY_MAX);
	else if (served_inline(method, url))
		res = route(api, c, rq, url, method);
	else if (throttled(api, c, rq, &res))
		;
	else if (enqueue(api, c, rq, url, method))
		res = MHD_YES;
	else
		res = respond_error(c, rq, 503, "stopping", "syncd is stopping; try again in a moment");
	log_set_context(NULL);
	return res;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq == NULL)
		return;
	buf_free(&rq->body);
	if (rq->resp != NULL)
		MHD_destroy_response(rq->resp);
	free(rq->url);
	free(rq->method);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	/* a client's undecodable credentials are its request's refusal, logged there */
	if (strstr(msg, "uthentication") != NULL || strstr(msg, "uth header") != NULL)
		log_debug("http: %s", msg);
	else
		log_warn("http: %s", msg);
}

/* TLS 1.2 and 1.3 only, forward-secret key exchange only (GnuTLS syntax). */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-DHE-RSA:-SHA1:"
				     "-AES-128-CBC:-AES-256-CBC:-CAMELLIA-128-CBC:-CAMELLIA-256-CBC:"
				     "%SAFE_RENEGOTIATION";

struct api *api_start(const struct api_deps *deps, char *err, size_t errlen)
{
	const struct config *cfg = deps->cfg;
	struct sockaddr_storage ss;
	unsigned len;
	int loopback;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct api *api = calloc(1, sizeof(*api));

	if (api == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&api->lock, NULL);
	pthread_mutex_init(&api->qlock, NULL);
	pthread_cond_init(&api->qwake, NULL);
	api->deps = *deps;
	api->slots = calloc(THROTTLE_SIZE, sizeof(*api->slots));
	if (RAND_bytes(api->query_key, sizeof(api->query_key)) != 1) {
		snprintf(err, errlen, "no randomness for the search hash key");
		goto fail;
	}
	api->workers = calloc((size_t)cfg->api_threads, sizeof(*api->workers));
	if (api->slots == NULL || api->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (long i = 0; i < cfg->api_threads; i++, api->nworkers++)
		if (pthread_create(&api->workers[i], NULL, worker_main, api) != 0) {
			snprintf(err, errlen, "cannot start the API's worker threads");
			goto fail;
		}
	api->az = deps->az;
	if (api_listen_parse(cfg->listen, &ss, &len, &loopback) < 0) {
		snprintf(err, errlen, "[syncd] listen = %s: expected IPv4:PORT or [IPv6]:PORT", cfg->listen);
		goto fail;
	}
	if (cfg->tls_cert_file == NULL && !loopback) {
		snprintf(
			err, errlen,
			"[syncd] listen = %s: without tls_cert_file and tls_key_file the API listens on a loopback "
			"address only (passwords would cross the network in clear); set both, or listen on 127.0.0.1 "
			"behind a TLS proxy named in trusted_proxies",
			cfg->listen);
		goto fail;
	}
	if (cfg->tls_cert_file != NULL) {
		api->cert = file_read_all(cfg->tls_cert_file, NULL, err, errlen);
		if (api->cert == NULL)
			goto fail;
		api->key = secret_file_read(cfg->tls_key_file, err, errlen);
		if (api->key == NULL)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	if (proxies_set(api, cfg->trusted_proxies) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	api->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, 2u,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)cfg->api_idle_timeout, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)cfg->api_max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)cfg->api_max_connections_per_ip,
		api->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, api->cert, MHD_OPTION_HTTPS_MEM_KEY,
		api->key, MHD_OPTION_HTTPS_PRIORITIES, tls_priorities, MHD_OPTION_END);
	if (api->d == NULL) {
		snprintf(err, errlen,
			 "[syncd] listen = %s: cannot listen there (in use, or not this host's address)",
			 cfg->listen);
		goto fail;
	}
	log_info("API listening on %s (%s)", cfg->listen, api->cert ? "TLS" : "loopback, no TLS");
	return api;
fail:
	api_stop(api);
	return NULL;
}

void api_stop(struct api *api)
{
	if (api == NULL)
		return;
	/* the workers answer what is queued, then MHD may stop (it must not
	 * hold a suspended connection then) */
	pthread_mutex_lock(&api->qlock);
	api->stopping = true;
	pthread_cond_broadcast(&api->qwake);
	pthread_mutex_unlock(&api->qlock);
	for (size_t i = 0; i < api->nworkers; i++)
		pthread_join(api->workers[i], NULL);
	free(api->workers);
	if (api->d != NULL)
		MHD_stop_daemon(api->d);
	free(api->slots);
	pthread_mutex_destroy(&api->qlock);
	pthread_cond_destroy(&api->qwake);
	for (size_t i = 0; i < api->nproxies; i++)
		free(api->proxies[i]);
	free(api->proxies);
	free(api->cert);
	if (api->key != NULL)
		explicit_bzero(api->key, strlen(api->key));
	free(api->key);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
