/* http_pull.h — one GET of a page of a kind = http source (issue 13 item 6):
 * TLS always verified, no redirects, optional bearer token; and the page's
 * URL built from the source's base URL and its query parameters. */
#ifndef SYNCD_CONNECTORS_HTTP_PULL_H
#define SYNCD_CONNECTORS_HTTP_PULL_H

#include <stddef.h>

#include "common/buf.h"

#define HTTP_PULL_BODY_MAX (64L * 1024 * 1024) /* a bigger page is refused */

struct http_pull_conf {
	long timeout_ms;	       /* whole exchange; 0: 30 s */
	const char *ca_file;	       /* NULL: the system's CAs; verification is always on */
	const char *bearer_token_file; /* Authorization: Bearer <file's text>, read at every GET */
	void *handle; /* a curl easy handle (CURL *) the GETs reuse (keep-alive); NULL: a new one each time */
};

/* Pure: base with "name=value" query parameters appended (percent-encoded;
 * '&' when base has a query already).  A pair whose name or value is NULL
 * is left out.  Returns 0 with the URL in out (reset first), -1 out of memory. */
int http_pull_url(const char *base, const char *const *names, const char *const *values, size_t n,
		  struct buf *out) __attribute__((warn_unused_result));

/* GETs url into body (reset first, NUL-terminated).  Returns 0 on a 2xx
 * answer; -1 otherwise, with err naming the URL and saying what happened
 * (curl_easy_strerror, the status and the start of the answer). */
int http_pull_get(const struct http_pull_conf *conf, const char *url, struct buf *body, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* A handle for conf->handle (NULL out of memory); http_pull_handle_free(NULL) is a no-op. */
void *http_pull_handle_new(void);
void http_pull_handle_free(void *handle);

#endif
