/* pg_sets.c — set-based apply for the PostgreSQL destination.  A batch's
 * changes are held per (unit schema, table) in a changeset, reduced to the
 * last change per key (rules in changeset.h), and sent as one statement
 * per operation: the values of every row bound as one text[] per column,
 * unnest()ed and cast to the column's type:
 *
 *   DELETE FROM s.t d USING unnest($1::text[]) v(k1) WHERE d.id = v.k1::bigint
 *   UPDATE s.t d SET c = v.c3::T ... FROM unnest(...) v(k1, c3, ...) WHERE ...
 *   INSERT INTO s.t (...) SELECT v.c0::T, ... FROM unnest(...) v(c0, ...)
 *
 * UPDATE and DELETE must each touch every row they name; a key with no row
 * is an error naming the table, as for the single-row statements.  A table
 * whose set is small is sent row by row (prepared, pipelined), which is
 * faster below set_min_rows (bench/apply.sh measures the crossing).
 * A set is sent when it is full, before anything reads or reshapes its
 * table (fetch, truncate, COPY, ALTER), before an UPDATE that changes the
 * key, and at commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "connectors/changeset.h"
#include "connectors/pg_target.h"

#define GROUP_BUCKETS 512
#define KEY_MAX	      32

/* One table of one unit: what the transaction has changed in it. */
struct tgroup {
	struct tgroup *next;	   /* hash chain */
	struct tgroup *dirty_next; /* among the tables holding changes */
	bool dirty;
	char *schema, *table;
	const struct connector_table *tb; /* valid while dirty */
	size_t key_cols[KEY_MAX];
	struct changeset cs;
};

struct pg_sets {
	struct tgroup *g[GROUP_BUCKETS];
	struct tgroup *dirty;
	struct buf arr[64 + KEY_MAX]; /* one text[] literal per bound column */
	const char *ptr[64 + KEY_MAX];
	struct connector_value key[KEY_MAX];
	struct connector_value img[64];
	bool *done;
	size_t cap_done;
	size_t held_rows, held_bytes; /* in every table's set */
};

static size_t set_min_rows = 32;     /* below: row by row (bench/apply.sh) */
static size_t flush_rows = 10000;    /* a table's set is sent at this many keys */
static size_t flush_bytes = 8 << 20; /* or this many bytes of values */
/* every set is sent once all of them hold this much: memory stays bounded
 * however large the transaction (~450 bytes a row of 13 columns) */
#define HELD_ROWS_MAX  100000
#define HELD_BYTES_MAX (32 << 20)

void pg_target_tune(size_t min_rows, size_t max_rows)
{
	set_min_rows = min_rows;
	if (max_rows > 0)
		flush_rows = max_rows;
}

/* Tables a set can carry: a primary key, at most 64 columns. */
static bool settable(const struct connector_table *tb, int nk)
{
	return tb->ncols <= 64 && nk > 0 && nk <= KEY_MAX;
}

static unsigned group_hash(const char *schema, const char *table)
{
	unsigned h = 2166136261u;

	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '.') * 16777619u;
	for (const char *p = table; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % GROUP_BUCKETS;
}

static void group_shape(struct tgroup *g, const struct connector_table *tb)
{
	size_t nk = 0;

	for (int pos = 1; nk < KEY_MAX; pos++) {
		size_t i;

		for (i = 0; i < tb->ncols && tb->cols[i].key_pos != pos; i++)
			;
		if (i == tb->ncols)
			break;
		g->key_cols[nk++] = i;
	}
	changeset_free(&g->cs);
	changeset_init(&g->cs, tb->ncols, nk, g->key_cols);
	g->tb = tb;
}

static int group_flush(struct pg_target *t, struct tgroup *g, char *err, size_t errlen);

/* The set of (schema, tb), made when first seen; a table whose columns
 * changed since its set was made gets a fresh one (the old one is sent). */
static struct tgroup *group_get(struct pg_target *t, const char *schema, const struct connector_table *tb,
				char *err, size_t errlen)
{
	struct pg_sets *ps = t->sets;
	unsigned h = group_hash(schema, tb->name);
	struct tgroup *g;

	if (ps == NULL && (ps = t->sets = calloc(1, sizeof(*ps))) == NULL)
		goto oom;
	for (g = ps->g[h]; g != NULL; g = g->next)
		if (strcmp(g->table, tb->name) == 0 && strcmp(g->schema, schema) == 0)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL || (g->schema = strdup(schema)) == NULL ||
		    (g->table = strdup(tb->name)) == NULL) {
			if (g != NULL)
				free(g->schema);
			free(g);
			goto oom;
		}
		group_shape(g, tb);
		g->next = ps->g[h];
		ps->g[h] = g;
	}
	if (g->tb != tb || g->cs.ncols != tb->ncols) {
		if (g->dirty && group_flush(t, g, err, errlen) < 0)
			return NULL;
		group_shape(g, tb);
	}
	return g;
oom:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* Appends a text[] literal's element for v. */
static int elem_add(struct buf *b, const struct connector_value *v)
{
	if (buf_puts(b, b->len > 1 ? "," : "") < 0)
		return -1;
	if (v->kind != CV_VALUE)
		return buf_puts(b, "NULL");
	return pgt_array_elem(b, v->p, v->len);
}

static int arrays_start(struct pg_sets *ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_reset(&ps->arr[i]);
		if (buf_puts(&ps->arr[i], "{") < 0)
			return -1;
	}
	return 0;
}

static int arrays_end(struct pg_sets *ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf_puts(&ps->arr[i], "}") < 0)
			return -1;
		ps->ptr[i] = ps->arr[i].data;
	}
	return 0;
}

/* Appends "unnest($1::text[], ...) AS v(k0, ..., cI, ...)": the key columns
 * (nk), then the columns of mask (or all). */
static int unnest_sql(struct buf *b, size_t nk, const struct connector_table *tb, uint64_t mask)
{
	size_t n = nk;

	for (size_t i = 0; i < tb->ncols; i++)
		n += mask >> i & 1;
	if (buf_puts(b, "unnest(") < 0)
		return -1;
	for (size_t i = 1; i <= n; i++)
		if (buf_printf(b, "%s$%zu::text[]", i > 1 ? ", " : "", i) < 0)
			return -1;
	if (buf_puts(b, ") AS v(") < 0)
		return -1;
	for (size_t i = 0; i < nk; i++)
		if (buf_printf(b, "%sk%zu", i ? ", " : "", i) < 0)
			return -1;
	n = nk;
	for (size_t i = 0; i < tb->ncols; i++) {
		if (!(mask >> i & 1))
			continue;
		if (buf_printf(b, "%sc%zu", n ? ", " : "", i) < 0)
			return -1;
		n++;
	}
	return buf_puts(b, ")");
}

/* Appends " WHERE d.key1 = v.k0::type AND ...". */
static int join_sql(struct pg_target *t, const struct tgroup *g)
{
	struct buf *b = &t->sql;
	const struct connector_table *tb = g->tb;

	for (size_t k = 0; k < g->cs.nkey; k++) {
		const struct connector_column *c = &tb->cols[g->key_cols[k]];

		if (buf_puts(b, k ? " AND d." : " WHERE d.") < 0 ||
		    pg_append_ident(t->conn, b, c->name) < 0 ||
		    buf_printf(b, " = v.k%zu::%s", k, c->type) < 0)
			return -1;
	}
	return 0;
}

/* The SQL of a set statement of kind 'd', 'u' (columns of mask) or 'i'. */
static int set_sql(struct pg_target *t, const struct tgroup *g, char kind, uint64_t mask)
{
	struct buf *b = &t->sql;
	const struct connector_table *tb = g->tb;
	size_t n = 0;

	buf_reset(b);
	if (kind == 'd')
		return buf_puts(b, "DELETE FROM ") < 0 ||
				       pgt_qualified(t->conn, b, g->schema, tb->name) < 0 ||
				       buf_puts(b, " AS d USING ") < 0 ||
				       unnest_sql(b, g->cs.nkey, tb, 0) < 0 || join_sql(t, g) < 0
			       ? -1
			       : 0;
	if (kind == 'u') {
		if (buf_puts(b, "UPDATE ") < 0 || pgt_qualified(t->conn, b, g->schema, tb->name) < 0 ||
		    buf_puts(b, " AS d SET ") < 0)
			return -1;
		for (size_t i = 0; i < tb->ncols; i++)
			if ((mask >> i & 1) && ((n++ && buf_puts(b, ", ") < 0) ||
						pg_append_ident(t->conn, b, tb->cols[i].name) < 0 ||
						buf_printf(b, " = v.c%zu::%s", i, tb->cols[i].type) < 0))
				return -1;
		return buf_puts(b, " FROM ") < 0 || unnest_sql(b, g->cs.nkey, tb, mask) < 0 ||
				       join_sql(t, g) < 0
			       ? -1
			       : 0;
	}
	if (buf_puts(b, "INSERT INTO ") < 0 || pgt_qualified(t->conn, b, g->schema, tb->name) < 0 ||
	    buf_puts(b, " (") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++)
		if ((i && buf_puts(b, ", ") < 0) || pg_append_ident(t->conn, b, tb->cols[i].name) < 0)
			return -1;
	if (buf_puts(b, ") SELECT ") < 0)
		return -1;
	for (size_t i = 0; i < tb->ncols; i++)
		if (buf_printf(b, "%sv.c%zu::%s", i ? ", " : "", i, tb->cols[i].type) < 0)
			return -1;
	return buf_puts(b, " FROM ") < 0 || unnest_sql(b, 0, tb, mask) < 0 ? -1 : 0;
}

static uint64_t image_mask(const struct changeset *cs, const struct cs_entry *e)
{
	uint64_t m = 0;

	for (size_t i = 0; i < cs->ncols; i++)
		if (cs->vals[e->image + i].kind != CV_ABSENT)
			m |= (uint64_t)1 << i;
	return m;
}

/* Binds the entries of op (and, for 'U', of that mask) not yet done, and
 * sends one statement for them. */
static int set_send(struct pg_target *t, struct tgroup *g, char op, uint64_t mask, char *err, size_t errlen)
{
	struct pg_sets *ps = t->sets;
	struct changeset *cs = &g->cs;
	size_t nk = op == CS_INSERT ? 0 : cs->nkey, narr = nk, rows = 0;
	char kind = (char)(op - 'A' + 'a');
	uint64_t use = op == CS_DELETE ? 0 : mask;
	struct stmt *st;

	for (size_t i = 0; i < cs->ncols; i++)
		narr += use >> i & 1;
	if (arrays_start(ps, narr) < 0)
		goto oom;
	for (size_t i = 0; i < cs->n; i++) {
		const struct cs_entry *e = &cs->e[i];
		size_t a = 0;

		if (e->op != op || ps->done[i] || (op == CS_UPDATE && image_mask(cs, e) != mask))
			continue;
		ps->done[i] = true;
		rows++;
		changeset_values(cs, e->key, nk, ps->key);
		for (size_t k = 0; k < nk; k++)
			if (elem_add(&ps->arr[a++], &ps->key[k]) < 0)
				goto oom;
		if (op == CS_DELETE)
			continue;
		changeset_values(cs, e->image, cs->ncols, ps->img);
		for (size_t c = 0; c < cs->ncols; c++)
			if ((use >> c & 1) && elem_add(&ps->arr[a++], &ps->img[c]) < 0)
				goto oom;
	}
	if (rows == 0)
		return 0;
	if (arrays_end(ps, narr) < 0)
		goto oom;
	st = pgt_shape_find(t, kind, use, g->schema, g->table, cs->ncols);
	if (st == NULL) {
		if (set_sql(t, g, kind, use) < 0)
			goto oom;
		if ((st = pgt_shape_add(t, kind, use, g->schema, g->table, cs->ncols, (int)narr, err,
					errlen)) == NULL)
			return -1;
	}
	return pgt_stmt_send(t, st, (int)narr, ps->ptr,
			     op == CS_DELETE   ? "DELETE FROM"
			     : op == CS_UPDATE ? "UPDATE"
					       : "INSERT INTO",
			     op == CS_INSERT ? 0 : (long)rows, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Row by row, in the order the keys were first seen. */
static int rows_send(struct pg_target *t, struct tgroup *g, char *err, size_t errlen)
{
	struct pg_sets *ps = t->sets;
	struct changeset *cs = &g->cs;

	for (size_t i = 0; i < cs->n; i++) {
		const struct cs_entry *e = &cs->e[i];
		int r = 0;

		if (e->op == CS_NONE)
			continue;
		changeset_values(cs, e->key, cs->nkey, ps->key);
		if (e->op != CS_DELETE)
			changeset_values(cs, e->image, cs->ncols, ps->img);
		if (e->op == CS_INSERT)
			r = pgt_send_insert(t, g->schema, g->tb, ps->img, err, errlen);
		else if (e->op == CS_UPDATE)
			r = pgt_send_update(t, g->schema, g->tb, ps->key, ps->img, err, errlen);
		else
			r = pgt_send_remove(t, g->schema, g->tb, ps->key, err, errlen);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Sends one table's set: DELETEs, then UPDATEs (one statement per set of
 * columns present), then INSERTs — distinct keys, so the order between
 * them cannot change the result. */
static int group_flush(struct pg_target *t, struct tgroup *g, char *err, size_t errlen)
{
	struct pg_sets *ps = t->sets;
	struct changeset *cs = &g->cs;
	size_t live = changeset_live(cs);
	int r = 0;

	if (live > 0 && live < set_min_rows) {
		r = rows_send(t, g, err, errlen);
	} else if (live > 0) {
		if (cs->n > ps->cap_done) {
			bool *d = realloc(ps->done, cs->n * sizeof(*d));

			if (d == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			ps->done = d;
			ps->cap_done = cs->n;
		}
		memset(ps->done, 0, cs->n * sizeof(*ps->done));
		r = set_send(t, g, CS_DELETE, 0, err, errlen);
		for (size_t i = 0; r == 0 && i < cs->n; i++)
			if (cs->e[i].op == CS_UPDATE && !ps->done[i])
				r = set_send(t, g, CS_UPDATE, image_mask(cs, &cs->e[i]), err, errlen);
		if (r == 0)
			r = set_send(t, g, CS_INSERT, ((uint64_t)2 << (cs->ncols - 1)) - 1, err, errlen);
	}
	ps->held_rows -= cs->n;
	ps->held_bytes -= cs->bytes;
	changeset_reset(cs);
	if (g->dirty) {
		struct tgroup **pp = &ps->dirty;

		while (*pp != g)
			pp = &(*pp)->dirty_next;
		*pp = g->dirty_next;
		g->dirty = false;
	}
	return r;
}

int pgs_flush_all(struct pg_target *t, char *err, size_t errlen)
{
	while (t->sets != NULL && t->sets->dirty != NULL)
		if (group_flush(t, t->sets->dirty, err, errlen) < 0) {
			pgs_discard(t); /* the transaction is lost: the rest need not go */
			return -1;
		}
	return 0;
}

int pgs_flush_table(struct pg_target *t, const char *schema, const char *table, char *err, size_t errlen)
{
	for (struct tgroup *g = t->sets != NULL ? t->sets->dirty : NULL; g != NULL; g = g->dirty_next)
		if (strcmp(g->table, table) == 0 && strcmp(g->schema, schema) == 0)
			return group_flush(t, g, err, errlen);
	return 0;
}

/* Adds a change to its table's set; sends the set first when the pair
 * cannot be reduced, and after when it is full. */
static int held(struct pg_target *t, const char *schema, const struct connector_table *tb, char op,
		const struct connector_value *key, const struct connector_value *vals, char *err,
		size_t errlen)
{
	struct tgroup *g = group_get(t, schema, tb, err, errlen);
	size_t n0, b0;
	int r;

	if (g == NULL)
		return -1;
	n0 = g->cs.n;
	b0 = g->cs.bytes;
	r = changeset_add(&g->cs, op, key, vals);
	if (r == 1) {
		if (group_flush(t, g, err, errlen) < 0)
			return -1;
		n0 = b0 = 0;
		r = changeset_add(&g->cs, op, key, vals);
	}
	t->sets->held_rows += g->cs.n - n0;
	t->sets->held_bytes += g->cs.bytes - b0;
	if (r != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!g->dirty) {
		g->dirty = true;
		g->dirty_next = t->sets->dirty;
		t->sets->dirty = g;
	}
	if (g->cs.n >= flush_rows || g->cs.bytes >= flush_bytes)
		return group_flush(t, g, err, errlen);
	if (t->sets->held_rows >= HELD_ROWS_MAX || t->sets->held_bytes >= HELD_BYTES_MAX)
		return pgs_flush_all(t, err, errlen);
	return 0;
}

int pgs_insert(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *vals, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	if (!settable(tb, pgt_key_count(tb)))
		return pgt_send_insert(t, schema, tb, vals, err, errlen);
	return held(t, schema, tb, CS_INSERT, NULL, vals, err, errlen);
}

/* An UPDATE that keeps its key (known values on both sides). */
static bool key_kept(const struct connector_table *tb, const struct connector_value *key,
		     const struct connector_value *vals)
{
	for (size_t i = 0; i < tb->ncols; i++) {
		int k = tb->cols[i].key_pos - 1;

		if (k < 0)
			continue;
		if (key[k].kind != CV_VALUE || vals[i].kind != CV_VALUE || key[k].len != vals[i].len ||
		    memcmp(key[k].p, vals[i].p, key[k].len) != 0)
			return false;
	}
	return true;
}

int pgs_update(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *key, const struct connector_value *vals, char *err,
	       size_t errlen)
{
	struct pg_target *t = ctx;
	bool any = false;

	for (size_t i = 0; i < tb->ncols; i++)
		any |= vals[i].kind != CV_ABSENT;
	if (!any)
		return 0; /* nothing it could change */
	if (!settable(tb, pgt_key_count(tb)))
		return pgt_send_update(t, schema, tb, key, vals, err, errlen);
	if (!key_kept(tb, key, vals)) {
		/* the key moves: what the table holds goes first, in order */
		if (pgs_flush_table(t, schema, tb->name, err, errlen) < 0)
			return -1;
		return pgt_send_update(t, schema, tb, key, vals, err, errlen);
	}
	return held(t, schema, tb, CS_UPDATE, key, vals, err, errlen);
}

int pgs_remove(void *ctx, const char *schema, const struct connector_table *tb,
	       const struct connector_value *key, char *err, size_t errlen)
{
	struct pg_target *t = ctx;

	for (int k = 0; k < pgt_key_count(tb); k++)
		if (key[k].kind != CV_VALUE)
			return pgs_flush_table(t, schema, tb->name, err, errlen) < 0
				       ? -1
				       : pgt_send_remove(t, schema, tb, key, err, errlen);
	if (!settable(tb, pgt_key_count(tb)))
		return pgt_send_remove(t, schema, tb, key, err, errlen);
	return held(t, schema, tb, CS_DELETE, key, NULL, err, errlen);
}

void pgs_discard(struct pg_target *t)
{
	if (t->sets != NULL)
		t->sets->held_rows = t->sets->held_bytes = 0;
	while (t->sets != NULL && t->sets->dirty != NULL) {
		struct tgroup *g = t->sets->dirty;

		changeset_reset(&g->cs);
		g->dirty = false;
		t->sets->dirty = g->dirty_next;
	}
}

void pgs_free(struct pg_target *t)
{
	struct pg_sets *ps = t->sets;

	if (ps == NULL)
		return;
	for (unsigned h = 0; h < GROUP_BUCKETS; h++)
		while (ps->g[h] != NULL) {
			struct tgroup *next = ps->g[h]->next;

			changeset_free(&ps->g[h]->cs);
			free(ps->g[h]->schema);
			free(ps->g[h]->table);
			free(ps->g[h]);
			ps->g[h] = next;
		}
	for (size_t i = 0; i < sizeof(ps->arr) / sizeof(ps->arr[0]); i++)
		buf_free(&ps->arr[i]);
	free(ps->done);
	free(ps);
	t->sets = NULL;
}
