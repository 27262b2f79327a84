/* test_tee.c — connectors/tee.c through two recording children: every
 * write reaches each child in order, reads come from the first, the first
 * commits last, a child's failure stops the call, and open builds the
 * children from their own settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/tee.h"

static char calls[2048];
static const char *fail_in; /* "<child> <call>" that fails, NULL: none */

struct child {
	char name[8];
};

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(calls);

	va_start(ap, fmt);
	vsnprintf(calls + n, sizeof(calls) - n, fmt, ap);
	va_end(ap);
}

/* Records "<child> <what>;" and fails when fail_in names it. */
static int step(void *ctx, const char *what, char *err, size_t errlen)
{
	char here[64];

	snprintf(here, sizeof(here), "%s %s", ((struct child *)ctx)->name, what);
	if (fail_in != NULL && strcmp(fail_in, here) == 0) {
		snprintf(err, errlen, "%s failed", here);
		return -1;
	}
	record("%s;", here);
	return 0;
}

static void *c_open(const char *conninfo, const char *password, const void *opts, char *err, size_t errlen)
{
	struct child *c;

	(void)password;
	if (opts != NULL && strcmp(opts, "refuse") == 0) {
		snprintf(err, errlen, "%s: connection refused", conninfo);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", conninfo);
	record("%s open;", c->name);
	return c;
}

static int c_begin(void *ctx, char *err, size_t errlen)
{
	return step(ctx, "begin", err, errlen);
}

static int c_insert(void *ctx, const char *schema, const struct connector_table *t,
		    const struct connector_value *vals, char *err, size_t errlen)
{
	(void)schema;
	(void)t;
	(void)vals;
	return step(ctx, "insert", err, errlen);
}

static int c_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			char *err, size_t errlen)
{
	char what[64];

	(void)schema;
	(void)source;
	snprintf(what, sizeof(what), "cp %05d %s", unit, lsn);
	return step(ctx, what, err, errlen);
}

static int c_checkpoint_get(void *ctx, const char *schema, const char *source, int unit, char *lsn,
			    size_t lsnlen, char *err, size_t errlen)
{
	(void)schema;
	(void)source;
	(void)unit;
	snprintf(lsn, lsnlen, "%s", strcmp(((struct child *)ctx)->name, "pg") == 0 ? "0/10" : "0/20");
	return step(ctx, "checkpoint_get", err, errlen);
}

static int c_commit(void *ctx, char *err, size_t errlen)
{
	return step(ctx, "commit", err, errlen);
}

static bool c_alive(void *ctx)
{
	return strcmp(((struct child *)ctx)->name, "dead") != 0;
}

static void c_rollback(void *ctx)
{
	record("%s rollback;", ((struct child *)ctx)->name);
}

static void c_close(void *ctx)
{
	record("%s close;", ((struct child *)ctx)->name);
	free(ctx);
}

static const struct connector_ops child_ops = {
	.name = "child",
	.open = c_open,
	.begin = c_begin,
	.insert = c_insert,
	.checkpoint = c_checkpoint,
	.checkpoint_get = c_checkpoint_get,
	.commit = c_commit,
	.alive = c_alive,
	.rollback = c_rollback,
	.close = c_close,
};

static struct tee_conf conf;

static int setup(void **state)
{
	(void)state;
	calls[0] = '\0';
	fail_in = NULL;
	conf = (struct tee_conf){2, {{&child_ops, "pg", NULL, NULL}, {&child_ops, "http", NULL, NULL}}};
	return 0;
}

static void *open_tee(void)
{
	char err[256];
	void *t = tee_ops.open(NULL, NULL, &conf, err, sizeof(err));

	assert_non_null(t);
	calls[0] = '\0';
	return t;
}

static void test_writes_reach_each_child_in_order(void **state)
{
	char err[256];
	struct connector_table tb = {"thua_dat", NULL, 0};
	void *t = open_tee();

	(void)state;
	assert_int_equal(tee_ops.begin(t, err, sizeof(err)), 0);
	assert_int_equal(tee_ops.insert(t, "u31120", &tb, NULL, err, sizeof(err)), 0);
	assert_int_equal(tee_ops.checkpoint(t, "u31120", "land", 31120, "0/30", err, sizeof(err)), 0);
	assert_string_equal(calls,
			    "pg begin;http begin;pg insert;http insert;pg cp 31120 0/30;http cp 31120 0/30;");
	tee_ops.close(t);
}

/* the primary (the tier) commits last: after a crash every other child is at
 * or past its checkpoint, which is where the engine replays from */
static void test_primary_commits_last(void **state)
{
	char err[256];
	void *t = open_tee();

	(void)state;
	assert_int_equal(tee_ops.commit(t, err, sizeof(err)), 0);
	assert_string_equal(calls, "http commit;pg commit;");
	tee_ops.close(t);
}

static void test_reads_come_from_the_primary(void **state)
{
	char err[256], lsn[32];
	void *t = open_tee();

	(void)state;
	assert_int_equal(
		tee_ops.checkpoint_get(t, "u31120", "land", 31120, lsn, sizeof(lsn), err, sizeof(err)), 0);
	assert_string_equal(lsn, "0/10");
	assert_string_equal(calls, "pg checkpoint_get;");
	tee_ops.close(t);
}

static void test_a_failure_stops_the_call(void **state)
{
	char err[256];
	struct connector_table tb = {"thua_dat", NULL, 0};
	void *t = open_tee();

	(void)state;
	fail_in = "pg insert";
	assert_int_equal(tee_ops.insert(t, "u31120", &tb, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "pg insert failed");
	assert_string_equal(calls, ""); /* http never saw it */
	fail_in = "http commit";
	assert_int_equal(tee_ops.commit(t, err, sizeof(err)), -1);
	assert_string_equal(calls, ""); /* nor did the primary commit */
	tee_ops.rollback(t);
	assert_string_equal(calls, "pg rollback;http rollback;");
	tee_ops.close(t);
}

static void test_alive_only_when_every_child_is(void **state)
{
	void *t;

	(void)state;
	t = open_tee();
	assert_true(tee_ops.alive(t));
	tee_ops.close(t);
	conf.child[1].conninfo = "dead";
	t = open_tee();
	assert_false(tee_ops.alive(t));
	tee_ops.close(t);
}

static void test_open_fails_cleanly(void **state)
{
	char err[256];

	(void)state;
	conf.child[1].opts = "refuse";
	assert_null(tee_ops.open(NULL, NULL, &conf, err, sizeof(err)));
	assert_string_equal(err, "http: connection refused");
	assert_string_equal(calls, "pg open;pg close;"); /* the first child is not leaked */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_writes_reach_each_child_in_order, setup),
		cmocka_unit_test_setup(test_primary_commits_last, setup),
		cmocka_unit_test_setup(test_reads_come_from_the_primary, setup),
		cmocka_unit_test_setup(test_a_failure_stops_the_call, setup),
		cmocka_unit_test_setup(test_alive_only_when_every_child_is, setup),
		cmocka_unit_test_setup(test_open_fails_cleanly, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
