/* main.c — syncd: wires config, policies, state and the sync engine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "config.h"
#include "routing.h"
#include "snapshot.h"
#include "state.h"

#define SYNCD_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f, "usage: syncd -c FILE [--once | --check-config | --print-config]\n"
		   "  -c, --config FILE   syncd.conf (default /etc/syncd/syncd.conf)\n"
		   "      --once          snapshot every source that has none yet, report, exit 0\n"
		   "      --check-config  validate syncd.conf and the policies; print file:line errors\n"
		   "      --print-config  print the effective configuration, secrets redacted\n"
		   "  -h, --help          this text\n"
		   "  -V, --version       print the version\n");
}

/* Policies name sources by [source NAME]; a mismatch would route nothing. */
static int policies_check(const struct config *cfg, const struct routing *rt)
{
	int bad = 0;

	for (size_t i = 0; i < routing_table_count(rt); i++) {
		const struct routing_table *t = routing_table_get(rt, i);

		if (config_source_find(cfg, t->source) == NULL) {
			log_err("%s/routing.json: tables[%zu] (%s): source \"%s\" has no [source %s] section in %s",
				cfg->policies_dir, i, t->table, t->source, t->source, cfg->path);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static void summary_print(const char *source, const struct snapshot_result *res)
{
	const struct state_snapshot *s = &res->snap;

	printf("source %s: %s at %s: %lld rows (old era %lld, new era %lld), %lld quarantined, %d units, %.1f s%s\n",
	       source, res->already_done ? "snapshot already complete" : "snapshot complete", s->lsn,
	       s->rows_old + s->rows_new, s->rows_old, s->rows_new, s->quarantined, s->units, s->seconds,
	       res->already_done ? " (nothing copied; the slot is kept for streaming)" : "");
	fflush(stdout);
}

static int run_once(const struct config *cfg, const struct routing *rt)
{
	char err[2048];
	struct state *st;
	int r = 0;

	/* everything that can be refused is refused before anything is written */
	for (size_t i = 0; i < cfg->nsources; i++)
		if (snapshot_check_source(cfg, rt, &cfg->sources[i], err, sizeof(err)) < 0) {
			log_err("%s", err);
			return 1;
		}
	st = state_open(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	if (st == NULL) {
		log_err("%s", err);
		return 1;
	}
	for (size_t i = 0; i < cfg->nsources && r == 0; i++) {
		struct snapshot_result res;

		if (snapshot_run(cfg, rt, st, &cfg->sources[i], &res, err, sizeof(err)) < 0) {
			log_err("%s", err);
			r = 1;
		} else {
			summary_print(cfg->sources[i].name, &res);
		}
	}
	state_free(st);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, 'o'},
		{"check-config", no_argument, NULL, 'k'},
		{"print-config", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "/etc/syncd/syncd.conf";
	bool once = false, check = false, print = false;
	struct config *cfg;
	struct routing *rt;
	char *errors = NULL;
	char err[2048];
	int c, r;

	log_init("syncd");
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'o': once = true; break;
		case 'k': check = true; break;
		case 'p': print = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("syncd %s\n", SYNCD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "syncd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if ((int)once + (int)check + (int)print > 1) {
		fprintf(stderr, "syncd: --once, --check-config and --print-config exclude each other\n");
		return 2;
	}
	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		fputs(errors ? errors : "syncd: cannot load the configuration (out of memory)\n", stderr);
		free(errors);
		return 1;
	}
	log_set_level((enum log_level)log_level_parse(cfg->log_level));
	if (print) {
		config_print(cfg, stdout);
		config_free(cfg);
		return 0;
	}
	rt = routing_load(cfg->policies_dir, err, sizeof(err));
	if (rt == NULL) {
		log_err("%s", err);
		config_free(cfg);
		return 1;
	}
	if (policies_check(cfg, rt) < 0) {
		r = 1;
	} else if (check) {
		printf("%s: configuration and policies are valid (%zu sources, %zu tables, %zu units)\n",
		       path, cfg->nsources, routing_table_count(rt), routing_unit_count(rt));
		r = 0;
	} else if (once) {
		r = run_once(cfg, rt);
	} else {
		log_err("continuous mode (logical streaming) is not part of this build yet; run syncd -c %s --once to take the snapshot",
			path);
		r = 2;
	}
	routing_free(rt);
	config_free(cfg);
	return r;
}
