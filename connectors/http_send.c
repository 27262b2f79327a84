/* http_send.c — one batch POSTed with libcurl: TLS always verified, no redirects,
 * bearer/OAuth2/mTLS/webhook auth; the answer classified; backoff with full jitter. */
#include "connectors/http_send.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/text.h"
#include "connectors/http_sign.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define BODY_KEEP	   65536  /* of an answer: enough for a token, bounded for a hostile server */
#define RETRY_AFTER_MAX	   86400L /* a day: a larger Retry-After is taken as a day */
#define TOKEN_MARGIN	   60	  /* seconds before expires_in that a token counts as expired */
#define TOKEN_DEFAULT_TTL  300	  /* when the token answer has no expires_in */

const char *http_verdict_name(enum http_verdict v)
{
	switch (v) {
	case HTTP_DELIVERED: return "delivered";
	case HTTP_RETRY: return "retry";
	case HTTP_DEAD: return "dead";
	}
	return "?";
}

/* curl errors that waiting does not cure: the configuration (URL, files,
 * certificates) is wrong, and an operator must act.  A certificate the CA
 * file does not vouch for is one: retrying would only hide it until the
 * deadline.  Everything else (timeouts, refused, reset, DNS, a handshake cut
 * short) is taken as transient. */
static const int dead_codes[] = {
	CURLE_UNSUPPORTED_PROTOCOL,
	CURLE_URL_MALFORMAT,
	CURLE_NOT_BUILT_IN,
	CURLE_TOO_MANY_REDIRECTS,
	CURLE_SSL_ENGINE_NOTFOUND,
	CURLE_SSL_ENGINE_SETFAILED,
	CURLE_SSL_CERTPROBLEM,
	CURLE_SSL_CIPHER,
	CURLE_PEER_FAILED_VERIFICATION,
	CURLE_SSL_CACERT_BADFILE,
	CURLE_SSL_CRL_BADFILE,
	CURLE_SSL_ISSUER_ERROR,
	CURLE_SSL_PINNEDPUBKEYNOTMATCH,
	CURLE_SSL_INVALIDCERTSTATUS,
	CURLE_FILE_COULDNT_READ_FILE,
};

static long retry_after_parse(const char *v, time_t now)
{
	char *end;
	long n;
	time_t when;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		n = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			return -1;
		return n > RETRY_AFTER_MAX || n < 0 ? RETRY_AFTER_MAX : n;
	}
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	if (when <= now)
		return 0;
	return when - now > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)(when - now);
}

void http_classify(long status, int curl_code, const char *retry_after, time_t now, struct http_outcome *out)
{
	size_t i;

	out->status = status;
	out->curl_code = curl_code;
	out->retry_after = -1;
	if (curl_code != CURLE_OK) {
		out->verdict = HTTP_RETRY;
		for (i = 0; i < sizeof(dead_codes) / sizeof(dead_codes[0]); i++)
			if (dead_codes[i] == curl_code)
				out->verdict = HTTP_DEAD;
		return;
	}
	if (status >= 200 && status < 300) {
		out->verdict = HTTP_DELIVERED;
		return;
	}
	if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600)) {
		out->verdict = HTTP_RETRY;
		out->retry_after = retry_after_parse(retry_after, now);
		return;
	}
	/* 1xx as a final answer, 3xx (not followed), other 4xx, nonsense */
	out->verdict = HTTP_DEAD;
}

long http_backoff_ms(unsigned attempt, long base_ms, long cap_ms, long retry_after,
		     uint32_t (*rnd)(void *ctx), void *ctx)
{
	long ceiling = base_ms > 0 ? base_ms : 1;
	long delay;
	unsigned i;

	for (i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (ceiling < 0)
		ceiling = 0;
	/* uint64_t keeps the product exact: a draw of up to 2^32 - 1 times a ceiling */
	delay = (long)((uint64_t)rnd(ctx) * (uint64_t)(ceiling + 1) >> 32);
	if (retry_after >= 0 && delay < retry_after * 1000)
		delay = retry_after * 1000;
	return delay;
}

/* ---------------------------------------------------------------- tokens */

struct http_token_cache {
	pthread_mutex_t mu;
	char *token;
	time_t expires;
	unsigned fetches;
};

struct http_token_cache *http_token_cache_new(void)
{
	struct http_token_cache *c = calloc(1, sizeof(*c));

	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void http_token_cache_free(struct http_token_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->token);
	free(c);
}

unsigned http_token_cache_fetches(struct http_token_cache *c)
{
	unsigned n;

	pthread_mutex_lock(&c->mu);
	n = c->fetches;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ---------------------------------------------------------------- one exchange */

int http_handle_safe(void *curl, long timeout_ms, const char *ca_file, char *errbuf)
{
	CURL *h = curl;
	int r = 0;

	r |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	r |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS);
	r |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	r |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	r |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	r |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	r |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	r |= curl_easy_setopt(h, CURLOPT_USERAGENT, "syncd");
	if (ca_file != NULL)
		r |= curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	return r == CURLE_OK ? 0 : -1;
}

struct exchange {
	CURL *h;
	bool borrowed; /* the caller's handle: reset, not cleaned up */
	struct curl_slist *headers;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t body_write(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n, room = b->len < BODY_KEEP ? BODY_KEEP - b->len : 0;

	if (len < room)
		room = len;
	if (room > 0 && buf_append(b, p, room) < 0)
		return 0;
	return len; /* the rest is read and dropped, so the connection ends cleanly */
}

/* A handle with everything but the URL, body and headers: TLS verified,
 * no redirects, http(s) only, the timeout, the client certificate. */
static int exchange_open(struct exchange *x, const struct http_send_conf *conf, void *reuse)
{
	CURL *h = reuse ? reuse : curl_easy_init();
	int r = 0;

	memset(x, 0, sizeof(*x));
	if (!h)
		return -1;
	if (reuse)
		curl_easy_reset(h); /* options go; open connections stay for the next send */
	x->h = h;
	x->borrowed = reuse != NULL;
	r |= http_handle_safe(h, conf->timeout_ms, conf->ca_file, x->errbuf);
	r |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	r |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
	if (conf->client_cert_file)
		r |= curl_easy_setopt(h, CURLOPT_SSLCERT, conf->client_cert_file);
	if (conf->client_key_file)
		r |= curl_easy_setopt(h, CURLOPT_SSLKEY, conf->client_key_file);
	return r == CURLE_OK ? 0 : -1;
}

static void exchange_close(struct exchange *x)
{
	curl_slist_free_all(x->headers);
	if (!x->borrowed)
		curl_easy_cleanup(x->h);
	buf_free(&x->body);
}

static int exchange_header(struct exchange *x, const char *fmt, const char *value)
{
	char line[1024];
	struct curl_slist *l;

	if ((size_t)snprintf(line, sizeof(line), fmt, value) >= sizeof(line))
		return -1;
	l = curl_slist_append(x->headers, line);
	if (!l)
		return -1;
	x->headers = l;
	return 0;
}

/* Runs the exchange and fills out: verdict, status, error, excerpt. */
static void exchange_run(struct exchange *x, const char *what, struct http_outcome *out)
{
	CURLcode rc;
	long status = 0;
	struct curl_header *ra = NULL;
	const char *retry_after = NULL;

	x->errbuf[0] = '\0';
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->headers);
	rc = curl_easy_perform(x->h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		if (curl_easy_header(x->h, "Retry-After", 0, CURLH_HEADER, -1, &ra) == CURLHE_OK)
			retry_after = ra->value;
	}
	http_classify(status, (int)rc, retry_after, time(NULL), out);
	if (rc != CURLE_OK)
		snprintf(out->error, sizeof(out->error), "%s: %s%s%s", what, curl_easy_strerror(rc),
			 x->errbuf[0] ? ": " : "", x->errbuf);
	else if (out->verdict != HTTP_DELIVERED)
		snprintf(out->error, sizeof(out->error), "%s: HTTP %ld", what, status);
	else
		out->error[0] = '\0';
	text_clean(x->body.data ? x->body.data : "",
		   x->body.len < HTTP_EXCERPT_BYTES ? x->body.len : HTTP_EXCERPT_BYTES, out->excerpt,
		   sizeof(out->excerpt));
}

static void outcome_fail(struct http_outcome *out, enum http_verdict v, const char *fmt, const char *detail)
{
	memset(out, 0, sizeof(*out));
	out->verdict = v;
	out->retry_after = -1;
	snprintf(out->error, sizeof(out->error), fmt, detail);
}

/* A header value: visible ASCII and spaces only, so a file cannot add a header. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* The access token of a token answer, with its lifetime; -1 and out set. */
static int token_parse(const struct buf *body, struct http_token_cache *c, struct http_outcome *out)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
	const char *tok = json_string_value(json_object_get(doc, "access_token"));
	const char *type = json_string_value(json_object_get(doc, "token_type"));
	json_t *exp = json_object_get(doc, "expires_in");
	long ttl = json_is_integer(exp) ? (long)json_integer_value(exp) : TOKEN_DEFAULT_TTL;
	long margin = ttl / 2 < TOKEN_MARGIN ? ttl / 2 : TOKEN_MARGIN;
	char *copy;

	if (!tok || !*tok || !header_safe(tok) || (type && strcasecmp(type, "bearer") != 0)) {
		json_decref(doc);
		out->verdict = HTTP_DEAD;
		snprintf(out->error, sizeof(out->error),
			 "OAuth2 token: the answer holds no bearer access_token (a JSON object with "
			 "\"access_token\" and \"token_type\": \"Bearer\" expected)");
		return -1;
	}
	copy = strdup(tok);
	json_decref(doc);
	if (!copy) {
		out->verdict = HTTP_RETRY;
		snprintf(out->error, sizeof(out->error), "OAuth2 token: out of memory");
		return -1;
	}
	free(c->token);
	c->token = copy;
	c->expires = time(NULL) + ttl - margin;
	c->fetches++;
	return 0;
}

/* POSTs grant_type=client_credentials to token_url, the client id and
 * secret as HTTP Basic (RFC 6749 2.3.1, form-encoded first).  The caller
 * holds c->mu.  Returns 0 with the cache filled, or -1 with out set. */
static int token_fetch(const struct http_send_conf *conf, struct http_outcome *out)
{
	struct exchange x;
	struct buf form = {0};
	char err[256];
	char *secret = NULL, *id = NULL, *pw = NULL, *scope = NULL;
	int r = -1;

	secret = secret_file_read(conf->client_secret_file, err, sizeof(err));
	if (!secret) {
		outcome_fail(out, HTTP_DEAD, "OAuth2 client secret: %s", err);
		return -1;
	}
	if (exchange_open(&x, conf, NULL) < 0) {
		outcome_fail(out, HTTP_RETRY, "%s: cannot set up a curl handle", conf->token_url);
		goto out_close;
	}
	id = curl_easy_escape(x.h, conf->client_id, 0);
	pw = curl_easy_escape(x.h, secret, 0);
	scope = conf->scope ? curl_easy_escape(x.h, conf->scope, 0) : NULL;
	if (!id || !pw || (conf->scope && !scope) || buf_puts(&form, "grant_type=client_credentials") < 0 ||
	    (scope && buf_printf(&form, "&scope=%s", scope) < 0) ||
	    exchange_header(&x, "Content-Type: %s", "application/x-www-form-urlencoded") < 0 ||
	    exchange_header(&x, "Accept: %s", "application/json") < 0 ||
	    curl_easy_setopt(x.h, CURLOPT_URL, conf->token_url) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_USERNAME, id) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_PASSWORD, pw) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, form.data) != CURLE_OK) {
		outcome_fail(out, HTTP_RETRY, "%s: out of memory", conf->token_url);
		goto out_close;
	}
	exchange_run(&x, "OAuth2 token", out);
	if (out->verdict == HTTP_DELIVERED)
		r = token_parse(&x.body, conf->tokens, out);
out_close:
	curl_free(scope);
	curl_free(pw);
	curl_free(id);
	exchange_close(&x);
	buf_free(&form);
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
	return r;
}

/* A copy of the cached token, fetched when none is cached, it expired, or
 * it is stale (the one a 401 answered; another thread may have replaced it
 * already).  Returns 0 with *token set, or -1 with out set. */
static int token_get(const struct http_send_conf *conf, const char *stale, char **token,
		     struct http_outcome *out)
{
	struct http_token_cache *c = conf->tokens;
	int r = 0;

	pthread_mutex_lock(&c->mu);
	if (c->token && stale && strcmp(c->token, stale) == 0) {
		free(c->token);
		c->token = NULL;
	}
	if (!c->token || time(NULL) >= c->expires)
		r = token_fetch(conf, out);
	if (r == 0) {
		*token = strdup(c->token);
		if (!*token) {
			outcome_fail(out, HTTP_RETRY, "%s", "OAuth2 token: out of memory");
			r = -1;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* ---------------------------------------------------------------- the POST */

struct auth {
	char *bearer;	    /* bearer or OAuth2 access token, or NULL */
	unsigned char *key; /* webhook HMAC key, or NULL */
	size_t keylen;
};

static int webhook_headers(struct exchange *x, const struct auth *a, const struct http_request *req)
{
	char sig[HTTP_SIGNATURE_MAX], ts[32];
	long long now = (long long)time(NULL);

	snprintf(ts, sizeof(ts), "%lld", now);
	if (http_sign_webhook(a->key, a->keylen, req->batch_id, now, req->body, req->len, sig) < 0)
		return -1;
	if (exchange_header(x, "webhook-id: %s", req->batch_id) < 0 ||
	    exchange_header(x, "webhook-timestamp: %s", ts) < 0 ||
	    exchange_header(x, "webhook-signature: %s", sig) < 0)
		return -1;
	return 0;
}

static void post_once(const struct http_send_conf *conf, const struct http_request *req, const struct auth *a,
		      struct http_outcome *out)
{
	struct exchange x;

	if (exchange_open(&x, conf, conf->handle) < 0) {
		outcome_fail(out, HTTP_RETRY, "%s: cannot set up a curl handle", conf->url);
		exchange_close(&x);
		return;
	}
	/* no "Expect: 100-continue": a receiver that never answers it costs a second per batch */
	if (curl_easy_setopt(x.h, CURLOPT_URL, conf->url) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len) != CURLE_OK ||
	    curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, req->body) != CURLE_OK ||
	    exchange_header(&x, "Content-Type: %s", req->content_type) < 0 ||
	    exchange_header(&x, "Idempotency-Key: %s", req->batch_id) < 0 ||
	    exchange_header(&x, "Expect:%s", "") < 0 ||
	    (req->content_encoding &&
	     exchange_header(&x, "Content-Encoding: %s", req->content_encoding) < 0) ||
	    (a->bearer && exchange_header(&x, "Authorization: Bearer %s", a->bearer) < 0) ||
	    (a->key && webhook_headers(&x, a, req) < 0)) {
		outcome_fail(out, HTTP_RETRY, "%s: cannot build the request (memory, or a header too long)",
			     conf->url);
		exchange_close(&x);
		return;
	}
	exchange_run(&x, conf->url, out);
	exchange_close(&x);
}

/* The bearer token and the webhook key, read from their files on every send
 * so a rotated secret takes effect without a restart. */
static int auth_read(const struct http_send_conf *conf, struct auth *a, struct http_outcome *out)
{
	char err[256];
	char *secret;

	if (conf->bearer_token_file) {
		a->bearer = secret_file_read(conf->bearer_token_file, err, sizeof(err));
		if (!a->bearer || !header_safe(a->bearer)) {
			outcome_fail(out, HTTP_DEAD, "bearer token: %s",
				     a->bearer ? "the file holds a control or non-ASCII character" : err);
			return -1;
		}
	}
	if (conf->webhook_secret_file) {
		secret = secret_file_read(conf->webhook_secret_file, err, sizeof(err));
		a->key = secret ? http_sign_key(secret, &a->keylen, err, sizeof(err)) : NULL;
		if (secret)
			memset(secret, 0, strlen(secret));
		free(secret);
		if (!a->key) {
			outcome_fail(out, HTTP_DEAD, "webhook secret: %s", err);
			return -1;
		}
	}
	return 0;
}

static void auth_free(struct auth *a)
{
	if (a->bearer)
		memset(a->bearer, 0, strlen(a->bearer));
	free(a->bearer);
	if (a->key)
		memset(a->key, 0, a->keylen);
	free(a->key);
}

int http_send(const struct http_send_conf *conf, const struct http_request *req, struct http_outcome *out)
{
	struct auth a = {0};
	char *stale;
	bool oauth = conf->tokens && conf->token_url && conf->client_id && conf->client_secret_file;
	int r = -1;

	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	if (!header_safe(req->batch_id) || !header_safe(req->content_type)) {
		outcome_fail(out, HTTP_DEAD, "%s: the batch id or content type is not a header value",
			     conf->url);
		return -1;
	}
	if (auth_read(conf, &a, out) < 0)
		goto out;
	if (oauth && token_get(conf, NULL, &a.bearer, out) < 0)
		goto out;
	post_once(conf, req, &a, out);
	if (oauth && out->curl_code == CURLE_OK && out->status == 401) {
		/* the token was revoked or expired early: one fresh token, one more try */
		stale = a.bearer;
		a.bearer = NULL;
		r = token_get(conf, stale, &a.bearer, out);
		free(stale);
		if (r < 0)
			goto out;
		post_once(conf, req, &a, out);
	}
	r = 0;
out:
	auth_free(&a);
	return r;
}
