/* syncctl.c — the operator's command line for a running syncd.
 *
 * syncctl -c FILE resync --unit CODE [--table SCHEMA.TABLE] [--no-wait]
 *   rebuilds one unit's copy (or one table of it) from a consistent
 *   snapshot while the stream goes on.  The request goes through the state
 *   database (table syncd_request); each source's stream applies it at the
 *   exact point of its snapshot and records the result. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "config.h"
#include "routing.h"
#include "state.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: syncctl [-c FILE] resync --unit CODE [--table SCHEMA.TABLE] [--no-wait] [--timeout SECONDS]\n"
		"  -c, --config FILE   syncd.conf (default /etc/syncd/syncd.conf)\n");
}

static int cmd_resync(const struct config *cfg, const struct routing *rt, int argc, char **argv)
{
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"table", required_argument, NULL, 't'},
		{"no-wait", no_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	const char *unit = NULL, *table = NULL;
	bool wait = true;
	long timeout = 3600, ids[64];
	size_t nids = 0;
	const char *srcs[64];
	char err[1024];
	struct state *st;
	int c, r = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': unit = optarg; break;
		case 't': table = optarg; break;
		case 'n': wait = false; break;
		case 'T': timeout = atol(optarg); break;
		default: usage(stderr); return 2;
		}
	}
	if (unit == NULL || strlen(unit) != 5 || strspn(unit, "0123456789") != 5 ||
	    routing_unit_find(rt, atoi(unit)) == NULL) {
		fprintf(stderr,
			"syncctl: --unit needs one of the 103 unit codes (policies/units/cantho_new_units.csv)%s%s\n",
			unit ? ", not " : "", unit ? unit : "");
		return 2;
	}
	st = state_open(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "syncctl: %s\n", err);
		return 1;
	}
	/* one request per source that routes the table (or every source) */
	for (size_t i = 0; i < cfg->nsources && nids < 64; i++) {
		bool routes = table == NULL;

		for (size_t t = 0; t < routing_table_count(rt) && !routes; t++)
			routes = strcmp(routing_table_get(rt, t)->source, cfg->sources[i].name) == 0 &&
				 strcmp(routing_table_get(rt, t)->table, table) == 0;
		if (!routes)
			continue;
		ids[nids] =
			state_request_add(st, cfg->sources[i].name, "resync", unit, table, err, sizeof(err));
		if (ids[nids] < 0) {
			fprintf(stderr, "syncctl: %s\n", err);
			state_free(st);
			return 1;
		}
		srcs[nids++] = cfg->sources[i].name;
	}
	if (nids == 0) {
		fprintf(stderr, "syncctl: no source routes table %s (see routing.json)\n", table);
		state_free(st);
		return 2;
	}
	for (size_t k = 0; k < nids; k++) {
		char result[1200];
		time_t t0 = time(NULL);
		int done = 0;

		if (!wait) {
			printf("source %s: resync of unit %s requested (request %ld)\n", srcs[k], unit,
			       ids[k]);
			continue;
		}
		while ((done = state_request_result(st, ids[k], result, sizeof(result), err, sizeof(err))) ==
			       0 &&
		       time(NULL) - t0 < timeout)
			usleep(200000);
		if (done < 0) {
			fprintf(stderr, "syncctl: %s\n", err);
			r = 1;
		} else if (done == 0) {
			fprintf(stderr,
				"syncctl: source %s: no answer within %ld s; is syncd running? (request %ld stays queued)\n",
				srcs[k], timeout, ids[k]);
			r = 1;
		} else {
			printf("source %s: unit %s: %s\n", srcs[k], unit, result);
			if (strncmp(result, "ok", 2) != 0)
				r = 1;
		}
	}
	state_free(st);
	return r;
}

int main(int argc, char **argv)
{
	const char *path = "/etc/syncd/syncd.conf";
	struct config *cfg;
	struct routing *rt;
	char *errors = NULL, err[2048];
	int i = 1, r;

	log_init("syncctl");
	while (i < argc && argv[i][0] == '-') {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		fputs(errors ? errors : "syncctl: cannot load the configuration\n", stderr);
		free(errors);
		return 1;
	}
	rt = routing_load(cfg->policies_dir, err, sizeof(err));
	if (rt == NULL) {
		fprintf(stderr, "syncctl: %s\n", err);
		config_free(cfg);
		return 1;
	}
	if (strcmp(argv[i], "resync") == 0) {
		r = cmd_resync(cfg, rt, argc - i, argv + i);
	} else {
		fprintf(stderr, "syncctl: unknown command \"%s\"\n", argv[i]);
		usage(stderr);
		r = 2;
	}
	routing_free(rt);
	config_free(cfg);
	return r;
}
