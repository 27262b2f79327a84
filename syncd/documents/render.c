/* render.c — a document as its printable Vietnamese HTML page (A4, the
 * national heading, dates, signature block, QR code; with its
 * Content-Security-Policy), the public verification page, and the JSON. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <time.h>

#include "common/buf.h"

static int html_text(struct buf *b, const char *s)
{
	for (; s != NULL && *s; s++) {
		const char *e = *s == '<'   ? "&lt;"
				: *s == '>' ? "&gt;"
				: *s == '&' ? "&amp;"
				: *s == '"' ? "&quot;"
					    : NULL;

		if (e ? buf_puts(b, e) < 0 : buf_append(b, s, 1) < 0)
			return -1;
	}
	return 0;
}

/* The one stylesheet of the document pages and the public verification
 * page; the Content-Security-Policy allows it by its hash, so no other
 * inline style or any script can run in them.  Layout per Nghị định
 * 30/2020/NĐ-CP and the civil-status forms: A4, body top left, motto top
 * right with its rule as long as "Độc lập - Tự do - Hạnh phúc". */
static const char doc_style[] =
	"body{font-family:'Times New Roman',Times,serif;font-size:13pt;max-width:48em;margin:2em auto;"
	"padding:0 1em;line-height:1.45;color:#000;background:#fff}"
	".head{display:flex;justify-content:space-between;align-items:flex-start;gap:1em}"
	".org,.nation{text-align:center}.org{flex:0 0 40%}.nation{flex:0 0 58%}"
	".org p,.nation p{margin:0}.org .body{font-weight:bold;text-transform:uppercase}"
	".rule{width:35%;margin:.2em auto .4em;border:0;border-top:1px solid #000}"
	".nation .state{font-weight:bold}.motto{font-weight:bold;display:inline-block;"
	"border-bottom:1px solid #000;padding-bottom:.1em}"
	".place{font-style:italic;margin-top:.6em!important}"
	"h1{text-align:center;font-size:14pt;margin:1.6em 0 0}.copy{text-align:center;font-weight:bold;margin:0}"
	".note{text-align:center;font-style:italic;margin:.3em 0 0}"
	"table{width:100%;border-collapse:collapse;margin-top:1.2em}"
	"th{text-align:left;font-weight:normal;width:42%;vertical-align:top;padding:.15em .5em .15em 0}"
	"td{font-weight:bold;padding:.15em 0}tr.name td{text-transform:uppercase}"
	".sign{margin:2em 0 0 auto;width:50%;text-align:center}.sign p{margin:0}"
	".caption,.signer{font-weight:bold}.hint{font-style:italic;font-size:11pt}"
	".signer-name{font-weight:bold;margin-top:5em!important}"
	".revoked{color:#a00;font-weight:bold;text-align:center;border:2px solid #a00;padding:.5em}"
	"footer{margin-top:3em;font-size:10pt;display:flex;gap:1em;align-items:flex-start;word-break:break-all}"
	"footer p{margin:0}.qr{flex:0 0 auto}"
	".status{font-size:1.4em;font-weight:bold;padding:.5em;border:2px solid}"
	".valid{color:#05612a}.revoked-state{color:#a00}.unknown{color:#333}"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em}dt{font-weight:bold}dd{margin:0}"
	"@page{size:A4;margin:20mm 15mm 20mm 30mm}"
	"@media print{body{max-width:none;margin:0;padding:0;font-size:13pt}.revoked{border-width:3px}}";

static char doc_csp[512];
static pthread_once_t doc_csp_once = PTHREAD_ONCE_INIT;

static void doc_csp_make(void)
{
	unsigned char md[32], b64[64];

	SHA256((const unsigned char *)doc_style, strlen(doc_style), md);
	EVP_EncodeBlock(b64, md, sizeof(md));
	snprintf(doc_csp, sizeof(doc_csp),
		 "default-src 'none'; style-src 'sha256-%s'; img-src data:; frame-ancestors 'none'; "
		 "base-uri 'none'; form-action 'none'",
		 (const char *)b64);
}

const char *document_csp(void)
{
	pthread_once(&doc_csp_once, doc_csp_make);
	return doc_csp;
}

int doc_date_words(int y, int m, int d, char *out, size_t outlen)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	/* days 1-9 and months 1 and 2 take a leading zero (Nghị định 30/2020) */
	snprintf(out, outlen, "ngày %02d tháng %s%d năm %d", d, m <= 2 ? "0" : "", m, y);
	return 0;
}

bool doc_date_field(const char *v, char *out, size_t outlen)
{
	int y, m, d;
	char words[64];

	if (v == NULL || strlen(v) != 10 || strspn(v, "0123456789") != 4 || v[4] != '-' ||
	    strspn(v + 5, "0123456789") != 2 || v[7] != '-' || strspn(v + 8, "0123456789") != 2 ||
	    sscanf(v, "%4d-%2d-%2d", &y, &m, &d) != 3 || doc_date_words(y, m, d, words, sizeof(words)) < 0)
		return false;
	snprintf(out, outlen, "%02d/%02d/%04d", d, m, y);
	return true;
}

/* issued_at (UTC, "2026-11-27T10:00:00Z") as the date in Việt Nam (UTC+7,
 * no daylight saving): 0, or -1 when it does not parse. */
static int issued_local(const char *at, int *y, int *m, int *d)
{
	struct tm tm = {0};
	time_t t;

	if (at == NULL || sscanf(at, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				 &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm) + 7 * 3600;
	gmtime_r(&t, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
	*d = tm.tm_mday;
	return 0;
}

#define T(s)	    bad |= buf_puts(b, s) < 0
#define E(s)	    bad |= html_text(b, s) < 0
#define J(d, key)   json_string_value(json_object_get(d, key))
#define SUFFIX_COPY " (BẢN SAO)"

static int page_head(struct buf *b, const char *title, const char *serial)
{
	int bad = 0;

	T("<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
	  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	E(title);
	if (serial != NULL) {
		T(" ");
		E(serial);
	}
	T("</title>\n<style>");
	T(doc_style);
	T("</style>\n</head>\n");
	return bad ? -1 : 0;
}

/* The issuing body, its rule and the number (left); the national motto
 * with its rule and the place and date (right). */
static int doc_header(struct buf *b, json_t *doc)
{
	int bad = 0, y, m, d;
	char date[64];

	T("<header class=\"head\">\n<div class=\"org\"><p class=\"body\">ỦY BAN NHÂN DÂN<br>");
	E(J(doc, "unit_name"));
	T("</p><hr class=\"rule\"><p class=\"no\">Số: ");
	E(J(doc, "serial"));
	T("</p></div>\n<div class=\"nation\"><p class=\"state\">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</p>"
	  "<p><span class=\"motto\">Độc lập - Tự do - Hạnh phúc</span></p>\n<p class=\"place\">");
	E(J(doc, "place"));
	if (issued_local(J(doc, "issued_at"), &y, &m, &d) == 0 &&
	    doc_date_words(y, m, d, date, sizeof(date)) == 0) {
		T(", ");
		T(date);
	}
	T("</p></div>\n</header>\n");
	return bad ? -1 : 0;
}

/* The title centred, "(BẢN SAO)" on its own line; a land-use certificate
 * is an information sheet, never something that looks like the certificate. */
static int doc_title(struct buf *b, const char *title, bool info_sheet)
{
	size_t n = title ? strlen(title) : 0, sl = strlen(SUFFIX_COPY);
	int bad = 0;

	if (info_sheet) {
		T("<h1>THÔNG TIN HỒ SƠ CẤP GIẤY CHỨNG NHẬN</h1>\n<p class=\"note\">Phiếu thông tin hồ sơ, "
		  "không phải Giấy chứng nhận; Giấy chứng nhận do phần mềm cơ sở dữ liệu đất đai in.</p>\n");
	} else if (n > sl && strcmp(title + n - sl, SUFFIX_COPY) == 0) {
		char *main_title = strndup(title, n - sl);

		T("<h1>");
		bad |= main_title == NULL || html_text(b, main_title) < 0;
		free(main_title);
		T("</h1>\n<p class=\"copy\">(BẢN SAO)</p>\n");
	} else {
		T("<h1>");
		E(title);
		T("</h1>\n");
	}
	return bad ? -1 : 0;
}

/* The fields in the form's order: names in capitals (by the stylesheet, so
 * the text stays byte-identical), dates as 22/08/2026. */
static int doc_fields(struct buf *b, json_t *fields)
{
	int bad = 0;
	size_t i;
	json_t *f;

	T("<table>\n");
	json_array_foreach (fields, i, f) {
		const char *label = J(f, "label"), *value = J(f, "value");
		char date[16];

		T(label != NULL && strncmp(label, "Họ, chữ đệm, tên", strlen("Họ, chữ đệm, tên")) == 0
			  ? "<tr class=\"name\"><th>"
			  : "<tr><th>");
		E(label);
		T(":</th><td>");
		E(doc_date_field(value, date, sizeof(date)) ? date : value);
		T("</td></tr>\n");
	}
	T("</table>\n");
	return bad ? -1 : 0;
}

/* "NGƯỜI KÝ TRÍCH LỤC", the delegated title lines and the name as
 * configured for the issuing role and unit (caption only without). */
static int doc_signature(struct buf *b, const char *title, const struct doc_print *p)
{
	int bad = 0;

	T("<div class=\"sign\"><p class=\"caption\">");
	T(p != NULL && p->info_sheet				  ? "NGƯỜI LẬP PHIẾU"
	  : title != NULL && strncmp(title, "TRÍCH LỤC", 11) == 0 ? "NGƯỜI KÝ TRÍCH LỤC"
								  : "NGƯỜI KÝ");
	T("</p><p class=\"hint\">(Ký, ghi rõ họ, chữ đệm, tên, chức vụ và đóng dấu)</p>\n");
	for (size_t i = 0; p != NULL && i < p->nlines; i++) {
		T("<p class=\"signer\">");
		E(p->lines[i]);
		T("</p>");
	}
	if (p != NULL && p->name != NULL && p->name[0] != '\0') {
		T("<p class=\"signer-name\">");
		E(p->name);
		T("</p>");
	}
	T("</div>\n");
	return bad ? -1 : 0;
}

/* The QR code of the public verification link, the link itself, the
 * serial, the hash and the machine-readable check. */
static int doc_footer(struct buf *b, json_t *doc, const char *hash, const struct doc_print *p)
{
	const char *serial = J(doc, "serial");
	char *url = NULL, *svg = NULL;
	int bad = 0;

	if (asprintf(&url, "%s/verify/%s?h=%.*s", p ? p->base : "", serial ? serial : "", DOC_HASH_PREFIX,
		     hash ? hash : "") < 0)
		return -1;
	T("<footer>");
	if (p != NULL && p->base[0] != '\0' && (svg = qr_svg(url, NULL)) != NULL)
		T(svg);
	T("<div><p>Mã số văn bản: ");
	E(serial);
	T("</p><p>Người lập: ");
	E(J(doc, "issuer_name"));
	T("</p><p>SHA-256: ");
	E(hash);
	T("</p><p>Kiểm tra: ");
	E(url);
	T("</p><p>Kiểm tra (máy đọc): /v1/documents/");
	E(serial);
	bad |= buf_printf(b, "/verify?h=%.*s</p></div></footer>\n", DOC_HASH_PREFIX, hash ? hash : "") < 0;
	free(svg);
	free(url);
	return bad ? -1 : 0;
}

char *document_html(const char *body, const char *hash, bool revoked, const struct doc_print *p)
{
	json_t *d = json_loads(body, 0, NULL);
	struct buf page = {0}, *b = &page;
	const char *title;
	int bad = 0;

	if (d == NULL)
		return NULL;
	title = J(d, "title");
	bad |= page_head(b, p != NULL && p->info_sheet ? "THÔNG TIN HỒ SƠ CẤP GIẤY CHỨNG NHẬN" : title,
			 J(d, "serial")) < 0;
	T("<body>\n");
	bad |= doc_header(b, d) < 0;
	if (revoked)
		T("<p class=\"revoked\">ĐÃ THU HỒI — văn bản này không còn giá trị (revoked)</p>\n");
	bad |= doc_title(b, title, p != NULL && p->info_sheet) < 0;
	bad |= doc_fields(b, json_object_get(d, "fields")) < 0;
	bad |= doc_signature(b, title, p) < 0;
	bad |= doc_footer(b, d, hash, p) < 0;
	T("</body>\n</html>\n");
	json_decref(d);
	if (bad) {
		buf_free(b);
		return NULL;
	}
	return page.data;
}

/* A UTC time as the day in Việt Nam, "22/08/2026". */
static int field_day(struct buf *b, const char *at)
{
	int y, m, d;

	if (issued_local(at, &y, &m, &d) < 0)
		return 0;
	return buf_printf(b, "%02d/%02d/%04d", d, m, y) < 0 ? -1 : 0;
}

char *document_verify_html(const struct doc_verdict *v)
{
	struct buf page = {0}, *b = &page;
	bool found = strcmp(v->status, "unknown") != 0;
	int bad = 0;

	bad |= page_head(b, "Kiểm tra văn bản", NULL) < 0;
	T("<body>\n<main>\n<h1>Kiểm tra văn bản</h1>\n");
	if (strcmp(v->status, "valid") == 0)
		T("<p class=\"status valid\">Văn bản hợp lệ</p>\n");
	else if (strcmp(v->status, "revoked") == 0)
		T("<p class=\"status revoked-state\">Văn bản đã bị thu hồi</p>\n");
	else if (found)
		T("<p class=\"status revoked-state\">Văn bản không hợp lệ: nội dung lưu trữ không khớp chữ ký</p>\n");
	else
		T("<p class=\"status unknown\">Không tìm thấy văn bản</p>\n"
		  "<p>Không có văn bản nào mang số và mã kiểm tra này. Kiểm tra lại số và mã in trên văn bản, "
		  "hoặc liên hệ Ủy ban nhân dân nơi cấp.</p>\n");
	T("<dl>\n<dt>Số văn bản</dt><dd>");
	E(v->serial);
	T("</dd>\n");
	if (found) {
		T("<dt>Loại văn bản</dt><dd>");
		E(v->title);
		T("</dd>\n<dt>Nơi cấp</dt><dd>Ủy ban nhân dân ");
		E(v->unit_name);
		T(" (");
		E(v->unit);
		T(")</dd>\n<dt>Ngày cấp</dt><dd>");
		bad |= field_day(b, v->issued_at) < 0;
		T("</dd>\n<dt>Mã kiểm tra</dt><dd>");
		T(v->hash_matches ? "khớp với văn bản đã cấp" : "không khớp");
		T("</dd>\n");
		if (v->revoked_at != NULL && v->revoked_at[0] != '\0') {
			T("<dt>Ngày thu hồi</dt><dd>");
			bad |= field_day(b, v->revoked_at) < 0;
			T("</dd>\n");
		}
	}
	T("</dl>\n<p class=\"hint\">Trang này chỉ cho biết tình trạng của văn bản; không hiển thị "
	  "thông tin cá nhân.</p>\n</main>\n</body>\n</html>\n");
	if (bad) {
		buf_free(b);
		return NULL;
	}
	return page.data;
}

#undef T
#undef E
#undef J

char *document_json(const struct doc_record *r)
{
	json_t *d = json_loads(r->body, 0, NULL);
	char *s;

	if (d == NULL)
		return NULL;
	json_object_set_new(d, "hash", json_string(r->hash));
	json_object_set_new(d, "signature", json_string(r->signature));
	json_object_set_new(d, "public_key", json_string(r->public_key));
	json_object_set_new(d, "revoked", json_boolean(r->revoked));
	json_object_set_new(d, "revoked_at", r->revoked ? json_string(r->revoked_at) : json_null());
	json_object_set_new(d, "revoke_reason", r->revoked ? json_string(r->revoke_reason) : json_null());
	s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}
