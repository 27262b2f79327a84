/* test_fold.c — the search's fold lists (syncd/documents/fold.c) against
 * tests/data/fold/vietnamese.tsv, made from Unicode's decompositions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hex.h"
#include "syncd/documents/fold.h"

#define TSV   "tests/data/fold/vietnamese.tsv"
#define MAXCH 400

/* A list split into its UTF-8 characters (each NUL-terminated). */
struct chars {
	char c[MAXCH][5];
	size_t n;
};

static void split(const char *s, struct chars *out)
{
	out->n = 0;
	while (*s) {
		size_t len = 1;

		while ((s[len] & 0xC0) == 0x80)
			len++;
		assert_true(len <= 4 && out->n < MAXCH);
		memcpy(out->c[out->n], s, len);
		out->c[out->n++][len] = '\0';
		s += len;
	}
}

static struct chars from, to;

static int setup(void **state)
{
	struct buf f = {0}, t = {0};

	(void)state;
	assert_int_equal(fold_lists(&f, &t), 0);
	split(f.data, &from);
	split(t.data, &to);
	buf_free(&f);
	buf_free(&t);
	return 0;
}

/* What translate(ch, from, to) then lower() make of one character. */
static const char *fold_one(const char *ch, char *out)
{
	strcpy(out, ch);
	for (size_t i = 0; i < from.n; i++)
		if (strcmp(from.c[i], ch) == 0)
			strcpy(out, to.c[i]);
	if (strlen(out) == 1)
		out[0] = (char)tolower((unsigned char)out[0]);
	return out;
}

/* Each line of the TSV: the letter in hex, its base; fn sees both. */
static int each_letter(void (*fn)(const char *letter, const char *base, int line))
{
	FILE *f = fopen(TSV, "r");
	char line[256];
	int n = 0, lineno = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char hexs[32], base[8], letter[8];
		size_t len;

		lineno++;
		if (line[0] == '#' || sscanf(line, "%31[0-9a-f]\t%7[a-z]", hexs, base) != 2)
			continue;
		len = strlen(hexs) / 2;
		assert_true(len >= 1 && len <= 4);
		for (size_t i = 0; i < len; i++)
			letter[i] = (char)(hex_digit(hexs[2 * i]) * 16 + hex_digit(hexs[2 * i + 1]));
		letter[len] = '\0';
		fn(letter, base, lineno);
		n++;
	}
	fclose(f);
	return n;
}

static void check_letter(const char *letter, const char *base, int line)
{
	char got[8];

	if (strcmp(fold_one(letter, got), base) != 0)
		fail_msg("vietnamese.tsv line %d: %s folds to [%s], want [%s]", line, letter, got, base);
}

/* every letter of the alphabet, both cases, each vowel with each of the 5
 * tone marks (and ă â ê ô ơ ư đ), folds to its ASCII base in lower case */
static void test_every_letter_folds_to_its_base(void **state)
{
	(void)state;
	/* 29 letters in two cases, 12 vowels with 5 tones in two cases */
	assert_int_equal(each_letter(check_letter), 29 * 2 + 12 * 5 * 2);
}

static size_t in_tsv;

static void count_marked(const char *letter, const char *base, int line)
{
	(void)base;
	(void)line;
	if (strlen(letter) > 1)
		in_tsv++;
}

/* the lists hold exactly the marked letters: as many as the TSV, one base
 * letter (ASCII) each, none twice */
static void test_lists_hold_exactly_the_marked_letters(void **state)
{
	(void)state;
	in_tsv = 0;
	each_letter(count_marked);
	assert_int_equal(from.n, in_tsv);
	assert_int_equal(from.n, 134);
	assert_int_equal(to.n, from.n);
	for (size_t i = 0; i < from.n; i++) {
		assert_true(strlen(from.c[i]) > 1);
		assert_true(strlen(to.c[i]) == 1 && isalpha((unsigned char)to.c[i][0]));
		for (size_t j = 0; j < i; j++)
			if (strcmp(from.c[i], from.c[j]) == 0)
				fail_msg("%s is in the list twice", from.c[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_letter_folds_to_its_base),
		cmocka_unit_test(test_lists_hold_exactly_the_marked_letters),
	};
	return cmocka_run_group_tests_name("fold", tests, setup, NULL);
}
