/* test_config.c — syncd.conf parsing: the good file, every error path with
 * its file:line, --print-config redaction, {unit} expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "syncd/config.h"

#define DIR "tests/data/config/"

/* git does not keep file modes: set the ones the secret checks look at */
static int setup(void **state)
{
	(void)state;
	if (chmod(DIR "pw.secret", 0600) != 0 || chmod(DIR "pw.open", 0644) != 0)
		return -1;
	return 0;
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
	{"unknown_section.conf", "unknown_section.conf:7: unknown section [tiers]"},
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),	   cmocka_unit_test(test_print_redacts),
		cmocka_unit_test(test_errors),	   cmocka_unit_test(test_expand_unit),
		cmocka_unit_test(test_reloadable),
	};
	return cmocka_run_group_tests_name("config", tests, setup, NULL);
}
