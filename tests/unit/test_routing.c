/* test_routing.c — the router (every era, the cutover on both sides, every
 * split rule, re-used codes, unknown/NULL/malformed codes), masking, and
 * routing.json validation errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncd/sync/routing.h"

static struct routing *policy; /* the shipped policies/ */

static int setup(void **state)
{
	char err[1024];

	(void)state;
	policy = routing_load("policies", err, sizeof(err));
	if (policy == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	routing_free(policy);
	return 0;
}

static const struct routing_table *table(const char *name)
{
	for (size_t i = 0; i < routing_table_count(policy); i++)
		if (strcmp(routing_table_get(policy, i)->table, name) == 0)
			return routing_table_get(policy, i);
	fail_msg("table %s not in policies/routing.json", name);
	return NULL;
}

/* Routes with NULL meaning SQL NULL; returns the unit or -(reason). */
static int route(const char *tbl, const char *unit, const char *date, const char *split, const char *key,
		 enum routing_era *era)
{
	struct router_row row = {0};
	int code = 0;
	enum router_reason why;

	row.unit = unit;
	row.unit_len = unit ? strlen(unit) : 0;
	row.date = date;
	row.date_len = date ? strlen(date) : 0;
	row.split = split;
	row.split_len = split ? strlen(split) : 0;
	row.key = key;
	row.key_len = key ? strlen(key) : 0;
	why = router_route(policy, table(tbl), &row, &code, era);
	return why == ROUTER_OK ? code : -(int)why;
}

#define R(...) route(__VA_ARGS__, NULL)

static void test_units_loaded(void **state)
{
	(void)state;
	assert_int_equal(routing_unit_count(policy), 103);
	assert_string_equal(routing_unit_find(policy, 31120)->full_name, "Phường Cái Khế");
	assert_null(routing_unit_find(policy, 31117)); /* pre-2025 only */
	assert_int_equal(routing_unit_index(policy, 31120), 0);
	assert_int_equal(routing_unit_index(policy, 99999), -1);
	assert_int_equal(routing_unit_index(policy, -5), -1);
}

static void test_old_era(void **state)
{
	enum routing_era era = ROUTING_ERA_NEW;

	(void)state;
	/* old Phường Cái Khế (31117) and old Phường An Hòa (31120) both became 31120 */
	assert_int_equal(route("public.thua_dat", "31117", NULL, "5", NULL, &era), 31120);
	assert_int_equal(era, ROUTING_ERA_OLD);
	assert_int_equal(R("public.thua_dat", "31120", NULL, "5", NULL), 31120);
	/* old 31135 Tân An is now in Ninh Kiều, which kept the code */
	assert_int_equal(R("public.thua_dat", "31123", NULL, "5", NULL), 31135);
	/* a unit in Hậu Giang and one in Sóc Trăng */
	assert_int_equal(R("public.to_ban_do", "31213", NULL, "1", NULL), 31213); /* unchanged unit */
	assert_int_equal(R("public.thua_dat", "99999", NULL, "5", NULL), -ROUTER_UNIT_UNKNOWN_OLD);
}

static void test_new_era(void **state)
{
	enum routing_era era = ROUTING_ERA_OLD;

	(void)state;
	/* giay_chung_nhan on/after the cutover reads codes as new units */
	assert_int_equal(route("public.giay_chung_nhan", "31120", "2025-07-01", "5", NULL, &era), 31120);
	assert_int_equal(era, ROUTING_ERA_NEW);
	assert_int_equal(R("public.giay_chung_nhan", "31117", "2025-07-01", "5", NULL),
			 -ROUTER_UNIT_UNKNOWN_NEW);
	assert_int_equal(R("public.giay_chung_nhan", "31178", "2026-01-15", "5", NULL),
			 -ROUTER_UNIT_UNKNOWN_NEW);
	assert_int_equal(R("public.giay_chung_nhan", "31183", "2026-01-15", "999", NULL), 31183);
}

static void test_by_date_cutover(void **state)
{
	(void)state;
	/* the day before: old code 31117 (old Cái Khế) -> 31120 */
	assert_int_equal(R("public.khai_sinh", "31117", "2025-06-30", NULL, NULL), 31120);
	/* from the cutover the same number is unknown */
	assert_int_equal(R("public.khai_sinh", "31117", "2025-07-01", NULL, NULL), -ROUTER_UNIT_UNKNOWN_NEW);
	/* a timestamp column works too */
	assert_int_equal(R("public.khai_sinh", "31117", "2025-06-30 23:59:59+07", NULL, NULL), 31120);
	assert_int_equal(R("public.khai_sinh", "31135", "2025-07-01 00:00:00+07", NULL, NULL), 31135);
	/* 31123 old Thới Bình -> 31135 before; unknown as a new code after */
	assert_int_equal(R("public.khai_sinh", "31123", "1999-12-31", NULL, NULL), 31135);
	assert_int_equal(R("public.khai_sinh", "31123", "2026-02-01", NULL, NULL), -ROUTER_UNIT_UNKNOWN_NEW);
	assert_int_equal(R("public.khai_sinh", "31120", NULL, NULL, NULL), -ROUTER_DATE_NULL);
	assert_int_equal(R("public.khai_sinh", "31120", "30/06/2025", NULL, NULL), -ROUTER_DATE_MALFORMED);
	assert_int_equal(R("public.khai_sinh", "31120", "2025-13-01", NULL, NULL), -ROUTER_DATE_MALFORMED);
	assert_int_equal(R("public.khai_sinh", "31120", "2025-06", NULL, NULL), -ROUTER_DATE_MALFORMED);
}

static void test_split_by_sheet(void **state)
{
	(void)state;
	/* 31178 Bùi Hữu Nghĩa -> 31120 (sheets 1-30) / 31168 (31-60) */
	assert_int_equal(R("public.thua_dat", "31178", NULL, "1", NULL), 31120);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "30", NULL), 31120);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "31", NULL), 31168);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "60", NULL), 31168);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "61", NULL), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "0", NULL), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "-3", NULL), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.thua_dat", "31178", NULL, NULL, NULL), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "12a", NULL), -ROUTER_SPLIT_UNRESOLVED);
	/* 31183 Long Tuyền -> 31150 / 31183; 31207 Thốt Nốt -> 31228 / 31207 */
	assert_int_equal(R("public.thua_dat", "31183", NULL, "7", NULL), 31150);
	assert_int_equal(R("public.thua_dat", "31183", NULL, "59", NULL), 31183);
	assert_int_equal(R("public.thua_dat", "31207", NULL, "40", NULL), 31228);
	assert_int_equal(R("public.thua_dat", "31207", NULL, "41", NULL), 31207);
	/* by_date + split: before the cutover the split applies */
	assert_int_equal(R("public.giay_chung_nhan", "31207", "2020-05-05", "80", NULL), 31207);
}

static void test_split_override(void **state)
{
	struct router_row row = {.unit = "31178", .unit_len = 5, .split = "999", .split_len = 3};

	(void)state;
	/* the override file wins over the sheet ranges */
	assert_int_equal(R("public.thua_dat", "31178", NULL, "999", "1"), 31168);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "10", "1"), 31168);
	assert_int_equal(R("public.thua_dat", "31183", NULL, "999", "2"), 31183);
	assert_int_equal(R("public.thua_dat", "31207", NULL, "999", "3"), 31228);
	/* keys not listed, or listed for another table, do not match */
	assert_int_equal(R("public.thua_dat", "31178", NULL, "999", "4"), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.thua_dat", "31178", NULL, "999", "11"), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.to_ban_do", "31178", NULL, "999", "1"), -ROUTER_SPLIT_UNRESOLVED);
	assert_int_equal(R("public.muc_dich_su_dung", "31178", NULL, "999", "1"), 31168);
	/* the override applies only to split units: a plain old code ignores it */
	assert_int_equal(R("public.thua_dat", "31117", NULL, "999", "1"), 31120);
	assert_true(router_needs_key(policy, &row));
	row.unit = "31117";
	assert_false(router_needs_key(policy, &row));
}

static void test_split_registers(void **state)
{
	(void)state;
	/* civil registers of split wards stay with the unit that keeps them */
	assert_int_equal(R("public.khai_sinh", "31178", "2010-01-01", NULL, NULL), 31168);
	assert_int_equal(R("public.ket_hon", "31183", "2010-01-01", NULL, NULL), 31183);
	assert_int_equal(R("public.khai_tu", "31207", "2024-12-31", NULL, NULL), 31207);
}

static void test_unit_values(void **state)
{
	(void)state;
	assert_int_equal(R("public.thua_dat", NULL, NULL, "1", NULL), -ROUTER_UNIT_NULL);
	assert_int_equal(R("public.thua_dat", "", NULL, "1", NULL), -ROUTER_UNIT_NULL);
	assert_int_equal(R("public.thua_dat", "9999", NULL, "1", NULL), -ROUTER_UNIT_MALFORMED);
	assert_int_equal(R("public.thua_dat", "311200", NULL, "1", NULL), -ROUTER_UNIT_MALFORMED);
	assert_int_equal(R("public.thua_dat", "AB123", NULL, "1", NULL), -ROUTER_UNIT_MALFORMED);
	assert_int_equal(R("public.thua_dat", " 3112", NULL, "1", NULL), -ROUTER_UNIT_MALFORMED);
	assert_int_equal(R("public.khai_sinh", NULL, NULL, NULL, NULL), -ROUTER_UNIT_NULL);
	assert_string_equal(router_reason_name(ROUTER_SPLIT_UNRESOLVED), "split_unresolved");
	assert_string_equal(router_reason_name(ROUTER_UNIT_UNKNOWN_NEW), "unit_unknown_new");
	assert_string_equal(router_reason_name((enum router_reason)99), "unknown");
}

static void test_mask(void **state)
{
	char out[256];
	long n;

	(void)state;
	n = mask_apply(MASK_LAST4, "0912345678", 10, out, sizeof(out));
	assert_int_equal(n, 10);
	assert_memory_equal(out, "******5678", 10);
	n = mask_apply(MASK_LAST4, "abc", 3, out, sizeof(out));
	assert_memory_equal(out, "***", 3);
	assert_int_equal(n, 3);
	n = mask_apply(MASK_LAST4, "", 0, out, sizeof(out));
	assert_int_equal(n, 0);
	/* characters, not bytes: "Nguyễn" is 6 characters, 8 bytes */
	n = mask_apply(MASK_LAST4, "Nguyễn", strlen("Nguyễn"), out, sizeof(out));
	assert_int_equal(n, (long)strlen("**uyễn"));
	assert_memory_equal(out, "**uyễn", (size_t)n);
	assert_int_equal(mask_apply(MASK_NULL, "x", 1, out, sizeof(out)), -1);
	n = mask_apply(MASK_SHA256, "abc", 3, out, sizeof(out));
	assert_int_equal(n, 64);
	assert_memory_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 64);
	assert_string_equal(mask_kind_name(MASK_LAST4), "last4");
	/* the shipped policy masks the land user's phone, not what documents print */
	assert_int_equal(table("public.nguoi_su_dung")->nmasks, 1);
	assert_string_equal(table("public.nguoi_su_dung")->masks[0].column, "so_dien_thoai");
}

/* ---- routing.json validation ---------------------------------------------- */

static char tmpdir[PATH_MAX];

static const char *load_error(const char *split_rules, const char *tables)
{
	static char err[1024];
	char path[PATH_MAX + 32], cwd[PATH_MAX];
	struct routing *r;
	FILE *f;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/syncd-routing-XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	snprintf(path, sizeof(path), "%s/routing.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"{\"units\": {\"list\": \"%s/policies/units/cantho_new_units.csv\",\n"
		" \"mapping\": \"%s/policies/units/cantho_old_to_new_mapping.csv\", \"cutover\": \"2025-07-01\"},\n"
		" \"split_rules\": %s,\n \"tables\": %s}\n",
		cwd, cwd, split_rules, tables);
	fclose(f);
	err[0] = '\0';
	r = routing_load(tmpdir, err, sizeof(err));
	if (r != NULL) {
		routing_free(r);
		return NULL;
	}
	return err;
}

#define T1    "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\"}]"
#define RULES "{\"31178\":{\"ranges\":[{\"from\":1,\"to\":30,\"unit\":\"31120\"}]}}"

static void expect_error(const char *split_rules, const char *tables, const char *expect)
{
	const char *err = load_error(split_rules, tables);

	if (err == NULL)
		fail_msg("expected an error containing \"%s\", but it loaded", expect);
	if (strstr(err, expect) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", expect, err);
	assert_non_null(strstr(err, "routing.json"));
}

static void test_load_errors(void **state)
{
	(void)state;
	assert_null(load_error(RULES, T1)); /* the baseline loads */
	expect_error("{\"31178\":{\"ranges\":[{\"from\":1,\"to\":30,\"unit\":\"31120\"},"
		     "{\"from\":20,\"to\":40,\"unit\":\"31168\"}]}}",
		     T1, "overlapping split rules for old unit 31178: [1,30] -> 31120 and [20,40] -> 31168");
	expect_error("{\"31178\":{\"ranges\":[{\"from\":1,\"to\":30,\"unit\":\"31135\"}]}}", T1,
		     "unit 31135 is not one of the units old unit 31178 was split into");
	expect_error("{\"31117\":{\"ranges\":[]}}", T1, "old unit 31117 was not split");
	expect_error("{\"31178\":{\"ranges\":[{\"from\":9,\"to\":3,\"unit\":\"31120\"}]}}", T1, "from <= to");
	expect_error("{\"31178\":{\"registers_kept_by\":\"31135\"}}", T1,
		     "unit 31135 is not one of the units old unit 31178 was split into");
	expect_error(RULES, "[{\"source\":\"land\",\"table\":\"t\",\"unit_column\":\"u\",\"era\":\"old\"}]",
		     "\"table\" must be schema-qualified");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"older\"}]",
		     "\"era\" must be \"new\", \"old\" or {\"by_date\": \"COLUMN\"}");
	expect_error(
		RULES,
		"[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\",\"colour\":1}]",
		"unknown key \"colour\"");
	expect_error(RULES, "[{\"source\":\"land\",\"table\":\"public.t\",\"era\":\"old\"}]",
		     "\"unit_column\" are required");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\","
		     "\"mask\":{\"p\":\"first4\"}}]",
		     "mask of \"p\" must be \"last4\", \"null\" or \"sha256\"");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\","
		     "\"columns\":[\"u\",\"a\"],\"mask\":{\"p\":\"last4\"}}]",
		     "masked column \"p\" is not in \"columns\"");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\","
		     "\"columns\":[\"a\"]}]",
		     "the unit column \"u\" must be in \"columns\"");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\"},"
		     "{\"source\":\"civil\",\"table\":\"other.t\",\"unit_column\":\"u\",\"era\":\"new\"}]",
		     "would both be \"t\" in each unit; set \"target_table\"");
	expect_error(RULES,
		     "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\"},"
		     "{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"new\"}]",
		     "routed twice");
	expect_error(
		RULES,
		"[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\","
		"\"split\":{\"column\":\"s\",\"rules\":[{\"old_unit\":\"31207\",\"from\":1,\"to\":5,\"unit\":\"31228\"},"
		"{\"old_unit\":\"31207\",\"from\":5,\"to\":9,\"unit\":\"31207\"}]}}]",
		"overlapping split rules for old unit 31207");
	expect_error(
		RULES,
		"[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\",\"split\":{}}]",
		"\"split\" needs \"column\"");
	expect_error(RULES, "[]", "\"tables\" must be a non-empty array");
	expect_error(RULES, "[{\"source\":\"land\",", "routing.json:4: "); /* JSON syntax with its line */
}

static void test_table_level_rules(void **state)
{
	(void)state;
	assert_null(load_error(
		"{}", "[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\","
		      "\"split\":{\"column\":\"s\",\"rules\":[{\"old_unit\":\"31207\",\"from\":1,\"to\":5,"
		      "\"unit\":\"31228\"}]},\"columns\":[\"u\",\"s\"],\"mask\":{\"s\":\"null\"},"
		      "\"target_table\":\"tt\"}]"));
}

/* a kind = http source's table: "fields" and "key" */
#define HT(rest)                                                                                             \
	"[{\"source\":\"cases\",\"table\":\"public.cases\",\"unit_column\":\"unit\",\"era\":\"new\","        \
	"\"fields\":{\"id\":{\"field\":\"id\",\"type\":\"integer\"},"                                        \
	"\"unit\":{\"field\":\"unit.code\",\"type\":\"text\"}" rest "}]"

static void test_fields(void **state)
{
	char path[PATH_MAX + 32];
	const struct routing_table *t;
	struct routing *r;
	char err[1024];

	(void)state;
	assert_null(
		load_error("{}", HT(",\"d\":{\"field\":\"dates.filed\",\"type\":\"date\"}},\"key\":[\"id\"],"
				    "\"mask\":{\"d\":\"null\"}")));
	snprintf(path, sizeof(path), "%s", tmpdir);
	r = routing_load(path, err, sizeof(err));
	assert_non_null(r);
	t = routing_table_get(r, 0);
	assert_int_equal(t->nfields, 3);
	assert_string_equal(t->fields[0].column, "id");
	assert_int_equal(t->fields[0].type, ROUTING_FIELD_INTEGER);
	assert_string_equal(t->fields[1].path, "unit.code");
	assert_int_equal(t->fields[2].type, ROUTING_FIELD_DATE);
	assert_string_equal(routing_field_type_name(t->fields[2].type), "date");
	assert_int_equal(t->nkey, 1);
	assert_string_equal(t->key[0], "id");
	routing_free(r);
	/* a PostgreSQL table has neither */
	assert_null(load_error("{}", T1));
	expect_error("{}", HT("}"), "tables[0] (public.cases): \"key\" is required with \"fields\"");
	expect_error("{}", HT("},\"key\":[\"nope\"]"),
		     "tables[0] (public.cases): key column \"nope\" is not one of \"fields\"");
	expect_error("{}", HT("},\"key\":[\"id\",\"id\"]"), "key column \"id\" is listed twice");
	expect_error("{}", HT(",\"n\":{\"field\":\"n\",\"type\":\"int\"}},\"key\":[\"id\"]"),
		     "tables[0] (public.cases): fields.n: \"type\" must be text, integer, numeric, date, "
		     "timestamptz or boolean");
	expect_error("{}", HT(",\"n\":{\"field\":\"a..b\",\"type\":\"text\"}},\"key\":[\"id\"]"),
		     "fields.n: \"field\" must be the record's field");
	expect_error("{}", HT(",\"n\":{\"field\":\"n\",\"type\":\"text\",\"default\":1}},\"key\":[\"id\"]"),
		     "fields.n: unknown key \"default\"");
	expect_error("{}", HT(",\"n\":\"n\"},\"key\":[\"id\"]"), "fields.n: expected {\"field\"");
	expect_error("{}", HT("},\"key\":[\"id\"],\"columns\":[\"id\"]"),
		     "\"columns\" and \"fields\" exclude each other");
	expect_error("{}", HT("},\"key\":[\"id\"],\"mask\":{\"x\":\"null\"}"),
		     "masked column \"x\" is not in \"fields\"");
	expect_error(
		"{}",
		"[{\"source\":\"cases\",\"table\":\"public.cases\",\"unit_column\":\"u\",\"era\":\"new\","
		"\"fields\":{\"id\":{\"field\":\"id\",\"type\":\"integer\"}},\"key\":[\"id\"]}]",
		"the unit column \"u\" must be in \"fields\"");
	expect_error(
		"{}",
		"[{\"source\":\"cases\",\"table\":\"public.cases\",\"unit_column\":\"u\",\"era\":{\"by_date\":\"d\"},"
		"\"fields\":{\"u\":{\"field\":\"u\",\"type\":\"text\"}},\"key\":[\"u\"]}]",
		"the by_date column \"d\" must be one of \"fields\"");
	expect_error(
		"{}",
		"[{\"source\":\"land\",\"table\":\"public.t\",\"unit_column\":\"u\",\"era\":\"old\",\"key\":[\"u\"]}]",
		"\"key\" goes with \"fields\"");
}

static int teardown_tmp(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	if (tmpdir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/routing.json", tmpdir);
		unlink(path);
		rmdir(tmpdir);
		tmpdir[0] = '\0'; /* the next test makes its own */
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_loaded),
		cmocka_unit_test(test_old_era),
		cmocka_unit_test(test_new_era),
		cmocka_unit_test(test_by_date_cutover),
		cmocka_unit_test(test_split_by_sheet),
		cmocka_unit_test(test_split_override),
		cmocka_unit_test(test_split_registers),
		cmocka_unit_test(test_unit_values),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test_teardown(test_table_level_rules, teardown_tmp),
		cmocka_unit_test_teardown(test_fields, teardown_tmp),
	};
	return cmocka_run_group_tests_name("routing", tests, setup, teardown);
}
