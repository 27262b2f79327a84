/* server.c — the HTTP server: libmicrohttpd, the worker threads (suspend and
 * resume), the login throttle, client addresses, the session table's life
 * and the dispatch table (the page's embedded files included). */
#include "syncd/api/internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/fileio.h"
#include "common/log.h"
#include "syncd/api/deadletter.h"

#define BODY_MAX	   (64 * 1024)
#define THROTTLE_SIZE	   65536 /* open addressing: keys never evict each other */
#define THROTTLE_FREE	   3	 /* failures of a uid before its attempts wait */
#define THROTTLE_FREE_ADDR 20	 /* of an address (an office NAT: many people, one address) */
#define THROTTLE_MS	   1000	 /* first wait; doubles per failure */
#define THROTTLE_MAX	   30000 /* never more: a slowdown, never a lockout */
#define THROTTLE_KEEP	   900	 /* seconds a failure is remembered */

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

void api_reload(struct api *api, const struct config *ncfg)
{
	if (proxies_set(api, ncfg->trusted_proxies) < 0)
		log_warn("reload: trusted_proxies: out of memory; the old list is kept");
	session_table_limits(api->sessions, ncfg->session_idle, ncfg->session_max);
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

void throttle_after(struct api *api, const char *uid, const char *addr, bool ok)
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

/* ------------------------------------------------------------ request helpers */

int unit_parse(const char *s)
{
	if (s == NULL || strlen(s) != 5 || strspn(s, "0123456789") != 5)
		return -1;
	return atoi(s);
}

const char *req_arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

json_t *body_object(struct req *rq, char *err, size_t errlen)
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

/* The API, one row per endpoint.  A pattern holds at most one {}, which
 * matches one or more characters (a serial, a grant id, the rest of a record
 * path) and is handed to the handler; rows are tried in order, so the longer
 * patterns come first.  404 and 405 come from this table. */
static const struct endpoint endpoints[] = {
	{"GET", "/healthz", ep_healthz, false, false, true, true},
	{"GET", "/readyz", ep_readyz, false, false, true, true},
	{"GET", "/metrics", ep_metrics, false, false, true, true},
	{"GET", "/v1/status", ep_status, false, false, false, true},
	{"GET", "/v1/documents/{}/verify", ep_document_verify, false, true, false, true},
	{"GET", "/verify/{}", ep_verify_page, false, true, false, true},
	{"POST", "/v1/documents/{}/revoke", ep_document_revoke, true, true, false, false},
	{"GET", "/v1/documents/{}", ep_document_get, true, true, false, false},
	{"POST", "/v1/documents", ep_document_issue, true, true, false, false},
	{"POST", "/v1/records/search", ep_records_search, true, true, false, false},
	{"GET", "/v1/records/{}", ep_record_get, true, true, false, false},
	{"GET", "/v1/authz/check", ep_check, true, false, false, false},
	{"GET", "/v1/grants", ep_grants_list, true, false, false, false},
	{"POST", "/v1/grants", ep_grant_create, true, false, false, false},
	{"DELETE", "/v1/grants/{}", ep_grant_revoke, true, false, false, false},
	{"GET", "/v1/audit/verify", ep_audit_verify, true, false, false, false},
	{"GET", "/v1/audit", ep_audit_query, true, false, false, false},
	{"POST", "/v1/deadletter/{}/retry", ep_deadletter_retry, true, false, false, false},
	{"POST", "/v1/deadletter/{}/discard", ep_deadletter_discard, true, false, false, false},
	{"GET", "/v1/deadletter/{}", ep_deadletter_get, true, false, false, false},
	{"GET", "/v1/deadletter", ep_deadletter_list, true, false, false, false},
	{"POST", "/v1/session", ep_session_create, false, false, false, false},
	{"GET", "/v1/session", ep_session_get, true, false, false, false},
	{"DELETE", "/v1/session", ep_session_delete, true, false, false, false},
};

/* The page's files: GET (and HEAD) of "/" or of an embedded file's path. */
static const struct endpoint static_row = {"GET", "/{}", ep_static, false, false, true, true};

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
const struct endpoint *endpoint_find(const char *method, const char *url, char *hole, size_t holesize,
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
	if (allowed[0] == '\0' && url[0] == '/' && web_asset_find(url + 1) != NULL) {
		snprintf(hole, holesize, "%s", url + 1);
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return &static_row;
		snprintf(allowed, allowedlen, "GET");
	}
	return NULL;
}

static enum MHD_Result route(struct api *api, struct MHD_Connection *c, struct req *rq, const char *url,
			     const char *method)
{
	char hole[4200], allowed[64], who[200];
	const struct endpoint *e = endpoint_find(method, url, hole, sizeof(hole), allowed, sizeof(allowed));
	struct authz_user me;
	enum MHD_Result res = MHD_NO;

	if (e == NULL && allowed[0] != '\0')
		return respond_error(c, rq, 405, "method_not_allowed", "%s only", allowed);
	if (e == NULL)
		return respond_error(c, rq, 404, "not_found", "no endpoint %s (see docs/api.md)", url);
	if (!e->standby && !metrics_active(api->deps.metrics, who, sizeof(who)))
		return respond_error(c, rq, 503, "standby",
				     "this syncd is the standby; the active instance is %s: use its address "
				     "(this one takes over by itself if the active one stops)",
				     who[0] ? who : "not known yet");
	if (e->documents && api->deps.docs == NULL)
		return respond_error(c, rq, 503, "documents_not_configured",
				     "documents and records are off: syncd runs without %s/documents.json; "
				     "install policies/documents.json there and restart syncd",
				     api->deps.cfg->policies_dir);
	/* /v1/session is the page's: its 401 is no_session, without a Basic challenge */
	rq->browser |= strcmp(e->pattern, "/v1/session") == 0;
	if (!e->login)
		return e->handler(api, c, rq, NULL, hole);
	if (strcmp(method, "GET") != 0 && cross_site(c, rq, strcmp(method, "POST") == 0, &res))
		return res;
	if (!authenticate(api, c, rq, &me, &res))
		return res;
	rq->authed = true;
	if (csrf_refused(c, rq, method, &res))
		return res;
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

/* The uid a request logs in as: HTTP Basic's, or the "user" of a POST
 * /v1/session body; false when it names none. */
static bool login_uid(struct MHD_Connection *c, struct req *rq, const char *url, const char *method,
		      char *uid, size_t uidlen)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	bool found = user != NULL;

	if (user != NULL)
		snprintf(uid, uidlen, "%s", user);
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	if (!found && strcmp(method, "POST") == 0 && strcmp(url, "/v1/session") == 0) {
		json_t *o = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, NULL);
		json_t *p = json_object_get(o, "password");
		const char *u = json_string_value(json_object_get(o, "user"));

		if (u != NULL) {
			snprintf(uid, uidlen, "%s", u);
			found = true;
		}
		/* the parsed copy of the password is wiped before it is freed */
		if (json_is_string(p))
			explicit_bzero((char *)(uintptr_t)json_string_value(p), json_string_length(p));
		json_decref(o);
	}
	return found;
}

/* A login attempt inside its throttle window is refused at once. */
static bool throttled(struct api *api, struct MHD_Connection *c, struct req *rq, const char *url,
		      const char *method, enum MHD_Result *res)
{
	char user[128];
	long wait = 0;

	if (login_uid(c, rq, url, method, user, sizeof(user))) {
		snprintf(rq->user, sizeof(rq->user), "%s", user);
		wait = throttle_wait(api, user, rq->addr);
	}
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
	else if (throttled(api, c, rq, url, method, &res))
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
	api->sessions = session_table_new(SESSION_CAPACITY, cfg->session_idle, cfg->session_max);
	api->secure_cookie = cfg->tls_cert_file != NULL ||
			     (cfg->public_url != NULL && strncmp(cfg->public_url, "https://", 8) == 0);
	if (RAND_bytes(api->query_key, sizeof(api->query_key)) != 1) {
		snprintf(err, errlen, "no randomness for the search hash key");
		goto fail;
	}
	api->workers = calloc((size_t)cfg->api_threads, sizeof(*api->workers));
	if (api->slots == NULL || api->workers == NULL || api->sessions == NULL) {
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
	session_table_free(api->sessions);
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
