/* bench_issue.c — issuance load: C clients (threads, libcurl, keep-alive)
 * POST /v1/documents for a number of seconds; prints documents/s and
 * p50/p99 latency.  usage: bench_issue URL USER PASSWORD UNIT:KEY[,UNIT:KEY...] CLIENTS SECONDS
 * (client i issues for the (i mod n)-th unit and key). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct client {
	pthread_t t;
	const char *url, *userpwd, *body;
	double until;
	double *lat;
	size_t n, cap, errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void *run(void *arg)
{
	struct client *c = arg;
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");

	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	while (now_s() < c->until) {
		double t0 = now_s();
		long code = 0;

		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code != 201)) {
			c->errors++;
			nanosleep(&(struct timespec){0, 10000000},
				  NULL); /* a server gone (a crash test): no busy loop */
			continue;
		}
		if (c->n == c->cap) {
			double *nl = realloc(c->lat, (c->cap ? c->cap * 2 : 1024) * sizeof(double));

			if (nl == NULL)
				break;
			c->lat = nl;
			c->cap = c->cap ? c->cap * 2 : 1024;
		}
		c->lat[c->n++] = now_s() - t0;
	}
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char url[512], userpwd[256], (*body)[256], *list, *save = NULL;
	size_t nb = 0;
	int clients, secs;
	struct client *c;
	double *all, t0;
	size_t n = 0, errors = 0;

	if (argc != 7) {
		fprintf(stderr,
			"usage: bench_issue URL USER PASSWORD UNIT:KEY[,UNIT:KEY...] CLIENTS SECONDS\n");
		return 2;
	}
	clients = atoi(argv[5]);
	secs = atoi(argv[6]);
	body = calloc(strlen(argv[4]) + 1, sizeof(*body));
	list = strdup(argv[4]);
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (colon == NULL)
			return 2;
		*colon = '\0';
		snprintf(body[nb++], sizeof(body[0]),
			 "{\"kind\":\"birth_extract\",\"unit\":\"%s\",\"key\":\"%s\"}", t, colon + 1);
	}
	free(list);
	if (nb == 0)
		return 2;
	snprintf(url, sizeof(url), "%s/v1/documents", argv[1]);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", argv[2], argv[3]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = calloc((size_t)clients, sizeof(*c));
	t0 = now_s();
	for (int i = 0; i < clients; i++) {
		c[i] = (struct client){
			.url = url, .userpwd = userpwd, .body = body[(size_t)i % nb], .until = t0 + secs};
		pthread_create(&c[i].t, NULL, run, &c[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(c[i].t, NULL);
		n += c[i].n;
		errors += c[i].errors;
	}
	t0 = now_s() - t0;
	all = calloc(n + 1, sizeof(double));
	n = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + n, c[i].lat, c[i].n * sizeof(double));
		n += c[i].n;
		free(c[i].lat);
	}
	qsort(all, n, sizeof(double), cmp);
	printf("%zu documents in %.1f s: %.0f/s; p50 %.1f ms, p99 %.1f ms; %zu errors; %d clients\n", n, t0,
	       (double)n / t0, n ? all[n / 2] * 1e3 : 0, n ? all[(size_t)((double)n * 0.99)] * 1e3 : 0,
	       errors, clients);
	free(all);
	free(c);
	free(body);
	curl_global_cleanup();
	return n > 0 ? 0 : 1;
}
