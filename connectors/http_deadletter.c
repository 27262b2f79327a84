/* http_deadletter.c — the HTTP targets' dead letters for the operator: the
 * list and one dead letter with its batch (read from syncd_deadletter and
 * syncd_http_batch), and the two resolutions, retry and discard, each one
 * transaction that also lifts the unit's pause when nothing else holds it. */
#include "connectors/http_deadletter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

const char *deadletter_result_name(enum deadletter_result r)
{
	switch (r) {
	case DEADLETTER_OK: return "ok";
	case DEADLETTER_NOT_FOUND: return "not_found";
	case DEADLETTER_CONFLICT: return "conflict";
	case DEADLETTER_INVALID: return "invalid";
	case DEADLETTER_UNAVAILABLE: return "unavailable";
	case DEADLETTER_NOMEM: return "nomem";
	}
	return "?";
}

int deadletter_id_parse(const char *s, long long *id)
{
	char *end;
	long long v;

	/* strtoll alone would take " 7", "+7" and "7abc" */
	if (s == NULL || s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
		return -1;
	*id = v;
	return 0;
}

bool deadletter_reason_blank(const char *s)
{
	return s == NULL || strspn(s, " \t\r\n") == strlen(s);
}

/* ------------------------------------------------------------ reading */

/* to_char's format of a timestamptz in UTC, RFC 3339 to the second */
#define DL_UTC "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* The columns of a dead letter and its batch; the first %s is the
 * response excerpt's expression, the second the body's ("NULL" in a list). */
#define DL_SELECT                                                                                            \
	"SELECT d.id, d.batch, d.target, d.unit, d.batch_id, d.http_status, d.error, %s, "                   \
	"d.attempts, to_char(d.dead_at AT TIME ZONE 'UTC', " DL_UTC "), "                                    \
	"to_char(d.resolved_at AT TIME ZONE 'UTC', " DL_UTC "), d.resolution, "                              \
	"d.resolved_by, d.reason, b.source, b.state, b.changes, b.lsn_from::text, "                          \
	"b.lsn_to::text, b.content_type, to_char(b.created_at AT TIME ZONE 'UTC', " DL_UTC                   \
	"), EXISTS (SELECT 1 FROM public.syncd_http_paused p WHERE p.target = d.target "                     \
	"AND p.unit = d.unit), %s FROM public.syncd_deadletter d "                                           \
	"JOIN public.syncd_http_batch b ON b.id = d.batch"

/* DL_SELECT's columns, in order */
enum {
	C_ID,
	C_BATCH,
	C_TARGET,
	C_UNIT,
	C_BATCH_ID,
	C_HTTP_STATUS,
	C_ERROR,
	C_EXCERPT,
	C_ATTEMPTS,
	C_DEAD_AT,
	C_RESOLVED_AT,
	C_RESOLUTION,
	C_RESOLVED_BY,
	C_REASON,
	C_SOURCE,
	C_STATE,
	C_CHANGES,
	C_LSN_FROM,
	C_LSN_TO,
	C_CONTENT_TYPE,
	C_CREATED_AT,
	C_PAUSED,
	C_BODY,
};

/* row i's column k, NULL for a NULL */
static const char *col(const PGresult *r, int i, int k)
{
	return PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
}

static void row_fill(const PGresult *r, int i, struct deadletter *d)
{
	memset(d, 0, sizeof(*d));
	d->id = strtoll(PQgetvalue(r, i, C_ID), NULL, 10);
	d->batch = strtoll(PQgetvalue(r, i, C_BATCH), NULL, 10);
	d->target = col(r, i, C_TARGET);
	d->unit = atoi(PQgetvalue(r, i, C_UNIT));
	d->batch_id = col(r, i, C_BATCH_ID);
	d->http_status = atoi(PQgetvalue(r, i, C_HTTP_STATUS));
	d->error = col(r, i, C_ERROR);
	d->response_excerpt = col(r, i, C_EXCERPT);
	d->attempts = atoi(PQgetvalue(r, i, C_ATTEMPTS));
	d->dead_at = col(r, i, C_DEAD_AT);
	d->resolved_at = col(r, i, C_RESOLVED_AT);
	d->resolution = col(r, i, C_RESOLUTION);
	d->resolved_by = col(r, i, C_RESOLVED_BY);
	d->reason = col(r, i, C_REASON);
	d->source = col(r, i, C_SOURCE);
	d->batch_state = col(r, i, C_STATE);
	d->changes = atoi(PQgetvalue(r, i, C_CHANGES));
	d->lsn_from = col(r, i, C_LSN_FROM);
	d->lsn_to = col(r, i, C_LSN_TO);
	d->content_type = col(r, i, C_CONTENT_TYPE);
	d->created_at = col(r, i, C_CREATED_AT);
	d->paused = strcmp(PQgetvalue(r, i, C_PAUSED), "t") == 0;
}

int deadletter_list_sql(const struct deadletter_filter *f, struct buf *sql, const char **params, int *np,
			char unitbuf[12])
{
	*np = 0;
	if (buf_printf(sql, DL_SELECT, "NULL", "NULL") < 0 || buf_puts(sql, " WHERE true") < 0)
		return -1;
	if (!f->all && buf_puts(sql, " AND d.resolved_at IS NULL") < 0)
		return -1;
	if (f->target != NULL) {
		params[(*np)++] = f->target;
		if (buf_printf(sql, " AND d.target = $%d", *np) < 0)
			return -1;
	}
	if (f->unit > 0) {
		snprintf(unitbuf, 12, "%d", f->unit);
		params[(*np)++] = unitbuf;
		if (buf_printf(sql, " AND d.unit = $%d::int", *np) < 0)
			return -1;
	}
	return buf_printf(sql, " ORDER BY d.id DESC LIMIT %d", DEADLETTER_LIST_MAX + 1);
}

enum deadletter_result deadletter_list(PGconn *db, const struct deadletter_filter *f,
				       struct deadletter_list *out, char *err, size_t errlen)
{
	struct buf sql = {0};
	const char *params[2];
	char unitbuf[12];
	PGresult *r;
	int np, n;

	memset(out, 0, sizeof(*out));
	if (deadletter_list_sql(f, &sql, params, &np, unitbuf) < 0) {
		buf_free(&sql);
		snprintf(err, errlen, "out of memory");
		return DEADLETTER_NOMEM;
	}
	r = pg_query(db, sql.data, np, params, err, errlen);
	buf_free(&sql);
	if (r == NULL)
		return DEADLETTER_UNAVAILABLE;
	n = PQntuples(r);
	out->more = n > DEADLETTER_LIST_MAX;
	out->n = (size_t)(out->more ? DEADLETTER_LIST_MAX : n);
	out->items = out->n ? calloc(out->n, sizeof(*out->items)) : NULL;
	if (out->n > 0 && out->items == NULL) {
		PQclear(r);
		snprintf(err, errlen, "out of memory");
		return DEADLETTER_NOMEM;
	}
	for (size_t i = 0; i < out->n; i++)
		row_fill(r, (int)i, &out->items[i]);
	out->res = r;
	return DEADLETTER_OK;
}

void deadletter_list_free(struct deadletter_list *l)
{
	free(l->items);
	PQclear(l->res);
	memset(l, 0, sizeof(*l));
}

enum deadletter_result deadletter_get(PGconn *db, long long id, bool with_body, struct deadletter_item *out,
				      char *err, size_t errlen)
{
	struct buf sql = {0};
	char ids[24];
	const char *p[1] = {ids};
	PGresult *r;

	memset(out, 0, sizeof(*out));
	snprintf(ids, sizeof(ids), "%lld", id);
	if (buf_printf(&sql, DL_SELECT " WHERE d.id = $1::bigint", "d.response_excerpt",
		       with_body ? "b.body" : "NULL") < 0) {
		buf_free(&sql);
		snprintf(err, errlen, "out of memory");
		return DEADLETTER_NOMEM;
	}
	r = pg_query(db, sql.data, 1, p, err, errlen);
	buf_free(&sql);
	if (r == NULL)
		return DEADLETTER_UNAVAILABLE;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "no dead letter %s", ids);
		return DEADLETTER_NOT_FOUND;
	}
	row_fill(r, 0, &out->d);
	if (with_body && !PQgetisnull(r, 0, C_BODY)) {
		out->d.body =
			PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, C_BODY), &out->d.body_len);
		if (out->d.body == NULL) {
			PQclear(r);
			memset(out, 0, sizeof(*out));
			snprintf(err, errlen, "out of memory");
			return DEADLETTER_NOMEM;
		}
	}
	out->res = r;
	return DEADLETTER_OK;
}

void deadletter_item_free(struct deadletter_item *it)
{
	if (it->d.body != NULL)
		PQfreemem(it->d.body);
	PQclear(it->res);
	memset(it, 0, sizeof(*it));
}

/* ------------------------------------------------------------ resolving */

/* The dead letter's row, locked until the transaction ends, into *out.
 * OK when it is open; NOT_FOUND; CONFLICT with how it was resolved. */
static enum deadletter_result resolve_lock(PGconn *db, const char *ids, struct deadletter_resolution *out,
					   char *err, size_t errlen)
{
	const char *p[1] = {ids};
	enum deadletter_result res = DEADLETTER_OK;
	PGresult *r = pg_query(db,
			       "SELECT batch, target, unit, batch_id, coalesce(resolution, ''), "
			       "coalesce(resolved_by, ''), "
			       "coalesce(to_char(resolved_at AT TIME ZONE 'UTC', " DL_UTC "), ''), "
			       "resolved_at IS NOT NULL FROM public.syncd_deadletter WHERE id = $1::bigint "
			       "FOR UPDATE",
			       1, p, err, errlen);

	if (r == NULL)
		return DEADLETTER_UNAVAILABLE;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "no dead letter %s", ids);
		return DEADLETTER_NOT_FOUND;
	}
	out->batch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	snprintf(out->target, sizeof(out->target), "%s", PQgetvalue(r, 0, 1));
	out->unit = atoi(PQgetvalue(r, 0, 2));
	snprintf(out->batch_id, sizeof(out->batch_id), "%s", PQgetvalue(r, 0, 3));
	if (strcmp(PQgetvalue(r, 0, 7), "t") == 0) {
		snprintf(out->resolution, sizeof(out->resolution), "%s", PQgetvalue(r, 0, 4));
		snprintf(out->resolved_by, sizeof(out->resolved_by), "%s", PQgetvalue(r, 0, 5));
		snprintf(out->resolved_at, sizeof(out->resolved_at), "%s", PQgetvalue(r, 0, 6));
		snprintf(err, errlen, "dead letter %s was already %s by %s at %s", ids, out->resolution,
			 out->resolved_by, out->resolved_at);
		res = DEADLETTER_CONFLICT;
	}
	PQclear(r);
	return res;
}

/* One statement of the resolution that returns rows; the number of rows
 * into *n (may be NULL), the first row's first value into first (may be
 * NULL).  0, or -1 with err. */
static int resolve_step(PGconn *db, const char *sql, int np, const char *const *p, int *n, char *first,
			size_t firstlen, char *err, size_t errlen)
{
	PGresult *r = pg_query(db, sql, np, p, err, errlen);

	if (r == NULL)
		return -1;
	if (n != NULL)
		*n = PQntuples(r);
	if (first != NULL)
		snprintf(first, firstlen, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

/* The statements of a resolution, each by the dead letter's id ($1). */
/* The pause row is locked too: two operators resolving the two last open
 * dead letters of one unit at once must not both see the other still open. */
static const char sql_pause_lock[] =
	"SELECT 1 FROM public.syncd_http_paused p JOIN public.syncd_deadletter d "
	"ON p.target = d.target AND p.unit = d.unit WHERE d.id = $1::bigint FOR UPDATE OF p";
static const char sql_resolved[] = "UPDATE public.syncd_deadletter SET resolved_at = now(), resolution = $2, "
				   "resolved_by = $3, reason = $4 WHERE id = $1::bigint "
				   "RETURNING to_char(resolved_at AT TIME ZONE 'UTC', " DL_UTC ")";
static const char sql_batch_retried[] =
	"UPDATE public.syncd_http_batch b SET state = 'pending', attempts = 0, first_failed_at = NULL "
	"FROM public.syncd_deadletter d WHERE d.id = $1::bigint AND b.id = d.batch "
	"RETURNING b.id";
static const char sql_batch_discarded[] =
	"UPDATE public.syncd_http_batch b SET state = 'discarded' "
	"FROM public.syncd_deadletter d WHERE d.id = $1::bigint AND b.id = d.batch "
	"RETURNING b.id";
/* run after this dead letter's own row was resolved: it no longer counts */
static const char sql_unpause[] =
	"DELETE FROM public.syncd_http_paused p USING public.syncd_deadletter d "
	"WHERE d.id = $1::bigint AND p.target = d.target AND p.unit = d.unit AND NOT EXISTS "
	"(SELECT 1 FROM public.syncd_deadletter o WHERE o.target = d.target AND o.unit = d.unit "
	"AND o.resolved_at IS NULL) RETURNING 1";
static const char sql_still_paused[] =
	"SELECT 1 FROM public.syncd_http_paused p JOIN public.syncd_deadletter d "
	"ON p.target = d.target AND p.unit = d.unit WHERE d.id = $1::bigint";

/* The locked, open dead letter resolved: its row, its batch, the pause.
 * 0, or -1 with err. */
static int resolve_apply(PGconn *db, const char *ids, bool retry, const char *who, const char *reason,
			 struct deadletter_resolution *out, char *err, size_t errlen)
{
	const char *row[4] = {ids, retry ? "retried" : "discarded", who, reason};
	int n = 0, still = 0;

	if (resolve_step(db, sql_pause_lock, 1, row, NULL, NULL, 0, err, errlen) < 0 ||
	    resolve_step(db, sql_resolved, 4, row, NULL, out->resolved_at, sizeof(out->resolved_at), err,
			 errlen) < 0 ||
	    resolve_step(db, retry ? sql_batch_retried : sql_batch_discarded, 1, row, NULL, NULL, 0, err,
			 errlen) < 0 ||
	    resolve_step(db, sql_unpause, 1, row, &n, NULL, 0, err, errlen) < 0 ||
	    resolve_step(db, sql_still_paused, 1, row, &still, NULL, 0, err, errlen) < 0)
		return -1;
	snprintf(out->resolution, sizeof(out->resolution), "%s", row[1]);
	snprintf(out->resolved_by, sizeof(out->resolved_by), "%s", who);
	out->unpaused = n > 0;
	out->paused = still > 0;
	return 0;
}

static enum deadletter_result resolve(PGconn *db, long long id, bool retry, const char *who,
				      const char *reason, struct deadletter_resolution *out, char *err,
				      size_t errlen)
{
	enum deadletter_result res;
	char ids[24], e2[256];

	memset(out, 0, sizeof(*out));
	if (who == NULL || who[0] == '\0') {
		snprintf(err, errlen, "who resolves the dead letter is not known");
		return DEADLETTER_INVALID;
	}
	if (!retry && deadletter_reason_blank(reason)) {
		snprintf(err, errlen, "a discard needs a reason: the batch is never sent");
		return DEADLETTER_INVALID;
	}
	if (reason != NULL && strlen(reason) > DEADLETTER_REASON_MAX) {
		snprintf(err, errlen, "the reason is longer than %d bytes", DEADLETTER_REASON_MAX);
		return DEADLETTER_INVALID;
	}
	if (deadletter_reason_blank(reason))
		reason = NULL;
	snprintf(ids, sizeof(ids), "%lld", id);
	if (pg_exec(db, "BEGIN", err, errlen) < 0)
		return DEADLETTER_UNAVAILABLE;
	res = resolve_lock(db, ids, out, err, errlen);
	if (res == DEADLETTER_OK && resolve_apply(db, ids, retry, who, reason, out, err, errlen) < 0)
		res = DEADLETTER_UNAVAILABLE;
	if (res == DEADLETTER_OK && pg_exec(db, "COMMIT", err, errlen) < 0)
		res = DEADLETTER_UNAVAILABLE;
	if (res != DEADLETTER_OK && PQtransactionStatus(db) != PQTRANS_IDLE)
		(void)pg_exec(db, "ROLLBACK", e2, sizeof(e2));
	if (res == DEADLETTER_OK)
		err[0] = '\0';
	return res;
}

enum deadletter_result deadletter_retry(PGconn *db, long long id, const char *who, const char *reason,
					struct deadletter_resolution *out, char *err, size_t errlen)
{
	return resolve(db, id, true, who, reason, out, err, errlen);
}

enum deadletter_result deadletter_discard(PGconn *db, long long id, const char *who, const char *reason,
					  struct deadletter_resolution *out, char *err, size_t errlen)
{
	return resolve(db, id, false, who, reason, out, err, errlen);
}
