/* test_copytext.c — COPY text format split/escape/unescape, CSV lines,
 * buffers and secret files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "connectors/copytext.h"

static void test_split(void **state)
{
	struct copy_field f[4];
	const char *row = "1\t\\N\tNguyễn Văn An\t\n";

	(void)state;
	assert_int_equal(copytext_split(row, strlen(row), f, 4), 4);
	assert_int_equal(f[0].len, 1);
	assert_true(copytext_is_null(&f[1]));
	assert_false(copytext_is_null(&f[2]));
	assert_memory_equal(f[2].p, "Nguyễn Văn An", f[2].len);
	assert_int_equal(f[3].len, 0); /* empty string, not NULL */
	assert_false(copytext_is_null(&f[3]));
	/* more fields than room: the count still tells */
	assert_int_equal(copytext_split("a\tb\tc", 5, f, 2), 3);
	assert_int_equal(copytext_split("", 0, f, 2), 1);
}

static void roundtrip(const char *value, size_t len)
{
	struct buf wire = {0}, back = {0};
	struct copy_field f;

	assert_int_equal(copytext_escape(value, len, &wire), 0);
	assert_null(memchr(wire.data, '\t', wire.len));
	assert_null(memchr(wire.data, '\n', wire.len));
	f.p = wire.data;
	f.len = wire.len;
	assert_int_equal(copytext_unescape(&f, &back), 0);
	assert_int_equal(back.len, len);
	assert_memory_equal(back.data, value, len);
	buf_free(&wire);
	buf_free(&back);
}

static void test_escape_roundtrip(void **state)
{
	(void)state;
	roundtrip("plain", 5);
	roundtrip("tab\there", 8);
	roundtrip("line\nbreak\r", 11);
	roundtrip("back\\slash\\", 11);
	roundtrip("Số 12, đường 30/4", strlen("Số 12, đường 30/4"));
	roundtrip("\\N", 2); /* the text "\N" is not NULL once escaped */
	roundtrip("", 0);
}

static void test_unescape_forms(void **state)
{
	struct buf b = {0};
	struct copy_field f = {"\\x41\\101\\b\\f\\v\\q\\xZ", 0};

	(void)state;
	f.len = strlen(f.p);
	assert_int_equal(copytext_unescape(&f, &b), 0);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "AA\b\f\vqxZ", 8);
	buf_reset(&b);
	f.p = "end\\";
	f.len = 4;
	assert_int_equal(copytext_unescape(&f, &b), 0);
	assert_string_equal(b.data, "end\\");
	buf_free(&b);
	f.p = "\\\\x0102";
	f.len = 7;
	assert_false(copytext_is_plain(&f));
	assert_int_equal(copytext_unescape(&f, &b), 0);
	assert_string_equal(b.data, "\\x0102"); /* bytea hex as text */
	buf_free(&b);
}

static void test_csv(void **state)
{
	char line[] = "31120,\"Cái Khế, \"\"mới\"\"\",Phường,,92\r\n";
	char bad[] = "a,\"unterminated";
	char *f[8];

	(void)state;
	assert_int_equal(csv_split(line, f, 8), 5);
	assert_string_equal(f[0], "31120");
	assert_string_equal(f[1], "Cái Khế, \"mới\"");
	assert_string_equal(f[2], "Phường");
	assert_string_equal(f[3], "");
	assert_string_equal(f[4], "92");
	assert_int_equal(csv_split(bad, f, 8), -1);
}

static void test_buf(void **state)
{
	struct buf b = {0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "%d,", i), 0);
	assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	buf_free(&b);
	buf_free(&b); /* twice is harmless */
}

static void test_secret_file(void **state)
{
	char dir[] = "/tmp/syncd-secret-XXXXXX", path[64], err[512];
	char *s;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n\n", 8), 8);
	close(fd);
	s = secret_file_read(path, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "s3cret");
	free(s);
	chmod(path, 0640);
	assert_null(secret_file_read(path, err, sizeof(err)));
	assert_non_null(strstr(err, "readable by group or others (mode 0640); fix with: chmod 600"));
	chmod(path, 0600);
	/* systemd credentials: a relative name is looked up there */
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	s = secret_file_read("pw", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "s3cret");
	free(s);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_null(secret_file_read(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	rmdir(dir);
	assert_null(secret_file_read(path, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open secret file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_escape_roundtrip),
		cmocka_unit_test(test_unescape_forms),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_secret_file),
	};
	return cmocka_run_group_tests_name("copytext", tests, NULL, NULL);
}
