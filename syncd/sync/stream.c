/* stream.c — one source's continuous apply: the pgoutput loop, changes routed
 * per row into batches, status updates, reconnect with backoff.
 *
 * Exactly once: a source transaction whose commit LSN is at or below a
 * destination's checkpoint is already in that destination and is skipped
 * there; each batch commits the rows and the checkpoints of the units it
 * touched together.  The slot is told "flushed" only up to what every
 * destination has committed: the end of the last committed batch, or,
 * with nothing pending, everything received.
 *
 * Large transactions come while they run (protocol 2, streaming on): their
 * blocks are staged on disk (spill.c) and applied at the Stream Commit as
 * one source transaction committing at its commit LSN — not into an open
 * destination transaction, which must commit with the checkpoints of the
 * ordinary transactions that commit meanwhile.  An open streamed
 * transaction does not hold "flushed" back: that position counts commits,
 * and after a reconnect the source sends a transaction that had not
 * committed again from its start. */
#include "syncd/sync/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fence.h"
#include "common/log.h"
#include "connectors/pgoutput.h"
#include "syncd/sync/apply.h"
#include "syncd/sync/plan.h"
#include "syncd/sync/row.h"
#include "syncd/sync/session.h"
#include "syncd/sync/snapshot.h"
#include "syncd/sync/spill.h"

#define BATCH_MAX_TXNS	2000
#define BATCH_MAX_MS	200
#define STATUS_EVERY_MS 1000
#define RETRY_MAX_MS	10000

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void lsn_text(uint64_t lsn, char *out, size_t outlen)
{
	pgo_lsn_format(lsn, out, outlen);
}

/* ---- checkpoints and batches ---------------------------------------------- */

static const char *unit_code_text(int code)
{
	static __thread char buf[8];

	snprintf(buf, sizeof(buf), "%05d", code);
	return buf;
}

/* Queues the resync of the detached units of group g (every group: NULL):
 * one request for all units when every unit is detached there. */
static int resync_detached(struct stream *s, const struct group *g, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	bool all = true;

	for (size_t i = 0; i < run->nunits; i++)
		all &= s->detached[i] && (g == NULL || run->units[i].group == g) &&
		       !run->units[i].group->down;
	if (all)
		return state_request_add(run->st, run->scfg->name, "resync", NULL, NULL, err, errlen) < 0 ? -1
													  : 0;
	for (size_t i = 0; i < run->nunits; i++)
		if (s->detached[i] && (g == NULL || run->units[i].group == g) && !run->units[i].group->down &&
		    state_request_add(run->st, run->scfg->name, "resync", unit_code_text(run->units[i].code),
				      NULL, err, errlen) < 0)
			return -1;
	return 0;
}

static int checkpoints_load(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	char lsn[32], msg[1024];

	for (size_t i = 0; i < run->nunits; i++) {
		struct unit_dest *u = &run->units[i];
		int d = state_unit_detached(run->st, run->scfg->name, u->code, err, errlen);

		if (d < 0)
			return -1;
		s->detached[i] = d == 1;
		s->ckpt[i] = 0;
		if (u->group->down) {
			s->hold |= !s->detached[i];
			continue;
		}
		if (u->group->ops->checkpoint_get(u->group->ctx, u->schema, run->scfg->name, u->code, lsn,
						  sizeof(lsn), msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", u->code, msg);
			return -1;
		}
		s->ckpt[i] = 0;
		if (lsn[0] != '\0' && pgo_lsn_parse(lsn, &s->ckpt[i]) < 0) {
			snprintf(err, errlen, "unit %05d: bad checkpoint \"%s\"", u->code, lsn);
			return -1;
		}
	}
	if (resync_detached(s, NULL, err, errlen) < 0 ||
	    state_checkpoint_get(run->st, run->scfg->name, lsn, sizeof(lsn), err, errlen) < 0)
		return -1;
	s->ckpt_q = 0;
	if (lsn[0] != '\0' && pgo_lsn_parse(lsn, &s->ckpt_q) < 0) {
		snprintf(err, errlen, "quarantine: bad checkpoint \"%s\"", lsn);
		return -1;
	}
	return 0;
}

/* Makes sure the destination's transaction is open; false: skip (it has
 * this source transaction already). */
int stream_dest_begin(struct stream *s, int idx, bool *skip, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;

	if (!s->batch_open) {
		s->batch_open = true;
		s->batch_txns = 0;
		s->batch_time = s->txn_time; /* the oldest source commit the batch holds */
		clock_gettime(CLOCK_MONOTONIC, &s->batch_start);
	}
	if (idx == DEST_QUARANTINE) {
		*skip = s->txn_final <= s->ckpt_q;
		if (!*skip && !state_quarantine_open(run->st) &&
		    state_quarantine_begin(run->st, run->scfg->name, false, err, errlen) < 0)
			return -1;
		if (!*skip)
			s->q_touched = true;
		return 0;
	}
	/* a unit that is down waits (the slot keeps its WAL) or, detached, gets a resync */
	*skip = s->txn_final <= s->ckpt[idx] || run->units[idx].group->down || s->detached[idx];
	if (*skip)
		return 0;
	if (!run->units[idx].group->in_tx) {
		char msg[1024];

		if (run->units[idx].group->ops->begin(run->units[idx].group->ctx, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", run->units[idx].code, msg);
			return -1;
		}
		run->units[idx].group->in_tx = true;
	}
	s->touched[idx] = true;
	if (run->units[idx].group->ops->txn != NULL)
		run->units[idx].group->ops->txn(run->units[idx].group->ctx, s->txn_final);
	return 0;
}

void stream_batch_rollback(struct stream *s)
{
	struct sync_run *run = &s->run;

	apply_rollback(run, true);
	memset(s->touched, 0, run->nunits * sizeof(bool));
	s->q_touched = false;
	s->batch_open = false;
	s->in_txn = false;
}

int stream_batch_commit(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	char lsn[32];

	if (!s->batch_open)
		return 0;
	lsn_text(s->batch_final, lsn, sizeof(lsn));
	if (apply_commit(run, s->touched, lsn, s->q_touched, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < run->nunits; i++)
		if (s->touched[i]) {
			s->ckpt[i] = s->batch_final;
			s->touched[i] = false;
		}
	if (s->q_touched)
		s->ckpt_q = s->batch_final;
	s->q_touched = false;
	s->batch_open = false;
	s->batches++;
	if (s->batch_end > s->flushed && !s->hold)
		s->flushed = s->batch_end;
	log_debug("source %s: batch of %d transactions committed up to %s", run->scfg->name, s->batch_txns,
		  lsn);
	return 0;
}

/* ---- rows ------------------------------------------------------------------- */

static int row_init(struct row *r, size_t n)
{
	r->v = calloc(n + 1, sizeof(*r->v));
	return r->v == NULL ? -1 : 0;
}

static int rows_resize(struct stream *s, size_t n)
{
	struct row *rs[3] = {&s->oldr, &s->newr, &s->outr};

	for (int i = 0; i < 3; i++) {
		struct connector_value *v = realloc(rs[i]->v, (n + 1) * sizeof(*v));

		if (v == NULL)
			return -1;
		rs[i]->v = v;
	}
	return 0;
}

/* Copies a pgoutput tuple into plan column order. */
static void row_from_tuple(struct row *r, const struct rel_map *m, const struct pgo_tuple *t)
{
	const struct plan_table *p = m->p;

	for (size_t j = 0; j < p->src.ncols; j++)
		r->v[j].kind = CV_ABSENT;
	for (int i = 0; i < m->ncols && i < t->ncols; i++) {
		int j = m->col_of[i];
		const struct pgo_value *pv = &t->values[i];

		if (j < 0)
			continue;
		if (pv->kind == 'n') {
			r->v[j].kind = CV_NULL;
		} else if (pv->kind == 't' || pv->kind == 'b') {
			r->v[j].kind = CV_VALUE;
			r->v[j].p = (const char *)pv->data;
			r->v[j].len = pv->len;
		} else {
			r->v[j].kind = CV_ABSENT;
		}
	}
}

/* Where a row goes: a unit index, DEST_QUARANTINE (with why), or ROW_NOMEM
 * (with err). */
int stream_route_row(struct stream *s, const struct plan_table *p, struct row *r, enum router_reason *why,
		     char *err, size_t errlen)
{
	int dest = row_route(&s->run, p, r->v, &s->keytext, why, NULL);

	if (dest == ROW_NOMEM)
		snprintf(err, errlen, "out of memory");
	return dest;
}

/* The key of a row, in key order, for WHERE clauses. */
void stream_row_key(struct stream *s, const struct plan_table *p, const struct row *r)
{
	for (int k = 0; k < p->nkey; k++)
		s->keyv[k] = r->v[p->key_idx[k]];
}

/* The output row: the columns a unit receives, masked. */
int stream_row_output(struct stream *s, const struct plan_table *p, const struct row *in)
{
	return row_mask(p, in->v, s->outr.v, &s->outr.store);
}

static int quarantine_add(struct stream *s, const struct plan_table *p, const struct row *r,
			  enum router_reason why, char *err, size_t errlen)
{
	char lsn[32];

	lsn_text(s->txn_final, lsn, sizeof(lsn));
	s->quarantined++;
	return row_quarantine(&s->run, p, r->v, why, lsn, &s->keytext, err, errlen);
}

/* Fills unchanged-TOAST values of the new row: from the whole old row, or
 * else from the old destination's copy — never from the live source. */
static int fill_absent(struct stream *s, const struct plan_table *p, struct row *nr, const struct row *orow,
		       int old_dest, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	size_t *off = NULL;
	int rc = -1;

	buf_reset(&nr->store);
	for (size_t j = 0; j < p->src.ncols; j++) {
		bool is_null = false;
		size_t start = nr->store.len;
		char msg[1024];
		int f;

		if (nr->v[j].kind != CV_ABSENT)
			continue;
		if (orow->v[j].kind != CV_ABSENT) {
			nr->v[j] = orow->v[j];
			continue;
		}
		if (off == NULL && (off = calloc(p->src.ncols, sizeof(*off))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (old_dest == DEST_QUARANTINE) {
			const char *key = row_key_text(p, orow->v, &s->keytext);

			f = key == NULL ? -1
					: state_quarantine_fetch(run->st, run->scfg->name, p->rt->table, key,
								 p->src.cols[j].name, &nr->store, &is_null,
								 err, errlen);
		} else {
			struct unit_dest *u = &run->units[old_dest];

			stream_row_key(s, p, orow);
			f = u->group->ops->fetch(u->group->ctx, u->schema, &p->out, s->keyv, j, &nr->store,
						 &is_null, msg, sizeof(msg));
			if (f < 0)
				snprintf(err, errlen, "unit %05d: %s", u->code, msg);
		}
		if (f < 0)
			goto out;
		if (f == 0) {
			snprintf(
				err, errlen,
				"%s: column %s of a moved row is an unchanged TOAST value and the old copy has no row with its key; resync the unit",
				p->rt->table, p->src.cols[j].name);
			goto out;
		}
		nr->v[j].kind = is_null ? CV_NULL : CV_VALUE;
		nr->v[j].p = NULL; /* set below: the store may still move */
		nr->v[j].len = nr->store.len - start;
		off[j] = start;
	}
	if (off != NULL)
		for (size_t j = 0; j < p->src.ncols; j++)
			if (nr->v[j].kind == CV_VALUE && nr->v[j].p == NULL)
				nr->v[j].p = nr->store.data + off[j];
	rc = 0;
out:
	free(off);
	return rc;
}

/* ---- applying one change ------------------------------------------------------ */

/* One change applied to a unit: counted for /metrics by unit, table, op. */
static void count_op(struct stream *s, const struct plan_table *p, int dest, int op)
{
	struct stream_status *st = s->opt->status;
	const struct sync_run *run = &s->run;

	if (st == NULL || dest < 0)
		return;
	metrics_op_add(st->metrics, st->source, routing_unit_index(run->rt, run->units[dest].code),
		       (long)(p->rt - routing_table_get(run->rt, 0)), (enum metrics_op)op);
}

static int apply_insert(struct stream *s, const struct plan_table *p, struct row *r, int dest,
			enum router_reason why, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	bool skip;
	char msg[1024];

	if (stream_dest_begin(s, dest, &skip, err, errlen) < 0)
		return -1;
	if (skip)
		return 0;
	if (dest == DEST_QUARANTINE)
		return quarantine_add(s, p, r, why, err, errlen);
	if (stream_row_output(s, p, r) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (run->units[dest].group->ops->insert(run->units[dest].group->ctx, run->units[dest].schema, &p->out,
						s->outr.v, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "unit %05d: %s", run->units[dest].code, msg);
		return -1;
	}
	s->applied++;
	s->n_insert++;
	count_op(s, p, dest, 0);
	return 0;
}

static int apply_remove(struct stream *s, const struct plan_table *p, struct row *r, int dest, char *err,
			size_t errlen)
{
	struct sync_run *run = &s->run;
	bool skip;
	char msg[1024];

	if (stream_dest_begin(s, dest, &skip, err, errlen) < 0)
		return -1;
	if (skip)
		return 0;
	if (dest == DEST_QUARANTINE) {
		const char *key = row_key_text(p, r->v, &s->keytext);

		return key == NULL || state_quarantine_remove(run->st, run->scfg->name, p->rt->table, key,
							      err, errlen) < 0
			       ? -1
			       : 0;
	}
	stream_row_key(s, p, r);
	if (run->units[dest].group->ops->remove(run->units[dest].group->ctx, run->units[dest].schema, &p->out,
						s->keyv, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "unit %05d: %s", run->units[dest].code, msg);
		return -1;
	}
	s->applied++;
	s->n_delete++;
	count_op(s, p, dest, 2);
	return 0;
}

static int on_change(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	const struct rel_map *m = NULL;
	const struct plan_table *p;
	enum router_reason why_old = ROUTER_OK, why_new = ROUTER_OK;
	int old_dest, new_dest;
	bool have_old;

	for (size_t i = 0; i < s->nrels; i++)
		if (s->rels[i].oid == ev->u.change.relid)
			m = &s->rels[i];
	if (m == NULL) {
		snprintf(err, errlen, "source %s: change for relation %u before its Relation message",
			 run->scfg->name, ev->u.change.relid);
		return -1;
	}
	if (m->p == NULL)
		return 0;
	p = m->p;
	have_old = ev->u.change.old_kind != 0;
	if (have_old)
		row_from_tuple(&s->oldr, m, &ev->u.change.old_tuple);

	if (ev->type == PGO_INSERT) {
		row_from_tuple(&s->newr, m, &ev->u.change.new_tuple);
		if ((new_dest = stream_route_row(s, p, &s->newr, &why_new, err, errlen)) == ROW_NOMEM)
			return -1;
		return apply_insert(s, p, &s->newr, new_dest, why_new, err, errlen);
	}
	if (ev->type == PGO_DELETE) {
		if ((old_dest = stream_route_row(s, p, &s->oldr, &why_old, err, errlen)) == ROW_NOMEM)
			return -1;
		return apply_remove(s, p, &s->oldr, old_dest, err, errlen);
	}

	/* UPDATE: without an old tuple the key did not change and (replica
	 * identity checked at start) neither did any routing column */
	row_from_tuple(&s->newr, m, &ev->u.change.new_tuple);
	if (!have_old) {
		for (size_t j = 0; j < p->src.ncols; j++)
			s->oldr.v[j] = s->newr.v[j];
	} else if (ev->u.change.old_kind == 'K') {
		/* key only: the rest of the old row is the new row's */
		for (size_t j = 0; j < p->src.ncols; j++)
			if (s->oldr.v[j].kind == CV_ABSENT || p->src.cols[j].key_pos == 0)
				s->oldr.v[j] = s->newr.v[j];
	}
	if ((old_dest = stream_route_row(s, p, &s->oldr, &why_old, err, errlen)) == ROW_NOMEM ||
	    (new_dest = stream_route_row(s, p, &s->newr, &why_new, err, errlen)) == ROW_NOMEM)
		return -1;
	if (old_dest == new_dest && old_dest != DEST_QUARANTINE) {
		bool skip;
		char msg[1024];

		if (stream_dest_begin(s, new_dest, &skip, err, errlen) < 0)
			return -1;
		if (skip)
			return 0;
		if (stream_row_output(s, p, &s->newr) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		stream_row_key(s, p, &s->oldr);
		if (run->units[new_dest].group->ops->update(run->units[new_dest].group->ctx,
							    run->units[new_dest].schema, &p->out, s->keyv,
							    s->outr.v, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", run->units[new_dest].code, msg);
			return -1;
		}
		s->applied++;
		s->n_update++;
		count_op(s, p, new_dest, 1);
		return 0;
	}
	/* the row moves (unit to unit, into or out of the quarantine): the new
	 * place gets every value, the old place loses the row */
	{
		bool skip_new;

		if (stream_dest_begin(s, new_dest, &skip_new, err, errlen) < 0)
			return -1;
		if (!skip_new) {
			bool skip_old;

			/* the old copy is read before it is deleted */
			if (stream_dest_begin(s, old_dest, &skip_old, err, errlen) < 0)
				return -1;
			if (fill_absent(s, p, &s->newr, &s->oldr, old_dest, err, errlen) < 0)
				return -1;
		}
	}
	if (apply_remove(s, p, &s->oldr, old_dest, err, errlen) < 0)
		return -1;
	return apply_insert(s, p, &s->newr, new_dest, why_new, err, errlen);
}

static int on_truncate(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;

	for (uint32_t k = 0; k < ev->u.truncate.nrels; k++) {
		const struct plan_table *p = NULL;

		for (size_t i = 0; i < s->nrels; i++)
			if (s->rels[i].oid == ev->u.truncate.relids[k])
				p = s->rels[i].p;
		if (p == NULL)
			continue;
		for (size_t i = 0; i < run->nunits; i++) {
			bool skip;
			char msg[1024];

			if (stream_dest_begin(s, (int)i, &skip, err, errlen) < 0)
				return -1;
			if (!skip &&
			    run->units[i].group->ops->truncate(run->units[i].group->ctx, run->units[i].schema,
							       &p->out, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "unit %05d: %s", run->units[i].code, msg);
				return -1;
			}
		}
		{
			bool skip;

			if (stream_dest_begin(s, DEST_QUARANTINE, &skip, err, errlen) < 0)
				return -1;
			if (!skip && state_quarantine_truncate(run->st, run->scfg->name, p->rt->table, err,
							       errlen) < 0)
				return -1;
		}
		log_info("source %s: %s truncated in every unit", run->scfg->name, p->rt->table);
	}
	return 0;
}

/* ---- relations and schema drift ----------------------------------------------- */

/* A column the source added: nullable ones are added to every unit (with the
 * default existing rows read at the source, when it is a constant: now() or
 * CURRENT_USER would be evaluated again in each unit); anything else stops
 * the source. */
static int column_added(struct stream *s, struct plan_table *p, const struct pgo_column *c, char *err,
			size_t errlen)
{
	struct sync_run *run = &s->run;
	char type[256], msg[1024];
	char *def = NULL;
	bool not_null, constant;
	struct connector_column *cols;

	if (pg_source_column_default(run->src, p->rt->schema, p->rt->name, c->name, &def, &constant,
				     &not_null, type, sizeof(type), err, errlen) < 0)
		return -1;
	if (not_null && def == NULL) {
		snprintf(
			err, errlen,
			"source %s: %s gained NOT NULL column %s without a default; syncd cannot fill it in the units' copies: add it to them by hand and run syncctl resync, or make it nullable",
			run->scfg->name, p->rt->table, c->name);
		free(def);
		return -1;
	}
	if (def != NULL && !constant) {
		log_warn(
			"source %s: %s gained column %s with DEFAULT %s, which is not a constant: added to the units without a default (rows streamed from now on carry the source's values; rows copied before read NULL there until syncctl resync)",
			run->scfg->name, p->rt->table, c->name, def);
		free(def);
		def = NULL;
	}
	for (size_t g = 0; g < run->ngroups; g++)
		for (size_t i = 0; i < run->nunits; i++) {
			struct unit_dest *u = &run->units[i];

			if (u->group != &run->groups[g])
				continue;
			if (u->group->ops->add_column(u->group->ctx, u->schema, p->out.name, c->name, type,
						      def, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "unit %05d: %s", u->code, msg);
				free(def);
				return -1;
			}
		}
	log_warn("source %s: %s gained column %s %s%s%s; added to every unit", run->scfg->name, p->rt->table,
		 c->name, type, def ? " DEFAULT " : "", def ? def : "");
	free(def);
	/* the plan grows by one output column (tables sending "*" have no extras) */
	cols = realloc(p->src.cols, (p->src.ncols + 1) * sizeof(*cols));
	if (cols == NULL)
		return -1;
	memset(&cols[p->src.ncols], 0, sizeof(*cols));
	cols[p->src.ncols].name = strdup(c->name);
	cols[p->src.ncols].type = strdup(type);
	cols[p->src.ncols].type_oid = c->type_oid;
	cols[p->src.ncols].typmod = c->typmod;
	p->src.cols = cols;
	p->src.ncols++;
	p->nout++;
	p->out.cols = p->src.cols;
	p->out.ncols = p->nout;
	{
		enum mask_kind *mk = realloc(p->mask, (p->nout + 1) * sizeof(*mk));
		bool *mo;

		if (mk == NULL)
			return -1;
		p->mask = mk;
		mo = realloc(p->mask_on, (p->nout + 1) * sizeof(*mo));
		if (mo == NULL)
			return -1;
		p->mask_on = mo;
		p->mask_on[p->nout - 1] = false;
	}
	return rows_resize(s, p->src.ncols);
}

static int on_relation(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	struct rel_map *m = NULL;
	struct plan_table *p = NULL;

	for (size_t i = 0; i < s->nrels; i++)
		if (s->rels[i].oid == ev->u.relation.oid)
			m = &s->rels[i];
	if (m == NULL) {
		m = realloc(s->rels, (s->nrels + 1) * sizeof(*m));
		if (m == NULL)
			goto oom;
		s->rels = m;
		m = &s->rels[s->nrels++];
		memset(m, 0, sizeof(*m));
		m->oid = ev->u.relation.oid;
	}
	for (size_t t = 0; t < run->ntables; t++)
		if (strcmp(run->tables[t].rt->schema, ev->u.relation.nspname) == 0 &&
		    strcmp(run->tables[t].rt->name, ev->u.relation.relname) == 0)
			p = &run->tables[t];
	m->p = p;
	if (p == NULL)
		return 0;
	/* every column read must still be there, with its type */
	for (size_t j = 0; j < p->src.ncols; j++) {
		int found = -1;

		for (int i = 0; i < ev->u.relation.ncols; i++)
			if (strcmp(ev->u.relation.cols[i].name, p->src.cols[j].name) == 0)
				found = i;
		if (found < 0) {
			snprintf(
				err, errlen,
				"source %s: column %s of %s was dropped or renamed at the source; the units still hold it. Decide what the units keep, update routing.json (\"columns\") and run syncctl resync; syncd stops this source rather than lose data",
				run->scfg->name, p->src.cols[j].name, p->rt->table);
			return -1;
		}
		if (ev->u.relation.cols[found].type_oid != p->src.cols[j].type_oid ||
		    ev->u.relation.cols[found].typmod != p->src.cols[j].typmod) {
			snprintf(
				err, errlen,
				"source %s: column %s of %s changed type (was %s); alter the units' copies to match and run syncctl resync; syncd stops this source rather than convert silently",
				run->scfg->name, p->src.cols[j].name, p->rt->table, p->src.cols[j].type);
			return -1;
		}
	}
	for (int i = 0; i < ev->u.relation.ncols; i++) {
		if (sync_col_index(&p->src, ev->u.relation.cols[i].name) >= 0 || p->rt->columns != NULL)
			continue;
		if (column_added(s, p, &ev->u.relation.cols[i], err, errlen) < 0)
			return -1;
	}
	free(m->col_of);
	m->ncols = ev->u.relation.ncols;
	m->col_of = calloc((size_t)m->ncols + 1, sizeof(int));
	if (m->col_of == NULL)
		goto oom;
	for (int i = 0; i < m->ncols; i++)
		m->col_of[i] = sync_col_index(&p->src, ev->u.relation.cols[i].name);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Begin, or the Begin half of a Stream Commit: the source transaction that
 * commits at final_lsn starts. */
static int txn_begin(struct stream *s, uint64_t final_lsn, int64_t commit_time, char *err, size_t errlen)
{
	/* a pending copy taken at or before this commit goes in first */
	if (s->pending.rs != NULL && final_lsn > s->pending.lsn && requests_apply(s, err, errlen) < 0)
		return -1;
	s->in_txn = true;
	s->txn_final = final_lsn;
	s->txn_time = commit_time;
	return 0;
}

/* Commit, or the Commit half of a Stream Commit. */
static void txn_end(struct stream *s, uint64_t commit_lsn, uint64_t end_lsn)
{
	s->in_txn = false;
	if (s->batch_open) {
		s->batch_txns++;
		s->batch_final = commit_lsn;
		s->batch_end = end_lsn;
	} else if (end_lsn > s->flushed && !s->hold) {
		/* nothing of it was for us: nothing pending */
		s->flushed = end_lsn;
	}
	if (end_lsn > s->received)
		s->received = end_lsn;
}

/* One message of a source transaction, applied (ordinary or read back). */
static int on_event(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	switch (ev->type) {
	case PGO_RELATION: return on_relation(s, ev, err, errlen);
	case PGO_INSERT:
	case PGO_UPDATE:
	case PGO_DELETE: return on_change(s, ev, err, errlen);
	case PGO_TRUNCATE: return on_truncate(s, ev, err, errlen);
	default: return 0; /* Origin, Type, Message: nothing to apply */
	}
}

/* ---- streamed transactions -------------------------------------------------- */

/* A message inside a Stream Start block: staged until the transaction's
 * end.  Relation messages are staged with the changes: a schema change made
 * inside a transaction that aborts must never reach the units, and one that
 * commits applies in commit order, before the changes that need it.  A
 * definition cut with a rolled-back subtransaction is not missed later:
 * after any Stream Abort the source sends the definitions again before the
 * transaction's next change of each table (pgoutput forgets, per
 * transaction, what it sent). */
static int stream_stage(struct stream *s, const struct pgo_event *ev, const uint8_t *data, size_t len,
			char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	char msg[900];

	if (ev->type != PGO_RELATION && ev->type != PGO_INSERT && ev->type != PGO_UPDATE &&
	    ev->type != PGO_DELETE && ev->type != PGO_TRUNCATE)
		return 0; /* Type, Message: nothing to apply */
	if (spill_append(s->spill, s->stream_xid, ev->xid, data, len, msg, sizeof(msg)) < 0) {
		s->spill_failed = true;
		snprintf(err, errlen, "source %s: %s", run->scfg->name, msg);
		return -1;
	}
	return 0;
}

/* Stream Commit: the staged messages read back and applied as one source
 * transaction committing at commit_lsn, into the batch like any other. */
static int stream_commit(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	uint64_t commit_lsn = ev->u.commit.commit_lsn, end_lsn = ev->u.commit.end_lsn;
	uint32_t xid = ev->xid;
	const uint8_t *m;
	long n, count = 0;
	char msg[900];

	if (spill_replay_begin(s->spill, xid, msg, sizeof(msg)) < 0) {
		s->spill_failed = true;
		snprintf(err, errlen, "source %s: %s", run->scfg->name, msg);
		return -1;
	}
	if (txn_begin(s, commit_lsn, ev->u.commit.commit_time, err, errlen) < 0)
		return -1;
	while ((n = spill_replay_next(s->spill, &m, msg, sizeof(msg))) > 0) {
		struct pgo_event e;

		if (pgo_parse_streamed(s->parser, m, (size_t)n, &e, err, errlen) < 0 ||
		    on_event(s, &e, err, errlen) < 0)
			return -1;
		count++;
	}
	if (n < 0) {
		s->spill_failed = true;
		snprintf(err, errlen, "source %s: %s", run->scfg->name, msg);
		return -1;
	}
	spill_replay_end(s->spill, xid);
	log_debug("source %s: streamed transaction %u committed: %ld staged messages applied",
		  run->scfg->name, xid, count);
	txn_end(s, commit_lsn, end_lsn);
	return 0;
}

/* Stream Start, Stop, Commit and Abort. */
static int on_stream(struct stream *s, const struct pgo_event *ev, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	char msg[900];
	int r;

	switch (ev->type) {
	case PGO_STREAM_START:
		s->stream_xid = ev->xid;
		r = spill_start(s->spill, ev->xid, ev->u.stream_start.first_segment, msg, sizeof(msg));
		break;
	case PGO_STREAM_STOP: r = spill_stop(s->spill, msg, sizeof(msg)); break;
	case PGO_STREAM_ABORT:
		r = spill_abort(s->spill, ev->xid, ev->u.stream_abort.subxid, msg, sizeof(msg));
		if (r == 0)
			log_debug("source %s: streamed transaction %u: %s aborted", run->scfg->name, ev->xid,
				  ev->u.stream_abort.subxid == ev->xid ? "the transaction"
								       : "a subtransaction");
		break;
	default: return stream_commit(s, ev, err, errlen);
	}
	if (r < 0) {
		s->spill_failed = true;
		snprintf(err, errlen, "source %s: %s", run->scfg->name, msg);
	}
	return r;
}

/* ---- the loop ------------------------------------------------------------------- */

static int on_message(struct stream *s, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	struct pgo_event ev;

	if (pgo_parse(s->parser, data, len, &ev, err, errlen) < 0)
		return -1;
	if (ev.has_xid)
		return stream_stage(s, &ev, data, len, err, errlen);
	switch (ev.type) {
	case PGO_BEGIN: return txn_begin(s, ev.u.begin.final_lsn, ev.u.begin.commit_time, err, errlen);
	case PGO_COMMIT: txn_end(s, ev.u.commit.commit_lsn, ev.u.commit.end_lsn); return 0;
	case PGO_STREAM_START:
	case PGO_STREAM_STOP:
	case PGO_STREAM_COMMIT:
	case PGO_STREAM_ABORT: return on_stream(s, &ev, err, errlen);
	default: return on_event(s, &ev, err, errlen);
	}
}

static int send_status(struct stream *s, bool reply, char *err, size_t errlen)
{
	/* with nothing pending, everything received is as good as flushed */
	if (!s->in_txn && !s->batch_open && s->received > s->flushed && !s->hold)
		s->flushed = s->received;
	return pg_source_stream_status(s->run.src, s->received, s->flushed, reply, err, errlen);
}

/* Units whose database is down: past unit_backlog_limit of kept WAL they
 * are detached (the slot moves on); a database that answers again brings its
 * waiting units back by a replay (a new session) or its detached ones by a
 * resync. */
static int units_maintain(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	long long lag;

	clock_gettime(CLOCK_MONOTONIC, &s->last_maint);
	if (s->hold) {
		if (pg_source_slot_lag(run->src, &lag, err, errlen) < 0)
			return -1;
		if (lag > run->cfg->unit_backlog_limit * 1024 * 1024) {
			char reason[200];

			snprintf(
				reason, sizeof(reason),
				"database unreachable while the source kept %lld MB of WAL (unit_backlog_limit = %ld MB)",
				lag / (1024 * 1024), run->cfg->unit_backlog_limit);
			for (size_t i = 0; i < run->nunits; i++) {
				if (!run->units[i].group->down || s->detached[i])
					continue;
				if (state_unit_detach(run->st, run->scfg->name, run->units[i].code, reason,
						      err, errlen) < 0)
					return -1;
				s->detached[i] = true;
				log_warn(
					"unit %05d detached from source %s: %s; it is resynced when its database returns",
					run->units[i].code, run->scfg->name, reason);
			}
			s->hold = false;
		}
	}
	for (size_t g = 0; g < run->ngroups; g++) {
		struct group *gr = &run->groups[g];
		char msg[1024];
		bool waiting = false;

		if (!gr->down || (gr->wait_ms > 0 && ms_since(&gr->tried) < gr->wait_ms))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &gr->tried);
		gr->ctx = sync_group_open(gr, msg, sizeof(msg));
		if (gr->ctx == NULL) {
			/* an attempt that timed out (packets dropped, not refused)
			 * held every unit up meanwhile: the next comes later */
			if (ms_since(&gr->tried) >= 1000)
				gr->wait_ms = gr->wait_ms == 0		? 4000
					      : gr->wait_ms * 2 > 60000 ? 60000
									: gr->wait_ms * 2;
			continue;
		}
		gr->down = false;
		gr->wait_ms = 0;
		for (size_t i = 0; i < run->nunits; i++)
			waiting |= run->units[i].group == gr && !s->detached[i];
		if (!waiting && resync_detached(s, gr, err, errlen) < 0)
			return -1;
		if (waiting) {
			snprintf(err, errlen, "tier %s answers again; replaying what its units missed",
				 gr->conninfo);
			return -1;
		}
		log_info("tier %s answers again; its detached units are being resynced", gr->conninfo);
	}
	return 0;
}

/* After a failed change: a lost connection is an outage to wait out;
 * anything else is the data or the schema, which a retry cannot mend. */
static bool outage(struct stream *s)
{
	struct sync_run *run = &s->run;

	if (!state_alive(run->st))
		return true;
	for (size_t g = 0; g < run->ngroups; g++)
		if (!run->groups[g].down && !run->groups[g].ops->alive(run->groups[g].ctx))
			return true;
	return false;
}

/* Shows this session's state to the daemon (one store per field). */
static void status_publish(struct stream *s)
{
	struct stream_status *st = s->opt->status;
	struct sync_run *run = &s->run;
	int down = 0, detached = 0;

	if (st == NULL)
		return;
	atomic_fetch_add(&st->beats, 1);
	if (ms_since(&s->last_pub) < 200)
		return; /* the rest five times a second: it walks every unit */
	clock_gettime(CLOCK_MONOTONIC, &s->last_pub);
	atomic_store(&st->streaming, true);
	atomic_store(&st->received, s->received);
	atomic_store(&st->flushed, s->flushed);
	atomic_store(&st->applied, s->applied);
	atomic_store(&st->pending_since, s->batch_open ? s->batch_time : 0);
	atomic_store(&st->inserts, s->n_insert);
	atomic_store(&st->updates, s->n_update);
	atomic_store(&st->deletes, s->n_delete);
	atomic_store(&st->batches, s->batches);
	atomic_store(&st->quarantined, s->quarantined);
	for (size_t i = 0; i < run->nunits; i++) {
		down += run->units[i].group->down && !s->detached[i];
		detached += s->detached[i];
		if (st->unit_lsn != NULL) {
			int k = routing_unit_index(run->rt, run->units[i].code);

			if (k >= 0 && (size_t)k < st->nunits)
				atomic_store(&st->unit_lsn[k], s->ckpt[i]);
		}
	}
	atomic_store(&st->units_down, down);
	atomic_store(&st->units_detached, detached);
}

static int stream_session(struct stream *s, uint64_t target, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	struct timespec last_status;
	int r;

	r = pg_source_stream_start(run->src, err, errlen);
	if (r != 0)
		return r; /* 1: slot busy, retry */
	log_info("source %s: streaming from slot %s", run->scfg->name, pg_source_slot_name(run->src));
	clock_gettime(CLOCK_MONOTONIC, &last_status);
	for (;;) {
		const uint8_t *buf;
		struct pgo_frame fr;
		long n;
		bool idle_batch = s->batch_open && !s->in_txn;

		status_publish(s);
		n = pg_source_stream_read(run->src, &buf, idle_batch ? 0 : 1000, err, errlen);
		if (n < 0)
			return -1;
		if (n > 0) {
			if (pgo_frame_parse(buf, (size_t)n, &fr, err, errlen) < 0)
				return -2;
			if (fr.kind == 'w') {
				/* a full disk or a lost connection is waited out */
				if (on_message(s, fr.payload, fr.payload_len, err, errlen) < 0)
					return s->spill_failed || outage(s) ? -1 : -2;
			} else if (fr.kind == 'k') {
				if (fr.wal_end > s->received && !s->in_txn)
					s->received = fr.wal_end;
				if (fr.reply_requested && send_status(s, false, err, errlen) < 0)
					return -1;
			}
		}
		/* a batch ends when it is big, old, or the stream has paused */
		if (s->batch_open && !s->in_txn &&
		    (n == 0 || s->batch_txns >= BATCH_MAX_TXNS ||
		     ms_since(&s->batch_start) >= BATCH_MAX_MS)) {
			if (stream_batch_commit(s, err, errlen) < 0)
				return -1;
			if (send_status(s, false, err, errlen) < 0)
				return -1;
			clock_gettime(CLOCK_MONOTONIC, &last_status);
		}
		/* idle, ask where the server is (a keepalive answers) and confirm what
		 * was received: WAL that holds nothing for the units is released within
		 * two status periods, not only when the server's timeout sends one */
		if (ms_since(&last_status) >= STATUS_EVERY_MS) {
			if (send_status(s, !s->in_txn && !s->batch_open, err, errlen) < 0)
				return -1;
			clock_gettime(CLOCK_MONOTONIC, &last_status);
		}
		if (!s->in_txn && s->pending.rs != NULL && s->received >= s->pending.lsn &&
		    requests_apply(s, err, errlen) < 0)
			return -1;
		/* idle and short of the copy's LSN: ask the server where it is */
		if (!s->in_txn && s->pending.rs != NULL && n == 0 && send_status(s, true, err, errlen) < 0)
			return -1;
		if (!s->in_txn && !s->batch_open && ms_since(&s->last_maint) >= 1000 &&
		    units_maintain(s, err, errlen) < 0)
			return -1;
		if (!s->in_txn && !s->batch_open && s->pending.rs == NULL &&
		    ms_since(&s->last_poll) >= 1000 && requests_poll(s, err, errlen) < 0)
			return -1;
		if (!s->in_txn && !s->batch_open && s->pending.rs == NULL && s->opt->routing != NULL &&
		    atomic_load(s->opt->routing) != run->rt) {
			/* a reload brought another routing: plan again from here */
			if (send_status(s, false, err, errlen) < 0)
				return -1;
			return 3;
		}
		if (!s->in_txn && !s->batch_open && s->pending.rs == NULL) {
			bool done = s->opt->once && s->received >= target && !s->own_requests;

			if (done || (s->opt->stop != NULL && *s->opt->stop)) {
				if (send_status(s, false, err, errlen) < 0)
					return -1;
				return 0;
			}
		}
	}
}

static void stream_free(struct stream *s)
{
	requests_clear(s);
	for (size_t i = 0; i < s->nrels; i++)
		free(s->rels[i].col_of);
	free(s->rels);
	free(s->ckpt);
	free(s->touched);
	free(s->detached);
	free(s->oldr.v);
	free(s->newr.v);
	free(s->outr.v);
	buf_free(&s->oldr.store);
	buf_free(&s->newr.store);
	buf_free(&s->outr.store);
	buf_free(&s->keytext);
	pgo_parser_free(s->parser);
	spill_free(s->spill);
	sync_run_free(&s->run);
}

/* One connection of everything, from the slot's confirmed position. */
static int stream_once(const struct config *cfg, const struct routing *rt, struct state *st,
		       const struct config_source *src, const struct stream_options *opt,
		       struct stream_result *res, char *err, size_t errlen)
{
	struct stream s;
	size_t maxcols = 0;
	uint64_t target = 0;
	int r = -1;

	memset(&s, 0, sizeof(s));
	s.run.cfg = cfg;
	s.run.rt = rt;
	s.run.scfg = src;
	s.run.st = st;
	s.opt = opt;
	s.parser = pgo_parser_new(2);
	if (s.parser == NULL)
		goto oom;
	s.spill = spill_new(src->name, err, errlen);
	if (s.spill == NULL)
		goto out;
	/* the targets first: the plan is what the units hold (the snapshot made them) */
	s.run.tolerate_down = true;
	if (sync_targets_open(&s.run, false, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < s.run.nunits && s.run.reference == NULL; i++)
		if (!s.run.units[i].group->down)
			s.run.reference = &s.run.units[i];
	if (sync_plan(&s.run, err, errlen) < 0 || requests_start(&s, err, errlen) < 0)
		goto out;
	for (size_t t = 0; t < s.run.ntables; t++)
		if (s.run.tables[t].src.ncols > maxcols)
			maxcols = s.run.tables[t].src.ncols;
	s.ckpt = calloc(s.run.nunits, sizeof(*s.ckpt));
	s.touched = calloc(s.run.nunits, sizeof(*s.touched));
	s.detached = calloc(s.run.nunits, sizeof(*s.detached));
	if (s.ckpt == NULL || s.touched == NULL || s.detached == NULL || row_init(&s.oldr, maxcols) < 0 ||
	    row_init(&s.newr, maxcols) < 0 || row_init(&s.outr, maxcols) < 0)
		goto oom;
	if (checkpoints_load(&s, err, errlen) < 0)
		goto out;
	/* what the slot already has is flushed: a session that starts with a
	 * unit down holds it there, and the lag is counted from it */
	if (pg_source_current_lsn(s.run.src, &target, err, errlen) < 0 ||
	    pg_source_slot_confirmed(s.run.src, &s.flushed, err, errlen) < 0)
		goto out;
	s.live_target = target;
	r = stream_session(&s, target, err, errlen);
	if (r < 0)
		stream_batch_rollback(&s);
	res->applied += s.applied;
	res->quarantined += s.quarantined;
	lsn_text(s.flushed, res->position, sizeof(res->position));
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	stream_free(&s);
	return r;
}

int stream_run(const struct config *cfg, const struct routing *rt, const struct config_source *src,
	       const struct stream_options *opt, struct stream_result *out, char *err, size_t errlen)
{
	struct state *st = NULL;
	bool first = true;
	int backoff_ms = 250;
	int r = 0;

	memset(out, 0, sizeof(*out));

	for (;;) {
		struct snapshot_result res;

		if (opt->stop != NULL && *opt->stop) {
			r = 0;
			break;
		}
		if (opt->routing != NULL)
			rt = atomic_load(opt->routing);
		r = -1;
		if (st == NULL)
			st = state_open(cfg->state_conninfo, cfg->state_password, err, errlen);
		if (st != NULL && snapshot_run(cfg, rt, st, src, &res, err, errlen) == 0) {
			if (first)
				out->snap = res;
			first = false;
			if (!res.already_done)
				log_info("source %s: snapshot complete at %s: %lld rows, %lld quarantined",
					 src->name, res.snap.lsn, res.snap.rows_old + res.snap.rows_new,
					 res.snap.quarantined);
			r = stream_once(cfg, rt, st, src, opt, out, err, errlen);
			if (r == 0)
				break;
			if (r == 3) {
				log_info("source %s: the routing was reloaded; planning again", src->name);
				continue;
			}
			if (r == -2) { /* the stream itself is wrong: retrying cannot help */
				r = -1;
				break;
			}
			if (r < 0 && fence_refused(err)) /* the lease's thread ends the process */
				log_err("source %s: %s: another instance is active now; nothing more is "
					"written from here",
					src->name, err);
		}
		if (r == 1)
			log_info("source %s: slot still held by an earlier connection; waiting", src->name);
		else if (opt->once)
			break; /* a one-shot run reports a fault instead of waiting it out */
		else
			log_warn("%s; retrying in %d ms", err, backoff_ms);
		state_free(st);
		st = NULL;
		if (opt->status != NULL) {
			atomic_store(&opt->status->streaming, false);
			atomic_fetch_add(&opt->status->retries, 1);
		}
		for (int waited = 0; waited < backoff_ms && !(opt->stop != NULL && *opt->stop);
		     waited += 50) {
			if (opt->status != NULL)
				atomic_fetch_add(&opt->status->beats, 1);
			usleep(50000);
		}
		backoff_ms = backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS + 1 : backoff_ms * 2;
	}
	state_free(st);
	return r;
}
