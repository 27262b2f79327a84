/* test_config.c — syncd.conf parsing: the good file, every error path with
 * its file:line, --print-config redaction, {unit} expansion, [target NAME]
 * sections (written to a temporary directory, case by case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syncd/config.h"

#define DIR "tests/data/config/"

/* the [target NAME] cases' files: BASE, then the case's text from line 7 */
static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char conf_path[sizeof(tmpdir) + 16];

#define BASE                                                                                                 \
	"[state]\nconninfo = dbname=s\n[source land]\nconninfo = dbname=land\n[tier]\nconninfo = dbname=tier\n"
/* a valid target at lines 7 to 9: a case's own lines start at 10 */
#define ONESTOP "[target onestop]\nkind = http\nurl = https://onestop.cantho.gov.vn/api/units/{unit}\n"

/* git does not keep file modes: set the ones the secret checks look at */
static int setup(void **state)
{
	(void)state;
	if (chmod(DIR "pw.secret", 0600) != 0 || chmod(DIR "pw.open", 0644) != 0)
		return -1;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/target.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static void file_write(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Loads BASE followed by text; *errors as config_load leaves it. */
static struct config *target_load(const char *text, char **errors)
{
	char *all = malloc(strlen(BASE) + strlen(text) + 1);
	struct config *cfg;

	assert_non_null(all);
	strcpy(all, BASE);
	strcat(all, text);
	file_write(conf_path, all, 0644);
	free(all);
	cfg = config_load(conf_path, errors);
	unlink(conf_path);
	return cfg;
}

/* Loads BASE followed by text, which must be valid. */
static struct config *target_load_ok(const char *text)
{
	char *errors = NULL;
	struct config *cfg = target_load(text, &errors);

	if (cfg == NULL)
		fail_msg("expected no error for:\n%s\ngot:\n%s", text, errors ? errors : "(none)");
	assert_null(errors);
	return cfg;
}

static void test_good(void **state)
{
	char *errors = NULL;
	struct config *cfg = config_load(DIR "good.conf", &errors);

	(void)state;
	assert_null(errors);
	assert_non_null(cfg);
	assert_string_equal(cfg->listen, "127.0.0.1:8443");
	assert_string_equal(cfg->public_url, "https://syncd.cantho.gov.vn/xa"); /* its trailing / goes */
	assert_string_equal(cfg->log_level, "debug");
	assert_int_equal(cfg->copy_buffer_kb, 256); /* default */
	assert_int_equal(cfg->nsources, 2);
	assert_string_equal(cfg->sources[0].name, "land");
	assert_null(cfg->sources[0].password);
	assert_string_equal(cfg->sources[1].name, "civil");
	assert_string_equal(cfg->sources[1].password, "secret");
	assert_string_equal(cfg->state_password, "secret");
	assert_string_equal(cfg->tier_schema, "u{unit}");
	assert_int_equal(cfg->ldap_cache_ttl, 30);
	assert_non_null(config_source_find(cfg, "civil"));
	assert_null(config_source_find(cfg, "water"));
	config_free(cfg);
}

static void test_print_redacts(void **state)
{
	char *errors = NULL, *text = NULL;
	size_t len = 0;
	struct config *cfg = config_load(DIR "good.conf", &errors);
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(cfg);
	config_print(cfg, f);
	fclose(f);
	assert_null(strstr(text, "secret\n"));
	assert_non_null(
		strstr(text, "password_file = tests/data/config/pw.secret ; secret: contents not shown"));
	assert_non_null(strstr(text, "[source civil]"));
	assert_non_null(strstr(text, "copy_buffer_kb = 256"));
	assert_non_null(strstr(text, "cache_ttl = 30 ; reloadable"));
	free(text);
	config_free(cfg);
}

static const struct {
	const char *file;
	const char *expect; /* "file:line: ..." substring */
} bad[] = {
	{"unknown_key.conf", "unknown_key.conf:5: [source land] unknown key \"colour\""},
	{"unknown_section.conf",
	 "unknown_section.conf:7: unknown section [tiers] (known: [syncd], [state], [source NAME], [tier], [target NAME], [ldap])"},
	{"password_inline.conf", "password_inline.conf:2: [state] conninfo contains a password"},
	{"password_key.conf", "password_key.conf:3: [state] password: passwords never go in syncd.conf"},
	{"secret_open.conf",
	 "secret_open.conf:5: [source land] password_file: tests/data/config/pw.open: secret file is readable by group or others (mode 0644); fix with: chmod 600"},
	{"secret_missing.conf",
	 "secret_missing.conf:7: [tier] password_file: tests/data/config/no-such-file: cannot open secret file"},
	{"bad_int.conf",
	 "bad_int.conf:2: [syncd] copy_buffer_kb = lots: expected an integer from 8 to 65536"},
	{"bad_api_limit.conf",
	 "bad_api_limit.conf:2: [syncd] api_max_connections_per_ip = -1: expected an integer from 0 to 100000"},
	{"bad_api_timeout.conf",
	 "bad_api_timeout.conf:2: [syncd] api_idle_timeout = 10s: expected an integer from 1 to 3600"},
	{"bad_api_conns.conf",
	 "bad_api_conns.conf:2: [syncd] api_max_connections = 99999999999999999999: expected an integer from 16 to 100000"},
	{"bad_level.conf",
	 "bad_level.conf:2: [syncd] log_level = loud: expected err, warning, info or debug"},
	{"bad_listen.conf", "bad_listen.conf:2: [syncd] listen = localhost: expected ADDRESS:PORT"},
	{"bad_public_url.conf",
	 "bad_public_url.conf:2: [syncd] public_url = https://: expected the base URL people reach syncd at"},
	{"duplicate_key.conf", "duplicate_key.conf:5: [source land] conninfo is set twice (first at line 4)"},
	{"bad_source_name.conf",
	 "bad_source_name.conf:3: [source Land-DB]: a source needs a name of lower-case letters"},
	{"syntax.conf", "syntax.conf:3: syntax error"},
	{"missing_required.conf", "[state] conninfo is required"},
	{"missing_required.conf", "[tier] conninfo is required"},
	{"missing_required.conf", "at least one [source NAME] section is required"},
	{"no_unit.conf", "neither conninfo nor schema contains {unit}"},
	{"bad_conninfo.conf", "bad_conninfo.conf:2: [state] conninfo: "},
	{"named_single.conf", "named_single.conf:1: section [state main] takes no name"},
	{"does-not-exist.conf", "does-not-exist.conf: cannot open: No such file or directory"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *errors = NULL;
		struct config *cfg;
		char path[256];

		snprintf(path, sizeof(path), DIR "%s", bad[i].file);
		cfg = config_load(path, &errors);
		assert_null(cfg);
		assert_non_null(errors);
		if (strstr(errors, bad[i].expect) == NULL)
			fail_msg("%s: expected \"%s\" in:\n%s", bad[i].file, bad[i].expect, errors);
		/* every message is "file:line: ..." or "file: ..." */
		assert_int_equal(strncmp(errors, path, strlen(path)), 0);
		free(errors);
	}
}

static void test_expand_unit(void **state)
{
	char *s = config_expand_unit("host=h dbname=unit_{unit} options={unit}", 31120);

	(void)state;
	assert_string_equal(s, "host=h dbname=unit_31120 options=31120");
	free(s);
	s = config_expand_unit("u{unit}", 1234);
	assert_string_equal(s, "u01234");
	free(s);
	s = config_expand_unit("plain", 31120);
	assert_string_equal(s, "plain");
	free(s);
}

static void test_reloadable(void **state)
{
	(void)state;
	assert_true(config_key_reloadable("syncd", "log_level"));
	assert_true(config_key_reloadable("ldap", "cache_ttl"));
	assert_false(config_key_reloadable("source", "conninfo"));
	assert_false(config_key_reloadable("tier", "nope"));
	/* a target's sender starts with its settings: none reloads */
	assert_false(config_key_reloadable("target", "url"));
	assert_false(config_key_reloadable("target", "batch_rows"));
	assert_false(config_key_reloadable("target", "units"));
}

static void test_target_full(void **state)
{
	struct config *cfg =
		target_load_ok("[target onestop]\n"
			       "kind = http\n"
			       "units = 31120, 31135\n"
			       "mode = instead\n"
			       "url = https://onestop.cantho.gov.vn:8443/api/units/{unit}/changes/\n"
			       "format = cloudevents\n"
			       "tables = public.thua_dat, public.ho_so\n"
			       "ca_file = /etc/syncd/onestop-ca.pem\n"
			       "client_cert_file = /etc/syncd/onestop.crt\n"
			       "client_key_file = /etc/syncd/onestop.key\n"
			       "auth = oauth2\n"
			       "token_url = https://login.cantho.gov.vn/oauth2/token\n"
			       "client_id = syncd\n"
			       "client_secret_file = /etc/syncd/onestop.secret\n"
			       "scope = changes.write\n"
			       "batch_rows = 100\n"
			       "batch_bytes = 65536\n"
			       "timeout = 10\n"
			       "retry_deadline = 3600\n"
			       "max_in_flight_units = 4\n"
			       "rate_limit = 20\n"
			       "gzip = yes\n");
	const struct config_target *t;

	(void)state;
	assert_int_equal(cfg->ntargets, 1);
	t = config_target_find(cfg, "onestop");
	assert_ptr_equal(t, &cfg->targets[0]);
	assert_string_equal(t->name, "onestop");
	assert_int_equal(t->line, 7);
	assert_string_equal(t->kind, "http");
	assert_string_equal(t->units, "31120, 31135");
	assert_false(t->all_units);
	assert_int_equal(t->nunit_codes, 2);
	assert_int_equal(t->unit_codes[0], 31120);
	assert_int_equal(t->unit_codes[1], 31135);
	assert_int_equal(t->instead, 1);
	/* kept as written, trailing slash included: the receiver's path */
	assert_string_equal(t->url, "https://onestop.cantho.gov.vn:8443/api/units/{unit}/changes/");
	assert_string_equal(t->format, "cloudevents");
	assert_string_equal(t->tables, "public.thua_dat, public.ho_so");
	assert_string_equal(t->ca_file, "/etc/syncd/onestop-ca.pem");
	assert_string_equal(t->client_cert_file, "/etc/syncd/onestop.crt");
	assert_string_equal(t->client_key_file, "/etc/syncd/onestop.key");
	assert_string_equal(t->auth, "oauth2");
	assert_null(t->token_file);
	assert_string_equal(t->token_url, "https://login.cantho.gov.vn/oauth2/token");
	assert_string_equal(t->client_id, "syncd");
	assert_string_equal(t->client_secret_file, "/etc/syncd/onestop.secret");
	assert_string_equal(t->scope, "changes.write");
	assert_null(t->hmac_secret_file);
	assert_int_equal(t->batch_rows, 100);
	assert_int_equal(t->batch_bytes, 65536);
	assert_int_equal(t->timeout, 10);
	assert_int_equal(t->retry_deadline, 3600);
	assert_int_equal(t->max_in_flight_units, 4);
	assert_int_equal(t->rate_limit, 20);
	assert_int_equal(t->gzip, 1);
	assert_null(config_target_find(cfg, "land")); /* a source, not a target */
	config_free(cfg);
}

static void test_target_defaults(void **state)
{
	/* a target may share its name with a source */
	struct config *cfg =
		target_load_ok("[target land]\nkind = http\nurl = https://land.cantho.gov.vn/in\n");
	const struct config_target *t = config_target_find(cfg, "land");

	(void)state;
	assert_non_null(t);
	assert_non_null(config_source_find(cfg, "land"));
	assert_string_equal(t->units, "*");
	assert_true(t->all_units);
	assert_null(t->unit_codes);
	assert_int_equal(t->nunit_codes, 0);
	assert_int_equal(t->instead, 0);
	assert_string_equal(t->format, "json");
	assert_null(t->tables);
	assert_null(t->ca_file);
	assert_null(t->client_cert_file);
	assert_null(t->client_key_file);
	assert_string_equal(t->auth, "none");
	assert_null(t->token_file);
	assert_null(t->token_url);
	assert_null(t->client_id);
	assert_null(t->client_secret_file);
	assert_null(t->scope);
	assert_null(t->hmac_secret_file);
	assert_int_equal(t->batch_rows, 500);
	assert_int_equal(t->batch_bytes, 1048576);
	assert_int_equal(t->timeout, 30);
	assert_int_equal(t->retry_deadline, 86400);
	assert_int_equal(t->max_in_flight_units, 8);
	assert_int_equal(t->rate_limit, 0);
	assert_int_equal(t->gzip, 0);
	config_free(cfg);
	/* no [target] at all */
	cfg = target_load_ok("");
	assert_int_equal(cfg->ntargets, 0);
	assert_null(cfg->targets);
	assert_null(config_target_find(cfg, "land"));
	config_free(cfg);
}

static void test_target_units(void **state)
{
	static const int want[] = {31120, 31135, 31178, 31183, 1};
	struct config *cfg = target_load_ok(ONESTOP "units = 31120, 31135 31178,31183\t,00001\n");
	const struct config_target *t = &cfg->targets[0];

	(void)state;
	assert_false(t->all_units);
	assert_int_equal(t->nunit_codes, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(t->unit_codes[i], want[i]);
	config_free(cfg);
	cfg = target_load_ok(ONESTOP "units = *\n");
	assert_true(cfg->targets[0].all_units);
	assert_int_equal(cfg->targets[0].nunit_codes, 0);
	config_free(cfg);
	cfg = target_load_ok(ONESTOP "units = 92001\n");
	assert_int_equal(cfg->targets[0].nunit_codes, 1);
	assert_int_equal(cfg->targets[0].unit_codes[0], 92001);
	config_free(cfg);
}

/* http:// only to a loopback host; the secret files are not read here */
static void test_target_urls(void **state)
{
	static const char *const good[] = {
		"http://127.0.0.1:8080/hook/{unit}",
		"http://[::1]:9/hook",
		"http://localhost/hook",
		"http://LOCALHOST:65535",
		"https://u{unit}.onestop.cantho.gov.vn/in?src=syncd#x",
		"https://[2001:db8::1]:443/in",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[512];
		struct config *cfg;

		snprintf(text, sizeof(text),
			 "[target t]\nkind = http\nurl = %s\nauth = bearer\ntoken_file = %s/no-such-file\n",
			 good[i], tmpdir);
		cfg = target_load_ok(text);
		assert_string_equal(cfg->targets[0].url, good[i]);
		config_free(cfg);
	}
}

static const struct {
	const char *text;   /* after BASE: its first line is line 7 */
	const char *expect; /* ":line: message" */
} target_bad[] = {
	/* kind */
	{"[target onestop]\nurl = https://x.vn/\n",
	 ":7: [target onestop] kind is required: write kind = http"},
	{"[target onestop]\nkind = ftp\nurl = https://x.vn/\n",
	 ":8: [target onestop] kind = ftp: expected http; write kind = http"},
	/* url */
	{"[target onestop]\nkind = http\n",
	 ":7: [target onestop] url is required: where the changes are POSTed"},
	{"[target onestop]\nkind = http\nurl = http://onestop.cantho.gov.vn/x\n",
	 ":9: [target onestop] url = http://onestop.cantho.gov.vn/x: http:// is allowed only to 127.0.0.1, [::1] or localhost (tests); use https://"},
	{"[target onestop]\nkind = http\nurl = http://localhost.evil.vn/x\n",
	 ":9: [target onestop] url = http://localhost.evil.vn/x: http:// is allowed only to"},
	{"[target onestop]\nkind = http\nurl = http://127.0.0.1.evil.vn/x\n",
	 ":9: [target onestop] url = http://127.0.0.1.evil.vn/x: http:// is allowed only to"},
	{"[target onestop]\nkind = http\nurl = http://localhost@evil.vn/x\n",
	 ":9: [target onestop] url = http://localhost@evil.vn/x: a user or password in the URL would be a secret in syncd.conf"},
	{"[target onestop]\nkind = http\nurl = ftp://x.vn/\n",
	 ":9: [target onestop] url = ftp://x.vn/: expected https://HOST[:PORT][/PATH]"},
	{"[target onestop]\nkind = http\nurl = https:///x\n",
	 ":9: [target onestop] url = https:///x: expected https://HOST[:PORT][/PATH]: the host is missing"},
	{"[target onestop]\nkind = http\nurl = https://x.vn:0/\n",
	 ":9: [target onestop] url = https://x.vn:0/: expected HOST or HOST:PORT after the scheme (a port from 1 to 65535)"},
	{"[target onestop]\nkind = http\nurl = https://x.vn/a b\n",
	 ":9: [target onestop] url = https://x.vn/a b: a URL holds no spaces"},
	/* units */
	{ONESTOP "units = 31120, 9200\n",
	 ":10: [target onestop] units: \"9200\" is not a 5-digit unit code; write units = * for every unit, or codes such as units = 31120, 31135"},
	{ONESTOP "units = 311200\n", ":10: [target onestop] units: \"311200\" is not a 5-digit unit code"},
	{ONESTOP "units = 3112a\n", ":10: [target onestop] units: \"3112a\" is not a 5-digit unit code"},
	{ONESTOP "units = *, 31120\n", ":10: [target onestop] units: \"*\" is not a 5-digit unit code"},
	{ONESTOP "units = 31120 31120\n", ":10: [target onestop] units: 31120 is listed twice; remove one"},
	{ONESTOP "units = ,\n", ":10: [target onestop] units lists no unit code; write units = *"},
	{ONESTOP "units =\n", ":10: [target onestop] units is empty; remove the line to use the default"},
	/* words */
	{ONESTOP "mode = sometimes\n", ":10: [target onestop] mode = sometimes: expected also or instead"},
	{ONESTOP "format = xml\n", ":10: [target onestop] format = xml: expected json or cloudevents"},
	{ONESTOP "auth = basic\n",
	 ":10: [target onestop] auth = basic: expected none, bearer, oauth2 or hmac"},
	/* auth: a key of another mode, a mode without its keys */
	{ONESTOP "auth = bearer\ntoken_file = /t\ntoken_url = https://login.vn/token\n",
	 ":12: [target onestop] token_url is set but auth = bearer; set auth = oauth2 or remove token_url"},
	{ONESTOP "token_file = /t\n",
	 ":10: [target onestop] token_file is set but auth = none; set auth = bearer or remove token_file"},
	{ONESTOP "hmac_secret_file = /h\nauth = oauth2\ntoken_url = https://login.vn/token\nclient_id = c\n"
		 "client_secret_file = /s\n",
	 ":10: [target onestop] hmac_secret_file is set but auth = oauth2; set auth = hmac or remove hmac_secret_file"},
	{ONESTOP "auth = hmac\nhmac_secret_file = /h\nscope = s\n",
	 ":12: [target onestop] scope is set but auth = hmac; set auth = oauth2 or remove scope"},
	{ONESTOP "auth = hmac\nhmac_secret_file = /h\nclient_id = c\n",
	 ":12: [target onestop] client_id is set but auth = hmac; set auth = oauth2 or remove client_id"},
	{ONESTOP "auth = bearer\n",
	 ":10: [target onestop] auth = bearer needs token_file: a file (mode 0600)"},
	{ONESTOP "auth = oauth2\ntoken_url = https://login.vn/token\nclient_secret_file = /s\n",
	 ":10: [target onestop] auth = oauth2 needs client_id"},
	{ONESTOP "auth = oauth2\nclient_id = c\nclient_secret_file = /s\n",
	 ":10: [target onestop] auth = oauth2 needs token_url"},
	{ONESTOP "auth = oauth2\ntoken_url = https://login.vn/token\nclient_id = c\n",
	 ":10: [target onestop] auth = oauth2 needs client_secret_file"},
	{ONESTOP "auth = hmac\n", ":10: [target onestop] auth = hmac needs hmac_secret_file"},
	{ONESTOP "auth = oauth2\ntoken_url = http://login.vn/token\nclient_id = c\nclient_secret_file = /s\n",
	 ":11: [target onestop] token_url = http://login.vn/token: http:// is allowed only to"},
	/* mutual TLS */
	{ONESTOP "client_cert_file = /c\n",
	 ":10: [target onestop] client_cert_file is set but client_key_file is not: mutual TLS needs both; set client_key_file or remove client_cert_file"},
	{ONESTOP "client_key_file = /k\n",
	 ":10: [target onestop] client_key_file is set but client_cert_file is not: mutual TLS needs both; set client_cert_file or remove client_key_file"},
	/* numbers */
	{ONESTOP "batch_rows = 0\n",
	 ":10: [target onestop] batch_rows = 0: expected an integer from 1 to 100000"},
	{ONESTOP "batch_bytes = 1023\n",
	 ":10: [target onestop] batch_bytes = 1023: expected an integer from 1024 to 67108864"},
	{ONESTOP "timeout = 601\n", ":10: [target onestop] timeout = 601: expected an integer from 1 to 600"},
	{ONESTOP "retry_deadline = 9\n",
	 ":10: [target onestop] retry_deadline = 9: expected an integer from 10 to 2592000"},
	{ONESTOP "max_in_flight_units = 129\n",
	 ":10: [target onestop] max_in_flight_units = 129: expected an integer from 1 to 128"},
	{ONESTOP "rate_limit = -1\n",
	 ":10: [target onestop] rate_limit = -1: expected an integer from 0 to 100000"},
	{ONESTOP "gzip = maybe\n", ":10: [target onestop] gzip = maybe: expected true or false"},
	{ONESTOP "tables =\n", ":10: [target onestop] tables is empty"},
	/* the section */
	{"[target One-Stop]\nkind = http\n",
	 ":7: [target One-Stop]: a target needs a name of lower-case letters, digits and _"},
	{"[target]\nkind = http\n", ":7: [target ]: a target needs a name"},
	{ONESTOP "[target civil]\nkind = http\nurl = https://x.vn/\n" ONESTOP,
	 ":13: [target onestop] is defined twice (first at line 7); merge them or rename one"},
	{ONESTOP "colour = red\n", ":10: [target onestop] unknown key \"colour\""},
	{ONESTOP "url = https://y.vn/\n", ":10: [target onestop] url is set twice (first at line 9)"},
};

static void test_target_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(target_bad) / sizeof(target_bad[0]); i++) {
		char *errors = NULL;
		struct config *cfg = target_load(target_bad[i].text, &errors);
		char expect[512];

		snprintf(expect, sizeof(expect), "%s%s", conf_path, target_bad[i].expect);
		assert_null(cfg);
		assert_non_null(errors);
		if (strstr(errors, expect) == NULL)
			fail_msg("case %zu:\n%s\nexpected \"%s\" in:\n%s", i, target_bad[i].text, expect,
				 errors);
		free(errors);
	}
}

static void test_unit_targets(void **state)
{
	struct config *cfg =
		target_load_ok(ONESTOP "units = 31120, 31135\n"
				       "[target archive]\nkind = http\nurl = https://archive.vn/in\n"
				       "mode = instead\n");
	size_t out[2];
	bool instead = true;

	(void)state;
	/* both: the onestop one is "also", the archive one "instead" */
	assert_int_equal(config_unit_targets(cfg, 31120, out, &instead), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	assert_true(instead);
	/* only the archive (units = *) */
	assert_int_equal(config_unit_targets(cfg, 31999, out, &instead), 1);
	assert_int_equal(out[0], 1);
	assert_true(instead);
	config_free(cfg);

	cfg = target_load_ok(ONESTOP "units = 31120\nmode = instead\n"
				     "[target archive]\nkind = http\nurl = https://archive.vn/in\n");
	assert_int_equal(config_unit_targets(cfg, 31120, out, &instead), 2);
	assert_true(instead);
	instead = true;
	assert_int_equal(config_unit_targets(cfg, 31135, out, &instead), 1);
	assert_int_equal(out[0], 1);
	assert_false(instead); /* only the archive, mode = also: the tier gets it too */
	config_free(cfg);

	cfg = target_load_ok(ONESTOP "units = 31120\n");
	instead = true;
	assert_int_equal(config_unit_targets(cfg, 31135, out, &instead), 0);
	assert_false(instead);
	config_free(cfg);
	cfg = target_load_ok("");
	instead = true;
	assert_int_equal(config_unit_targets(cfg, 31120, out, &instead), 0);
	assert_false(instead);
	config_free(cfg);
}

static void test_target_print(void **state)
{
	char secret[sizeof(tmpdir) + 16], text[512], *out = NULL;
	size_t len = 0;
	struct config *cfg;
	FILE *f;

	(void)state;
	snprintf(secret, sizeof(secret), "%s/token", tmpdir);
	file_write(secret, "s3cr3t-bearer-token\n", 0600);
	snprintf(text, sizeof(text), ONESTOP "units = 31120, 31135\nauth = bearer\ntoken_file = %s\n",
		 secret);
	cfg = target_load_ok(text);
	f = open_memstream(&out, &len);
	config_print(cfg, f);
	fclose(f);
	assert_non_null(strstr(out, "\n[target onestop]\nkind = http\nunits = 31120, 31135\nmode = also\n"
				    "url = https://onestop.cantho.gov.vn/api/units/{unit}\nformat = json\n"));
	assert_non_null(strstr(out, "; tables is not set\n"));
	assert_non_null(strstr(out, "auth = bearer\n"));
	assert_non_null(strstr(out, "; hmac_secret_file is not set\n"));
	assert_non_null(strstr(out, "batch_rows = 500\nbatch_bytes = 1048576\ntimeout = 30\n"
				    "retry_deadline = 86400\nmax_in_flight_units = 8\nrate_limit = 0\n"
				    "gzip = false\n"));
	assert_null(strstr(out, "s3cr3t")); /* the path is shown, never the token */
	assert_non_null(strstr(out, secret));
	/* after [tier], before [ldap] */
	assert_true(strstr(out, "[tier]") < strstr(out, "[target onestop]"));
	assert_true(strstr(out, "[target onestop]") < strstr(out, "[ldap]"));
	free(out);
	config_free(cfg);
	unlink(secret);
}

static void test_target_fixed_changes(void **state)
{
	struct config *a = target_load_ok(ONESTOP "units = 31120\n");
	struct config *same = target_load_ok(ONESTOP "units = 31120\n");
	struct config *changed = target_load_ok(ONESTOP "units = 31120\nbatch_rows = 100\nmode = instead\n");
	struct config *added = target_load_ok(ONESTOP "units = 31120\n[target archive]\nkind = http\n"
						      "url = https://archive.vn/in\n");
	struct config *none = target_load_ok("");
	struct config *renamed =
		target_load_ok("[target portal]\nkind = http\n"
			       "url = https://onestop.cantho.gov.vn/api/units/{unit}\nunits = 31120\n");
	char out[512];

	(void)state;
	assert_int_equal(config_fixed_changes(a, same, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(config_fixed_changes(a, changed, out, sizeof(out)), 2);
	assert_string_equal(out, "[target onestop] mode, [target onestop] batch_rows");
	assert_int_equal(config_fixed_changes(a, added, out, sizeof(out)), 1);
	assert_string_equal(out, "[target] sections added or removed");
	assert_int_equal(config_fixed_changes(a, none, out, sizeof(out)), 1);
	assert_string_equal(out, "[target] sections added or removed");
	assert_int_equal(config_fixed_changes(a, renamed, out, sizeof(out)), 1);
	assert_string_equal(out, "[target onestop] renamed");
	config_free(a);
	config_free(same);
	config_free(changed);
	config_free(added);
	config_free(none);
	config_free(renamed);
}

/* a kind = http source at lines 7 to 9: a case's own lines start at 10 */
#define CASES "[source cases]\nkind = http\nurl = https://onestop.cantho.gov.vn/api/cases\n"

static void test_source_http(void **state)
{
	struct config *cfg = target_load_ok(CASES);
	const struct config_source *s = config_source_find(cfg, "cases"), *land;

	(void)state;
	assert_non_null(s);
	assert_int_equal(s->http, 1);
	assert_null(s->conninfo);
	assert_string_equal(s->url, "https://onestop.cantho.gov.vn/api/cases");
	assert_int_equal(s->interval, 30);
	assert_string_equal(s->cursor_param, "updated_since");
	assert_null(s->next_field);
	assert_string_equal(s->cursor_field, "updated_at");
	assert_string_equal(s->records_field, "items");
	assert_int_equal(s->page_size, 0);
	assert_null(s->page_size_param);
	assert_int_equal(s->timeout, 30);
	assert_string_equal(s->auth, "none");
	land = config_source_find(cfg, "land");
	assert_int_equal(land->http, 0);
	assert_string_equal(land->conninfo, "dbname=land");
	config_free(cfg);
	cfg = target_load_ok(CASES "interval = 5\ncursor_param = since\nnext_field = next\n"
				   "cursor_field = modified\nrecords_field = data\npage_size = 200\n"
				   "page_size_param = limit\ntimeout = 10\nca_file = /etc/syncd/ca.pem\n"
				   "[source loop]\nkind = http\nurl = http://127.0.0.1:8080/cases?x=1\n");
	s = config_source_find(cfg, "cases");
	assert_int_equal(s->interval, 5);
	assert_string_equal(s->cursor_param, "since");
	assert_string_equal(s->next_field, "next");
	assert_string_equal(s->cursor_field, "modified");
	assert_string_equal(s->records_field, "data");
	assert_int_equal(s->page_size, 200);
	assert_string_equal(s->page_size_param, "limit");
	assert_int_equal(s->timeout, 10);
	assert_string_equal(s->ca_file, "/etc/syncd/ca.pem");
	assert_string_equal(config_source_find(cfg, "loop")->url, "http://127.0.0.1:8080/cases?x=1");
	config_free(cfg);
}

static void test_source_http_errors(void **state)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{CASES "conninfo = dbname=cases\n",
		 ":10: [source cases] conninfo is not a key of kind = http; remove it"},
		{"[source cases]\nkind = http\n", ":7: [source cases] url is required with kind = http"},
		{"[source cases]\nkind = http\nurl = http://onestop.cantho.gov.vn/cases\n",
		 ":9: [source cases] url = http://onestop.cantho.gov.vn/cases: http:// is allowed only to 127.0.0.1"},
		{"[source cases]\nkind = rest\nurl = https://a.vn/\n",
		 ":8: [source cases] kind = rest: expected postgresql or http"},
		{"[source cases]\nconninfo = dbname=x\nurl = https://a.vn/\n",
		 ":9: [source cases] url is not a key of kind = postgresql; remove it, or set kind = http"},
		{"[source cases]\nkind = postgresql\n", ":7: [source cases] conninfo is required"},
		{CASES "page_size = 200\n", ":10: [source cases] page_size and page_size_param go together"},
		{CASES "auth = bearer\n", ":10: [source cases] auth = bearer needs token_file"},
		{CASES "auth = oauth2\n", ":10: [source cases] auth = oauth2: expected none or bearer"},
		{CASES "token_file = /etc/t\n", ":10: [source cases] token_file is set but auth = none"},
		{CASES "interval = 0\n",
		 ":10: [source cases] interval = 0: expected an integer from 1 to 86400"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *errors = NULL;
		struct config *cfg = target_load(cases[i].text, &errors);

		assert_null(cfg);
		if (errors == NULL || strstr(errors, cases[i].expect) == NULL)
			fail_msg("case %zu: expected \"%s\" in:\n%s", i, cases[i].expect,
				 errors ? errors : "(none)");
		free(errors);
	}
}

static void test_source_http_print(void **state)
{
	struct config *cfg = target_load_ok(CASES "page_size = 200\npage_size_param = limit\n");
	struct config *same = target_load_ok(CASES "page_size = 200\npage_size_param = limit\n");
	struct config *moved = target_load_ok("[source cases]\nkind = http\nurl = https://a.vn/cases\n"
					      "page_size = 200\npage_size_param = limit\n");
	char *out = NULL, changes[512];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	config_print(cfg, f);
	fclose(f);
	assert_non_null(
		strstr(out, "\n[source cases]\nkind = http\nurl = https://onestop.cantho.gov.vn/api/cases\n"
			    "interval = 30\ncursor_param = updated_since\n; next_field is not set\n"
			    "cursor_field = updated_at\nrecords_field = items\npage_size = 200\n"
			    "page_size_param = limit\ntimeout = 30\n"));
	/* each source shows its own kind's keys */
	assert_non_null(strstr(out, "\n[source land]\nkind = postgresql\nconninfo = dbname=land\n"
				    "; password_file is not set\n\n"));
	assert_int_equal(config_fixed_changes(cfg, same, changes, sizeof(changes)), 0);
	assert_int_equal(config_fixed_changes(cfg, moved, changes, sizeof(changes)), 1);
	assert_string_equal(changes, "[source cases] url");
	free(out);
	config_free(cfg);
	config_free(same);
	config_free(moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_print_redacts),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_expand_unit),
		cmocka_unit_test(test_reloadable),
		cmocka_unit_test(test_target_full),
		cmocka_unit_test(test_target_defaults),
		cmocka_unit_test(test_target_units),
		cmocka_unit_test(test_target_urls),
		cmocka_unit_test(test_target_errors),
		cmocka_unit_test(test_unit_targets),
		cmocka_unit_test(test_target_print),
		cmocka_unit_test(test_target_fixed_changes),
		cmocka_unit_test(test_source_http),
		cmocka_unit_test(test_source_http_errors),
		cmocka_unit_test(test_source_http_print),
	};
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
