/* issue.c — issuing documents: gap-free serials, canonical JSON, SHA-256
 * and Ed25519 signature, find and revoke, and the outbox to the city.  An
 * issue is a job: prepared on the API thread (the record read, the time,
 * the nonce), written inside the audit writer's transaction with its audit
 * rows (serial, signature, register, outbox), so concurrent issues share
 * one commit. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <time.h>

#include "common/hex.h"
#include "common/log.h"
#include "authz/audit.h"
#include "common/pg.h"
#include "connectors/http_outbox.h"

bool document_serial_valid(const char *s)
{
	return s != NULL && strlen(s) == 17 && strspn(s, "0123456789") == 5 && s[5] == '-' &&
	       strspn(s + 6, "0123456789") == 4 && s[10] == '-' && strspn(s + 11, "0123456789") == 6;
}

static void iso_now(char *out, size_t outlen, int *year)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
	*year = tm.tm_year + 1900;
}

/* Queues the issued document for its register (inside the issuing
 * transaction): as audit_work_stmt. */
static int outbox_queue(PGconn *c, const struct doc_kind *k, const char *serial, const char *text, char *err,
			size_t errlen)
{
	char dest[300];
	const char *p[3] = {serial, dest, text};

	snprintf(dest, sizeof(dest), "%s:%s", k->reg_source, k->reg_table);
	return audit_work_stmt(
		c, "INSERT INTO public.syncd_outbox (serial, destination, payload) VALUES ($1, $2, $3)", 3, p,
		err, errlen);
}

/* Queues the issued document for its HTTP target (inside the issuing
 * transaction, executed: the job's work is not pipelined), after the
 * unit's batches queued before it; the serial is the Idempotency-Key.  0,
 * or -1 with err when the state database refused. */
static int target_queue(PGconn *c, const struct doc_kind *k, const char *serial, const char *unit,
			const char *text, char *err, size_t errlen)
{
	const struct http_outbox_new b = {
		.target = k->reg_target,
		.unit = atoi(unit),
		.source = "documents",
		.batch_id = serial,
		.changes = 1,
		.content_type = "application/json",
		.body = text,
		.len = strlen(text),
	};

	if (http_outbox_enqueue(c, &b, err, errlen) < 0) {
		log_warn("document %s: %s", serial, err);
		return -1;
	}
	return 0;
}

/* The document's row in the register (inside the issuing transaction);
 * signer_role, the issuing role, picks the signature block of every
 * reprint.  As audit_work_stmt. */
static int register_insert(PGconn *c, const struct doc_job *j, const char *hash, const char *sig,
			   const char *pub, char *err, size_t errlen)
{
	const struct doc_issuer *who = j->who;
	const char *p[12] = {j->serial,
			     j->k->name,
			     j->ustr,
			     j->key,
			     j->at,
			     who->uid,
			     who->request_id ? who->request_id : "",
			     j->body,
			     hash,
			     sig,
			     pub,
			     who->role && who->role[0] ? who->role : NULL};

	return audit_work_stmt(
		c,
		"INSERT INTO public.syncd_documents (serial, kind, unit, record_key, issued_at, issuer, request_id, "
		"body, hash, signature, public_key, signer_role) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		12, p, err, errlen);
}

/* The canonical JSON of the job's document with its serial (new string),
 * NULL when memory runs out. */
static char *job_text(const struct doc_job *j)
{
	const struct doc_issuer *who = j->who;
	const char *unit_name = j->ui ? j->ui->full_name : j->ustr, *place = j->ui ? j->ui->name : j->ustr;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:s}", "serial", j->serial,
				"kind", j->k->name, "title", j->k->title, "unit", j->ustr, "unit_name",
				unit_name, "key", j->key, "fields", j->fields, "issued_at", j->at, "issuer",
				who->uid, "issuer_name", who->name && who->name[0] ? who->name : who->uid,
				"place", place, "nonce", j->nonce);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

int document_prepare(const struct config *cfg, const struct routing *rt, const struct signer *signer,
		     const struct doc_kind *k, int unit, const char *key, const struct doc_issuer *who,
		     struct doc_job *j, char *reason, size_t reasonlen)
{
	unsigned char nonce[16];
	int year, rc;

	memset(j, 0, sizeof(*j));
	if (signer == NULL) {
		snprintf(reason, reasonlen,
			 "no_signing_key (set [syncd] signing_key_file: documents are signed)");
		return 503;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		snprintf(reason, reasonlen, "internal (no randomness)");
		return 500;
	}
	rc = records_fields(cfg, k, unit, key, &j->fields, reason, reasonlen);
	if (rc <= 0)
		return rc == 0 ? 404 : -rc;
	j->k = k;
	j->signer = signer;
	j->who = who;
	j->key = key;
	j->ui = routing_unit_find(rt, unit);
	iso_now(j->at, sizeof(j->at), &year);
	snprintf(j->ustr, sizeof(j->ustr), "%05d", unit);
	snprintf(j->ystr, sizeof(j->ystr), "%d", year);
	hex_encode(nonce, sizeof(nonce), j->nonce);
	return 0;
}

void document_job_free(struct doc_job *j)
{
	json_decref(j->fields);
	free(j->body);
	j->fields = NULL;
	j->body = NULL;
}

/* The unit-year serial row bumped, in the batch's order: the row stays
 * locked until the batch commits, so serials are gap-free; a rolled-back
 * batch's bumps vanish with it. */
static const char *const serial_claim =
	"INSERT INTO public.syncd_doc_seq (unit, year, last) VALUES ($1, $2, 1) ON CONFLICT (unit, year) "
	"DO UPDATE SET last = syncd_doc_seq.last + 1 RETURNING last";

void document_job_work(struct doc_job *j, struct audit_work *w)
{
	j->claim_params[0] = j->ustr;
	j->claim_params[1] = j->ystr;
	*w = (struct audit_work){.claim = serial_claim,
				 .claim_params = j->claim_params,
				 .nclaim = 2,
				 .run = document_job_run,
				 .arg = j,
				 .exec = j->k->reg_target != NULL};
}

/* The job's statements, sent (or executed) in the batch's transaction:
 * how many were sent, else -1 with j->status and j->reason. */
static int job_write(PGconn *c, struct doc_job *j, int seq)
{
	char hash[65], sig[130], pub[65], err[512];
	int sent = 0, r;

	snprintf(j->serial, sizeof(j->serial), "%s-%s-%06d", j->ustr, j->ystr, seq);
	if ((j->body = job_text(j)) == NULL) {
		snprintf(j->reason, sizeof(j->reason), "internal (out of memory)");
		j->status = 500;
		return -1;
	}
	sha256_hex(j->body, strlen(j->body), NULL, 0, hash);
	signer_public_hex(j->signer, pub, sizeof(pub));
	if (signer_sign(j->signer, j->body, strlen(j->body), sig, sizeof(sig)) < 0) {
		snprintf(j->reason, sizeof(j->reason), "internal (signing failed)");
		j->status = 500;
		return -1;
	}
	if ((r = register_insert(c, j, hash, sig, pub, err, sizeof(err))) < 0)
		goto dberr;
	sent += r;
	if (j->k->reg_target != NULL &&
	    target_queue(c, j->k, j->serial, j->ustr, j->body, err, sizeof(err)) < 0)
		goto dberr;
	if (j->k->reg_source != NULL) {
		if ((r = outbox_queue(c, j->k, j->serial, j->body, err, sizeof(err))) < 0)
			goto dberr;
		sent += r;
	}
	return sent;
dberr:
	snprintf(j->reason, sizeof(j->reason), "state_unavailable (%.480s)", err);
	j->status = 503;
	return -1;
}

int document_job_run(PGconn *c, void *arg, const PGresult *claimed, char *object, size_t objlen, char *err,
		     size_t errlen)
{
	struct doc_job *j = arg;
	int n;

	free(j->body); /* a run after a rollback starts afresh */
	j->body = NULL;
	j->serial[0] = '\0';
	j->reason[0] = '\0';
	j->status = 0;
	if (claimed == NULL || PQntuples(claimed) != 1) {
		snprintf(j->reason, sizeof(j->reason), "state_unavailable (no serial for unit %s)", j->ustr);
		j->status = 503;
		n = -1;
	} else {
		n = job_write(c, j, atoi(PQgetvalue(claimed, 0, 0)));
	}
	if (n < 0) {
		snprintf(err, errlen, "%s", j->reason);
		return -1;
	}
	snprintf(object, objlen, "%s/%s %s", j->k->name, j->key, j->serial);
	return n;
}

int document_job_failed(struct doc_job *j, const char *err)
{
	if (j->status == 0) { /* a statement it sent failed with the batch */
		snprintf(j->reason, sizeof(j->reason), "state_unavailable (%.480s)", err);
		j->status = 503;
	}
	return j->status;
}

/* ------------------------------------------------------------ find, revoke */

void doc_record_free(struct doc_record *r)
{
	free(r->body);
	r->body = NULL;
}

int document_find(const struct config *cfg, const char *serial, struct doc_record *d, char *reason,
		  size_t reasonlen)
{
	const char *p[1] = {serial};
	char err[512];
	PGconn *c = thread_conn(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	PGresult *r;

	memset(d, 0, sizeof(*d));
	if (c == NULL) {
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		return -1;
	}
	r = PQexecParams(
		c,
		"SELECT kind, unit, body, hash, signature, public_key, revoked_at IS NOT NULL, "
		"coalesce(to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
		"coalesce(revoke_reason, ''), coalesce(signer_role, '') FROM public.syncd_documents WHERE serial = $1",
		1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(c, NULL, err, sizeof(err));
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	snprintf(d->kind, sizeof(d->kind), "%s", PQgetvalue(r, 0, 0));
	d->unit = atoi(PQgetvalue(r, 0, 1));
	d->body = strdup(PQgetvalue(r, 0, 2));
	snprintf(d->hash, sizeof(d->hash), "%s", PQgetvalue(r, 0, 3));
	snprintf(d->signature, sizeof(d->signature), "%s", PQgetvalue(r, 0, 4));
	snprintf(d->public_key, sizeof(d->public_key), "%s", PQgetvalue(r, 0, 5));
	d->revoked = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
	snprintf(d->revoked_at, sizeof(d->revoked_at), "%s", PQgetvalue(r, 0, 7));
	snprintf(d->revoke_reason, sizeof(d->revoke_reason), "%s", PQgetvalue(r, 0, 8));
	snprintf(d->signer_role, sizeof(d->signer_role), "%s", PQgetvalue(r, 0, 9));
	PQclear(r);
	return d->body ? 1 : -1;
}

enum doc_outcome document_revoke(const struct config *cfg, const char *serial, const char *by,
				 const char *why, char *reason, size_t reasonlen)
{
	const char *p[3] = {serial, by, why};
	char err[512];
	PGconn *c = thread_conn(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	PGresult *r;
	int n;

	if (c == NULL) {
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		return DOC_STATE_DOWN;
	}
	r = PQexecParams(
		c,
		"UPDATE public.syncd_documents SET revoked_at = now(), revoked_by = $2, revoke_reason = $3 "
		"WHERE serial = $1 AND revoked_at IS NULL",
		3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_error(c, NULL, err, sizeof(err));
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		PQclear(r);
		return DOC_STATE_DOWN;
	}
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	if (n == 1)
		return DOC_OK;
	snprintf(reason, reasonlen, "already_revoked (document %s)", serial);
	return DOC_ALREADY_REVOKED;
}

int outbox_deliver(const struct config *cfg, const struct documents *d, char *err, size_t errlen)
{
	PGconn *st = thread_conn(cfg->state_conninfo, cfg->state_password, err, errlen);
	PGresult *r;
	int delivered = 0;

	(void)d;
	if (st == NULL)
		return -1;
	r = PQexec(
		st,
		"SELECT id, serial, destination, payload FROM public.syncd_outbox WHERE delivered_at IS NULL "
		"ORDER BY id LIMIT 200");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(st, NULL, err, errlen);
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0), *serial = PQgetvalue(r, i, 1),
			   *dest = PQgetvalue(r, i, 2), *payload = PQgetvalue(r, i, 3);
		const char *colon = strchr(dest, ':');
		char source[128], *table = NULL, *sql = NULL, problem[512] = "";
		const struct config_source *src;
		PGconn *c = NULL;
		PGresult *x;

		snprintf(source, sizeof(source), "%.*s", colon ? (int)(colon - dest) : 0, dest);
		src = colon ? config_source_find(cfg, source) : NULL;
		if (src == NULL) {
			snprintf(problem, sizeof(problem), "destination %s: no [source %s] in syncd.conf",
				 dest, source);
		} else if (
			(c = thread_conn(src->conninfo, src->password, problem, sizeof(problem))) != NULL &&
			(table = records_quote_table(c, colon + 1)) != NULL &&
			asprintf(
				&sql,
				"INSERT INTO %s (serial, unit, record_key, issued_at, document) SELECT d->>'serial', "
				"d->>'unit', d->>'key', (d->>'issued_at')::timestamptz, d FROM (SELECT $1::jsonb AS d) x "
				"ON CONFLICT (serial) DO NOTHING",
				table) >= 0) {
			/* the serial is the intake's key: a second delivery is a no-op */
			const char *p[1] = {payload};
			const char *state;

			x = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
			if (PQresultStatus(x) != PGRES_COMMAND_OK) {
				pg_error(c, NULL, problem, sizeof(problem));
				state = PQresultErrorField(x, PG_DIAG_SQLSTATE);
				if (state != NULL && strcmp(state, "42P01") == 0)
					snprintf(problem + strlen(problem), sizeof(problem) - strlen(problem),
						 " (create it with dist/sql/land-intake.sql)");
			}
			PQclear(x);
		}
		free(sql);
		free(table);
		{
			const char *p[2] = {id, problem};

			x = PQexecParams(
				st,
				problem[0]
					? "UPDATE public.syncd_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1"
					: "UPDATE public.syncd_outbox SET delivered_at = now(), attempts = attempts + 1, "
					  "last_error = NULL WHERE id = $1",
				problem[0] ? 2 : 1, NULL, p, NULL, NULL, 0);
			PQclear(x);
		}
		if (problem[0])
			log_warn("outbox: document %s to %s not delivered yet: %s", serial, dest, problem);
		else
			delivered++;
	}
	PQclear(r);
	return delivered;
}
