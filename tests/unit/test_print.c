/* test_print.c — what syncctl shows of API answers: the grants table and check output, the
 * audit table, verify messages and CSV, document summaries and verify answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/ctl/print.h"

/* 2026-11-27T10:00:00Z */
#define NOW ((time_t)1795773600)

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
		cmocka_unit_test(test_grants_table),   cmocka_unit_test(test_grants_edge),
		cmocka_unit_test(test_check_print),    cmocka_unit_test(test_audit_table),
		cmocka_unit_test(test_audit_edge),     cmocka_unit_test(test_audit_verify),
		cmocka_unit_test(test_document_print), cmocka_unit_test(test_document_verify),
		cmocka_unit_test(test_csv_print),
	};
	return cmocka_run_group_tests_name("print", tests, NULL, NULL);
}
