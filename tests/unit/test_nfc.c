/* test_nfc.c — common/nfc.c: Vietnamese letters typed decomposed come out
 * precomposed (NFC), marks in any order; text without marks, stray marks,
 * letters with no precomposed form and other scripts pass unchanged.  The
 * expected strings were written with Python's unicodedata.normalize("NFC"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/nfc.h"

static void check(const char *in, const char *want)
{
	struct buf b = {0};

	assert_int_equal(nfc_append(in, strlen(in), &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data ? b.data : "", want, b.len);
	buf_free(&b);
}

static void test_vietnamese(void **state)
{
	(void)state;
	/* Nguyễn: e + circumflex + tilde */
	check("Nguye\xcc\x82\xcc\x83n", "Nguy\xe1\xbb\x85n");
	/* Thị: i + dot below */
	check("Thi\xcc\xa3", "Th\xe1\xbb\x8b");
	/* Phường: u + horn, o + horn + grave */
	check("Phu\xcc\x9bo\xcc\x9b\xcc\x80ng", "Ph\xc6\xb0\xe1\xbb\x9dng");
	/* Đỗ (Đ has no decomposition) + o + circumflex + tilde */
	check("\xc4\x90o\xcc\x82\xcc\x83", "\xc4\x90\xe1\xbb\x97");
	/* capital: Ầ */
	check("A\xcc\x82\xcc\x80", "\xe1\xba\xa6");
}

static void test_marks_in_any_order(void **state)
{
	(void)state;
	/* ệ typed e + circumflex + dot below, or e + dot below + circumflex */
	check("e\xcc\x82\xcc\xa3", "\xe1\xbb\x87");
	check("e\xcc\xa3\xcc\x82", "\xe1\xbb\x87");
	/* ặ: a + breve + dot below */
	check("a\xcc\x86\xcc\xa3", "\xe1\xba\xb7");
}

static void test_unchanged(void **state)
{
	(void)state;
	check("", "");
	check("Cần Thơ 31120", "Cần Thơ 31120"); /* already NFC */
	assert_false(nfc_maybe("Cần Thơ", strlen("Cần Thơ")));
	assert_true(nfc_maybe("Nguye\xcc\x82\xcc\x83n", 9));
	check("\xcc\x81x", "\xcc\x81x");		       /* a mark with no base stays */
	check("q\xcc\x82", "q\xcc\x82");		       /* no precomposed q-circumflex */
	check("\xe1\xbb\x87\xcc\x81", "\xe1\xbb\x87\xcc\x81"); /* a mark after a precomposed letter stays */
	check("\xe4\xb8\xad\xf0\x9f\x98\x80", "\xe4\xb8\xad\xf0\x9f\x98\x80"); /* CJK, emoji */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vietnamese),
		cmocka_unit_test(test_marks_in_any_order),
		cmocka_unit_test(test_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
