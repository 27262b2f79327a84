/* apiclient.c — see apiclient.h. */
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
#include "common/text.h"

#define API_CONNECT_TIMEOUT 10L
#define API_TIMEOUT	    60L
/* a grants list of the whole city is far below this; more is a wrong URL */
#define API_MAX_BODY (64u << 20)

/* Text from the server goes to a terminal: C0 and C1 control characters
 * (escape sequences) become '?'.  In place; the string may get shorter. */
static void sanitize(char *s)
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
		sanitize(out->request_id);
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

/* api_call and api_get_raw: accept NULL asks for JSON and parses it. */
static int call(const struct api_client *c, const char *method, const char *path, const char *accept,
		json_t *body, struct api_response *out)
{
	struct xfer x = {.body = {0}, .too_big = false};
	char curlerr[CURL_ERROR_SIZE] = "", accept_hdr[128];
	struct curl_slist *hdrs = NULL, *h;
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
	/* no "Expect: 100-continue": the bodies are small */
	snprintf(accept_hdr, sizeof(accept_hdr), "Accept: %s", accept ? accept : "application/json");
	hdrs = curl_slist_append(NULL, accept_hdr);
	h = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
	if (h != NULL && payload != NULL)
		h = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h == NULL) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		goto out_curl;
	}

	cr = curl_easy_setopt(curl, CURLOPT_URL, url.data);
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
		cr = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	if (cr == CURLE_OK)
		cr = curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
	if (cr == CURLE_OK && c->user != NULL) {
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
		sanitize(out->content_type);
	}
	out->raw = x.body.data;
	out->raw_len = x.body.len;
	x.body = (struct buf){0};
	if (accept != NULL && out->status >= 200 && out->status < 300) {
		/* a server that ignores Accept would leave JSON in an .html file */
		if (!media_type_is(out->content_type, accept)) {
			snprintf(out->error, sizeof(out->error),
				 "%s %s: the answer (HTTP %ld, request %s) is %s, not %s; is %s syncd's API?",
				 method, url.data, out->status, out->request_id[0] ? out->request_id : "-",
				 out->content_type[0] ? out->content_type : "of no declared type", accept,
				 c->url);
			sanitize(out->error);
			goto out_curl;
		}
	} else if (out->raw_len > 0) {
		json_error_t jerr;

		out->json = json_loadb(out->raw, out->raw_len, 0, &jerr);
		if (out->json == NULL && out->status >= 200 && out->status < 300) {
			snprintf(
				out->error, sizeof(out->error),
				"%s %s: the answer (HTTP %ld, request %s) is not JSON: %s; is %s syncd's API?",
				method, url.data, out->status, out->request_id[0] ? out->request_id : "-",
				jerr.text, c->url);
			sanitize(out->error);
			goto out_curl;
		}
	}
	if (out->status >= 300 && out->status < 400) {
		char *to = NULL;

		if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &to) != CURLE_OK)
			to = NULL;
		snprintf(out->error, sizeof(out->error),
			 "%s redirects to %s (HTTP %ld); point syncctl at the API itself with -s URL", c->url,
			 to ? to : "another URL", out->status);
		sanitize(out->error);
		goto out_curl;
	}
	if (out->status < 200 || out->status >= 300) {
		api_error_format(out->status, out->json, out->request_id, out->error, sizeof(out->error));
		goto out_curl;
	}
	r = 0;
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
	sanitize(out);
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

/* ---- what the operator sees ---- */

/* A cell of a table: a new string; "-" for null, missing or empty. */
static char *cell_text(const json_t *v)
{
	char *s = NULL;

	if (json_is_string(v) && json_string_length(v) > 0)
		s = strdup(json_string_value(v));
	else if (json_is_integer(v)) {
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			s = NULL;
	} else if (json_is_boolean(v))
		s = strdup(json_is_true(v) ? "yes" : "no");
	else if (v == NULL || json_is_null(v) || json_is_string(v))
		s = strdup("-");
	else
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s != NULL)
		sanitize(s);
	return s;
}

/* columns on a terminal: one per UTF-8 character (Vietnamese letters are
 * precomposed and one column wide) */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

const char *api_grant_state(const json_t *grant, time_t now)
{
	time_t t;

	if (json_is_true(json_object_get(grant, "revoked")))
		return "revoked";
	if (api_time_parse(json_string_value(json_object_get(grant, "not_after")), &t) == 0 && t <= now)
		return "expired";
	if (api_time_parse(json_string_value(json_object_get(grant, "not_before")), &t) == 0 && t > now)
		return "pending";
	return "active";
}

/* An array whose elements are all objects (a list a table is made of). */
static bool array_of_objects(const json_t *a)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach (a, i, v)
		if (!json_is_object(v))
			return false;
	return true;
}

/* s (a new string) cut to at most maxw columns, ending in "…" (without the
 * blanks before the cut); 0 keeps it whole.  Returns s or a new string in
 * its place, NULL when memory runs out. */
static char *cell_cut(char *s, size_t maxw)
{
	size_t w = 0;
	char *p, *t;

	if (s == NULL || maxw == 0 || text_width(s) <= maxw)
		return s;
	for (p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (w == maxw - 1)
				break;
			w++;
		}
	}
	while (p > s && p[-1] == ' ')
		p--;
	if (asprintf(&t, "%.*s\u2026", (int)(p - s), s) < 0)
		t = NULL;
	free(s);
	return t;
}

/* "2026-11-27T10:00:00.123456Z" to the second, "2026-11-27T10:00:00Z" (cut,
 * not rounded: the event happened in that second).  In place; other
 * strings stay as they are. */
static void time_to_second(char *s)
{
	size_t n = strlen(s);

	if (n > 21 && s[10] == 'T' && s[19] == '.' && (s[n - 1] == 'Z' || s[n - 1] == 'z') &&
	    strspn(s + 20, "0123456789") == n - 21) {
		s[19] = 'Z';
		s[20] = '\0';
	}
}

#define TABLE_MAX_COLS 16

/* head (ncols titles, at most TABLE_MAX_COLS) over nrows rows of cells,
 * columns two spaces apart; the last column is not padded. */
static void table_print(FILE *f, const char *const *head, size_t ncols, char *const *cells, size_t nrows)
{
	size_t width[TABLE_MAX_COLS];

	if (ncols == 0 || ncols > TABLE_MAX_COLS)
		return;
	for (size_t k = 0; k < ncols; k++) {
		width[k] = text_width(head[k]);
		for (size_t i = 0; i < nrows; i++)
			if (text_width(cells[i * ncols + k]) > width[k])
				width[k] = text_width(cells[i * ncols + k]);
	}
	for (size_t i = 0; i <= nrows; i++) {
		for (size_t k = 0; k < ncols; k++) {
			const char *s = i == 0 ? head[k] : cells[(i - 1) * ncols + k];

			fputs(s, f);
			if (k < ncols - 1)
				fprintf(f, "%*s", (int)(width[k] - text_width(s) + 2), "");
		}
		fputc('\n', f);
	}
}

static void cells_free(char **cells, size_t n)
{
	if (cells == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
}

#define GRANT_COLS 8

int api_grants_print(FILE *f, const json_t *grants, time_t now)
{
	static const char *const head[GRANT_COLS] = {"ID",	  "USER",  "ROLE",    "UNIT",
						     "NOT AFTER", "DEPTH", "GRANTOR", "STATE"};
	static const char *const keys[GRANT_COLS - 1] = {"id",	      "grantee",      "role",	"unit",
							 "not_after", "may_delegate", "grantor"};
	size_t n;
	char **cells;
	int r = -1;

	if (!array_of_objects(grants))
		return -1;
	n = json_array_size(grants);
	if (n == 0) {
		fputs("no grants\n", f);
		return 0;
	}
	cells = calloc(n * GRANT_COLS, sizeof(*cells));
	if (cells == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *g = json_array_get(grants, i);
		char **row = cells + i * GRANT_COLS;

		for (size_t k = 0; k < GRANT_COLS; k++) {
			row[k] = k < GRANT_COLS - 1 ? cell_text(json_object_get(g, keys[k]))
						    : strdup(api_grant_state(g, now));
			if (row[k] == NULL)
				goto out;
		}
	}
	table_print(f, head, GRANT_COLS, cells, n);
	r = 0;
out:
	cells_free(cells, n * GRANT_COLS);
	return r;
}

int api_check_allowed(const json_t *check)
{
	const char *d = json_string_value(json_object_get(check, "decision"));

	if (d != NULL && strcmp(d, "allow") == 0)
		return 1;
	if (d != NULL && strcmp(d, "deny") == 0)
		return 0;
	return -1;
}

int api_check_print(FILE *f, const json_t *check)
{
	static const char *const keys[6] = {"id", "role", "unit", "grantee", "grantor", "not_after"};
	int allowed = api_check_allowed(check);
	const json_t *link;
	size_t i;

	if (allowed < 0)
		return -1;
	if (allowed) {
		fputs("allow\n", f);
	} else {
		char *reason = cell_text(json_object_get(check, "reason"));

		fprintf(f, "deny: %s\n", reason ? reason : "-");
		free(reason);
	}
	json_array_foreach (json_object_get(check, "chain"), i, link) {
		char *v[6];
		bool ok = true;

		for (size_t k = 0; k < 6; k++) {
			v[k] = cell_text(json_object_get(link, keys[k]));
			if (v[k] == NULL)
				ok = false;
		}
		if (ok)
			fprintf(f, "  grant %s: %s in %s to %s from %s until %s\n", v[0], v[1], v[2], v[3],
				v[4], strcmp(v[5], "-") == 0 ? "revoked" : v[5]);
		for (size_t k = 0; k < 6; k++)
			free(v[k]);
	}
	return allowed;
}

/* ---- the audit log ---- */

#define AUDIT_COLS 8

int api_audit_print(FILE *f, const json_t *events)
{
	static const char *const head[AUDIT_COLS] = {"SEQ",  "AT",     "ACTOR",	   "ACTION",
						     "UNIT", "OBJECT", "DECISION", "REASON"};
	static const char *const keys[AUDIT_COLS] = {"seq",  "at",     "actor",	   "action",
						     "unit", "object", "decision", "reason"};
	/* the widest a cell is shown (0: whole); a uid, an action such as
	 * civil.extract.issue, a serial or a grant id, a reason in a few words */
	static const size_t maxw[AUDIT_COLS] = {0, 30, 20, 24, 8, 24, 8, 48};
	size_t n;
	char **cells;
	int r = -1;

	if (!array_of_objects(events))
		return -1;
	n = json_array_size(events);
	if (n == 0) {
		fputs("no audit events\n", f);
		return 0;
	}
	cells = calloc(n * AUDIT_COLS, sizeof(*cells));
	if (cells == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(events, i);
		char **row = cells + i * AUDIT_COLS;

		for (size_t k = 0; k < AUDIT_COLS; k++) {
			row[k] = cell_text(json_object_get(e, keys[k]));
			if (row[k] != NULL && k == 1)
				time_to_second(row[k]);
			row[k] = cell_cut(row[k], maxw[k]);
			if (row[k] == NULL)
				goto out;
		}
	}
	table_print(f, head, AUDIT_COLS, cells, n);
	r = 0;
out:
	cells_free(cells, n * AUDIT_COLS);
	return r;
}

int api_audit_intact(const json_t *verify)
{
	const json_t *ok = json_object_get(verify, "ok");

	return json_is_boolean(ok) ? json_is_true(ok) : -1;
}

int api_audit_verify_print(FILE *f, const json_t *verify)
{
	static const char *const keys[4] = {"seq", "problem", "expected", "found"};
	int intact = api_audit_intact(verify);
	const json_t *broken = json_object_get(verify, "first_broken");
	char *v[4] = {NULL};

	if (intact < 0)
		return -1;
	if (intact) {
		v[0] = cell_text(json_object_get(verify, "rows"));
		v[1] = cell_text(json_object_get(verify, "checkpoints"));
		if (v[0] != NULL && v[1] != NULL)
			fprintf(f, "audit log intact: %s row%s, %s signed checkpoint%s\n", v[0],
				strcmp(v[0], "1") == 0 ? "" : "s", v[1], strcmp(v[1], "1") == 0 ? "" : "s");
	} else if (!json_is_object(broken)) {
		fputs("audit log BROKEN (the answer names no row)\n", f);
	} else {
		for (size_t k = 0; k < 4; k++)
			v[k] = cell_text(json_object_get(broken, keys[k]));
		if (v[0] != NULL && v[1] != NULL && v[2] != NULL && v[3] != NULL)
			fprintf(f, "audit log BROKEN at seq %s: %s\n  expected: %s\n  found:    %s\n", v[0],
				v[1], v[2], v[3]);
	}
	for (size_t k = 0; k < 4; k++)
		free(v[k]);
	return intact;
}

/* ---- issued documents ---- */

int api_serial_valid(const char *s)
{
	return s != NULL && strlen(s) == 17 && digits(s, 5) >= 0 && s[5] == '-' && digits(s + 6, 4) >= 0 &&
	       s[10] == '-' && digits(s + 11, 6) >= 0;
}

/* "key: value" with the value as a table cell shows it */
static void print_line(FILE *f, const char *key, const json_t *v)
{
	char *s = cell_text(v);

	if (s != NULL)
		fprintf(f, "%s %s\n", key, s);
	free(s);
}

int api_document_print(FILE *f, const json_t *doc)
{
	const json_t *field, *fields = json_object_get(doc, "fields");
	char *unit, *name, *issued, *at, *why;
	size_t i;
	int r = -1;

	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "serial")))
		return -1;
	unit = cell_text(json_object_get(doc, "unit"));
	name = cell_text(json_object_get(doc, "unit_name"));
	issued = cell_text(json_object_get(doc, "issued_at"));
	at = cell_text(json_object_get(doc, "revoked_at"));
	why = cell_text(json_object_get(doc, "revoke_reason"));
	if (unit == NULL || name == NULL || issued == NULL || at == NULL || why == NULL)
		goto out;
	time_to_second(issued);
	time_to_second(at);
	print_line(f, "serial:", json_object_get(doc, "serial"));
	if (json_object_get(doc, "title") != NULL)
		print_line(f, "title: ", json_object_get(doc, "title"));
	print_line(f, "kind:  ", json_object_get(doc, "kind"));
	if (strcmp(name, "-") != 0)
		fprintf(f, "unit:   %s %s\n", unit, name);
	else
		fprintf(f, "unit:   %s\n", unit);
	fprintf(f, "issued: %s\n", issued);
	print_line(f, "issuer:", json_object_get(doc, "issuer"));
	if (!json_is_true(json_object_get(doc, "revoked")))
		fputs("state:  valid\n", f);
	else if (strcmp(at, "-") == 0)
		fprintf(f, "state:  revoked: %s\n", why);
	else
		fprintf(f, "state:  revoked %s: %s\n", at, why);
	if (json_array_size(fields) > 0)
		fputc('\n', f);
	json_array_foreach (fields, i, field) {
		char *label = cell_text(json_object_get(field, "label"));
		char *value = cell_text(json_object_get(field, "value"));

		if (label != NULL && value != NULL)
			fprintf(f, "%s: %s\n", label, value);
		free(label);
		free(value);
	}
	r = 0;
out:
	free(unit);
	free(name);
	free(issued);
	free(at);
	free(why);
	return r;
}

int api_document_valid(const json_t *verify)
{
	const char *st = json_string_value(json_object_get(verify, "status"));

	if (st != NULL && strcmp(st, "valid") == 0)
		return 1;
	if (st != NULL && (strcmp(st, "revoked") == 0 || strcmp(st, "unknown") == 0))
		return 0;
	return -1;
}

int api_document_verify_print(FILE *f, const json_t *verify)
{
	static const char *const keys[6] = {"serial", "kind", "unit", "issued_on", "hash", "signature"};
	int valid = api_document_valid(verify);
	const char *st = json_string_value(json_object_get(verify, "status"));
	char *v[6], *at = NULL;
	bool ok = true;

	if (valid < 0)
		return -1;
	for (size_t k = 0; k < 6; k++)
		if ((v[k] = cell_text(json_object_get(verify, keys[k]))) == NULL)
			ok = false;
	if (ok && strcmp(st, "unknown") == 0) {
		fprintf(f, "%s: unknown: syncd issued no document with this serial\n", v[0]);
	} else if (ok) {
		if (valid) {
			fprintf(f, "%s: valid (%s, %s, %s)\n", v[0], v[1], v[2], v[3]);
		} else {
			at = cell_text(json_object_get(verify, "revoked_at"));
			if (at != NULL)
				time_to_second(at);
			fprintf(f, "%s: revoked%s%s (%s, %s, %s)\n", v[0], at && strcmp(at, "-") ? " " : "",
				at && strcmp(at, "-") ? at : "", v[1], v[2], v[3]);
		}
		fprintf(f, "  sha256: %s\n  signature: %s\n", v[4], v[5]);
	}
	for (size_t k = 0; k < 6; k++)
		free(v[k]);
	free(at);
	return valid;
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

/* One cell of csv from *pos into cell (unquoted, "" made "); *end set to
 * the character after it (',' '\n' or '\0' at the end).  -1: an unclosed
 * quote or a quote in the middle of a cell. */
static int csv_cell(const char *csv, size_t len, size_t *pos, char *cell, char *end)
{
	size_t i = *pos, n = 0;

	if (i < len && csv[i] == '"') {
		for (i++;; i++) {
			if (i >= len)
				return -1;
			if (csv[i] == '"' && i + 1 < len && csv[i + 1] == '"')
				cell[n++] = csv[i++];
			else if (csv[i] == '"')
				break;
			else
				cell[n++] = csv[i];
		}
		i++;
	} else {
		for (; i < len && csv[i] != ',' && csv[i] != '\n' && csv[i] != '\r'; i++) {
			if (csv[i] == '"')
				return -1;
			cell[n++] = csv[i];
		}
	}
	cell[n] = '\0';
	if (i < len && csv[i] == '\r')
		i++;
	if (i < len && csv[i] != ',' && csv[i] != '\n')
		return -1;
	*end = i < len ? csv[i] : '\0';
	*pos = i < len ? i + 1 : i;
	return 0;
}

int api_csv_print(FILE *f, const char *csv, size_t len, bool skip_header)
{
	char *cell = malloc(len + 1), end = '\n';
	size_t pos = 0;
	int records = 0, r = 0;
	bool first = true, skip = skip_header;

	if (cell == NULL)
		return -1;
	while (pos < len && r == 0) {
		char *out;

		if (csv_cell(csv, len, &pos, cell, &end) < 0) {
			r = -1;
			break;
		}
		if (!skip) {
			out = text_csv_cell(cell);
			if (out == NULL || fprintf(f, "%s%s", first ? "" : ",", out) < 0 ||
			    (end != ',' && fputs("\r\n", f) < 0))
				r = -1;
			free(out);
		}
		first = end != ',';
		if (end != ',') {
			records += !skip;
			skip = false;
		}
	}
	if (r == 0 && end == ',' && !skip) { /* a last record cut after a comma */
		if (fputs("\r\n", f) < 0)
			r = -1;
		records++;
	}
	free(cell);
	return r < 0 ? -1 : records;
}
