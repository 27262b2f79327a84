/* dest.c — where each unit's rows go: units grouped by destination (the
 * expanded [tier] conninfo and the [target] sections of syncd.conf each unit
 * goes to), each group one connector: PostgreSQL alone, HTTP targets alone
 * (mode = instead), or a tee of the tier and its HTTP targets (mode = also). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "connectors/http_target.h"
#include "connectors/tee.h"
#include "syncd/sync/plan.h"

/* Everything opening a group with HTTP targets needs, owned by the group. */
struct group_conf {
	struct tee_conf tee;
	struct http_target_conf http[TEE_MAX];
	const struct config_target *targets[TEE_MAX];
	size_t ntargets;
	char *tier_conninfo; /* child 0, the unit's [tier] copy; NULL with mode = instead */
	struct http_target_unit *units;
	size_t nunits;
	char **tables[TEE_MAX]; /* each target's "tables" split */
};

static void conf_free(struct group_conf *gc)
{
	if (gc == NULL)
		return;
	for (size_t i = 0; i < gc->ntargets; i++) {
		for (size_t k = 0; k < gc->http[i].ntables; k++)
			free(gc->tables[i][k]);
		free(gc->tables[i]);
	}
	free(gc->units);
	free(gc->tier_conninfo);
	free(gc);
}

/* "a, b,c" -> {"a", "b", "c"}; -1 out of memory. */
static int tables_split(const char *list, char ***out, size_t *n)
{
	char *copy = strdup(list), *save = NULL;

	*out = NULL;
	*n = 0;
	if (copy == NULL)
		return -1;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char **p = realloc(*out, (*n + 1) * sizeof(*p));
		/* "public.thua_dat" or "thua_dat": units hold the table by its bare name */
		const char *bare = strrchr(tok, '.') ? strrchr(tok, '.') + 1 : tok;

		if (p == NULL || (p[*n] = strdup(bare)) == NULL) {
			*out = p ? p : *out;
			free(copy);
			return -1;
		}
		*out = p;
		(*n)++;
	}
	free(copy);
	return 0;
}

/* The group's key: its tier conninfo (when the units keep a [tier] copy)
 * and its targets' names. */
static char *group_key(const struct config *cfg, const char *conninfo, const size_t *tix, size_t nt,
		       bool instead)
{
	struct buf k = {0};
	int r = buf_puts(&k, nt > 0 && instead ? "target " : conninfo);

	for (size_t i = 0; i < nt && r == 0; i++)
		r = buf_printf(&k, "%s%s", i == 0 ? (instead ? "" : " + target ") : ", ",
			       cfg->targets[tix[i]].name);
	if (r < 0) {
		buf_free(&k);
		return NULL;
	}
	return k.data;
}

static struct group_conf *conf_new(const struct sync_run *run, const char *conninfo, const size_t *tix,
				   size_t nt, bool instead)
{
	struct group_conf *gc = calloc(1, sizeof(*gc));

	if (gc == NULL || (!instead && (gc->tier_conninfo = strdup(conninfo)) == NULL)) {
		free(gc);
		return NULL;
	}
	for (size_t i = 0; i < nt && i < TEE_MAX - 1; i++) {
		const struct config_target *tg = &run->cfg->targets[tix[i]];
		struct http_target_conf *h = &gc->http[i];

		gc->targets[gc->ntargets++] = tg;
		h->name = tg->name;
		h->source = run->scfg->name;
		h->format = tg->format && strcmp(tg->format, "cloudevents") == 0 ? HTTP_FORMAT_CLOUDEVENTS
										 : HTTP_FORMAT_JSON;
		h->batch_rows = (size_t)tg->batch_rows;
		h->backlog_limit = run->cfg->unit_backlog_limit * 1024LL * 1024LL;
		h->batch_bytes = (size_t)tg->batch_bytes;
		if (tg->tables != NULL) {
			if (tables_split(tg->tables, &gc->tables[i], &h->ntables) < 0) {
				conf_free(gc);
				return NULL;
			}
			h->tables = (const char *const *)gc->tables[i];
		}
	}
	return gc;
}

static int conf_add_unit(struct group_conf *gc, const char *schema, int code)
{
	struct http_target_unit *u = realloc(gc->units, (gc->nunits + 1) * sizeof(*u));

	if (u == NULL)
		return -1;
	gc->units = u;
	gc->units[gc->nunits++] = (struct http_target_unit){schema, code};
	return 0;
}

/* Fills the tee's children (or, for one HTTP target alone, the group's
 * own ops) once every unit of the group is known. */
static void conf_finish(struct group *g, const struct config *cfg)
{
	struct group_conf *gc = g->conf;
	size_t n = 0;

	if (gc->tier_conninfo != NULL)
		gc->tee.child[n++] =
			(struct tee_child){&pg_target_ops, gc->tier_conninfo, cfg->tier_password, NULL};
	for (size_t i = 0; i < gc->ntargets; i++) {
		gc->http[i].units = gc->units;
		gc->http[i].nunits = gc->nunits;
		gc->tee.child[n++] = (struct tee_child){&http_target_ops, cfg->state_conninfo,
							cfg->state_password, &gc->http[i]};
	}
	gc->tee.n = n;
	g->ops = n == 1 ? gc->tee.child[0].ops : &tee_ops;
}

void *sync_group_open(const struct group *g, char *msg, size_t msglen)
{
	const struct tee_child *only = g->conf && g->conf->tee.n == 1 ? &g->conf->tee.child[0] : NULL;

	if (g->conf == NULL)
		return g->ops->open(g->conninfo, g->password, NULL, msg, msglen);
	if (only != NULL)
		return only->ops->open(only->conninfo, only->password, only->opts, msg, msglen);
	return tee_ops.open(NULL, NULL, &g->conf->tee, msg, msglen);
}

void sync_group_free(struct group *g)
{
	if (g->ctx != NULL) {
		if (g->in_tx)
			g->ops->rollback(g->ctx);
		g->ops->close(g->ctx);
		g->ctx = NULL;
	}
	conf_free(g->conf);
	g->conf = NULL;
	free(g->conninfo);
	g->conninfo = NULL;
}

/* The group unit u belongs to, created when new. */
static struct group *group_find(struct sync_run *run, struct unit_dest *u, char *err, size_t errlen)
{
	const struct config *cfg = run->cfg;
	size_t tix[TEE_MAX + 8], nt;
	bool instead = false;
	char *conninfo = config_expand_unit(cfg->tier_conninfo, u->code), *key;
	struct group *g = NULL;

	nt = cfg->ntargets ? config_unit_targets(cfg, u->code, tix, &instead) : 0;
	if (nt > TEE_MAX - 1) {
		snprintf(err, errlen, "unit %05d goes to %zu [target] sections, at most %d", u->code, nt,
			 TEE_MAX - 1);
		free(conninfo);
		return NULL;
	}
	key = conninfo ? group_key(cfg, conninfo, tix, nt, instead) : NULL;
	for (size_t i = 0; key && i < run->ngroups && !g; i++)
		if (strcmp(run->groups[i].conninfo, key) == 0)
			g = &run->groups[i];
	if (key != NULL && g == NULL) {
		g = &run->groups[run->ngroups++];
		g->conninfo = key;
		key = NULL;
		g->ops = &pg_target_ops;
		g->password = cfg->tier_password;
		if (nt > 0 && (g->conf = conf_new(run, conninfo, tix, nt, instead)) == NULL)
			g = NULL;
	}
	if (g != NULL && g->conf != NULL && conf_add_unit(g->conf, u->schema, u->code) < 0)
		g = NULL;
	free(key);
	free(conninfo);
	if (g == NULL)
		snprintf(err, errlen, "out of memory");
	return g;
}

int sync_targets_open(struct sync_run *run, bool begin, char *err, size_t errlen)
{
	size_t n = routing_unit_count(run->rt);

	run->units = calloc(n, sizeof(*run->units));
	run->groups = calloc(n, sizeof(*run->groups));
	if (run->units == NULL || run->groups == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct unit_dest *u = &run->units[i];

		u->code = routing_unit_get(run->rt, i)->code;
		u->schema = config_expand_unit(run->cfg->tier_schema, u->code);
		run->nunits++;
		if (u->schema == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if ((u->group = group_find(run, u, err, errlen)) == NULL)
			return -1;
	}
	for (size_t g = 0; g < run->ngroups; g++) {
		struct group *gr = &run->groups[g];
		char msg[1024];

		if (gr->conf != NULL)
			conf_finish(gr, run->cfg);
		gr->ctx = sync_group_open(gr, msg, sizeof(msg));
		if (gr->ctx == NULL && run->tolerate_down) {
			log_warn("%s unreachable: %s; its units wait (detached past unit_backlog_limit)",
				 gr->conninfo, msg);
			gr->down = true;
			continue;
		}
		if (gr->ctx == NULL) {
			snprintf(err, errlen,
				 "cannot connect to %s: %s; check [tier] and [target] in syncd.conf",
				 gr->conninfo, msg);
			return -1;
		}
		if (begin && gr->ops->begin(gr->ctx, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", gr->conninfo, msg);
			return -1;
		}
		gr->in_tx = begin;
	}
	return 0;
}
