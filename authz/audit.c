/* audit.c — append-only hash chain in the state DB, group-committed; its
 * tables and functions are dist/sql/state/002_audit.sql (common/schema.c). */
#include "authz/audit.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fence.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/schema.h"
#include "common/text.h"

/* The argument types of public.syncd_audit_append, for to_regprocedure: an
 * overload with other types would never be the one called. */
#define APPEND_ARGS "bigint, timestamptz, text, text, text, text, text, text, text, text, bytea, bytea, bytea"

/* The head, and whether syncd's role could change the log behind the
 * functions' back: write privileges, or owning a table or a function. */
static const char *const head_sql =
	"SELECT seq, encode(hash, 'hex'),"
	" has_table_privilege('public.syncd_audit', 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')"
	" OR has_table_privilege('public.syncd_audit_head', 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')"
	" OR EXISTS (SELECT FROM pg_class WHERE oid IN ('public.syncd_audit'::regclass,"
	" 'public.syncd_audit_head'::regclass) AND pg_has_role(relowner, 'USAGE'))"
	" OR EXISTS (SELECT FROM pg_proc WHERE oid IN (to_regprocedure('public.syncd_audit_refuse()'),"
	" to_regprocedure('public.syncd_audit_lock()'), to_regprocedure('public.syncd_audit_append(" APPEND_ARGS
	")')) AND pg_has_role(proowner, 'USAGE'))"
	" FROM public.syncd_audit_head WHERE id = 1";

/* Longest field kept, in bytes after cleaning: a request cannot make a row
 * (or a batch) too big to write. */
static const size_t field_cap[8] = {256, 256, 256, 128, 16, 2000, 32, 2000};

/* One caller's append: its rows and the work done with them. */
struct item {
	struct item *next;
	char *(*s)[8]; /* per row: actor, client, request_id, action, unit, object, decision, reason */
	size_t n;
	const struct audit_work *work; /* NULL: rows only */
	PGresult *claimed;	       /* the result of work->claim in this attempt */
	int npend;		       /* the work's statements sent in the pipeline */
	bool work_failed;	       /* in the last attempt, the work refused */
	long long seq;		       /* of the first row */
	int result;		       /* the writer's, 0 or -1, published as status */
	int status;		       /* 0 queued, 1 done, -1 failed, -2 the work failed */
	char err[256];
};

struct audit {
	char *conninfo, *password, *ckpt_file;
	const struct signer *signer;
	atomic_long every;
	PGconn *conn;
	pthread_t writer;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	struct item *head, *tail;
	bool stop;
	long long last_seq, since_ckpt;
	unsigned char last_hash[32];
	char *fence; /* the cluster whose term every batch is fenced by; NULL: none */
};

/* pg_exec, its message named "state database: ..." */
static int db_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
	if (pg_exec(c, sql, err, errlen) == 0)
		return 0;
	pg_error(c, "state database", err, errlen);
	return -1;
}

char *audit_body(long long seq, const char *at, const struct audit_event *ev)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq, "at", at,
			      "actor", ev->actor, "client", ev->client, "request_id", ev->request_id,
			      "action", ev->action, "unit", ev->unit, "object", ev->object, "decision",
			      ev->decision, "reason", ev->reason);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return s;
}

static void now_text(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%.20s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* A checkpoint line: {"seq":N,"head":HEX,"at":T,"key":PUBHEX,"sig":HEX}; the
 * signature is over "syncd-audit-checkpoint:SEQ:HEAD". */
static void checkpoint_emit(struct audit *a)
{
	char head[65], msg[128], sig[130] = "", pub[65] = "", at[40], line[512];
	FILE *f;

	if (a->last_seq == 0)
		return;
	hex_encode(a->last_hash, 32, head);
	snprintf(msg, sizeof(msg), "syncd-audit-checkpoint:%lld:%s", a->last_seq, head);
	if (a->signer != NULL) {
		(void)signer_sign(a->signer, msg, strlen(msg), sig, sizeof(sig));
		signer_public_hex(a->signer, pub, sizeof(pub));
	}
	now_text(at, sizeof(at));
	snprintf(line, sizeof(line),
		 "{\"seq\":%lld,\"head\":\"%s\",\"at\":\"%s\",\"key\":\"%s\",\"sig\":\"%s\"}", a->last_seq,
		 head, at, pub, sig);
	log_info("audit checkpoint %s", line);
	if (a->ckpt_file != NULL) {
		f = fopen(a->ckpt_file, "a");
		if (f == NULL || fprintf(f, "%s\n", line) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
			log_warn("audit checkpoint file %s: %s", a->ckpt_file, strerror(errno));
		if (f != NULL)
			fclose(f);
	}
	a->since_ckpt = 0;
}

/* The append, prepared on each new connection of the writer. */
static const char *const append_sql =
	/* every argument typed: only the function of exactly these types runs */
	"SELECT public.syncd_audit_append($1::bigint, $2::timestamptz, $3::text, $4::text, "
	"$5::text, $6::text, $7::text, $8::text, $9::text, $10::text, "
	"pg_catalog.convert_to($11::text, 'UTF8'), pg_catalog.decode($12::text, 'hex'), "
	"pg_catalog.decode($13::text, 'hex'))";

/* The writer's connection, opened (and its append prepared) if it is not. */
static int writer_conn(struct audit *a, char *err, size_t errlen)
{
	PGresult *r;

	if (a->conn != NULL && PQstatus(a->conn) == CONNECTION_OK)
		return 0;
	PQfinish(a->conn);
	a->conn = pg_connect_state(a->conninfo, a->password, "syncd-audit", err, errlen);
	if (a->conn == NULL)
		return -1;
	/* a batch left open by a paused process must not hold the head (and
	 * the lease row a takeover waits for) for ever */
	if (db_exec(a->conn, "SET idle_in_transaction_session_timeout = '10s'", err, errlen) < 0) {
		PQfinish(a->conn);
		a->conn = NULL;
		return -1;
	}
	r = PQprepare(a->conn, "syncd_audit_append", append_sql, 13, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_error(a->conn, "state database: syncd_audit_append", err, errlen);
		PQclear(r);
		PQfinish(a->conn);
		a->conn = NULL;
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Sends sql (or the prepared statement named stmt) in pipeline mode (1:
 * its result comes with the pipeline's) or, out of it, executes it (0); -1
 * with err when it fails or cannot be sent. */
static int stmt_put(PGconn *c, const char *stmt, const char *sql, int n, const char *const *p, char *err,
		    size_t errlen)
{
	PGresult *r;
	int rc = 0;

	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
		if ((stmt ? PQsendQueryPrepared(c, stmt, n, p, NULL, NULL, 0)
			  : PQsendQueryParams(c, sql, n, NULL, p, NULL, NULL, 0)) == 1)
			return 1;
		pg_error(c, "state database", err, errlen);
		return -1;
	}
	r = stmt ? PQexecPrepared(c, stmt, n, p, NULL, NULL, 0)
		 : PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(c, "state database", err, errlen);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int audit_work_stmt(struct pg_conn *c, const char *sql, int n, const char *const *params, char *err,
		    size_t errlen)
{
	return stmt_put(c, NULL, sql, n, params, err, errlen);
}

/* err ("state database: MESSAGE") of a row the database refused, naming
 * the append. */
static void append_named(char *err, size_t errlen)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", err + strlen("state database: "));
	snprintf(err, errlen, "state database: syncd_audit_append: %.200s", msg);
}

/* Chains one row (its 8 fields s) after prev as row seq through
 * public.syncd_audit_append (sent, or executed: stmt_put); hash gets the
 * new head.  1 sent, 0 written, -1 with err. */
static int row_append(struct audit *a, char *const s[8], long long seq, const unsigned char prev[32],
		      unsigned char hash[32], char *err, size_t errlen)
{
	struct audit_event ev = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]};
	char at[40], sq[24], ph[65], h[65], *body;
	const char *p[13];
	int rc;

	now_text(at, sizeof(at));
	body = audit_body(seq, at, &ev);
	if (body == NULL) {
		snprintf(err, errlen, "seq %lld: no JSON body (out of memory)", seq);
		return -1;
	}
	sha256_raw(prev, 32, body, strlen(body), hash);
	snprintf(sq, sizeof(sq), "%lld", seq);
	hex_encode(prev, 32, ph);
	hex_encode(hash, 32, h);
	p[0] = sq;
	p[1] = at;
	for (int i = 0; i < 8; i++)
		p[2 + i] = s[i];
	p[10] = body;
	p[11] = ph;
	p[12] = h;
	rc = stmt_put(a->conn, "syncd_audit_append", NULL, 13, p, err, errlen);
	if (rc < 0 && PQpipelineStatus(a->conn) == PQ_PIPELINE_OFF)
		append_named(err, errlen);
	free(body);
	return rc;
}

/* in as valid UTF-8 without control characters (what json_pack and a UTF-8
 * database take), at most cap bytes, cut at a character boundary */
static char *field_clean(const char *in, size_t cap)
{
	size_t n = strlen(in);
	char *out;

	if (n * 4 < cap)
		return text_clean_dup(in); /* \xNN: 4 bytes for 1, under cap whatever in holds */
	out = malloc(cap + 1);
	if (out != NULL)
		text_clean(in, n, out, cap + 1);
	return out;
}

/* The item's work, in the batch's transaction before its rows (it->npend
 * its statements sent); the object it names (a serial) becomes its last
 * row's object. */
static int item_work(struct audit *a, struct item *it, char *err, size_t errlen)
{
	char object[512] = "", *clean;

	if (it->work == NULL)
		return 0;
	it->npend = it->work->run(a->conn, it->work->arg, it->claimed, object, sizeof(object), err, errlen);
	if (it->npend < 0) {
		it->npend = 0;
		it->work_failed = true;
		return -1;
	}
	if (object[0] == '\0')
		return 0;
	if ((clean = field_clean(object, field_cap[5])) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(it->s[it->n - 1][5]);
	it->s[it->n - 1][5] = clean;
	return 0;
}

/* Reads the results of the n statements sent in pipeline mode, then the
 * sync, and leaves pipeline mode; keep[i] (keep may be NULL) gets
 * statement i's result.  The index of the first statement that failed
 * (its message in err), -1 if none, or n when the connection broke. */
static int pipe_collect(PGconn *c, int n, PGresult **keep, char *err, size_t errlen)
{
	int bad = -1;

	if (PQpipelineSync(c) != 1)
		goto lost;
	for (int i = 0; i < n; i++) {
		PGresult *r = PQgetResult(c), *end;
		ExecStatusType st = PQresultStatus(r);

		if (r == NULL)
			goto lost;
		while ((end = PQgetResult(c)) != NULL)
			PQclear(end);
		if (bad < 0 && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "state database: %s", PQresultErrorMessage(r));
			pg_one_line(err);
			bad = i;
		}
		if (keep != NULL)
			keep[i] = r;
		else
			PQclear(r);
	}
	for (;;) {
		PGresult *r = PQgetResult(c);
		ExecStatusType st = PQresultStatus(r);

		if (r == NULL)
			goto lost;
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (PQexitPipelineMode(c) != 1)
		goto lost;
	return bad;
lost:
	pg_error(c, "state database", err, errlen);
	return n;
}

/* BEGIN, the head locked and each item's claim, in one round trip: *seq
 * and prev the head, each item's claim result kept in it->claimed. */
static int batch_claim(struct audit *a, struct item *list, long long *seq, unsigned char prev[32], char *err,
		       size_t errlen)
{
	PGresult **res;
	/* a standby (no term) writes only what its public pages log (a
	 * verification); the chain's head keeps those in line all the same */
	int64_t t = fence_term();
	int f = a->fence != NULL && t > 0, n = 2 + f, bad, k = 2 + f;
	char term[24];
	const char *fp[2] = {a->fence, term};

	snprintf(term, sizeof(term), "%lld", (long long)t);
	for (struct item *it = list; it != NULL; it = it->next)
		n += it->work != NULL && it->work->claim != NULL;
	if ((res = calloc((size_t)n, sizeof(*res))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* the fence first: a batch of a term that is over is refused whole */
	if (PQenterPipelineMode(a->conn) != 1 ||
	    PQsendQueryParams(a->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    (f && PQsendQueryParams(a->conn, "SELECT public.syncd_fence($1, $2)", 2, NULL, fp, NULL, NULL,
				    0) != 1) ||
	    PQsendQueryParams(a->conn,
			      "SELECT seq, pg_catalog.encode(hash, 'hex') FROM public.syncd_audit_lock()", 0,
			      NULL, NULL, NULL, NULL, 0) != 1)
		goto lost;
	for (struct item *it = list; it != NULL; it = it->next)
		if (it->work != NULL && it->work->claim != NULL &&
		    PQsendQueryParams(a->conn, it->work->claim, it->work->nclaim, NULL,
				      it->work->claim_params, NULL, NULL, 0) != 1)
			goto lost;
	bad = pipe_collect(a->conn, n, res, err, errlen);
	if (bad < 0 && PQntuples(res[1 + f]) != 1) {
		snprintf(err, errlen, "state database: syncd_audit_lock: no head row");
		bad = 1;
	} else if (bad < 0) {
		*seq = atoll(PQgetvalue(res[1 + f], 0, 0));
		hex_decode(PQgetvalue(res[1 + f], 0, 1), prev, 32);
	}
	for (struct item *it = list; it != NULL; it = it->next)
		if (it->work != NULL && it->work->claim != NULL) {
			it->work_failed = bad == k;
			/* a first attempt on a dead connection may have kept one */
			PQclear(it->claimed);
			it->claimed = k < n ? res[k] : NULL;
			res[k++] = NULL;
		}
	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	free(res);
	return bad < 0 ? 0 : -1;
lost: /* write_batch drops the connection still in pipeline mode */
	pg_error(a->conn, "state database", err, errlen);
	free(res);
	return -1;
}

/* Each item's work and rows chained after (seq, prev), then COMMIT: sent
 * in one pipeline unless an item's work executes its statements. */
static int batch_rows(struct audit *a, struct item *list, long long *seq, unsigned char prev[32], char *err,
		      size_t errlen)
{
	bool piped = true;
	unsigned char hash[32];
	int sent = 0, bad, r;

	for (struct item *it = list; it != NULL; it = it->next)
		piped = piped && (it->work == NULL || !it->work->exec);
	if (piped && PQenterPipelineMode(a->conn) != 1) {
		pg_error(a->conn, "state database", err, errlen);
		return -1;
	}
	for (struct item *it = list; it != NULL; it = it->next) {
		if (item_work(a, it, err, errlen) < 0)
			goto fail;
		sent += it->npend;
		it->seq = *seq + 1;
		for (size_t i = 0; i < it->n; i++) {
			if ((r = row_append(a, it->s[i], *seq + 1, prev, hash, err, errlen)) < 0)
				goto fail;
			sent += r;
			++*seq;
			memcpy(prev, hash, 32);
		}
	}
	if ((r = stmt_put(a->conn, NULL, "COMMIT", 0, NULL, err, errlen)) < 0)
		goto fail;
	if (!piped || (bad = pipe_collect(a->conn, sent + r, NULL, err, errlen)) < 0)
		return 0;
	for (struct item *it = list; it != NULL && bad >= 0; it = it->next) {
		if (bad < it->npend) { /* a statement of this item's work failed */
			it->work_failed = true;
		} else if (bad < it->npend + (int)it->n) {
			append_named(err, errlen);
		}
		bad -= it->npend + (int)it->n;
	}
	return -1;
fail:
	if (piped) {
		char e2[256];

		(void)pipe_collect(a->conn, sent, NULL, e2, sizeof(e2));
	}
	return -1;
}

/* One transaction for a list of items: lock the head, then each item's
 * work and its rows, chained. */
static int write_batch(struct audit *a, struct item *list, char *err, size_t errlen)
{
	unsigned char prev[32];
	long long seq = 0;
	int rc = -1;

	for (struct item *it = list; it != NULL; it = it->next) {
		it->work_failed = false;
		it->npend = 0;
	}
	/* the backend may have gone away (restart, terminate) since the last
	 * batch and libpq may not know yet: once more on a new connection */
	for (int attempt = 0;; attempt++) {
		if (writer_conn(a, err, errlen) < 0)
			goto out; /* the first attempt's claim results are cleared there */
		if (batch_claim(a, list, &seq, prev, err, errlen) == 0)
			break;
		if (attempt == 1 || PQstatus(a->conn) == CONNECTION_OK)
			goto out;
		PQfinish(a->conn);
		a->conn = NULL;
	}
	if (batch_rows(a, list, &seq, prev, err, errlen) < 0)
		goto out;
	for (struct item *it = list; it != NULL; it = it->next)
		a->since_ckpt += (long long)it->n;
	a->last_seq = seq;
	memcpy(a->last_hash, prev, 32);
	rc = 0;
out:
	for (struct item *it = list; it != NULL; it = it->next) {
		PQclear(it->claimed);
		it->claimed = NULL;
	}
	if (rc < 0 && a->conn != NULL && PQpipelineStatus(a->conn) != PQ_PIPELINE_OFF) {
		PQfinish(a->conn); /* the pipeline could not be read to its end: start afresh */
		a->conn = NULL;
	}
	if (rc < 0 && a->conn != NULL && PQtransactionStatus(a->conn) != PQTRANS_IDLE) {
		char e2[256];

		(void)db_exec(a->conn, "ROLLBACK", e2, sizeof(e2));
	}
	return rc;
}

/* Writes list and sets each item's result.  One bad row never fails a
 * batch: when a batch of several fails on a live connection, each item is
 * tried alone, so only the row the database refuses fails. */
static void batch_write(struct audit *a, struct item *list)
{
	char err[256];

	if (write_batch(a, list, err, sizeof(err)) == 0) {
		for (struct item *it = list; it != NULL; it = it->next)
			it->result = 0;
		return;
	}
	for (struct item *it = list; it != NULL; it = it->next) {
		struct item *next = it->next;

		it->result = -1;
		snprintf(it->err, sizeof(it->err), "%s", err);
		/* alone already, or the database is gone: trying each would fail alike */
		if (list->next == NULL || a->conn == NULL || PQstatus(a->conn) != CONNECTION_OK)
			continue;
		it->next = NULL;
		it->result = write_batch(a, it, it->err, sizeof(it->err));
		it->next = next;
	}
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;

	log_set_context("audit");
	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct item *list;

		while (a->head == NULL && !a->stop)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->head == NULL && a->stop)
			break;
		list = a->head;
		a->head = a->tail = NULL;
		pthread_mutex_unlock(&a->lock);
		batch_write(a, list);
		if (a->since_ckpt >= atomic_load(&a->every))
			checkpoint_emit(a);
		pthread_mutex_lock(&a->lock);
		for (struct item *it = list; it != NULL; it = it->next)
			it->status = it->result == 0 ? 1 : it->work_failed ? AUDIT_WORK_FAILED : -1;
		pthread_cond_broadcast(&a->done);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct audit *audit_open(const char *conninfo, const char *password, const struct signer *signer,
			 const char *checkpoint_file, long checkpoint_every, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));
	PGresult *r;

	if (a == NULL || (a->conninfo = strdup(conninfo)) == NULL ||
	    (password && (a->password = strdup(password)) == NULL) ||
	    (checkpoint_file && (a->ckpt_file = strdup(checkpoint_file)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	a->signer = signer;
	atomic_store(&a->every, checkpoint_every > 0 ? checkpoint_every : 1000);
	a->conn = pg_connect_state(conninfo, password, "syncd-audit", err, errlen);
	if (a->conn == NULL || schema_apply(a->conn, err, errlen) < 0)
		goto fail;
	r = PQexec(a->conn, head_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			snprintf(err, errlen, "state database: syncd_audit_head: no head row");
		else
			pg_error(a->conn, "state database: syncd_audit_head", err, errlen);
		PQclear(r);
		goto fail;
	}
	a->last_seq = atoll(PQgetvalue(r, 0, 0));
	hex_decode(PQgetvalue(r, 0, 1), a->last_hash, sizeof(a->last_hash));
	if (strcmp(PQgetvalue(r, 0, 2), "t") == 0)
		log_warn("syncd_audit: syncd's database role may change or own the audit log (its tables or "
			 "functions); make it append-only for syncd with dist/sql/audit-owner.sql (run by a "
			 "superuser)");
	PQclear(r);
	PQfinish(a->conn); /* the writer opens its own, with the append prepared */
	a->conn = NULL;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->done, NULL);
	if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
		snprintf(err, errlen, "cannot start the audit writer thread");
		goto fail;
	}
	return a;
fail:
	if (a != NULL) {
		PQfinish(a->conn);
		free(a->conninfo);
		free(a->password);
		free(a->ckpt_file);
		free(a);
	}
	return NULL;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->writer, NULL);
	if (a->since_ckpt > 0)
		checkpoint_emit(a);
	PQfinish(a->conn);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done);
	free(a->conninfo);
	if (a->password)
		explicit_bzero(a->password, strlen(a->password));
	free(a->password);
	free(a->ckpt_file);
	free(a->fence);
	free(a);
}

static void item_free(struct item *it)
{
	for (size_t i = 0; it->s != NULL && i < it->n; i++)
		for (int f = 0; f < 8; f++)
			free(it->s[i][f]);
	free(it->s);
	free(it);
}

/* A new item of ev's n rows, every field cleaned and capped; NULL when
 * memory runs out. */
static struct item *item_new(const struct audit_event *ev, size_t n, const struct audit_work *w)
{
	struct item *it = calloc(1, sizeof(*it));

	if (it == NULL || (it->s = calloc(n, sizeof(*it->s))) == NULL) {
		free(it);
		return NULL;
	}
	it->n = n;
	it->work = w;
	for (size_t i = 0; i < n; i++) {
		const char *src[8] = {ev[i].actor, ev[i].client, ev[i].request_id, ev[i].action,
				      ev[i].unit,  ev[i].object, ev[i].decision,   ev[i].reason};

		for (int f = 0; f < 8; f++)
			if ((it->s[i][f] = field_clean(src[f] ? src[f] : "", field_cap[f])) == NULL) {
				item_free(it);
				return NULL;
			}
	}
	return it;
}

int audit_append_work(struct audit *a, const struct audit_event *ev, size_t n, const struct audit_work *w,
		      long long *seq, char *err, size_t errlen)
{
	struct item *it = n > 0 ? item_new(ev, n, w) : NULL;
	int rc;

	if (it == NULL) {
		snprintf(err, errlen, n > 0 ? "out of memory" : "no rows to append");
		return -1;
	}
	pthread_mutex_lock(&a->lock);
	if (a->tail != NULL)
		a->tail->next = it;
	else
		a->head = it;
	a->tail = it;
	pthread_cond_signal(&a->wake);
	while (it->status == 0)
		pthread_cond_wait(&a->done, &a->lock);
	pthread_mutex_unlock(&a->lock);
	rc = it->status == 1 ? 0 : it->status;
	if (rc == 0 && seq != NULL)
		*seq = it->seq;
	if (rc == AUDIT_WORK_FAILED)
		snprintf(err, errlen, "%s", it->err);
	else if (rc < 0)
		snprintf(err, errlen, "audit log: %s", it->err);
	item_free(it);
	return rc;
}

int audit_append(struct audit *a, const struct audit_event *ev, long long *seq, char *err, size_t errlen)
{
	return audit_append_work(a, ev, 1, NULL, seq, err, errlen) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ verify */

struct ckpt {
	long long seq;
	char head[65];
	bool checked;
};

static void broken(struct audit_verdict *v, long long seq, const char *expected, const char *found,
		   const char *problem)
{
	if (!v->ok)
		return; /* the first broken link is the one reported */
	v->ok = false;
	v->seq = seq;
	snprintf(v->expected, sizeof(v->expected), "%s", expected);
	snprintf(v->found, sizeof(v->found), "%s", found);
	snprintf(v->problem, sizeof(v->problem), "%s", problem);
}

static int ckpt_load(const char *path, const struct signer *signer, struct ckpt **out, size_t *n,
		     struct audit_verdict *v, char *err, size_t errlen)
{
	FILE *f;
	char line[1024];
	size_t cap = 0;
	int lineno = 0;

	*out = NULL;
	*n = 0;
	if (path == NULL)
		return 0;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0; /* no checkpoint written yet */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		const char *head = json_string_value(json_object_get(o, "head"));
		const char *sig = json_string_value(json_object_get(o, "sig"));
		long long seq = json_integer_value(json_object_get(o, "seq"));
		char msg[128], where[64];

		lineno++;
		snprintf(where, sizeof(where), "checkpoint line %d", lineno);
		if (head == NULL || strlen(head) != 64 || seq <= 0) {
			broken(v, seq, "a checkpoint line", "an unreadable one", where);
			json_decref(o);
			continue;
		}
		snprintf(msg, sizeof(msg), "syncd-audit-checkpoint:%lld:%s", seq, head);
		if (signer != NULL && signer_verify(signer, msg, strlen(msg), sig) != 1) {
			broken(v, seq, "a checkpoint signed by syncd's key",
			       "a signature that does not verify", where);
			json_decref(o);
			continue;
		}
		if (*n == cap) {
			struct ckpt *nc = realloc(*out, (cap ? cap * 2 : 64) * sizeof(**out));

			if (nc == NULL) {
				json_decref(o);
				fclose(f);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			*out = nc;
			cap = cap ? cap * 2 : 64;
		}
		(*out)[*n].seq = seq;
		snprintf((*out)[*n].head, sizeof((*out)[*n].head), "%s", head);
		(*out)[*n].checked = false;
		(*n)++;
		json_decref(o);
	}
	fclose(f);
	return 0;
}

/* The body must say what the columns say. */
static void row_check(const struct audit_row *row, long long seq, struct audit_verdict *v)
{
	static const char *const names[] = {"at",   "actor",  "client",	  "request_id", "action",
					    "unit", "object", "decision", "reason"};
	json_t *o = json_loads(row->body, 0, NULL);

	if (o == NULL || json_integer_value(json_object_get(o, "seq")) != seq) {
		broken(v, seq, "a body that is this row's JSON", "an unreadable body or another seq", "body");
		json_decref(o);
		return;
	}
	for (int c = 0; c < 9; c++) {
		const char *b = json_string_value(json_object_get(o, names[c]));

		if (b == NULL || strcmp(b, row->col[c]) != 0) {
			char problem[64];

			snprintf(problem, sizeof(problem), "column %s differs from the hashed body",
				 names[c]);
			broken(v, seq, b ? b : "(absent)", row->col[c], problem);
			break;
		}
	}
	json_decref(o);
}

void audit_walk_start(struct audit_walk *w)
{
	w->expect = 1;
	memset(w->prev, '0', 64);
	w->prev[64] = '\0';
}

int audit_walk_row(struct audit_walk *w, const struct audit_row *row, struct audit_verdict *v)
{
	long long seq = atoll(row->seq);
	char es[24], fs[24];

	if (seq != w->expect) {
		snprintf(es, sizeof(es), "seq %lld", w->expect);
		snprintf(fs, sizeof(fs), "seq %lld", seq);
		broken(v, w->expect, es, fs, "a row is missing (deleted)");
		return 0;
	}
	if (strcmp(row->prev_hash, w->prev) != 0) {
		broken(v, seq, w->prev, row->prev_hash,
		       "prev_hash is not the previous row's hash (rows moved or rewritten)");
		return 0;
	}
	if (strcmp(row->rehash, row->hash) != 0) {
		broken(v, seq, row->rehash, row->hash,
		       "hash is not SHA-256(prev_hash || body) (the body was changed)");
		return 0;
	}
	row_check(row, seq, v);
	snprintf(w->prev, sizeof(w->prev), "%s", row->hash);
	v->rows++;
	w->expect++;
	return 1;
}

void audit_walk_end(const struct audit_walk *w, long long head_seq, const char *head_hash, long long count,
		    struct audit_verdict *v)
{
	long long last = w->expect - 1;
	char es[64], fs[64], problem[128];

	if (head_seq > last) {
		snprintf(es, sizeof(es), "rows up to seq %lld (the head)", head_seq);
		snprintf(fs, sizeof(fs), "the log ends at seq %lld", last);
		snprintf(problem, sizeof(problem), "rows after seq %lld are gone (the head says %lld)", last,
			 head_seq);
		broken(v, last + 1, es, fs, problem);
	} else if (head_seq < last) {
		snprintf(es, sizeof(es), "the log ends at seq %lld (the head)", head_seq);
		snprintf(fs, sizeof(fs), "rows up to seq %lld", last);
		snprintf(problem, sizeof(problem),
			 "the head says %lld but rows go on to seq %lld (the head was set back)", head_seq,
			 last);
		broken(v, head_seq + 1, es, fs, problem);
	} else if (last > 0 && strcmp(head_hash, w->prev) != 0) {
		broken(v, last, w->prev, head_hash, "the head's hash is not the last row's hash");
	}
	if (count != last) {
		snprintf(es, sizeof(es), "%lld rows", last);
		snprintf(fs, sizeof(fs), "%lld rows", count);
		broken(v, last, es, fs, "row count differs from the last seq");
	}
}

/* The head and the row count, in the walk's snapshot, must end where the
 * walk ended: rows deleted after the last checkpoint leave a head that
 * says more. */
static int head_check(PGconn *c, const struct audit_walk *w, struct audit_verdict *v, char *err,
		      size_t errlen)
{
	PGresult *r =
		PQexec(c, "SELECT h.seq, encode(h.hash, 'hex'), (SELECT count(*) FROM public.syncd_audit) "
			  "FROM public.syncd_audit_head h WHERE h.id = 1");

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(c, "state database: syncd_audit_head", err, errlen);
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) != 1)
		broken(v, w->expect, "the head row", "none", "the head row is gone");
	else
		audit_walk_end(w, atoll(PQgetvalue(r, 0, 0)), PQgetvalue(r, 0, 1), atoll(PQgetvalue(r, 0, 2)),
			       v);
	PQclear(r);
	return 0;
}

/* A fetched row's columns, in the order of the walk's cursor. */
static void row_of(PGresult *r, int i, struct audit_row *row)
{
	row->seq = PQgetvalue(r, i, 0);
	for (int c = 0; c < 9; c++)
		row->col[c] = PQgetvalue(r, i, c + 1);
	row->body = PQgetvalue(r, i, 10);
	row->prev_hash = PQgetvalue(r, i, 11);
	row->hash = PQgetvalue(r, i, 12);
	row->rehash = PQgetvalue(r, i, 13);
}

/* The signed checkpoints at row's seq must hold its hash. */
static void ckpt_match(struct ckpt *ck, size_t nck, const struct audit_row *row, struct audit_verdict *v)
{
	long long seq = atoll(row->seq);

	for (size_t j = 0; j < nck; j++)
		if (ck[j].seq == seq) {
			ck[j].checked = true;
			if (strcmp(ck[j].head, row->hash) != 0)
				broken(v, seq, ck[j].head, row->hash,
				       "the hash differs from the signed checkpoint (the chain was rewritten)");
		}
}

int audit_verify(const char *conninfo, const char *password, const char *checkpoint_file,
		 const struct signer *signer, struct audit_verdict *v, char *err, size_t errlen)
{
	PGconn *c;
	struct ckpt *ck = NULL;
	size_t nck = 0, k = 0;
	struct audit_walk w;
	int rc = -1;

	memset(v, 0, sizeof(*v));
	v->ok = true;
	audit_walk_start(&w);
	if (ckpt_load(checkpoint_file, signer, &ck, &nck, v, err, errlen) < 0)
		return -1;
	c = pg_connect_state(conninfo, password, "syncd-audit", err, errlen);
	if (c == NULL)
		goto out;
	if (db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0 ||
	    db_exec(c,
		    "DECLARE walk NO SCROLL CURSOR FOR SELECT seq, "
		    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, client, request_id, "
		    "action, unit, object, decision, reason, convert_from(body, 'UTF8'), encode(prev_hash, 'hex'), "
		    "encode(hash, 'hex'), encode(sha256(prev_hash || body), 'hex') FROM public.syncd_audit ORDER BY seq",
		    err, errlen) < 0)
		goto out;
	for (;;) {
		PGresult *r = PQexec(c, "FETCH 5000 FROM walk");
		int n;

		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pg_error(c, "state database: syncd_audit", err, errlen);
			PQclear(r);
			goto out;
		}
		n = PQntuples(r);
		for (int i = 0; i < n && v->ok; i++) {
			struct audit_row row;

			row_of(r, i, &row);
			if (audit_walk_row(&w, &row, v) == 0)
				break;
			ckpt_match(ck, nck, &row, v);
		}
		PQclear(r);
		if (n == 0 || !v->ok)
			break;
	}
	for (k = 0; k < nck; k++) {
		if (!ck[k].checked && ck[k].seq >= w.expect) {
			char es[64], fs[64];

			snprintf(es, sizeof(es), "rows up to seq %lld", ck[k].seq);
			snprintf(fs, sizeof(fs), "the log ends at seq %lld", w.expect - 1);
			broken(v, w.expect, es, fs,
			       "rows after a signed checkpoint's position are gone (tail truncated)");
		}
		v->checkpoints++;
	}
	if (head_check(c, &w, v, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	PQfinish(c);
	free(ck);
	return rc;
}

int audit_set_fence(struct audit *a, const char *cluster)
{
	pthread_mutex_lock(&a->lock);
	free(a->fence);
	a->fence = cluster != NULL ? strdup(cluster) : NULL;
	pthread_mutex_unlock(&a->lock);
	return cluster != NULL && a->fence == NULL ? -1 : 0;
}

void audit_set_checkpoint_every(struct audit *a, long every)
{
	atomic_store(&a->every, every > 0 ? every : 1000);
}
