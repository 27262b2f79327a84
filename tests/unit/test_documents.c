/* test_documents.c — the pure parts of documents and the audit log:
 * canonical bodies, Ed25519 sign/verify, SHA-256, the printable page
 * (escaping, Vietnamese text byte-identical, header, dates, signature
 * block, QR code), the verification page, signers.csv, serial shapes,
 * an issue's job as audit work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <qrencode.h>
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
		"\"key\":\"7\",\"kind\":\"birth_extract\",\"nonce\":\"00\",\"place\":\"Cái Khế\","
		"\"serial\":\"31120-2026-000001\",\"title\":\"TRÍCH LỤC KHAI SINH (BẢN SAO)\","
		"\"unit\":\"31120\",\"unit_name\":\"Phường Cái Khế\"}";
	char *h = document_html(body, "abcd", false, NULL), *r;

	(void)state;
	assert_non_null(h);
	assert_non_null(strstr(h, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"));
	assert_non_null(strstr(h, "Độc lập - Tự do - Hạnh phúc"));
	assert_non_null(strstr(h, "<td>Trần &lt;b&gt;Thị&lt;/b&gt; &amp; &quot;Bé&quot;</td>"));
	assert_non_null(strstr(h, "<td>Phường Cái Khế, TP Cần Thơ</td>"));
	assert_non_null(strstr(h, "class=\"place\">Cái Khế, ngày 27 tháng 11 năm 2026"));
	assert_non_null(strstr(h, "Số: 31120-2026-000001"));
	assert_null(strstr(h, "ĐÃ THU HỒI"));
	r = document_html(body, "abcd", true, NULL);
	assert_non_null(strstr(r, "ĐÃ THU HỒI"));
	free(h);
	free(r);
	assert_null(document_html("not json", "", false, NULL));
}

static void test_date_words(void **state)
{
	char out[64];

	(void)state;
	/* a leading zero for days 1-9 and for months 1 and 2 only */
	assert_int_equal(doc_date_words(2026, 1, 5, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 05 tháng 01 năm 2026");
	assert_int_equal(doc_date_words(2026, 8, 22, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 22 tháng 8 năm 2026");
	assert_int_equal(doc_date_words(2026, 2, 9, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 09 tháng 02 năm 2026");
	assert_int_equal(doc_date_words(2026, 3, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 01 tháng 3 năm 2026");
	assert_int_equal(doc_date_words(2026, 12, 10, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 10 tháng 12 năm 2026");
	assert_int_equal(doc_date_words(2028, 2, 29, out, sizeof(out)), 0);
	assert_string_equal(out, "ngày 29 tháng 02 năm 2028");
	assert_int_equal(doc_date_words(2026, 2, 29, out, sizeof(out)), -1);
	assert_int_equal(doc_date_words(2100, 2, 29, out, sizeof(out)), -1);
	assert_int_equal(doc_date_words(2026, 13, 1, out, sizeof(out)), -1);
	assert_int_equal(doc_date_words(2026, 4, 31, out, sizeof(out)), -1);
	assert_int_equal(doc_date_words(2026, 0, 1, out, sizeof(out)), -1);
	/* field dates: always two digits */
	assert_true(doc_date_field("2026-08-22", out, sizeof(out)));
	assert_string_equal(out, "22/08/2026");
	assert_true(doc_date_field("2026-01-05", out, sizeof(out)));
	assert_string_equal(out, "05/01/2026");
	strcpy(out, "x");
	assert_false(doc_date_field("2026-08-22T10:00:00Z", out, sizeof(out)));
	assert_false(doc_date_field("2026-8-22", out, sizeof(out)));
	assert_false(doc_date_field("2026-02-30", out, sizeof(out)));
	assert_false(doc_date_field("Nguyễn Văn", out, sizeof(out)));
	assert_false(doc_date_field(NULL, out, sizeof(out)));
	assert_string_equal(out, "x");
}

static const char roles_text[] =
	"{\"actions\":[\"civil.extract.issue\",\"land.extract.issue\"],\"roles\":{"
	"\"civil_registrar\":{\"scope\":\"unit\",\"permissions\":[\"civil.extract.issue\"],\"may_grant\":[],"
	"\"max_days\":730,\"max_delegate\":0,\"signer_title\":[\"KT. CHỦ TỊCH\",\"PHÓ CHỦ TỊCH\"]},"
	"\"land_officer\":{\"scope\":\"unit\",\"permissions\":[\"land.extract.issue\"],\"may_grant\":[],"
	"\"max_days\":730,\"max_delegate\":0}}}";

static bool two_units(int unit, const void *arg)
{
	(void)arg;
	return unit == 31120 || unit == 31135;
}

static void test_signers(void **state)
{
	char err[512];
	struct roles *roles = roles_parse(roles_text, "roles.json", err, sizeof(err));
	const char *csv = "# who signs, per unit and role\n"
			  "unit_code,role,title,name\n"
			  "\n"
			  "31135,civil_registrar,TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH,Trần Văn Bình\r\n"
			  "31120,land_officer,\"KT. CHỦ TỊCH / PHÓ CHỦ TỊCH\"\n";
	struct signers *s;
	const char *lines[4], *name;

	(void)state;
	assert_non_null(roles);
	s = signers_parse(csv, "signers.csv", roles, two_units, NULL, err, sizeof(err));
	assert_non_null(s);
	/* the unit's line wins over the role's title, with the name */
	assert_int_equal(signers_resolve(s, roles, 31135, "civil_registrar", lines, 4, &name), 2);
	assert_string_equal(lines[0], "TM. ỦY BAN NHÂN DÂN");
	assert_string_equal(lines[1], "CHỦ TỊCH");
	assert_string_equal(name, "Trần Văn Bình");
	/* no line for the unit: roles.json's signer_title, no name */
	assert_int_equal(signers_resolve(s, roles, 31120, "civil_registrar", lines, 4, &name), 2);
	assert_string_equal(lines[0], "KT. CHỦ TỊCH");
	assert_string_equal(lines[1], "PHÓ CHỦ TỊCH");
	assert_string_equal(name, "");
	/* a role with no title gets it from its unit's line only */
	assert_int_equal(signers_resolve(s, roles, 31120, "land_officer", lines, 4, &name), 2);
	assert_int_equal(signers_resolve(s, roles, 31135, "land_officer", lines, 4, &name), 0);
	/* a document from before the issuing role was kept: caption only */
	assert_int_equal(signers_resolve(s, roles, 31120, "", lines, 4, &name), 0);
	assert_int_equal(signers_resolve(s, roles, 31120, NULL, lines, 4, &name), 0);
	assert_int_equal(signers_resolve(NULL, roles, 31120, "civil_registrar", lines, 1, &name), 1);
	signers_free(s);

	assert_null(signers_parse("unit_code,role,title,name\n99999,civil_registrar,CHỦ TỊCH\n",
				  "signers.csv", roles, two_units, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "signers.csv:2: unit \"99999\" is not a unit of the city"));
	assert_non_null(strstr(err, "cantho_new_units.csv"));
	assert_null(signers_parse("31120,chair,CHỦ TỊCH\n", "signers.csv", roles, two_units, NULL, err,
				  sizeof(err)));
	assert_non_null(strstr(err, "signers.csv:1: role \"chair\" is not in roles.json"));
	assert_null(signers_parse("31120,land_officer\n", "s.csv", roles, two_units, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "s.csv:1: needs 3 or 4 fields, unit_code,role,title,name"));
	assert_null(signers_parse("31120,land_officer,A\n31120,land_officer,B\n", "s.csv", roles, two_units,
				  NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "s.csv:2: unit 31120, role land_officer is already given"));
	assert_null(signers_parse("31120,land_officer,A /  / B\n", "s.csv", roles, two_units, NULL, err,
				  sizeof(err)));
	assert_non_null(strstr(err, "s.csv:1: the title needs 1-4 lines"));
	assert_null(
		signers_parse("31120,land_officer,\"A\n", "s.csv", roles, two_units, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "s.csv:1: a quote is not closed"));
	roles_free(roles);
	assert_null(roles_parse("{\"actions\":[],\"roles\":{\"x\":{\"scope\":\"unit\",\"permissions\":[],"
				"\"may_grant\":[],\"max_days\":1,\"max_delegate\":0,\"signer_title\":[]}}}",
				"roles.json", err, sizeof(err)));
	assert_non_null(strstr(err, "\"signer_title\" must be an array of 1-4 lines"));
}

/* The SVG's path, drawn back into a matrix, is libqrencode's matrix for
 * the URL (the integration test decodes the rendered code with zbarimg). */
static void test_qr(void **state)
{
	const char *url = "https://syncd.cantho.gov.vn/verify/31120-2026-000001?h=0123456789abcdef";
	QRcode *q = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int w = 0, x, y, run, n, used;
	char *svg = qr_svg(url, &w), view[64], *p;
	unsigned char *grid;

	(void)state;
	assert_non_null(q);
	assert_non_null(svg);
	assert_int_equal(w, q->width);
	assert_int_equal(q->width, 17 + 4 * q->version);
	assert_int_equal(q->version, 5); /* 71 bytes at level M: version 5, 37 modules */
	assert_int_equal(w, 37);
	snprintf(view, sizeof(view), "viewBox=\"0 0 %d %d\"", w + 8, w + 8);
	assert_non_null(strstr(svg, view));
	assert_int_equal(strncmp(svg, "<svg ", 5), 0);
	assert_null(strstr(svg, "style"));
	assert_null(strstr(svg, "script"));
	grid = calloc((size_t)(w * w), 1);
	p = strstr(svg, " d=\"") + 4;
	while (sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &n, &used) == 4) {
		assert_int_equal(run, n);
		for (int i = 0; i < run; i++)
			grid[(y - 4) * w + x - 4 + i] = 1;
		p += used;
	}
	assert_string_equal(p, "\"/></svg>");
	for (int i = 0; i < w * w; i++)
		assert_int_equal(grid[i], q->data[i] & 1);
	free(grid);
	free(svg);
	QRcode_free(q);
}

static const char land_body[] =
	"{\"fields\":[{\"label\":\"Thửa đất số\",\"value\":\"12\"},{\"label\":\"Ngày cấp\",\"value\":\"2026-08-22\"}],"
	"\"issued_at\":\"2026-01-04T20:00:00Z\",\"issuer\":\"land1\",\"issuer_name\":\"Lê Thị Land\","
	"\"key\":\"3\",\"kind\":\"land_use_certificate\",\"nonce\":\"00\",\"place\":\"Cái Khế\","
	"\"serial\":\"31120-2026-000009\",\"title\":\"GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT\","
	"\"unit\":\"31120\",\"unit_name\":\"Phường Cái Khế\"}";

static void test_print_layout(void **state)
{
	const char *birth =
		"{\"fields\":[{\"label\":\"Họ, chữ đệm, tên\",\"value\":\"Nguyễn Văn An\"},"
		"{\"label\":\"Ngày, tháng, năm sinh\",\"value\":\"2020-08-22\"}],"
		"\"issued_at\":\"2026-08-22T03:00:00Z\",\"issuer\":\"reg1\",\"issuer_name\":\"Lê Văn A\","
		"\"key\":\"7\",\"kind\":\"birth_extract\",\"nonce\":\"00\",\"place\":\"Cái Khế\","
		"\"serial\":\"31120-2026-000001\",\"title\":\"TRÍCH LỤC KHAI SINH (BẢN SAO)\","
		"\"unit\":\"31120\",\"unit_name\":\"Phường Cái Khế\"}";
	struct doc_print p = {.base = "https://syncd.cantho.gov.vn",
			      .lines = {"KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"},
			      .nlines = 2,
			      .name = "Trần Văn Bình"};
	char *h = document_html(birth, "0123456789abcdef0123", false, &p);

	(void)state;
	assert_non_null(h);
	assert_non_null(strstr(h, "<html lang=\"vi\">"));
	assert_non_null(strstr(h, "<p class=\"body\">ỦY BAN NHÂN DÂN<br>Phường Cái Khế</p><hr class=\"rule\">"
				  "<p class=\"no\">Số: 31120-2026-000001</p>"));
	assert_non_null(strstr(h, "<span class=\"motto\">Độc lập - Tự do - Hạnh phúc</span>"));
	assert_non_null(strstr(h, "class=\"place\">Cái Khế, ngày 22 tháng 8 năm 2026"));
	assert_non_null(strstr(h, "<h1>TRÍCH LỤC KHAI SINH</h1>\n<p class=\"copy\">(BẢN SAO)</p>"));
	assert_non_null(strstr(h, "<tr class=\"name\"><th>Họ, chữ đệm, tên:</th><td>Nguyễn Văn An</td>"));
	assert_non_null(strstr(h, "<td>22/08/2020</td>"));
	assert_non_null(strstr(h, "<p class=\"caption\">NGƯỜI KÝ TRÍCH LỤC</p>"));
	assert_non_null(strstr(h, "<p class=\"signer\">KT. CHỦ TỊCH</p><p class=\"signer\">PHÓ CHỦ TỊCH</p>"
				  "<p class=\"signer-name\">Trần Văn Bình</p>"));
	assert_non_null(strstr(h, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\""));
	assert_non_null(strstr(
		h, "Kiểm tra: https://syncd.cantho.gov.vn/verify/31120-2026-000001?h=0123456789abcdef<"));
	assert_non_null(strstr(h, "@media print"));
	assert_non_null(strstr(h, "@page{size:A4"));
	/* the page stays valid under its CSP: no style attribute, no script */
	assert_null(strstr(h, "style=\""));
	assert_null(strstr(h, "<script"));
	free(h);
	/* the signature block follows the role: without one, the caption only */
	p.nlines = 0;
	p.name = "";
	h = document_html(birth, "0123456789abcdef", false, &p);
	assert_non_null(strstr(h, "NGƯỜI KÝ TRÍCH LỤC</p><p class=\"hint\">"));
	assert_null(strstr(h, "class=\"signer"));
	free(h);
	/* a land-use certificate: an information sheet; the date in Việt Nam (UTC+7) */
	p.info_sheet = true;
	h = document_html(land_body, "0123456789abcdef", false, &p);
	assert_non_null(strstr(h, "<h1>THÔNG TIN HỒ SƠ CẤP GIẤY CHỨNG NHẬN</h1>"));
	assert_null(strstr(h, "<h1>GIẤY CHỨNG NHẬN"));
	assert_non_null(strstr(h, "<title>THÔNG TIN HỒ SƠ CẤP GIẤY CHỨNG NHẬN"));
	assert_non_null(strstr(h, "class=\"place\">Cái Khế, ngày 05 tháng 01 năm 2026"));
	assert_non_null(strstr(h, "<td>22/08/2026</td>"));
	free(h);
}

static void test_verify_page(void **state)
{
	struct doc_verdict v = {.serial = "31120-2026-000001",
				.status = "valid",
				.title = "TRÍCH LỤC KHAI SINH (BẢN SAO)",
				.unit = "31120",
				.unit_name = "Phường Cái Khế",
				.issued_at = "2026-08-21T18:30:00Z",
				.hash_matches = true};
	char *h = document_verify_html(&v);

	(void)state;
	assert_non_null(strstr(h, "<html lang=\"vi\">"));
	assert_non_null(strstr(h, "Văn bản hợp lệ"));
	assert_non_null(strstr(h, "<dd>22/08/2026</dd>"));
	assert_non_null(strstr(h, "Phường Cái Khế (31120)"));
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "style=\""));
	free(h);
	v.status = "revoked";
	v.revoked_at = "2026-09-01T01:00:00Z";
	h = document_verify_html(&v);
	assert_non_null(strstr(h, "Văn bản đã bị thu hồi"));
	assert_non_null(strstr(h, "Ngày thu hồi</dt><dd>01/09/2026"));
	free(h);
	h = document_verify_html(&(struct doc_verdict){.serial = "<x>", .status = "unknown"});
	assert_non_null(strstr(h, "Không tìm thấy văn bản"));
	assert_non_null(strstr(h, "&lt;x&gt;"));
	assert_null(strstr(h, "Nơi cấp"));
	free(h);
}

/* An issue as the work of its audit rows: the claim bumps the job's unit
 * and year, a kind registered through an HTTP target executes its queue
 * (not pipelined), a run without its claim's serial writes nothing, and a
 * failure the job did not see itself (a statement of the batch) is 503. */
static void test_job_work(void **state)
{
	struct doc_kind k = {.name = "birth_extract"};
	struct doc_job j = {.k = &k, .key = "7", .ustr = "31120", .ystr = "2026"};
	struct audit_work w;
	char object[64] = "", err[128] = "";

	(void)state;
	document_job_work(&j, &w);
	assert_non_null(strstr(w.claim, "syncd_doc_seq"));
	assert_int_equal(w.nclaim, 2);
	assert_string_equal(w.claim_params[0], "31120");
	assert_string_equal(w.claim_params[1], "2026");
	assert_ptr_equal(w.arg, &j);
	assert_false(w.exec);
	k.reg_target = "so_dat";
	document_job_work(&j, &w);
	assert_true(w.exec);
	assert_int_equal(w.run(NULL, w.arg, NULL, object, sizeof(object), err, sizeof(err)), -1);
	assert_int_equal(j.status, 503);
	assert_string_equal(object, "");
	assert_null(j.body);
	assert_non_null(strstr(err, "no serial"));
	j.status = 0;
	assert_int_equal(document_job_failed(&j, "ERROR: disk full"), 503);
	assert_string_equal(j.reason, "state_unavailable (ERROR: disk full)");
	j.status = 500;
	assert_int_equal(document_job_failed(&j, "x"), 500);
	document_job_free(&j);
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
		cmocka_unit_test(test_serials),	     cmocka_unit_test(test_date_words),
		cmocka_unit_test(test_signers),	     cmocka_unit_test(test_qr),
		cmocka_unit_test(test_print_layout), cmocka_unit_test(test_verify_page),
		cmocka_unit_test(test_job_work),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
