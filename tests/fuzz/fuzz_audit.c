/* fuzz_audit.c — libFuzzer target for the audit log's chain check
 * (authz/audit.c: audit_walk_start, audit_walk_row, audit_walk_end, the
 * pure part of audit_verify) on tampered rows.
 *
 * A valid chain of 1-8 rows is built as syncd writes it (audit_body's
 * canonical JSON, hash = SHA-256(prev_hash || body)), with its head row.
 * The rest of the input is a list of tamperings, 5 bytes each: change a
 * byte of a column, of the body, of prev_hash or of hash; change a seq;
 * delete, duplicate or drop the last row; rewrite a row (column, body and
 * its own hash made consistent); change the head.  The rows are then read
 * as the database gives them (ordered by seq, SHA-256(prev_hash || body)
 * computed afresh) and walked.  The untampered chain must pass; any chain
 * that differs from it must be reported broken, except the one change no
 * walk can see without a signed checkpoint: every row deleted and the
 * head set back to 0. */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/audit.h"
#include "tests/fuzz/fuzz_util.h"

#define MAXROWS 24

struct row {
	long long seq;
	char *col[9]; /* at, actor, client, request_id, action, unit, object, decision, reason */
	char *body;
	unsigned char prev[32], hash[32];
};

struct chain {
	struct row r[MAXROWS];
	size_t n;
	long long head_seq;
	unsigned char head_hash[32];
};

/* The canonical body, NULL when a column is not UTF-8 (json_pack refuses). */
static char *body_try(const struct row *w)
{
	struct audit_event ev = {w->col[1], w->col[2], w->col[3], w->col[4],
				 w->col[5], w->col[6], w->col[7], w->col[8]};

	return audit_body(w->seq, w->col[0], &ev);
}

static char *body_of(const struct row *w)
{
	char *b = body_try(w);

	if (b == NULL)
		abort();
	return b;
}

static void hash_of(const struct row *w, unsigned char out[32])
{
	size_t n = strlen(w->body);
	unsigned char *m = malloc(32 + n);

	if (m == NULL)
		abort();
	memcpy(m, w->prev, 32);
	memcpy(m + 32, w->body, n);
	SHA256(m, 32 + n, out);
	free(m);
}

static void chain_build(struct chain *c, size_t n)
{
	static const char *const v[9] = {"",
					 "chair1",
					 "10.0.0.7",
					 "req-1",
					 "document.issue",
					 "31120",
					 "thua_dat/12 31120-2026-000001",
					 "allow",
					 "unit_chair \"Phường Cái Khế\" \\ tab\\u0009"};
	unsigned char prev[32] = {0};

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		struct row *w = &c->r[i];
		char at[40];

		w->seq = (long long)i + 1;
		snprintf(at, sizeof(at), "2026-12-01T00:00:%02d.000000Z", (int)(i % 60));
		for (int k = 0; k < 9; k++)
			w->col[k] = fuzz_str(k == 0 ? at : v[k], strlen(k == 0 ? at : v[k]));
		memcpy(w->prev, prev, 32);
		w->body = body_of(w);
		hash_of(w, w->hash);
		memcpy(prev, w->hash, 32);
	}
	c->n = n;
	c->head_seq = (long long)n;
	memcpy(c->head_hash, prev, 32);
}

static void row_free(struct row *w)
{
	for (int k = 0; k < 9; k++)
		free(w->col[k]);
	free(w->body);
}

static void row_copy(struct row *to, const struct row *from)
{
	*to = *from;
	for (int k = 0; k < 9; k++)
		to->col[k] = fuzz_str(from->col[k], strlen(from->col[k]));
	to->body = fuzz_str(from->body, strlen(from->body));
}

static void byte_set(char *s, unsigned pos, uint8_t b)
{
	size_t len = strlen(s);

	if (len > 0)
		s[pos % len] = (char)(b != 0 ? b : 1); /* a text column holds no NUL */
}

/* One tampering: op, row, what, where, value. */
static void tamper(struct chain *c, const uint8_t *t)
{
	struct row *w = c->n > 0 ? &c->r[t[1] % c->n] : NULL;

	if (w == NULL && t[0] % 11 != 10)
		return;
	switch (t[0] % 11) {
	case 0: byte_set(w->col[t[2] % 9], t[3], t[4]); break;
	case 1: byte_set(w->body, t[3], t[4]); break;
	case 2: w->prev[t[3] % 32] ^= t[4] | 1; break;
	case 3: w->hash[t[3] % 32] ^= t[4] | 1; break;
	case 4: w->seq += (t[4] % 2 ? 1 : -1) * (1 + t[3] % 4); break;
	case 5: /* delete */
		row_free(w);
		memmove(w, w + 1, (size_t)(&c->r[c->n] - (w + 1)) * sizeof(*w));
		c->n--;
		break;
	case 6: /* duplicate */
		if (c->n < MAXROWS) {
			memmove(w + 1, w, (size_t)(&c->r[c->n] - w) * sizeof(*w));
			row_copy(w + 1, w);
			c->n++;
		}
		break;
	case 7: /* rewritten: column, body and hash agree, the next link does not */
		if (w->col[t[2] % 9][0] == '\0' ||
		    (unsigned char)w->col[t[2] % 9][t[3] % strlen(w->col[t[2] % 9])] >= 0x80)
			break; /* a byte of a UTF-8 sequence: syncd writes valid UTF-8 only */
		byte_set(w->col[t[2] % 9], t[3], (uint8_t)('a' + t[4] % 26));
		{
			char *b = body_try(w); /* NULL: a column tampered before is not UTF-8 */

			if (b != NULL) {
				free(w->body);
				w->body = b;
				hash_of(w, w->hash);
			}
		}
		break;
	case 8: c->head_hash[t[3] % 32] ^= t[4] | 1; break;
	case 9: c->head_seq += (t[4] % 2 ? 1 : -1) * (1 + t[3] % 4); break;
	case 10: /* the last row dropped, the head left */
		if (c->n > 0)
			row_free(&c->r[--c->n]);
		break;
	}
}

static bool row_same(const struct row *a, const struct row *b)
{
	for (int k = 0; k < 9; k++)
		if (strcmp(a->col[k], b->col[k]) != 0)
			return false;
	return a->seq == b->seq && strcmp(a->body, b->body) == 0 && memcmp(a->prev, b->prev, 32) == 0 &&
	       memcmp(a->hash, b->hash, 32) == 0;
}

static bool chain_same(const struct chain *a, const struct chain *b)
{
	if (a->n != b->n || a->head_seq != b->head_seq || memcmp(a->head_hash, b->head_hash, 32) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!row_same(&a->r[i], &b->r[i]))
			return false;
	return true;
}

static int seq_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void hex(const unsigned char *b, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The walk of audit_verify over c as the database would give it. */
static bool walk(struct chain *c)
{
	struct audit_verdict v;
	struct audit_walk w;
	char head[65];

	memset(&v, 0, sizeof(v));
	v.ok = true;
	audit_walk_start(&w);
	/* ORDER BY seq (a stable sort keeps duplicates in file order) */
	for (size_t i = 1; i < c->n; i++)
		for (size_t j = i; j > 0 && seq_cmp(&c->r[j - 1], &c->r[j]) > 0; j--) {
			struct row t = c->r[j];

			c->r[j] = c->r[j - 1];
			c->r[j - 1] = t;
		}
	for (size_t i = 0; i < c->n && v.ok; i++) {
		char seq[24], ph[65], h[65], rh[65];
		unsigned char re[32];
		struct audit_row row;

		snprintf(seq, sizeof(seq), "%lld", c->r[i].seq);
		hex(c->r[i].prev, ph);
		hex(c->r[i].hash, h);
		hash_of(&c->r[i], re);
		hex(re, rh);
		row.seq = seq;
		memcpy(row.col, c->r[i].col, sizeof(row.col));
		row.body = c->r[i].body;
		row.prev_hash = ph;
		row.hash = h;
		row.rehash = rh;
		if (audit_walk_row(&w, &row, &v) == 0)
			break;
	}
	hex(c->head_hash, head);
	audit_walk_end(&w, c->head_seq, head, (long long)c->n, &v);
	if (!v.ok && v.problem[0] == '\0')
		abort(); /* a break says what */
	return v.ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct chain orig, c;
	size_t n = size > 0 ? 1 + data[0] % 8 : 3;

	chain_build(&orig, n);
	chain_build(&c, n);
	if (!walk(&c))
		abort(); /* the untouched chain passes */
	for (size_t off = 1; off + 5 <= size; off += 5)
		tamper(&c, data + off);
	if (walk(&c) != chain_same(&c, &orig) && !(c.n == 0 && c.head_seq == 0))
		abort(); /* a tampering passed, or an untouched chain failed */
	for (size_t i = 0; i < orig.n; i++)
		row_free(&orig.r[i]);
	for (size_t i = 0; i < c.n; i++)
		row_free(&c.r[i]);
	return 0;
}
