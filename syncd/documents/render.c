/* render.c — a document as its printable Vietnamese HTML page (with its
 * Content-Security-Policy) and as the JSON answer of GET. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>

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

/* The page's one style block; the Content-Security-Policy allows it by its
 * hash, so no other inline style or any script can run in the page. */
static const char doc_style[] =
	"body{font-family:'Times New Roman',serif;max-width:46em;margin:2em auto;line-height:1.5}"
	"header{display:flex;justify-content:space-between;text-align:center;font-weight:bold}"
	"h1{text-align:center;font-size:1.3em;margin-top:2em}.no{text-align:center}"
	"table{width:100%;border-collapse:collapse}th{text-align:left;font-weight:normal;width:40%;vertical-align:top}"
	"td{font-weight:bold}.place{text-align:right;font-style:italic;margin-top:2em}.sign{text-align:right}"
	".revoked{color:#b00;font-weight:bold;text-align:center;border:2px solid #b00;padding:.5em}"
	"footer{margin-top:3em;font-size:.8em;word-break:break-all;color:#444}";

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

char *document_html(const char *body, const char *hash, bool revoked)
{
	json_t *d = json_loads(body, 0, NULL), *f;
	struct buf b = {0};
	const char *at;
	size_t i;
	int y = 0, m = 0, day = 0;
	int bad = 0;

	if (d == NULL)
		return NULL;
	at = json_string_value(json_object_get(d, "issued_at"));
	if (at != NULL)
		(void)sscanf(at, "%d-%d-%d", &y, &m, &day);
#define T(s)   bad |= buf_puts(&b, s) < 0
#define E(key) bad |= html_text(&b, json_string_value(json_object_get(d, key))) < 0
	T("<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	E("title");
	T(" ");
	E("serial");
	T("</title>\n<style>");
	T(doc_style);
	T("</style>\n</head>\n<body>\n");
	T("<header><div>ỦY BAN NHÂN DÂN<br>");
	E("unit_name");
	T("</div><div>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br>Độc lập - Tự do - Hạnh phúc</div></header>\n");
	if (revoked)
		T("<p class=\"revoked\">ĐÃ THU HỒI — văn bản này không còn giá trị (revoked)</p>\n");
	T("<h1>");
	E("title");
	T("</h1>\n<p class=\"no\">Số: ");
	E("serial");
	T("</p>\n<table>\n");
	json_array_foreach (json_object_get(d, "fields"), i, f) {
		T("<tr><th>");
		bad |= html_text(&b, json_string_value(json_object_get(f, "label"))) < 0;
		T(":</th><td>");
		bad |= html_text(&b, json_string_value(json_object_get(f, "value"))) < 0;
		T("</td></tr>\n");
	}
	T("</table>\n<p class=\"place\">");
	E("place");
	bad |= buf_printf(&b, ", ngày %02d tháng %02d năm %d</p>\n<p class=\"sign\">NGƯỜI KÝ<br>", day, m,
			  y) < 0;
	E("issuer_name");
	T("</p>\n<footer>Mã số văn bản: ");
	E("serial");
	T("<br>SHA-256: ");
	bad |= html_text(&b, hash) < 0;
	T("<br>Kiểm tra: /v1/documents/");
	E("serial");
	bad |= buf_printf(&b, "/verify?h=%.*s</footer>\n</body>\n</html>\n", DOC_HASH_PREFIX,
			  hash ? hash : "") < 0;
#undef T
#undef E
	json_decref(d);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

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
