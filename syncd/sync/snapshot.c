/* snapshot.c — one source's initial copy: slot decision, every table read
 * once by COPY, rows routed to per-unit buffers, then the one commit path. */
#include "syncd/sync/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "connectors/connector.h"
#include "connectors/copytext.h"
#include "connectors/pg_source.h"
#include "syncd/sync/apply.h"
#include "syncd/sync/plan.h"
#include "syncd/sync/pull.h"
#include "syncd/sync/row.h"

static int unit_flush(struct unit_dest *u, const struct plan_table *p, char *err, size_t errlen)
{
	char msg[1024];

	if (u->rows.len == 0)
		return 0;
	if (u->group->ops->load(u->group->ctx, u->schema, &p->out, u->rows.data, u->rows.len, msg,
				sizeof(msg)) < 0) {
		snprintf(err, errlen, "unit %05d: loading %s.%s: %s", u->code, u->schema, p->out.name, msg);
		return -1;
	}
	buf_reset(&u->rows);
	return 0;
}

/* One COPY field -> its value (once): "\\N" is NULL, a plain field is used
 * in place, another is unescaped into store. */
static int field_decode(struct buf *store, const struct copy_field *f, struct connector_value *v)
{
	size_t start = store->len;

	if (v->kind != CV_ABSENT)
		return 0;
	v->kind = copytext_is_null(f) ? CV_NULL : CV_VALUE;
	v->p = f->p;
	v->len = f->len;
	if (v->kind == CV_NULL || copytext_is_plain(f))
		return 0;
	if (copytext_unescape(f, store) < 0)
		return -1;
	v->p = store->data + start;
	v->len = store->len - start;
	return 0;
}

/* COPY fields -> values (v: p->src.ncols): the routing, key and masked
 * columns, or with all every column; the rest stay CV_ABSENT.  run->scratch
 * is reserved for the whole row first, so no value moves. */
static int fields_decode(struct sync_run *run, const struct plan_table *p, const struct copy_field *f,
			 size_t rowlen, bool all, struct connector_value *v)
{
	struct buf *store = &run->scratch;
	int r = 0;

	buf_reset(store);
	if (buf_reserve(store, rowlen + p->src.ncols + 1) < 0)
		return -1;
	for (size_t i = 0; i < p->src.ncols; i++)
		v[i].kind = CV_ABSENT;
	r |= field_decode(store, &f[p->unit_idx], &v[p->unit_idx]);
	if (p->date_idx >= 0)
		r |= field_decode(store, &f[p->date_idx], &v[p->date_idx]);
	if (p->split_idx >= 0)
		r |= field_decode(store, &f[p->split_idx], &v[p->split_idx]);
	for (int k = 0; k < p->nkey; k++)
		r |= field_decode(store, &f[p->key_idx[k]], &v[p->key_idx[k]]);
	for (size_t i = 0; i < p->src.ncols; i++)
		if (all || (i < p->nout && p->mask_on[i]))
			r |= field_decode(store, &f[i], &v[i]);
	return r;
}

/* Re-assembles a row in COPY text: masked columns from m (escaped again),
 * the others as read; extra routing columns left out. */
static int row_copytext(const struct plan_table *p, const struct copy_field *f,
			const struct connector_value *m, struct buf *out)
{
	for (size_t i = 0; i < p->nout; i++) {
		if (i > 0 && buf_append(out, "\t", 1) < 0)
			return -1;
		if (!p->mask_on[i] || copytext_is_null(&f[i])) {
			if (buf_append(out, f[i].p, f[i].len) < 0)
				return -1;
		} else if (m[i].kind != CV_VALUE) {
			if (buf_puts(out, "\\N") < 0)
				return -1;
		} else if (copytext_escape(m[i].p, m[i].len, out) < 0) {
			return -1;
		}
	}
	return buf_append(out, "\n", 1);
}

/* Reads table p once from src (inside its snapshot) and sends each row to
 * its unit — only to units with units_on[i] (NULL: all), and to the
 * quarantine only when quarantine is set. */
int snapshot_copy_table(struct sync_run *run, struct pg_source *src, struct plan_table *p,
			const bool *units_on, bool quarantine, char *err, size_t errlen)
{
	struct copy_field *fields = calloc(p->src.ncols + 1, sizeof(*fields));
	struct connector_value *v = calloc(2 * (p->src.ncols + 1), sizeof(*v));
	struct connector_value *masked;
	long long rows = 0;
	const char *row;
	long len;
	int r = -1;

	if (fields == NULL || v == NULL)
		goto oom;
	masked = v + p->src.ncols + 1; /* the second half: a row's masked values */
	if (pg_source_copy_begin(src, &p->src, err, errlen) < 0)
		goto out;
	while ((len = pg_source_copy_next(src, &row, err, errlen)) > 0) {
		enum routing_era era = ROUTING_ERA_NEW;
		enum router_reason why;
		int nf = copytext_split(row, (size_t)len, fields, (int)p->src.ncols);
		int idx;
		struct unit_dest *u;

		if (nf != (int)p->src.ncols) {
			snprintf(err, errlen, "source %s: %s: a COPY row has %d fields, expected %zu",
				 run->scfg->name, p->rt->table, nf, p->src.ncols);
			goto out;
		}
		rows++;
		if (fields_decode(run, p, fields, (size_t)len, false, v) < 0)
			goto oom;
		idx = row_route(run, p, v, &run->keybuf, &why, &era);
		if (idx == ROW_NOMEM)
			goto oom;
		if (idx == ROW_QUARANTINE) {
			if (quarantine &&
			    (fields_decode(run, p, fields, (size_t)len, true, v) < 0 ||
			     row_quarantine(run, p, v, why, run->lsn, &run->keybuf, err, errlen) < 0))
				goto out;
			continue;
		}
		if (units_on != NULL && !units_on[idx])
			continue;
		if (era == ROUTING_ERA_OLD)
			run->rows_old++;
		else
			run->rows_new++;
		u = &run->units[idx];
		if (p->rebuild) {
			if (row_mask(p, v, masked, &run->maskbuf) < 0 ||
			    row_copytext(p, fields, masked, &u->rows) < 0)
				goto oom;
		} else if (buf_append(&u->rows, row, (size_t)len) < 0) {
			goto oom;
		}
		if (u->rows.len >= run->flush_at && unit_flush(u, p, err, errlen) < 0)
			goto out;
	}
	if (len < 0)
		goto out;
	for (size_t i = 0; i < run->nunits; i++)
		if (unit_flush(&run->units[i], p, err, errlen) < 0)
			goto out;
	log_info("source %s: %s: %lld rows read", run->scfg->name, p->rt->table, rows);
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(v);
	free(fields);
	return r;
}

/* Decides whether to copy: a completed marker with its slot means done; a
 * slot without a marker is a crash mid-snapshot; a marker without a slot
 * (or a lost slot) means the stream cannot resume, so copy again. */
static int slot_decide(struct sync_run *run, struct snapshot_result *res, char *err, size_t errlen)
{
	enum pg_slot_state ss = pg_source_slot_state(run->src, err, errlen);
	int marker = state_snapshot_get(run->st, run->scfg->name, &res->snap, err, errlen);
	const char *slot = pg_source_slot_name(run->src);

	if ((int)ss < 0 || marker < 0)
		return -1;
	if (ss == PG_SLOT_PRESENT && marker == 1) {
		res->already_done = true;
		return 0;
	}
	if (ss == PG_SLOT_PRESENT)
		log_warn(
			"source %s: slot %s exists without a completed snapshot (an earlier run stopped mid-snapshot); dropping it and copying again",
			run->scfg->name, slot);
	else if (ss == PG_SLOT_LOST)
		log_warn(
			"source %s: slot %s is lost (wal_status = lost: the WAL it needed was removed); taking a new snapshot",
			run->scfg->name, slot);
	else if (marker == 1)
		log_warn(
			"source %s: slot %s is missing although a snapshot completed (failover to a server without it?); taking a new snapshot",
			run->scfg->name, slot);
	if (ss != PG_SLOT_MISSING && pg_source_slot_drop(run->src, SLOT_WAIT_S, err, errlen) < 0)
		return -1;
	if (marker == 1 && state_snapshot_clear(run->st, run->scfg->name, err, errlen) < 0)
		return -1;
	return 0;
}

int snapshot_check_source(const struct config *cfg, const struct routing *rt, const struct config_source *src,
			  char *err, size_t errlen)
{
	struct sync_run run = {.cfg = cfg, .rt = rt, .scfg = src};
	int r;

	if (src->http) /* an API: its table is checked against its fields, not a catalog */
		return pull_check_source(cfg, rt, src, err, errlen);
	r = sync_plan(&run, err, errlen);
	sync_run_free(&run);
	return r;
}

int snapshot_run(const struct config *cfg, const struct routing *rt, struct state *st,
		 const struct config_source *src, struct snapshot_result *res, char *err, size_t errlen)
{
	struct sync_run run = {.cfg = cfg, .rt = rt, .scfg = src, .st = st};
	struct timespec t0, t1;
	bool quarantine_open = false;
	int r = -1;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run.flush_at = (size_t)cfg->copy_buffer_kb * 1024;
	if (sync_plan(&run, err, errlen) < 0 || slot_decide(&run, res, err, errlen) < 0)
		goto out;
	log_debug("source %s: planned %zu tables", src->name, run.ntables);
	if (res->already_done) {
		r = 0;
		goto out;
	}
	if (sync_publication_ensure(&run, false, NULL, err, errlen) < 0)
		goto out;
	/* the slot first: creating it waits for every transaction running in
	 * the source's cluster, which may hold the tier or the state DB too */
	if (pg_source_snapshot_begin(run.src, false, run.lsn, sizeof(run.lsn), err, errlen) < 0)
		goto out;
	log_debug("source %s: slot %s created at %s", src->name, pg_source_slot_name(run.src), run.lsn);
	if (sync_targets_open(&run, true, err, errlen) < 0 ||
	    sync_targets_prepare(&run, true, err, errlen) < 0)
		goto out;
	log_debug("source %s: %zu unit copies prepared", src->name, run.nunits);
	if (state_quarantine_begin(st, src->name, true, err, errlen) < 0)
		goto out;
	quarantine_open = true;
	log_info("source %s: copying %zu tables into %zu units from %s", src->name, run.ntables, run.nunits,
		 run.lsn);
	for (size_t i = 0; i < run.ntables; i++)
		if (snapshot_copy_table(&run, run.src, &run.tables[i], NULL, true, err, errlen) < 0)
			goto out;
	if (apply_commit(&run, NULL, run.lsn, true, err, errlen) < 0)
		goto out;
	log_debug("source %s: every unit committed", src->name);
	quarantine_open = false;
	if (pg_source_snapshot_end(run.src, err, errlen) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(res->snap.slot, sizeof(res->snap.slot), "%s", pg_source_slot_name(run.src));
	snprintf(res->snap.lsn, sizeof(res->snap.lsn), "%s", run.lsn);
	res->snap.rows_old = run.rows_old;
	res->snap.rows_new = run.rows_new;
	res->snap.quarantined = run.quarantined;
	res->snap.units = (int)run.nunits;
	res->snap.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (int why = 1; why < ROUTER_REASON_COUNT; why++)
		if (run.per_reason[why] > 0)
			log_warn("source %s: %lld rows quarantined: %s", src->name, run.per_reason[why],
				 router_reason_name((enum router_reason)why));
	/* the marker last: only now is every unit's copy committed */
	if (state_snapshot_complete(st, src->name, &res->snap, err, errlen) < 0 ||
	    state_policy_digest(st, src->name, routing_digest(rt), true, err, errlen) < 0)
		goto out;
	r = 0;
out:
	if (quarantine_open)
		state_quarantine_rollback(st);
	sync_run_free(&run);
	return r;
}
