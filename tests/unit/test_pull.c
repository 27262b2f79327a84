/* test_pull.c — the pure parts of a kind = http source (syncd/sync/pull.c,
 * connectors/http_pull.c): JSON values to PostgreSQL text by type, a
 * record mapped to its columns, the cursor after a page, the page URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/http_pull.h"
#include "syncd/sync/pull.h"

/* The text of JSON value js as type t, or NULL (malformed; why in *why). */
static const char *text_of(const char *js, enum routing_field_type t, char *why, size_t whylen)
{
	static struct buf out;
	json_t *v = json_loads(js, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	bool is_null = false;
	int r;

	assert_non_null(v);
	buf_reset(&out);
	r = pull_value_text(v, t, &out, &is_null, why, whylen);
	json_decref(v);
	if (r < 0)
		return NULL;
	if (is_null)
		return "<null>";
	assert_int_equal(buf_puts(&out, ""), 0);
	return out.data;
}

static void ok(const char *js, enum routing_field_type t, const char *want)
{
	char why[256] = "";
	const char *got = text_of(js, t, why, sizeof(why));

	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s as %s: expected \"%s\", got %s%s", js, routing_field_type_name(t), want,
			 got ? got : "an error: ", got ? "" : why);
}

static void bad(const char *js, enum routing_field_type t, const char *want_why)
{
	char why[256] = "";
	const char *got = text_of(js, t, why, sizeof(why));

	if (got != NULL)
		fail_msg("%s as %s: expected an error, got \"%s\"", js, routing_field_type_name(t), got);
	if (strstr(why, want_why) == NULL)
		fail_msg("%s as %s: expected \"%s\" in \"%s\"", js, routing_field_type_name(t), want_why,
			 why);
}

static void test_value_text(void **state)
{
	(void)state;
	ok("\"Nguyễn Văn A\"", ROUTING_FIELD_TEXT, "Nguyễn Văn A");
	ok("42", ROUTING_FIELD_TEXT, "42");
	ok("true", ROUTING_FIELD_TEXT, "true");
	ok("null", ROUTING_FIELD_TEXT, "<null>");
	bad("{\"a\":1}", ROUTING_FIELD_TEXT, "expected a string, got {\"a\":1}");
	bad("\"a\\u0000b\"", ROUTING_FIELD_TEXT, "NUL");
	ok("42", ROUTING_FIELD_INTEGER, "42");
	ok("-7", ROUTING_FIELD_INTEGER, "-7");
	ok("\"123\"", ROUTING_FIELD_INTEGER, "123");
	ok("3.0", ROUTING_FIELD_INTEGER, "3");
	bad("\"abc\"", ROUTING_FIELD_INTEGER, "expected an integer, got \"abc\"");
	bad("3.5", ROUTING_FIELD_INTEGER, "expected an integer, got 3.5");
	bad("\"12345678901234567890\"", ROUTING_FIELD_INTEGER, "expected an integer");
	bad("true", ROUTING_FIELD_INTEGER, "expected an integer, got true");
	ok("1.25", ROUTING_FIELD_NUMERIC, "1.25");
	ok("\"-0.5e3\"", ROUTING_FIELD_NUMERIC, "-0.5e3");
	ok("7", ROUTING_FIELD_NUMERIC, "7");
	bad("\"1,5\"", ROUTING_FIELD_NUMERIC, "expected a number");
	bad("\"NaN\"", ROUTING_FIELD_NUMERIC, "expected a number");
	ok("\"2024-02-29\"", ROUTING_FIELD_DATE, "2024-02-29");
	bad("\"2023-02-29\"", ROUTING_FIELD_DATE, "expected a date YYYY-MM-DD");
	bad("\"2025-13-01\"", ROUTING_FIELD_DATE, "expected a date");
	bad("\"2025-07-01T00:00:00Z\"", ROUTING_FIELD_DATE, "expected a date");
	bad("20250701", ROUTING_FIELD_DATE, "expected a date");
	ok("\"2025-07-01T08:30:00+07:00\"", ROUTING_FIELD_TIMESTAMPTZ, "2025-07-01T08:30:00+07:00");
	ok("\"2025-07-01 08:30:00.123456Z\"", ROUTING_FIELD_TIMESTAMPTZ, "2025-07-01 08:30:00.123456Z");
	ok("\"2025-07-01T08:30+0700\"", ROUTING_FIELD_TIMESTAMPTZ, "2025-07-01T08:30+0700");
	bad("\"2025-07-01T08:30:00\"", ROUTING_FIELD_TIMESTAMPTZ, "expected a timestamp with its zone");
	bad("\"2025-07-01T25:00:00Z\"", ROUTING_FIELD_TIMESTAMPTZ, "expected a timestamp");
	bad("\"yesterday\"", ROUTING_FIELD_TIMESTAMPTZ, "expected a timestamp");
	ok("false", ROUTING_FIELD_BOOLEAN, "false");
	ok("\"true\"", ROUTING_FIELD_BOOLEAN, "true");
	bad("1", ROUTING_FIELD_BOOLEAN, "expected true or false, got 1");
	bad("\"yes\"", ROUTING_FIELD_BOOLEAN, "expected true or false");
}

static struct routing_field fields[] = {
	{"id", "id", ROUTING_FIELD_INTEGER},
	{"ma_xa", "unit.code", ROUTING_FIELD_TEXT},
	{"so_tien", "fee", ROUTING_FIELD_NUMERIC},
	{"ngay", "dates.filed", ROUTING_FIELD_DATE},
};
static char *key[] = {"id"};
static const struct routing_table table = {.table = "public.cases",
					   .unit_column = "ma_xa",
					   .fields = fields,
					   .nfields = 4,
					   .key = key,
					   .nkey = 1};

/* Maps record js; NULL when it maps, else the error. */
static const char *map(const char *js, struct connector_value *vals, struct buf *store)
{
	static char err[512];
	json_t *rec = json_loads(js, 0, NULL);
	int r;

	assert_non_null(rec);
	r = pull_record_map(&table, rec, vals, store, err, sizeof(err));
	json_decref(rec);
	return r == 0 ? NULL : err;
}

static void test_record_map(void **state)
{
	struct connector_value v[4];
	struct buf store = {0};
	const char *err;

	(void)state;
	err = map(
		"{\"id\":7,\"unit\":{\"code\":\"31120\"},\"fee\":\"12.50\",\"dates\":{\"filed\":\"2025-07-02\"}}",
		v, &store);
	assert_null(err);
	assert_int_equal(v[0].kind, CV_VALUE);
	assert_int_equal(v[0].len, 1);
	assert_memory_equal(v[0].p, "7", 1);
	assert_int_equal(v[1].len, 5);
	assert_memory_equal(v[1].p, "31120", 5);
	assert_memory_equal(v[2].p, "12.50", 5);
	assert_memory_equal(v[3].p, "2025-07-02", 10);
	/* optional fields missing or null: NULL */
	assert_null(map("{\"id\":8,\"unit\":{\"code\":\"31120\"},\"fee\":null}", v, &store));
	assert_int_equal(v[2].kind, CV_NULL);
	assert_int_equal(v[3].kind, CV_NULL);
	assert_memory_equal(v[1].p, "31120", 5);
	err = map("{\"id\":\"abc\",\"unit\":{\"code\":\"31120\"}}", v, &store);
	assert_string_equal(err, "field \"id\" (column id): expected an integer, got \"abc\"");
	err = map("{\"unit\":{\"code\":\"31120\"}}", v, &store);
	assert_string_equal(err, "field \"id\" (column id, a key column) is missing");
	err = map("{\"id\":1,\"unit\":{\"code\":null}}", v, &store);
	assert_string_equal(err, "field \"unit.code\" (column ma_xa, the unit column) is null");
	err = map("{\"id\":1,\"unit\":\"31120\"}", v, &store);
	assert_string_equal(err, "field \"unit.code\" (column ma_xa, the unit column) is missing");
	err = map("{\"id\":1,\"unit\":{\"code\":\"31120\"},\"dates\":{\"filed\":\"02/07/2025\"}}", v, &store);
	assert_string_equal(
		err, "field \"dates.filed\" (column ngay): expected a date YYYY-MM-DD, got \"02/07/2025\"");
	buf_free(&store);
}

/* The cursor after page js: "text", "<none>" or "error: ...". */
static const char *cursor(const char *js, const char *next_field, const char *cursor_field)
{
	static char out[512];
	json_t *page = json_loads(js, 0, NULL);
	struct buf b = {0};
	bool more = true;
	char err[256];

	assert_non_null(page);
	if (pull_page_cursor(page, json_object_get(page, "items"), next_field, cursor_field, &b, &more, err,
			     sizeof(err)) < 0)
		snprintf(out, sizeof(out), "error: %s", err);
	else if (!more)
		snprintf(out, sizeof(out), "<none>");
	else
		snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
	buf_free(&b);
	json_decref(page);
	return out;
}

static void test_page_cursor(void **state)
{
	(void)state;
	/* the greatest cursor field */
	assert_string_equal(
		cursor("{\"items\":[{\"u\":\"2025-07-01T00:00:02Z\"},{\"u\":\"2025-07-01T00:00:09Z\"},"
		       "{\"u\":\"2025-07-01T00:00:05Z\"}]}",
		       NULL, "u"),
		"2025-07-01T00:00:09Z");
	assert_string_equal(cursor("{\"items\":[{\"s\":9},{\"s\":10},{\"s\":2}]}", NULL, "s"), "10");
	assert_string_equal(cursor("{\"items\":[{\"m\":{\"v\":3}},{\"m\":{\"v\":4}}]}", NULL, "m.v"), "4");
	assert_string_equal(cursor("{\"items\":[]}", NULL, "u"), "<none>");
	assert_string_equal(cursor("{\"items\":[{\"u\":1},{\"x\":2}]}", NULL, "u"),
			    "error: record 1: the cursor field \"u\" is missing");
	assert_string_equal(
		cursor("{\"items\":[{\"u\":1},{\"u\":\"2\"}]}", NULL, "u"),
		"error: record 1: the cursor field \"u\" is a string where record 0's is a number");
	/* the next-page token */
	assert_string_equal(cursor("{\"items\":[{\"u\":1}],\"next\":\"opaque==\"}", "next", "u"), "opaque==");
	assert_string_equal(cursor("{\"items\":[{\"u\":1}],\"paging\":{\"next\":42}}", "paging.next", "u"),
			    "42");
	assert_string_equal(cursor("{\"items\":[{\"u\":1}],\"next\":null}", "next", "u"), "<none>");
	assert_string_equal(cursor("{\"items\":[{\"u\":1}],\"next\":\"\"}", "next", "u"), "<none>");
	assert_string_equal(cursor("{\"items\":[{\"u\":1}]}", "next", "u"), "<none>");
	assert_string_equal(cursor("{\"items\":[{\"u\":1}],\"next\":[1]}", "next", "u"),
			    "error: the next-page token \"next\" is neither a string nor a number");
}

static void test_url(void **state)
{
	const char *names[2] = {"updated_since", "limit"}, *values[2] = {"2025-07-01T08:30:00+07:00", "200"};
	struct buf out = {0};

	(void)state;
	assert_int_equal(http_pull_url("https://a.vn/cases", names, values, 2, &out), 0);
	assert_string_equal(out.data,
			    "https://a.vn/cases?updated_since=2025-07-01T08%3A30%3A00%2B07%3A00&limit=200");
	assert_int_equal(http_pull_url("https://a.vn/cases?x=1", names, values, 2, &out), 0);
	assert_string_equal(
		out.data, "https://a.vn/cases?x=1&updated_since=2025-07-01T08%3A30%3A00%2B07%3A00&limit=200");
	values[0] = NULL; /* the first page: no cursor */
	names[1] = NULL;  /* no page size */
	assert_int_equal(http_pull_url("https://a.vn/cases", names, values, 2, &out), 0);
	assert_string_equal(out.data, "https://a.vn/cases");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_text),
		cmocka_unit_test(test_record_map),
		cmocka_unit_test(test_page_cursor),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests_name("pull", tests, NULL, NULL);
}
