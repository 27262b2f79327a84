/* requests.c — what syncctl and the stream's start queue for a source: resync
 * (a unit or table emptied and refilled at a snapshot's exact LSN), copies of
 * tables new in routing.json, and re-routing the quarantine. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "connectors/pgoutput.h"
#include "syncd/sync/apply.h"
#include "syncd/sync/session.h"
#include "syncd/sync/snapshot.h"

/* ---- resync while streaming ------------------------------------------------ */

/* Resync while the stream runs: a temporary slot with an exported snapshot
 * gives a consistent copy at its LSN.  The stream calls resync_apply when it
 * has applied every transaction up to that LSN and none after: the chosen
 * units' tables (one table, or all) are emptied and refilled from the
 * snapshot and their checkpoints set to the LSN, in one transaction per
 * connection group; with quarantine, that table's quarantined rows too. */

struct resync {
	struct pg_source *src;
};

static void resync_free(struct resync *rs)
{
	if (rs == NULL)
		return;
	pg_source_free(rs->src);
	free(rs);
}

static struct resync *resync_begin(struct sync_run *run, char *lsn, size_t lsnlen, char *err, size_t errlen)
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

static int resync_apply(struct sync_run *run, struct resync *rs, const char *lsn, const bool *units_on,
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
		if (run->groups[g].ops->begin(run->groups[g].ctx, msg, sizeof(msg)) < 0 ||
		    run->groups[g].ops->prepare(run->groups[g].ctx, schemas, n, tabs, ntabs, true, msg,
						sizeof(msg)) < 0) {
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
		    snapshot_copy_table(run, rs->src, &run->tables[t], units_on, quarantine, err, errlen) < 0)
			goto out;
	if (apply_commit(run, units_on, lsn, quarantine, err, errlen) < 0)
		goto out;
	r = 0;
out:
	if (r < 0)
		apply_rollback(run, quarantine);
	free(tabs);
	free(schemas);
	return r;
}

/* ---- resync and table copies while streaming -------------------------------------- */

void requests_clear(struct stream *s)
{
	resync_free(s->pending.rs);
	s->pending.rs = NULL;
	free(s->pending.units_on);
	s->pending.units_on = NULL;
}

static void request_finish(struct stream *s, const char *result)
{
	char err[512];

	if (state_request_done(s->run.st, s->pending.req.id, result, err, sizeof(err)) < 0)
		log_warn("%s", err);
	requests_clear(s);
}

/* Moves quarantined rows the current policy can route into their units.
 * Runs only with the stream caught up and between transactions, at x: every
 * destination holds every transaction up to x, so the receiving units'
 * checkpoints may be set to x (a replay after a crash then skips them), and
 * a row already in its unit (a crash between the two commits) is not added
 * twice. */
static int reroute_apply(struct stream *s, uint64_t x, char *result, size_t resultlen, char *err,
			 size_t errlen)
{
	struct sync_run *run = &s->run;
	struct state_qrow *rows = NULL;
	long n = state_quarantine_rows(run->st, run->scfg->name, &rows, err, errlen);
	long *ids = NULL;
	size_t nids = 0;
	char lsn[32], msg[1024];
	int r = -1;

	if (n < 0)
		return -1;
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (ids == NULL)
		goto oom;
	pgo_lsn_format(x, lsn, sizeof(lsn));
	memset(s->touched, 0, run->nunits * sizeof(bool));
	for (long i = 0; i < n; i++) {
		struct plan_table *p = NULL;
		enum router_reason why;
		json_t *obj;
		int dest;
		bool skip;

		for (size_t t = 0; t < run->ntables; t++)
			if (strcmp(run->tables[t].rt->table, rows[i].table) == 0)
				p = &run->tables[t];
		if (p == NULL || (obj = json_loads(rows[i].row_json, 0, NULL)) == NULL)
			continue; /* a table no longer routed stays quarantined */
		for (size_t j = 0; j < p->src.ncols; j++) {
			json_t *v = json_object_get(obj, p->src.cols[j].name);

			s->newr.v[j].kind = json_is_string(v) ? CV_VALUE : CV_NULL;
			s->newr.v[j].p = json_is_string(v) ? json_string_value(v) : NULL;
			s->newr.v[j].len = json_is_string(v) ? json_string_length(v) : 0;
		}
		dest = stream_route_row(s, p, &s->newr, &why, err, errlen);
		if (dest == ROW_NOMEM) {
			json_decref(obj);
			goto out;
		}
		if (dest != DEST_QUARANTINE) {
			struct unit_dest *u = &run->units[dest];
			struct buf probe = {0};
			bool is_null;
			int found;

			s->txn_final = x + 1; /* never skipped: the row is not in the unit yet */
			if (stream_dest_begin(s, dest, &skip, err, errlen) < 0) {
				json_decref(obj);
				goto out;
			}
			if (skip) { /* its unit is down or detached: the row stays for now */
				json_decref(obj);
				continue;
			}
			stream_row_key(s, p, &s->newr);
			found = u->group->ops->fetch(u->group->ctx, u->schema, &p->out, s->keyv, 0, &probe,
						     &is_null, msg, sizeof(msg));
			buf_free(&probe);
			if (found == 0 && (stream_row_output(s, p, &s->newr) < 0 ||
					   u->group->ops->insert(u->group->ctx, u->schema, &p->out, s->outr.v,
								 msg, sizeof(msg)) < 0))
				found = -1;
			if (found < 0) {
				snprintf(err, errlen, "unit %05d: %s", u->code, msg);
				json_decref(obj);
				goto out;
			}
			ids[nids++] = rows[i].id;
		}
		json_decref(obj);
	}
	/* the units first, then the quarantine: a crash between leaves the rows
	 * in both, and the next pass finds them in their units */
	if (apply_commit(run, s->touched, lsn, false, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < run->nunits; i++)
		if (s->touched[i] && s->ckpt[i] < x)
			s->ckpt[i] = x;
	if (nids > 0 && state_quarantine_release(run->st, run->scfg->name, ids, nids, lsn, err, errlen) < 0)
		goto out;
	if (nids > 0 && s->ckpt_q < x)
		s->ckpt_q = x;
	snprintf(result, resultlen, "ok: %zu of %ld quarantined rows moved to their units", nids, n);
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (r < 0)
		stream_batch_rollback(s);
	memset(s->touched, 0, run->nunits * sizeof(bool));
	s->batch_open = false;
	free(ids);
	state_qrows_free(rows, n);
	return r;
}

/* Takes the next request: checks it and creates its consistent snapshot;
 * it is applied once the stream has reached that snapshot's LSN. */
int requests_poll(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	struct state_request *q = &s->pending.req;
	int found;

	clock_gettime(CLOCK_MONOTONIC, &s->last_poll);
	found = state_request_next(run->st, run->scfg->name, q, err, errlen);
	if (found == 0)
		s->own_requests = false;
	if (found <= 0)
		return found;
	if (strcmp(q->kind, "reroute") == 0) {
		char result[600];

		/* only once this session has replayed everything: see reroute_apply */
		if (s->received < s->live_target)
			return 0;
		if (reroute_apply(s, s->received, result, sizeof(result), err, errlen) < 0)
			snprintf(result, sizeof(result), "error: %s", err);
		log_info("source %s: re-routing the quarantine: %s", run->scfg->name, result);
		if (strncmp(result, "ok", 2) == 0 &&
		    state_policy_digest(run->st, run->scfg->name, routing_digest(run->rt), true, err,
					errlen) < 0)
			return -1;
		if (state_request_done(run->st, q->id, result, err, errlen) < 0)
			return -1;
		return 0;
	}
	s->pending.units_on = calloc(run->nunits, sizeof(bool));
	if (s->pending.units_on == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < run->nunits; i++)
		s->pending.units_on[i] = q->unit[0] == '\0' || run->units[i].code == atoi(q->unit);
	if (q->unit[0] != '\0' && routing_unit_index(run->rt, atoi(q->unit)) < 0) {
		request_finish(s, "error: not a unit of the city (see policies/units/cantho_new_units.csv)");
		return 0;
	}
	if (q->table[0] != '\0') {
		bool routed = false;

		for (size_t t = 0; t < run->ntables; t++)
			routed |= strcmp(run->tables[t].rt->table, q->table) == 0;
		if (!routed) {
			request_finish(s, "error: this source routes no such table (routing.json)");
			return 0;
		}
	}
	s->pending.rs = resync_begin(run, s->pending.lsn_text, sizeof(s->pending.lsn_text), err, errlen);
	if (s->pending.rs == NULL) {
		char result[600];

		snprintf(result, sizeof(result), "error: %s", err);
		request_finish(s, result);
		return 0;
	}
	pgo_lsn_parse(s->pending.lsn_text, &s->pending.lsn);
	log_info("source %s: %s of %s%s%s taken at %s; applied when the stream reaches it", run->scfg->name,
		 q->kind, q->unit[0] ? "unit " : "every unit", q->unit, q->table[0] ? q->table : "",
		 s->pending.lsn_text);
	return 1;
}

/* Runs the pending request: every transaction up to its LSN is applied and
 * none after, so the copy at that LSN replaces the chosen copies exactly. */
int requests_apply(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	struct state_request *q = &s->pending.req;
	bool quarantine = strcmp(q->kind, "copy_table") == 0;
	long long before = run->rows_old + run->rows_new;
	char result[600];

	if (stream_batch_commit(s, err, errlen) < 0)
		return -1;
	if (resync_apply(run, s->pending.rs, s->pending.lsn_text, s->pending.units_on,
			 q->table[0] ? q->table : NULL, quarantine, err, errlen) < 0) {
		snprintf(result, sizeof(result), "error: %s", err);
		log_err("source %s: %s failed: %s", run->scfg->name, q->kind, err);
		request_finish(s, result);
		return 0;
	}
	for (size_t i = 0; i < run->nunits; i++)
		if (s->pending.units_on[i]) {
			s->ckpt[i] = s->pending.lsn;
			if (s->detached[i]) {
				s->detached[i] = false;
				if (state_unit_attach(run->st, run->scfg->name, run->units[i].code, err,
						      errlen) < 0)
					return -1;
				log_info("unit %05d: resynced; attached to source %s again",
					 run->units[i].code, run->scfg->name);
			}
		}
	if (quarantine)
		s->ckpt_q = s->pending.lsn;
	snprintf(result, sizeof(result), "ok: %lld rows copied at %s", run->rows_old + run->rows_new - before,
		 s->pending.lsn_text);
	log_info("source %s: %s %s%s%s: %s", run->scfg->name, q->kind, q->unit,
		 q->unit[0] && q->table[0] ? " " : "", q->table, result);
	request_finish(s, result);
	return 0;
}

/* At the start of a session: a table new in routing.json since the snapshot
 * gets its unit tables, joins the publication, and a copy of it is queued —
 * applied like a resync, at the exact point of its own snapshot; and a
 * quarantine that is not empty is queued for re-routing (the policy may
 * have changed). */
int requests_start(struct stream *s, char *err, size_t errlen)
{
	struct sync_run *run = &s->run;
	bool *added = calloc(run->ntables + 1, sizeof(bool));
	long n;
	int same, r = -1;

	if (added == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sync_targets_prepare(run, false, err, errlen) < 0 ||
	    sync_publication_ensure(run, false, added, err, errlen) < 0)
		goto out;
	for (size_t t = 0; t < run->ntables; t++) {
		if (!added[t])
			continue;
		if (state_request_add(run->st, run->scfg->name, "copy_table", NULL, run->tables[t].rt->table,
				      err, errlen) < 0)
			goto out;
		log_info(
			"source %s: %s is new in routing.json; it will be copied into every unit, then streamed",
			run->scfg->name, run->tables[t].rt->table);
		s->own_requests = true;
	}
	/* a policy changed since rows were quarantined may route some of them now */
	same = state_policy_digest(run->st, run->scfg->name, routing_digest(run->rt), false, err, errlen);
	if (same < 0)
		goto out;
	n = same ? 0 : state_quarantine_count(run->st, run->scfg->name, err, errlen);
	if (n < 0 ||
	    (n > 0 && state_request_add(run->st, run->scfg->name, "reroute", NULL, NULL, err, errlen) < 0))
		goto out;
	s->own_requests |= n > 0;
	if (!same && n == 0 &&
	    state_policy_digest(run->st, run->scfg->name, routing_digest(run->rt), true, err, errlen) < 0)
		goto out;
	r = 0;
out:
	free(added);
	return r;
}
