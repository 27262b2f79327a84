/* test_http_payload.c — the HTTP target's JSON batches (every type mapping in
 * tests/data/http/values.tsv, whole bodies in tests/data/http/batch*.json), batch ids, signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "connectors/http_payload.h"
#include "connectors/http_sign.h"

#define DATA "tests/data/http/"

/* ho_so(ma_ho_so int8 key 2, dot int4 key 1, ten text, ngay_nop timestamptz,
 * le_phi numeric, tep bytea, da_duyet bool) */
static const struct connector_column cols[] = {
	{.name = "ma_ho_so", .type_oid = 20, .key_pos = 2},
	{.name = "dot", .type_oid = 23, .key_pos = 1},
	{.name = "ten", .type_oid = 25},
	{.name = "ngay_nop", .type_oid = 1184},
	{.name = "le_phi", .type_oid = 1700},
	{.name = "tep", .type_oid = 17},
	{.name = "da_duyet", .type_oid = 16},
};
static const struct connector_table ho_so = {"ho_so", cols, sizeof(cols) / sizeof(cols[0])};

#define V(s)                                                                                                 \
	{                                                                                                    \
		CV_VALUE, s, sizeof(s) - 1                                                                   \
	}
#define NUL                                                                                                  \
	{                                                                                                    \
		CV_NULL, NULL, 0                                                                             \
	}
#define ABS                                                                                                  \
	{                                                                                                    \
		CV_ABSENT, NULL, 0                                                                           \
	}

/* "Nguyễn Thị Hồng Nhung" in NFC: precomposed ễ (U+1EC5), ị (U+1ECB), ồ (U+1ED3) */
#define NFC_NAME "Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b H\xe1\xbb\x93ng Nhung"

static char *data_file(const char *name, size_t *len)
{
	char path[256], err[256];
	char *s;

	snprintf(path, sizeof(path), DATA "%s", name);
	s = file_read_all(path, len, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	while (*len > 0 && s[*len - 1] == '\n') /* the files end in a newline; bodies do not */
		s[--*len] = '\0';
	return s;
}

static char *render(const struct http_batch *b, enum http_format f, size_t *len)
{
	char err[256], *body;
	json_error_t je;
	json_t *j;

	if (http_batch_render(b, f, &body, len, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(strlen(body), *len);
	j = json_loadb(body, *len, 0, &je); /* always well-formed JSON */
	if (!j)
		fail_msg("%s: %s", je.text, body);
	json_decref(j);
	return body;
}

static void assert_body(const struct http_batch *b, enum http_format f, const char *file)
{
	size_t len, elen;
	char *body = render(b, f, &len), *want = data_file(file, &elen);

	if (len != elen || memcmp(body, want, len) != 0) {
		/* the whole body, for a diff: cmocka cuts long messages */
		char got[256];
		FILE *fp;

		snprintf(got, sizeof(got), "build/tests/%s.got", file);
		if ((fp = fopen(got, "w")) != NULL) {
			fprintf(fp, "%s\n", body);
			fclose(fp);
		}
		fail_msg("%s differs from " DATA "%s: diff the two", got, file);
	}
	free(body);
	free(want);
}

/* insert, update (NULL, unchanged TOAST, changed key), delete, truncate */
static struct http_batch *sample_batch(void)
{
	const struct connector_value ins[] = {
		V("31001"),	V("1"),		V(NFC_NAME), V("2026-08-22 10:00:00+07"),
		V("150000.50"), V("\\x00ff10"), V("t")};
	const struct connector_value upd[] = {V("31002"), V("1"), NUL,	 V("2026-08-23 08:30:00.25+07"),
					      NUL,	  ABS,	  V("f")};
	const struct connector_value upd_old[] = {V("1"), V("31001")};
	const struct connector_value del_old[] = {V("1"), V("31002")};
	struct http_batch *b = http_batch_new("land", 31001);
	char err[256];

	assert_non_null(b);
	if (http_batch_add(b, 0x16B3748, HTTP_OP_INSERT, &ho_so, ins, NULL, err, sizeof(err)) < 0 ||
	    http_batch_add(b, 0x16B3748, HTTP_OP_UPDATE, &ho_so, upd, upd_old, err, sizeof(err)) < 0 ||
	    http_batch_add(b, 0x16B3800, HTTP_OP_DELETE, &ho_so, NULL, del_old, err, sizeof(err)) < 0 ||
	    http_batch_add(b, 0x100000000ULL, HTTP_OP_TRUNCATE, &ho_so, NULL, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(http_batch_count(b), 4);
	return b;
}

static void test_batch_files(void **state)
{
	struct http_batch *b = sample_batch();

	(void)state;
	assert_body(b, HTTP_FORMAT_JSON, "batch.json");
	assert_body(b, HTTP_FORMAT_CLOUDEVENTS, "batch-cloudevents.json");
	http_batch_free(b);
}

/* Each CloudEvent's data is the plain form's change, its id the batch id + "/" + index. */
static void test_cloudevents_match_plain(void **state)
{
	struct http_batch *b = sample_batch();
	size_t plen, clen;
	char *plain = render(b, HTTP_FORMAT_JSON, &plen), *ce = render(b, HTTP_FORMAT_CLOUDEVENTS, &clen);
	json_t *p = json_loadb(plain, plen, 0, NULL), *c = json_loadb(ce, clen, 0, NULL);
	json_t *changes = json_object_get(p, "changes");
	const char *id = json_string_value(json_object_get(p, "batch_id"));

	(void)state;
	assert_true(json_is_array(c));
	assert_int_equal(json_array_size(c), json_array_size(changes));
	for (size_t i = 0; i < json_array_size(c); i++) {
		json_t *ev = json_array_get(c, i), *ch = json_array_get(changes, i);
		char want_id[300], want_type[64];

		snprintf(want_id, sizeof(want_id), "%s/%zu", id, i);
		snprintf(want_type, sizeof(want_type), "vn.cantho.syncd.%s",
			 json_string_value(json_object_get(ch, "op")));
		assert_true(json_equal(json_object_get(ev, "data"), ch));
		assert_string_equal(json_string_value(json_object_get(ev, "id")), want_id);
		assert_string_equal(json_string_value(json_object_get(ev, "type")), want_type);
		assert_string_equal(json_string_value(json_object_get(ev, "specversion")), "1.0");
		assert_string_equal(json_string_value(json_object_get(ev, "subject")), "31001/ho_so");
		assert_string_equal(json_string_value(json_object_get(ev, "source")), "syncd/land");
	}
	assert_string_equal(http_format_content_type(HTTP_FORMAT_CLOUDEVENTS),
			    "application/cloudevents-batch+json");
	assert_string_equal(http_format_content_type(HTTP_FORMAT_JSON), "application/json");
	json_decref(p);
	json_decref(c);
	free(plain);
	free(ce);
	http_batch_free(b);
}

/* One value through a one-column table: the row's JSON, or NULL when refused
 * (err then names table and column). */
static char *one_value(unsigned oid, const struct connector_value *v, char *err, size_t errlen)
{
	const struct connector_column col = {.name = "v", .type_oid = oid};
	const struct connector_table t = {"t", &col, 1};
	struct http_batch *b = http_batch_new("s", 1);
	const char *row;
	char *body, *out = NULL;
	size_t len;

	assert_non_null(b);
	if (http_batch_add(b, 1, HTTP_OP_INSERT, &t, v, NULL, err, errlen) == 0) {
		body = render(b, HTTP_FORMAT_JSON, &len);
		row = strstr(body, "\"row\":{\"v\":");
		assert_non_null(row);
		row += strlen("\"row\":{\"v\":");
		out = strndup(row, strlen(row) - strlen("}}]}"));
		free(body);
	}
	http_batch_free(b);
	return out;
}

static void test_values_file(void **state)
{
	size_t len, ncases = 0;
	char *text = data_file("values.tsv", &len), *save = NULL;

	(void)state;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *in = strchr(line, '\t'), *want = in ? strchr(in + 1, '\t') : NULL, *got, err[256] = "";
		struct connector_value v = {CV_VALUE, NULL, 0};

		if (line[0] == '#')
			continue;
		assert_non_null(want);
		*in++ = '\0';
		*want++ = '\0';
		if (strcmp(in, "\\N") == 0)
			v.kind = CV_NULL;
		v.p = in;
		v.len = strlen(in);
		got = one_value((unsigned)atoi(line), &v, err, sizeof(err));
		if (strcmp(want, "ERROR") == 0 && got)
			fail_msg("oid %s %s: accepted as %s, want refused", line, in, got);
		if (strcmp(want, "ERROR") == 0 && !strstr(err, "table t column v: "))
			fail_msg("oid %s %s: error does not name the column: %s", line, in, err);
		if (strcmp(want, "ERROR") != 0 && (!got || strcmp(got, want) != 0))
			fail_msg("oid %s %s: got %s (%s), want %s", line, in, got ? got : "refused", err,
				 want);
		free(got);
		ncases++;
	}
	assert_true(ncases >= 50);
	free(text);
}

static void test_invalid_utf8_refused(void **state)
{
	static const char *const bad[] = {"caf\xe9",	"\xc0\xaf", "\xed\xa0\x80",	   "\xf4\x90\x80\x80",
					  "ab\xe1\xbb", "\x80",	    "\xf8\x88\x80\x80\x80"};
	const struct connector_value ok[] = {V("31001"), V("1"), V(NFC_NAME), NUL, NUL, NUL, NUL};
	struct connector_value row[] = {V("31001"), V("1"), V("x"), NUL, NUL, NUL, NUL};
	struct http_batch *b = http_batch_new("land", 31001);
	size_t before_len, after_len;
	char err[256], *before, *after;

	(void)state;
	assert_int_equal(http_batch_add(b, 10, HTTP_OP_INSERT, &ho_so, ok, NULL, err, sizeof(err)), 0);
	before = render(b, HTTP_FORMAT_JSON, &before_len);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		row[2].p = bad[i];
		row[2].len = strlen(bad[i]);
		err[0] = '\0';
		assert_int_equal(http_batch_add(b, 10, HTTP_OP_INSERT, &ho_so, row, NULL, err, sizeof(err)),
				 -1);
		assert_string_equal(err, "table ho_so column ten: not valid UTF-8");
	}
	/* a refused change leaves the batch as it was */
	assert_int_equal(http_batch_count(b), 1);
	after = render(b, HTTP_FORMAT_JSON, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	/* the NFC name went through byte for byte, not escaped or normalised */
	assert_non_null(strstr(after, "\"ten\":\"" NFC_NAME "\""));
	free(before);
	free(after);
	http_batch_free(b);
}

/* The same text decomposed (NFD, e + U+0302 + U+0303) goes out in NFC, as
 * the receiver's search and dedupe by name expect (common/nfc.c). */
static void test_text_bytes_kept(void **state)
{
	const struct connector_value nfd = {CV_VALUE, "Nguye\xcc\x82\xcc\x83n", 10};
	char err[256], *got = one_value(25, &nfd, err, sizeof(err));

	(void)state;
	assert_non_null(got);
	assert_string_equal(got, "\"Nguy\xe1\xbb\x85n\"");
	free(got);
}

static void test_wrong_parts_refused(void **state)
{
	const struct connector_value row[] = {V("1"), V("1"), NUL, NUL, NUL, NUL, NUL};
	const struct connector_value key[] = {V("1"), V("1")};
	const struct connector_value absent_key[] = {V("1"), ABS, NUL, NUL, NUL, NUL, NUL};
	struct http_batch *b = http_batch_new("land", 1);
	char err[256];

	(void)state;
	assert_int_equal(http_batch_add(b, 1, HTTP_OP_DELETE, &ho_so, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "delete change with the wrong parts"));
	assert_int_equal(http_batch_add(b, 1, HTTP_OP_INSERT, &ho_so, row, key, err, sizeof(err)), -1);
	assert_int_equal(http_batch_add(b, 1, HTTP_OP_INSERT, &ho_so, NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(http_batch_add(b, 1, HTTP_OP_TRUNCATE, &ho_so, row, NULL, err, sizeof(err)), -1);
	assert_int_equal(http_batch_add(b, 1, HTTP_OP_UPDATE, &ho_so, absent_key, NULL, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "table ho_so column dot: a key column's value is missing (unchanged TOAST)");
	/* a batch runs in commit order */
	assert_int_equal(http_batch_add(b, 5, HTTP_OP_INSERT, &ho_so, row, NULL, err, sizeof(err)), 0);
	assert_int_equal(http_batch_add(b, 4, HTTP_OP_INSERT, &ho_so, row, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "commit order"));
	assert_int_equal(http_batch_count(b), 1);
	http_batch_free(b);
}

static void test_batch_id(void **state)
{
	char a[HTTP_BATCH_ID_MAX + 1], b[HTTP_BATCH_ID_MAX + 1], err[256], longname[300], *body;
	struct http_batch *batch;
	size_t len;

	(void)state;
	assert_int_equal(
		http_batch_id("land", 31001, 0x16B3748, 0x100000000ULL, a, sizeof(a), err, sizeof(err)), 0);
	assert_string_equal(a, "land-31001-00000000016B3748-0000000100000000");
	/* same inputs, same id: nothing random, nothing from the clock */
	assert_int_equal(
		http_batch_id("land", 31001, 0x16B3748, 0x100000000ULL, b, sizeof(b), err, sizeof(err)), 0);
	assert_string_equal(a, b);
	assert_int_equal(
		http_batch_id("land", 31001, 0x16B3748, 0x100000001ULL, b, sizeof(b), err, sizeof(err)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(
		http_batch_id("land", 31002, 0x16B3748, 0x100000000ULL, b, sizeof(b), err, sizeof(err)), 0);
	assert_string_not_equal(a, b);
	/* a header value: odd bytes of the source name are %XX */
	assert_int_equal(http_batch_id("đất đai/x y", 7, 1, 2, b, sizeof(b), err, sizeof(err)), 0);
	assert_string_equal(b, "%C4%91%E1%BA%A5t%20%C4%91ai%2Fx%20y-7-0000000000000001-0000000000000002");
	memset(longname, 'a', 220);
	longname[220] = '\0';
	assert_int_equal(http_batch_id(longname, 7, 1, 2, b, sizeof(b), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 255"));
	/* the rendered batch carries the same id as a fresh computation, after a "restart" */
	http_batch_free(sample_batch());
	batch = sample_batch();
	body = render(batch, HTTP_FORMAT_JSON, &len);
	assert_non_null(strstr(body, "\"batch_id\":\"land-31001-00000000016B3748-0000000100000000\""));
	assert_non_null(strstr(body, "\"lsn_from\":\"0/16B3748\",\"lsn_to\":\"1/0\""));
	free(body);
	http_batch_free(batch);
	/* an empty batch has no body */
	batch = http_batch_new("land", 1);
	assert_int_equal(http_batch_render(batch, HTTP_FORMAT_JSON, &body, &len, err, sizeof(err)), -1);
	assert_null(body);
	http_batch_free(batch);
	http_batch_free(NULL);
}

/* tests/data/http/signatures.tsv: secret, id, timestamp, body, signature. */
static void test_signatures_file(void **state)
{
	size_t len, ncases = 0;
	char *text = data_file("signatures.tsv", &len), *save = NULL;

	(void)state;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5], *p = line, sig[HTTP_SIGNATURE_MAX], err[256];
		unsigned char *key;
		size_t keylen;

		if (line[0] == '#')
			continue;
		for (int i = 0; i < 5; i++) {
			f[i] = p;
			p = strchr(p, '\t');
			if (i < 4) {
				assert_non_null(p);
				*p++ = '\0';
			}
		}
		key = http_sign_key(f[0], &keylen, err, sizeof(err));
		if (!key)
			fail_msg("%s", err);
		assert_int_equal(http_sign_webhook(key, keylen, f[1], atoll(f[2]), f[3], strlen(f[3]), sig),
				 0);
		assert_string_equal(sig, f[4]);
		free(key);
		ncases++;
	}
	assert_true(ncases >= 3);
	free(text);
}

static void test_sign_key(void **state)
{
	unsigned char *key;
	size_t keylen;
	char err[256];

	(void)state;
	key = http_sign_key("whsec_AAH+/w==", &keylen, err, sizeof(err));
	assert_non_null(key);
	assert_int_equal(keylen, 4);
	assert_memory_equal(key, "\x00\x01\xfe\xff", 4);
	free(key);
	key = http_sign_key("whsec_AAH+/w", &keylen, err, sizeof(err)); /* padding optional */
	assert_non_null(key);
	assert_int_equal(keylen, 4);
	free(key);
	key = http_sign_key("raw secret", &keylen, err, sizeof(err));
	assert_non_null(key);
	assert_int_equal(keylen, 10);
	assert_memory_equal(key, "raw secret", 10);
	free(key);
	assert_null(http_sign_key("whsec_not base64!", &keylen, err, sizeof(err)));
	assert_non_null(strstr(err, "not base64"));
	assert_null(http_sign_key("whsec_", &keylen, err, sizeof(err)));
	assert_null(http_sign_key("whsec_A", &keylen, err, sizeof(err)));
	assert_null(http_sign_key("", &keylen, err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_files),	cmocka_unit_test(test_cloudevents_match_plain),
		cmocka_unit_test(test_values_file),	cmocka_unit_test(test_invalid_utf8_refused),
		cmocka_unit_test(test_text_bytes_kept), cmocka_unit_test(test_wrong_parts_refused),
		cmocka_unit_test(test_batch_id),	cmocka_unit_test(test_signatures_file),
		cmocka_unit_test(test_sign_key),
	};

	return cmocka_run_group_tests_name("http_payload", tests, NULL, NULL);
}
