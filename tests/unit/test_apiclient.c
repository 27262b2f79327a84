/* test_apiclient.c — syncctl's HTTP client without a server: TIME arguments, query escaping,
 * document serials, error messages, password and netrc files, an unreachable URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syncd/ctl/apiclient.h"

/* 2026-11-27T10:00:00Z */
#define NOW ((time_t)1795773600)

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_apiclient.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* writes text to tmpdir/name with mode; returns the path (static buffer) */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_time_good(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{"2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"},
		{"2026-11-27t23:59:59z", "2026-11-27T23:59:59Z"},
		{"2026-11-27", "2026-11-27T00:00:00Z"},
		{"2028-02-29", "2028-02-29T00:00:00Z"},
		{"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
		{"+30d", "2026-12-27T10:00:00Z"},
		{"+12h", "2026-11-27T22:00:00Z"},
		{"+0h", "2026-11-27T10:00:00Z"},
		{"+365d", "2027-11-27T10:00:00Z"},
	};
	char out[32];
	time_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (api_time_arg(good[i].in, NOW, out, sizeof(out)) != 0)
			fail_msg("\"%s\" refused", good[i].in);
		assert_string_equal(out, good[i].out);
	}
	assert_int_equal(api_time_parse("2026-11-27T10:00:00Z", &t), 0);
	assert_true(t == NOW);
}

static void test_time_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"tomorrow",
		"now",
		"2026-13-01",
		"2026-00-10",
		"2026-02-29",
		"1900-02-29",
		"2026-11-31",
		"2026-11-00",
		"2026-1-1",
		"26-11-27",
		" 2026-11-27",
		"2026-11-27 ",
		"2026/11/27",
		"0000-01-01",
		"2026-11-27T24:00:00Z",
		"2026-11-27T10:60:00Z",
		"2026-11-27T10:00:60Z",
		"2026-11-27T10:00:00",
		"2026-11-27 10:00:00Z",
		"2026-11-27T10:00:00+07:00",
		"2026-11-27T10:00:00.5Z",
		"2026-11-27T10:00Z",
		"+30",
		"+d",
		"30d",
		"-30d",
		"+-3d",
		"+ 3d",
		"+3 d",
		"+30m",
		"+30w",
		"+30dd",
		"+3.5d",
		"+36501d",
		"+9999999h",
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out[0] = '\0';
		if (api_time_arg(bad[i], NOW, out, sizeof(out)) != -1)
			fail_msg("\"%s\" accepted as \"%s\"", bad[i], out);
	}
	/* too small for the answer */
	assert_int_equal(api_time_arg("2026-11-27", NOW, out, 20), -1);
	assert_int_equal(api_time_parse("2026-11-27", &(time_t){0}), -1);
	assert_int_equal(api_time_parse(NULL, &(time_t){0}), -1);
}

/* audit query --from/--to: everything api_time_arg takes, and the past */
static void test_time_past(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{"-1h", "2026-11-27T09:00:00Z"},	{"-2d", "2026-11-25T10:00:00Z"},
		{"-0d", "2026-11-27T10:00:00Z"},	{"-365d", "2025-11-27T10:00:00Z"},
		{"-36500d", "1926-12-22T10:00:00Z"},	{"+12h", "2026-11-27T22:00:00Z"},
		{"2026-11-27", "2026-11-27T00:00:00Z"}, {"2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"},
	};
	static const char *const bad[] = {
		"-",	"-h",	"-30",	   "-3w",      "--3d",	    "-+3d",	 "+-3d",
		"- 3d", "-3d ", "-36501d", "-876001h", "-1234567h", "yesterday",
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (api_time_arg_past(good[i].in, NOW, out, sizeof(out)) != 0)
			fail_msg("\"%s\" refused", good[i].in);
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out[0] = '\0';
		if (api_time_arg_past(bad[i], NOW, out, sizeof(out)) != -1)
			fail_msg("\"%s\" accepted as \"%s\"", bad[i], out);
	}
	/* a grant's times still never lie in the past by a relative form */
	assert_int_equal(api_time_arg("-1h", NOW, out, sizeof(out)), -1);
	assert_int_equal(api_time_arg_past("-1h", NOW, out, 20), -1);
}

static void test_query(void **state)
{
	const struct api_param q[] = {
		{"unit", "31117"},     {"grantee", NULL}, {"user", "Nguyễn Văn A"},
		{"action", "a&b=c d"}, {"x", "*)(uid=*"}, {"y", "50%+1/2?#"},
	};
	char *s;

	(void)state;
	s = api_query("/v1/grants", q, sizeof(q) / sizeof(q[0]));
	assert_non_null(s);
	assert_string_equal(s, "/v1/grants?unit=31117&user=Nguy%E1%BB%85n%20V%C4%83n%20A"
			       "&action=a%26b%3Dc%20d&x=%2A%29%28uid%3D%2A&y=50%25%2B1%2F2%3F%23");
	free(s);
	s = api_query("/v1/grants", q + 1, 1);
	assert_string_equal(s, "/v1/grants");
	free(s);
	s = api_query("/v1/grants", q, 0);
	assert_string_equal(s, "/v1/grants");
	free(s);
	s = api_query("/v1/grants", q + 1, 2);
	assert_string_equal(s, "/v1/grants?user=Nguy%E1%BB%85n%20V%C4%83n%20A");
	free(s);
	s = api_path_join("/v1/grants", "42");
	assert_string_equal(s, "/v1/grants/42");
	free(s);
	s = api_path_join("/v1/grants", "../authz/check?x");
	assert_string_equal(s, "/v1/grants/..%2Fauthz%2Fcheck%3Fx");
	free(s);
}

static void test_serial(void **state)
{
	static const char *const good[] = {"31120-2026-000001", "31117-2027-999999", "00000-0000-000000"};
	static const char *const bad[] = {
		"",
		"31120-2026-00001",
		"31120-2026-0000001",
		"3112-2026-000001",
		"311200-2026-000001",
		"31120-26-000001",
		"31120_2026_000001",
		"31120-2026-00000a",
		"31120-2026-000001 ",
		" 31120-2026-000001",
		"31120-2026-000001/verify",
		"../grants/7",
		"31120--2026-00001",
		"+3120-2026-000001",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!api_serial_valid(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_serial_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(api_serial_valid(NULL));
}

static void test_error_format(void **state)
{
	json_t *body = json_loads("{\"error\": \"forbidden\", \"message\": \"lan may not grant unit_admin in "
				  "31120: no delegable grant there\"}",
				  0, NULL);
	json_t *evil = json_pack("{s:s, s:i}", "message",
				 "bad\x1b]0;owned\x07 \xc2\x9b"
				 "2J",
				 "error", 5);
	char out[256];

	(void)state;
	api_error_format(403, body, "7f3a9c", out, sizeof(out));
	assert_string_equal(out, "lan may not grant unit_admin in 31120: no delegable grant there "
				 "(HTTP 403, forbidden, request 7f3a9c)");
	api_error_format(502, NULL, "", out, sizeof(out));
	assert_string_equal(out, "the server gave no error message (HTTP 502, -, request -)");
	api_error_format(500, evil, NULL, out, sizeof(out));
	assert_string_equal(out, "bad?]0;owned? ?2J (HTTP 500, -, request -)");
	json_decref(body);
	json_decref(evil);
}

static void test_password_file(void **state)
{
	char err[512];
	const char *path;
	char *pw;

	(void)state;
	path = write_file("pw.open", "s3cret\n", 0644);
	pw = api_password_file_read(path, err, sizeof(err));
	assert_null(pw);
	if (strstr(err, "(mode 0644); fix with: chmod 600 ") == NULL || strstr(err, path) == NULL)
		fail_msg("message: %s", err);
	path = write_file("pw.group", "s3cret\n", 0640);
	assert_null(api_password_file_read(path, err, sizeof(err)));
	assert_non_null(strstr(err, "chmod 600"));

	path = write_file("pw.secret", "s3cret\r\n\n", 0600);
	pw = api_password_file_read(path, err, sizeof(err));
	assert_non_null(pw);
	assert_string_equal(pw, "s3cret");
	free(pw);
	path = write_file("pw.spaces", "pass with spaces ", 0400);
	pw = api_password_file_read(path, err, sizeof(err));
	assert_string_equal(pw, "pass with spaces ");
	free(pw);

	path = write_file("pw.empty", "\n", 0600);
	assert_null(api_password_file_read(path, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	assert_null(api_password_file_read("/nonexistent/pw", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/pw"));
}

static void test_netrc(void **state)
{
	static const char netrc[] = "machine files.example login ftp password ftp\n"
				    "macdef init\n"
				    "cd /pub\n"
				    "machine 127.0.0.1 login fake\n"
				    "\n"
				    "machine 127.0.0.1 login lan password \"p w\\\"d\"\n"
				    "machine API.cantho.gov.vn login minh password m1 account x\n"
				    "machine 127.0.0.1 login minh password m2\n"
				    "default login guest password g\n";
	char err[512], *login, *pw;
	const char *path = write_file("netrc", netrc, 0600);

	(void)state;
	assert_int_equal(api_netrc_lookup(path, "127.0.0.1", NULL, &login, &pw, err, sizeof(err)), 1);
	assert_string_equal(login, "lan");
	assert_string_equal(pw, "p w\"d");
	free(login);
	free(pw);
	assert_int_equal(api_netrc_lookup(path, "127.0.0.1", "minh", &login, &pw, err, sizeof(err)), 1);
	assert_string_equal(login, "minh");
	assert_string_equal(pw, "m2");
	free(login);
	free(pw);
	assert_int_equal(api_netrc_lookup(path, "api.cantho.gov.vn", NULL, &login, &pw, err, sizeof(err)), 1);
	assert_string_equal(login, "minh");
	assert_string_equal(pw, "m1");
	free(login);
	free(pw);
	assert_int_equal(api_netrc_lookup(path, "other.host", NULL, &login, &pw, err, sizeof(err)), 1);
	assert_string_equal(login, "guest");
	free(login);
	free(pw);

	path = write_file("netrc.login", "machine 127.0.0.1 login lan\n", 0600);
	assert_int_equal(api_netrc_lookup(path, "127.0.0.1", NULL, &login, &pw, err, sizeof(err)), 1);
	assert_string_equal(login, "lan");
	assert_null(pw);
	free(login);
	assert_int_equal(api_netrc_lookup(path, "127.0.0.1", "minh", &login, &pw, err, sizeof(err)), 0);
	assert_null(login);
	assert_null(pw);

	path = write_file("netrc.open", netrc, 0644);
	assert_int_equal(api_netrc_lookup(path, "127.0.0.1", NULL, &login, &pw, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
}

static void test_url_host(void **state)
{
	char host[64];

	(void)state;
	assert_int_equal(api_url_host("http://127.0.0.1:8443", host, sizeof(host)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(api_url_host("https://api.cantho.gov.vn/syncd/", host, sizeof(host)), 0);
	assert_string_equal(host, "api.cantho.gov.vn");
	assert_int_equal(api_url_host("http://[::1]:8443", host, sizeof(host)), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(api_url_host("localhost:8443", host, sizeof(host)), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(api_url_host("http://", host, sizeof(host)), -1);
	assert_int_equal(api_url_host("http://a-rather-long-host-name.example", host, 8), -1);
}

/* no server needed: nothing listens on port 1, and ftp is not allowed */
static void test_unreachable(void **state)
{
	struct api_client c = {.url = "http://127.0.0.1:1/", .user = "lan", .password = "pw"};
	struct api_response res;
	json_t *body = json_pack("{s:s}", "grantee", "minh");

	(void)state;
	assert_int_equal(api_call(&c, "POST", "/v1/grants", body, &res), -1);
	assert_int_equal(res.status, 0);
	assert_null(res.json);
	if (strstr(res.error, "cannot reach syncd's API at http://127.0.0.1:1/: ") != res.error ||
	    strstr(res.error, "-s URL or SYNCCTL_URL") == NULL)
		fail_msg("message: %s", res.error);
	api_response_free(&res);
	c.url = "ftp://127.0.0.1:1";
	assert_int_equal(api_call(&c, "GET", "/v1/grants", NULL, &res), -1);
	assert_non_null(strstr(res.error, "ftp://127.0.0.1:1"));
	api_response_free(&res);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_good),     cmocka_unit_test(test_time_bad),
		cmocka_unit_test(test_query),	      cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_password_file), cmocka_unit_test(test_netrc),
		cmocka_unit_test(test_url_host),      cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_time_past),     cmocka_unit_test(test_serial),
	};
	return cmocka_run_group_tests_name("apiclient", tests, setup, teardown);
}
