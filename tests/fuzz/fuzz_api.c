/* fuzz_api.c — libFuzzer target for the pieces of an HTTP request syncd
 * parses itself (syncd/api/): the route of METHOD URL in the dispatch
 * table (endpoint_find, with a small and a large room for the {} part),
 * unit codes (unit_parse), the session cookie (session_cookie_parse,
 * session_token_equal), a JSON body (body_object), the times a grant's
 * body carries (authz_time_parse), a dead letter id (deadletter_id_parse),
 * a document serial (document_serial_valid) and the listen address
 * (api_listen_parse).  HTTP itself, the query string and the Basic
 * credentials are libmicrohttpd's.
 *
 * The input is up to four parts separated by a line "~~~" (FUZZ_SEP):
 * "METHOD URL", a Cookie header, a request body, and a word given to the
 * small parsers.  Checked: a route found is the method's, its pattern
 * rebuilt with the {} part is the URL, a 404/405 lists known methods only;
 * a unit code is 5 digits that print back the same; a cookie's id is 64
 * lower-case hex digits found in the header after syncd_session=; token
 * comparison is string equality; a body accepted is a JSON object; a time
 * accepted prints back the same; an id accepted is the word's number; a
 * serial accepted has the shape NNNNN-YYYY-NNNNNN. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "authz/decide.h"
#include "connectors/http_deadletter.h"
#include "syncd/api/internal.h"
#include "syncd/documents/documents.h"
#include "tests/fuzz/fuzz_util.h"

static void route_check(const char *method, const char *url, size_t holesize)
{
	char *hole = malloc(holesize), allowed[64];
	const struct endpoint *e = endpoint_find(method, url, hole, holesize, allowed, sizeof(allowed));

	if (hole == NULL)
		abort();
	if (e != NULL) {
		const char *gap = strstr(e->pattern, "{}");

		if (strcmp(e->method, method) != 0 &&
		    !(strcmp(method, "HEAD") == 0 && strcmp(e->method, "GET") == 0))
			abort();
		if (gap == NULL && strcmp(e->pattern, url) != 0)
			abort();
		if (gap != NULL && strlen(hole) + 1 < holesize) {
			/* the pattern with the {} part filled in is the URL */
			size_t pre = (size_t)(gap - e->pattern);

			/* "/" is the page's index.html: the one empty {} */
			if ((hole[0] == '\0' && strcmp(url, "/") != 0) ||
			    strncmp(url, e->pattern, pre) != 0 ||
			    strncmp(url + pre, hole, strlen(hole)) != 0 ||
			    strcmp(url + pre + strlen(hole), gap + 2) != 0)
				abort();
		}
	} else {
		char *save = NULL, *m;

		for (m = strtok_r(allowed, ", ", &save); m != NULL; m = strtok_r(NULL, ", ", &save))
			if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0 && strcmp(m, "DELETE") != 0)
				abort();
	}
	free(hole);
}

static void url_check(char *line)
{
	char *sp = strchr(line, ' '), *seg, *save = NULL;

	if (sp == NULL)
		return;
	*sp = '\0';
	route_check(line, sp + 1, 8);
	route_check(line, sp + 1, 512);
	for (seg = strtok_r(sp + 1, "/?", &save); seg != NULL; seg = strtok_r(NULL, "/?", &save)) {
		int u = unit_parse(seg);
		char back[16];

		if (u < -1 || u > 99999)
			abort();
		snprintf(back, sizeof(back), "%05d", u);
		if (u >= 0 && strcmp(back, seg) != 0)
			abort();
		if (document_serial_valid(seg) && (strlen(seg) != 17 || strspn(seg, "0123456789-") != 17 ||
						   seg[5] != '-' || seg[10] != '-'))
			abort();
	}
}

static void cookie_check(const char *header, const char *other)
{
	char id[SESSION_TOKEN_HEX + 1], needle[SESSION_TOKEN_HEX + 32];

	if (session_cookie_parse(header, id)) {
		if (strlen(id) != SESSION_TOKEN_HEX || strspn(id, "0123456789abcdef") != SESSION_TOKEN_HEX)
			abort();
		snprintf(needle, sizeof(needle), "%s=%s", SESSION_COOKIE, id);
		if (strstr(header, needle) == NULL || !session_token_equal(id, id))
			abort();
	}
	if (session_token_equal(header, other) != (header[0] != '\0' && strcmp(header, other) == 0))
		abort();
}

static void body_check(const uint8_t *p, size_t len)
{
	struct req rq;
	char err[256];
	json_t *o, *v;
	const char *key;

	memset(&rq, 0, sizeof(rq));
	rq.body.data = len > 0 ? malloc(len) : NULL; /* exactly the body: ASan sees a read past it */
	if (len > 0 && rq.body.data == NULL)
		abort();
	if (len > 0)
		memcpy(rq.body.data, p, len);
	rq.body.len = rq.body.cap = len;
	o = body_object(&rq, err, sizeof(err));
	if (o != NULL && !json_is_object(o))
		abort();
	if (o == NULL && strncmp(err, "the body must be a JSON object", 30) != 0)
		abort();
	json_object_foreach (o, key, v) {
		long long id;

		if (json_is_string(v) && deadletter_id_parse(json_string_value(v), &id) == 0 && id < 1)
			abort();
	}
	json_decref(o);
	free(rq.body.data);
}

static void word_check(const char *w)
{
	time_t t;
	long long id;
	char back[32], s[32];
	struct sockaddr_storage ss;
	unsigned sl;
	int loopback;

	if (authz_time_parse(w, &t) == 0) {
		if (strlen(w) == 20)
			authz_time_rfc3339(t, back, sizeof(back));
		else
			authz_time_ldap(t, back, sizeof(back));
		if (strcmp(back, w) != 0)
			abort(); /* a time accepted is the time it says */
	}
	if (deadletter_id_parse(w, &id) == 0) {
		snprintf(s, sizeof(s), "%lld", id);
		if (id < 1 || strcmp(s, w + strspn(w, "0")) != 0)
			abort();
	}
	if (api_listen_parse(w, &ss, &sl, &loopback) == 0 &&
	    !((ss.ss_family == AF_INET && sl == sizeof(struct sockaddr_in)) ||
	      (ss.ss_family == AF_INET6 && sl == sizeof(struct sockaddr_in6))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[4];
	size_t n = fuzz_parts(data, size, parts, 4);
	char *line = fuzz_str(parts[0].p, parts[0].len);
	char *cookie = n > 1 ? fuzz_str(parts[1].p, parts[1].len) : fuzz_str("", 0);
	char *word = n > 3 ? fuzz_str(parts[3].p, parts[3].len) : fuzz_str(line, strlen(line));

	cookie_check(cookie, word);
	url_check(line);
	if (n > 2)
		body_check(parts[2].p, parts[2].len);
	word_check(word);
	free(line);
	free(cookie);
	free(word);
	return 0;
}
