/* test_log.c — levels, context tag, journald prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static char *capture(void (*fn)(void))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	log_set_stream(f);
	fn();
	fclose(f);
	log_set_stream(NULL);
	return text;
}

static void emit(void)
{
	log_set_context("source=land unit=31120");
	log_err("disk %s", "full");
	log_set_context(NULL);
	log_warn("slow");
	log_info("hello");
	log_debug("hidden");
}

static void test_plain(void **state)
{
	char *t;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	log_init("syncd");
	log_set_level(LOG_LEVEL_INFO);
	t = capture(emit);
	assert_non_null(strstr(t, "syncd: error: source=land unit=31120: disk full\n"));
	assert_non_null(strstr(t, "syncd: warning: slow\n"));
	assert_non_null(strstr(t, "syncd: hello\n"));
	assert_null(strstr(t, "hidden"));
	free(t);
}

static void test_journal(void **state)
{
	struct stat st;
	char js[64];
	char *t;

	(void)state;
	/* JOURNAL_STREAM names stderr's device and inode */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("syncd");
	log_set_level(LOG_LEVEL_DEBUG);
	t = capture(emit);
	assert_non_null(strstr(t, "<3>source=land unit=31120: disk full\n"));
	assert_non_null(strstr(t, "<4>slow\n"));
	assert_non_null(strstr(t, "<6>hello\n"));
	assert_non_null(strstr(t, "<7>hidden\n"));
	free(t);
	/* a stale variable (another fd 2) does not count */
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("syncd");
	t = capture(emit);
	assert_null(strstr(t, "<6>"));
	free(t);
	unsetenv("JOURNAL_STREAM");
}

static void emit_forged(void)
{
	log_info("login refused for %s", "kiem\n<3>syncd: audit chain broken\r\x1b[2J");
}

/* a user name with a newline and "<3>" cannot add a journald record */
static void test_forged_priority(void **state)
{
	struct stat st;
	char js[64];
	char *t;

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("syncd");
	log_set_level(LOG_LEVEL_INFO);
	t = capture(emit_forged);
	assert_string_equal(t, "<6>login refused for kiem\\x0a<3>syncd: audit chain broken\\x0d\\x1b[2J\n");
	free(t);
	unsetenv("JOURNAL_STREAM");
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warning"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("err"), LOG_LEVEL_ERR);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_string_equal(log_level_name(LOG_LEVEL_INFO), "info");
	log_set_level(LOG_LEVEL_WARN);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_forged_priority),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
