/* changeset.c — one destination table's changes within a transaction,
 * reduced per key (rules in changeset.h) for the set-based apply. */
#include "connectors/changeset.h"

#include <stdlib.h>
#include <string.h>

void changeset_init(struct changeset *cs, size_t ncols, size_t nkey, const size_t *key_cols)
{
	memset(cs, 0, sizeof(*cs));
	cs->ncols = ncols;
	cs->nkey = nkey;
	cs->key_cols = key_cols;
}

void changeset_reset(struct changeset *cs)
{
	buf_reset(&cs->arena);
	cs->nvals = 0;
	cs->n = 0;
	cs->bytes = 0;
	if (cs->slots != NULL)
		memset(cs->slots, 0, cs->nslots * sizeof(*cs->slots));
}

void changeset_free(struct changeset *cs)
{
	buf_free(&cs->arena);
	free(cs->vals);
	free(cs->e);
	free(cs->slots);
	memset(cs, 0, sizeof(*cs));
}

size_t changeset_live(const struct changeset *cs)
{
	size_t n = 0;

	for (size_t i = 0; i < cs->n; i++)
		n += cs->e[i].op != CS_NONE;
	return n;
}

void changeset_values(const struct changeset *cs, size_t first, size_t count, struct connector_value *out)
{
	for (size_t i = 0; i < count; i++) {
		const struct cs_val *v = &cs->vals[first + i];

		out[i].kind = v->kind;
		out[i].p = v->kind == CV_VALUE ? cs->arena.data + v->off : NULL;
		out[i].len = v->len;
	}
}

/* FNV-1a over each key value's kind, length and bytes. */
static uint32_t key_hash(const struct connector_value *key, size_t nkey)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < nkey; k++) {
		const unsigned char *p = (const unsigned char *)key[k].p;

		h = (h ^ (uint32_t)key[k].kind) * 16777619u;
		h = (h ^ (uint32_t)key[k].len) * 16777619u;
		for (size_t i = 0; key[k].kind == CV_VALUE && i < key[k].len; i++)
			h = (h ^ p[i]) * 16777619u;
	}
	return h;
}

static bool key_equal(const struct changeset *cs, const struct cs_entry *e, const struct connector_value *key)
{
	for (size_t k = 0; k < cs->nkey; k++) {
		const struct cs_val *v = &cs->vals[e->key + k];

		if (v->kind != key[k].kind || v->len != key[k].len ||
		    (v->kind == CV_VALUE && memcmp(cs->arena.data + v->off, key[k].p, v->len) != 0))
			return false;
	}
	return true;
}

/* Copies n values in; returns the index of the first, or -1. */
static long vals_add(struct changeset *cs, const struct connector_value *in, size_t n)
{
	size_t first = cs->nvals;

	if (cs->nvals + n > cs->capvals) {
		size_t cap = cs->capvals ? cs->capvals * 2 : 256;
		struct cs_val *v;

		while (cap < cs->nvals + n)
			cap *= 2;
		if ((v = realloc(cs->vals, cap * sizeof(*v))) == NULL)
			return -1;
		cs->vals = v;
		cs->capvals = cap;
	}
	for (size_t i = 0; i < n; i++) {
		struct cs_val *v = &cs->vals[cs->nvals++];

		v->kind = in[i].kind;
		v->off = cs->arena.len;
		v->len = in[i].kind == CV_VALUE ? in[i].len : 0;
		if (v->len > 0 && buf_append(&cs->arena, in[i].p, in[i].len) < 0)
			return -1;
		cs->bytes += v->len;
	}
	return (long)first;
}

/* A merged image: the later values, the earlier ones where it is absent. */
static long image_merge(struct changeset *cs, size_t earlier, const struct connector_value *later)
{
	struct connector_value *m = malloc(cs->ncols * sizeof(*m));
	long r;

	if (m == NULL)
		return -1;
	changeset_values(cs, earlier, cs->ncols, m);
	for (size_t i = 0; i < cs->ncols; i++)
		if (later[i].kind != CV_ABSENT)
			m[i] = later[i];
	/* the earlier values sit in the arena, which may move: copy through m */
	{
		struct buf tmp = {0};
		size_t off = 0;

		for (size_t i = 0; i < cs->ncols; i++)
			if (m[i].kind == CV_VALUE && buf_append(&tmp, m[i].p, m[i].len) < 0) {
				buf_free(&tmp);
				free(m);
				return -1;
			}
		for (size_t i = 0; i < cs->ncols; i++)
			if (m[i].kind == CV_VALUE) {
				m[i].p = tmp.data + off;
				off += m[i].len;
			}
		r = vals_add(cs, m, cs->ncols);
		buf_free(&tmp);
	}
	free(m);
	return r;
}

static int slots_grow(struct changeset *cs)
{
	size_t n = cs->nslots ? cs->nslots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < cs->n; i++) {
		size_t j = cs->e[i].hash & (n - 1);

		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)(i + 1);
	}
	free(cs->slots);
	cs->slots = s;
	cs->nslots = n;
	return 0;
}

/* The entry for key, or a new empty one (op CS_NONE, key stored); NULL
 * when out of memory. */
static struct cs_entry *entry_get(struct changeset *cs, const struct connector_value *key)
{
	uint32_t h = key_hash(key, cs->nkey);
	size_t j;
	long k;

	if ((cs->n + 1) * 2 > cs->nslots && slots_grow(cs) < 0)
		return NULL;
	for (j = h & (cs->nslots - 1); cs->slots[j] != 0; j = (j + 1) & (cs->nslots - 1)) {
		struct cs_entry *e = &cs->e[cs->slots[j] - 1];

		if (e->hash == h && key_equal(cs, e, key))
			return e;
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 256;
		struct cs_entry *ne = realloc(cs->e, cap * sizeof(*ne));

		if (ne == NULL)
			return NULL;
		cs->e = ne;
		cs->cap = cap;
	}
	if ((k = vals_add(cs, key, cs->nkey)) < 0)
		return NULL;
	cs->e[cs->n] = (struct cs_entry){.op = CS_NONE, .hash = h, .key = (size_t)k};
	cs->slots[j] = (uint32_t)(cs->n + 1);
	return &cs->e[cs->n++];
}

/* The new state of an entry that held earlier, or 1 when it cannot be
 * reduced. */
static int reduce(struct changeset *cs, struct cs_entry *e, bool fresh, char op,
		  const struct connector_value *vals)
{
	long img;

	if (fresh || (e->op == CS_NONE && op == CS_INSERT)) {
		e->op = op;
		if (op == CS_DELETE)
			return 0;
		if ((img = vals_add(cs, vals, cs->ncols)) < 0)
			return -1;
		e->image = (size_t)img;
		return 0;
	}
	if (op == CS_DELETE && (e->op == CS_INSERT || e->op == CS_UPDATE)) {
		e->op = e->op == CS_INSERT ? CS_NONE : CS_DELETE;
		return 0;
	}
	if (op == CS_UPDATE && (e->op == CS_INSERT || e->op == CS_UPDATE)) {
		if ((img = image_merge(cs, e->image, vals)) < 0)
			return -1;
		e->image = (size_t)img;
		return 0;
	}
	if (op == CS_INSERT && e->op == CS_DELETE) {
		if ((img = vals_add(cs, vals, cs->ncols)) < 0)
			return -1;
		e->op = CS_UPDATE;
		e->image = (size_t)img;
		return 0;
	}
	return 1;
}

int changeset_add(struct changeset *cs, char op, const struct connector_value *key,
		  const struct connector_value *vals)
{
	struct connector_value kbuf[32];
	struct cs_entry *e;
	size_t before = cs->n;

	if (op == CS_INSERT) {
		if (cs->nkey > 32)
			return 1;
		for (size_t k = 0; k < cs->nkey; k++)
			kbuf[k] = vals[cs->key_cols[k]];
		key = kbuf;
	}
	if ((e = entry_get(cs, key)) == NULL)
		return -1;
	return reduce(cs, e, cs->n != before, op, vals);
}
