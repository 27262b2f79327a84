/* test_apply.c — the one commit path's order, driven through a recording
 * destination: checkpoints before commits, only touched units, a failure
 * leaves the later groups open, rollback closes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "syncd/sync/apply.h"

/* every call the destination saw, as "cp G UNIT LSN", "commit G", "rollback G" */
static char calls[1024];
static int fail_commit_group = -1, fail_checkpoint_unit = -1;

struct fake_ctx {
	int group;
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

static int fake_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			   char *err, size_t errlen)
{
	(void)schema;
	(void)source;
	if (unit == fail_checkpoint_unit) {
		snprintf(err, errlen, "checkpoint refused");
		return -1;
	}
	record("cp %d %05d %s;", ((struct fake_ctx *)ctx)->group, unit, lsn);
	return 0;
}

static int fake_commit(void *ctx, char *err, size_t errlen)
{
	int g = ((struct fake_ctx *)ctx)->group;

	if (g == fail_commit_group) {
		snprintf(err, errlen, "server closed the connection");
		return -1;
	}
	record("commit %d;", g);
	return 0;
}

static void fake_rollback(void *ctx)
{
	record("rollback %d;", ((struct fake_ctx *)ctx)->group);
}

static const struct connector_ops fake_ops = {
	.name = "fake",
	.checkpoint = fake_checkpoint,
	.commit = fake_commit,
	.rollback = fake_rollback,
};

static struct fake_ctx ctxs[2] = {{0}, {1}};
static struct group groups[2];
static struct unit_dest units[3];
static struct config_source scfg = {.name = "land"};
static struct sync_run run;

/* two groups (tiers); units 31120 and 31135 on group 0, 31147 on group 1 */
static int setup(void **state)
{
	(void)state;
	calls[0] = '\0';
	fail_commit_group = fail_checkpoint_unit = -1;
	memset(&run, 0, sizeof(run));
	for (int g = 0; g < 2; g++)
		groups[g] = (struct group){.conninfo = g ? "host=tier-b" : "host=tier-a",
					   .ops = &fake_ops,
					   .ctx = &ctxs[g],
					   .in_tx = true};
	units[0] = (struct unit_dest){.code = 31120, .schema = "u31120", .group = &groups[0]};
	units[1] = (struct unit_dest){.code = 31135, .schema = "u31135", .group = &groups[0]};
	units[2] = (struct unit_dest){.code = 31147, .schema = "u31147", .group = &groups[1]};
	run.scfg = &scfg;
	run.groups = groups;
	run.ngroups = 2;
	run.units = units;
	run.nunits = 3;
	return 0;
}

static void test_every_unit_then_every_group(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(apply_commit(&run, NULL, "0/16B3748", false, err, sizeof(err)), 0);
	assert_string_equal(calls, "cp 0 31120 0/16B3748;cp 0 31135 0/16B3748;cp 1 31147 0/16B3748;"
				   "commit 0;commit 1;");
	assert_false(groups[0].in_tx);
	assert_false(groups[1].in_tx);
}

static void test_only_touched_units_and_open_groups(void **state)
{
	bool touched[3] = {false, true, false};
	char err[256];

	(void)state;
	groups[1].in_tx = false; /* nothing was sent there */
	assert_int_equal(apply_commit(&run, touched, "0/20", false, err, sizeof(err)), 0);
	assert_string_equal(calls, "cp 0 31135 0/20;commit 0;");
}

static void test_failed_commit_leaves_later_groups_open(void **state)
{
	char err[256];

	(void)state;
	fail_commit_group = 0;
	assert_int_equal(apply_commit(&run, NULL, "0/30", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tier host=tier-a: commit: server closed the connection"));
	/* nothing committed: both groups still hold rows and checkpoints */
	assert_null(strstr(calls, "commit"));
	assert_true(groups[0].in_tx);
	assert_true(groups[1].in_tx);
	calls[0] = '\0';
	apply_rollback(&run, false);
	assert_string_equal(calls, "rollback 0;rollback 1;");
	assert_false(groups[0].in_tx);
	assert_false(groups[1].in_tx);
}

static void test_failed_checkpoint_commits_nothing(void **state)
{
	char err[256];

	(void)state;
	fail_checkpoint_unit = 31147;
	assert_int_equal(apply_commit(&run, NULL, "0/40", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unit 31147: checkpoint refused"));
	assert_null(strstr(calls, "commit"));
}

static void test_second_group_failure_keeps_first_commit(void **state)
{
	char err[256];

	(void)state;
	fail_commit_group = 1;
	assert_int_equal(apply_commit(&run, NULL, "0/50", false, err, sizeof(err)), -1);
	/* group 0 committed with its checkpoints: a replay skips its units */
	assert_non_null(strstr(calls, "commit 0;"));
	assert_false(groups[0].in_tx);
	assert_true(groups[1].in_tx);
	calls[0] = '\0';
	apply_rollback(&run, false);
	assert_string_equal(calls, "rollback 1;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_unit_then_every_group, setup),
		cmocka_unit_test_setup(test_only_touched_units_and_open_groups, setup),
		cmocka_unit_test_setup(test_failed_commit_leaves_later_groups_open, setup),
		cmocka_unit_test_setup(test_failed_checkpoint_commits_nothing, setup),
		cmocka_unit_test_setup(test_second_group_failure_keeps_first_commit, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
