/* test_text.c — text_clean, text_is_clean and text_csv_cell against the
 * cases in tests/data/text/clean.tsv and csv.tsv (hex input, expected text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/text.h"

#define DATA "tests/data/text/"

static int unhex(const char *h, char *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	if (strlen(h) % 2 != 0 || n > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hex_digit(h[2 * i]), b = hex_digit(h[2 * i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i] = (char)(a * 16 + b);
	}
	return (int)n;
}

/* Each line: HEX-INPUT TAB HEX-EXPECTED (# comments, blank lines skipped). */
static int each_case(const char *file, void (*fn)(const char *in, size_t inlen, const char *want, int line))
{
	FILE *f = fopen(file, "r");
	char line[20000];
	int n = 0, lineno = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t'), in[5000], want[9000];
		int il, wl;

		lineno++;
		if (line[0] == '#' || line[0] == '\n' || tab == NULL)
			continue;
		*tab = '\0';
		tab[1 + strcspn(tab + 1, "\n")] = '\0';
		il = unhex(line, in, sizeof(in) - 1);
		wl = unhex(tab + 1, want, sizeof(want) - 1);
		assert_true(il >= 0 && wl >= 0);
		in[il] = '\0';
		want[wl] = '\0';
		fn(in, (size_t)il, want, lineno);
		n++;
	}
	fclose(f);
	return n;
}

static void one_clean(const char *in, size_t inlen, const char *want, int line)
{
	char out[9000];
	size_t n = text_clean(in, inlen, out, sizeof(out));

	if (strcmp(out, want) != 0)
		fail_msg("clean.tsv line %d: got \"%s\", want \"%s\"", line, out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(text_is_clean(in, inlen), strcmp(in, want) == 0 && strlen(in) == inlen);
}

static void test_clean(void **state)
{
	(void)state;
	assert_true(each_case(DATA "clean.tsv", one_clean) >= 10);
}

/* a full buffer stops at a character boundary, never inside one */
static void test_clean_truncates_whole_characters(void **state)
{
	char out[6];

	(void)state;
	assert_int_equal(text_clean("Nguy\xe1\xbb\x85n", 9, out, sizeof(out)), 4);
	assert_string_equal(out, "Nguy");
	assert_int_equal(text_clean("ab\x01", 3, out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
}

static void test_clean_dup(void **state)
{
	char *s;

	(void)state;
	s = text_clean_dup("\x01\x02\x03");
	assert_string_equal(s, "\\x01\\x02\\x03");
	free(s);
}

static void one_csv(const char *in, size_t inlen, const char *want, int line)
{
	char *got = text_csv_cell(in);

	(void)inlen;
	if (strcmp(got, want) != 0)
		fail_msg("csv.tsv line %d: got [%s], want [%s]", line, got, want);
	free(got);
}

static void test_csv(void **state)
{
	(void)state;
	assert_true(each_case(DATA "csv.tsv", one_csv) >= 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_clean_truncates_whole_characters),
		cmocka_unit_test(test_clean_dup),
		cmocka_unit_test(test_csv),
	};
	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
