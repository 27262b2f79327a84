/* http_target.c — http_target_ops: an HTTP endpoint behind the destination
 * vtable.  Changes gather per unit (split into batches by batch_rows and
 * batch_bytes); commit queues the batches and each unit's position in the
 * state database in one transaction.  See http_target.h. */
#include "connectors/http_target.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "connectors/copytext.h"
#include "connectors/http_outbox.h"
#include "connectors/pgoutput.h"

#define MAX_COLS 1600

/* One unit's changes since begin. */
struct unit_state {
	const struct http_target_unit *u;
	struct http_batch **pieces;
	size_t npieces, cap;
	size_t piece_bytes; /* estimated body bytes of the last piece */
	uint64_t lsn;	    /* the checkpoint the engine gave, 0: none yet */
	bool checkpointed;
	bool resync;	/* a full copy (prepare with truncate): ends a detachment */
	uint64_t floor; /* the position queued for this unit (floor_known) */
	bool floor_known;
	size_t bytes; /* estimated body bytes of every piece */
};

struct http_target {
	PGconn *conn;
	const struct http_target_conf *conf;
	struct unit_state *units;
	struct buf values; /* a loaded row's unescaped values */
	uint64_t txn;	   /* the source transaction of the changes now arriving; 0: a copy */
};

static void unit_reset(struct unit_state *s)
{
	for (size_t i = 0; i < s->npieces; i++)
		http_batch_free(s->pieces[i]);
	s->npieces = 0;
	s->piece_bytes = 0;
	s->lsn = 0;
	s->checkpointed = false;
	s->resync = false;
	s->bytes = 0;
}

static void *target_open(const char *conninfo, const char *password, const void *opts, char *err,
			 size_t errlen)
{
	const struct http_target_conf *conf = opts;
	struct http_target *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->units = calloc(conf->nunits ? conf->nunits : 1, sizeof(*t->units))) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->conf = conf;
	for (size_t i = 0; i < conf->nunits; i++)
		t->units[i].u = &conf->units[i];
	t->conn = pg_connect_state(conninfo, password, "syncd", err, errlen);
	if (t->conn == NULL) {
		free(t->units);
		free(t);
		return NULL;
	}
	return t;
}

static void target_close(void *ctx)
{
	struct http_target *t = ctx;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->conf->nunits; i++) {
		unit_reset(&t->units[i]);
		free(t->units[i].pieces);
	}
	free(t->units);
	buf_free(&t->values);
	PQfinish(t->conn);
	free(t);
}

static struct unit_state *unit_of(struct http_target *t, const char *schema, char *err, size_t errlen)
{
	for (size_t i = 0; i < t->conf->nunits; i++)
		if (strcmp(t->units[i].u->schema, schema) == 0)
			return &t->units[i];
	snprintf(err, errlen, "target %s: no unit is addressed as \"%s\"", t->conf->name, schema);
	return NULL;
}

static bool table_sent(const struct http_target *t, const struct connector_table *tb)
{
	if (t->conf->tables == NULL)
		return true;
	for (size_t i = 0; i < t->conf->ntables; i++)
		if (strcmp(t->conf->tables[i], tb->name) == 0)
			return true;
	return false;
}

/* About how many body bytes a change takes: its values plus the names. */
static size_t change_size(const struct connector_table *tb, const struct connector_value *row)
{
	size_t n = 64 + strlen(tb->name);

	for (size_t i = 0; row != NULL && i < tb->ncols; i++)
		n += strlen(tb->cols[i].name) + 8 + (row[i].kind == CV_VALUE ? row[i].len * 4 / 3 + 2 : 4);
	return n;
}

/* The piece the next change goes to: a new one when the last is full. */
static struct http_batch *piece_for(struct http_target *t, struct unit_state *s, size_t size)
{
	if (s->npieces == 0 || http_batch_count(s->pieces[s->npieces - 1]) >= t->conf->batch_rows ||
	    (s->piece_bytes + size > t->conf->batch_bytes &&
	     http_batch_count(s->pieces[s->npieces - 1]) > 0)) {
		struct http_batch *b;

		if (s->npieces == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 4;
			struct http_batch **p = realloc(s->pieces, cap * sizeof(*p));

			if (p == NULL)
				return NULL;
			s->pieces = p;
			s->cap = cap;
		}
		if ((b = http_batch_new(t->conf->source, s->u->unit)) == NULL)
			return NULL;
		s->pieces[s->npieces++] = b;
		s->piece_bytes = 0;
	}
	s->piece_bytes += size;
	s->bytes += size;
	return s->pieces[s->npieces - 1];
}

static int add_change(struct http_target *t, const char *schema, enum http_op op,
		      const struct connector_table *tb, const struct connector_value *row,
		      const struct connector_value *old_key, char *err, size_t errlen)
{
	struct unit_state *s;
	struct http_batch *b;

	if (!table_sent(t, tb))
		return 0;
	if ((s = unit_of(t, schema, err, errlen)) == NULL)
		return -1;
	/* a replay (the engine restarts from the tier's checkpoint, which may
	 * trail this target's): what is queued already is not queued again */
	if (t->txn != 0 && !s->floor_known) {
		if (http_outbox_queued_get(t->conn, t->conf->name, t->conf->source, s->u->unit, &s->floor,
					   NULL, err, errlen) < 0)
			return -1;
		s->floor_known = true;
	}
	if (t->txn != 0 && t->txn <= s->floor)
		return 0;
	if ((b = piece_for(t, s, change_size(tb, row))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* every change of a commit carries the position the checkpoint sets */
	return http_batch_add(b, 0, op, tb, row, old_key, err, errlen);
}

static void target_txn(void *ctx, uint64_t lsn)
{
	((struct http_target *)ctx)->txn = lsn;
}

static int target_begin(void *ctx, char *err, size_t errlen)
{
	struct http_target *t = ctx;

	(void)err;
	(void)errlen;
	t->txn = 0;
	for (size_t i = 0; i < t->conf->nunits; i++)
		unit_reset(&t->units[i]);
	return 0;
}

/* Nothing to create on the far side; a snapshot (truncate) starts each
 * unit's copy with a truncate of every table, so the receiver drops what it
 * held before the rows that follow. */
static int target_prepare(void *ctx, const char *const *schemas, size_t nschemas,
			  const struct connector_table *tables, size_t ntables, bool truncate, char *err,
			  size_t errlen)
{
	struct http_target *t = ctx;

	for (size_t i = 0; truncate && i < nschemas; i++) {
		struct unit_state *s = unit_of(t, schemas[i], err, errlen);

		if (s == NULL)
			return -1;
		s->resync = true;
		for (size_t k = 0; k < ntables; k++)
			if (add_change(t, schemas[i], HTTP_OP_TRUNCATE, &tables[k], NULL, NULL, err, errlen) <
			    0)
				return -1;
	}
	return 0;
}

/* Rows in COPY text format become inserts. */
static int target_load(void *ctx, const char *schema, const struct connector_table *tb, const char *rows,
		       size_t len, char *err, size_t errlen)
{
	struct http_target *t = ctx;
	struct copy_field f[MAX_COLS];
	struct connector_value v[MAX_COLS];
	size_t off[MAX_COLS];

	if (tb->ncols > MAX_COLS) {
		snprintf(err, errlen, "table %s: %zu columns, at most %d", tb->name, tb->ncols, MAX_COLS);
		return -1;
	}
	for (const char *p = rows, *end = rows + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (copytext_split(p, n, f, MAX_COLS) != (int)tb->ncols) {
			snprintf(err, errlen, "table %s: a row does not have its %zu columns", tb->name,
				 tb->ncols);
			return -1;
		}
		buf_reset(&t->values);
		for (size_t i = 0; i < tb->ncols; i++) {
			off[i] = t->values.len;
			v[i].kind = copytext_is_null(&f[i]) ? CV_NULL : CV_VALUE;
			if (v[i].kind == CV_VALUE && copytext_unescape(&f[i], &t->values) < 0) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			v[i].len = t->values.len - off[i];
		}
		for (size_t i = 0; i < tb->ncols; i++)
			v[i].p = t->values.data ? t->values.data + off[i] : "";
		if (add_change(t, schema, HTTP_OP_INSERT, tb, v, NULL, err, errlen) < 0)
			return -1;
		p += n + 1;
	}
	return 0;
}

static int target_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			     char *err, size_t errlen)
{
	struct http_target *t = ctx;
	struct unit_state *s = unit_of(t, schema, err, errlen);

	if (s == NULL)
		return -1;
	if (strcmp(source, t->conf->source) != 0 || unit != s->u->unit) {
		snprintf(err, errlen, "target %s: checkpoint of %s/%05d given to %s/%05d", t->conf->name,
			 source, unit, t->conf->source, s->u->unit);
		return -1;
	}
	if (pgo_lsn_parse(lsn, &s->lsn) < 0) {
		snprintf(err, errlen, "target %s unit %05d: bad checkpoint \"%s\"", t->conf->name, unit, lsn);
		return -1;
	}
	s->checkpointed = true;
	return 0;
}

static int target_insert(void *ctx, const char *schema, const struct connector_table *tb,
			 const struct connector_value *vals, char *err, size_t errlen)
{
	return add_change(ctx, schema, HTTP_OP_INSERT, tb, vals, NULL, err, errlen);
}

static bool same_value(const struct connector_value *a, const struct connector_value *b)
{
	if (a->kind != b->kind)
		return false;
	return a->kind != CV_VALUE || (a->len == b->len && memcmp(a->p, b->p, a->len) == 0);
}

/* old_key goes out only when the key changed. */
static int target_update(void *ctx, const char *schema, const struct connector_table *tb,
			 const struct connector_value *key, const struct connector_value *vals, char *err,
			 size_t errlen)
{
	bool moved = false;

	for (size_t i = 0; i < tb->ncols; i++)
		if (tb->cols[i].key_pos > 0 && !same_value(&key[tb->cols[i].key_pos - 1], &vals[i]))
			moved = true;
	return add_change(ctx, schema, HTTP_OP_UPDATE, tb, vals, moved ? key : NULL, err, errlen);
}

static int target_remove(void *ctx, const char *schema, const struct connector_table *tb,
			 const struct connector_value *key, char *err, size_t errlen)
{
	return add_change(ctx, schema, HTTP_OP_DELETE, tb, NULL, key, err, errlen);
}

static int target_truncate(void *ctx, const char *schema, const struct connector_table *tb, char *err,
			   size_t errlen)
{
	return add_change(ctx, schema, HTTP_OP_TRUNCATE, tb, NULL, NULL, err, errlen);
}

/* A receiver's rows cannot be read back: nothing is found, so a row re-routed
 * out of the quarantine is sent (the receiver replaces by key), and a moved
 * row with an unchanged TOASTed value asks for a resync (give such units a
 * [tier] copy with mode = also to avoid it). */
static int target_fetch(void *ctx, const char *schema, const struct connector_table *tb,
			const struct connector_value *key, size_t col, struct buf *out, bool *is_null,
			char *err, size_t errlen)
{
	(void)ctx;
	(void)schema;
	(void)tb;
	(void)key;
	(void)col;
	(void)out;
	(void)is_null;
	(void)err;
	(void)errlen;
	return 0;
}

/* A receiver takes the row as it comes: a new column needs nothing here. */
static int target_add_column(void *ctx, const char *schema, const char *table, const char *name,
			     const char *type, const char *default_expr, char *err, size_t errlen)
{
	(void)ctx;
	(void)schema;
	(void)table;
	(void)name;
	(void)type;
	(void)default_expr;
	(void)err;
	(void)errlen;
	return 0;
}

/* No table to describe: the engine plans from the source alone. */
static int target_describe(void *ctx, const char *schema, const char *table, struct connector_column **cols,
			   size_t *n, char *err, size_t errlen)
{
	(void)ctx;
	(void)schema;
	(void)table;
	(void)err;
	(void)errlen;
	*cols = NULL;
	*n = 0;
	return 0;
}

static int target_checkpoint_get(void *ctx, const char *schema, const char *source, int unit, char *lsn,
				 size_t lsnlen, char *err, size_t errlen)
{
	struct http_target *t = ctx;
	uint64_t q;

	(void)schema;
	if (http_outbox_queued_get(t->conn, t->conf->name, source, unit, &q, NULL, err, errlen) < 0)
		return -1;
	if (q == 0)
		snprintf(lsn, lsnlen, "%s", "");
	else
		pgo_lsn_format(q, lsn, lsnlen);
	return 0;
}

/* Queues one unit's pieces (drop: only moves its position, the unit is
 * detached).  A position at or below what is queued already was queued by
 * an earlier run (the engine replays from its oldest destination): dropped,
 * so a batch is never queued twice. */
static int queue_unit(struct http_target *t, struct unit_state *s, bool drop, char *err, size_t errlen)
{
	const char *ctype = http_format_content_type(t->conf->format);
	uint64_t queued, from; /* from: the lsn_to of the unit's last batch */
	bool sent = false;

	if (http_outbox_queued_get(t->conn, t->conf->name, t->conf->source, s->u->unit, &queued, &from, err,
				   errlen) < 0)
		return -1;
	if (s->lsn <= queued)
		return 0;
	for (size_t i = 0; i < s->npieces && !drop; i++) {
		char id[HTTP_BATCH_ID_BUF];
		char *body;
		size_t len;
		int r;

		if (http_batch_count(s->pieces[i]) == 0)
			continue;
		http_batch_set_position(s->pieces[i], from, s->lsn, s->npieces > 1 ? (unsigned)i + 1 : 0);
		if (http_batch_get_id(s->pieces[i], id, sizeof(id), err, errlen) < 0 ||
		    http_batch_render(s->pieces[i], t->conf->format, &body, &len, err, errlen) < 0)
			return -1;
		r = http_outbox_enqueue(t->conn,
					&(const struct http_outbox_new){
						.target = t->conf->name,
						.unit = s->u->unit,
						.source = t->conf->source,
						.batch_id = id,
						.lsn_from = from,
						.lsn_to = s->lsn,
						.changes = (int)http_batch_count(s->pieces[i]),
						.content_type = ctype,
						.body = body,
						.len = len,
					},
					err, errlen);
		free(body);
		if (r < 0)
			return -1;
		sent = true;
	}
	return http_outbox_queued_set(t->conn, t->conf->name, t->conf->source, s->u->unit, s->lsn,
				      sent ? s->lsn : 0, err, errlen);
}

/* A paused unit's backlog counts against the limit of a unit database that
 * is down: past it the unit is detached (its backlog discarded; a resync
 * sends a full copy and ends it).  *drop: queue nothing for it now. */
static int backlog_check(struct http_target *t, struct unit_state *s, const struct http_outbox_paused *p,
			 size_t np, bool *drop, char *err, size_t errlen)
{
	char why[256];
	size_t k;

	*drop = false;
	for (k = 0; k < np && p[k].unit != s->u->unit; k++)
		;
	if (k == np)
		return 0;
	if (p[k].detached) {
		*drop = !s->resync;
		return s->resync ? http_outbox_reattach(t->conn, t->conf->name, s->u->unit, err, errlen) : 0;
	}
	if (t->conf->backlog_limit <= 0 || p[k].bytes + (long long)s->bytes <= t->conf->backlog_limit)
		return 0;
	snprintf(
		why, sizeof(why),
		"detached: %lld kB waited behind a dead letter, over unit_backlog_limit; fix the receiver, then run syncctl resync --unit %05d",
		(p[k].bytes + (long long)s->bytes) / 1024, s->u->unit);
	log_err("target %s unit %05d: %s", t->conf->name, s->u->unit, why);
	*drop = true;
	return http_outbox_detach(t->conn, t->conf->name, s->u->unit, why, err, errlen);
}

static int target_commit(void *ctx, char *err, size_t errlen)
{
	struct http_target *t = ctx;
	struct http_outbox_paused *paused = NULL;
	size_t npaused = 0;
	int r = 0;

	if (pg_exec(t->conn, "BEGIN", err, errlen) < 0)
		return -1;
	r = http_outbox_paused_list(t->conn, t->conf->name, &paused, &npaused, err, errlen);
	for (size_t i = 0; i < t->conf->nunits && r == 0; i++) {
		struct unit_state *s = &t->units[i];
		bool drop;

		if (s->checkpointed && (backlog_check(t, s, paused, npaused, &drop, err, errlen) < 0 ||
					queue_unit(t, s, drop, err, errlen) < 0))
			r = -1;
	}
	free(paused);
	if (r < 0) {
		PQclear(PQexec(t->conn, "ROLLBACK"));
		return -1;
	}
	if (pg_exec(t->conn, "COMMIT", err, errlen) < 0)
		return -1;
	t->txn = 0;
	for (size_t i = 0; i < t->conf->nunits; i++) {
		struct unit_state *s = &t->units[i];

		if (s->checkpointed && s->floor_known && s->lsn > s->floor)
			s->floor = s->lsn;
		unit_reset(s);
	}
	return 0;
}

static bool target_alive(void *ctx)
{
	struct http_target *t = ctx;

	return PQstatus(t->conn) == CONNECTION_OK;
}

static void target_rollback(void *ctx)
{
	struct http_target *t = ctx;

	t->txn = 0;
	for (size_t i = 0; i < t->conf->nunits; i++) {
		unit_reset(&t->units[i]);
		t->units[i].floor_known = false; /* read again: a commit may have failed half-way */
	}
	if (PQtransactionStatus(t->conn) != PQTRANS_IDLE)
		PQclear(PQexec(t->conn, "ROLLBACK"));
}

const struct connector_ops http_target_ops = {
	.name = "http",
	.open = target_open,
	.begin = target_begin,
	.prepare = target_prepare,
	.load = target_load,
	.checkpoint = target_checkpoint,
	.insert = target_insert,
	.update = target_update,
	.remove = target_remove,
	.fetch = target_fetch,
	.truncate = target_truncate,
	.add_column = target_add_column,
	.describe = target_describe,
	.checkpoint_get = target_checkpoint_get,
	.commit = target_commit,
	.alive = target_alive,
	.txn = target_txn,
	.rollback = target_rollback,
	.close = target_close,
};
