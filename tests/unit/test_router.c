/* test_router.c — the pure router and masks, driven by case files:
 * tests/data/routing/route.tsv (one row's unit, era or reason) and mask.tsv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/sync/routing.h"

#define MAX_FIELDS 8

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

/* Splits a case line on TABs (empty fields kept); "\N" becomes NULL. */
static int fields_split(char *line, char **f, int max)
{
	int n = 0;
	char *s = line;

	line[strcspn(line, "\n")] = '\0';
	while (s != NULL && n < max) {
		f[n] = strsep(&s, "\t");
		if (strcmp(f[n], "\\N") == 0)
			f[n] = NULL;
		n++;
	}
	return n;
}

/* Calls fn for every case line of a data file; returns the number of cases. */
static int cases_run(const char *path, int nfields, void (*fn)(char **f, const char *where))
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, ncases = 0;

	if (fp == NULL)
		fail_msg("%s: cannot open", path);
	while (getline(&line, &cap, fp) > 0) {
		char *f[MAX_FIELDS];
		char where[512];

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (fields_split(line, f, MAX_FIELDS) != nfields)
			fail_msg("%s: expected %d TAB-separated fields", where, nfields);
		fn(f, where);
		ncases++;
	}
	free(line);
	fclose(fp);
	return ncases;
}

static const struct routing_table *table(const char *name, const char *where)
{
	for (size_t i = 0; i < routing_table_count(policy); i++)
		if (strcmp(routing_table_get(policy, i)->table, name) == 0)
			return routing_table_get(policy, i);
	fail_msg("%s: table %s not in policies/routing.json", where, name);
	return NULL;
}

static const char *era_name(enum routing_era era)
{
	return era == ROUTING_ERA_OLD ? "old" : era == ROUTING_ERA_NEW ? "new" : "by_date";
}

/* table unit date split key expect era */
static void route_case(char **f, const char *where)
{
	struct router_row row = {0};
	enum routing_era era = ROUTING_ERA_BY_DATE;
	enum router_reason why;
	char got[32];
	int code = 0;

	row.unit = f[1];
	row.unit_len = f[1] ? strlen(f[1]) : 0;
	row.date = f[2];
	row.date_len = f[2] ? strlen(f[2]) : 0;
	row.split = f[3];
	row.split_len = f[3] ? strlen(f[3]) : 0;
	/* a row the override file cannot concern is routed without its key */
	if (!router_needs_key(policy, &row))
		f[4] = NULL;
	row.key = f[4];
	row.key_len = f[4] ? strlen(f[4]) : 0;
	why = router_route(policy, table(f[0], where), &row, &code, &era);
	if (why == ROUTER_OK)
		snprintf(got, sizeof(got), "%05d", code);
	else
		snprintf(got, sizeof(got), "%s", router_reason_name(why));
	if (strcmp(got, f[5]) != 0)
		fail_msg("%s: expected %s, got %s", where, f[5], got);
	if (why == ROUTER_OK && routing_unit_find(policy, code) == NULL)
		fail_msg("%s: routed to %05d, which is not a unit of the city", where, code);
	if (strcmp(f[6], "-") != 0 && strcmp(f[6], era_name(era)) != 0)
		fail_msg("%s: expected era %s, got %s", where, f[6], era_name(era));
}

static void test_route_cases(void **state)
{
	(void)state;
	assert_true(cases_run("tests/data/routing/route.tsv", 7, route_case) >= 50);
}

/* kind input expect */
static void mask_case(char **f, const char *where)
{
	static const enum mask_kind kinds[] = {MASK_LAST4, MASK_NULL, MASK_SHA256};
	const char *in = f[1] != NULL ? f[1] : "";
	size_t len = strlen(in);
	char *out = malloc(2 * len + 65);
	bool found = false;
	long n = -1;

	assert_non_null(out);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(mask_kind_name(kinds[k]), f[0]) == 0) {
			n = mask_apply(kinds[k], in, len, out, 2 * len + 65);
			found = true;
		}
	if (!found)
		fail_msg("%s: no mask named %s", where, f[0]);
	if (f[2] == NULL && n != -1)
		fail_msg("%s: expected NULL, got %ld bytes", where, n);
	if (f[2] != NULL && (n != (long)strlen(f[2]) || memcmp(out, f[2], (size_t)n) != 0))
		fail_msg("%s: expected \"%s\", got \"%.*s\"", where, f[2], (int)(n < 0 ? 0 : n), out);
	free(out);
}

static void test_mask_cases(void **state)
{
	(void)state;
	assert_true(cases_run("tests/data/routing/mask.tsv", 3, mask_case) >= 10);
}

static void test_reason_names(void **state)
{
	(void)state;
	/* every reason has its own name: they are stored in syncd_quarantine */
	for (int a = 0; a < ROUTER_REASON_COUNT; a++)
		for (int b = a + 1; b < ROUTER_REASON_COUNT; b++)
			assert_string_not_equal(router_reason_name((enum router_reason)a),
						router_reason_name((enum router_reason)b));
	assert_string_equal(router_reason_name(ROUTER_OK), "ok");
	assert_string_equal(router_reason_name(ROUTER_REASON_COUNT), "unknown");
	assert_string_equal(mask_kind_name((enum mask_kind)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_cases),
		cmocka_unit_test(test_mask_cases),
		cmocka_unit_test(test_reason_names),
	};
	return cmocka_run_group_tests_name("router", tests, setup, teardown);
}
