/* test_session.c — browser sessions (syncd/api/session.c) with an injected
 * clock: tokens, idle and absolute expiry, the bounded table, constant-time
 * compare, Cookie header parsing; and the page's files in the dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "syncd/api/internal.h"
#include "syncd/api/session.h"

static struct authz_user person(const char *uid)
{
	struct authz_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.uid, sizeof(u.uid), "%s", uid);
	snprintf(u.name, sizeof(u.name), "Nguyễn Văn %s", uid);
	return u;
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static void test_tokens(void **state)
{
	struct session_table *t = session_table_new(4, 1800, 43200);
	struct authz_user u = person("reg1");
	char id[65], csrf[65], id2[65], csrf2[65];
	struct session_info si;

	(void)state;
	assert_int_equal(session_create(t, &u, 1000, id, csrf), SESSION_OK);
	assert_int_equal(session_create(t, &u, 1000, id2, csrf2), SESSION_OK);
	assert_true(is_hex64(id));
	assert_true(is_hex64(csrf));
	/* 256 random bits each: never the same twice, the token is not the id */
	assert_string_not_equal(id, id2);
	assert_string_not_equal(csrf, csrf2);
	assert_string_not_equal(id, csrf);
	assert_true(session_lookup(t, id, 1001, &si));
	assert_string_equal(si.user.uid, "reg1");
	assert_string_equal(si.csrf, csrf);
	assert_false(session_lookup(t, csrf, 1001, &si)); /* the token opens nothing */
	assert_int_equal(session_count(t), 2);
	session_table_free(t);
}

static void test_expiry_pure(void **state)
{
	(void)state;
	assert_false(session_expired(0, 0, 59, 60, 300));
	assert_true(session_expired(0, 0, 60, 60, 300));     /* idle */
	assert_false(session_expired(0, 250, 299, 60, 300)); /* used: still live */
	assert_true(session_expired(0, 280, 300, 60, 300));  /* absolute, however busy */
	assert_true(session_expired(100, 100, 99, 60, 300)); /* a clock gone back */
}

static void test_expiry_table(void **state)
{
	struct session_table *t = session_table_new(4, 60, 300);
	struct authz_user u = person("chair1");
	char id[65], csrf[65];
	struct session_info si;
	long idle, max;

	(void)state;
	assert_int_equal(session_create(t, &u, 0, id, csrf), SESSION_OK);
	/* each use restarts the idle time ... */
	for (time_t now = 50; now < 300; now += 50)
		assert_true(session_lookup(t, id, now, &si));
	/* ... until the absolute limit */
	assert_false(session_lookup(t, id, 300, &si));
	assert_int_equal(session_count(t), 0); /* removed when found expired */
	assert_int_equal(session_create(t, &u, 1000, id, csrf), SESSION_OK);
	assert_false(session_lookup(t, id, 1060, &si)); /* idle */
	/* a reload changes the limits of every session */
	assert_int_equal(session_create(t, &u, 2000, id, csrf), SESSION_OK);
	session_table_limits(t, 600, 3600);
	session_table_get_limits(t, &idle, &max);
	assert_int_equal(idle, 600);
	assert_int_equal(max, 3600);
	assert_true(session_lookup(t, id, 2500, &si));
	session_table_free(t);
}

static void test_remove(void **state)
{
	struct session_table *t = session_table_new(4, 60, 300);
	struct authz_user u = person("reg1");
	char id[65], csrf[65];
	struct session_info si;

	(void)state;
	assert_int_equal(session_create(t, &u, 0, id, csrf), SESSION_OK);
	assert_true(session_remove(t, id));
	assert_false(session_lookup(t, id, 1, &si));
	assert_false(session_remove(t, id));
	session_table_free(t);
}

static void test_full(void **state)
{
	struct session_table *t = session_table_new(3, 60, 300);
	struct authz_user u = person("reg1");
	char id[3][65], csrf[65], extra[65];
	struct session_info si;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(session_create(t, &u, 10 * i, id[i], csrf), SESSION_OK);
	/* full of live sessions: the sign-in is refused, nobody is evicted */
	assert_int_equal(session_create(t, &u, 30, extra, csrf), SESSION_FULL);
	for (int i = 0; i < 3; i++)
		assert_true(session_lookup(t, id[i], 30, &si));
	/* once one has expired, its slot takes the new session */
	assert_true(session_lookup(t, id[1], 80, &si));
	assert_true(session_lookup(t, id[2], 80, &si));
	assert_int_equal(session_create(t, &u, 95, extra, csrf), SESSION_OK);
	assert_false(session_lookup(t, id[0], 95, &si));
	assert_true(session_lookup(t, extra, 95, &si));
	assert_true(session_lookup(t, id[1], 95, &si));
	assert_int_equal(session_count(t), 3);
	session_table_free(t);
}

static void test_token_equal(void **state)
{
	(void)state;
	assert_true(session_token_equal("abc123", "abc123"));
	assert_false(session_token_equal("abc123", "abc124"));
	assert_false(session_token_equal("abc123", "abc12"));
	assert_false(session_token_equal("abc123", NULL));
	assert_false(session_token_equal(NULL, "abc"));
	assert_false(session_token_equal("", ""));
}

static void test_cookie_parse(void **state)
{
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char id[65], h[300];

	(void)state;
	snprintf(h, sizeof(h), "syncd_session=%s", hex);
	assert_true(session_cookie_parse(h, id));
	assert_string_equal(id, hex);
	snprintf(h, sizeof(h), "lang=vi; syncd_session=%s ; other=1", hex);
	assert_true(session_cookie_parse(h, id));
	assert_string_equal(id, hex);
	snprintf(h, sizeof(h), "x_syncd_session=%s", hex);
	assert_false(session_cookie_parse(h, id));
	snprintf(h, sizeof(h), "syncd_session=%.63s", hex); /* too short */
	assert_false(session_cookie_parse(h, id));
	snprintf(h, sizeof(h), "syncd_session=%sab", hex); /* too long */
	assert_false(session_cookie_parse(h, id));
	snprintf(h, sizeof(h), "syncd_session=%.63sG", hex); /* not hex */
	assert_false(session_cookie_parse(h, id));
	snprintf(h, sizeof(h), "syncd_session=%.63sA", hex); /* upper case is not what syncd issues */
	assert_false(session_cookie_parse(h, id));
	assert_false(session_cookie_parse("", id));
	assert_false(session_cookie_parse("syncd_session=", id));
	snprintf(h, sizeof(h), "syncd_session=bad; syncd_session=%s", hex);
	assert_true(session_cookie_parse(h, id));
	assert_string_equal(id, hex);
}

static void test_dispatch(void **state)
{
	char hole[256], allowed[64];
	const struct endpoint *e;

	(void)state;
	e = endpoint_find("POST", "/v1/session", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_session_create);
	assert_false(e->login);
	e = endpoint_find("GET", "/v1/session", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_session_get);
	assert_true(e->login);
	e = endpoint_find("DELETE", "/v1/session", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_session_delete);
	/* the page: / and each embedded file, no login, by the server thread */
	e = endpoint_find("GET", "/", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_static);
	assert_false(e->login);
	assert_string_equal(hole, "");
	e = endpoint_find("GET", "/app.js", hole, sizeof(hole), allowed, sizeof(allowed));
	assert_ptr_equal(e->handler, ep_static);
	assert_string_equal(hole, "app.js");
	assert_null(endpoint_find("POST", "/app.js", hole, sizeof(hole), allowed, sizeof(allowed)));
	assert_string_equal(allowed, "GET");
	assert_null(endpoint_find("GET", "/nope.js", hole, sizeof(hole), allowed, sizeof(allowed)));
	assert_string_equal(allowed, "");
	assert_null(endpoint_find("GET", "/../app.js", hole, sizeof(hole), allowed, sizeof(allowed)));
	assert_non_null(web_asset_find("index.html"));
	assert_string_equal(web_asset_find("")->path, "index.html");
	assert_string_equal(web_asset_find("index.html")->content_type, "text/html; charset=utf-8");
	assert_string_equal(web_asset_find("app.css")->content_type, "text/css; charset=utf-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),	     cmocka_unit_test(test_expiry_pure),
		cmocka_unit_test(test_expiry_table), cmocka_unit_test(test_remove),
		cmocka_unit_test(test_full),	     cmocka_unit_test(test_token_equal),
		cmocka_unit_test(test_cookie_parse), cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
