/* test_apiclient.c — syncctl's API client without a server: TIME
 * arguments, query escaping, the grants table and check output, the audit
 * table and verify messages, document serials, summaries and verify
 * answers, error messages, password and netrc files, an unreachable URL. */
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

static const char grants_json[] =
	"["
	"{\"id\": 7, \"grantee\": \"lan\", \"grantee_dn\": \"uid=lan,ou=people\", \"role\": \"unit_admin\","
	" \"unit\": \"31117\", \"grantor\": \"cn=syncd,ou=services,dc=cantho\", \"parent\": null,"
	" \"not_before\": \"2026-01-01T00:00:00Z\", \"not_after\": null, \"may_delegate\": 2,"
	" \"created\": \"2026-01-01T00:00:00Z\", \"revoked\": false},"
	"{\"id\": 12, \"grantee\": \"Nguyễn\", \"role\": \"viewer\", \"unit\": \"31117\", \"grantor\": \"lan\","
	" \"parent\": 7, \"not_before\": \"2026-11-01T00:00:00Z\", \"not_after\": \"2026-12-31T00:00:00Z\","
	" \"may_delegate\": 0, \"revoked\": true},"
	"{\"id\": 13, \"grantee\": \"minh\", \"role\": \"viewer\", \"unit\": \"31120\", \"grantor\": \"lan\","
	" \"parent\": 7, \"not_before\": \"2026-01-01T00:00:00Z\", \"not_after\": \"2026-11-27T10:00:00Z\","
	" \"may_delegate\": 0, \"revoked\": false},"
	"{\"id\": \"g-14\", \"grantee\": \"t\\u001b[2Jhu\", \"role\": \"viewer\", \"unit\": \"31120\","
	" \"grantor\": \"lan\", \"not_before\": \"2026-12-01T00:00:00Z\","
	" \"not_after\": \"2027-01-01T00:00:00Z\", \"may_delegate\": 1, \"revoked\": false}"
	"]";

static char *render_grants(const json_t *grants, int *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	*r = api_grants_print(f, grants, NOW);
	fclose(f);
	return text;
}

static void test_grants_table(void **state)
{
	json_error_t jerr;
	json_t *grants = json_loads(grants_json, 0, &jerr);
	char *text;
	int r;

	(void)state;
	if (grants == NULL)
		fail_msg("sample: %s", jerr.text);
	text = render_grants(grants, &r);
	assert_int_equal(r, 0);
	assert_string_equal(
		text,
		"ID    USER     ROLE        UNIT   NOT AFTER             DEPTH  GRANTOR                         STATE\n"
		"7     lan      unit_admin  31117  -                     2      cn=syncd,ou=services,dc=cantho  active\n"
		"12    Nguyễn   viewer      31117  2026-12-31T00:00:00Z  0      lan                             revoked\n"
		"13    minh     viewer      31120  2026-11-27T10:00:00Z  0      lan                             expired\n"
		"g-14  t?[2Jhu  viewer      31120  2027-01-01T00:00:00Z  1      lan                             pending\n");
	free(text);
	json_decref(grants);
}

static void test_grants_edge(void **state)
{
	json_t *empty = json_array(), *notarray = json_object(), *badrow = json_pack("[i]", 3);
	char *text;
	int r;

	(void)state;
	text = render_grants(empty, &r);
	assert_int_equal(r, 0);
	assert_string_equal(text, "no grants\n");
	free(text);
	text = render_grants(notarray, &r);
	assert_int_equal(r, -1);
	assert_string_equal(text, "");
	free(text);
	text = render_grants(badrow, &r);
	assert_int_equal(r, -1);
	assert_string_equal(text, "");
	free(text);
	text = render_grants(NULL, &r);
	assert_int_equal(r, -1);
	free(text);
	json_decref(empty);
	json_decref(notarray);
	json_decref(badrow);
}

static void test_check_print(void **state)
{
	json_t *allow = json_loads(
		"{\"decision\": \"allow\", \"reason\": \"grant 12\", \"user\": \"minh\", \"action\": \"read\","
		" \"unit\": \"31117\", \"chain\": ["
		"{\"id\": 12, \"role\": \"viewer\", \"unit\": \"31117\", \"grantee\": \"minh\", \"grantor\": \"lan\","
		" \"not_after\": \"2027-01-01T00:00:00Z\"},"
		"{\"id\": 7, \"role\": \"unit_admin\", \"unit\": \"31117\", \"grantee\": \"lan\","
		" \"grantor\": \"cn=syncd\", \"not_after\": null}]}",
		0, NULL);
	json_t *deny = json_loads(
		"{\"decision\": \"deny\", \"reason\": \"no grant for unit 31120\", \"chain\": []}", 0, NULL);
	json_t *odd = json_loads("{\"decision\": \"maybe\"}", 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(allow);
	assert_non_null(deny);
	assert_int_equal(api_check_print(f, allow), 1);
	assert_int_equal(api_check_print(f, deny), 0);
	assert_int_equal(api_check_print(f, odd), -1);
	assert_int_equal(api_check_allowed(NULL), -1);
	fclose(f);
	assert_string_equal(text, "allow\n"
				  "  grant 12: viewer in 31117 to minh from lan until 2027-01-01T00:00:00Z\n"
				  "  grant 7: unit_admin in 31117 to lan from cn=syncd until revoked\n"
				  "deny: no grant for unit 31120\n");
	free(text);
	json_decref(allow);
	json_decref(deny);
	json_decref(odd);
}

static const char events_json[] =
	"["
	"{\"seq\": 1, \"at\": \"2026-11-27T10:00:00.123456Z\", \"actor\": \"lan\", \"client\": \"10.0.0.5\","
	" \"request_id\": \"a1\", \"action\": \"grant.create\", \"unit\": \"31117\", \"object\": \"12\","
	" \"decision\": \"allow\", \"reason\": \"grant 7\", \"hash\": \"9f86d081\"},"
	"{\"seq\": 2, \"at\": \"2026-11-27T10:00:01Z\", \"actor\": \"Nguyễn Thị Minh Khai Trần Ngọc\","
	" \"action\": \"civil.extract.issue\", \"unit\": \"31120\", \"object\": \"31120-2026-000001\","
	" \"decision\": \"deny\","
	" \"reason\": \"no grant for civil.extract.issue in unit 31120 (only viewer until 2026-12-31)\"},"
	"{\"seq\": 1234, \"at\": \"2026-11-27T10:00:02.5Z\", \"actor\": \"t\\u001b[2Jhu\","
	" \"action\": \"document.verify\", \"unit\": null, \"object\": \"31120-2026-000001\","
	" \"decision\": \"error\", \"reason\": null}"
	"]";

/* closes f (an open_memstream on *text) and returns what it received */
static char *drain(FILE *f, char **text)
{
	fclose(f);
	return *text;
}

static void test_audit_table(void **state)
{
	json_error_t jerr;
	json_t *events = json_loads(events_json, 0, &jerr);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	if (events == NULL)
		fail_msg("sample: %s", jerr.text);
	assert_int_equal(api_audit_print(f, events), 0);
	assert_string_equal(
		drain(f, &text),
		"SEQ   AT                    ACTOR                 ACTION               UNIT   OBJECT             DECISION  REASON\n"
		"1     2026-11-27T10:00:00Z  lan                   grant.create         31117  12                 allow     grant 7\n"
		"2     2026-11-27T10:00:01Z  Nguyễn Thị Minh Kha…  civil.extract.issue  31120  31120-2026-000001  deny      no grant for civil.extract.issue in unit 31120…\n"
		"1234  2026-11-27T10:00:02Z  t?[2Jhu               document.verify      -      31120-2026-000001  error     -\n");
	free(text);
	json_decref(events);
}

static void test_audit_edge(void **state)
{
	json_t *empty = json_array(), *notarray = json_object(),
	       *badrow = json_pack("[{s:i}, s]", "seq", 1, "x");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_int_equal(api_audit_print(f, empty), 0);
	assert_int_equal(api_audit_print(f, notarray), -1);
	assert_int_equal(api_audit_print(f, badrow), -1);
	assert_int_equal(api_audit_print(f, NULL), -1);
	assert_string_equal(drain(f, &text), "no audit events\n");
	free(text);
	json_decref(empty);
	json_decref(notarray);
	json_decref(badrow);
}

static void test_audit_verify(void **state)
{
	json_t *ok = json_loads("{\"ok\": true, \"rows\": 1042, \"checkpoints\": 3, \"first_broken\": null}",
				0, NULL);
	json_t *one = json_loads("{\"ok\": true, \"rows\": 1, \"checkpoints\": 1, \"first_broken\": null}", 0,
				 NULL);
	json_t *broken = json_loads("{\"ok\": false, \"rows\": 1042, \"checkpoints\": 3, \"first_broken\":"
				    " {\"seq\": 517, \"expected\": \"9f86d081\", \"found\": \"60303ae2\","
				    " \"problem\": \"the row's hash does not match its content\"}}",
				    0, NULL);
	json_t *vague = json_loads("{\"ok\": false, \"rows\": 3}", 0, NULL);
	json_t *odd = json_loads("{\"ok\": \"yes\"}", 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(ok);
	assert_non_null(broken);
	assert_int_equal(api_audit_verify_print(f, ok), 1);
	assert_int_equal(api_audit_verify_print(f, one), 1);
	assert_int_equal(api_audit_verify_print(f, broken), 0);
	assert_int_equal(api_audit_verify_print(f, vague), 0);
	assert_int_equal(api_audit_verify_print(f, odd), -1);
	assert_int_equal(api_audit_intact(NULL), -1);
	assert_int_equal(api_audit_intact(broken), 0);
	assert_string_equal(drain(f, &text),
			    "audit log intact: 1042 rows, 3 signed checkpoints\n"
			    "audit log intact: 1 row, 1 signed checkpoint\n"
			    "audit log BROKEN at seq 517: the row's hash does not match its content\n"
			    "  expected: 9f86d081\n"
			    "  found:    60303ae2\n"
			    "audit log BROKEN (the answer names no row)\n");
	free(text);
	json_decref(ok);
	json_decref(one);
	json_decref(broken);
	json_decref(vague);
	json_decref(odd);
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

static void test_document_print(void **state)
{
	json_t *doc = json_loads(
		"{\"serial\": \"31120-2026-000001\", \"kind\": \"birth_extract\","
		" \"title\": \"TRÍCH LỤC KHAI SINH (BẢN SAO)\", \"unit\": \"31120\", \"unit_name\": \"Phường Ninh Kiều\","
		" \"key\": \"42\", \"fields\": ["
		"{\"label\": \"Họ, chữ đệm, tên\", \"value\": \"Nguyễn Văn A\"},"
		"{\"label\": \"Ngày, tháng, năm sinh\", \"value\": \"2020-02-01\"},"
		"{\"label\": \"Quê quán\", \"value\": null},"
		"{\"label\": \"Quyển số\", \"value\": 7}],"
		" \"issued_at\": \"2026-11-27T10:00:00.25Z\", \"issuer\": \"lan\", \"nonce\": \"c0ffee\","
		" \"hash\": \"9f86d081\", \"signature\": \"3045\", \"revoked\": false, \"revoked_at\": null,"
		" \"revoke_reason\": null}",
		0, NULL);
	json_t *revoked = json_loads(
		"{\"serial\": \"31117-2026-000003\", \"kind\": \"death_extract\", \"unit\": \"31117\","
		" \"fields\": [], \"issued_at\": \"2026-11-20T08:00:00Z\", \"issuer\": \"minh\", \"revoked\": true,"
		" \"revoked_at\": \"2026-11-21T09:30:00.000001Z\", \"revoke_reason\": \"wrong\\u001b[0m name\"}",
		0, NULL);
	json_t *noserial = json_pack("{s:s}", "kind", "birth_extract");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(doc);
	assert_non_null(revoked);
	assert_int_equal(api_document_print(f, doc), 0);
	assert_int_equal(api_document_print(f, revoked), 0);
	assert_int_equal(api_document_print(f, noserial), -1);
	assert_int_equal(api_document_print(f, NULL), -1);
	assert_string_equal(drain(f, &text), "serial: 31120-2026-000001\n"
					     "title:  TRÍCH LỤC KHAI SINH (BẢN SAO)\n"
					     "kind:   birth_extract\n"
					     "unit:   31120 Phường Ninh Kiều\n"
					     "issued: 2026-11-27T10:00:00Z\n"
					     "issuer: lan\n"
					     "state:  valid\n"
					     "\n"
					     "Họ, chữ đệm, tên: Nguyễn Văn A\n"
					     "Ngày, tháng, năm sinh: 2020-02-01\n"
					     "Quê quán: -\n"
					     "Quyển số: 7\n"
					     "serial: 31117-2026-000003\n"
					     "kind:   death_extract\n"
					     "unit:   31117\n"
					     "issued: 2026-11-20T08:00:00Z\n"
					     "issuer: minh\n"
					     "state:  revoked 2026-11-21T09:30:00Z: wrong?[0m name\n");
	free(text);
	json_decref(doc);
	json_decref(revoked);
	json_decref(noserial);
}

static void test_document_verify(void **state)
{
	json_t *valid = json_loads(
		"{\"serial\": \"31120-2026-000001\", \"status\": \"valid\", \"kind\": \"birth_extract\","
		" \"unit\": \"31120\", \"issued_on\": \"2026-11-27\", \"hash\": \"9f86d081\","
		" \"signature\": \"30450221\", \"public_key\": \"MCow\"}",
		0, NULL);
	json_t *revoked =
		json_loads("{\"serial\": \"31117-2026-000003\", \"status\": \"revoked\","
			   " \"kind\": \"death_extract\", \"unit\": \"31117\", \"issued_on\": \"2026-11-20\","
			   " \"hash\": \"60303ae2\", \"signature\": \"3046\","
			   " \"revoked_at\": \"2026-11-21T09:30:00Z\"}",
			   0, NULL);
	json_t *unknown = json_loads("{\"serial\": \"31120-2026-000999\", \"status\": \"unknown\"}", 0, NULL);
	json_t *odd = json_loads("{\"serial\": \"31120-2026-000001\", \"status\": \"fine\"}", 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(valid);
	assert_non_null(revoked);
	assert_int_equal(api_document_verify_print(f, valid), 1);
	assert_int_equal(api_document_verify_print(f, revoked), 0);
	assert_int_equal(api_document_verify_print(f, unknown), 0);
	assert_int_equal(api_document_verify_print(f, odd), -1);
	assert_int_equal(api_document_valid(NULL), -1);
	assert_string_equal(
		drain(f, &text),
		"31120-2026-000001: valid (birth_extract, 31120, 2026-11-27)\n"
		"  sha256: 9f86d081\n"
		"  signature: 30450221\n"
		"31117-2026-000003: revoked 2026-11-21T09:30:00Z (death_extract, 31117, 2026-11-20)\n"
		"  sha256: 60303ae2\n"
		"  signature: 3046\n"
		"31120-2026-000999: unknown: syncd issued no document with this serial\n");
	free(text);
	json_decref(valid);
	json_decref(revoked);
	json_decref(unknown);
	json_decref(odd);
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

/* syncctl audit --csv: the server's cells written again, neutralised. */
static void test_csv_print(void **state)
{
	static const char page[] = "seq,actor,object,reason\r\n"
				   "\"1\",\"=HYPERLINK(\"\"http://x\"\")\",\"-\",\"@SUM(A1)\"\r\n"
				   "\"2\",\"+1\",\"a,b\",\"line\nbreak\"\r\n"
				   "\"3\",\"\tx\",\"\rcr\",\"plain\"\r\n";
	static const char want[] = "seq,actor,object,reason\r\n"
				   "1,\"'=HYPERLINK(\"\"http://x\"\")\",\"'-\",\"'@SUM(A1)\"\r\n"
				   "2,\"'+1\",\"a,b\",\"line\nbreak\"\r\n"
				   "3,\"'\tx\",\"'\rcr\",plain\r\n";
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(api_csv_print(f, page, strlen(page), false), 4);
	fclose(f);
	assert_string_equal(out, want);
	free(out);
	/* a later page: no header; a last record without its line break */
	f = open_memstream(&out, &len);
	assert_int_equal(api_csv_print(f, "h1,h2\r\n\"=1\",x", 14, true), 1);
	fclose(f);
	assert_string_equal(out, "\"'=1\",x\r\n");
	free(out);
	f = open_memstream(&out, &len);
	assert_int_equal(api_csv_print(f, "a,\"unclosed\r\n", 13, false), -1);
	assert_int_equal(api_csv_print(f, "a,b\"c\r\n", 7, false), -1);
	assert_int_equal(api_csv_print(f, "", 0, false), 0);
	fclose(f);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_good),      cmocka_unit_test(test_time_bad),
		cmocka_unit_test(test_query),	       cmocka_unit_test(test_grants_table),
		cmocka_unit_test(test_grants_edge),    cmocka_unit_test(test_check_print),
		cmocka_unit_test(test_error_format),   cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_netrc),	       cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_unreachable),    cmocka_unit_test(test_time_past),
		cmocka_unit_test(test_audit_table),    cmocka_unit_test(test_audit_edge),
		cmocka_unit_test(test_audit_verify),   cmocka_unit_test(test_serial),
		cmocka_unit_test(test_document_print), cmocka_unit_test(test_document_verify),
		cmocka_unit_test(test_csv_print),
	};
	return cmocka_run_group_tests_name("apiclient", tests, setup, teardown);
}
