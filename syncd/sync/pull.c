/* pull.c — a kind = http source (issue 13 item 6): the API's pages read
 * from the stored cursor, each record mapped to its table's columns
 * (routing.json "fields"), routed by row.c and upserted into the units
 * through their destination groups, exactly once per page (see pull.h). */
#include "syncd/sync/pull.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "connectors/http_pull.h"
#include "connectors/pgoutput.h"
#include "syncd/sync/apply.h"
#include "syncd/sync/plan.h"
#include "syncd/sync/row.h"
#include "syncd/sync/state.h"

/* ---- records to columns (pure) --------------------------------------------- */

json_t *pull_path_get(json_t *rec, const char *path)
{
	const char *p = path;

	while (rec != NULL) {
		size_t len = strcspn(p, ".");
		char name[256];

		if (!json_is_object(rec) || len >= sizeof(name))
			return NULL;
		memcpy(name, p, len);
		name[len] = '\0';
		rec = json_object_get(rec, name);
		if (p[len] == '\0')
			return rec;
		p += len + 1;
	}
	return NULL;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM-DD", a day that exists. */
static bool date_valid(const char *s, size_t len)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return false;
	y = num2(s) * 100 + num2(s + 2);
	m = num2(s + 5);
	d = num2(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

/* ISO 8601 with its zone: "YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]](Z|+HH[:MM]|-HH[:MM])". */
static bool timestamptz_valid(const char *s, size_t len)
{
	size_t i = 16;

	if (len < 17 || !date_valid(s, 10) || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || num2(s + 11) > 23 || num2(s + 14) > 59)
		return false;
	if (s[i] == ':') {
		if (i + 3 > len || !digits(s + i + 1, 2) || num2(s + i + 1) > 60)
			return false;
		i += 3;
		if (i < len && s[i] == '.') {
			size_t f = strspn(s + i + 1, "0123456789");

			if (f < 1 || f > 6)
				return false;
			i += 1 + f;
		}
	}
	if (i + 1 == len && s[i] == 'Z')
		return true;
	if (i >= len || (s[i] != '+' && s[i] != '-') || i + 3 > len || !digits(s + i + 1, 2))
		return false;
	i += 3;
	if (i < len && s[i] == ':')
		i++;
	return i == len || (i + 2 == len && digits(s + i, 2));
}

static bool integer_valid(const char *s, size_t len)
{
	size_t sign = len > 0 && (s[0] == '-' || s[0] == '+');

	/* 18 digits always fit a bigint; PostgreSQL checks nothing larger for us */
	return len > sign && len - sign <= 18 && digits(s + sign, len - sign);
}

static bool numeric_valid(const char *s, size_t len)
{
	size_t i = len > 0 && (s[0] == '-' || s[0] == '+'), a, b = 0;

	a = strspn(s + i, "0123456789");
	i += a;
	if (i < len && s[i] == '.') {
		b = strspn(s + i + 1, "0123456789");
		i += 1 + b;
	}
	if (a + b == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		i += i < len && (s[i] == '-' || s[i] == '+');
		if (strspn(s + i, "0123456789") == 0)
			return false;
		i += strspn(s + i, "0123456789");
	}
	return i == len;
}

static const char *const type_words[] = {"a string",
					 "an integer",
					 "a number",
					 "a date YYYY-MM-DD",
					 "a timestamp with its zone, e.g. 2025-07-01T08:30:00+07:00",
					 "true or false"};

/* "expected X, got <the value as JSON, shortened>" */
static void why_set(char *why, size_t whylen, enum routing_field_type t, const json_t *v)
{
	char *js = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	snprintf(why, whylen, "expected %s, got %.60s%s", type_words[t], js ? js : "?",
		 js && strlen(js) > 60 ? "..." : "");
	free(js);
}

/* A JSON number as text; false for other values. */
static bool number_text(const json_t *v, char *out, size_t outlen)
{
	if (json_is_integer(v))
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v) && isfinite(json_real_value(v)))
		snprintf(out, outlen, "%.17g", json_real_value(v));
	else
		return false;
	return true;
}

int pull_value_text(const json_t *v, enum routing_field_type t, struct buf *out, bool *is_null, char *why,
		    size_t whylen)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t len = s ? json_string_length(v) : 0;
	char num[64];
	bool ok;

	*is_null = json_is_null(v);
	if (*is_null)
		return 0;
	if (s != NULL && strlen(s) != len) {
		snprintf(why, whylen, "a string holding a NUL character (\\u0000)");
		return -1;
	}
	switch (t) {
	case ROUTING_FIELD_TEXT:
		ok = s != NULL || number_text(v, num, sizeof(num)) || json_is_boolean(v);
		if (ok && s == NULL)
			s = json_is_boolean(v) ? (json_is_true(v) ? "true" : "false") : num;
		break;
	case ROUTING_FIELD_INTEGER:
		if (json_is_real(v) && fabs(json_real_value(v)) < 9007199254740992.0 &&
		    json_real_value(v) == floor(json_real_value(v)))
			snprintf(num, sizeof(num), "%.0f", json_real_value(v));
		else if (!json_is_integer(v) || !number_text(v, num, sizeof(num)))
			num[0] = '\0';
		s = num[0] != '\0' ? num : s;
		ok = s != NULL && integer_valid(s, strlen(s));
		break;
	case ROUTING_FIELD_NUMERIC:
		s = number_text(v, num, sizeof(num)) ? num : s;
		ok = s != NULL && numeric_valid(s, strlen(s));
		break;
	case ROUTING_FIELD_DATE: ok = s != NULL && len == 10 && date_valid(s, len); break;
	case ROUTING_FIELD_TIMESTAMPTZ: ok = s != NULL && timestamptz_valid(s, len); break;
	case ROUTING_FIELD_BOOLEAN:
		if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		ok = s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0);
		break;
	default: ok = false;
	}
	if (!ok) {
		why_set(why, whylen, t, v);
		return -1;
	}
	if (buf_puts(out, s) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static bool column_required(const struct routing_table *rt, const char *col)
{
	if (strcmp(col, rt->unit_column) == 0)
		return true;
	for (size_t k = 0; k < rt->nkey; k++)
		if (strcmp(rt->key[k], col) == 0)
			return true;
	return false;
}

int pull_record_map(const struct routing_table *rt, json_t *rec, struct connector_value *vals,
		    struct buf *store, char *err, size_t errlen)
{
	size_t off = 0;

	buf_reset(store);
	if (!json_is_object(rec)) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	for (size_t i = 0; i < rt->nfields; i++) {
		const struct routing_field *f = &rt->fields[i];
		json_t *v = pull_path_get(rec, f->path);
		size_t before = store->len;
		bool is_null = true;
		char why[256];

		if (v != NULL && pull_value_text(v, f->type, store, &is_null, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "field \"%s\" (column %s): %s", f->path, f->column, why);
			return -1;
		}
		if (is_null && column_required(rt, f->column)) {
			snprintf(err, errlen, "field \"%s\" (column %s, %s) is %s", f->path, f->column,
				 strcmp(f->column, rt->unit_column) == 0 ? "the unit column" : "a key column",
				 v == NULL ? "missing" : "null");
			return -1;
		}
		vals[i].kind = is_null ? CV_NULL : CV_VALUE;
		vals[i].len = store->len - before;
	}
	/* the texts sit one after another in store, which no longer moves */
	for (size_t i = 0; i < rt->nfields; i++) {
		vals[i].p = vals[i].kind == CV_VALUE ? store->data + off : NULL;
		off += vals[i].kind == CV_VALUE ? vals[i].len : 0;
	}
	return 0;
}

/* The order of two cursor values (numbers as numbers, strings as text);
 * -2 when they cannot be compared. */
static int cursor_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return (json_integer_value(a) > json_integer_value(b)) -
		       (json_integer_value(a) < json_integer_value(b));
	if (json_is_number(a) && json_is_number(b))
		return (json_number_value(a) > json_number_value(b)) -
		       (json_number_value(a) < json_number_value(b));
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));

		return (c > 0) - (c < 0);
	}
	return -2;
}

/* A cursor value (a string or a number) as text into out. */
static int cursor_text(const json_t *v, struct buf *out)
{
	char num[64];

	buf_reset(out);
	if (json_is_string(v))
		return buf_puts(out, json_string_value(v));
	if (!number_text(v, num, sizeof(num)))
		return -1;
	return buf_puts(out, num);
}

int pull_page_cursor(json_t *page, json_t *records, const char *next_field, const char *cursor_field,
		     struct buf *out, bool *more, char *err, size_t errlen)
{
	const json_t *best = NULL, *v;
	size_t i;
	json_t *rec;

	*more = false;
	if (next_field != NULL) {
		v = pull_path_get(page, next_field);
		if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
			return 0;
		if (!json_is_string(v) && !json_is_number(v)) {
			snprintf(err, errlen, "the next-page token \"%s\" is neither a string nor a number",
				 next_field);
			return -1;
		}
		*more = true;
		return cursor_text(v, out) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	json_array_foreach (records, i, rec) {
		v = pull_path_get(rec, cursor_field);
		if (v == NULL || (!json_is_string(v) && !json_is_number(v))) {
			snprintf(err, errlen, "record %zu: the cursor field \"%s\" is %s", i, cursor_field,
				 v == NULL ? "missing" : "neither a string nor a number");
			return -1;
		}
		if (best != NULL && cursor_cmp(v, best) == -2) {
			snprintf(err, errlen,
				 "record %zu: the cursor field \"%s\" is a %s where record 0's is a %s", i,
				 cursor_field, json_is_string(v) ? "string" : "number",
				 json_is_string(best) ? "string" : "number");
			return -1;
		}
		if (best == NULL || cursor_cmp(v, best) > 0)
			best = v;
	}
	if (best == NULL)
		return 0;
	*more = true;
	return cursor_text(best, out) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
}

/* ---- the plan: the table's columns from its fields ---------------------------- */

/* PostgreSQL's names (as format_type() prints them) and OIDs of the field types. */
static const char *const pg_type_names[] = {"text",   "bigint", "numeric", "date", "timestamp with time zone",
					    "boolean"};
static const unsigned pg_type_oids[] = {25, 20, 1700, 1082, 1184, 16};

/* The one routed table of src, or NULL with err set. */
static const struct routing_table *pull_table(const struct routing *rt, const struct config_source *src,
					      char *err, size_t errlen)
{
	const struct routing_table *t = NULL;

	for (size_t i = 0; i < routing_table_count(rt); i++) {
		const struct routing_table *c = routing_table_get(rt, i);

		if (strcmp(c->source, src->name) != 0)
			continue;
		if (t != NULL) {
			snprintf(
				err, errlen,
				"routing.json: %s and %s both come from source %s, a kind = http source: its records feed one table; give each API its own [source NAME]",
				t->table, c->table, src->name);
			return NULL;
		}
		t = c;
	}
	if (t == NULL)
		snprintf(
			err, errlen,
			"source %s: routing.json routes no table of this source; add one (with \"fields\" and \"key\") or remove [source %s]",
			src->name, src->name);
	else if (t->fields == NULL)
		snprintf(
			err, errlen,
			"routing.json: %s: source %s is kind = http: the table needs \"fields\" ({\"column\": {\"field\": \"json.path\", \"type\": \"text\"}}) and \"key\"",
			t->table, src->name);
	return t != NULL && t->fields != NULL ? t : NULL;
}

static int pull_plan_columns(struct plan_table *p, const struct routing_table *rt)
{
	p->src.schema = strdup(rt->schema);
	p->src.name = strdup(rt->name);
	p->src.cols = calloc(rt->nfields, sizeof(*p->src.cols));
	if (p->src.schema == NULL || p->src.name == NULL || p->src.cols == NULL)
		return -1;
	for (size_t i = 0; i < rt->nfields; i++) {
		struct connector_column *c = &p->src.cols[i];

		p->src.ncols++;
		c->name = strdup(rt->fields[i].column);
		c->type = strdup(pg_type_names[rt->fields[i].type]);
		c->type_oid = pg_type_oids[rt->fields[i].type];
		c->typmod = -1;
		if (c->name == NULL || c->type == NULL)
			return -1;
		for (size_t k = 0; k < rt->nkey; k++)
			if (strcmp(rt->key[k], c->name) == 0) {
				c->key_pos = (int)k + 1;
				c->not_null = true;
				c->identity = true;
				p->key_idx[k] = (int)i;
			}
	}
	p->nkey = (int)rt->nkey;
	return 0;
}

/* run->tables: the source's one table, its columns the fields. */
static int pull_plan(struct sync_run *run, char *err, size_t errlen)
{
	const struct routing_table *rt = pull_table(run->rt, run->scfg, err, errlen);
	struct plan_table *p;

	if (rt == NULL)
		return -1;
	run->tables = calloc(1, sizeof(*run->tables));
	if (run->tables == NULL)
		goto oom;
	run->ntables = 1;
	p = &run->tables[0];
	p->rt = rt;
	p->mask = calloc(rt->nfields, sizeof(*p->mask));
	p->mask_on = calloc(rt->nfields, sizeof(bool));
	if (p->mask == NULL || p->mask_on == NULL || pull_plan_columns(p, rt) < 0)
		goto oom;
	p->nout = rt->nfields;
	p->unit_idx = sync_col_index(&p->src, rt->unit_column);
	p->date_idx = rt->date_column ? sync_col_index(&p->src, rt->date_column) : -1;
	p->split_idx = rt->split_column ? sync_col_index(&p->src, rt->split_column) : -1;
	for (size_t m = 0; m < rt->nmasks; m++) {
		int i = sync_col_index(&p->src, rt->masks[m].column);

		if (p->src.cols[i].key_pos > 0) {
			snprintf(err, errlen,
				 "routing.json: %s: key column \"%s\" cannot be masked: rows are found by it",
				 rt->table, rt->masks[m].column);
			return -1;
		}
		p->mask[i] = rt->masks[m].kind;
		p->mask_on[i] = true;
	}
	p->rebuild = rt->nmasks > 0;
	p->out = (struct connector_table){rt->target_table, p->src.cols, p->nout};
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int pull_check_source(const struct config *cfg, const struct routing *rt, const struct config_source *src,
		      char *err, size_t errlen)
{
	struct sync_run run = {.cfg = cfg, .rt = rt, .scfg = src};
	int r = pull_plan(&run, err, errlen);

	sync_run_free(&run);
	return r;
}

/* ---- the pull loop ------------------------------------------------------------ */

enum pull_step {
	PULL_MORE,	/* a page applied; the next one follows */
	PULL_DONE,	/* the round is over (an empty page, no next token) */
	PULL_RETRY,	/* the API or a database did not answer: again after the interval */
	PULL_MALFORMED, /* the page is wrong: nothing of it applied, the source stops */
};

struct pull {
	struct sync_run run;
	const struct stream_options *opt;
	struct plan_table *p;
	uint64_t *ckpt; /* per unit: the last page it holds */
	bool *touched;	/* per unit: rows of this page */
	struct buf cursor, next, url, body, store, probe;
	long long page_seq; /* the last page applied */
	struct connector_value *vals, *outv, keyv[MAX_KEY_COLS];
	struct http_pull_conf hc;
	long long applied, quarantined;
};

static void pull_free(struct pull *pl)
{
	struct state *st = pl->run.st;

	if (st != NULL && state_quarantine_open(st))
		state_quarantine_rollback(st);
	sync_run_free(&pl->run);
	state_free(st);
	free(pl->ckpt);
	free(pl->touched);
	free(pl->vals);
	free(pl->outv);
	buf_free(&pl->cursor);
	buf_free(&pl->next);
	buf_free(&pl->url);
	buf_free(&pl->body);
	buf_free(&pl->store);
	buf_free(&pl->probe);
	http_pull_handle_free(pl->hc.handle);
}

/* Each unit's checkpoint: the last page of this source it holds. */
static int pull_checkpoints(struct pull *pl, char *err, size_t errlen)
{
	struct sync_run *run = &pl->run;
	char lsn[32], msg[1024];

	for (size_t i = 0; i < run->nunits; i++) {
		struct unit_dest *u = &run->units[i];

		if (u->group->ops->checkpoint_get(u->group->ctx, u->schema, run->scfg->name, u->code, lsn,
						  sizeof(lsn), msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "unit %05d: %s", u->code, msg);
			return -1;
		}
		pl->ckpt[i] = 0;
		if (lsn[0] != '\0' && pgo_lsn_parse(lsn, &pl->ckpt[i]) < 0) {
			snprintf(err, errlen, "unit %05d: bad checkpoint \"%s\"", u->code, lsn);
			return -1;
		}
	}
	return 0;
}

/* Plans, connects the state DB and the units, creates missing unit tables,
 * reads the checkpoints and the cursor.  -1: retry later (err set). */
static int pull_open(struct pull *pl, char *err, size_t errlen)
{
	struct sync_run *run = &pl->run;
	const struct config_source *src = run->scfg;
	size_t n = routing_unit_count(run->rt);

	pl->hc.timeout_ms = src->timeout * 1000;
	pl->hc.ca_file = src->ca_file;
	pl->hc.bearer_token_file = src->auth && strcmp(src->auth, "bearer") == 0 ? src->token_file : NULL;
	pl->hc.handle = http_pull_handle_new();
	pl->ckpt = calloc(n + 1, sizeof(*pl->ckpt));
	pl->touched = calloc(n + 1, sizeof(bool));
	if (pl->hc.handle == NULL || pl->ckpt == NULL || pl->touched == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pull_plan(run, err, errlen) < 0)
		return -1;
	pl->p = &run->tables[0];
	pl->vals = calloc(pl->p->src.ncols, sizeof(*pl->vals));
	pl->outv = calloc(pl->p->src.ncols, sizeof(*pl->outv));
	if (pl->vals == NULL || pl->outv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	run->st = state_open(run->cfg->state_conninfo, run->cfg->state_password, err, errlen);
	if (run->st == NULL || sync_targets_open(run, false, err, errlen) < 0 ||
	    sync_targets_prepare(run, false, err, errlen) < 0 || pull_checkpoints(pl, err, errlen) < 0)
		return -1;
	return state_cursor_get(run->st, src->name, &pl->cursor, &pl->page_seq, err, errlen);
}

/* One record, mapped into pl->vals: to the quarantine, skipped (its unit
 * holds this page already), or upserted into its unit (fetch by key, then
 * update or insert).  -1 with err: a unit's database failed. */
static int pull_record_apply(struct pull *pl, uint64_t seq, const char *lsn, bool *dead, char *err,
			     size_t errlen)
{
	struct sync_run *run = &pl->run;
	const struct plan_table *p = pl->p;
	enum router_reason why;
	struct unit_dest *u;
	struct group *g;
	char msg[1024];
	bool is_null;
	int dest = row_route(run, p, pl->vals, &run->keybuf, &why, NULL), found;

	if (dest == ROW_NOMEM) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (dest == ROW_QUARANTINE &&
	    row_quarantine(run, p, pl->vals, why, lsn, &run->keybuf, err, errlen) < 0)
		return -1;
	if (dest == ROW_QUARANTINE || pl->ckpt[dest] >= seq)
		return 0;
	u = &run->units[dest];
	g = u->group;
	if (!g->in_tx && g->ops->begin(g->ctx, msg, sizeof(msg)) < 0)
		goto fail;
	g->in_tx = true;
	pl->touched[dest] = true;
	if (row_mask(p, pl->vals, pl->outv, &run->maskbuf) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int k = 0; k < p->nkey; k++)
		pl->keyv[k] = pl->vals[p->key_idx[k]];
	buf_reset(&pl->probe);
	found = g->ops->fetch(g->ctx, u->schema, &p->out, pl->keyv, 0, &pl->probe, &is_null, msg,
			      sizeof(msg));
	if (found < 0 ||
	    (found == 1 &&
	     g->ops->update(g->ctx, u->schema, &p->out, pl->keyv, pl->outv, msg, sizeof(msg)) < 0) ||
	    (found == 0 && g->ops->insert(g->ctx, u->schema, &p->out, pl->outv, msg, sizeof(msg)) < 0))
		goto fail;
	return 0;
fail:
	/* a database that still answers refused the row itself: retrying cannot mend it */
	*dead = g->ops->alive(g->ctx);
	snprintf(err, errlen, "unit %05d: %s", u->code, msg);
	return -1;
}

/* The page's units, then the quarantine with the cursor after the page and
 * its number, in one state-DB transaction; a crash between the two replays
 * the page, which the units' checkpoints then skip. */
static int pull_page_commit(struct pull *pl, uint64_t seq, const char *lsn, bool more, char *err,
			    size_t errlen)
{
	struct sync_run *run = &pl->run;
	const char *cursor = more ? pl->next.data : pl->cursor.data;

	if (apply_commit(run, pl->touched, lsn, false, err, errlen) < 0 ||
	    state_cursor_set(run->st, run->scfg->name, cursor ? cursor : "", (long long)seq, err, errlen) <
		    0 ||
	    state_quarantine_commit(run->st, run->scfg->name, lsn, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < run->nunits; i++)
		if (pl->touched[i])
			pl->ckpt[i] = seq;
	pl->page_seq = (long long)seq;
	return 0;
}

/* The page's URL: the cursor (none before the first page ever) and the size. */
static int pull_page_url(struct pull *pl)
{
	const struct config_source *src = pl->run.scfg;
	char size[32];
	const char *names[2] = {src->cursor_param, src->page_size_param};
	const char *values[2] = {pl->cursor.len > 0 ? pl->cursor.data : NULL, size};

	snprintf(size, sizeof(size), "%ld", src->page_size);
	return http_pull_url(src->url, names, values, 2, &pl->url);
}

/* The page's records applied (nothing committed yet).  PULL_MALFORMED with
 * what is wrong and where in err; PULL_RETRY when a database failed. */
static enum pull_step pull_records(struct pull *pl, json_t *records, uint64_t seq, const char *lsn, char *err,
				   size_t errlen)
{
	size_t i;
	json_t *rec;
	char msg[1024];

	json_array_foreach (records, i, rec) {
		bool dead = false;

		if (pull_record_map(pl->p->rt, rec, pl->vals, &pl->store, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "record %zu: %s", i, msg);
			return PULL_MALFORMED;
		}
		if (pull_record_apply(pl, seq, lsn, &dead, err, errlen) < 0)
			return dead ? PULL_MALFORMED : PULL_RETRY;
	}
	return PULL_MORE;
}

/* Parses the page: an object holding the records array.  NULL with err. */
static json_t *pull_page_parse(struct pull *pl, json_t **records, char *err, size_t errlen)
{
	const char *field = pl->run.scfg->records_field;
	json_error_t jerr;
	json_t *page = json_loadb(pl->body.data, pl->body.len, JSON_REJECT_DUPLICATES, &jerr);

	if (page == NULL) {
		snprintf(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	*records = json_is_object(page) ? pull_path_get(page, field) : NULL;
	if (!json_is_array(*records)) {
		snprintf(err, errlen, "no array \"%s\" in the page (records_field = %s)%s", field, field,
			 json_is_object(page) ? "" : ": the page is not a JSON object");
		json_decref(page);
		return NULL;
	}
	return page;
}

/* One page: GET, parse, apply, commit. */
static enum pull_step pull_page(struct pull *pl, char *err, size_t errlen)
{
	struct sync_run *run = &pl->run;
	uint64_t seq = (uint64_t)pl->page_seq + 1;
	enum pull_step step = PULL_RETRY;
	json_t *page = NULL, *records;
	bool more = false;
	char lsn[32];

	if (pull_page_url(pl) < 0) {
		snprintf(err, errlen, "out of memory");
		return PULL_RETRY;
	}
	if (http_pull_get(&pl->hc, pl->url.data, &pl->body, err, errlen) < 0)
		return PULL_RETRY;
	page = pull_page_parse(pl, &records, err, errlen);
	if (page == NULL)
		return PULL_MALFORMED;
	if (json_array_size(records) == 0) {
		json_decref(page);
		return PULL_DONE;
	}
	pgo_lsn_format(seq, lsn, sizeof(lsn));
	memset(pl->touched, 0, run->nunits * sizeof(bool));
	run->quarantined = 0;
	if (state_quarantine_begin(run->st, run->scfg->name, false, err, errlen) < 0)
		goto out;
	step = pull_records(pl, records, seq, lsn, err, errlen);
	if (step == PULL_MORE && pull_page_cursor(page, records, run->scfg->next_field,
						  run->scfg->cursor_field, &pl->next, &more, err, errlen) < 0)
		step = PULL_MALFORMED;
	if (step == PULL_MORE && pull_page_commit(pl, seq, lsn, more, err, errlen) < 0)
		step = PULL_RETRY;
	if (step != PULL_MORE)
		goto out;
	pl->applied += (long long)(json_array_size(records) - (size_t)run->quarantined);
	pl->quarantined += run->quarantined;
	log_debug("source %s: page %llu: %zu records (%lld quarantined), cursor now \"%s\"", run->scfg->name,
		  (unsigned long long)seq, json_array_size(records), run->quarantined,
		  more ? pl->next.data : pl->cursor.data);
	/* a cursor that did not move would read this page for ever */
	if (!more || strcmp(pl->next.data, pl->cursor.data) == 0) {
		step = PULL_DONE;
	} else {
		buf_reset(&pl->cursor);
		if (buf_puts(&pl->cursor, pl->next.data) < 0)
			step = PULL_RETRY;
	}
out:
	if (step != PULL_MORE && step != PULL_DONE)
		apply_rollback(run, true);
	json_decref(page);
	return step;
}

/* Waits seconds (0: not at all), counting beats; false when told to stop. */
static bool pull_wait(const struct stream_options *opt, long seconds)
{
	struct timespec step = {0, 200 * 1000 * 1000};

	for (long i = 0; i < seconds * 5; i++) {
		if (*opt->stop)
			return false;
		if (opt->status != NULL)
			atomic_fetch_add(&opt->status->beats, 1);
		nanosleep(&step, NULL);
	}
	return !*opt->stop;
}

/* What the rest of the daemon sees (status line, /metrics, watchdog). */
static void pull_publish(struct pull *pl, bool up)
{
	struct stream_status *st = pl->opt->status;

	if (st == NULL)
		return;
	atomic_fetch_add(&st->beats, 1);
	atomic_store(&st->streaming, up);
	atomic_store(&st->received, (unsigned long long)pl->page_seq);
	atomic_store(&st->flushed, (unsigned long long)pl->page_seq);
	atomic_store(&st->applied, pl->applied);
	atomic_store(&st->quarantined, pl->quarantined);
	for (size_t i = 0; st->unit_lsn != NULL && i < pl->run.nunits; i++) {
		int k = routing_unit_index(pl->run.rt, pl->run.units[i].code);

		if (k >= 0 && (size_t)k < st->nunits)
			atomic_store(&st->unit_lsn[k], pl->ckpt[i]);
	}
}

/* One session: opened, then rounds until stopped (or one round with
 * once).  PULL_DONE when stopped or done, PULL_RETRY, PULL_MALFORMED. */
static enum pull_step pull_session(struct pull *pl, char *err, size_t errlen)
{
	const struct config_source *src = pl->run.scfg;
	enum pull_step step;

	if (pull_open(pl, err, errlen) < 0)
		return PULL_RETRY;
	log_info("source %s: pulling %s every %ld s from page %lld%s%s%s", src->name, src->url, src->interval,
		 pl->page_seq + 1, pl->cursor.len > 0 ? " (cursor \"" : "", pl->cursor.data,
		 pl->cursor.len > 0 ? "\")" : "");
	for (;;) {
		pull_publish(pl, true);
		if (*pl->opt->stop)
			return PULL_DONE;
		step = pull_page(pl, err, errlen);
		if (step == PULL_MALFORMED || step == PULL_RETRY)
			return step;
		if (step == PULL_DONE && (pl->opt->once || !pull_wait(pl->opt, src->interval)))
			return PULL_DONE;
	}
}

int pull_run(const struct config *cfg, const struct routing *rt, const struct config_source *src,
	     const struct stream_options *opt, struct stream_result *res, char *err, size_t errlen)
{
	for (;;) {
		struct pull pl = {.run = {.cfg = cfg, .rt = rt, .scfg = src}, .opt = opt};
		char first[256];
		enum pull_step step = pull_session(&pl, err, errlen);

		memset(res, 0, sizeof(*res));
		res->snap.already_done = true;
		res->applied = pl.applied;
		res->quarantined = pl.quarantined;
		snprintf(res->position, sizeof(res->position), "page %lld", pl.page_seq);
		snprintf(res->snap.snap.lsn, sizeof(res->snap.snap.lsn), "page %lld", pl.page_seq);
		snprintf(first, sizeof(first), "%s", pl.cursor.len > 0 ? pl.cursor.data : "");
		pull_publish(&pl, false);
		pull_free(&pl);
		if (step == PULL_DONE)
			return 0;
		if (step == PULL_MALFORMED) {
			char what[1536];

			snprintf(what, sizeof(what), "%s", err);
			snprintf(
				err, errlen,
				"source %s: page %lld (%s%s%s) is malformed: %s; nothing of this page was applied and the source stops: have the API's data fixed, or the table's \"fields\" in routing.json, then restart syncd",
				src->name, pl.page_seq + 1,
				first[0] ? "cursor \"" : "the first page, no cursor", first,
				first[0] ? "\"" : "", what);
			return -1;
		}
		if (opt->once)
			return -1;
		if (opt->status != NULL)
			atomic_fetch_add(&opt->status->retries, 1);
		log_warn("source %s: %s; trying again in %ld s", src->name, err, src->interval);
		if (!pull_wait(opt, src->interval))
			return 0;
	}
}
