/* test_audit.c — the audit body of bytes that are not UTF-8: json_pack
 * refuses them, so an unclean field failed its row (and, before item-by-item
 * retries, the whole batch); cleaned first, the row has a body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "authz/audit.h"
#include "common/text.h"

static const char *const at = "2026-11-27T10:00:00.000001Z";

/* the 0xFF 0xC3 Basic username and a %FF%FE path decoded */
static const char bad_actor[] = "\xff\xc3";
static const char bad_object[] = "/v1/documents/\xff\xfe/verify\r\n<3>x";

static void test_body_of_raw_bytes_fails(void **state)
{
	struct audit_event ev = {bad_actor, "127.0.0.1", "r1", "login", "", bad_object, "deny", "bad"};

	(void)state;
	assert_null(audit_body(1, at, &ev)); /* the bug: no body, no row */
}

static void test_body_of_cleaned_bytes(void **state)
{
	char *actor = text_clean_dup(bad_actor), *object = text_clean_dup(bad_object), *b;
	struct audit_event ev = {actor, "127.0.0.1", "r1", "login", "", object, "deny", "bad"};
	json_t *o;

	(void)state;
	assert_non_null(actor);
	assert_non_null(object);
	b = audit_body(1, at, &ev);
	assert_non_null(b);
	o = json_loads(b, 0, NULL);
	assert_non_null(o);
	/* U+FFFD for each byte that starts nothing, controls escaped */
	assert_string_equal(json_string_value(json_object_get(o, "actor")), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(o, "object")),
			    "/v1/documents/\xef\xbf\xbd\xef\xbf\xbd/verify\\x0d\\x0a<3>x");
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
	json_decref(o);
	free(b);
	free(actor);
	free(object);
}

/* a field capped by text_clean into a fixed buffer still makes a body: the
 * cut falls between characters, never inside one */
static void test_body_of_capped_field(void **state)
{
	char in[3000], capped[2001], *b;
	struct audit_event ev = {"reg1", "127.0.0.1", "r1", "authz.check", "31120", capped, "allow", ""};

	(void)state;
	for (size_t i = 0; i + 2 < sizeof(in); i += 2)
		memcpy(in + i, "\xc3\xa1", 2); /* á, two bytes each */
	in[sizeof(in) - 1] = '\0';
	in[sizeof(in) - 2] = 'x';
	/* a 2000-byte cap, then an odd 1999: the second cut would split an á */
	assert_int_equal(text_clean(in, strlen(in), capped, sizeof(capped)), 2000);
	assert_int_equal(text_clean(in, strlen(in), capped, sizeof(capped) - 1), 1998);
	b = audit_body(2, at, &ev);
	assert_non_null(b);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_of_raw_bytes_fails),
		cmocka_unit_test(test_body_of_cleaned_bytes),
		cmocka_unit_test(test_body_of_capped_field),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
