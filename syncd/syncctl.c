/* syncctl.c — the operator's command line for a running syncd.
 *
 * syncctl -c FILE resync --unit CODE [--table SCHEMA.TABLE] [--no-wait]
 *   rebuilds one unit's copy (or one table of it) from a consistent
 *   snapshot while the stream goes on.  The request goes through the state
 *   database (table syncd_request); each source's stream applies it at the
 *   exact point of its snapshot and records the result.
 *
 * syncctl [-s URL] [-u USER] grant | revoke | grants | check ...
 *   manage and test the grants through syncd's HTTP API (apiclient.c), as
 *   the operator's own LDAP user, so the server checks and audits who did
 *   it; syncd.conf is not read.  The password never goes on the command
 *   line: $SYNCCTL_PASSWORD_FILE, else netrc, else a prompt on the terminal.
 *   Tables for people, --json for scripts.  Exit 0 done (check: allowed),
 *   1 refused, denied or unreachable, 2 usage error. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "apiclient.h"
#include "config.h"
#include "routing.h"
#include "state.h"

#define DEFAULT_URL "http://127.0.0.1:8443"

/* the options before the command */
struct cli {
	const char *config;	/* resync */
	const char *url;	/* -s */
	const char *user;	/* -u */
	const char *cacert;	/* --cacert */
	const char *netrc_file; /* --netrc-file */
	bool json;		/* --json */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: syncctl [-c FILE] resync --unit CODE [--table SCHEMA.TABLE] [--no-wait] [--timeout SECONDS]\n"
		"       syncctl [API OPTIONS] grant --user UID --role ROLE --unit CODE [--not-before TIME] [--not-after TIME] [--may-delegate N]\n"
		"       syncctl [API OPTIONS] revoke GRANT-ID\n"
		"       syncctl [API OPTIONS] grants [--unit CODE] [--user UID]\n"
		"       syncctl [API OPTIONS] check --user UID --action ACTION --unit CODE\n"
		"  -c, --config FILE   syncd.conf (default /etc/syncd/syncd.conf)\n"
		"API OPTIONS, before the command:\n"
		"  -s URL              syncd's HTTP API (default $SYNCCTL_URL, else " DEFAULT_URL ")\n"
		"  -u USER             log in as USER (default $SYNCCTL_USER, else the netrc login)\n"
		"  --cacert FILE       CA certificate that signed syncd's https certificate\n"
		"  --netrc-file FILE   netrc file with the login (default ~/.netrc)\n"
		"  --json              print the server's JSON answer instead of a table\n"
		"The password comes from the file named by $SYNCCTL_PASSWORD_FILE (mode 600),\n"
		"else from the netrc file, else from a prompt on the terminal.\n"
		"TIME: " API_TIME_FORMS "\n"
		"Exit status: 0 done (check: allowed), 1 refused, denied or unreachable, 2 usage error.\n");
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

/* ---- the API commands ---- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Who logs in, with which password (see the header comment).  Returns 0 or
 * the exit code; *password_out is a new string to wipe and free. */
static int cli_login(const struct cli *cli, struct api_client *c, char **user_out, char **password_out)
{
	const char *user = cli->user ? cli->user : env("SYNCCTL_USER");
	const char *pwfile = env("SYNCCTL_PASSWORD_FILE");
	const char *home = env("HOME");
	char *login = NULL, *password = NULL, *netrc = NULL;
	char host[256], err[1024], prompt[512];
	int r = 2;

	*user_out = *password_out = NULL;
	if (api_url_host(c->url, host, sizeof(host)) < 0) {
		fprintf(stderr, "syncctl: \"%s\" is not a URL; give the API like -s " DEFAULT_URL "\n",
			c->url);
		return 2;
	}
	if (pwfile != NULL && (password = api_password_file_read(pwfile, err, sizeof(err))) == NULL) {
		fprintf(stderr, "syncctl: SYNCCTL_PASSWORD_FILE: %s\n", err);
		return 2;
	}
	if (cli->netrc_file != NULL) {
		netrc = strdup(cli->netrc_file);
	} else if (home != NULL && asprintf(&netrc, "%s/.netrc", home) >= 0) {
		if (access(netrc, F_OK) != 0) {
			free(netrc);
			netrc = NULL;
		}
	}
	if (netrc != NULL && (user == NULL || password == NULL)) {
		char *npw = NULL;
		int found = api_netrc_lookup(netrc, host, user, &login, &npw, err, sizeof(err));

		if (found < 0) {
			fprintf(stderr, "syncctl: %s\n", err);
			goto out;
		}
		if (password == NULL) {
			password = npw;
		} else if (npw != NULL) {
			explicit_bzero(npw, strlen(npw));
			free(npw);
		}
	}
	if (user == NULL)
		user = login;
	if (user == NULL) {
		fprintf(stderr,
			"syncctl: no user to log in to %s as: give -u USER, set SYNCCTL_USER or add "
			"\"machine %s login USER password ...\" to %s\n",
			c->url, host, cli->netrc_file ? cli->netrc_file : "~/.netrc");
		goto out;
	}
	if (password == NULL) {
		snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user, c->url);
		password = api_password_prompt(prompt, err, sizeof(err));
		if (password == NULL) {
			fprintf(stderr, "syncctl: %s; set SYNCCTL_PASSWORD_FILE or use a netrc file\n", err);
			goto out;
		}
	}
	if ((*user_out = strdup(user)) == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		goto out;
	}
	c->user = *user_out;
	c->password = *password_out = password;
	password = NULL;
	r = 0;
out:
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(login);
	free(netrc);
	return r;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* Logs in, makes the call, prints an error or (with --json) the body.
 * Returns 0 with *res to read and free, or the exit code. */
static int cli_request(const struct cli *cli, const char *method, const char *path, json_t *body,
		       struct api_response *res)
{
	struct api_client c = {
		.url = cli->url		    ? cli->url
		       : env("SYNCCTL_URL") ? env("SYNCCTL_URL")
					    : DEFAULT_URL,
		.cacert = cli->cacert,
	};
	char *user = NULL, *password = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	r = cli_login(cli, &c, &user, &password);
	if (r != 0)
		return r;
	r = api_call(&c, method, path, body, res) == 0 ? 0 : 1;
	explicit_bzero(password, strlen(password));
	free(password);
	free(user);
	if (cli->json && res->json != NULL)
		print_json(res->json);
	if (r != 0) {
		fprintf(stderr, "syncctl: %s\n", res->error);
		api_response_free(res);
	}
	return r;
}

static int bad_time(const char *opt, const char *v)
{
	fprintf(stderr, "syncctl: %s \"%s\": use " API_TIME_FORMS "\n", opt, v);
	return 2;
}

static int cmd_grant(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"role", required_argument, NULL, 'r'},
		{"unit", required_argument, NULL, 'n'},
		{"not-before", required_argument, NULL, 'b'},
		{"not-after", required_argument, NULL, 'a'},
		{"may-delegate", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *user = NULL, *role = NULL, *unit = NULL, *nb = NULL, *na = NULL, *depth = NULL;
	char not_before[32], not_after[32], *end;
	struct api_response res;
	time_t now = time(NULL);
	long may_delegate = -1;
	json_t *body, *g;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'r': role = optarg; break;
		case 'n': unit = optarg; break;
		case 'b': nb = optarg; break;
		case 'a': na = optarg; break;
		case 'd': depth = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || user == NULL || role == NULL || unit == NULL) {
		fprintf(stderr,
			"syncctl: grant needs --user UID, --role ROLE and --unit CODE, nothing else\n");
		usage(stderr);
		return 2;
	}
	if (nb != NULL && api_time_arg(nb, now, not_before, sizeof(not_before)) < 0)
		return bad_time("--not-before", nb);
	if (na != NULL && api_time_arg(na, now, not_after, sizeof(not_after)) < 0)
		return bad_time("--not-after", na);
	if (depth != NULL) {
		errno = 0;
		may_delegate = strtol(depth, &end, 10);
		if (errno != 0 || end == depth || *end != '\0' || may_delegate < 0 ||
		    may_delegate > INT_MAX) {
			fprintf(stderr,
				"syncctl: --may-delegate \"%s\": give how many times the grantee may pass the role on (0 or more)\n",
				depth);
			return 2;
		}
	}
	body = json_pack("{s:s, s:s, s:s}", "grantee", user, "role", role, "unit", unit);
	if (body == NULL || (nb && json_object_set_new(body, "not_before", json_string(not_before)) < 0) ||
	    (na && json_object_set_new(body, "not_after", json_string(not_after)) < 0) ||
	    (depth && json_object_set_new(body, "may_delegate", json_integer(may_delegate)) < 0)) {
		fprintf(stderr, "syncctl: cannot build the request (invalid UTF-8 in an argument?)\n");
		json_decref(body);
		return 2;
	}
	r = cli_request(cli, "POST", "/v1/grants", body, &res);
	json_decref(body);
	if (r != 0)
		return r;
	g = res.json;
	if (!cli->json) {
		const char *until = json_string_value(json_object_get(g, "not_after"));
		json_t *id = json_object_get(g, "id");

		printf("granted ");
		if (json_is_integer(id))
			printf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
		else
			printf("%s", json_is_string(id) ? json_string_value(id) : "?");
		printf(": %s to %s in %s until %s\n", json_string_value(json_object_get(g, "role")) ?: role,
		       json_string_value(json_object_get(g, "grantee")) ?: user,
		       json_string_value(json_object_get(g, "unit")) ?: unit, until ? until : "revoked");
	}
	api_response_free(&res);
	return 0;
}

static int cmd_revoke(const struct cli *cli, int argc, char **argv)
{
	struct api_response res;
	char *path;
	int r;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
		fprintf(stderr, "syncctl: revoke needs one GRANT-ID (see syncctl grants)\n");
		usage(stderr);
		return 2;
	}
	path = api_path_join("/v1/grants", argv[1]);
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "DELETE", path, NULL, &res);
	free(path);
	if (r != 0)
		return r;
	if (!cli->json)
		printf("revoked %s\n", argv[1]);
	api_response_free(&res);
	return 0;
}

static int cmd_grants(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'n'},
		{"user", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct api_param q[2] = {{"unit", NULL}, {"grantee", NULL}};
	struct api_response res;
	char *path;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': q[0].value = optarg; break;
		case 'u': q[1].value = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "syncctl: grants takes only --unit CODE and --user UID\n");
		usage(stderr);
		return 2;
	}
	path = api_query("/v1/grants", q, 2);
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "GET", path, NULL, &res);
	free(path);
	if (r != 0)
		return r;
	if (!cli->json && api_grants_print(stdout, json_object_get(res.json, "grants"), time(NULL)) < 0) {
		fprintf(stderr, "syncctl: the answer (request %s) has no \"grants\" list\n",
			res.request_id[0] ? res.request_id : "-");
		r = 1;
	}
	api_response_free(&res);
	return r;
}

static int cmd_check(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"action", required_argument, NULL, 'a'},
		{"unit", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct api_param q[3] = {{"user", NULL}, {"action", NULL}, {"unit", NULL}};
	struct api_response res;
	char *path;
	int c, r, allowed;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': q[0].value = optarg; break;
		case 'a': q[1].value = optarg; break;
		case 'n': q[2].value = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || q[0].value == NULL || q[1].value == NULL || q[2].value == NULL) {
		fprintf(stderr,
			"syncctl: check needs --user UID, --action ACTION and --unit CODE, nothing else\n");
		usage(stderr);
		return 2;
	}
	path = api_query("/v1/authz/check", q, 3);
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "GET", path, NULL, &res);
	free(path);
	if (r != 0)
		return r;
	allowed = cli->json ? api_check_allowed(res.json) : api_check_print(stdout, res.json);
	if (allowed < 0)
		fprintf(stderr, "syncctl: the answer (request %s) has no decision\n",
			res.request_id[0] ? res.request_id : "-");
	api_response_free(&res);
	return allowed == 1 ? 0 : 1;
}

static const struct {
	const char *name;
	int (*run)(const struct cli *cli, int argc, char **argv);
} api_cmds[] = {
	{"grant", cmd_grant},
	{"revoke", cmd_revoke},
	{"grants", cmd_grants},
	{"check", cmd_check},
};

/* ---- the state database commands ---- */

static int run_resync(const struct cli *cli, int argc, char **argv)
{
	struct config *cfg;
	struct routing *rt;
	char *errors = NULL, err[2048];
	int r;

	cfg = config_load(cli->config, &errors);
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
	r = cmd_resync(cfg, rt, argc, argv);
	routing_free(rt);
	config_free(cfg);
	return r;
}

/* where the value of an option before the command goes; NULL for others */
static const char **cli_option(struct cli *cli, const char *o)
{
	if (strcmp(o, "-c") == 0 || strcmp(o, "--config") == 0)
		return &cli->config;
	if (strcmp(o, "-s") == 0)
		return &cli->url;
	if (strcmp(o, "-u") == 0)
		return &cli->user;
	if (strcmp(o, "--cacert") == 0)
		return &cli->cacert;
	if (strcmp(o, "--netrc-file") == 0)
		return &cli->netrc_file;
	return NULL;
}

int main(int argc, char **argv)
{
	struct cli cli = {.config = "/etc/syncd/syncd.conf"};
	int i = 1, r;

	log_init("syncctl");
	while (i < argc && argv[i][0] == '-') {
		const char *o = argv[i];
		const char **value = cli_option(&cli, o);

		if (value != NULL && i + 1 < argc) {
			*value = argv[i + 1];
			i += 2;
		} else if (strcmp(o, "--json") == 0) {
			cli.json = true;
			i++;
		} else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
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
	if (strcmp(argv[i], "resync") == 0)
		return run_resync(&cli, argc - i, argv + i);
	for (size_t k = 0; k < sizeof(api_cmds) / sizeof(api_cmds[0]); k++) {
		if (strcmp(argv[i], api_cmds[k].name) != 0)
			continue;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "syncctl: libcurl does not start\n");
			return 1;
		}
		r = api_cmds[k].run(&cli, argc - i, argv + i);
		curl_global_cleanup();
		return r;
	}
	fprintf(stderr, "syncctl: unknown command \"%s\"\n", argv[i]);
	usage(stderr);
	return 2;
}
