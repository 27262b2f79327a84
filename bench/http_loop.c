/* http_loop.c — the HTTP target benchmark's reference (issue 13): a plain
 * libcurl loop.  The batches syncd queued for a target (syncd_http_batch,
 * ids FIRST..LAST in id order) are read from the state database before the
 * clock starts, then POSTed one after another on one reused handle
 * (keep-alive) with the headers syncd sends: Content-Type, Idempotency-Key,
 * no "Expect: 100-continue".  Nothing is written back.  Prints one line:
 *   http_loop: R requests, C changes, B bytes in S s: X changes/s, Y requests/s; F failed
 * usage: http_loop CONNINFO TARGET FIRST_ID LAST_ID URL   (URL may hold {unit}) */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request, ready before the clock starts. */
struct req {
	char url[512];
	struct curl_slist *headers;
	const char *body;
	size_t len;
	long changes;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* tmpl with every {unit} replaced by the 5-digit unit, as syncd does. */
static int url_expand(char *out, size_t outlen, const char *tmpl, int unit)
{
	size_t o = 0;
	const char *p = tmpl, *hit;
	int n;

	while ((hit = strstr(p, "{unit}")) != NULL) {
		n = snprintf(out + o, outlen - o, "%.*s%05d", (int)(hit - p), p, unit);
		if (n < 0 || (size_t)n >= outlen - o)
			return -1;
		o += (size_t)n;
		p = hit + 6;
	}
	n = snprintf(out + o, outlen - o, "%s", p);
	return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}

/* The batches, body as bytes; the result owns the bodies the requests point to. */
static PGresult *batches_load(const char *conninfo, char **argv)
{
	const char *params[3] = {argv[2], argv[3], argv[4]};
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res = NULL;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "http_loop: %s", PQerrorMessage(c));
		goto out;
	}
	res = PQexecParams(
		c,
		"SELECT unit::text, batch_id, content_type, changes::text, body "
		"FROM public.syncd_http_batch WHERE target = $1 AND id BETWEEN $2 AND $3 ORDER BY id",
		3, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "http_loop: syncd_http_batch: %s", PQerrorMessage(c));
		PQclear(res);
		res = NULL;
	}
out:
	PQfinish(c);
	return res;
}

static int reqs_build(PGresult *res, const char *tmpl, struct req *rq)
{
	char line[512];

	for (int i = 0; i < PQntuples(res); i++) {
		struct curl_slist *h = NULL;

		if (url_expand(rq[i].url, sizeof(rq[i].url), tmpl, atoi(PQgetvalue(res, i, 0))) < 0)
			return -1;
		snprintf(line, sizeof(line), "Content-Type: %s", PQgetvalue(res, i, 2));
		h = curl_slist_append(h, line);
		snprintf(line, sizeof(line), "Idempotency-Key: %s", PQgetvalue(res, i, 1));
		h = h ? curl_slist_append(h, line) : NULL;
		h = h ? curl_slist_append(h, "Expect:") : NULL;
		if (h == NULL)
			return -1;
		rq[i].headers = h;
		rq[i].body = PQgetvalue(res, i, 4);
		rq[i].len = (size_t)PQgetlength(res, i, 4);
		rq[i].changes = atol(PQgetvalue(res, i, 3));
	}
	return 0;
}

int main(int argc, char **argv)
{
	PGresult *res;
	struct req *rq;
	CURL *h;
	int n, failed = 0;
	long long changes = 0, bytes = 0;
	double t0, secs;

	if (argc != 6) {
		fprintf(stderr, "usage: http_loop CONNINFO TARGET FIRST_ID LAST_ID URL\n");
		return 2;
	}
	if ((res = batches_load(argv[1], argv)) == NULL)
		return 1;
	n = PQntuples(res);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rq = calloc((size_t)n + 1, sizeof(*rq));
	h = curl_easy_init();
	if (rq == NULL || h == NULL || reqs_build(res, argv[5], rq) < 0) {
		fprintf(stderr, "http_loop: out of memory, or a URL longer than 511 bytes\n");
		return 1;
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "syncd-bench");
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		long code = 0;

		curl_easy_setopt(h, CURLOPT_URL, rq[i].url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq[i].headers);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq[i].len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq[i].body);
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code < 200 || code > 299)) {
			failed++;
			continue;
		}
		changes += rq[i].changes;
		bytes += (long long)rq[i].len;
	}
	secs = now_s() - t0;
	printf("http_loop: %d requests, %lld changes, %lld bytes in %.3f s: %.0f changes/s, %.0f requests/s; "
	       "%d failed\n",
	       n, changes, bytes, secs, secs > 0 ? (double)changes / secs : 0, secs > 0 ? n / secs : 0,
	       failed);
	for (int i = 0; i < n; i++)
		curl_slist_free_all(rq[i].headers);
	free(rq);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	PQclear(res);
	return failed == 0 && n > 0 ? 0 : 1;
}
