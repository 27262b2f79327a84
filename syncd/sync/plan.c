/* plan.c — what snapshot and stream share: each routed table's columns, key,
 * routing columns and masks, and the unit destinations grouped by tier. */
#include "syncd/sync/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int sync_col_index(const struct pg_source_table *t, const char *name)
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
			int i = sync_col_index(all, rt->columns[k]);

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
		i = sync_col_index(all, extra[e]);
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

/* Keeps of the source's columns those the reference unit's table has, with
 * the unit's types (routing columns always stay: they are read, not sent). */
static int unit_view(struct sync_run *run, const struct routing_table *rt, struct pg_source_table *all,
		     char *err, size_t errlen)
{
	struct unit_dest *u = run->reference;
	struct connector_column *ucols = NULL;
	size_t nu = 0, w = 0;
	char msg[1024];

	if (u->group->ops->describe(u->group->ctx, u->schema, rt->target_table, &ucols, &nu, msg,
				    sizeof(msg)) < 0) {
		snprintf(err, errlen, "unit %05d: %s", u->code, msg);
		return -1;
	}
	for (size_t i = 0; i < all->ncols; i++) {
		struct connector_column *c = &all->cols[i];
		size_t k;
		bool routing = strcmp(c->name, rt->unit_column) == 0 ||
			       (rt->date_column && strcmp(c->name, rt->date_column) == 0) ||
			       (rt->split_column && strcmp(c->name, rt->split_column) == 0);

		for (k = 0; k < nu; k++)
			if (strcmp(ucols[k].name, c->name) == 0)
				break;
		if (k < nu) {
			free(c->type);
			c->type = strdup(ucols[k].type);
			c->type_oid = ucols[k].type_oid;
			c->typmod = ucols[k].typmod;
		} else if (nu > 0 && !routing && c->key_pos == 0) {
			free(c->name);
			free(c->type);
			continue;
		}
		all->cols[w++] = *c;
	}
	all->ncols = w;
	for (size_t k = 0; k < nu; k++) {
		free(ucols[k].name);
		free(ucols[k].type);
	}
	free(ucols);
	return 0;
}

static int plan_table(struct sync_run *run, const struct routing_table *rt, struct plan_table *p, char *err,
		      size_t errlen)
{
	struct pg_source_table all;
	const char *routing_cols[3];
	size_t nrc = 0;
	char msg[1024];

	p->rt = rt;
	if (rt->fields != NULL) {
		snprintf(
			err, errlen,
			"routing.json: %s: \"fields\" maps a kind = http source's records, but [source %s] is a PostgreSQL database; remove \"fields\" and \"key\"",
			rt->table, rt->source);
		return -1;
	}
	if (pg_source_describe(run->src, rt->schema, rt->name, &all, err, errlen) < 0)
		return -1;
	if (sync_col_index(&all, rt->unit_column) < 0) {
		snprintf(err, errlen, "routing.json: %s: unit_column \"%s\" does not exist in source %s",
			 rt->table, rt->unit_column, rt->source);
		pg_source_table_clear(&all);
		return -1;
	}
	if (run->reference != NULL && unit_view(run, rt, &all, err, errlen) < 0) {
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
	p->unit_idx = sync_col_index(&p->src, rt->unit_column);
	p->date_idx = rt->date_column ? sync_col_index(&p->src, rt->date_column) : -1;
	p->split_idx = rt->split_column ? sync_col_index(&p->src, rt->split_column) : -1;
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
		int i = sync_col_index(&p->src, rt->masks[m].column);

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

int sync_publication_ensure(struct sync_run *run, bool dry_run, bool *added, char *err, size_t errlen)
{
	struct pg_source_table *tabs = calloc(run->ntables, sizeof(*tabs));
	int r;

	if (tabs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < run->ntables; i++)
		tabs[i] = run->tables[i].src;
	r = pg_source_publication_ensure(run->src, tabs, run->ntables, dry_run, added, err, errlen);
	free(tabs);
	return r;
}

int sync_plan(struct sync_run *run, char *err, size_t errlen)
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
	return sync_publication_ensure(run, true, NULL, err, errlen);
}

void sync_run_free(struct sync_run *run)
{
	for (size_t i = 0; i < run->ngroups; i++)
		sync_group_free(&run->groups[i]);
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
	buf_free(&run->maskbuf);
}

int sync_targets_prepare(struct sync_run *run, bool truncate, char *err, size_t errlen)
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
		if (run->groups[g].down)
			continue;
		if (run->groups[g].ops->prepare(run->groups[g].ctx, schemas, n, tabs, run->ntables, truncate,
						msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "tier %s: %s", run->groups[g].conninfo, msg);
			r = -1;
		}
	}
	free(schemas);
	free(tabs);
	return r;
}
