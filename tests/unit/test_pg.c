/* test_pg.c — the pure parts of common/pg.c and common/schema.c: one-line
 * libpq messages, and the built-in state schema's files and their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "common/schema.h"

static void test_one_line(void **state)
{
	char a[] = "ERROR:  duplicate key value violates unique constraint \"t_pkey\"\n"
		   "DETAIL:  Key (id)=(1) already exists.\n";
	char b[] = "connection to server failed\n\tIs the server running?\n";
	char c[] = "plain";
	char d[] = "trailing  \n";

	(void)state;
	pg_one_line(a);
	assert_string_equal(a, "ERROR:  duplicate key value violates unique constraint \"t_pkey\";"
			       "DETAIL:  Key (id)=(1) already exists.");
	pg_one_line(b);
	assert_string_equal(b, "connection to server failed; Is the server running?");
	pg_one_line(c);
	assert_string_equal(c, "plain");
	pg_one_line(d);
	assert_string_equal(d, "trailing");
}

static void test_error_without_connection(void **state)
{
	char err[64];

	(void)state;
	pg_error(NULL, "state database", err, sizeof(err));
	assert_string_equal(err, "state database: out of memory");
	pg_error(NULL, NULL, err, sizeof(err));
	assert_string_equal(err, "out of memory");
}

/* 001_x.sql, 002_y.sql, ...: numbered from 1 with no gap or repeat, each a
 * non-empty script ending in ';' whose every table is schema-qualified */
static void test_schema_files(void **state)
{
	(void)state;
	assert_true(schema_nfiles >= 3);
	for (size_t i = 0; i < schema_nfiles; i++) {
		const char *name = schema_files[i].name, *sql = schema_files[i].sql;
		size_t n = strlen(sql);

		assert_int_equal(atoi(name), (int)i + 1);
		assert_true(strlen(name) > 8 && name[3] == '_' &&
			    strcmp(name + strlen(name) - 4, ".sql") == 0);
		while (n > 0 && (sql[n - 1] == '\n' || sql[n - 1] == ' '))
			n--;
		assert_true(n > 0 && sql[n - 1] == ';');
		assert_null(strstr(sql, "CREATE TABLE IF NOT EXISTS syncd_"));
		assert_null(strstr(sql, "CREATE TABLE syncd_"));
	}
	assert_string_equal(schema_files[0].name, "001_sync.sql");
	assert_non_null(strstr(schema_files[1].sql, "public.syncd_audit_append"));
	assert_non_null(strstr(schema_files[2].sql, "public.syncd_documents"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_error_without_connection),
		cmocka_unit_test(test_schema_files),
	};
	return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
