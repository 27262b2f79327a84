/* test_fence.c — the process's leader term (common/fence.c): set, read,
 * as query text, and the recognition of the database's refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "common/fence.h"

static void test_term(void **state)
{
	char text[24];

	(void)state;
	assert_int_equal(fence_term(), 0); /* no term until an election is won */
	fence_text(text, sizeof(text));
	assert_string_equal(text, "0");
	fence_set(9007199254740993LL); /* past a double's exact integers */
	assert_int_equal(fence_term(), 9007199254740993LL);
	fence_text(text, sizeof(text));
	assert_string_equal(text, "9007199254740993");
	fence_text(text, 4); /* cut, never overrun */
	assert_string_equal(text, "900");
	fence_set(0);
	assert_int_equal(fence_term(), 0);
}

static void test_refused(void **state)
{
	(void)state;
	assert_true(
		fence_refused("state database: ERROR:  syncd fence: term 3 of cluster \"syncd\" is over"));
	assert_true(fence_refused("unit 31120: u31120.syncd_checkpoint: syncd fence: ... refused"));
	assert_false(fence_refused("state database: ERROR:  duplicate key value"));
	assert_false(fence_refused("syncd  fence"));
	assert_false(fence_refused(""));
	assert_false(fence_refused(NULL));
	assert_string_equal(FENCE_SQLSTATE, "SYF01");
}

/* The cluster names this process's replication sessions; cut, never overrun. */
static void test_cluster(void **state)
{
	char big[300];

	(void)state;
	assert_string_equal(fence_cluster(), "");
	fence_set_cluster("land-pair");
	assert_string_equal(fence_cluster(), "land-pair");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fence_set_cluster(big);
	assert_int_equal(strlen(fence_cluster()), 127);
	fence_set_cluster(NULL);
	assert_string_equal(fence_cluster(), "");
}

/* Another thread sees the term a takeover set (the writers read it per batch). */
static void *reader(void *arg)
{
	*(int64_t *)arg = fence_term();
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t;
	int64_t seen = 0;

	(void)state;
	fence_set(42);
	assert_int_equal(pthread_create(&t, NULL, reader, &seen), 0);
	pthread_join(t, NULL);
	assert_int_equal(seen, 42);
	fence_set(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
