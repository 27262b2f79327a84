/* snapshot.c — see snapshot.h. */
#include "syncd/sync/snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "connectors/connector.h"
#include "connectors/copytext.h"
#include "connectors/pg_source.h"
#include "syncd/sync/plan.h"

static int unit_flush(struct sync_run *run, struct unit_dest *u, const struct plan_table *p, char *err,
		      size_t errlen)
{
	char msg[1024];

	if (u->rows.len == 0)
		return 0;
	if (run->ops->load(u->group->ctx, u->schema, &p->out, u->rows.data, u->rows.len, msg, sizeof(msg)) <
	    0) {
		snprintf(err, errlen, "unit %05d: loading %s.%s: %s", u->code, u->schema, p->out.name, msg);
		return -1;
	}
	buf_reset(&u->rows);
	return 0;
}

/* The value of field i for routing: plain fields are used in place. */
static const char *field_value(struct sync_run *run, int slot, const struct copy_field *f, size_t *len)
{
	struct buf *b = &run->fieldbuf[slot];

	if (copytext_is_null(f))
		return NULL;
	if (copytext_is_plain(f)) {
		*len = f->len;
		return f->p;
	}
	buf_reset(b);
	if (copytext_unescape(f, b) < 0)
		return NULL;
	*len = b->len;
	return b->data;
}

static int key_text(struct sync_run *run, const struct plan_table *p, const struct copy_field *fields)
{
	buf_reset(&run->keybuf);
	for (int k = 0; k < p->nkey; k++) {
		const struct copy_field *f = &fields[p->key_idx[k]];

		if ((k > 0 && buf_puts(&run->keybuf, ",") < 0) ||
		    (!copytext_is_null(f) && copytext_unescape(f, &run->keybuf) < 0))
			return -1;
	}
	return 0;
}

static int quarantine_row(struct sync_run *run, const struct plan_table *p, const struct copy_field *fields,
			  enum router_reason why, char *err, size_t errlen)
{
	json_t *obj = json_object();
	struct buf *v = &run->scratch;
	char *js = NULL;
	char *unit_value = NULL;
	int r = -1;

	if (obj == NULL || key_text(run, p, fields) < 0)
		goto oom;
	for (size_t i = 0; i < p->src.ncols; i++) {
		json_t *jv;

		if (copytext_is_null(&fields[i])) {
			jv = json_null();
		} else {
			buf_reset(v);
			if (copytext_unescape(&fields[i], v) < 0)
				goto oom;
			/* bytea and odd encodings: jansson needs valid UTF-8 */
			jv = json_stringn_nocheck(v->data, v->len);
		}
		if (jv == NULL || json_object_set_new(obj, p->src.cols[i].name, jv) < 0)
			goto oom;
	}
	js = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (js == NULL)
		goto oom;
	if (!copytext_is_null(&fields[p->unit_idx])) {
		buf_reset(v);
		if (copytext_unescape(&fields[p->unit_idx], v) < 0 || (unit_value = strdup(v->data)) == NULL)
			goto oom;
	}
	r = state_quarantine_add(run->st, run->scfg->name, p->rt->table, run->keybuf.data, unit_value,
				 router_reason_name(why), js, run->lsn, err, errlen);
	run->quarantined++;
	run->per_reason[why]++;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(unit_value);
	free(js);
	json_decref(obj);
	return r;
}

/* Re-assembles a row: masked columns masked, extra routing columns left out. */
static int row_rebuild(struct sync_run *run, const struct plan_table *p, const struct copy_field *fields,
		       struct buf *out)
{
	struct buf *v = &run->scratch;

	for (size_t i = 0; i < p->nout; i++) {
		const struct copy_field *f = &fields[i];

		if (i > 0 && buf_append(out, "\t", 1) < 0)
			return -1;
		if (!p->mask_on[i] || copytext_is_null(f)) {
			if (buf_append(out, f->p, f->len) < 0)
				return -1;
			continue;
		}
		buf_reset(v);
		if (copytext_unescape(f, v) < 0 || buf_reserve(v, v->len * 2 + 80) < 0)
			return -1;
		{
			char *masked = v->data + v->len + 1;
			long n = mask_apply(p->mask[i], v->data, v->len, masked, v->cap - v->len - 1);

			if (n < 0) {
				if (buf_puts(out, "\\N") < 0)
					return -1;
			} else if (copytext_escape(masked, (size_t)n, out) < 0) {
				return -1;
			}
		}
	}
	return buf_append(out, "\n", 1);
}

/* Reads table p once from src (inside its snapshot) and sends each row to
 * its unit — only to units with units_on[i] (NULL: all), and to the
 * quarantine only when quarantine is set. */
static int copy_table(struct sync_run *run, struct pg_source *src, struct plan_table *p, const bool *units_on,
		      bool quarantine, char *err, size_t errlen)
{
	struct copy_field *fields = calloc(p->src.ncols + 1, sizeof(*fields));
	long long rows = 0;
	const char *row;
	long len;
	int r = -1;

	if (fields == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pg_source_copy_begin(src, &p->src, err, errlen) < 0)
		goto out;
	while ((len = pg_source_copy_next(src, &row, err, errlen)) > 0) {
		struct router_row rr = {0};
		enum routing_era era = ROUTING_ERA_NEW;
		enum router_reason why;
		int nf = copytext_split(row, (size_t)len, fields, (int)p->src.ncols);
		int code = 0, idx;
		struct unit_dest *u;

		if (nf != (int)p->src.ncols) {
			snprintf(err, errlen, "source %s: %s: a COPY row has %d fields, expected %zu",
				 run->scfg->name, p->rt->table, nf, p->src.ncols);
			goto out;
		}
		rows++;
		rr.unit = field_value(run, 0, &fields[p->unit_idx], &rr.unit_len);
		if (p->date_idx >= 0)
			rr.date = field_value(run, 1, &fields[p->date_idx], &rr.date_len);
		if (p->split_idx >= 0)
			rr.split = field_value(run, 2, &fields[p->split_idx], &rr.split_len);
		if (router_needs_key(run->rt, &rr)) {
			if (key_text(run, p, fields) < 0)
				goto oom;
			rr.key = run->keybuf.data;
			rr.key_len = run->keybuf.len;
		}
		why = router_route(run->rt, p->rt, &rr, &code, &era);
		if (why != ROUTER_OK) {
			if (quarantine && quarantine_row(run, p, fields, why, err, errlen) < 0)
				goto out;
			continue;
		}
		idx = routing_unit_index(run->rt, code);
		if (units_on != NULL && !units_on[idx])
			continue;
		if (era == ROUTING_ERA_OLD)
			run->rows_old++;
		else
			run->rows_new++;
		u = &run->units[idx];
		if (p->rebuild) {
			if (row_rebuild(run, p, fields, &u->rows) < 0)
				goto oom;
		} else if (buf_append(&u->rows, row, (size_t)len) < 0) {
			goto oom;
		}
		if (u->rows.len >= run->flush_at && unit_flush(run, u, p, err, errlen) < 0)
			goto out;
	}
	if (len < 0)
		goto out;
	for (size_t i = 0; i < run->nunits; i++)
		if (unit_flush(run, &run->units[i], p, err, errlen) < 0)
			goto out;
	log_info("source %s: %s: %lld rows read", run->scfg->name, p->rt->table, rows);
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(fields);
	return r;
}

static int commit_all(struct sync_run *run, char *err, size_t errlen)
{
	char msg[1024];

	for (size_t i = 0; i < run->nunits; i++) {
		struct unit_dest *u = &run->units[i];

		if (run->ops->checkpoint(u->group->ctx, u->schema, run->scfg->name, u->code, run->lsn, msg,
					 sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", u->code, msg);
			return -1;
		}
	}
	for (size_t g = 0; g < run->ngroups; g++) {
		if (run->ops->commit(run->groups[g].ctx, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "tier %s: commit failed: %s", run->groups[g].conninfo, msg);
			return -1;
		}
		run->groups[g].in_tx = false;
	}
	return state_quarantine_commit(run->st, run->scfg->name, run->lsn, err, errlen);
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
	int r = sync_plan(&run, err, errlen);

	sync_run_free(&run);
	return r;
}

int snapshot_run(const struct config *cfg, const struct routing *rt, struct state *st,
		 const struct config_source *src, struct snapshot_result *res, char *err, size_t errlen)
{
	struct sync_run run = {.cfg = cfg, .rt = rt, .scfg = src, .st = st, .ops = &pg_target_ops};
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
		if (copy_table(&run, run.src, &run.tables[i], NULL, true, err, errlen) < 0)
			goto out;
	if (commit_all(&run, err, errlen) < 0)
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

/* ---- resync while streaming ------------------------------------------------ */

struct resync {
	struct pg_source *src;
};

struct resync *resync_begin(struct sync_run *run, char *lsn, size_t lsnlen, char *err, size_t errlen)
{
	struct resync *rs = calloc(1, sizeof(*rs));

	if (rs == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rs->src = pg_source_open(run->scfg->name, run->scfg->conninfo, run->scfg->password, err, errlen);
	if (rs->src == NULL || pg_source_snapshot_begin(rs->src, true, lsn, lsnlen, err, errlen) < 0) {
		resync_free(rs);
		return NULL;
	}
	return rs;
}

void resync_free(struct resync *rs)
{
	if (rs == NULL)
		return;
	pg_source_free(rs->src);
	free(rs);
}

int resync_apply(struct sync_run *run, struct resync *rs, const char *lsn, const bool *units_on,
		 const char *table, bool quarantine, char *err, size_t errlen)
{
	struct connector_table *tabs = calloc(run->ntables + 1, sizeof(*tabs));
	const char **schemas = calloc(run->nunits + 1, sizeof(*schemas));
	size_t ntabs = 0;
	char msg[1024];
	int r = -1;

	if (tabs == NULL || schemas == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t t = 0; t < run->ntables; t++)
		if (table == NULL || strcmp(run->tables[t].rt->table, table) == 0)
			tabs[ntabs++] = run->tables[t].out;
	if (ntabs == 0) {
		snprintf(err, errlen, "source %s routes no table %s", run->scfg->name, table);
		goto out;
	}
	/* each group: one transaction emptying and refilling its chosen units */
	for (size_t g = 0; g < run->ngroups; g++) {
		size_t n = 0;

		for (size_t i = 0; i < run->nunits; i++)
			if (run->units[i].group == &run->groups[g] && units_on[i])
				schemas[n++] = run->units[i].schema;
		if (n == 0)
			continue;
		if (run->ops->begin(run->groups[g].ctx, msg, sizeof(msg)) < 0 ||
		    run->ops->prepare(run->groups[g].ctx, schemas, n, tabs, ntabs, true, msg, sizeof(msg)) <
			    0) {
			snprintf(err, errlen, "tier %s: %s", run->groups[g].conninfo, msg);
			goto out;
		}
		run->groups[g].in_tx = true;
	}
	if (quarantine) {
		if (state_quarantine_begin(run->st, run->scfg->name, false, err, errlen) < 0)
			goto out;
		for (size_t t = 0; t < run->ntables; t++)
			if ((table == NULL || strcmp(run->tables[t].rt->table, table) == 0) &&
			    state_quarantine_truncate(run->st, run->scfg->name, run->tables[t].rt->table, err,
						      errlen) < 0)
				goto out;
	}
	snprintf(run->lsn, sizeof(run->lsn), "%s", lsn);
	for (size_t t = 0; t < run->ntables; t++)
		if ((table == NULL || strcmp(run->tables[t].rt->table, table) == 0) &&
		    copy_table(run, rs->src, &run->tables[t], units_on, quarantine, err, errlen) < 0)
			goto out;
	for (size_t i = 0; i < run->nunits; i++) {
		struct unit_dest *u = &run->units[i];

		if (units_on[i] && run->ops->checkpoint(u->group->ctx, u->schema, run->scfg->name, u->code,
							lsn, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", u->code, msg);
			goto out;
		}
	}
	for (size_t g = 0; g < run->ngroups; g++)
		if (run->groups[g].in_tx) {
			if (run->ops->commit(run->groups[g].ctx, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "tier %s: commit: %s", run->groups[g].conninfo, msg);
				goto out;
			}
			run->groups[g].in_tx = false;
		}
	if (quarantine && state_quarantine_commit(run->st, run->scfg->name, lsn, err, errlen) < 0)
		goto out;
	r = 0;
out:
	if (r < 0) {
		for (size_t g = 0; g < run->ngroups; g++)
			if (run->groups[g].in_tx) {
				run->ops->rollback(run->groups[g].ctx);
				run->groups[g].in_tx = false;
			}
		if (quarantine)
			state_quarantine_rollback(run->st);
	}
	free(tabs);
	free(schemas);
	return r;
}
