/* test_documents.c — the pure parts of documents and the audit log:
 * canonical bodies, Ed25519 sign/verify, SHA-256, the printable page
 * (escaping, Vietnamese text byte-identical), serial shapes. */
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

#include "authz/audit.h"
#include "authz/sign.h"
#include "syncd/documents/documents.h"

static char keyfile[64];

static int setup(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(keyfile, sizeof(keyfile), "/tmp/syncd-test-key.%d.pem", (int)getpid());
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s 2>/dev/null", keyfile);
	if (system(cmd) != 0)
		return -1;
	return chmod(keyfile, 0600);
}

static int teardown(void **state)
{
	(void)state;
	unlink(keyfile);
	return 0;
}

static void test_audit_body(void **state)
{
	struct audit_event ev = {"reg1",  "127.0.0.1",	     "r1",    "document.issue",
				 "31120", "birth_extract/7", "allow", "grant"};
	char *b = audit_body(12, "2026-11-27T10:00:00.000001Z", &ev);

	(void)state;
	/* sorted keys, compact, every field and the seq: what the hash covers */
	assert_string_equal(
		b, "{\"action\":\"document.issue\",\"actor\":\"reg1\",\"at\":\"2026-11-27T10:00:00.000001Z\","
		   "\"client\":\"127.0.0.1\",\"decision\":\"allow\",\"object\":\"birth_extract/7\","
		   "\"reason\":\"grant\",\"request_id\":\"r1\",\"seq\":12,\"unit\":\"31120\"}");
	free(b);
}

static void test_sign(void **state)
{
	char err[512], sig[130], pub[65], hash[65];
	struct signer *s = signer_load(keyfile, err, sizeof(err));
	const char *msg = "{\"serial\":\"31120-2026-000001\",\"ho_ten\":\"Nguyễn Thị Ánh\"}";

	(void)state;
	assert_non_null(s);
	assert_int_equal(signer_sign(s, msg, strlen(msg), sig, sizeof(sig)), 0);
	assert_int_equal(strlen(sig), 128);
	assert_int_equal(signer_verify(s, msg, strlen(msg), sig), 1);
	assert_int_equal(signer_verify(s, msg, strlen(msg) - 1, sig), 0);
	sig[0] = sig[0] == 'a' ? 'b' : 'a';
	assert_int_equal(signer_verify(s, msg, strlen(msg), sig), 0);
	assert_int_equal(signer_verify(s, msg, strlen(msg), "zz"), 0);
	signer_public_hex(s, pub, sizeof(pub));
	assert_int_equal(strlen(pub), 64);
	signer_free(s);
	sha256_hex("abc", 3, NULL, 0, hash);
	assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("a", 1, "bc", 2, hash);
	assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_null(signer_load("/nonexistent/key.pem", err, sizeof(err)));
}

static void test_bad_key_file(void **state)
{
	char err[512], path[80];
	struct signer *s;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/syncd-test-notkey.%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	chmod(path, 0600);
	s = signer_load(path, err, sizeof(err));
	unlink(path);
	assert_null(s);
	assert_non_null(strstr(err, "openssl genpkey -algorithm ed25519"));
}

static void test_html(void **state)
{
	const char *body =
		"{\"fields\":[{\"label\":\"Họ, chữ đệm, tên\",\"value\":\"Trần <b>Thị</b> & \\\"Bé\\\"\"},"
		"{\"label\":\"Nơi sinh\",\"value\":\"Phường Cái Khế, TP Cần Thơ\"}],"
		"\"issued_at\":\"2026-11-27T10:00:00Z\",\"issuer\":\"reg1\",\"issuer_name\":\"Lê Văn A\","
		"\"key\":\"7\",\"kind\":\"birth_extract\",\"nonce\":\"00\",\"place\":\"Phường Cái Khế\","
		"\"serial\":\"31120-2026-000001\",\"title\":\"TRÍCH LỤC KHAI SINH (BẢN SAO)\","
		"\"unit\":\"31120\",\"unit_name\":\"Phường Cái Khế\"}";
	char *h = document_html(body, "abcd", false), *r;

	(void)state;
	assert_non_null(h);
	assert_non_null(strstr(h, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"));
	assert_non_null(strstr(h, "Độc lập - Tự do - Hạnh phúc"));
	assert_non_null(strstr(h, "<td>Trần &lt;b&gt;Thị&lt;/b&gt; &amp; &quot;Bé&quot;</td>"));
	assert_non_null(strstr(h, "<td>Phường Cái Khế, TP Cần Thơ</td>"));
	assert_non_null(strstr(h, "Phường Cái Khế, ngày 27 tháng 11 năm 2026"));
	assert_non_null(strstr(h, "Số: 31120-2026-000001"));
	assert_null(strstr(h, "ĐÃ THU HỒI"));
	r = document_html(body, "abcd", true);
	assert_non_null(strstr(r, "ĐÃ THU HỒI"));
	free(h);
	free(r);
	assert_null(document_html("not json", "", false));
}

static void test_serials(void **state)
{
	(void)state;
	assert_true(document_serial_valid("31120-2026-000001"));
	assert_false(document_serial_valid("31120-2026-00001"));
	assert_false(document_serial_valid("3112a-2026-000001"));
	assert_false(document_serial_valid("31120-2026-000001/verify"));
	assert_false(document_serial_valid("../../etc/passwd"));
	assert_false(document_serial_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_body),   cmocka_unit_test(test_sign),
		cmocka_unit_test(test_bad_key_file), cmocka_unit_test(test_html),
		cmocka_unit_test(test_serials),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
