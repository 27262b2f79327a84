/* http_send_cli.c — sends one body through connectors/http_send.c, N times, and
 * prints each outcome as key=value lines, for tests/integration/test_http_send.sh.
 * usage: http_send_cli [options] URL BODY-FILE BATCH-ID  (options: see usage());
 * --between CMD runs a shell command between two sends (a test revokes a token). */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "connectors/http_send.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: http_send_cli [--timeout-ms N] [--ca FILE] [--cert FILE --key FILE]\n"
		"  [--bearer-file FILE] [--webhook-secret-file FILE] [--token-url URL --client-id ID\n"
		"  --client-secret-file FILE [--scope S]] [--content-type T] [--repeat N [--between CMD]] URL BODY-FILE BATCH-ID\n");
	exit(2);
}

static void print_outcome(int rc, const struct http_outcome *o)
{
	printf("rc=%d verdict=%s status=%ld retry_after=%ld curl=%d\n", rc, http_verdict_name(o->verdict),
	       o->status, o->retry_after, o->curl_code);
	printf("error=%s\n", o->error);
	printf("excerpt=%s\n", o->excerpt);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout-ms", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'a'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"bearer-file", required_argument, NULL, 'b'},
		{"webhook-secret-file", required_argument, NULL, 'w'},
		{"token-url", required_argument, NULL, 'u'},
		{"client-id", required_argument, NULL, 'i'},
		{"client-secret-file", required_argument, NULL, 's'},
		{"scope", required_argument, NULL, 'S'},
		{"content-type", required_argument, NULL, 'T'},
		{"repeat", required_argument, NULL, 'r'},
		{"between", required_argument, NULL, 'B'},
		{NULL, 0, NULL, 0},
	};
	struct http_send_conf conf = {0};
	struct http_request req = {.content_type = "application/json"};
	struct http_outcome out;
	char err[256];
	char *body;
	const char *between = NULL;
	int opt, i, repeat = 1, failed = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': conf.timeout_ms = atol(optarg); break;
		case 'a': conf.ca_file = optarg; break;
		case 'c': conf.client_cert_file = optarg; break;
		case 'k': conf.client_key_file = optarg; break;
		case 'b': conf.bearer_token_file = optarg; break;
		case 'w': conf.webhook_secret_file = optarg; break;
		case 'u': conf.token_url = optarg; break;
		case 'i': conf.client_id = optarg; break;
		case 's': conf.client_secret_file = optarg; break;
		case 'S': conf.scope = optarg; break;
		case 'T': req.content_type = optarg; break;
		case 'r': repeat = atoi(optarg); break;
		case 'B': between = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 3)
		usage();
	conf.url = argv[optind];
	body = file_read_all(argv[optind + 1], &req.len, err, sizeof(err));
	if (!body) {
		fprintf(stderr, "http_send_cli: %s\n", err);
		return 1;
	}
	req.body = body;
	req.batch_id = argv[optind + 2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (conf.token_url)
		conf.tokens = http_token_cache_new();
	for (i = 0; i < repeat; i++) {
		int rc = http_send(&conf, &req, &out);
		print_outcome(rc, &out);
		failed |= rc < 0 || out.verdict != HTTP_DELIVERED;
		fflush(stdout);
		if (between && i + 1 < repeat && system(between) != 0)
			fprintf(stderr, "http_send_cli: %s failed\n", between);
	}
	if (conf.tokens)
		printf("token_fetches=%u\n", http_token_cache_fetches(conf.tokens));
	http_token_cache_free(conf.tokens);
	free(body);
	curl_global_cleanup();
	return failed ? 3 : 0;
}
