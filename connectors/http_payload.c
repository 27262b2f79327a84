/* http_payload.c — one unit's batch of changes as the JSON an HTTP target
 * sends: PostgreSQL text values mapped to JSON by type OID, plain or CloudEvents. */
#include "connectors/http_payload.h"

#include <zlib.h>

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/nfc.h"
#include "connectors/pgoutput.h"

/* PostgreSQL's built-in type OIDs (pg_type.dat); fixed across versions. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_DATE = 1082,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_NUMERIC = 1700,
};

/* Where one change sits in the batch's text. */
struct change_ref {
	size_t off, len;	/* in changes */
	size_t table_off, tlen; /* the escaped table name, in tables */
	enum http_op op;
};

struct http_batch {
	char *source;
	int unit;
	uint64_t lsn_from, lsn_to;
	unsigned part;	    /* 0: the whole batch; N: its Nth piece, "-N" on the id */
	struct buf changes; /* every change's JSON object, back to back */
	struct buf tables;  /* every change's table name, JSON-escaped */
	struct change_ref *refs;
	size_t n, cap;
};

static const char *const op_names[] = {"insert", "update", "delete", "truncate"};

const char *http_op_name(enum http_op op)
{
	return (unsigned)op < 4 ? op_names[op] : "?";
}

const char *http_format_content_type(enum http_format format)
{
	return format == HTTP_FORMAT_CLOUDEVENTS ? "application/cloudevents-batch+json" : "application/json";
}

/* ---- text ------------------------------------------------------------------ */

/* 0 when p is well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF), else 1 + the offset of the first bad byte. */
static size_t utf8_bad_at(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t k = c < 0x80		    ? 0
			   : c >= 0xC2 && c <= 0xDF ? 1
			   : (c & 0xF0) == 0xE0	    ? 2
			   : c >= 0xF0 && c <= 0xF4 ? 3
						    : 9;
		unsigned lo = 0x80, hi = 0xBF;

		if (k == 9 || k >= n - i)
			return i + 1;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		for (size_t j = 1; j <= k; j++) {
			unsigned d = p[i + j];

			if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF))
				return i + 1;
		}
		i += k + 1;
	}
	return 0;
}

/* Appends p as a JSON string, its bytes unchanged but for '"', '\' and
 * control characters; -1 when p is not UTF-8 (or memory runs out). */
static int json_str(struct buf *o, const char *p, size_t n)
{
	size_t start = 0;

	if (utf8_bad_at((const unsigned char *)p, n))
		return -1;
	if (buf_append(o, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\n' ? "\\n"
				  : c == '\r' ? "\\r"
				  : c == '\t' ? "\\t"
					      : NULL;
		char u[8];

		if (!esc && c >= 0x20)
			continue;
		if (!esc) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			esc = u;
		}
		if (buf_append(o, p + start, i - start) < 0 || buf_puts(o, esc) < 0)
			return -1;
		start = i + 1;
	}
	return buf_append(o, p + start, n - start) < 0 || buf_append(o, "\"", 1) < 0 ? -1 : 0;
}

static int json_cstr(struct buf *o, const char *s)
{
	return json_str(o, s, strlen(s));
}

/* ---- values ---------------------------------------------------------------- */

static bool text_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static size_t digits(const char *p, size_t n, size_t i)
{
	size_t j = i;

	while (j < n && p[j] >= '0' && p[j] <= '9')
		j++;
	return j - i;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_ok(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	d = digits(p, n, i);
	if (d == 0 || (d > 1 && p[i] == '0'))
		return false;
	i += d;
	if (i < n && p[i] == '.') {
		if ((d = digits(p, n, ++i)) == 0)
			return false;
		i += d;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if ((d = digits(p, n, i)) == 0)
			return false;
		i += d;
	}
	return i == n;
}

static int value_number(struct buf *o, const char *p, size_t n, const char **why)
{
	if (text_is(p, n, "NaN") || text_is(p, n, "Infinity") || text_is(p, n, "-Infinity"))
		return json_str(o, p, n);
	if (!json_number_ok(p, n)) {
		*why = "not a number";
		return -1;
	}
	return buf_append(o, p, n);
}

static int value_bool(struct buf *o, const char *p, size_t n, const char **why)
{
	if (text_is(p, n, "t"))
		return buf_puts(o, "true");
	if (text_is(p, n, "f"))
		return buf_puts(o, "false");
	*why = "not a boolean (t or f)";
	return -1;
}

/* bytea's hex output "\x0a1b..." as base64, 48 bytes (a multiple of 3, so
 * the pieces join into one base64 text) at a time. */
static int value_bytea(struct buf *o, const char *p, size_t n, const char **why)
{
	unsigned char raw[48], b64[65];

	if (n < 2 || p[0] != '\\' || p[1] != 'x' || n % 2 != 0) {
		*why = "not bytea hex output (\\x...)";
		return -1;
	}
	if (buf_append(o, "\"", 1) < 0)
		return -1;
	for (size_t i = 2; i < n;) {
		size_t m = 0;

		for (; m < sizeof(raw) && i < n; m++, i += 2) {
			int hi = hex_digit(p[i]), lo = hex_digit(p[i + 1]);

			if (hi < 0 || lo < 0) {
				*why = "not bytea hex output (\\x...)";
				return -1;
			}
			raw[m] = (unsigned char)(hi << 4 | lo);
		}
		if (buf_append(o, b64, (size_t)EVP_EncodeBlock(b64, raw, (int)m)) < 0)
			return -1;
	}
	return buf_append(o, "\"", 1);
}

/* One date/timestamp[tz] as PostgreSQL's ISO DateStyle prints it. */
struct pg_datetime {
	long year; /* astronomical: 1 BC is 0 */
	int mon, day, hh, mi, ss;
	const char *frac; /* ".ffffff" or empty */
	size_t fraclen;
	bool has_time, has_off;
	int off;       /* seconds east of UTC */
	bool off_secs; /* the offset has a seconds part */
};

/* Reads n digits (exactly, or at least when atleast) at *i; -1 if absent. */
static long num_at(const char *p, size_t len, size_t *i, size_t n, bool atleast)
{
	size_t d = digits(p, len, *i);
	long v = 0;

	if (d < n || (!atleast && d > n) || d > 9)
		return -1;
	for (size_t k = 0; k < d; k++)
		v = v * 10 + (p[*i + k] - '0');
	*i += d;
	return v;
}

static bool take(const char *p, size_t n, size_t *i, char c)
{
	if (*i < n && p[*i] == c) {
		(*i)++;
		return true;
	}
	return false;
}

static int offset_parse(const char *p, size_t n, size_t *i, struct pg_datetime *dt)
{
	int sign = p[*i] == '-' ? -1 : 1;
	long h, m = 0, s = 0;

	(*i)++;
	if ((h = num_at(p, n, i, 2, false)) < 0)
		return -1;
	if (take(p, n, i, ':') && (m = num_at(p, n, i, 2, false)) < 0)
		return -1;
	if (take(p, n, i, ':')) {
		if ((s = num_at(p, n, i, 2, false)) < 0)
			return -1;
		dt->off_secs = true;
	}
	dt->has_off = true;
	dt->off = sign * (int)(h * 3600 + m * 60 + s);
	return 0;
}

static int datetime_parse(const char *p, size_t n, struct pg_datetime *dt)
{
	size_t i = 0;

	memset(dt, 0, sizeof(*dt));
	dt->frac = "";
	if ((dt->year = num_at(p, n, &i, 4, true)) < 0 || !take(p, n, &i, '-') ||
	    (dt->mon = (int)num_at(p, n, &i, 2, false)) < 0 || !take(p, n, &i, '-') ||
	    (dt->day = (int)num_at(p, n, &i, 2, false)) < 0)
		return -1;
	if (i + 3 < n && p[i] == ' ' && p[i + 1] != 'B') {
		i++;
		dt->has_time = true;
		if ((dt->hh = (int)num_at(p, n, &i, 2, false)) < 0 || !take(p, n, &i, ':') ||
		    (dt->mi = (int)num_at(p, n, &i, 2, false)) < 0 || !take(p, n, &i, ':') ||
		    (dt->ss = (int)num_at(p, n, &i, 2, false)) < 0)
			return -1;
		if (i < n && p[i] == '.') {
			dt->frac = p + i;
			dt->fraclen = 1 + digits(p, n, i + 1);
			i += dt->fraclen;
		}
		if (i < n && (p[i] == '+' || p[i] == '-') && offset_parse(p, n, &i, dt) < 0)
			return -1;
	}
	if (n - i == 3 && memcmp(p + i, " BC", 3) == 0) {
		dt->year = 1 - dt->year;
		i = n;
	}
	return i == n && dt->mon >= 1 && dt->mon <= 12 && dt->day >= 1 && dt->day <= 31 ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's civil calendar algorithms). */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* An offset with seconds has no ISO 8601 form: the same instant in UTC. */
static void datetime_to_utc(struct pg_datetime *dt)
{
	long t = days_from_civil(dt->year, dt->mon, dt->day) * 86400 + (long)dt->hh * 3600 + dt->mi * 60 +
		 dt->ss - dt->off;
	long days = (t >= 0 ? t : t - 86399) / 86400, rem = t - days * 86400;

	civil_from_days(days, &dt->year, &dt->mon, &dt->day);
	dt->hh = (int)(rem / 3600);
	dt->mi = (int)(rem / 60 % 60);
	dt->ss = (int)(rem % 60);
	dt->off = 0;
}

static int datetime_format(struct buf *o, struct pg_datetime *dt)
{
	int r;

	if (dt->off_secs)
		datetime_to_utc(dt);
	if (dt->year < 0)
		r = buf_printf(o, "\"-%04ld", -dt->year);
	else
		r = buf_printf(o, dt->year > 9999 ? "\"+%ld" : "\"%04ld", dt->year);
	if (r < 0 || buf_printf(o, "-%02d-%02d", dt->mon, dt->day) < 0)
		return -1;
	if (dt->has_time && (buf_printf(o, "T%02d:%02d:%02d", dt->hh, dt->mi, dt->ss) < 0 ||
			     buf_append(o, dt->frac, dt->fraclen) < 0))
		return -1;
	if (dt->has_off && dt->off_secs)
		r = buf_puts(o, "Z");
	else if (dt->has_off)
		r = buf_printf(o, "%c%02d:%02d", dt->off < 0 ? '-' : '+', abs(dt->off) / 3600,
			       abs(dt->off) / 60 % 60);
	return r < 0 ? -1 : buf_append(o, "\"", 1);
}

static int value_datetime(struct buf *o, unsigned oid, const char *p, size_t n, const char **why)
{
	struct pg_datetime dt;

	if (text_is(p, n, "infinity") || text_is(p, n, "-infinity"))
		return json_str(o, p, n);
	if (datetime_parse(p, n, &dt) < 0 || dt.has_time != (oid != OID_DATE) ||
	    dt.has_off != (oid == OID_TIMESTAMPTZ)) {
		*why = oid == OID_DATE	      ? "not a date in ISO DateStyle (YYYY-MM-DD)"
		       : oid == OID_TIMESTAMP ? "not a timestamp in ISO DateStyle (YYYY-MM-DD HH:MM:SS)"
					      : "not a timestamptz in ISO DateStyle (YYYY-MM-DD HH:MM:SS+HH)";
		return -1;
	}
	return datetime_format(o, &dt);
}

/* Appends one value as JSON; -1 with *why set when it does not fit its
 * type (*why NULL: memory ran out). */
static int value_json(struct buf *o, unsigned oid, const struct connector_value *v, const char **why)
{
	*why = NULL;
	if (v->kind == CV_NULL)
		return buf_puts(o, "null");
	switch (oid) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC: return value_number(o, v->p, v->len, why);
	case OID_BOOL: return value_bool(o, v->p, v->len, why);
	case OID_BYTEA: return value_bytea(o, v->p, v->len, why);
	case OID_DATE:
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ: return value_datetime(o, oid, v->p, v->len, why);
	default: break;
	}
	if (utf8_bad_at((const unsigned char *)v->p, v->len)) {
		*why = "not valid UTF-8";
		return -1;
	}
	if (nfc_maybe(v->p, v->len)) {
		/* "Nguyễn" typed as e + U+0302 + U+0303 goes out as U+1EC5 */
		struct buf nfc = {0};
		int r = nfc_append(v->p, v->len, &nfc) < 0 ? -1
							   : json_str(o, nfc.data ? nfc.data : "", nfc.len);

		buf_free(&nfc);
		return r;
	}
	return json_str(o, v->p, v->len);
}

/* ---- changes --------------------------------------------------------------- */

static int column_err(const struct connector_table *t, const struct connector_column *c, const char *why,
		      char *err, size_t errlen)
{
	if (c)
		snprintf(err, errlen, "table %s column %s: %s", t->name, c->name,
			 why ? why : "name not UTF-8, or out of memory");
	else
		snprintf(err, errlen, "table %s: out of memory", t->name);
	return -1;
}

/* The column at 1-based key position k, or NULL. */
static const struct connector_column *key_column(const struct connector_table *t, int k, size_t *idx)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].key_pos == k) {
			*idx = i;
			return &t->cols[i];
		}
	return NULL;
}

/* ,"name":{col: value, ...} over the key columns; vals holds one value per
 * column (by_column) or one per key column in key order. */
static int key_object(struct buf *o, const char *name, const struct connector_table *t,
		      const struct connector_value *vals, bool by_column, char *err, size_t errlen)
{
	const struct connector_column *c;
	const char *why = NULL;
	size_t idx;

	if (buf_printf(o, ",\"%s\":{", name) < 0)
		return column_err(t, NULL, NULL, err, errlen);
	for (int k = 1; (c = key_column(t, k, &idx)) != NULL; k++) {
		const struct connector_value *v = by_column ? &vals[idx] : &vals[k - 1];

		if (v->kind == CV_ABSENT)
			return column_err(t, c, "a key column's value is missing (unchanged TOAST)", err,
					  errlen);
		if ((k > 1 && buf_append(o, ",", 1) < 0) || json_cstr(o, c->name) < 0 ||
		    buf_append(o, ":", 1) < 0 || value_json(o, c->type_oid, v, &why) < 0)
			return column_err(t, c, why, err, errlen);
	}
	return buf_append(o, "}", 1) < 0 ? column_err(t, NULL, NULL, err, errlen) : 0;
}

/* ,"row":{...} without the unchanged TOASTed columns. */
static int row_object(struct buf *o, const struct connector_table *t, const struct connector_value *row,
		      char *err, size_t errlen)
{
	const char *why = NULL;
	bool first = true;

	if (buf_puts(o, ",\"row\":{") < 0)
		return column_err(t, NULL, NULL, err, errlen);
	for (size_t i = 0; i < t->ncols; i++) {
		const struct connector_column *c = &t->cols[i];

		if (row[i].kind == CV_ABSENT)
			continue;
		if ((!first && buf_append(o, ",", 1) < 0) || json_cstr(o, c->name) < 0 ||
		    buf_append(o, ":", 1) < 0 || value_json(o, c->type_oid, &row[i], &why) < 0)
			return column_err(t, c, why, err, errlen);
		first = false;
	}
	return buf_append(o, "}", 1) < 0 ? column_err(t, NULL, NULL, err, errlen) : 0;
}

/* ,"unchanged":[names of the unchanged TOASTed columns], when there are some. */
static int unchanged_array(struct buf *o, const struct connector_table *t, const struct connector_value *row,
			   char *err, size_t errlen)
{
	bool first = true;

	for (size_t i = 0; i < t->ncols; i++) {
		if (row[i].kind != CV_ABSENT)
			continue;
		if (buf_puts(o, first ? ",\"unchanged\":[" : ",") < 0 || json_cstr(o, t->cols[i].name) < 0)
			return column_err(t, &t->cols[i], NULL, err, errlen);
		first = false;
	}
	return !first && buf_append(o, "]", 1) < 0 ? column_err(t, NULL, NULL, err, errlen) : 0;
}

static int change_render(struct buf *o, enum http_op op, const struct connector_table *t,
			 const struct connector_value *row, const struct connector_value *old_key, char *err,
			 size_t errlen)
{
	bool has_row = op == HTTP_OP_INSERT || op == HTTP_OP_UPDATE;

	/* update: old_key optional; delete: required; insert, truncate: none */
	if ((unsigned)op > HTTP_OP_TRUNCATE || has_row != (row != NULL) ||
	    (op != HTTP_OP_UPDATE && (old_key != NULL) != (op == HTTP_OP_DELETE))) {
		snprintf(err, errlen, "table %s: %s change with the wrong parts (row %s, old key %s)",
			 t->name, http_op_name(op), row ? "given" : "none", old_key ? "given" : "none");
		return -1;
	}
	if (buf_printf(o, "{\"op\":\"%s\",\"table\":", op_names[op]) < 0 || json_cstr(o, t->name) < 0) {
		snprintf(err, errlen, "table %s: name not UTF-8, or out of memory", t->name);
		return -1;
	}
	if (has_row &&
	    (key_object(o, "key", t, row, true, err, errlen) < 0 || row_object(o, t, row, err, errlen) < 0))
		return -1;
	if (old_key && key_object(o, "old_key", t, old_key, false, err, errlen) < 0)
		return -1;
	if (has_row && unchanged_array(o, t, row, err, errlen) < 0)
		return -1;
	return buf_append(o, "}", 1) < 0 ? column_err(t, NULL, NULL, err, errlen) : 0;
}

/* ---- the batch ------------------------------------------------------------- */

/* The source name with every byte outside [A-Za-z0-9._~-] as %XX: safe in a
 * header value and in a URI reference. */
static int source_encode(struct buf *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int r = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
					strchr("._~-", c)
				? buf_append(o, s, 1)
				: buf_printf(o, "%%%02X", c);

		if (r < 0)
			return -1;
	}
	return 0;
}

int http_batch_id(const char *source, int unit, uint64_t lsn_from, uint64_t lsn_to, char *out, size_t outlen,
		  char *err, size_t errlen)
{
	struct buf id = {0};
	int r = -1;

	if (source_encode(&id, source) < 0 ||
	    buf_printf(&id, "-%d-%016llX-%016llX", unit, (unsigned long long)lsn_from,
		       (unsigned long long)lsn_to) < 0) {
		snprintf(err, errlen, "source %s unit %d: batch id: out of memory", source, unit);
		goto out;
	}
	if (id.len > HTTP_BATCH_ID_MAX || id.len >= outlen) {
		snprintf(err, errlen,
			 "unit %d: batch id would be %zu bytes, at most %d: shorten the source name %s", unit,
			 id.len, HTTP_BATCH_ID_MAX, source);
		goto out;
	}
	memcpy(out, id.data, id.len + 1);
	r = 0;
out:
	buf_free(&id);
	return r;
}

struct http_batch *http_batch_new(const char *source, int unit)
{
	struct http_batch *b = calloc(1, sizeof(*b));

	if (!b || !(b->source = strdup(source))) {
		free(b);
		return NULL;
	}
	b->unit = unit;
	return b;
}

void http_batch_free(struct http_batch *b)
{
	if (!b)
		return;
	free(b->source);
	buf_free(&b->changes);
	buf_free(&b->tables);
	free(b->refs);
	free(b);
}

size_t http_batch_count(const struct http_batch *b)
{
	return b->n;
}

int http_batch_add(struct http_batch *b, uint64_t commit_lsn, enum http_op op,
		   const struct connector_table *t, const struct connector_value *row,
		   const struct connector_value *old_key, char *err, size_t errlen)
{
	size_t off = b->changes.len, toff = b->tables.len;
	struct change_ref *ref;

	if (b->n > 0 && commit_lsn < b->lsn_to) {
		snprintf(err, errlen,
			 "table %s: change at %llX added after one at %llX: a batch is in commit order",
			 t->name, (unsigned long long)commit_lsn, (unsigned long long)b->lsn_to);
		return -1;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct change_ref *refs = realloc(b->refs, cap * sizeof(*refs));

		if (!refs)
			return column_err(t, NULL, NULL, err, errlen);
		b->refs = refs;
		b->cap = cap;
	}
	if (change_render(&b->changes, op, t, row, old_key, err, errlen) < 0)
		goto undo;
	if (json_cstr(&b->tables, t->name) < 0) {
		column_err(t, NULL, NULL, err, errlen);
		goto undo;
	}
	ref = &b->refs[b->n++];
	*ref = (struct change_ref){off, b->changes.len - off, toff + 1, b->tables.len - toff - 2, op};
	if (b->n == 1)
		b->lsn_from = commit_lsn;
	b->lsn_to = commit_lsn;
	return 0;
undo:
	b->changes.len = off;
	b->tables.len = toff;
	if (b->changes.data)
		b->changes.data[off] = '\0';
	if (b->tables.data)
		b->tables.data[toff] = '\0';
	return -1;
}

void http_batch_set_position(struct http_batch *b, uint64_t lsn_from, uint64_t lsn_to, unsigned part)
{
	b->lsn_from = lsn_from;
	b->lsn_to = lsn_to;
	b->part = part;
}

int http_batch_get_id(const struct http_batch *b, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n;

	if (http_batch_id(b->source, b->unit, b->lsn_from, b->lsn_to, out, outlen, err, errlen) < 0)
		return -1;
	n = strlen(out);
	if (b->part > 0 && (size_t)snprintf(out + n, outlen - n, "-%u", b->part) >= outlen - n) {
		snprintf(err, errlen, "unit %d: batch id piece %u does not fit: shorten the source name %s",
			 b->unit, b->part, b->source);
		return -1;
	}
	return 0;
}

static int render_json(const struct http_batch *b, const char *id, struct buf *o)
{
	char from[32], to[32];

	pgo_lsn_format(b->lsn_from, from, sizeof(from));
	pgo_lsn_format(b->lsn_to, to, sizeof(to));
	if (buf_puts(o, "{\"source\":") < 0 || json_cstr(o, b->source) < 0 ||
	    buf_printf(o,
		       ",\"unit\":%d,\"batch_id\":\"%s\",\"lsn_from\":\"%s\",\"lsn_to\":\"%s\",\"changes\":[",
		       b->unit, id, from, to) < 0)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if ((i > 0 && buf_append(o, ",", 1) < 0) ||
		    buf_append(o, b->changes.data + b->refs[i].off, b->refs[i].len) < 0)
			return -1;
	return buf_puts(o, "]}");
}

/* One CloudEvent per change (CloudEvents 1.0 JSON batch format). */
static int render_cloudevents(const struct http_batch *b, const char *id, struct buf *o)
{
	if (buf_append(o, "[", 1) < 0)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		const struct change_ref *ref = &b->refs[i];

		if (buf_printf(o, "%s{\"specversion\":\"1.0\",\"id\":\"%s/%zu\",\"source\":\"syncd/",
			       i ? "," : "", id, i) < 0 ||
		    source_encode(o, b->source) < 0 ||
		    buf_printf(o, "\",\"type\":\"vn.cantho.syncd.%s\",\"subject\":\"%d/", op_names[ref->op],
			       b->unit) < 0 ||
		    buf_append(o, b->tables.data + ref->table_off, ref->tlen) < 0 ||
		    buf_puts(o, "\",\"datacontenttype\":\"application/json\",\"data\":") < 0 ||
		    buf_append(o, b->changes.data + ref->off, ref->len) < 0 || buf_append(o, "}", 1) < 0)
			return -1;
	}
	return buf_append(o, "]", 1);
}

int http_batch_render(const struct http_batch *b, enum http_format format, char **body, size_t *len,
		      char *err, size_t errlen)
{
	char id[HTTP_BATCH_ID_BUF];
	struct buf o = {0};

	*body = NULL;
	*len = 0;
	if (b->n == 0) {
		snprintf(err, errlen, "source %s unit %d: an empty batch has no body", b->source, b->unit);
		return -1;
	}
	if (http_batch_get_id(b, id, sizeof(id), err, errlen) < 0)
		return -1;
	if ((format == HTTP_FORMAT_CLOUDEVENTS ? render_cloudevents(b, id, &o) : render_json(b, id, &o)) <
	    0) {
		snprintf(err, errlen, "source %s unit %d: batch %s: %s", b->source, b->unit, id,
			 "source name not UTF-8, or out of memory");
		buf_free(&o);
		return -1;
	}
	*body = o.data;
	*len = o.len;
	return 0;
}

int http_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
	z_stream z = {0};
	uLong cap;
	char *o;
	int r;

	*out = NULL;
	*outlen = 0;
	/* windowBits 15 + 16: the gzip wrapper (RFC 1952), as Content-Encoding: gzip wants */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)len);
	if ((o = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)o;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(o);
		*outlen = 0;
		return -1;
	}
	*out = o;
	return 0;
}
