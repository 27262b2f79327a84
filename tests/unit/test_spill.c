/* test_spill.c — streamed transactions staged on disk: blocks appended and
 * read back in order, a subtransaction's abort cutting it and the ones after
 * it, a whole abort, several transactions at once, misuse with its message,
 * a full disk, and the directories a dead syncd left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "syncd/sync/spill.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_spill.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	setenv("TMPDIR", tmpdir, 1);
	unsetenv("STATE_DIRECTORY");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}

static void put(struct spill *sp, uint32_t xid, uint32_t subxid, const char *msg)
{
	char err[512];

	if (spill_append(sp, xid, subxid, (const uint8_t *)msg, strlen(msg), err, sizeof(err)) < 0)
		fail_msg("append %s: %s", msg, err);
}

static void block(struct spill *sp, uint32_t xid, bool first)
{
	char err[512];

	if (spill_start(sp, xid, first, err, sizeof(err)) < 0)
		fail_msg("start %u: %s", xid, err);
}

static void stop(struct spill *sp)
{
	char err[512];

	if (spill_stop(sp, err, sizeof(err)) < 0)
		fail_msg("stop: %s", err);
}

/* xid's messages read back, joined by spaces; the transaction is gone after. */
static void replay_expect(struct spill *sp, uint32_t xid, const char *expect)
{
	char got[1024] = "", err[512];
	const uint8_t *m;
	long n;

	if (spill_replay_begin(sp, xid, err, sizeof(err)) < 0)
		fail_msg("replay %u: %s", xid, err);
	while ((n = spill_replay_next(sp, &m, err, sizeof(err))) > 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%.*s", got[0] ? " " : "", (int)n,
			 (const char *)m);
	assert_int_equal(n, 0);
	spill_replay_end(sp, xid);
	assert_string_equal(got, expect);
	assert_false(spill_has(sp, xid));
}

static int files_in(const char *dir)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void test_append_replay(void **state)
{
	char err[512], dir[256];
	struct spill *sp = spill_new("land", err, sizeof(err));
	struct stat st;

	(void)state;
	assert_non_null(sp);
	assert_int_equal(strncmp(spill_dir(sp), tmpdir, strlen(tmpdir)), 0);
	assert_non_null(strstr(spill_dir(sp), "/syncd-spill-"));
	assert_int_equal(stat(spill_dir(sp), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	block(sp, 700, true);
	put(sp, 700, 700, "a1");
	put(sp, 700, 700, "a2");
	stop(sp);
	assert_int_equal(spill_count(sp), 1);
	assert_int_equal(files_in(spill_dir(sp)), 1);
	block(sp, 700, false);
	put(sp, 700, 700, "a3");
	stop(sp);
	replay_expect(sp, 700, "a1 a2 a3");
	assert_int_equal(spill_count(sp), 0);
	assert_int_equal(files_in(spill_dir(sp)), 0);
	snprintf(dir, sizeof(dir), "%s", spill_dir(sp));
	spill_free(sp);
	assert_int_equal(stat(dir, &st), -1);
	spill_free(NULL);
}

/* SAVEPOINT and ROLLBACK TO: the aborted subtransaction and every one after
 * it go; what came before stays. */
static void test_subxact_abort(void **state)
{
	char err[512];
	struct spill *sp = spill_new("land", err, sizeof(err));

	(void)state;
	assert_non_null(sp);
	block(sp, 800, true);
	put(sp, 800, 800, "top1");
	put(sp, 800, 801, "s1a");
	put(sp, 800, 801, "s1b");
	put(sp, 800, 802, "s2a"); /* nested in 801 */
	stop(sp);
	assert_int_equal(spill_abort(sp, 800, 802, err, sizeof(err)), 0);
	block(sp, 800, false);
	put(sp, 800, 800, "top2");
	put(sp, 800, 803, "s3a");
	stop(sp);
	/* a subtransaction that staged nothing: nothing to cut */
	assert_int_equal(spill_abort(sp, 800, 899, err, sizeof(err)), 0);
	assert_int_equal(spill_abort(sp, 800, 803, err, sizeof(err)), 0);
	block(sp, 800, false);
	put(sp, 800, 804, "s4a");
	put(sp, 800, 800, "top3");
	stop(sp);
	replay_expect(sp, 800, "top1 s1a s1b top2 s4a top3");

	/* rolling back to the first savepoint cuts everything after it */
	block(sp, 810, true);
	put(sp, 810, 810, "t");
	put(sp, 810, 811, "x");
	put(sp, 810, 812, "y");
	put(sp, 810, 811, "z");
	stop(sp);
	assert_int_equal(spill_abort(sp, 810, 811, err, sizeof(err)), 0);
	/* 812 went with it: aborting it again cuts nothing more */
	assert_int_equal(spill_abort(sp, 810, 812, err, sizeof(err)), 0);
	replay_expect(sp, 810, "t");
	spill_free(sp);
}

static void test_whole_abort_and_interleaving(void **state)
{
	char err[512];
	struct spill *sp = spill_new("civil", err, sizeof(err));

	(void)state;
	assert_non_null(sp);
	block(sp, 900, true);
	put(sp, 900, 900, "p1");
	stop(sp);
	block(sp, 901, true);
	put(sp, 901, 901, "q1");
	stop(sp);
	block(sp, 900, false);
	put(sp, 900, 905, "p2");
	stop(sp);
	block(sp, 901, false);
	put(sp, 901, 901, "q2");
	stop(sp);
	assert_int_equal(spill_count(sp), 2);
	assert_int_equal(spill_abort(sp, 900, 900, err, sizeof(err)), 0);
	assert_false(spill_has(sp, 900));
	assert_true(spill_has(sp, 901));
	assert_int_equal(files_in(spill_dir(sp)), 1);
	replay_expect(sp, 901, "q1 q2");
	/* an xid can be reused after its end (wraparound) */
	block(sp, 900, true);
	put(sp, 900, 900, "r1");
	stop(sp);
	replay_expect(sp, 900, "r1");
	spill_free(sp);
}

static void test_misuse(void **state)
{
	char err[512];
	struct spill *sp = spill_new("land", err, sizeof(err));
	const uint8_t m[1] = {'I'};

	(void)state;
	assert_non_null(sp);
	assert_int_equal(spill_start(sp, 5, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "continues transaction 5, but no earlier block"));
	assert_int_equal(spill_append(sp, 5, 5, m, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside an open Stream Start block"));
	assert_int_equal(spill_abort(sp, 6, 6, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Stream Abort of transaction 6, which no Stream Start"));
	assert_int_equal(spill_replay_begin(sp, 7, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Stream Commit of transaction 7, which no Stream Start"));
	assert_int_equal(spill_stop(sp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Stream Stop without an open block"));
	block(sp, 5, true);
	assert_int_equal(spill_start(sp, 6, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "while the block of transaction 5 is open"));
	assert_int_equal(spill_append(sp, 6, 6, m, 1, err, sizeof(err)), -1);
	assert_int_equal(spill_append(sp, 5, 5, m, 0, err, sizeof(err)), -1);
	assert_int_equal(spill_abort(sp, 5, 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "inside its open block"));
	stop(sp);
	assert_int_equal(spill_start(sp, 5, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already staged"));
	replay_expect(sp, 5, "");
	spill_free(sp);
}

/* A disk that is full (here: a file size limit) fails the write with the
 * file and the fix named; nothing is half-counted as staged. */
static void test_disk_full(void **state)
{
	char err[512], big[16384];
	struct spill *sp = spill_new("land", err, sizeof(err));
	struct rlimit old, lim;
	int rc;

	(void)state;
	assert_non_null(sp);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	block(sp, 42, true);
	rc = spill_append(sp, 42, 42, (const uint8_t *)big, strlen(big), err, sizeof(err));
	if (rc == 0)
		rc = spill_stop(sp, err, sizeof(err));
	else if (spill_stop(sp, err + 256, sizeof(err) - 256) < 0)
		err[256] = '\0'; /* its own failure does not matter here */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "cannot stage streamed transaction 42 in "));
	assert_non_null(strstr(err, "free space there"));
	/* the transaction can still be dropped, and the directory goes */
	assert_int_equal(spill_abort(sp, 42, 42, err, sizeof(err)), 0);
	spill_free(sp);
}

/* A kill -9 leaves a directory behind: the next start removes the ones of
 * processes that are gone, and no other. */
static void test_stale_dirs(void **state)
{
	char err[512], dead[256], live[256], file[300];
	struct spill *sp;
	struct stat st;
	pid_t child = fork();
	FILE *f;

	(void)state;
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	snprintf(dead, sizeof(dead), "%s/syncd-spill-%ld-land-AAAAAA", tmpdir, (long)child);
	snprintf(live, sizeof(live), "%s/syncd-spill-%ld-land-BBBBBB", tmpdir, (long)getppid());
	assert_int_equal(mkdir(dead, 0700), 0);
	assert_int_equal(mkdir(live, 0700), 0);
	snprintf(file, sizeof(file), "%s/17.spill", dead);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
	sp = spill_new("land", err, sizeof(err));
	assert_non_null(sp);
	assert_int_equal(stat(dead, &st), -1);
	assert_int_equal(stat(live, &st), 0);
	rmdir(live);
	spill_free(sp);

	setenv("TMPDIR", "/nonexistent/dir", 1);
	assert_null(spill_new("land", err, sizeof(err)));
	assert_non_null(
		strstr(err, "cannot create the directory for streamed transactions under /nonexistent/dir"));
	setenv("STATE_DIRECTORY", tmpdir, 1); /* systemd's, first of a list */
	sp = spill_new("land", err, sizeof(err));
	assert_non_null(sp);
	assert_int_equal(strncmp(spill_dir(sp), tmpdir, strlen(tmpdir)), 0);
	spill_free(sp);
	setenv("TMPDIR", tmpdir, 1);
	unsetenv("STATE_DIRECTORY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_replay),
		cmocka_unit_test(test_subxact_abort),
		cmocka_unit_test(test_whole_abort_and_interleaving),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_stale_dirs),
	};
	return cmocka_run_group_tests_name("spill", tests, setup, teardown);
}
