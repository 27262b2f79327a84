/* issue.c — issuing documents: gap-free serials, canonical JSON, SHA-256
 * and Ed25519 signature, find and revoke, and the outbox to the city. */
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

/* One statement of the issuing transaction: 0 with *out (or NULL) when it
 * gave want, -1 otherwise (the caller rolls back). */
static int tx_exec(PGconn *c, const char *sql, int n, const char *const *p, ExecStatusType want,
		   PGresult **out)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != want) {
		PQclear(r);
		return -1;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	return ok ? 0 : -1;
}

/* Queues the issued document for its register (inside the issuing
 * transaction): -1 when the state database refused. */
static int outbox_queue(PGconn *c, const struct doc_kind *k, const char *serial, const char *text)
{
	char dest[300];
	const char *p[3] = {serial, dest, text};

	snprintf(dest, sizeof(dest), "%s:%s", k->reg_source, k->reg_table);
	return tx_exec(c,
		       "INSERT INTO public.syncd_outbox (serial, destination, payload) VALUES ($1, $2, $3)",
		       3, p, PGRES_COMMAND_OK, NULL);
}

/* Queues the issued document for its HTTP target (inside the issuing
 * transaction), after the unit's batches queued before it; the serial is
 * the Idempotency-Key.  -1 when the state database refused. */
static int target_queue(PGconn *c, const struct doc_kind *k, const char *serial, const char *unit,
			const char *text)
{
	char err[512];
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

	if (http_outbox_enqueue(c, &b, err, sizeof(err)) < 0) {
		log_warn("document %s: %s", serial, err);
		return -1;
	}
	return 0;
}

/* The document's row in the register (inside the issuing transaction);
 * signer_role, the issuing role, picks the signature block of every
 * reprint.  -1 when the state database refused. */
static int register_insert(PGconn *c, const char *serial, const char *kind, const char *unit, const char *key,
			   const char *at, const struct doc_issuer *who, const char *text, const char *hash,
			   const char *sig, const char *pub)
{
	const char *p[12] = {serial,
			     kind,
			     unit,
			     key,
			     at,
			     who->uid,
			     who->request_id ? who->request_id : "",
			     text,
			     hash,
			     sig,
			     pub,
			     who->role && who->role[0] ? who->role : NULL};

	return tx_exec(
		c,
		"INSERT INTO public.syncd_documents (serial, kind, unit, record_key, issued_at, issuer, request_id, "
		"body, hash, signature, public_key, signer_role) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		12, p, PGRES_COMMAND_OK, NULL);
}

int document_issue(const struct config *cfg, const struct routing *rt, const struct signer *signer,
		   const struct doc_kind *k, int unit, const char *key, const struct doc_issuer *who,
		   char *serial, size_t seriallen, char **body, char *reason, size_t reasonlen)
{
	const struct unit_info *ui = routing_unit_find(rt, unit);
	json_t *fields = NULL, *doc = NULL;
	char err[512], at[32], ustr[12], ystr[12], nonce_hex[33], hash[65], sig[130], pub[65], *text = NULL;
	unsigned char nonce[16];
	PGconn *c;
	PGresult *r;
	int year, rc, status = 503;

	*body = NULL;
	if (signer == NULL) {
		snprintf(reason, reasonlen,
			 "no_signing_key (set [syncd] signing_key_file: documents are signed)");
		return 503;
	}
	rc = records_fields(cfg, k, unit, key, &fields, reason, reasonlen);
	if (rc <= 0)
		return rc == 0 ? 404 : -rc;
	c = thread_conn(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	if (c == NULL) {
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		json_decref(fields);
		return 503;
	}
	iso_now(at, sizeof(at), &year);
	snprintf(ustr, sizeof(ustr), "%05d", unit);
	snprintf(ystr, sizeof(ystr), "%d", year);
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		snprintf(reason, reasonlen, "internal (no randomness)");
		json_decref(fields);
		return 500;
	}
	hex_encode(nonce, sizeof(nonce), nonce_hex);
	if (exec_ok(c, "BEGIN") < 0)
		goto dberr;
	{
		const char *p[2] = {ustr, ystr};

		/* the row stays locked until COMMIT: serials are gap-free per unit and year */
		if (tx_exec(c,
			    "INSERT INTO public.syncd_doc_seq (unit, year, last) VALUES ($1, $2, 1) ON CONFLICT (unit, year) "
			    "DO UPDATE SET last = syncd_doc_seq.last + 1 RETURNING last",
			    2, p, PGRES_TUPLES_OK, &r) < 0)
			goto dberr;
		snprintf(serial, seriallen, "%05d-%d-%06d", unit, year, atoi(PQgetvalue(r, 0, 0)));
		PQclear(r);
	}
	doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:s}", "serial", serial, "kind",
			k->name, "title", k->title, "unit", ustr, "unit_name", ui ? ui->full_name : ustr,
			"key", key, "fields", fields, "issued_at", at, "issuer", who->uid, "issuer_name",
			who->name && who->name[0] ? who->name : who->uid, "place", ui ? ui->name : ustr,
			"nonce", nonce_hex);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL) {
		snprintf(reason, reasonlen, "internal (out of memory)");
		status = 500;
		goto fail;
	}
	sha256_hex(text, strlen(text), NULL, 0, hash);
	signer_public_hex(signer, pub, sizeof(pub));
	if (signer_sign(signer, text, strlen(text), sig, sizeof(sig)) < 0) {
		snprintf(reason, reasonlen, "internal (signing failed)");
		status = 500;
		goto fail;
	}
	if (register_insert(c, serial, k->name, ustr, key, at, who, text, hash, sig, pub) < 0)
		goto dberr;
	if (k->reg_target != NULL && target_queue(c, k, serial, ustr, text) < 0)
		goto dberr;
	if (k->reg_source != NULL && outbox_queue(c, k, serial, text) < 0)
		goto dberr;
	if (exec_ok(c, "COMMIT") < 0)
		goto dberr;
	json_decref(fields);
	json_decref(doc);
	*body = text;
	return 0;
dberr:
	pg_error(c, NULL, err, sizeof(err));
	snprintf(reason, reasonlen, "state_unavailable (%s)", err);
	status = 503;
fail:
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		(void)exec_ok(c, "ROLLBACK");
	json_decref(fields);
	json_decref(doc);
	free(text);
	return status;
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
