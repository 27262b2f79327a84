/* http_send.h — one batch POSTed to an HTTP target (issue 13 items 3 and 4):
 * auth (bearer, OAuth2, mTLS, Standard Webhooks), the answer classified, backoff. */
#ifndef SYNCD_CONNECTORS_HTTP_SEND_H
#define SYNCD_CONNECTORS_HTTP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum http_verdict {
	HTTP_DELIVERED, /* 2xx: the receiver stored it */
	HTTP_RETRY,	/* 408, 425, 429, 5xx, timeouts, connection and DNS errors */
	HTTP_DEAD,	/* other 4xx, 3xx, TLS certificate and configuration errors */
};

/* Sets what every request of syncd's over HTTP(S) keeps: TLS verified
 * (peer and host; ca_file NULL: the system's CAs), no redirects, http and
 * https only, no signals, the timeout (0: 30 s), errbuf (CURL_ERROR_SIZE
 * bytes) for curl's words, User-Agent syncd.  curl: a CURL *.  0 or -1. */
int http_handle_safe(void *curl, long timeout_ms, const char *ca_file, char *errbuf);

/* "delivered", "retry", "dead" */
const char *http_verdict_name(enum http_verdict v);

#define HTTP_EXCERPT_BYTES 512				/* of the response body */
#define HTTP_EXCERPT_MAX   (HTTP_EXCERPT_BYTES * 4 + 1) /* text_clean: \xNN per byte at worst */
#define HTTP_ERROR_MAX	   512

struct http_outcome {
	enum http_verdict verdict;
	long status;			/* HTTP status, 0 when no answer came */
	int curl_code;			/* CURLcode, 0 when the exchange completed */
	long retry_after;		/* seconds the server asked to wait (Retry-After), -1 when absent */
	char error[HTTP_ERROR_MAX];	/* curl_easy_strerror + the error buffer, "" when none */
	char excerpt[HTTP_EXCERPT_MAX]; /* first 512 body bytes, text_clean()ed */
};

/* OAuth2 client-credentials token cache shared by the sends of one target;
 * thread-safe.  Returns a new cache, caller frees with
 * http_token_cache_free() (NULL is a no-op); NULL when memory runs out. */
struct http_token_cache;
struct http_token_cache *http_token_cache_new(void);
void http_token_cache_free(struct http_token_cache *c);
/* How many tokens the cache fetched so far (for tests and metrics). */
unsigned http_token_cache_fetches(struct http_token_cache *c);

struct http_send_conf {
	const char *url;
	long timeout_ms;	      /* whole exchange; 0: 30 s */
	const char *ca_file;	      /* NULL: the system's CAs; verification is always on */
	const char *client_cert_file; /* mutual TLS, with client_key_file */
	const char *client_key_file;
	const char *bearer_token_file;	 /* Authorization: Bearer <file's text> */
	const char *webhook_secret_file; /* Standard Webhooks signature headers */
	/* OAuth2 client credentials: all of token_url, client_id,
	 * client_secret_file and tokens, or none */
	const char *token_url;
	const char *client_id;
	const char *client_secret_file;
	const char *scope; /* NULL: none sent */
	struct http_token_cache *tokens;
	/* a curl easy handle (CURL *) the POSTs reuse, so the connection to the
	 * receiver stays open between sends; one per thread.  NULL: a new one
	 * each time */
	void *handle;
};

struct http_request {
	const char *body;
	size_t len;
	const char *content_type;
	const char *batch_id;	      /* Idempotency-Key and webhook-id */
	const char *content_encoding; /* "gzip" when body is compressed; NULL: none */
};

/* One POST of req to conf->url; redirects are not followed (a 3xx is DEAD).
 * With OAuth2 a 401 invalidates the cached token, and one fresh token is
 * fetched and the POST sent once more.  Returns 0 with *out filled, or -1
 * with out->error set when nothing was sent: a secret file unreadable, a
 * token not obtained (then out->verdict says whether waiting may help). */
int http_send(const struct http_send_conf *conf, const struct http_request *req, struct http_outcome *out)
	__attribute__((warn_unused_result));

/* Pure: the verdict of an exchange that ended with curl_code (CURLcode) and,
 * when an answer came, status and its Retry-After header value (NULL when
 * absent; delta-seconds or an HTTP date, compared with now).  Fills
 * out->verdict, status, curl_code and retry_after; leaves error and excerpt. */
void http_classify(long status, int curl_code, const char *retry_after, time_t now, struct http_outcome *out);

/* Pure: milliseconds to wait before attempt number attempt (0 for the first
 * retry): "full jitter", a uniform draw in [0, min(cap_ms, base_ms * 2^attempt)]
 * from rnd(ctx), but never less than retry_after seconds when that is >= 0
 * (the server's word wins over the cap; the retry deadline bounds it). */
long http_backoff_ms(unsigned attempt, long base_ms, long cap_ms, long retry_after,
		     uint32_t (*rnd)(void *ctx), void *ctx);

#endif
