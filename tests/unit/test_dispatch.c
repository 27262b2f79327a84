/* test_dispatch.c — the API's dispatch table (syncd/api/server.c):
 * exact paths, {} holes, 404 and 405 from endpoint_find alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "syncd/api/internal.h"

static const struct endpoint *find(const char *method, const char *url, char *hole, char *allowed)
{
	return endpoint_find(method, url, hole, 256, allowed, 64);
}

static void test_exact(void **state)
{
	char hole[256], allowed[64];
	const struct endpoint *e;

	(void)state;
	e = find("GET", "/healthz", hole, allowed);
	assert_non_null(e);
	assert_ptr_equal(e->handler, ep_healthz);
	assert_false(e->login);
	assert_true(e->served_here);
	assert_string_equal(hole, "");
	e = find("GET", "/v1/audit", hole, allowed);
	assert_ptr_equal(e->handler, ep_audit_query);
	assert_true(e->login);
	e = find("GET", "/v1/audit/verify", hole, allowed);
	assert_ptr_equal(e->handler, ep_audit_verify);
	e = find("GET", "/v1/grants", hole, allowed);
	assert_ptr_equal(e->handler, ep_grants_list);
	e = find("POST", "/v1/grants", hole, allowed);
	assert_ptr_equal(e->handler, ep_grant_create);
	assert_false(e->documents);
	e = find("POST", "/v1/documents", hole, allowed);
	assert_ptr_equal(e->handler, ep_document_issue);
	assert_true(e->documents);
	/* a prefix or a longer path is not the endpoint */
	assert_null(find("GET", "/v1/auditx", hole, allowed));
	assert_string_equal(allowed, "");
	assert_null(find("GET", "/healthz/", hole, allowed));
}

static void test_holes(void **state)
{
	char hole[256], allowed[64];
	const struct endpoint *e;

	(void)state;
	e = find("DELETE", "/v1/grants/0123456789abcdef0123456789abcdef", hole, allowed);
	assert_ptr_equal(e->handler, ep_grant_revoke);
	assert_string_equal(hole, "0123456789abcdef0123456789abcdef");
	e = find("GET", "/v1/documents/HN-2026-000001", hole, allowed);
	assert_ptr_equal(e->handler, ep_document_get);
	assert_string_equal(hole, "HN-2026-000001");
	/* the longer pattern first: .../verify is not a serial */
	e = find("GET", "/v1/documents/HN-2026-000001/verify", hole, allowed);
	assert_ptr_equal(e->handler, ep_document_verify);
	assert_false(e->login);
	assert_string_equal(hole, "HN-2026-000001");
	e = find("POST", "/v1/documents/X/revoke", hole, allowed);
	assert_ptr_equal(e->handler, ep_document_revoke);
	assert_string_equal(hole, "X");
	/* a hole takes the rest of the path, slashes included */
	e = find("GET", "/v1/records/civil/person/42", hole, allowed);
	assert_ptr_equal(e->handler, ep_record_get);
	assert_string_equal(hole, "civil/person/42");
	/* an empty hole matches nothing */
	assert_null(find("GET", "/v1/documents/", hole, allowed));
	assert_null(find("DELETE", "/v1/grants/", hole, allowed));
}

static void test_404_405(void **state)
{
	char hole[256], allowed[64];

	(void)state;
	assert_null(find("GET", "/nowhere", hole, allowed));
	assert_string_equal(allowed, "");
	/* "/" is the web page now (issue 12); "/" with any other method is 405 */
	assert_ptr_equal(find("GET", "/", hole, allowed)->handler, ep_static);
	assert_null(find("PUT", "/", hole, allowed));
	assert_string_equal(allowed, "GET");
	/* the path exists with other methods: 405 and what it allows */
	assert_null(find("PUT", "/v1/grants", hole, allowed));
	assert_string_equal(allowed, "GET, POST");
	assert_null(find("POST", "/healthz", hole, allowed));
	assert_string_equal(allowed, "GET");
	assert_null(find("GET", "/v1/grants/0123", hole, allowed));
	assert_string_equal(allowed, "DELETE");
	/* an exact path shadows a hole: /v1/records/search is not a record */
	assert_null(find("GET", "/v1/records/search", hole, allowed));
	assert_string_equal(allowed, "POST");
	assert_non_null(find("POST", "/v1/records/search", hole, allowed));
	assert_null(find("DELETE", "/v1/documents/X/verify", hole, allowed));
	assert_string_equal(allowed, "GET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_404_405),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
