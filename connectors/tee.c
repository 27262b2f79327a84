/* tee.c — tee_ops: one destination made of several (a unit's [tier] copy
 * and the HTTP targets with mode = also).  Every write goes to each child;
 * reads (fetch, describe, checkpoint) come from the first, the primary.
 * Commit runs the children last to first, so the primary commits last: after
 * a crash every other child is at or past the primary's checkpoint, the
 * engine replays from the primary's, and a child that is ahead drops what
 * it holds already (http_target.c does). */
#include "connectors/tee.h"

#include <stdio.h>
#include <stdlib.h>

struct tee {
	size_t n;
	const struct connector_ops *ops[TEE_MAX];
	void *ctx[TEE_MAX];
};

static void tee_close(void *ctx)
{
	struct tee *t = ctx;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		t->ops[i]->close(t->ctx[i]);
	free(t);
}

static void *tee_open(const char *conninfo, const char *password, const void *opts, char *err, size_t errlen)
{
	const struct tee_conf *conf = opts;
	struct tee *t = calloc(1, sizeof(*t));

	(void)conninfo;
	(void)password;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < conf->n && i < TEE_MAX; i++) {
		const struct tee_child *c = &conf->child[i];

		t->ops[i] = c->ops;
		t->ctx[i] = c->ops->open(c->conninfo, c->password, c->opts, err, errlen);
		if (t->ctx[i] == NULL) {
			tee_close(t);
			return NULL;
		}
		t->n++;
	}
	return t;
}

/* Each child in turn; the first failure stops. */
#define EACH(call)                                                                                           \
	do {                                                                                                 \
		struct tee *t = ctx;                                                                         \
		for (size_t i = 0; i < t->n; i++)                                                            \
			if (t->ops[i]->call < 0)                                                             \
				return -1;                                                                   \
		return 0;                                                                                    \
	} while (0)
#define CHILD t->ctx[i]

static int tee_begin(void *ctx, char *err, size_t errlen)
{
	EACH(begin(CHILD, err, errlen));
}

static int tee_prepare(void *ctx, const char *const *schemas, size_t nschemas,
		       const struct connector_table *tables, size_t ntables, bool truncate, char *err,
		       size_t errlen)
{
	EACH(prepare(CHILD, schemas, nschemas, tables, ntables, truncate, err, errlen));
}

static int tee_load(void *ctx, const char *schema, const struct connector_table *tb, const char *rows,
		    size_t len, char *err, size_t errlen)
{
	EACH(load(CHILD, schema, tb, rows, len, err, errlen));
}

static int tee_checkpoint(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			  char *err, size_t errlen)
{
	EACH(checkpoint(CHILD, schema, source, unit, lsn, err, errlen));
}

static int tee_insert(void *ctx, const char *schema, const struct connector_table *tb,
		      const struct connector_value *vals, char *err, size_t errlen)
{
	EACH(insert(CHILD, schema, tb, vals, err, errlen));
}

static int tee_update(void *ctx, const char *schema, const struct connector_table *tb,
		      const struct connector_value *key, const struct connector_value *vals, char *err,
		      size_t errlen)
{
	EACH(update(CHILD, schema, tb, key, vals, err, errlen));
}

static int tee_remove(void *ctx, const char *schema, const struct connector_table *tb,
		      const struct connector_value *key, char *err, size_t errlen)
{
	EACH(remove(CHILD, schema, tb, key, err, errlen));
}

static int tee_truncate(void *ctx, const char *schema, const struct connector_table *tb, char *err,
			size_t errlen)
{
	EACH(truncate(CHILD, schema, tb, err, errlen));
}

static int tee_add_column(void *ctx, const char *schema, const char *table, const char *name,
			  const char *type, const char *default_expr, char *err, size_t errlen)
{
	EACH(add_column(CHILD, schema, table, name, type, default_expr, err, errlen));
}

static int tee_fetch(void *ctx, const char *schema, const struct connector_table *tb,
		     const struct connector_value *key, size_t col, struct buf *out, bool *is_null, char *err,
		     size_t errlen)
{
	struct tee *t = ctx;

	return t->ops[0]->fetch(t->ctx[0], schema, tb, key, col, out, is_null, err, errlen);
}

static int tee_describe(void *ctx, const char *schema, const char *table, struct connector_column **cols,
			size_t *n, char *err, size_t errlen)
{
	struct tee *t = ctx;

	return t->ops[0]->describe(t->ctx[0], schema, table, cols, n, err, errlen);
}

static int tee_checkpoint_get(void *ctx, const char *schema, const char *source, int unit, char *lsn,
			      size_t lsnlen, char *err, size_t errlen)
{
	struct tee *t = ctx;

	return t->ops[0]->checkpoint_get(t->ctx[0], schema, source, unit, lsn, lsnlen, err, errlen);
}

static int tee_commit(void *ctx, char *err, size_t errlen)
{
	struct tee *t = ctx;

	for (size_t i = t->n; i-- > 0;)
		if (t->ops[i]->commit(t->ctx[i], err, errlen) < 0)
			return -1;
	return 0;
}

static bool tee_alive(void *ctx)
{
	struct tee *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		if (!t->ops[i]->alive(t->ctx[i]))
			return false;
	return true;
}

static void tee_txn(void *ctx, uint64_t lsn)
{
	struct tee *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		if (t->ops[i]->txn != NULL)
			t->ops[i]->txn(t->ctx[i], lsn);
}

static void tee_rollback(void *ctx)
{
	struct tee *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		t->ops[i]->rollback(t->ctx[i]);
}

const struct connector_ops tee_ops = {
	.name = "tee",
	.open = tee_open,
	.begin = tee_begin,
	.prepare = tee_prepare,
	.load = tee_load,
	.checkpoint = tee_checkpoint,
	.insert = tee_insert,
	.update = tee_update,
	.remove = tee_remove,
	.fetch = tee_fetch,
	.truncate = tee_truncate,
	.add_column = tee_add_column,
	.describe = tee_describe,
	.checkpoint_get = tee_checkpoint_get,
	.commit = tee_commit,
	.alive = tee_alive,
	.txn = tee_txn,
	.rollback = tee_rollback,
	.close = tee_close,
};
