/* apiclient.c — syncctl's HTTP client for syncd's API: one libcurl call, URLs
 * and query strings, TIME and serial arguments, and the login. */
#include "syncd/ctl/apiclient.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"

#define API_CONNECT_TIMEOUT 10L
#define API_TIMEOUT	    60L
/* a grants list of the whole city is far below this; more is a wrong URL */
#define API_MAX_BODY (64u << 20)

void api_text_sanitize(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = r;

	while (*r != '\0') {
		if (*r < 0x20 || *r == 0x7f) {
			*w++ = '?';
			r++;
		} else if (r[0] == 0xc2 && r[1] >= 0x80 && r[1] <= 0x9f) {
			*w++ = '?';
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* ---- one call ---- */

struct xfer {
	struct buf body;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->body.len + len > API_MAX_BODY) {
		x->too_big = true;
		return 0;
	}
	if (buf_append(&x->body, p, len) < 0)
		return 0;
	return len;
}

/* The value of header line p (len bytes, CRLF included) when it is the
 * header name (lower case, with its ':'); *vlen is its length.  NULL when
 * the line is another header. */
static const char *header_value(const char *p, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *v, *end = p + len;

	if (len <= nlen || strncasecmp(p, name, nlen) != 0)
		return NULL;
	v = p + nlen;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct api_response *out = arg;
	size_t len = size * n, k;
	const char *v;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new status line (after "100 Continue"): a new header block */
		out->request_id[0] = '\0';
		free(out->next_cursor);
		out->next_cursor = NULL;
	} else if ((v = header_value(p, len, "x-request-id:", &k)) != NULL) {
		if (k > sizeof(out->request_id) - 1)
			k = sizeof(out->request_id) - 1;
		memcpy(out->request_id, v, k);
		out->request_id[k] = '\0';
		api_text_sanitize(out->request_id);
	} else if ((v = header_value(p, len, "x-next-cursor:", &k)) != NULL && k > 0) {
		/* opaque and sent back as is: not cut, not sanitized */
		free(out->next_cursor);
		out->next_cursor = strndup(v, k);
		if (out->next_cursor == NULL)
			return 0;
	}
	return len;
}

static bool tls_error(CURLcode cr)
{
	return cr == CURLE_SSL_CONNECT_ERROR || cr == CURLE_PEER_FAILED_VERIFICATION ||
	       cr == CURLE_SSL_CACERT_BADFILE || cr == CURLE_SSL_CERTPROBLEM || cr == CURLE_SSL_CIPHER ||
	       cr == CURLE_SSL_ISSUER_ERROR;
}

static void unreachable(const struct api_client *c, CURLcode cr, const char *detail, struct api_response *out)
{
	size_t len = strlen(detail);
	const char *hint;

	while (len > 0 && isspace((unsigned char)detail[len - 1]))
		len--;
	if (cr == CURLE_WRITE_ERROR)
		hint = "the answer is too large or memory ran out";
	else if (tls_error(cr))
		hint = "give the CA certificate that signed syncd's certificate with --cacert FILE";
	else
		hint = "is syncd running? point syncctl at its API with -s URL or SYNCCTL_URL "
		       "(the listen address in syncd.conf [syncd])";
	/* libcurl's own message names the host and port; its code's text is shorter */
	if (len > 0)
		snprintf(out->error, sizeof(out->error), "cannot reach syncd's API at %s: %.*s; %s", c->url,
			 (int)len, detail, hint);
	else
		snprintf(out->error, sizeof(out->error), "cannot reach syncd's API at %s: %s; %s", c->url,
			 curl_easy_strerror(cr), hint);
}

/* The media type of a Content-Type value is the one asked for ("text/html;
 * charset=utf-8" is "text/html"). */
static bool media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	return strncasecmp(ctype, want, n) == 0 && (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* The request's headers: Accept (JSON when accept is NULL), no "Expect:
 * 100-continue" (the bodies are small) and a JSON Content-Type when a body
 * goes with it.  NULL when memory runs out. */
static struct curl_slist *request_headers(const char *accept, bool has_body)
{
	struct curl_slist *hdrs, *h;
	char accept_hdr[128];

	snprintf(accept_hdr, sizeof(accept_hdr), "Accept: %s", accept ? accept : "application/json");
	hdrs = curl_slist_append(NULL, accept_hdr);
	h = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
	if (h != NULL && has_body)
		h = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h == NULL) {
		curl_slist_free_all(hdrs);
		return NULL;
	}
	return hdrs;
}

/* Where the answer goes while it comes: the body into x, the headers into out. */
static CURLcode request_sinks(CURL *curl, struct xfer *x, struct api_response *out)
{
	CURLcode cr = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);

	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
	return cr;
}

/* The login (HTTP Basic when c->user is set), the CA and the method with
 * its body (payload NULL: none; a POST always sends one, maybe empty). */
static CURLcode request_as(CURL *curl, const struct api_client *c, const char *method, const char *payload)
{
	CURLcode cr = CURLE_OK;

	if (c->user != NULL) {
		cr = curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (cr == CURLE_OK)
			cr = curl_easy_setopt(curl, CURLOPT_USERNAME, c->user);
		if (cr == CURLE_OK)
			cr = curl_easy_setopt(curl, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	if (cr == CURLE_OK && c->cacert != NULL)
		cr = curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
	if (cr == CURLE_OK && strcmp(method, "GET") == 0) {
		cr = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else if (cr == CURLE_OK) {
		if (strcmp(method, "POST") != 0)
			cr = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
		if (cr == CURLE_OK && (payload != NULL || strcmp(method, "POST") == 0))
			cr = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload ? payload : "");
	}
	return cr;
}

/* Everything libcurl needs for one request: the URL, http(s) only, the
 * timeouts, the headers, where the answer goes and as whom. */
static CURLcode request_setup(CURL *curl, const struct api_client *c, const char *method, const char *url,
			      const char *payload, struct curl_slist *hdrs, char *curlerr, struct xfer *x,
			      struct api_response *out)
{
	CURLcode cr = curl_easy_setopt(curl, CURLOPT_URL, url);

	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (cr == CURLE_OK)
#if LIBCURL_VERSION_NUM >= 0x075500
		cr = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		cr = curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, API_CONNECT_TIMEOUT);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_TIMEOUT, API_TIMEOUT);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_USERAGENT, "syncctl");
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	if (cr == CURLE_OK)
		cr = request_sinks(curl, x, out);
	if (cr == CURLE_OK)
		cr = request_as(curl, c, method, payload);
	return cr;
}

/* The answer that came (status, Content-Type, body in out->raw) checked:
 * of the type asked for (accept) or JSON, parsed into out->json; not a
 * redirect; a 2xx status.  Returns 0, or -1 with out->error set. */
static int answer_check(CURL *curl, const struct api_client *c, const char *method, const char *url,
			const char *accept, struct api_response *out)
{
	if (accept != NULL && out->status >= 200 && out->status < 300) {
		/* a server that ignores Accept would leave JSON in an .html file */
		if (!media_type_is(out->content_type, accept)) {
			snprintf(out->error, sizeof(out->error),
				 "%s %s: the answer (HTTP %ld, request %s) is %s, not %s; is %s syncd's API?",
				 method, url, out->status, out->request_id[0] ? out->request_id : "-",
				 out->content_type[0] ? out->content_type : "of no declared type", accept,
				 c->url);
			api_text_sanitize(out->error);
			return -1;
		}
	} else if (out->raw_len > 0) {
		json_error_t jerr;

		out->json = json_loadb(out->raw, out->raw_len, 0, &jerr);
		if (out->json == NULL && out->status >= 200 && out->status < 300) {
			snprintf(
				out->error, sizeof(out->error),
				"%s %s: the answer (HTTP %ld, request %s) is not JSON: %s; is %s syncd's API?",
				method, url, out->status, out->request_id[0] ? out->request_id : "-",
				jerr.text, c->url);
			api_text_sanitize(out->error);
			return -1;
		}
	}
	if (out->status >= 300 && out->status < 400) {
		char *to = NULL;

		if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &to) != CURLE_OK)
			to = NULL;
		snprintf(out->error, sizeof(out->error),
			 "%s redirects to %s (HTTP %ld); point syncctl at the API itself with -s URL", c->url,
			 to ? to : "another URL", out->status);
		api_text_sanitize(out->error);
		return -1;
	}
	if (out->status < 200 || out->status >= 300) {
		api_error_format(out->status, out->json, out->request_id, out->error, sizeof(out->error));
		return -1;
	}
	return 0;
}

/* api_call and api_get_raw: accept NULL asks for JSON and parses it. */
static int call(const struct api_client *c, const char *method, const char *path, const char *accept,
		json_t *body, struct api_response *out)
{
	struct xfer x = {.body = {0}, .too_big = false};
	char curlerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct buf url = {0};
	char *payload = NULL, *ctype = NULL;
	size_t baselen;
	CURLcode cr = CURLE_OK;
	CURL *curl;
	int r = -1;

	memset(out, 0, sizeof(*out));
	baselen = strlen(c->url);
	while (baselen > 0 && c->url[baselen - 1] == '/')
		baselen--;
	if (buf_append(&url, c->url, baselen) < 0 || buf_puts(&url, path) < 0) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		goto out;
	}
	if (body != NULL && (payload = json_dumps(body, JSON_COMPACT)) == NULL) {
		snprintf(out->error, sizeof(out->error), "cannot encode the request body as JSON");
		goto out;
	}
	curl = curl_easy_init();
	if (curl == NULL) {
		snprintf(out->error, sizeof(out->error), "libcurl: cannot start a request");
		goto out;
	}
	hdrs = request_headers(accept, payload != NULL);
	if (hdrs == NULL) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		goto out_curl;
	}
	cr = request_setup(curl, c, method, url.data, payload, hdrs, curlerr, &x, out);
	if (cr != CURLE_OK) {
		snprintf(out->error, sizeof(out->error), "libcurl: cannot set up %s %s: %s", method, url.data,
			 curl_easy_strerror(cr));
		goto out_curl;
	}

	cr = curl_easy_perform(curl);
	if (cr != CURLE_OK) {
		unreachable(c, x.too_big ? CURLE_WRITE_ERROR : cr, curlerr, out);
		goto out_curl;
	}
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK)
		out->status = 0;
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL) {
		snprintf(out->content_type, sizeof(out->content_type), "%s", ctype);
		api_text_sanitize(out->content_type);
	}
	out->raw = x.body.data;
	out->raw_len = x.body.len;
	x.body = (struct buf){0};
	r = answer_check(curl, c, method, url.data, accept, out);
out_curl:
	curl_easy_cleanup(curl);
out:
	curl_slist_free_all(hdrs);
	free(payload);
	buf_free(&x.body);
	buf_free(&url);
	return r;
}

int api_call(const struct api_client *c, const char *method, const char *path, json_t *body,
	     struct api_response *out)
{
	return call(c, method, path, NULL, body, out);
}

int api_get_raw(const struct api_client *c, const char *path, const char *accept, struct api_response *out)
{
	return call(c, "GET", path, accept, NULL, out);
}

void api_response_free(struct api_response *res)
{
	if (res == NULL)
		return;
	json_decref(res->json);
	res->json = NULL;
	free(res->raw);
	res->raw = NULL;
	res->raw_len = 0;
	free(res->next_cursor);
	res->next_cursor = NULL;
}

void api_error_format(long status, const json_t *body, const char *request_id, char *out, size_t outlen)
{
	const char *msg = json_string_value(json_object_get(body, "message"));
	const char *code = json_string_value(json_object_get(body, "error"));

	snprintf(out, outlen, "%s (HTTP %ld, %s, request %s)",
		 msg && msg[0] ? msg : "the server gave no error message", status,
		 code && code[0] ? code : "-", request_id && request_id[0] ? request_id : "-");
	api_text_sanitize(out);
}

/* ---- query strings ---- */

static int escape_into(struct buf *b, const char *s)
{
	size_t len = strlen(s);
	char *e;
	int r;

	if (len > 1u << 20)
		return -1;
	/* the handle is not used for escaping (libcurl >= 7.82) */
	e = curl_easy_escape(NULL, s, (int)len);
	if (e == NULL)
		return -1;
	r = buf_puts(b, e);
	curl_free(e);
	return r;
}

char *api_query(const char *path, const struct api_param *params, size_t n)
{
	struct buf b = {0};
	char sep = '?';

	if (buf_puts(&b, path) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (params[i].value == NULL)
			continue;
		if (buf_append(&b, &sep, 1) < 0 || escape_into(&b, params[i].name) < 0 ||
		    buf_puts(&b, "=") < 0 || escape_into(&b, params[i].value) < 0)
			goto fail;
		sep = '&';
	}
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}

char *api_path_join(const char *path, const char *segment)
{
	struct buf b = {0};

	if (buf_puts(&b, path) < 0 || buf_puts(&b, "/") < 0 || escape_into(&b, segment) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* ---- times ---- */

/* n decimal digits at s; -1 when one is not a digit */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" at s, a real calendar day */
static int parse_date(const char *s, struct tm *tm)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
	bool leap;

	if (y < 0 || m < 1 || m > 12 || d < 1 || s[4] != '-' || s[7] != '-')
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
		return -1;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

static int parse_rfc3339(const char *s, struct tm *tm)
{
	int hh, mm, ss;

	if (strlen(s) != 20 || parse_date(s, tm) < 0 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
	    s[16] != ':' || (s[19] != 'Z' && s[19] != 'z'))
		return -1;
	hh = digits(s + 11, 2);
	mm = digits(s + 14, 2);
	ss = digits(s + 17, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59)
		return -1;
	tm->tm_hour = hh;
	tm->tm_min = mm;
	tm->tm_sec = ss;
	return 0;
}

static int format_time(const struct tm *tm, char *out, size_t outlen)
{
	return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", tm) == 20 ? 0 : -1;
}

int api_time_parse(const char *s, time_t *t)
{
	struct tm tm;

	if (s == NULL || parse_rfc3339(s, &tm) < 0)
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* api_time_arg, and "-Nd" / "-Nh" too when past is true */
static int time_arg(const char *in, time_t now, bool past, char *out, size_t outlen)
{
	size_t len = strlen(in);
	struct tm tm;

	if (outlen < 21)
		return -1;
	if (in[0] == '+' || (past && in[0] == '-')) {
		/* at most 6 digits: a century in days is 36500, in hours 876000 */
		size_t nd = strspn(in + 1, "0123456789");
		long n;
		time_t t;

		if (nd == 0 || nd > 6 || len != nd + 2 || (in[len - 1] != 'd' && in[len - 1] != 'h'))
			return -1;
		n = strtol(in + 1, NULL, 10);
		if ((in[len - 1] == 'd' && n > 36500) || (in[len - 1] == 'h' && n > 876000))
			return -1;
		if (in[0] == '-')
			n = -n;
		t = now + (time_t)n * (in[len - 1] == 'd' ? 86400 : 3600);
		if (gmtime_r(&t, &tm) == NULL)
			return -1;
		return format_time(&tm, out, outlen);
	}
	if (len == 10 && parse_date(in, &tm) == 0)
		return format_time(&tm, out, outlen);
	if (parse_rfc3339(in, &tm) == 0)
		return format_time(&tm, out, outlen);
	return -1;
}

int api_time_arg(const char *in, time_t now, char *out, size_t outlen)
{
	return time_arg(in, now, false, out, outlen);
}

int api_time_arg_past(const char *in, time_t now, char *out, size_t outlen)
{
	return time_arg(in, now, true, out, outlen);
}

/* ---- document serials ---- */

int api_serial_valid(const char *s)
{
	return s != NULL && strlen(s) == 17 && digits(s, 5) >= 0 && s[5] == '-' && digits(s + 6, 4) >= 0 &&
	       s[10] == '-' && digits(s + 11, 6) >= 0;
}

/* ---- the login ---- */

int api_url_host(const char *url, char *host, size_t hostlen)
{
	CURLU *u = curl_url();
	char *h = NULL;
	size_t len;
	int r = -1;

	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	/* an IPv6 address comes in brackets; netrc names it without */
	len = strlen(h);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		if (len - 2 >= hostlen)
			goto out;
		memcpy(host, h + 1, len - 2);
		host[len - 2] = '\0';
	} else {
		if (len >= hostlen)
			goto out;
		memcpy(host, h, len + 1);
	}
	r = 0;
out:
	curl_free(h);
	curl_url_cleanup(u);
	return r;
}

char *api_password_file_read(const char *path, char *err, size_t errlen)
{
	char *s = secret_file_read(path, err, errlen);

	if (s != NULL && s[0] == '\0') {
		snprintf(err, errlen, "%s: the password file is empty", path);
		free(s);
		return NULL;
	}
	return s;
}

/* The next netrc token, NUL-terminated in place: a run of non-blanks or a
 * double-quoted string with backslash escapes.  NULL at the end. */
static char *netrc_token(char **pos)
{
	char *p = *pos, *start, *w;

	while (*p != '\0' && isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		*pos = p;
		return NULL;
	}
	if (*p == '"') {
		start = w = ++p;
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0') {
				p++;
				*w++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
				p++;
			} else {
				*w++ = *p++;
			}
		}
		if (*p == '"')
			p++;
		*w = '\0';
		*pos = p;
		return start;
	}
	start = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*pos = p;
	return start;
}

int api_netrc_lookup(const char *path, const char *host, const char *user, char **login, char **password,
		     char *err, size_t errlen)
{
	char *text, *pos, *tok, *e_login = NULL, *e_password = NULL;
	bool in_entry = false, host_matches = false, found = false;
	size_t len;
	int r = 0;

	*login = *password = NULL;
	text = secret_file_read(path, err, errlen);
	if (text == NULL)
		return -1;
	len = strlen(text);
	pos = text;
	for (;;) {
		tok = netrc_token(&pos);
		if (tok == NULL || strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0) {
			/* the entry before ends here: the first one that fits wins */
			if (in_entry && host_matches &&
			    (user == NULL || e_login == NULL || strcmp(e_login, user) == 0)) {
				found = true;
				break;
			}
			if (tok == NULL)
				break;
			in_entry = true;
			e_login = e_password = NULL;
			if (strcmp(tok, "default") == 0) {
				host_matches = true;
			} else {
				const char *name = netrc_token(&pos);

				host_matches = name != NULL && strcasecmp(name, host) == 0;
			}
		} else if (strcmp(tok, "login") == 0) {
			e_login = netrc_token(&pos);
		} else if (strcmp(tok, "password") == 0) {
			e_password = netrc_token(&pos);
		} else if (strcmp(tok, "account") == 0) {
			(void)netrc_token(&pos);
		} else if (strcmp(tok, "macdef") == 0) {
			/* a macro runs from the next line to an empty line */
			char *end;

			(void)netrc_token(&pos);
			end = strstr(pos, "\n\n");
			pos = end ? end + 2 : pos + strlen(pos);
		}
	}
	if (found) {
		if (e_login != NULL && (*login = strdup(e_login)) == NULL)
			r = -1;
		if (r == 0 && e_password != NULL && (*password = strdup(e_password)) == NULL)
			r = -1;
		if (r < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			free(*login);
			*login = NULL;
		} else {
			r = 1;
		}
	}
	explicit_bzero(text, len);
	free(text);
	return r;
}

static volatile sig_atomic_t prompt_signal;

static void prompt_on_signal(int sig)
{
	prompt_signal = sig;
}

char *api_password_prompt(const char *prompt, char *err, size_t errlen)
{
	/* the terminal's echo must come back even when ^C or ^Z comes */
	static const int sigs[] = {SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};
	struct sigaction sa, saved[sizeof(sigs) / sizeof(sigs[0])];
	struct termios old, quiet;
	char line[1024], *pw = NULL;
	size_t n = 0;
	ssize_t got = 0;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "no terminal to ask for the password on (/dev/tty: %s)",
			 strerror(errno));
		return NULL;
	}
	if (tcgetattr(fd, &old) < 0) {
		snprintf(err, errlen, "/dev/tty: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	prompt_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_on_signal; /* no SA_RESTART: read() returns */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* a signal ignored before stays ignored */
		sigaction(sigs[i], NULL, &saved[i]);
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL | ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		snprintf(err, errlen, "/dev/tty: cannot turn echo off: %s", strerror(errno));
		goto out;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		snprintf(err, errlen, "/dev/tty: %s", strerror(errno));
		goto out_restore;
	}
	while (n < sizeof(line) - 1 && !prompt_signal && (got = read(fd, line + n, 1)) == 1 &&
	       line[n] != '\n')
		n++;
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (prompt_signal || got < 0)
		snprintf(err, errlen, "no password: interrupted");
	else if (n == 0)
		snprintf(err, errlen, "no password given");
	else if ((pw = strdup(line)) == NULL)
		snprintf(err, errlen, "out of memory");
out_restore:
	tcsetattr(fd, TCSAFLUSH, &old);
out:
	explicit_bzero(line, sizeof(line));
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &saved[i], NULL);
	close(fd);
	/* act on the signal the way it would have acted before the prompt */
	if (prompt_signal)
		raise(prompt_signal);
	return pw;
}
