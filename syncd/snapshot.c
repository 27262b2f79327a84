/* snapshot.c — see snapshot.h. */
#include "snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../connectors/connector.h"
#include "../connectors/copytext.h"
#include "../connectors/pg_source.h"

#define MAX_KEY_COLS 8
#define SLOT_WAIT_S  30

/* One routed table: what the source has, what the units get, and where the
 * routing inputs sit in each COPY row. */
struct plan_table {
	const struct routing_table *rt;
	struct pg_source_table src; /* columns read: the output ones, then extras */
	struct connector_table out; /* the first nout columns of src */
	size_t nout;
	int unit_idx, date_idx, split_idx;
	int key_idx[MAX_KEY_COLS];
	int nkey;
	enum mask_kind *mask; /* per output column; mask_on says which apply */
	bool *mask_on;
	bool rebuild; /* masks or extra columns: rows are re-assembled */
};

struct group {
	char *conninfo;
	void *ctx;
	bool in_tx;
};

struct unit_dest {
	int code;
	char *schema;
	struct group *group;
	struct buf rows;
};

struct run {
	const struct config *cfg;
	const struct routing *rt;
	const struct config_source *scfg;
	struct pg_source *src;
	struct state *st;
	const struct connector_ops *ops;
	struct plan_table *tables;
	size_t ntables;
	struct group *groups;
	size_t ngroups;
	struct unit_dest *units;
	size_t nunits;
	char lsn[32];
	long long rows_old, rows_new, quarantined;
	long long per_reason[ROUTER_REASON_COUNT];
	size_t flush_at;
	struct buf scratch, keybuf, fieldbuf[3];
};

static int col_index(const struct pg_source_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Reorders the described columns: output ones first (in source order when
 * "*"), then any routing column the units do not receive. */
static int plan_columns(struct plan_table *p, struct pg_source_table *all, char *err, size_t errlen)
{
	const struct routing_table *rt = p->rt;
	const char *extra[2] = {rt->date_column, rt->split_column};
	struct connector_column *cols = calloc(all->ncols, sizeof(*cols));
	bool *taken = calloc(all->ncols, sizeof(bool));
	size_t n = 0;

	if (cols == NULL || taken == NULL)
		goto oom;
	if (rt->columns == NULL) {
		for (size_t i = 0; i < all->ncols; i++) {
			cols[n++] = all->cols[i];
			taken[i] = true;
		}
	} else {
		for (size_t k = 0; k < rt->ncolumns; k++) {
			int i = col_index(all, rt->columns[k]);

			if (i < 0) {
				snprintf(err, errlen,
					 "routing.json: %s: column \"%s\" does not exist in source %s",
					 rt->table, rt->columns[k], rt->source);
				goto fail;
			}
			if (taken[i])
				continue;
			cols[n++] = all->cols[i];
			taken[i] = true;
		}
		/* the target's primary key must come along, or rows cannot be matched later */
		for (size_t i = 0; i < all->ncols; i++)
			if (all->cols[i].key_pos > 0 && !taken[i]) {
				snprintf(
					err, errlen,
					"routing.json: %s: \"columns\" must include primary key column \"%s\"",
					rt->table, all->cols[i].name);
				goto fail;
			}
	}
	p->nout = n;
	for (size_t e = 0; e < 2; e++) {
		int i;

		if (extra[e] == NULL)
			continue;
		i = col_index(all, extra[e]);
		if (i < 0) {
			snprintf(err, errlen,
				 "routing.json: %s: %s column \"%s\" does not exist in source %s", rt->table,
				 e == 0 ? "by_date" : "split", extra[e], rt->source);
			goto fail;
		}
		if (!taken[i]) {
			cols[n++] = all->cols[i];
			taken[i] = true;
		}
	}
	/* columns not sent are freed here; the kept ones move to p->src */
	for (size_t i = 0; i < all->ncols; i++)
		if (!taken[i]) {
			free(all->cols[i].name);
			free(all->cols[i].type);
		}
	free(all->cols);
	free(taken);
	p->src = *all;
	p->src.cols = cols;
	p->src.ncols = n;
	memset(all, 0, sizeof(*all));
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(cols);
	free(taken);
	return -1;
}

static int plan_table(struct run *run, const struct routing_table *rt, struct plan_table *p, char *err,
		      size_t errlen)
{
	struct pg_source_table all;
	const char *routing_cols[3];
	size_t nrc = 0;
	char msg[1024];

	p->rt = rt;
	if (pg_source_describe(run->src, rt->schema, rt->name, &all, err, errlen) < 0)
		return -1;
	if (col_index(&all, rt->unit_column) < 0) {
		snprintf(err, errlen, "routing.json: %s: unit_column \"%s\" does not exist in source %s",
			 rt->table, rt->unit_column, rt->source);
		pg_source_table_clear(&all);
		return -1;
	}
	routing_cols[nrc++] = rt->unit_column;
	if (rt->date_column != NULL)
		routing_cols[nrc++] = rt->date_column;
	if (rt->split_column != NULL)
		routing_cols[nrc++] = rt->split_column;
	if (pg_source_check_identity(&all, routing_cols, nrc, rt->unit_column, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "source %s: %s", rt->source, msg);
		pg_source_table_clear(&all);
		return -1;
	}
	if (plan_columns(p, &all, err, errlen) < 0) {
		pg_source_table_clear(&all);
		return -1;
	}
	p->unit_idx = col_index(&p->src, rt->unit_column);
	p->date_idx = rt->date_column ? col_index(&p->src, rt->date_column) : -1;
	p->split_idx = rt->split_column ? col_index(&p->src, rt->split_column) : -1;
	for (int k = 1; k <= MAX_KEY_COLS; k++)
		for (size_t i = 0; i < p->nout; i++)
			if (p->src.cols[i].key_pos == k)
				p->key_idx[p->nkey++] = (int)i;
	if (p->nkey == 0) {
		snprintf(
			err, errlen,
			"source %s: table %s has no primary key; syncd needs one to keep each unit's copy in step (add one, e.g. ALTER TABLE %s ADD PRIMARY KEY (...))",
			rt->source, rt->table, rt->table);
		return -1;
	}
	p->mask = calloc(p->nout + 1, sizeof(*p->mask));
	p->mask_on = calloc(p->nout + 1, sizeof(bool));
	if (p->mask == NULL || p->mask_on == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t m = 0; m < rt->nmasks; m++) {
		int i = col_index(&p->src, rt->masks[m].column);

		if (i < 0 || (size_t)i >= p->nout) {
			snprintf(err, errlen,
				 "routing.json: %s: masked column \"%s\" does not exist in source %s",
				 rt->table, rt->masks[m].column, rt->source);
			return -1;
		}
		p->mask[i] = rt->masks[m].kind;
		p->mask_on[i] = true;
	}
	p->rebuild = rt->nmasks > 0 || p->src.ncols > p->nout;
	p->out.name = rt->target_table;
	p->out.cols = p->src.cols;
	p->out.ncols = p->nout;
	return 0;
}

static void plan_free(struct plan_table *p)
{
	pg_source_table_clear(&p->src);
	free(p->mask);
	free(p->mask_on);
}

static int publication_ensure(struct run *run, bool dry_run, char *err, size_t errlen)
{
	struct pg_source_table *tabs = calloc(run->ntables, sizeof(*tabs));
	int r;

	if (tabs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < run->ntables; i++)
		tabs[i] = run->tables[i].src;
	r = pg_source_publication_ensure(run->src, tabs, run->ntables, dry_run, err, errlen);
	free(tabs);
	return r;
}

static int open_source_and_plan(struct run *run, char *err, size_t errlen)
{
	size_t n = 0;

	run->src = pg_source_open(run->scfg->name, run->scfg->conninfo, run->scfg->password, err, errlen);
	if (run->src == NULL)
		return -1;
	if (pg_source_check_server(run->src, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < routing_table_count(run->rt); i++)
		if (strcmp(routing_table_get(run->rt, i)->source, run->scfg->name) == 0)
			n++;
	if (n == 0) {
		snprintf(
			err, errlen,
			"source %s: routing.json routes no table of this source; add one or remove [source %s]",
			run->scfg->name, run->scfg->name);
		return -1;
	}
	run->tables = calloc(n, sizeof(*run->tables));
	if (run->tables == NULL)
		return -1;
	for (size_t i = 0; i < routing_table_count(run->rt); i++) {
		const struct routing_table *rt = routing_table_get(run->rt, i);

		if (strcmp(rt->source, run->scfg->name) != 0)
			continue;
		run->ntables++;
		if (plan_table(run, rt, &run->tables[run->ntables - 1], err, errlen) < 0)
			return -1;
	}
	return publication_ensure(run, true, err, errlen);
}

static void run_free(struct run *run)
{
	for (size_t i = 0; i < run->ngroups; i++) {
		if (run->groups[i].ctx != NULL) {
			if (run->groups[i].in_tx)
				run->ops->rollback(run->groups[i].ctx);
			run->ops->close(run->groups[i].ctx);
		}
		free(run->groups[i].conninfo);
	}
	free(run->groups);
	for (size_t i = 0; i < run->nunits; i++) {
		free(run->units[i].schema);
		buf_free(&run->units[i].rows);
	}
	free(run->units);
	for (size_t i = 0; i < run->ntables; i++)
		plan_free(&run->tables[i]);
	free(run->tables);
	pg_source_free(run->src);
	buf_free(&run->scratch);
	buf_free(&run->keybuf);
	for (int i = 0; i < 3; i++)
		buf_free(&run->fieldbuf[i]);
}

/* Units whose conninfo expands to the same string share one connection
 * and one transaction. */
static int open_targets(struct run *run, char *err, size_t errlen)
{
	const struct config *cfg = run->cfg;
	size_t n = routing_unit_count(run->rt);

	run->units = calloc(n, sizeof(*run->units));
	run->groups = calloc(n, sizeof(*run->groups));
	if (run->units == NULL || run->groups == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		struct unit_dest *u = &run->units[i];
		char *conninfo;
		size_t g;

		u->code = routing_unit_get(run->rt, i)->code;
		u->schema = config_expand_unit(cfg->tier_schema, u->code);
		conninfo = config_expand_unit(cfg->tier_conninfo, u->code);
		run->nunits++;
		if (u->schema == NULL || conninfo == NULL) {
			free(conninfo);
			goto oom;
		}
		for (g = 0; g < run->ngroups; g++)
			if (strcmp(run->groups[g].conninfo, conninfo) == 0)
				break;
		if (g == run->ngroups) {
			char msg[1024];

			run->groups[g].conninfo = conninfo;
			run->ngroups++;
			run->groups[g].ctx = run->ops->open(conninfo, cfg->tier_password, msg, sizeof(msg));
			if (run->groups[g].ctx == NULL) {
				snprintf(err, errlen,
					 "unit %05d: cannot connect to the tier: %s; check [tier] conninfo",
					 u->code, msg);
				return -1;
			}
			if (run->ops->begin(run->groups[g].ctx, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "unit %05d: %s", u->code, msg);
				return -1;
			}
			run->groups[g].in_tx = true;
		} else {
			free(conninfo);
		}
		u->group = &run->groups[g];
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int prepare_units(struct run *run, char *err, size_t errlen)
{
	struct connector_table *tabs = calloc(run->ntables, sizeof(*tabs));
	const char **schemas = calloc(run->nunits, sizeof(*schemas));
	int r = 0;

	if (tabs == NULL || schemas == NULL) {
		free(tabs);
		free(schemas);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t t = 0; t < run->ntables; t++)
		tabs[t] = run->tables[t].out;
	for (size_t g = 0; g < run->ngroups && r == 0; g++) {
		char msg[1024];
		size_t n = 0;

		for (size_t i = 0; i < run->nunits; i++)
			if (run->units[i].group == &run->groups[g])
				schemas[n++] = run->units[i].schema;
		if (run->ops->prepare(run->groups[g].ctx, schemas, n, tabs, run->ntables, true, msg,
				      sizeof(msg)) < 0) {
			snprintf(err, errlen, "tier %s: %s", run->groups[g].conninfo, msg);
			r = -1;
		}
	}
	free(schemas);
	free(tabs);
	return r;
}

static int unit_flush(struct run *run, struct unit_dest *u, const struct plan_table *p, char *err,
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
static const char *field_value(struct run *run, int slot, const struct copy_field *f, size_t *len)
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

static int key_text(struct run *run, const struct plan_table *p, const struct copy_field *fields)
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

static int quarantine_row(struct run *run, const struct plan_table *p, const struct copy_field *fields,
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
static int row_rebuild(struct run *run, const struct plan_table *p, const struct copy_field *fields,
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

static int copy_table(struct run *run, struct plan_table *p, char *err, size_t errlen)
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
	if (pg_source_copy_begin(run->src, &p->src, err, errlen) < 0)
		goto out;
	while ((len = pg_source_copy_next(run->src, &row, err, errlen)) > 0) {
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
			if (quarantine_row(run, p, fields, why, err, errlen) < 0)
				goto out;
			continue;
		}
		if (era == ROUTING_ERA_OLD)
			run->rows_old++;
		else
			run->rows_new++;
		idx = routing_unit_index(run->rt, code);
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

static int commit_all(struct run *run, char *err, size_t errlen)
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
static int slot_decide(struct run *run, struct snapshot_result *res, char *err, size_t errlen)
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
	struct run run = {.cfg = cfg, .rt = rt, .scfg = src};
	int r = open_source_and_plan(&run, err, errlen);

	run_free(&run);
	return r;
}

int snapshot_run(const struct config *cfg, const struct routing *rt, struct state *st,
		 const struct config_source *src, struct snapshot_result *res, char *err, size_t errlen)
{
	struct run run = {.cfg = cfg, .rt = rt, .scfg = src, .st = st, .ops = &pg_target_ops};
	struct timespec t0, t1;
	bool quarantine_open = false;
	int r = -1;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run.flush_at = (size_t)cfg->copy_buffer_kb * 1024;
	if (open_source_and_plan(&run, err, errlen) < 0 || slot_decide(&run, res, err, errlen) < 0)
		goto out;
	log_debug("source %s: planned %zu tables", src->name, run.ntables);
	if (res->already_done) {
		r = 0;
		goto out;
	}
	if (publication_ensure(&run, false, err, errlen) < 0)
		goto out;
	/* the slot first: creating it waits for every transaction running in
	 * the source's cluster, which may hold the tier or the state DB too */
	if (pg_source_snapshot_begin(run.src, run.lsn, sizeof(run.lsn), err, errlen) < 0)
		goto out;
	log_debug("source %s: slot %s created at %s", src->name, pg_source_slot_name(run.src), run.lsn);
	if (open_targets(&run, err, errlen) < 0 || prepare_units(&run, err, errlen) < 0)
		goto out;
	log_debug("source %s: %zu unit copies prepared", src->name, run.nunits);
	if (state_quarantine_begin(st, src->name, true, err, errlen) < 0)
		goto out;
	quarantine_open = true;
	log_info("source %s: copying %zu tables into %zu units from %s", src->name, run.ntables, run.nunits,
		 run.lsn);
	for (size_t i = 0; i < run.ntables; i++)
		if (copy_table(&run, &run.tables[i], err, errlen) < 0)
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
	if (state_snapshot_complete(st, src->name, &res->snap, err, errlen) < 0)
		goto out;
	r = 0;
out:
	if (quarantine_open)
		state_quarantine_rollback(st);
	run_free(&run);
	return r;
}
