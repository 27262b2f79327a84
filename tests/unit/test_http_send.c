/* test_http_send.c — the HTTP target's verdicts (status, curl code, Retry-After)
 * and its backoff (full jitter, cap, Retry-After) with an injected random source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <string.h>

#include "connectors/http_send.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static enum http_verdict verdict(long status, int code)
{
	struct http_outcome o;

	memset(&o, 0, sizeof(o));
	http_classify(status, code, NULL, NOW, &o);
	assert_int_equal(o.status, status);
	assert_int_equal(o.curl_code, code);
	return o.verdict;
}

static void test_statuses(void **state)
{
	static const long delivered[] = {200, 201, 202, 204, 299};
	static const long retry[] = {408, 425, 429, 500, 502, 503, 504, 599};
	static const long dead[] = {100, 300, 301, 302, 307, 308, 400, 401, 403, 404, 409, 413, 422, 600};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(delivered) / sizeof(delivered[0]); i++)
		assert_int_equal(verdict(delivered[i], CURLE_OK), HTTP_DELIVERED);
	for (i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		assert_int_equal(verdict(retry[i], CURLE_OK), HTTP_RETRY);
	for (i = 0; i < sizeof(dead) / sizeof(dead[0]); i++)
		assert_int_equal(verdict(dead[i], CURLE_OK), HTTP_DEAD);
}

static void test_curl_codes(void **state)
{
	(void)state;
	/* waiting may cure these */
	assert_int_equal(verdict(0, CURLE_OPERATION_TIMEDOUT), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_COULDNT_CONNECT), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_COULDNT_RESOLVE_HOST), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_RECV_ERROR), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_SEND_ERROR), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_GOT_NOTHING), HTTP_RETRY);
	assert_int_equal(verdict(0, CURLE_SSL_CONNECT_ERROR), HTTP_RETRY);
	/* configuration: an operator must act */
	assert_int_equal(verdict(0, CURLE_PEER_FAILED_VERIFICATION), HTTP_DEAD);
	assert_int_equal(verdict(0, CURLE_SSL_CACERT_BADFILE), HTTP_DEAD);
	assert_int_equal(verdict(0, CURLE_SSL_CERTPROBLEM), HTTP_DEAD);
	assert_int_equal(verdict(0, CURLE_URL_MALFORMAT), HTTP_DEAD);
	assert_int_equal(verdict(0, CURLE_UNSUPPORTED_PROTOCOL), HTTP_DEAD);
}

static long retry_after(long status, const char *value)
{
	struct http_outcome o;

	http_classify(status, CURLE_OK, value, NOW, &o);
	return o.retry_after;
}

static void test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(retry_after(429, "3"), 3);
	assert_int_equal(retry_after(503, " 120 "), 120);
	assert_int_equal(retry_after(503, "0"), 0);
	assert_int_equal(retry_after(429, NULL), -1);
	assert_int_equal(retry_after(429, "soon"), -1);
	assert_int_equal(retry_after(429, "3x"), -1);
	assert_int_equal(retry_after(429, "99999999"), 86400); /* a day at most */
	/* an HTTP date, 90 s after NOW; one in the past means now */
	assert_int_equal(retry_after(503, "Thu, 01 Jan 2026 00:01:30 GMT"), 90);
	assert_int_equal(retry_after(503, "Wed, 31 Dec 2025 23:00:00 GMT"), 0);
	/* only a retry carries it */
	assert_int_equal(retry_after(400, "3"), -1);
	assert_int_equal(retry_after(200, "3"), -1);
}

static uint32_t fixed(void *ctx)
{
	return *(uint32_t *)ctx;
}

static void test_backoff(void **state)
{
	uint32_t top = UINT32_MAX, zero = 0, half = UINT32_C(1) << 31;
	unsigned a;

	(void)state;
	/* the highest draw reaches the ceiling base * 2^attempt, capped */
	assert_int_equal(http_backoff_ms(0, 500, 60000, -1, fixed, &top), 500);
	assert_int_equal(http_backoff_ms(1, 500, 60000, -1, fixed, &top), 1000);
	assert_int_equal(http_backoff_ms(3, 500, 60000, -1, fixed, &top), 4000);
	assert_int_equal(http_backoff_ms(7, 500, 60000, -1, fixed, &top), 60000);
	assert_int_equal(http_backoff_ms(200, 500, 60000, -1, fixed, &top), 60000);
	/* full jitter: the lowest draw waits nothing, the middle one half */
	assert_int_equal(http_backoff_ms(5, 500, 60000, -1, fixed, &zero), 0);
	assert_int_equal(http_backoff_ms(2, 500, 60000, -1, fixed, &half), 1000);
	/* Retry-After is a floor, above the cap too */
	assert_int_equal(http_backoff_ms(0, 500, 60000, 3, fixed, &zero), 3000);
	assert_int_equal(http_backoff_ms(0, 500, 2000, 90, fixed, &top), 90000);
	assert_int_equal(http_backoff_ms(9, 500, 60000, 3, fixed, &top), 60000);
	for (a = 0; a < 64; a++) {
		long d = http_backoff_ms(a, 500, 60000, -1, fixed, &top);
		assert_true(d >= 0 && d <= 60000);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(http_verdict_name(HTTP_DELIVERED), "delivered");
	assert_string_equal(http_verdict_name(HTTP_RETRY), "retry");
	assert_string_equal(http_verdict_name(HTTP_DEAD), "dead");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),    cmocka_unit_test(test_curl_codes),
		cmocka_unit_test(test_retry_after), cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
