/* http_outbox.c — the HTTP targets' batches and positions in the state
 * database: queueing (with the stream's transaction) and the delivery's
 * reads and verdicts; see http_outbox.h. */
#include "connectors/http_outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fence.h"
#include "common/pg.h"
#include "connectors/pgoutput.h"

static void lsn_text(uint64_t lsn, char *out, size_t outlen)
{
	pgo_lsn_format(lsn, out, outlen);
}

/* Runs a parameterised command that returns no rows. */
static int exec_params(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
		       char *err, size_t errlen)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(c, what, err, errlen);
		r = -1;
	}
	PQclear(res);
	return r;
}

int http_outbox_queued_get(PGconn *c, const char *target, const char *source, int unit, uint64_t *queued,
			   uint64_t *last_batch, char *err, size_t errlen)
{
	char u[16];
	const char *params[3] = {target, source, u};
	uint64_t lb = 0;
	PGresult *res;
	int r = 0;

	snprintf(u, sizeof(u), "%d", unit);
	*queued = 0;
	if (last_batch != NULL)
		*last_batch = 0;
	res = pg_query(
		c,
		"SELECT queued_lsn::text, coalesce(batch_lsn, '0/0')::text FROM public.syncd_http_checkpoint "
		"WHERE target = $1 AND source = $2 AND unit = $3 FOR UPDATE",
		3, params, err, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && pgo_lsn_parse(PQgetvalue(res, 0, 1), &lb) == 0 && last_batch != NULL)
		*last_batch = lb;
	if (PQntuples(res) == 1 && pgo_lsn_parse(PQgetvalue(res, 0, 0), queued) < 0) {
		snprintf(err, errlen, "target %s unit %05d: bad queued position \"%s\"", target, unit,
			 PQgetvalue(res, 0, 0));
		r = -1;
	}
	PQclear(res);
	return r;
}

int http_outbox_queued_set(PGconn *c, const char *target, const char *source, int unit, uint64_t queued,
			   uint64_t last_batch, char *err, size_t errlen)
{
	char u[16], lsn[32], lb[32], term[24];
	const char *params[6] = {target, source, u, lsn, last_batch ? lb : NULL, term};

	snprintf(u, sizeof(u), "%d", unit);
	lsn_text(queued, lsn, sizeof(lsn));
	lsn_text(last_batch, lb, sizeof(lb));
	fence_text(term, sizeof(term));
	return exec_params(
		c, "syncd_http_checkpoint",
		"INSERT INTO public.syncd_http_checkpoint (target, source, unit, queued_lsn, batch_lsn, term) "
		"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (target, source, unit) "
		"DO UPDATE SET queued_lsn = EXCLUDED.queued_lsn, term = EXCLUDED.term, "
		"batch_lsn = coalesce(EXCLUDED.batch_lsn, public.syncd_http_checkpoint.batch_lsn)",
		6, params, err, errlen);
}

int http_outbox_enqueue(PGconn *c, const struct http_outbox_new *b, char *err, size_t errlen)
{
	char u[16], from[32], to[32], n[16];
	const char *params[9];
	int lengths[9] = {0}, formats[9] = {0};
	PGresult *res;
	int r = 0;

	snprintf(u, sizeof(u), "%d", b->unit);
	snprintf(n, sizeof(n), "%d", b->changes);
	lsn_text(b->lsn_from, from, sizeof(from));
	lsn_text(b->lsn_to, to, sizeof(to));
	params[0] = b->target;
	params[1] = u;
	params[2] = b->source;
	params[3] = b->batch_id;
	params[4] = b->lsn_to == 0 ? NULL : from;
	params[5] = b->lsn_to == 0 ? NULL : to;
	params[6] = n;
	params[7] = b->content_type;
	params[8] = b->body;
	lengths[8] = (int)b->len;
	formats[8] = 1; /* the body as bytes: bytea */
	res = PQexecParams(c,
			   "INSERT INTO public.syncd_http_batch (target, unit, source, batch_id, lsn_from, "
			   "lsn_to, changes, content_type, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			   9, NULL, params, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];

		pg_error(c, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "target %s unit %05d: batch %s not queued: %s", b->target, b->unit,
			 b->batch_id, msg);
		r = -1;
	}
	PQclear(res);
	return r;
}

int http_outbox_paused_list(PGconn *c, const char *target, struct http_outbox_paused **out, size_t *n,
			    char *err, size_t errlen)
{
	const char *params[1] = {target};
	PGresult *res =
		pg_query(c,
			 "SELECT p.unit, p.detached, coalesce(sum(length(b.body)), 0) "
			 "FROM public.syncd_http_paused p LEFT JOIN public.syncd_http_batch b "
			 "ON b.target = p.target AND b.unit = p.unit AND b.state IN ('pending', 'dead') "
			 "WHERE p.target = $1 GROUP BY p.unit, p.detached",
			 1, params, err, errlen);

	*out = NULL;
	*n = 0;
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0 && (*out = calloc((size_t)PQntuples(res), sizeof(**out))) == NULL) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < PQntuples(res); i++)
		(*out)[(*n)++] = (struct http_outbox_paused){atoi(PQgetvalue(res, i, 0)),
							     PQgetvalue(res, i, 1)[0] == 't',
							     strtoll(PQgetvalue(res, i, 2), NULL, 10)};
	PQclear(res);
	return 0;
}

int http_outbox_detach(PGconn *c, const char *target, int unit, const char *why, char *err, size_t errlen)
{
	char u[16];
	const char *p2[2] = {target, u};
	const char *p3[3] = {target, u, why};

	snprintf(u, sizeof(u), "%d", unit);
	return exec_params(
		       c, "syncd_deadletter",
		       "UPDATE public.syncd_deadletter SET resolved_at = now(), resolution = 'discarded', "
		       "resolved_by = 'syncd', reason = $3 WHERE target = $1 AND unit = $2 AND resolved_at IS NULL",
		       3, p3, err, errlen) < 0 ||
			       exec_params(c, "syncd_http_batch",
					   "UPDATE public.syncd_http_batch SET state = 'discarded' "
					   "WHERE target = $1 AND unit = $2 AND state IN ('pending', 'dead')",
					   2, p2, err, errlen) < 0 ||
			       exec_params(c, "syncd_http_paused",
					   "UPDATE public.syncd_http_paused SET detached = true, reason = $3 "
					   "WHERE target = $1 AND unit = $2",
					   3, p3, err, errlen) < 0
		       ? -1
		       : 0;
}

int http_outbox_reattach(PGconn *c, const char *target, int unit, char *err, size_t errlen)
{
	char u[16];
	const char *params[2] = {target, u};

	snprintf(u, sizeof(u), "%d", unit);
	return exec_params(
		c, "syncd_http_paused",
		"DELETE FROM public.syncd_http_paused WHERE target = $1 AND unit = $2 AND detached", 2,
		params, err, errlen);
}

void http_outbox_batch_clear(struct http_outbox_batch *b)
{
	free(b->body);
	memset(b, 0, sizeof(*b));
}

int http_outbox_units_due(PGconn *c, const char *target, int **units, size_t *n, char *err, size_t errlen)
{
	const char *params[1] = {target};
	PGresult *res;

	*units = NULL;
	*n = 0;
	/* a unit whose oldest open batch is dead waits: it is not due */
	res = pg_query(c,
		       "SELECT b.unit FROM public.syncd_http_batch b WHERE b.target = $1 "
		       "AND b.state IN ('pending', 'dead') GROUP BY b.unit "
		       "HAVING bool_and(b.state = 'pending') ORDER BY b.unit",
		       1, params, err, errlen);
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0 && (*units = calloc((size_t)PQntuples(res), sizeof(**units))) == NULL) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < PQntuples(res); i++)
		(*units)[(*n)++] = atoi(PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static void copy_field(char *out, size_t outlen, const PGresult *res, int col)
{
	snprintf(out, outlen, "%s", PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
}

#define NEXT_COLS                                                                                            \
	"SELECT id::text, source, batch_id, lsn_to::text, content_type, attempts::text, state = 'dead', "    \
	"body, coalesce(extract(epoch FROM now() - first_failed_at)::bigint, 0)::text, changes::text "       \
	"FROM public.syncd_http_batch b "
/* b.id: the output column "id" is text, and "10" sorts before "9" */
#define NEXT_ORDER " AND state IN ('pending', 'dead') ORDER BY b.id LIMIT 1"

int http_outbox_prepare(PGconn *c, char *err, size_t errlen)
{
	static const struct {
		const char *name, *sql;
		int n;
	} stmts[] = {
		{"syncd_http_next", NEXT_COLS "WHERE target = $1 AND unit = $2::int" NEXT_ORDER, 2},
		/* the batch delivered, the unit's position moved, and the unit's next
		 * batch read: one round trip and one transaction */
		{"syncd_http_delivered_next",
		 "WITH d AS (UPDATE public.syncd_http_batch SET state = 'delivered', delivered_at = now(), "
		 "attempts = attempts + 1, last_error = NULL WHERE id = $1::bigint RETURNING id), "
		 "c AS (UPDATE public.syncd_http_checkpoint SET delivered_lsn = $5::pg_lsn "
		 "WHERE EXISTS (SELECT 1 FROM d) AND $5::pg_lsn IS NOT NULL AND target = $2 AND source = $3 "
		 "AND unit = $4::int AND (delivered_lsn IS NULL OR delivered_lsn < $5::pg_lsn) RETURNING 1) " NEXT_COLS
		 "WHERE target = $2 AND unit = $4::int AND b.id > $1::bigint" NEXT_ORDER,
		 5},
	};

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *res = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].n, NULL);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		PQclear(res);
		if (!ok) {
			pg_error(c, stmts[i].name, err, errlen);
			return -1;
		}
	}
	return 0;
}

/* The batch a NEXT_COLS row holds (binary result: text columns are their
 * bytes, a bool one byte): 1, 0 no row, -1 with err set. */
static int batch_read(PGconn *c, PGresult *res, int unit, struct http_outbox_batch *b, char *err,
		      size_t errlen)
{
	memset(b, 0, sizeof(*b));
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(c, "syncd_http_batch", err, errlen);
		return -1;
	}
	if (PQntuples(res) == 0)
		return 0;
	b->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	b->unit = unit;
	copy_field(b->source, sizeof(b->source), res, 1);
	copy_field(b->batch_id, sizeof(b->batch_id), res, 2);
	copy_field(b->lsn_to, sizeof(b->lsn_to), res, 3);
	copy_field(b->content_type, sizeof(b->content_type), res, 4);
	b->attempts = atoi(PQgetvalue(res, 0, 5));
	b->dead = PQgetvalue(res, 0, 6)[0] != 0;
	b->failing_s = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	b->changes = atoi(PQgetvalue(res, 0, 9));
	b->len = (size_t)PQgetlength(res, 0, 7);
	if ((b->body = malloc(b->len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(b->body, PQgetvalue(res, 0, 7), b->len);
	b->body[b->len] = '\0';
	return 1;
}

int http_outbox_next(PGconn *c, const char *target, int unit, struct http_outbox_batch *b, char *err,
		     size_t errlen)
{
	char u[16];
	const char *params[2] = {target, u};
	PGresult *res;
	int r;

	snprintf(u, sizeof(u), "%d", unit);
	/* the body comes back as bytes (binary result), everything else as text */
	res = PQexecPrepared(c, "syncd_http_next", 2, params, NULL, NULL, 1);
	r = batch_read(c, res, unit, b, err, errlen);
	PQclear(res);
	return r;
}

int http_outbox_delivered_next(PGconn *c, const char *target, const struct http_outbox_batch *done,
			       struct http_outbox_batch *next, char *err, size_t errlen)
{
	char id[32], u[16];
	const char *params[5] = {id, target, done->source, u, done->lsn_to[0] ? done->lsn_to : NULL};
	PGresult *res;
	int r;

	snprintf(id, sizeof(id), "%lld", done->id);
	snprintf(u, sizeof(u), "%d", done->unit);
	res = PQexecPrepared(c, "syncd_http_delivered_next", 5, params, NULL, NULL, 1);
	r = batch_read(c, res, done->unit, next, err, errlen);
	PQclear(res);
	return r;
}

int http_outbox_attempt_failed(PGconn *c, const struct http_outbox_batch *b, const char *error, char *err,
			       size_t errlen)
{
	char id[32];
	const char *params[2] = {id, error};

	snprintf(id, sizeof(id), "%lld", b->id);
	return exec_params(c, "syncd_http_batch",
			   "UPDATE public.syncd_http_batch SET attempts = attempts + 1, last_error = $2, "
			   "first_failed_at = coalesce(first_failed_at, now()) WHERE id = $1",
			   2, params, err, errlen);
}

int http_outbox_dead(PGconn *c, const char *target, const struct http_outbox_batch *b,
		     const struct http_outbox_death *why, char *err, size_t errlen)
{
	char id[32], u[16], status[16], attempts[16];
	const char *p1[2] = {id, why->error};
	const char *p2[8] = {id,	 target,       u,	b->batch_id, why->status > 0 ? status : NULL,
			     why->error, why->excerpt, attempts};
	const char *p3[3] = {target, u, why->error};

	snprintf(id, sizeof(id), "%lld", b->id);
	snprintf(u, sizeof(u), "%d", b->unit);
	snprintf(status, sizeof(status), "%ld", why->status);
	snprintf(attempts, sizeof(attempts), "%d", b->attempts + 1);
	if (pg_exec(c, "BEGIN", err, errlen) < 0)
		return -1;
	if (exec_params(c, "syncd_http_batch",
			"UPDATE public.syncd_http_batch SET state = 'dead', attempts = attempts + 1, "
			"last_error = $2 WHERE id = $1",
			2, p1, err, errlen) < 0 ||
	    exec_params(c, "syncd_deadletter",
			"INSERT INTO public.syncd_deadletter (batch, target, unit, batch_id, http_status, "
			"error, response_excerpt, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			8, p2, err, errlen) < 0 ||
	    exec_params(c, "syncd_http_paused",
			"INSERT INTO public.syncd_http_paused (target, unit, reason) VALUES ($1, $2, $3) "
			"ON CONFLICT (target, unit) DO NOTHING",
			3, p3, err, errlen) < 0 ||
	    pg_exec(c, "COMMIT", err, errlen) < 0) {
		PQclear(PQexec(c, "ROLLBACK"));
		return -1;
	}
	return 0;
}

int http_outbox_stats(PGconn *c, const char *target, struct http_outbox_stats *s, char *err, size_t errlen)
{
	const char *params[1] = {target};
	PGresult *res = pg_query(
		c,
		"SELECT (SELECT count(*) FROM public.syncd_http_batch WHERE target = $1 AND state = 'pending'), "
		"(SELECT coalesce(sum(length(body)), 0) FROM public.syncd_http_batch "
		" WHERE target = $1 AND state IN ('pending', 'dead')), "
		"(SELECT count(*) FROM public.syncd_http_paused WHERE target = $1), "
		"(SELECT count(*) FROM public.syncd_deadletter WHERE target = $1 AND resolved_at IS NULL)",
		1, params, err, errlen);

	if (res == NULL)
		return -1;
	s->pending = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	s->pending_bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	s->paused_units = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	s->dead_open = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	PQclear(res);
	return 0;
}

long long http_outbox_prune(PGconn *c, const char *target, long keep_s, char *err, size_t errlen)
{
	char keep[32];
	const char *params[2] = {target, keep};
	PGresult *res;
	long long n;

	snprintf(keep, sizeof(keep), "%ld", keep_s);
	/* a batch a dead letter names stays: the dead letter's story needs it */
	res = PQexecParams(
		c,
		"DELETE FROM public.syncd_http_batch b WHERE b.target = $1 AND b.state = 'delivered' "
		"AND b.delivered_at < now() - make_interval(secs => $2::int) "
		"AND NOT EXISTS (SELECT 1 FROM public.syncd_deadletter d WHERE d.batch = b.id)",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_error(c, "syncd_http_batch", err, errlen);
		PQclear(res);
		return -1;
	}
	n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}
