/* http_pull.c — one GET of a kind = http source's page with libcurl (TLS
 * always verified, no redirects, bearer token read at every request) and
 * the page's URL; see http_pull.h. */
#include "connectors/http_pull.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "connectors/http_send.h"
#include "common/text.h"

/* RFC 3986 unreserved characters stay; every other byte is %XX. */
static int url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			if (buf_append(out, s, 1) < 0)
				return -1;
		} else if (buf_append(out, e, 3) < 0) {
			return -1;
		}
	}
	return 0;
}

int http_pull_url(const char *base, const char *const *names, const char *const *values, size_t n,
		  struct buf *out)
{
	bool query = strchr(base, '?') != NULL;

	buf_reset(out);
	if (buf_puts(out, base) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (names[i] == NULL || values[i] == NULL)
			continue;
		if (buf_puts(out, query ? "&" : "?") < 0 || url_escape(out, names[i]) < 0 ||
		    buf_puts(out, "=") < 0 || url_escape(out, values[i]) < 0)
			return -1;
		query = true;
	}
	return buf_puts(out, "");
}

struct sink {
	struct buf *body;
	bool too_big;
};

static size_t body_write(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (s->body->len + len > (size_t)HTTP_PULL_BODY_MAX) {
		s->too_big = true;
		return 0; /* ends the transfer */
	}
	return buf_append(s->body, p, len) < 0 ? 0 : len;
}

/* The token as a header line, or NULL with err set. */
static struct curl_slist *auth_header(const struct http_pull_conf *conf, char *err, size_t errlen)
{
	char msg[512], *token, *line = NULL;
	struct curl_slist *l = NULL;

	token = secret_file_read(conf->bearer_token_file, msg, sizeof(msg));
	if (token == NULL) {
		snprintf(err, errlen, "bearer token: %s", msg);
		return NULL;
	}
	if (strpbrk(token, "\r\n") != NULL || asprintf(&line, "Authorization: Bearer %s", token) < 0) {
		snprintf(err, errlen, "bearer token: %s: one line of text expected", conf->bearer_token_file);
		line = NULL;
	} else if ((l = curl_slist_append(NULL, line)) == NULL) {
		snprintf(err, errlen, "out of memory");
	}
	memset(token, 0, strlen(token));
	free(token);
	if (line != NULL)
		memset(line, 0, strlen(line));
	free(line);
	return l;
}

static int handle_setup(CURL *h, const struct http_pull_conf *conf, const char *url, struct sink *s,
			struct curl_slist *headers, char *errbuf)
{
	int r = 0;

	r |= http_handle_safe(h, conf->timeout_ms, conf->ca_file, errbuf);
	r |= curl_easy_setopt(h, CURLOPT_URL, url);
	r |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	r |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	r |= curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	r |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	r |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	return r == CURLE_OK ? 0 : -1;
}

int http_pull_get(const struct http_pull_conf *conf, const char *url, struct buf *body, char *err,
		  size_t errlen)
{
	CURL *h = conf->handle != NULL ? conf->handle : curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	struct sink s = {body, false};
	char errbuf[CURL_ERROR_SIZE] = "", excerpt[520];
	long status = 0;
	int r = -1;
	CURLcode cr;

	buf_reset(body);
	if (h == NULL || headers == NULL) {
		snprintf(err, errlen, "GET %s: out of memory", url);
		goto out;
	}
	if (conf->bearer_token_file != NULL) {
		struct curl_slist *a = auth_header(conf, err, errlen);

		if (a == NULL)
			goto out;
		a->next = headers;
		headers = a;
	}
	if (conf->handle != NULL)
		curl_easy_reset(h); /* options go; the open connection stays */
	if (handle_setup(h, conf, url, &s, headers, errbuf) < 0) {
		snprintf(err, errlen, "GET %s: cannot set up the request (libcurl)", url);
		goto out;
	}
	cr = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "GET %s: %s%s%s", url,
			 s.too_big ? "the page is larger than 64 MiB" : curl_easy_strerror(cr),
			 errbuf[0] && !s.too_big ? ": " : "", s.too_big ? "" : errbuf);
		goto out;
	}
	if (buf_puts(body, "") < 0) {
		snprintf(err, errlen, "GET %s: out of memory", url);
		goto out;
	}
	if (status < 200 || status > 299) {
		text_clean(body->data, body->len < 512 ? body->len : 512, excerpt, sizeof(excerpt));
		snprintf(err, errlen, "GET %s: HTTP %ld%s%s", url, status,
			 status >= 300 && status < 400
				 ? " (redirects are not followed; set url to the final address)"
				 : "",
			 excerpt[0] ? ": " : "");
		if (excerpt[0] != '\0' && strlen(err) + 1 < errlen)
			snprintf(err + strlen(err), errlen - strlen(err), "%s", excerpt);
		goto out;
	}
	r = 0;
out:
	curl_slist_free_all(headers);
	if (h != NULL && conf->handle == NULL)
		curl_easy_cleanup(h);
	return r;
}

void *http_pull_handle_new(void)
{
	return curl_easy_init();
}

void http_pull_handle_free(void *handle)
{
	if (handle != NULL)
		curl_easy_cleanup(handle);
}
