/* router.c — the pure half of routing: one row's unit (eras, the cutover,
 * split wards, the override file) and the masks; no I/O, no allocation. */
#include "syncd/sync/router.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "syncd/sync/policy.h"

/* ---- small parsers --------------------------------------------------- */

int routing_code_parse(const char *s, size_t len)
{
	int v = 0;

	if (len != 5)
		return -1;
	for (size_t i = 0; i < 5; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int routing_date_parse(const char *s, size_t len)
{
	int y = 0, m = 0, d = 0;

	if (len < 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	/* a BC date ("0044-03-15 BC") is before any cutover, which is right */
	return y * 10000 + m * 100 + d;
}

/* Integer split value ("17"), -1 with *ok false when not an integer. */
static long long_parse(const char *s, size_t len, bool *ok)
{
	long v = 0;
	bool neg = false;
	size_t i = 0;

	*ok = false;
	if (len == 0 || len > 18)
		return 0;
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*ok = true;
	return neg ? -v : v;
}

/* ---- the router ------------------------------------------------------------ */

static int override_find(const struct routing *r, const struct routing_table *t, const char *key,
			 size_t key_len)
{
	size_t lo = 0, hi = r->noverrides;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct override *o = &r->overrides[mid];
		int c = strcmp(o->table, t->table);

		if (c == 0) {
			c = strncmp(o->key, key, key_len);
			if (c == 0 && o->key[key_len] != '\0')
				c = 1;
		}
		if (c == 0)
			return o->unit;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* An old unit that was split: override file, then the split column's ranges,
 * then the unit keeping the old registers. */
static enum router_reason route_split(const struct routing *r, const struct routing_table *t,
				      const struct router_row *row, int old_code, int *unit)
{
	const struct split_range *rg = t->ranges != NULL ? t->ranges : r->ranges;
	size_t nrg = t->ranges != NULL ? t->nranges : r->nranges;
	int u;

	if (row->key != NULL && r->noverrides > 0 && (u = override_find(r, t, row->key, row->key_len)) > 0) {
		*unit = u;
		return ROUTER_OK;
	}
	if (t->split_column != NULL && row->split != NULL) {
		bool ok;
		long v = long_parse(row->split, row->split_len, &ok);

		for (size_t i = 0; ok && i < nrg; i++)
			if (rg[i].old_code == old_code && v >= rg[i].from && v <= rg[i].to) {
				*unit = rg[i].unit;
				return ROUTER_OK;
			}
	}
	if (t->split_registers)
		for (size_t i = 0; i < r->nrules; i++)
			if (r->rules[i].old_code == old_code && r->rules[i].registers_kept_by > 0) {
				*unit = r->rules[i].registers_kept_by;
				return ROUTER_OK;
			}
	return ROUTER_SPLIT_UNRESOLVED;
}

bool router_needs_key(const struct routing *r, const struct router_row *row)
{
	int code;

	if (r->noverrides == 0 || row->unit == NULL)
		return false;
	code = routing_code_parse(row->unit, row->unit_len);
	return code >= 0 && r->old[code].ntargets > 1;
}

enum router_reason router_route(const struct routing *r, const struct routing_table *t,
				const struct router_row *row, int *unit, enum routing_era *era_out)
{
	enum routing_era era = t->era;
	int code;

	if (row->unit == NULL || row->unit_len == 0)
		return ROUTER_UNIT_NULL;
	code = routing_code_parse(row->unit, row->unit_len);
	if (code < 0)
		return ROUTER_UNIT_MALFORMED;
	if (era == ROUTING_ERA_BY_DATE) {
		int d;

		if (row->date == NULL)
			return ROUTER_DATE_NULL;
		d = routing_date_parse(row->date, row->date_len);
		if (d < 0)
			return ROUTER_DATE_MALFORMED;
		era = d < r->cutover ? ROUTING_ERA_OLD : ROUTING_ERA_NEW;
	}
	if (era_out != NULL)
		*era_out = era;
	if (era == ROUTING_ERA_NEW) {
		if (r->new_index[code] < 0)
			return ROUTER_UNIT_UNKNOWN_NEW;
		*unit = code;
		return ROUTER_OK;
	}
	switch (r->old[code].ntargets) {
	case 0: return ROUTER_UNIT_UNKNOWN_OLD;
	case 1: *unit = r->old[code].targets[0]; return ROUTER_OK;
	default: return route_split(r, t, row, code, unit);
	}
}

const char *router_reason_name(enum router_reason reason)
{
	static const char *const names[ROUTER_REASON_COUNT] = {
		[ROUTER_OK] = "ok",
		[ROUTER_UNIT_NULL] = "unit_null",
		[ROUTER_UNIT_MALFORMED] = "unit_malformed",
		[ROUTER_DATE_NULL] = "date_null",
		[ROUTER_DATE_MALFORMED] = "date_malformed",
		[ROUTER_UNIT_UNKNOWN_NEW] = "unit_unknown_new",
		[ROUTER_UNIT_UNKNOWN_OLD] = "unit_unknown_old",
		[ROUTER_SPLIT_UNRESOLVED] = "split_unresolved",
	};
	return (unsigned)reason < ROUTER_REASON_COUNT ? names[reason] : "unknown";
}

/* ---- masking ------------------------------------------------------------- */

long mask_apply(enum mask_kind kind, const char *in, size_t len, char *out, size_t outlen)
{
	switch (kind) {
	case MASK_NULL: return -1;
	case MASK_SHA256: {
		unsigned char md[32];
		unsigned int mdlen = 0;

		if (outlen < 65 || EVP_Digest(in, len, md, &mdlen, EVP_sha256(), NULL) != 1)
			return -1;
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		return 64;
	}
	case MASK_LAST4: {
		/* characters, not bytes: a name keeps whole UTF-8 sequences */
		size_t nchars = 0, keep_from, o = 0, seen = 0;

		for (size_t i = 0; i < len; i++)
			if (((unsigned char)in[i] & 0xC0) != 0x80)
				nchars++;
		keep_from = nchars > 4 ? nchars - 4 : nchars;
		for (size_t i = 0; i < len; i++) {
			bool lead = ((unsigned char)in[i] & 0xC0) != 0x80;

			if (lead)
				seen++;
			if (seen <= keep_from) {
				if (lead && o < outlen)
					out[o++] = '*';
			} else if (o < outlen) {
				out[o++] = in[i];
			}
		}
		return (long)o;
	}
	}
	return -1;
}

const char *mask_kind_name(enum mask_kind kind)
{
	switch (kind) {
	case MASK_LAST4: return "last4";
	case MASK_NULL: return "null";
	case MASK_SHA256: return "sha256";
	}
	return "?";
}
