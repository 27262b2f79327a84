/* test_deadletter.c — dead letters without a database: ids as people and
 * URLs give them, blank reasons, the list's filters as parameterised SQL,
 * the refusals a resolution makes before it touches the database, the
 * API's rows of the dispatch table, and what syncctl prints of the API's
 * answers (the list, one, a resolution). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/http_deadletter.h"
#include "syncd/api/deadletter.h"
#include "syncd/ctl/print.h"

static void test_id_parse(void **state)
{
	static const char *const bad[] = {"",
					  "0",
					  "-1",
					  "+1",
					  " 1",
					  "1 ",
					  "12x",
					  "0x10",
					  "1e3",
					  "1.0",
					  "９",
					  "9223372036854775808",
					  "99999999999999999999"};
	long long id = -5;

	(void)state;
	assert_int_equal(deadletter_id_parse("1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(deadletter_id_parse("42", &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(deadletter_id_parse("007", &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(deadletter_id_parse("9223372036854775807", &id), 0);
	assert_true(id == 9223372036854775807LL);
	id = -5;
	assert_int_equal(deadletter_id_parse(NULL, &id), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (deadletter_id_parse(bad[i], &id) != -1)
			fail_msg("\"%s\" was taken as id %lld", bad[i], id);
	}
	assert_true(id == -5); /* a refusal leaves *id alone */
}

static void test_reason_blank(void **state)
{
	(void)state;
	assert_true(deadletter_reason_blank(NULL));
	assert_true(deadletter_reason_blank(""));
	assert_true(deadletter_reason_blank(" \t\r\n "));
	assert_false(deadletter_reason_blank("x"));
	assert_false(deadletter_reason_blank("  duplicate  "));
	assert_string_equal(deadletter_result_name(DEADLETTER_CONFLICT), "conflict");
	assert_string_equal(deadletter_result_name(DEADLETTER_NOT_FOUND), "not_found");
}

static void test_list_sql(void **state)
{
	struct deadletter_filter open = {0};
	struct deadletter_filter every = {.target = "x' OR '1'='1", .unit = 31120, .all = true};
	const char *params[2] = {NULL, NULL};
	struct buf sql = {0};
	char unit[12];
	int np = -1;
	size_t n;

	(void)state;
	assert_int_equal(deadletter_list_sql(&open, &sql, params, &np, unit), 0);
	assert_int_equal(np, 0);
	assert_non_null(strstr(sql.data, "SELECT d.id, d.batch, d.target, d.unit, d.batch_id"));
	n = strlen(sql.data);
	static const char tail_open[] = " WHERE true AND d.resolved_at IS NULL ORDER BY d.id DESC LIMIT 501";
	assert_true(n > strlen(tail_open));
	assert_string_equal(sql.data + n - strlen(tail_open), tail_open);
	/* a list carries neither the body nor the receiver's answer */
	assert_null(strstr(sql.data, "b.body"));
	assert_null(strstr(sql.data, "response_excerpt"));
	buf_free(&sql);

	assert_int_equal(deadletter_list_sql(&every, &sql, params, &np, unit), 0);
	assert_int_equal(np, 2);
	static const char tail_all[] =
		" WHERE true AND d.target = $1 AND d.unit = $2::int ORDER BY d.id DESC LIMIT 501";
	n = strlen(sql.data);
	assert_string_equal(sql.data + n - strlen(tail_all), tail_all);
	/* values travel as parameters, never inside the SQL */
	assert_ptr_equal(params[0], every.target);
	assert_string_equal(params[1], "31120");
	assert_null(strstr(sql.data, "'1'='1"));
	buf_free(&sql);
}

/* The refusals a resolution makes before it touches the database (db NULL
 * would crash if it did). */
static void test_resolve_refusals(void **state)
{
	struct deadletter_resolution out;
	char err[256], big[DEADLETTER_REASON_MAX + 2];

	(void)state;
	assert_int_equal(deadletter_discard(NULL, 1, "admin1", NULL, &out, err, sizeof(err)),
			 DEADLETTER_INVALID);
	assert_non_null(strstr(err, "needs a reason"));
	assert_int_equal(deadletter_discard(NULL, 1, "admin1", " \n", &out, err, sizeof(err)),
			 DEADLETTER_INVALID);
	assert_int_equal(deadletter_retry(NULL, 1, "", NULL, &out, err, sizeof(err)), DEADLETTER_INVALID);
	assert_int_equal(deadletter_retry(NULL, 1, NULL, NULL, &out, err, sizeof(err)), DEADLETTER_INVALID);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(deadletter_retry(NULL, 1, "admin1", big, &out, err, sizeof(err)),
			 DEADLETTER_INVALID);
	assert_non_null(strstr(err, "longer than 1000 bytes"));
}

/* The four rows of /v1/deadletter in the dispatch table: each behind the
 * login, none needing documents.json; 405 from the table. */
static void test_dispatch(void **state)
{
	char hole[256], allowed[64];
	const struct endpoint *e;

	(void)state;
	e = endpoint_find("GET", "/v1/deadletter", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_non_null(e);
	assert_ptr_equal(e->handler, ep_deadletter_list);
	assert_true(e->login);
	assert_false(e->documents);
	e = endpoint_find("GET", "/v1/deadletter/17", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_deadletter_get);
	assert_string_equal(hole, "17");
	e = endpoint_find("POST", "/v1/deadletter/17/retry", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_deadletter_retry);
	assert_true(e->login);
	assert_string_equal(hole, "17");
	e = endpoint_find("POST", "/v1/deadletter/17/discard", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_deadletter_discard);
	assert_false(e->served_here); /* waits on the directory and the database: a worker's */
	assert_string_equal(hole, "17");
	assert_null(
		endpoint_find("DELETE", "/v1/deadletter/17", hole, sizeof(hole), allowed, sizeof(allowed)));
	assert_string_equal(allowed, "GET");
	assert_null(endpoint_find("POST", "/v1/deadletter", hole, sizeof(hole), allowed, sizeof(allowed)));
	assert_string_equal(allowed, "GET");
}

/* what f printed; caller frees */
static char *printed(int (*print)(FILE *, const json_t *), const char *json, int *r)
{
	json_error_t jerr;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (j == NULL)
		fail_msg("sample: %s", jerr.text);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	*r = print(f, j);
	fclose(f);
	json_decref(j);
	return text;
}

static const char list_json[] =
	"[{\"id\": 17, \"dead_at\": \"2026-11-27T10:00:00Z\", \"target\": \"onestop\", \"unit\": \"31120\","
	"  \"batch_id\": \"land-31120-1-2\", \"changes\": 12, \"attempts\": 5, \"http_status\": 422,"
	"  \"error\": \"HTTP 422 \\u001b[2J from a receiver that says a great deal more than fits\","
	"  \"resolution\": null},"
	" {\"id\": 9, \"dead_at\": \"2026-11-26T08:00:00Z\", \"target\": \"archive\", \"unit\": \"31147\","
	"  \"batch_id\": \"civil-31147-3-4\", \"changes\": 1, \"attempts\": 30, \"http_status\": null,"
	"  \"error\": \"timeout\", \"resolution\": \"discarded\"}]";

static void test_list_print(void **state)
{
	int r;
	char *text;

	(void)state;
	text = printed(api_deadletters_print, list_json, &r);
	assert_int_equal(r, 0);
	assert_string_equal(
		text, "ID  DEAD AT               TARGET   UNIT   BATCH            CHANGES  ATTEMPTS  HTTP  "
		      "ERROR                                     STATE\n"
		      "17  2026-11-27T10:00:00Z  onestop  31120  land-31120-1-2   12       5         422   "
		      "HTTP 422 ?[2J from a receiver that says…  open\n"
		      "9   2026-11-26T08:00:00Z  archive  31147  civil-31147-3-4  1        30        -     "
		      "timeout                                   discarded\n");
	free(text);
	text = printed(api_deadletters_print, "[]", &r);
	assert_int_equal(r, 0);
	assert_string_equal(text, "no dead letters\n");
	free(text);
	text = printed(api_deadletters_print, "[1]", &r);
	assert_int_equal(r, -1);
	assert_string_equal(text, "");
	free(text);
}

static void test_show_print(void **state)
{
	static const char one[] =
		"{\"id\": 17, \"target\": \"onestop\", \"unit\": \"31120\", \"batch\": 42, \"batch_id\": \"land-31120-1-2\","
		" \"batch_state\": \"pending\", \"source\": \"land\", \"changes\": 1, \"lsn_from\": \"0/1\", \"lsn_to\": \"0/2\","
		" \"created_at\": \"2026-11-27T09:59:00Z\", \"attempts\": 5, \"dead_at\": \"2026-11-27T10:00:00Z\","
		" \"http_status\": 422, \"error\": \"HTTP 422\", \"response_excerpt\": null, \"paused\": false,"
		" \"resolution\": \"retried\", \"resolved_by\": \"admin1\", \"resolved_at\": \"2026-11-27T11:00:00Z\","
		" \"reason\": \"fixed\", \"content_type\": \"application/json\","
		" \"body\": \"{\\\"unit\\\":\\\"31120\\\",\\\"changes\\\":[{\\\"op\\\":\\\"insert\\\",\\\"name\\\":\\\"\\\\u001b]0;x\\\\u0007Nguyễn\\\"}]}\"}";
	int r;
	char *text;

	(void)state;
	text = printed(api_deadletter_print, one, &r);
	assert_int_equal(r, 0);
	assert_string_equal(text, "dead letter 17: retried\n"
				  "target:      onestop\n"
				  "unit:        31120\n"
				  "batch:       42\n"
				  "batch id:    land-31120-1-2\n"
				  "batch state: pending\n"
				  "source:      land\n"
				  "changes:     1\n"
				  "lsn from:    0/1\n"
				  "lsn to:      0/2\n"
				  "queued at:   2026-11-27T09:59:00Z\n"
				  "attempts:    5\n"
				  "dead at:     2026-11-27T10:00:00Z\n"
				  "http status: 422\n"
				  "error:       HTTP 422\n"
				  "response:    -\n"
				  "paused:      no\n"
				  "resolved:    retried by admin1 at 2026-11-27T11:00:00Z: fixed\n"
				  "\n"
				  "body (application/json, 78 bytes):\n"
				  "  {\n"
				  "    \"unit\": \"31120\",\n"
				  "    \"changes\": [\n"
				  "      {\n"
				  "        \"op\": \"insert\",\n"
				  "        \"name\": \"\\u001B]0;x\\u0007Nguyễn\"\n"
				  "      }\n"
				  "    ]\n"
				  "  }\n");
	free(text);
	/* a body that is not JSON is shown as it is, control characters made '?' */
	text = printed(api_deadletter_print, "{\"id\": 3, \"body\": \"not json\\u001b[31m\\nline 2\"}", &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(text, "dead letter 3: open\n"));
	assert_non_null(strstr(text, "\n  not json?[31m\n  line 2\n"));
	free(text);
	text = printed(api_deadletter_print, "{\"error\": \"x\"}", &r);
	assert_int_equal(r, -1);
	assert_string_equal(text, "");
	free(text);
}

static void test_resolution_print(void **state)
{
	int r;
	char *text;

	(void)state;
	text = printed(
		api_deadletter_resolution_print,
		"{\"id\": 17, \"target\": \"onestop\", \"unit\": \"31120\", \"batch_id\": \"b-1\","
		" \"resolution\": \"retried\", \"reason\": null, \"unpaused\": true, \"paused\": false}",
		&r);
	assert_int_equal(r, 0);
	assert_string_equal(text, "retried dead letter 17 (target onestop, unit 31120, batch b-1)\n"
				  "unit 31120 of target onestop is no longer paused\n");
	free(text);
	text = printed(
		api_deadletter_resolution_print,
		"{\"id\": 18, \"target\": \"onestop\", \"unit\": \"31135\", \"batch_id\": \"b-2\","
		" \"resolution\": \"discarded\", \"reason\": \"dup\", \"unpaused\": false, \"paused\": true}",
		&r);
	assert_int_equal(r, 0);
	assert_string_equal(text,
			    "discarded dead letter 18 (target onestop, unit 31135, batch b-2): dup\n"
			    "unit 31135 of target onestop stays paused: another of its dead letters is open "
			    "(syncctl deadletter list --target onestop --unit 31135)\n");
	free(text);
	text = printed(api_deadletter_resolution_print, "{\"id\": 18}", &r);
	assert_int_equal(r, -1);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_parse),	 cmocka_unit_test(test_reason_blank),
		cmocka_unit_test(test_list_sql),	 cmocka_unit_test(test_resolve_refusals),
		cmocka_unit_test(test_list_print),	 cmocka_unit_test(test_show_print),
		cmocka_unit_test(test_resolution_print), cmocka_unit_test(test_dispatch),
	};
	return cmocka_run_group_tests_name("deadletter", tests, NULL, NULL);
}
