/* syncctl.c — the operator's command line for a running syncd: the options, one
 * function per command (resync, grants, audit, documents) and its exit code.
 *
 * syncctl -c FILE resync --unit CODE [--table SCHEMA.TABLE] [--no-wait]
 *   rebuilds one unit's copy (or one table of it) from a consistent
 *   snapshot while the stream goes on.  The request goes through the state
 *   database (table syncd_request); each source's stream applies it at the
 *   exact point of its snapshot and records the result.
 *
 * syncctl [-s URL] [-u USER] grant | revoke | grants | check ...
 *   manage and test the grants through syncd's HTTP API (apiclient.c, print.c), as
 *   the operator's own LDAP user, so the server checks and audits who did
 *   it; syncd.conf is not read.  The password never goes on the command
 *   line: $SYNCCTL_PASSWORD_FILE, else netrc, else a prompt on the terminal.
 *   Tables for people, --json for scripts.  Exit 0 done (check: allowed),
 *   1 refused, denied or unreachable, 2 usage error.
 *
 * syncctl [-s URL] [-u USER] audit query | audit verify ...
 *   searches the audit log (--all follows the server's cursor through every
 *   page; --csv passes the server's CSV on) and checks its hash chain and
 *   signed checkpoints: exit 1 when the log is broken.
 *
 * syncctl [-s URL] [-u USER] document get SERIAL | document verify SERIAL HASH
 *   shows an issued document (or saves it as HTML to print) and checks one
 *   the way anyone holding a copy may: verify is public, so it sends no
 *   login; exit 1 when the document is revoked or unknown.
 *
 * syncctl [-s URL] [-u USER] deadletter list | show ID | retry ID | discard ID
 *   the HTTP targets' batches their receiver refused: list them, show one
 *   with its body, send it again or drop it (with a reason), which lets
 *   the paused unit go on. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authz/audit.h"
#include "common/log.h"
#include "connectors/http_deadletter.h"
#include "syncd/ctl/apiclient.h"
#include "syncd/ctl/print.h"
#include "syncd/config.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/state.h"

#define DEFAULT_URL "http://127.0.0.1:8443"

/* the options before the command */
struct cli {
	const char *config;	/* resync */
	const char *url;	/* -s */
	const char *user;	/* -u */
	const char *cacert;	/* --cacert */
	const char *netrc_file; /* --netrc-file */
	bool json;		/* --json */
	bool config_given;	/* -c: audit verify reads the state DB itself */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: syncctl [-c FILE] resync --unit CODE [--table SCHEMA.TABLE] [--no-wait] [--timeout SECONDS]\n"
		"       syncctl [API OPTIONS] grant --user UID --role ROLE --unit CODE [--not-before TIME] [--not-after TIME] [--may-delegate N]\n"
		"       syncctl [API OPTIONS] revoke GRANT-ID\n"
		"       syncctl [API OPTIONS] grants [--unit CODE] [--user UID]\n"
		"       syncctl [API OPTIONS] check --user UID --action ACTION --unit CODE\n"
		"       syncctl [API OPTIONS] audit query [--actor UID] [--unit CODE] [--action ACTION] [--object OBJECT]\n"
		"                 [--decision allow|deny|error] [--from TIME] [--to TIME] [--limit N] [--all] [--csv]\n"
		"       syncctl [API OPTIONS] status [--units]\n"
		"       syncctl [API OPTIONS] audit verify     (with -c FILE: straight from the state DB)\n"
		"       syncctl [API OPTIONS] document get SERIAL [--html FILE]\n"
		"       syncctl [API OPTIONS] document verify SERIAL HASH   (HASH: 16+ hex digits printed on it)\n"
		"       syncctl [API OPTIONS] deadletter list [--target NAME] [--unit CODE] [--all]\n"
		"       syncctl [API OPTIONS] deadletter show ID\n"
		"       syncctl [API OPTIONS] deadletter retry ID [--reason TEXT]\n"
		"       syncctl [API OPTIONS] deadletter discard ID --reason TEXT\n"
		"  -c, --config FILE   syncd.conf (default /etc/syncd/syncd.conf)\n"
		"API OPTIONS, before the command:\n"
		"  -s URL              syncd's HTTP API (default $SYNCCTL_URL, else " DEFAULT_URL ")\n"
		"  -u USER             log in as USER (default $SYNCCTL_USER, else the netrc login)\n"
		"  --cacert FILE       CA certificate that signed syncd's https certificate\n"
		"  --netrc-file FILE   netrc file with the login (default ~/.netrc)\n"
		"  --json              print the server's JSON answer instead of a table\n"
		"The password comes from the file named by $SYNCCTL_PASSWORD_FILE (mode 600),\n"
		"else from the netrc file, else from a prompt on the terminal; document verify\n"
		"is public and sends no login.\n"
		"TIME: " API_TIME_FORMS "\n"
		"  audit query --from/--to also take -2d or -1h (before now)\n"
		"audit query: --limit N events (per page with --all); --all follows every page;\n"
		"  --csv prints the server's CSV.\n"
		"SERIAL: " API_SERIAL_FORM "\n"
		"deadletter: list shows the open ones (--all: retried and discarded too), newest\n"
		"  first; retry sends the batch again, discard drops it for good (--reason says why);\n"
		"  either lets the unit's later batches go once no other dead letter of it is open.\n"
		"Exit status: 0 done (check: allowed; audit verify: intact; document verify: valid),\n"
		"1 refused, denied, broken, revoked, unknown or unreachable, 2 usage error.\n");
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

/* A client for the API: logged in, or anonymous for public endpoints. */
struct session {
	struct api_client c;
	char *user; /* new strings, wiped and freed by session_close() */
	char *password;
};

/* Returns 0, or the exit code with nothing to close. */
static int session_open(const struct cli *cli, bool login, struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->c.url = cli->url ? cli->url : env("SYNCCTL_URL") ? env("SYNCCTL_URL") : DEFAULT_URL;
	s->c.cacert = cli->cacert;
	return login ? cli_login(cli, &s->c, &s->user, &s->password) : 0;
}

static void session_close(struct session *s)
{
	if (s->password != NULL) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s->user);
	memset(s, 0, sizeof(*s));
}

/* One call (accept NULL: JSON, else a GET for that type).  On failure the
 * error goes to stderr, with json the server's error body to stdout too,
 * and 1 is returned; 0 leaves *res to read and free. */
static int session_call(struct session *s, bool json, const char *method, const char *path, json_t *body,
			const char *accept, struct api_response *res)
{
	int r = accept ? api_get_raw(&s->c, path, accept, res) : api_call(&s->c, method, path, body, res);

	if (r == 0)
		return 0;
	if (json && res->json != NULL)
		print_json(res->json);
	fprintf(stderr, "syncctl: %s\n", res->error);
	api_response_free(res);
	return 1;
}

/* Logs in, makes the call, prints an error or (with --json) the body.
 * Returns 0 with *res to read and free, or the exit code. */
static int cli_request(const struct cli *cli, const char *method, const char *path, json_t *body,
		       struct api_response *res)
{
	struct session s;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_open(cli, true, &s);
	if (r != 0)
		return r;
	r = session_call(&s, cli->json, method, path, body, NULL, res);
	session_close(&s);
	if (r == 0 && cli->json && res->json != NULL)
		print_json(res->json);
	return r;
}

/* GET base?query (NULL values left out) with cli_request. */
static int cli_get_query(const struct cli *cli, const char *base, const struct api_param *q, size_t n,
			 struct api_response *res)
{
	char *path = api_query(base, q, n);
	int r;

	memset(res, 0, sizeof(*res));
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "GET", path, NULL, res);
	free(path);
	return r;
}

static int bad_time(const char *opt, const char *v)
{
	fprintf(stderr, "syncctl: %s \"%s\": use " API_TIME_FORMS "\n", opt, v);
	return 2;
}

static int bad_past_time(const char *opt, const char *v)
{
	fprintf(stderr, "syncctl: %s \"%s\": use " API_PAST_FORMS "\n", opt, v);
	return 2;
}

static int no_list(const struct api_response *res, const char *what)
{
	fprintf(stderr, "syncctl: the answer (request %s) has no %s\n",
		res->request_id[0] ? res->request_id : "-", what);
	return 1;
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
	r = cli_get_query(cli, "/v1/grants", q, 2, &res);
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
	r = cli_get_query(cli, "/v1/authz/check", q, 3, &res);
	if (r != 0)
		return r;
	allowed = cli->json ? api_check_allowed(res.json) : api_check_print(stdout, res.json);
	if (allowed < 0)
		fprintf(stderr, "syncctl: the answer (request %s) has no decision\n",
			res.request_id[0] ? res.request_id : "-");
	api_response_free(&res);
	return allowed == 1 ? 0 : 1;
}

/* ---- the audit log ---- */

/* --limit's page size guard: beyond this the server's own cap decides */
#define AUDIT_MAX_LIMIT 100000
/* --all stops here rather than loop on a server that never ends a search */
#define AUDIT_MAX_PAGES 100000

/* One CSV page to stdout: the header line only from the first page; every
 * cell neutralised for spreadsheets (api_csv_print).  0 or -1. */
static int audit_csv_page(const struct api_response *res, size_t page)
{
	if (api_csv_print(stdout, res->raw ? res->raw : "", res->raw ? res->raw_len : 0, page > 0) < 0) {
		fprintf(stderr, "syncctl: the server's CSV page %zu is malformed (or stdout failed)\n",
			page + 1);
		return -1;
	}
	return 0;
}

/* The query string of GET /v1/audit, one slot per parameter. */
enum audit_q {
	Q_ACTOR,
	Q_UNIT,
	Q_ACTION,
	Q_OBJECT,
	Q_DECISION,
	Q_FROM,
	Q_TO,
	Q_LIMIT,
	Q_FORMAT,
	Q_CURSOR,
	Q_N
};

/* An audit query as the command line asks it; q's values are borrowed
 * from argv, from_t and to_t. */
struct audit_search {
	struct api_param q[Q_N];
	const char *from, *to, *limit;
	char from_t[32], to_t[32];
	bool all, csv;
};

/* audit query's options into *a.  Returns -1 to go on, else the exit code
 * (0 after --help, 2 for a usage error). */
static int audit_query_options(int argc, char **argv, struct audit_search *a)
{
	static const struct option opts[] = {
		{"actor", required_argument, NULL, 'a'},
		{"unit", required_argument, NULL, 'n'},
		{"action", required_argument, NULL, 'A'},
		{"object", required_argument, NULL, 'o'},
		{"decision", required_argument, NULL, 'd'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"limit", required_argument, NULL, 'l'},
		{"all", no_argument, NULL, 'L'},
		{"csv", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->q[Q_ACTOR].value = optarg; break;
		case 'n': a->q[Q_UNIT].value = optarg; break;
		case 'A': a->q[Q_ACTION].value = optarg; break;
		case 'o': a->q[Q_OBJECT].value = optarg; break;
		case 'd': a->q[Q_DECISION].value = optarg; break;
		case 'f': a->from = optarg; break;
		case 't': a->to = optarg; break;
		case 'l': a->limit = optarg; break;
		case 'L': a->all = true; break;
		case 'c': a->csv = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "syncctl: audit query takes only options, not \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The option values checked and put in the query string (times in RFC
 * 3339 UTC).  Returns 0, or 2 for a usage error (said on stderr). */
static int audit_query_check(const struct cli *cli, struct audit_search *a)
{
	const char *decision = a->q[Q_DECISION].value;
	time_t now = time(NULL);
	char *end;
	long n;

	if (a->csv && cli->json) {
		fprintf(stderr, "syncctl: audit query: --csv or --json, not both\n");
		return 2;
	}
	if (decision != NULL && strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0 &&
	    strcmp(decision, "error") != 0) {
		fprintf(stderr, "syncctl: --decision \"%s\": use allow, deny or error\n", decision);
		return 2;
	}
	if (a->from != NULL && api_time_arg_past(a->from, now, a->from_t, sizeof(a->from_t)) < 0)
		return bad_past_time("--from", a->from);
	if (a->to != NULL && api_time_arg_past(a->to, now, a->to_t, sizeof(a->to_t)) < 0)
		return bad_past_time("--to", a->to);
	a->q[Q_FROM].value = a->from ? a->from_t : NULL;
	a->q[Q_TO].value = a->to ? a->to_t : NULL;
	if (a->limit != NULL) {
		errno = 0;
		n = strtol(a->limit, &end, 10);
		if (errno != 0 || end == a->limit || *end != '\0' || n < 1 || n > AUDIT_MAX_LIMIT) {
			fprintf(stderr, "syncctl: --limit \"%s\": give how many events, 1 to %d\n", a->limit,
				AUDIT_MAX_LIMIT);
			return 2;
		}
		a->q[Q_LIMIT].value = a->limit;
	}
	a->q[Q_FORMAT].value = a->csv ? "csv" : NULL;
	return 0;
}

/* One page of the search: a CSV page goes straight to stdout, JSON events
 * are added to events.  *read: the page came and *res holds it, with *next
 * (borrowed from res, NULL on the last page) where the next page starts;
 * otherwise the error is said and nothing is left to free.  Returns 0, or 1
 * when the page is refused or bad. */
static int audit_query_page(struct session *s, const struct cli *cli, const struct audit_search *a,
			    size_t page, json_t *events, struct api_response *res, const char **next,
			    bool *read)
{
	char *path = api_query("/v1/audit", a->q, Q_N);
	int r = 0;

	*read = false;
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = session_call(s, cli->json, "GET", path, NULL, a->csv ? "text/csv" : NULL, res);
	free(path);
	if (r != 0)
		return r;
	if (a->csv) {
		if (audit_csv_page(res, page) < 0)
			r = 1;
		*next = res->next_cursor;
	} else {
		json_t *got = json_object_get(res->json, "events");

		if (!json_is_array(got) || json_array_extend(events, got) < 0) {
			r = no_list(res, "\"events\" list");
			api_response_free(res);
			return r;
		}
		*next = json_string_value(json_object_get(res->json, "next_cursor"));
	}
	if (*next != NULL && (*next)[0] == '\0')
		*next = NULL;
	*read = true;
	return r;
}

/* Every page asked for (the first only, without --all): CSV to stdout,
 * JSON events into events.  *more: the server has more than was asked.
 * Returns 0 or the exit code. */
static int audit_query_fetch(const struct cli *cli, struct audit_search *a, json_t *events, bool *more)
{
	struct api_response res;
	struct session s;
	char *cursor = NULL;
	int r;

	r = session_open(cli, true, &s);
	if (r != 0)
		return r;
	for (size_t page = 0;; page++) {
		const char *next;
		char *copy = NULL;
		bool read;

		if (page == AUDIT_MAX_PAGES) {
			fprintf(stderr,
				"syncctl: audit query: still more after %d pages; narrow the search\n",
				AUDIT_MAX_PAGES);
			r = 1;
			break;
		}
		r = audit_query_page(&s, cli, a, page, events, &res, &next, &read);
		if (!read)
			break;
		/* the same cursor again would fetch the same page for ever */
		if (a->all && next != NULL && cursor != NULL && strcmp(next, cursor) == 0) {
			fprintf(stderr, "syncctl: the server (request %s) gives the same cursor twice\n",
				res.request_id[0] ? res.request_id : "-");
			r = 1;
		} else if (a->all && next != NULL && (copy = strdup(next)) == NULL) {
			fprintf(stderr, "syncctl: out of memory\n");
			r = 1;
		}
		*more = !a->all && next != NULL;
		api_response_free(&res);
		free(cursor);
		a->q[Q_CURSOR].value = cursor = copy;
		if (r != 0 || cursor == NULL)
			break;
	}
	session_close(&s);
	free(cursor);
	return r;
}

/* What the search found, once every page came: CSV flushed, JSON as
 * {"events": [...]}, else the audit table.  Returns 0 or 1. */
static int audit_query_show(const struct cli *cli, const struct audit_search *a, json_t *events, bool more)
{
	int r = 0;

	if (a->csv && fflush(stdout) != 0) {
		fprintf(stderr, "syncctl: standard output: %s\n", strerror(errno));
		r = 1;
	} else if (cli->json) {
		json_t *doc = json_pack("{s:O}", "events", events);

		if (doc == NULL) {
			fprintf(stderr, "syncctl: out of memory\n");
			r = 1;
		} else {
			print_json(doc);
			json_decref(doc);
		}
	} else if (!a->csv && api_audit_print(stdout, events) < 0) {
		fprintf(stderr, "syncctl: the answer has events that are not objects\n");
		r = 1;
	}
	if (r == 0 && more)
		fprintf(stderr, "syncctl: there are more events: --all shows them all\n");
	return r;
}

static int cmd_audit_query(const struct cli *cli, int argc, char **argv)
{
	struct audit_search a = {
		.q = {{"actor", NULL},
		      {"unit", NULL},
		      {"action", NULL},
		      {"object", NULL},
		      {"decision", NULL},
		      {"from", NULL},
		      {"to", NULL},
		      {"limit", NULL},
		      {"format", NULL},
		      {"cursor", NULL}},
	};
	bool more = false;
	json_t *events;
	int r;

	r = audit_query_options(argc, argv, &a);
	if (r >= 0)
		return r;
	r = audit_query_check(cli, &a);
	if (r != 0)
		return r;
	events = json_array();
	if (events == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = audit_query_fetch(cli, &a, events, &more);
	if (r == 0)
		r = audit_query_show(cli, &a, events, more);
	json_decref(events);
	return r;
}

/* syncctl -c FILE audit verify: the chain and checkpoints straight from the
 * state DB and the checkpoint file, with syncd stopped or running. */
static int audit_verify_local(const struct cli *cli)
{
	struct audit_verdict v;
	struct signer *signer = NULL;
	char *errors = NULL, err[1024];
	struct config *cfg = config_load(cli->config, &errors);
	json_t *j;
	int intact;

	if (cfg == NULL) {
		fputs(errors ? errors : "syncctl: cannot load the configuration\n", stderr);
		free(errors);
		return 2;
	}
	if (cfg->signing_key_file != NULL &&
	    (signer = signer_load(cfg->signing_key_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "syncctl: %s\n", err);
		config_free(cfg);
		return 1;
	}
	if (audit_verify(cfg->state_conninfo, cfg->state_password, cfg->audit_checkpoint_file, signer, &v,
			 err, sizeof(err)) < 0) {
		fprintf(stderr, "syncctl: %s\n", err);
		signer_free(signer);
		config_free(cfg);
		return 1;
	}
	signer_free(signer);
	config_free(cfg);
	j = json_pack("{s:b,s:I,s:I,s:o}", "ok", v.ok, "rows", (json_int_t)v.rows, "checkpoints",
		      (json_int_t)v.checkpoints, "first_broken",
		      v.ok ? json_null()
			   : json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)v.seq, "expected", v.expected,
				       "found", v.found, "problem", v.problem));
	if (cli->json) {
		char *t = json_dumps(j, JSON_INDENT(2));

		puts(t ? t : "{}");
		free(t);
		intact = v.ok;
	} else {
		intact = api_audit_verify_print(stdout, j);
	}
	json_decref(j);
	return intact == 1 ? 0 : 1;
}

static int cmd_audit_verify(const struct cli *cli, int argc, char **argv)
{
	struct api_response res;
	int r, intact;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "syncctl: audit verify takes nothing more\n");
		usage(stderr);
		return 2;
	}
	if (cli->config_given)
		return audit_verify_local(cli);
	r = cli_request(cli, "GET", "/v1/audit/verify", NULL, &res);
	if (r != 0)
		return r;
	intact = cli->json ? api_audit_intact(res.json) : api_audit_verify_print(stdout, res.json);
	if (intact < 0)
		no_list(&res, "\"ok\"");
	api_response_free(&res);
	return intact == 1 ? 0 : 1;
}

/* ---- issued documents ---- */

/* The one SERIAL argument after the options; NULL after a usage message. */
static const char *serial_arg(const char *cmd, int argc, char **argv)
{
	if (optind != argc - 1) {
		fprintf(stderr, "syncctl: %s needs one SERIAL, like " API_SERIAL_FORM "\n", cmd);
		usage(stderr);
		return NULL;
	}
	if (!api_serial_valid(argv[optind])) {
		fprintf(stderr,
			"syncctl: %s: \"%s\" is not a document serial; they look like " API_SERIAL_FORM "\n",
			cmd, argv[optind]);
		return NULL;
	}
	return argv[optind];
}

/* The HTML body to file, readable by its owner only: a document holds
 * personal data.  Returns 0 or 1 after a message. */
static int save_file(const char *file, const char *data, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;
	ssize_t w;

	if (fd < 0) {
		fprintf(stderr, "syncctl: %s: %s\n", file, strerror(errno));
		return 1;
	}
	while (done < len) {
		w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			break;
		}
		done += (size_t)w;
	}
	if (done < len || close(fd) < 0) {
		fprintf(stderr, "syncctl: %s: %s\n", file, strerror(errno));
		if (done < len)
			close(fd);
		unlink(file);
		return 1;
	}
	return 0;
}

static int cmd_document_get(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"html", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *serial, *html = NULL;
	struct api_response res;
	struct session s;
	char *path;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': html = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((serial = serial_arg("document get", argc, argv)) == NULL)
		return 2;
	path = api_path_join("/v1/documents", serial);
	if (path == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	if (html == NULL) {
		r = cli_request(cli, "GET", path, NULL, &res);
		free(path);
		if (r != 0)
			return r;
		if (!cli->json && api_document_print(stdout, res.json) < 0)
			r = no_list(&res, "document");
		api_response_free(&res);
		return r;
	}
	r = session_open(cli, true, &s);
	if (r == 0) {
		r = session_call(&s, cli->json, "GET", path, NULL, "text/html", &res);
		session_close(&s);
	}
	free(path);
	if (r != 0)
		return r;
	if (res.raw_len == 0) {
		r = no_list(&res, "document (an empty body)");
	} else {
		r = save_file(html, res.raw, res.raw_len);
		if (r == 0)
			printf("saved %s\n", html);
	}
	api_response_free(&res);
	return r;
}

static int cmd_document_verify(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct api_response res;
	const char *serial;
	struct session s;
	char *path;
	int c, r, valid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* the serial and the hash prefix printed beside it: a serial alone tells nothing */
	if (optind != argc - 2 || strlen(argv[argc - 1]) < 16 || strlen(argv[argc - 1]) > 64 ||
	    strspn(argv[argc - 1], "0123456789abcdef") != strlen(argv[argc - 1])) {
		fprintf(stderr, "syncctl: document verify needs the SERIAL and the HASH printed on the "
				"document (its first 16 or more hex digits), like " API_SERIAL_FORM
				" 3f2a9c0d4e5b6a71\n");
		usage(stderr);
		return 2;
	}
	optind = argc - 2;
	if ((serial = serial_arg("document verify", argc - 1, argv)) == NULL)
		return 2;
	if (asprintf(&path, "/v1/documents/%s/verify?h=%s", serial, argv[argc - 1]) < 0) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	/* public: whoever holds a paper copy checks it without an account */
	r = session_open(cli, false, &s);
	if (r == 0) {
		r = session_call(&s, cli->json, "GET", path, NULL, NULL, &res);
		session_close(&s);
	}
	free(path);
	if (r != 0)
		return r;
	if (cli->json) {
		print_json(res.json);
		valid = api_document_valid(res.json);
	} else {
		valid = api_document_verify_print(stdout, res.json);
	}
	if (valid < 0)
		no_list(&res, "status");
	api_response_free(&res);
	return valid == 1 ? 0 : 1;
}

/* ---- dead letters ---- */

/* The one dead letter ID after the options; NULL after a usage message. */
static const char *deadletter_id_arg(const char *cmd, int argc, char **argv)
{
	long long id;

	if (optind != argc - 1) {
		fprintf(stderr,
			"syncctl: deadletter %s needs one dead letter ID (see syncctl deadletter list)\n",
			cmd);
		usage(stderr);
		return NULL;
	}
	if (deadletter_id_parse(argv[optind], &id) < 0) {
		fprintf(stderr,
			"syncctl: deadletter %s: \"%s\" is not a dead letter ID; IDs are the numbers in the ID "
			"column of syncctl deadletter list\n",
			cmd, argv[optind]);
		return NULL;
	}
	return argv[optind];
}

static int cmd_deadletter_list(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"unit", required_argument, NULL, 'n'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct api_param q[3] = {{"target", NULL}, {"unit", NULL}, {"all", NULL}};
	struct api_response res;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': q[0].value = optarg; break;
		case 'n': q[1].value = optarg; break;
		case 'a': q[2].value = "1"; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "syncctl: deadletter list takes only --target NAME, --unit CODE and --all\n");
		usage(stderr);
		return 2;
	}
	r = cli_get_query(cli, "/v1/deadletter", q, 3, &res);
	if (r != 0)
		return r;
	if (!cli->json && api_deadletters_print(stdout, json_object_get(res.json, "deadletters")) < 0)
		r = no_list(&res, "\"deadletters\" list");
	if (r == 0 && json_is_true(json_object_get(res.json, "more")))
		fprintf(stderr, "syncctl: only the newest %d are shown: narrow with --target or --unit\n",
			DEADLETTER_LIST_MAX);
	api_response_free(&res);
	return r;
}

static int cmd_deadletter_show(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct api_response res;
	const char *id;
	char *path;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((id = deadletter_id_arg("show", argc, argv)) == NULL)
		return 2;
	if ((path = api_path_join("/v1/deadletter", id)) == NULL) {
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "GET", path, NULL, &res);
	free(path);
	if (r != 0)
		return r;
	if (!cli->json && api_deadletter_print(stdout, res.json) < 0)
		r = no_list(&res, "dead letter");
	api_response_free(&res);
	return r;
}

/* retry ID [--reason TEXT] and discard ID --reason TEXT: one POST with
 * {"reason": TEXT} (or {}), the answer printed. */
static int deadletter_resolve(const struct cli *cli, int argc, char **argv, bool retry)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = retry ? "retry" : "discard", *id, *reason = NULL;
	struct api_response res;
	char *path;
	json_t *body;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': reason = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((id = deadletter_id_arg(cmd, argc, argv)) == NULL)
		return 2;
	if (!retry && deadletter_reason_blank(reason)) {
		fprintf(stderr,
			"syncctl: deadletter discard needs --reason TEXT: say why the batch is never sent "
			"(it is kept with the dead letter and in the audit log)\n");
		return 2;
	}
	body = reason ? json_pack("{s:s}", "reason", reason) : json_object();
	if (body == NULL) {
		fprintf(stderr, "syncctl: --reason is not valid UTF-8 text\n");
		return 2;
	}
	if (asprintf(&path, "/v1/deadletter/%s/%s", id, cmd) < 0) {
		json_decref(body);
		fprintf(stderr, "syncctl: out of memory\n");
		return 1;
	}
	r = cli_request(cli, "POST", path, body, &res);
	free(path);
	json_decref(body);
	if (r != 0)
		return r;
	if (!cli->json && api_deadletter_resolution_print(stdout, res.json) < 0)
		r = no_list(&res, "resolution");
	api_response_free(&res);
	return r;
}

static int cmd_deadletter_retry(const struct cli *cli, int argc, char **argv)
{
	return deadletter_resolve(cli, argc, argv, true);
}

static int cmd_deadletter_discard(const struct cli *cli, int argc, char **argv)
{
	return deadletter_resolve(cli, argc, argv, false);
}

/* ---- the commands ---- */

struct api_cmd {
	const char *name;
	int (*run)(const struct cli *cli, int argc, char **argv);
};

static const struct api_cmd audit_cmds[] = {
	{"query", cmd_audit_query},
	{"verify", cmd_audit_verify},
};

static const struct api_cmd document_cmds[] = {
	{"get", cmd_document_get},
	{"verify", cmd_document_verify},
};

static const struct api_cmd deadletter_cmds[] = {
	{"list", cmd_deadletter_list},
	{"show", cmd_deadletter_show},
	{"retry", cmd_deadletter_retry},
	{"discard", cmd_deadletter_discard},
};

/* "a, b or c": the n subcommands' names, for a usage message */
static void sub_names(const struct api_cmd *subs, size_t n, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t k = 0; k < n; k++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s",
			 k == 0	      ? ""
			 : k + 1 == n ? " or "
				      : ", ",
			 subs[k].name);
}

/* argv[0] is the command, argv[1] one of its n subcommands */
static int run_sub(const struct api_cmd *subs, size_t n, const struct cli *cli, int argc, char **argv)
{
	char names[128];

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	for (size_t k = 0; k < n && argc >= 2; k++)
		if (strcmp(argv[1], subs[k].name) == 0)
			return subs[k].run(cli, argc - 1, argv + 1);
	sub_names(subs, n, names, sizeof(names));
	fprintf(stderr, "syncctl: %s needs %s%s%s%s\n", argv[0], names, argc >= 2 ? ", not \"" : "",
		argc >= 2 ? argv[1] : "", argc >= 2 ? "\"" : "");
	usage(stderr);
	return 2;
}

static int cmd_audit(const struct cli *cli, int argc, char **argv)
{
	return run_sub(audit_cmds, sizeof(audit_cmds) / sizeof(audit_cmds[0]), cli, argc, argv);
}

static int cmd_document(const struct cli *cli, int argc, char **argv)
{
	return run_sub(document_cmds, sizeof(document_cmds) / sizeof(document_cmds[0]), cli, argc, argv);
}

static int cmd_deadletter(const struct cli *cli, int argc, char **argv)
{
	return run_sub(deadletter_cmds, sizeof(deadletter_cmds) / sizeof(deadletter_cmds[0]), cli, argc,
		       argv);
}

/* The instance's role in its active/standby pair, e.g. "role: standby;
 * active instance: db2 10.0.0.2:8443, pid 812, term 7". */
static void status_role(const json_t *st)
{
	const char *role = json_string_value(json_object_get(st, "role"));
	const char *who = json_string_value(json_object_get(st, "active_instance"));
	char text[300];

	if (role == NULL)
		return;
	snprintf(text, sizeof(text), "role: %s, term %lld%s%s", role,
		 (long long)json_integer_value(json_object_get(st, "term")),
		 who != NULL && who[0] != '\0' ? "; active instance: " : "", who != NULL ? who : "");
	api_text_sanitize(text);
	printf("%s\n", text);
}

/* syncctl status: the sources (state, lag, confirmed position, changes
 * applied, quarantine, units down or detached); --units adds each unit's
 * applied position per source.  No login: GET /v1/status. */
static int cmd_status(const struct cli *cli, int argc, char **argv)
{
	struct api_response res;
	struct session s;
	bool units = false;
	json_t *v, *srcs;
	size_t i;
	int r;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--units") == 0) {
			units = true;
		} else {
			fprintf(stderr, "syncctl: status takes only --units\n");
			return 2;
		}
	}
	r = session_open(cli, false, &s);
	if (r != 0)
		return r;
	r = session_call(&s, cli->json, "GET", "/v1/status", NULL, NULL, &res);
	session_close(&s);
	if (r != 0)
		return r;
	if (cli->json) {
		print_json(res.json);
		api_response_free(&res);
		return 0;
	}
	srcs = json_object_get(res.json, "sources");
	printf("%-10s %-13s %12s %-14s %10s %11s %10s %9s\n", "SOURCE", "STATE", "LAG BYTES", "CONFIRMED",
	       "APPLIED", "QUARANTINED", "UNITS DOWN", "DETACHED");
	json_array_foreach (srcs, i, v) {
		printf("%-10s %-13s %12lld %-14s %10lld %11lld %10lld %9lld\n",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "state")),
		       (long long)json_integer_value(json_object_get(v, "lag_bytes")),
		       json_string_value(json_object_get(v, "confirmed_lsn")),
		       (long long)json_integer_value(json_object_get(v, "applied_since_start")),
		       (long long)json_integer_value(json_object_get(v, "quarantined")),
		       (long long)json_integer_value(json_object_get(v, "units_down")),
		       (long long)json_integer_value(json_object_get(v, "units_detached")));
	}
	printf("directory: %s\n", json_string_value(json_object_get(res.json, "directory")));
	status_role(res.json);
	if (units) {
		json_t *u;

		printf("\n%-6s %-34s", "UNIT", "NAME");
		for (i = 0; i < json_array_size(srcs); i++)
			printf(" %-14s", json_string_value(json_object_get(json_array_get(srcs, i), "name")));
		putchar('\n');
		json_array_foreach (json_object_get(res.json, "units"), i, u) {
			size_t k;

			printf("%-6s %-34s", json_string_value(json_object_get(u, "code")),
			       json_string_value(json_object_get(u, "name")));
			json_array_foreach (srcs, k, v) {
				const char *l = json_string_value(
					json_object_get(json_object_get(u, "applied_lsn"),
							json_string_value(json_object_get(v, "name"))));

				printf(" %-14s", l ? l : "-");
			}
			putchar('\n');
		}
	}
	api_response_free(&res);
	return 0;
}

static const struct api_cmd api_cmds[] = {
	{"grant", cmd_grant},	{"revoke", cmd_revoke},		{"grants", cmd_grants},
	{"check", cmd_check},	{"audit", cmd_audit},		{"document", cmd_document},
	{"status", cmd_status}, {"deadletter", cmd_deadletter},
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
			cli.config_given |= value == &cli.config;
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
