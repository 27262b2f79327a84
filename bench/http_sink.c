/* http_sink.c — the HTTP target benchmark's receiver (issue 13): answers 200
 * to every POST on keep-alive connections (libmicrohttpd, one epoll thread),
 * counts requests, body bytes and changes, records each Idempotency-Key once
 * (a key seen again is a duplicate) and remembers when the first request of
 * the period arrived and when the last one was read in full (wall clock, so
 * a script may subtract a PostgreSQL clock_timestamp() of the same machine).
 *
 * A change is one `{"op":` in the body (gunzipped when Content-Encoding says
 * gzip): the plain and the CloudEvents bodies both hold one such object per
 * change, and the sequence cannot occur inside a JSON string, where every
 * quote is escaped.
 *
 *   GET /stats    {"requests":N,"changes":N,"bytes":N,"keys":N,"duplicates":N,
 *                  "no_key":N,"first":EPOCH,"last":EPOCH}  (not counted)
 *   GET /reset    forgets everything, keys included (not counted)
 *   SIGUSR1       the /stats line on stdout
 *   SIGTERM/INT   stops
 *
 * usage: http_sink [PORT]   (none or 0: a free port; the port is the first
 * line of stdout) */
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#define KEY_MAX	   256
#define BODY_LIMIT (256u << 20) /* a larger body closes the connection */

/* One request being read. */
struct request {
	char *body;
	size_t len, cap;
	double t0;
	bool counted; /* a POST (GET /stats and /reset are not) */
};

/* The Idempotency-Keys seen: open addressing, a power of two of slots. */
struct keyset {
	char **slot;
	size_t cap, n;
};

static struct {
	pthread_mutex_t mu;
	unsigned long long requests, changes, bytes, duplicates, no_key, errors;
	double first, last;
	struct keyset keys;
} st = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct MHD_Response *ok_resp, *nf_resp;

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void keyset_clear(struct keyset *k)
{
	for (size_t i = 0; i < k->cap; i++)
		free(k->slot[i]);
	free(k->slot);
	memset(k, 0, sizeof(*k));
}

/* Adds key; 1 when new, 0 when seen before, -1 out of memory. */
static int keyset_add(struct keyset *k, const char *key)
{
	size_t i;

	if (2 * (k->n + 1) > k->cap) {
		struct keyset g = {.cap = k->cap ? 2 * k->cap : 1024, .n = k->n};

		if ((g.slot = calloc(g.cap, sizeof(char *))) == NULL)
			return -1;
		for (size_t j = 0; j < k->cap; j++) {
			if (k->slot[j] == NULL)
				continue;
			for (i = fnv1a(k->slot[j]) & (g.cap - 1); g.slot[i] != NULL;
			     i = (i + 1) & (g.cap - 1))
				;
			g.slot[i] = k->slot[j];
		}
		free(k->slot);
		*k = g;
	}
	for (i = fnv1a(key) & (k->cap - 1); k->slot[i] != NULL; i = (i + 1) & (k->cap - 1))
		if (strcmp(k->slot[i], key) == 0)
			return 0;
	if ((k->slot[i] = strdup(key)) == NULL)
		return -1;
	k->n++;
	return 1;
}

static unsigned long long count_changes(const char *p, size_t len)
{
	static const char needle[] = "{\"op\":";
	unsigned long long n = 0;
	const char *end = p + len, *hit;

	while (p < end && (hit = memmem(p, (size_t)(end - p), needle, sizeof(needle) - 1)) != NULL) {
		n++;
		p = hit + sizeof(needle) - 1;
	}
	return n;
}

/* The changes of a gzip body; -1 when it does not inflate. */
static long long count_gzip(const char *p, size_t len)
{
	z_stream z = {0};
	size_t cap = len * 8 + 4096, got = 0;
	char *out = malloc(cap);
	long long n = -1;
	int r = Z_OK;

	if (out == NULL || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return -1;
	}
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)len;
	while (r == Z_OK) {
		if (got == cap) {
			char *bigger = realloc(out, cap * 2);

			if (bigger == NULL)
				break;
			out = bigger;
			cap *= 2;
		}
		z.next_out = (Bytef *)out + got;
		z.avail_out = (uInt)(cap - got);
		r = inflate(&z, Z_NO_FLUSH);
		got = cap - z.avail_out;
	}
	if (r == Z_STREAM_END)
		n = (long long)count_changes(out, got);
	inflateEnd(&z);
	free(out);
	return n;
}

static int stats_line(char *out, size_t outlen)
{
	int n;

	pthread_mutex_lock(&st.mu);
	n = snprintf(out, outlen,
		     "{\"requests\":%llu,\"changes\":%llu,\"bytes\":%llu,\"keys\":%zu,\"duplicates\":%llu,"
		     "\"no_key\":%llu,\"errors\":%llu,\"first\":%.6f,\"last\":%.6f}\n",
		     st.requests, st.changes, st.bytes, st.keys.n, st.duplicates, st.no_key, st.errors,
		     st.first, st.last);
	pthread_mutex_unlock(&st.mu);
	return n;
}

static void stats_reset(void)
{
	pthread_mutex_lock(&st.mu);
	st.requests = st.changes = st.bytes = st.duplicates = st.no_key = st.errors = 0;
	st.first = st.last = 0;
	keyset_clear(&st.keys);
	pthread_mutex_unlock(&st.mu);
}

/* A POST read in full: counted, its key recorded. */
static void post_count(struct MHD_Connection *c, const struct request *rq)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	long long changes = enc != NULL && strcasecmp(enc, "gzip") == 0
				    ? count_gzip(rq->body, rq->len)
				    : (long long)count_changes(rq->body, rq->len);
	double t1 = wall();
	int added = 1;

	pthread_mutex_lock(&st.mu);
	if (st.requests++ == 0)
		st.first = rq->t0;
	st.last = t1;
	st.bytes += rq->len;
	if (changes < 0)
		st.errors++;
	else
		st.changes += (unsigned long long)changes;
	if (key == NULL)
		st.no_key++;
	else if ((added = keyset_add(&st.keys, key)) == 0)
		st.duplicates++;
	else if (added < 0)
		st.errors++;
	pthread_mutex_unlock(&st.mu);
}

static enum MHD_Result answer_text(struct MHD_Connection *c, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *data_len, void **ctx)
{
	struct request *rq = *ctx;
	char line[512];

	(void)cls;
	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		rq->t0 = wall();
		rq->counted = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		*ctx = rq;
		return MHD_YES;
	}
	if (*data_len > 0) {
		if (rq->len + *data_len > BODY_LIMIT)
			return MHD_NO;
		if (rq->len + *data_len > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 65536;
			char *bigger;

			while (cap < rq->len + *data_len)
				cap *= 2;
			if ((bigger = realloc(rq->body, cap)) == NULL)
				return MHD_NO;
			rq->body = bigger;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, data, *data_len);
		rq->len += *data_len;
		*data_len = 0;
		return MHD_YES;
	}
	if (rq->counted) {
		post_count(c, rq);
		return MHD_queue_response(c, MHD_HTTP_OK, ok_resp);
	}
	if (strcmp(url, "/reset") == 0)
		stats_reset();
	else if (strcmp(url, "/stats") != 0)
		return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, nf_resp);
	stats_line(line, sizeof(line));
	return answer_text(c, line);
}

static void completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *ctx;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
	}
	*ctx = NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;
	char line[512];

	if (argc > 2 || (argc == 2 && strspn(argv[1], "0123456789") != strlen(argv[1]))) {
		fprintf(stderr, "usage: http_sink [PORT]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)(argc == 2 ? atoi(argv[1]) : 0));
	/* the server thread inherits the mask: the signals come to sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ok_resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	nf_resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
			     MHD_OPTION_END);
	if (d == NULL || ok_resp == NULL || nf_resp == NULL ||
	    (info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
		fprintf(stderr, "http_sink: cannot listen on 127.0.0.1:%s\n", argc == 2 ? argv[1] : "0");
		return 1;
	}
	printf("%u\n", (unsigned)info->port);
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig == SIGUSR1) {
		stats_line(line, sizeof(line));
		fputs(line, stdout);
		fflush(stdout);
	}
	MHD_stop_daemon(d);
	MHD_destroy_response(ok_resp);
	MHD_destroy_response(nf_resp);
	keyset_clear(&st.keys);
	return 0;
}
