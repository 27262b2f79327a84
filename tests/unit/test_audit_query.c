/* test_audit_query.c — the audit query's SQL (authz/audit_query.c): every
 * filter given becomes a numbered parameter, never text in the SQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "authz/audit.h"

#define SELECT_HEAD                                                                                          \
	"SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, client, "   \
	"request_id, action, unit, object, decision, reason, encode(hash, 'hex') FROM public.syncd_audit "   \
	"WHERE true"

static void test_no_filter(void **state)
{
	struct audit_filter f = {.limit = 100};
	struct buf sql = {0};
	const char *params[8];
	int np = -1;

	(void)state;
	assert_int_equal(audit_query_sql(&f, &sql, params, &np), 0);
	assert_int_equal(np, 0);
	assert_string_equal(sql.data, SELECT_HEAD " ORDER BY seq LIMIT 101");
	buf_free(&sql);
}

static void test_every_filter(void **state)
{
	struct audit_filter f = {.unit = "31120",
				 .actor = "kiem.do",
				 .action = "audit.read",
				 .object = "x' OR '1'='1",
				 .decision = "deny",
				 .from = "2026-01-01T00:00:00Z",
				 .to = "2026-02-01T00:00:00Z",
				 .cursor = "42",
				 .limit = 1000};
	struct buf sql = {0};
	const char *params[8];
	int np = 0;

	(void)state;
	assert_int_equal(audit_query_sql(&f, &sql, params, &np), 0);
	assert_int_equal(np, 8);
	assert_string_equal(sql.data, SELECT_HEAD
			    " AND unit = $1 AND actor = $2 AND action = $3 AND object = $4 "
			    "AND decision = $5 AND at >= $6::timestamptz AND at < $7::timestamptz "
			    "AND seq > $8::bigint ORDER BY seq LIMIT 1001");
	/* values travel as parameters, in order, never inside the SQL */
	assert_ptr_equal(params[0], f.unit);
	assert_ptr_equal(params[3], f.object);
	assert_ptr_equal(params[7], f.cursor);
	assert_null(strstr(sql.data, "kiem.do"));
	assert_null(strstr(sql.data, "'1'='1"));
	buf_free(&sql);
}

static void test_some_filters(void **state)
{
	struct audit_filter f = {.actor = "an.nguyen", .to = "2026-02-01T00:00:00Z", .limit = 1};
	struct buf sql = {0};
	const char *params[8];
	int np = 0;

	(void)state;
	assert_int_equal(audit_query_sql(&f, &sql, params, &np), 0);
	assert_int_equal(np, 2);
	assert_string_equal(sql.data,
			    SELECT_HEAD " AND actor = $1 AND at < $2::timestamptz ORDER BY seq LIMIT 2");
	assert_string_equal(params[0], "an.nguyen");
	assert_string_equal(params[1], "2026-02-01T00:00:00Z");
	buf_free(&sql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_every_filter),
		cmocka_unit_test(test_some_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
