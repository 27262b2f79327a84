/* documents.c — issue, find, revoke, render and register documents; the
 * state tables are dist/sql/state/003_documents.sql. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/schema.h"

struct documents {
	struct doc_kind *k;
	size_t n;
};

/* ------------------------------------------------------------ policy */

static void kind_free(struct doc_kind *k)
{
	free(k->name);
	free(k->source);
	free(k->table);
	free(k->key);
	free(k->perm);
	free(k->read_perm);
	free(k->title);
	free(k->target);
	for (size_t i = 0; i < k->nfields; i++) {
		free(k->fields[i].column);
		free(k->fields[i].label);
	}
	free(k->fields);
	free(k->reg_source);
	free(k->reg_table);
	for (size_t i = 0; i < k->nsearch; i++)
		free(k->search[i]);
	free(k->search);
}

void documents_free(struct documents *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		kind_free(&d->k[i]);
	free(d->k);
	free(d);
}

const struct doc_kind *documents_kind(const struct documents *d, const char *name)
{
	for (size_t i = 0; d != NULL && i < d->n; i++)
		if (strcmp(d->k[i].name, name) == 0)
			return &d->k[i];
	return NULL;
}

static char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? strdup(s) : NULL;
}

struct documents *documents_load(const char *path, const struct routing *rt, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je), *kinds, *o;
	struct documents *d = calloc(1, sizeof(*d));
	const char *name;

	if (d == NULL)
		goto oom;
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		goto fail;
	}
	kinds = json_object_get(root, "kinds");
	if (!json_is_object(kinds) || (d->k = calloc(json_object_size(kinds) + 1, sizeof(*d->k))) == NULL) {
		snprintf(err, errlen, "%s: needs \"kinds\": an object of document kinds", path);
		goto fail;
	}
	json_object_foreach (kinds, name, o) {
		struct doc_kind *k = &d->k[d->n++];
		json_t *fields = json_object_get(o, "fields"), *reg = json_object_get(o, "register"), *f;
		const struct routing_table *t = NULL;
		size_t i;

		k->name = strdup(name);
		k->source = str(o, "source");
		k->table = str(o, "table");
		k->key = str(o, "key");
		k->perm = str(o, "permission");
		k->read_perm = str(o, "read_permission");
		k->title = str(o, "title");
		if (k->name == NULL || k->source == NULL || k->table == NULL || k->key == NULL ||
		    k->perm == NULL || k->read_perm == NULL || k->title == NULL || !json_is_array(fields) ||
		    json_array_size(fields) == 0) {
			snprintf(
				err, errlen,
				"%s: kind %s needs source, table, key, permission, read_permission, title and fields",
				path, name);
			goto fail;
		}
		for (size_t j = 0; j < routing_table_count(rt); j++) {
			const struct routing_table *c = routing_table_get(rt, j);

			if (strcmp(c->source, k->source) == 0 && strcmp(c->table, k->table) == 0)
				t = c;
		}
		if (t == NULL) {
			snprintf(err, errlen,
				 "%s: kind %s: %s of source %s is not routed to the units (routing.json)",
				 path, name, k->table, k->source);
			goto fail;
		}
		k->target = strdup(t->target_table ? t->target_table : t->name);
		k->fields = calloc(json_array_size(fields), sizeof(*k->fields));
		if (k->target == NULL || k->fields == NULL)
			goto oom;
		json_array_foreach (fields, i, f) {
			k->fields[i].column = str(f, "column");
			k->fields[i].label = str(f, "label");
			k->nfields++;
			if (k->fields[i].column == NULL || k->fields[i].label == NULL) {
				snprintf(err, errlen,
					 "%s: kind %s: fields[%zu] needs \"column\" and \"label\"", path,
					 name, i);
				goto fail;
			}
		}
		{
			json_t *sr = json_object_get(o, "search"), *v;

			k->search = calloc(json_array_size(sr) + 1, sizeof(char *));
			if (k->search == NULL)
				goto oom;
			json_array_foreach (sr, i, v) {
				if (!json_is_string(v) ||
				    (k->search[k->nsearch] = strdup(json_string_value(v))) == NULL) {
					snprintf(err, errlen,
						 "%s: kind %s: \"search\" is a list of column names", path,
						 name);
					goto fail;
				}
				k->nsearch++;
			}
		}
		if (reg != NULL) {
			k->reg_source = str(reg, "source");
			k->reg_table = str(reg, "table");
			if (k->reg_source == NULL || k->reg_table == NULL ||
			    strchr(k->reg_table, '.') == NULL) {
				snprintf(
					err, errlen,
					"%s: kind %s: register needs \"source\" and a schema-qualified \"table\"",
					path, name);
				goto fail;
			}
		}
	}
	json_decref(root);
	return d;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(root);
	documents_free(d);
	return NULL;
}

/* ------------------------------------------------------------ connections */

/* One connection per thread and conninfo (the API's pool threads). */
#define TL_MAX 16
static __thread struct {
	char *conninfo;
	PGconn *c;
	time_t used;
} tl[TL_MAX];

/* A connection idle for a while may have lost its backend (a restart, a
 * terminate): an empty query tells, and a reset mends it before use. */
static bool conn_usable(PGconn *c, time_t idle)
{
	PGresult *r;
	bool ok;

	if (PQstatus(c) != CONNECTION_OK)
		return false;
	if (idle < 1)
		return true;
	r = PQexec(c, "");
	ok = PQresultStatus(r) == PGRES_EMPTY_QUERY && PQstatus(c) == CONNECTION_OK;
	PQclear(r);
	return ok;
}

PGconn *thread_conn(const char *conninfo, const char *password, char *err, size_t errlen)
{
	int slot = -1;

	for (int i = 0; i < TL_MAX; i++) {
		if (tl[i].conninfo != NULL && strcmp(tl[i].conninfo, conninfo) == 0) {
			time_t now = time(NULL), idle = now - tl[i].used;

			tl[i].used = now;
			if (conn_usable(tl[i].c, idle))
				return tl[i].c;
			PQreset(tl[i].c);
			if (PQstatus(tl[i].c) == CONNECTION_OK)
				return tl[i].c;
			pg_error(tl[i].c, NULL, err, errlen);
			return NULL;
		}
		if (tl[i].conninfo == NULL && slot < 0)
			slot = i;
	}
	if (slot < 0) { /* full: the oldest goes */
		PQfinish(tl[0].c);
		free(tl[0].conninfo);
		memmove(&tl[0], &tl[1], sizeof(tl[0]) * (TL_MAX - 1));
		tl[TL_MAX - 1].conninfo = NULL;
		slot = TL_MAX - 1;
	}
	tl[slot].c = pg_connect(&(const struct pg_connect_opts){.conninfo = conninfo,
								.password = password,
								.appname = "syncd-api",
								.what = "database",
								.pin_search_path = true,
								.quiet = true},
				err, errlen);
	if (tl[slot].c == NULL)
		return NULL;
	tl[slot].conninfo = strdup(conninfo);
	tl[slot].used = time(NULL);
	return tl[slot].c;
}

int documents_prepare(const struct config *cfg, char *err, size_t errlen)
{
	PGconn *c = thread_conn(cfg->state_conninfo, cfg->state_password, err, errlen);

	return c == NULL ? -1 : schema_apply(c, err, errlen);
}

/* ------------------------------------------------------------ issue */

bool document_serial_valid(const char *s)
{
	return s != NULL && strlen(s) == 17 && strspn(s, "0123456789") == 5 && s[5] == '-' &&
	       strspn(s + 6, "0123456789") == 4 && s[10] == '-' && strspn(s + 11, "0123456789") == 6;
}

static char *quoted(PGconn *c, const char *schema_dot_table)
{
	const char *dot = strchr(schema_dot_table, '.');
	char *s, *t, *out = NULL;

	if (dot == NULL) {
		t = PQescapeIdentifier(c, schema_dot_table, strlen(schema_dot_table));
		out = t ? strdup(t) : NULL;
		PQfreemem(t);
		return out;
	}
	s = PQescapeIdentifier(c, schema_dot_table, (size_t)(dot - schema_dot_table));
	t = PQescapeIdentifier(c, dot + 1, strlen(dot + 1));
	if (s != NULL && t != NULL && asprintf(&out, "%s.%s", s, t) < 0)
		out = NULL;
	PQfreemem(s);
	PQfreemem(t);
	return out;
}

/* The record's fields from the unit's copy: a JSON array of {label, value};
 * 1 found, 0 not in this unit, <0 status. */
static int record_read(const struct config *cfg, const struct doc_kind *k, int unit, const char *key,
		       json_t **out, char *reason, size_t reasonlen)
{
	char *conninfo = config_expand_unit(cfg->tier_conninfo, unit),
	     *schema = config_expand_unit(cfg->tier_schema, unit);
	char err[512], *rel = NULL, *qs = NULL, *qt = NULL, *qk = NULL;
	struct buf sql = {0};
	PGconn *c = conninfo ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	PGresult *r = NULL;
	const char *params[1] = {key};
	int rc = -503;

	*out = NULL;
	if (c == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (the unit's copy cannot be read: %s)",
			 conninfo ? err : "out of memory");
		goto out;
	}
	qs = PQescapeIdentifier(c, schema, strlen(schema));
	qt = PQescapeIdentifier(c, k->target, strlen(k->target));
	qk = PQescapeIdentifier(c, k->key, strlen(k->key));
	if (qs == NULL || qt == NULL || qk == NULL || buf_puts(&sql, "SELECT ") < 0)
		goto oom;
	for (size_t i = 0; i < k->nfields; i++) {
		char *col = PQescapeIdentifier(c, k->fields[i].column, strlen(k->fields[i].column));
		int bad = col == NULL || buf_printf(&sql, "%s%s::text", i ? ", " : "", col) < 0;

		PQfreemem(col);
		if (bad)
			goto oom;
	}
	if (buf_printf(&sql, " FROM %s.%s WHERE %s = $1", qs, qt, qk) < 0)
		goto oom;
	r = PQexecParams(c, sql.data, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		pg_error(c, NULL, err, sizeof(err));
		if (state != NULL && strncmp(state, "22", 2) == 0) {
			snprintf(reason, reasonlen, "bad_key (%s is not a valid %s)", key, k->key);
			rc = -400;
		} else {
			snprintf(reason, reasonlen, "tier_unavailable (%s)", err);
		}
		goto out;
	}
	if (PQntuples(r) != 1) {
		snprintf(reason, reasonlen, "record_not_in_unit (no %s %s in unit %05d's copy of %s)", k->key,
			 key, unit, k->table);
		rc = 0;
		goto out;
	}
	*out = json_array();
	for (size_t i = 0; i < k->nfields && *out; i++)
		json_array_append_new(*out,
				      json_pack("{s:s,s:s?}", "label", k->fields[i].label, "value",
						PQgetisnull(r, 0, (int)i) ? NULL : PQgetvalue(r, 0, (int)i)));
	rc = 1;
	goto out;
oom:
	snprintf(reason, reasonlen, "internal (out of memory)");
	rc = -500;
out:
	PQclear(r);
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qk);
	buf_free(&sql);
	free(rel);
	free(conninfo);
	free(schema);
	return rc;
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
	rc = record_read(cfg, k, unit, key, &fields, reason, reasonlen);
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
			who->name && who->name[0] ? who->name : who->uid, "place", ui ? ui->full_name : ustr,
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
	{
		const char *p[11] = {
			serial, k->name, ustr, key, at, who->uid, who->request_id ? who->request_id : "",
			text,	hash,	 sig,  pub};

		if (tx_exec(c,
			    "INSERT INTO public.syncd_documents (serial, kind, unit, record_key, issued_at, issuer, request_id, "
			    "body, hash, signature, public_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			    11, p, PGRES_COMMAND_OK, NULL) < 0)
			goto dberr;
	}
	if (k->reg_source != NULL) {
		char dest[300];
		const char *p[3] = {serial, dest, text};

		snprintf(dest, sizeof(dest), "%s:%s", k->reg_source, k->reg_table);
		if (tx_exec(c,
			    "INSERT INTO public.syncd_outbox (serial, destination, payload) VALUES ($1, $2, $3)",
			    3, p, PGRES_COMMAND_OK, NULL) < 0)
			goto dberr;
	}
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
		"coalesce(revoke_reason, '') FROM public.syncd_documents WHERE serial = $1",
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
	PQclear(r);
	return d->body ? 1 : -1;
}

int document_revoke(const struct config *cfg, const char *serial, const char *by, const char *why,
		    char *reason, size_t reasonlen)
{
	const char *p[3] = {serial, by, why};
	char err[512];
	PGconn *c = thread_conn(cfg->state_conninfo, cfg->state_password, err, sizeof(err));
	PGresult *r;
	int n;

	if (c == NULL) {
		snprintf(reason, reasonlen, "state_unavailable (%s)", err);
		return 503;
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
		return 503;
	}
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	if (n == 1)
		return 0;
	snprintf(reason, reasonlen, "already_revoked (document %s)", serial);
	return 409;
}

/* ------------------------------------------------------------ rendering */

static int html_text(struct buf *b, const char *s)
{
	for (; s != NULL && *s; s++) {
		const char *e = *s == '<'   ? "&lt;"
				: *s == '>' ? "&gt;"
				: *s == '&' ? "&amp;"
				: *s == '"' ? "&quot;"
					    : NULL;

		if (e ? buf_puts(b, e) < 0 : buf_append(b, s, 1) < 0)
			return -1;
	}
	return 0;
}

/* The page's one style block; the Content-Security-Policy allows it by its
 * hash, so no other inline style or any script can run in the page. */
static const char doc_style[] =
	"body{font-family:'Times New Roman',serif;max-width:46em;margin:2em auto;line-height:1.5}"
	"header{display:flex;justify-content:space-between;text-align:center;font-weight:bold}"
	"h1{text-align:center;font-size:1.3em;margin-top:2em}.no{text-align:center}"
	"table{width:100%;border-collapse:collapse}th{text-align:left;font-weight:normal;width:40%;vertical-align:top}"
	"td{font-weight:bold}.place{text-align:right;font-style:italic;margin-top:2em}.sign{text-align:right}"
	".revoked{color:#b00;font-weight:bold;text-align:center;border:2px solid #b00;padding:.5em}"
	"footer{margin-top:3em;font-size:.8em;word-break:break-all;color:#444}";

static char doc_csp[512];
static pthread_once_t doc_csp_once = PTHREAD_ONCE_INIT;

static void doc_csp_make(void)
{
	unsigned char md[32], b64[64];

	SHA256((const unsigned char *)doc_style, strlen(doc_style), md);
	EVP_EncodeBlock(b64, md, sizeof(md));
	snprintf(doc_csp, sizeof(doc_csp),
		 "default-src 'none'; style-src 'sha256-%s'; img-src data:; frame-ancestors 'none'; "
		 "base-uri 'none'; form-action 'none'",
		 (const char *)b64);
}

const char *document_csp(void)
{
	pthread_once(&doc_csp_once, doc_csp_make);
	return doc_csp;
}

char *document_html(const char *body, const char *hash, bool revoked)
{
	json_t *d = json_loads(body, 0, NULL), *f;
	struct buf b = {0};
	const char *at;
	size_t i;
	int y = 0, m = 0, day = 0;
	int bad = 0;

	if (d == NULL)
		return NULL;
	at = json_string_value(json_object_get(d, "issued_at"));
	if (at != NULL)
		(void)sscanf(at, "%d-%d-%d", &y, &m, &day);
#define T(s)   bad |= buf_puts(&b, s) < 0
#define E(key) bad |= html_text(&b, json_string_value(json_object_get(d, key))) < 0
	T("<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	E("title");
	T(" ");
	E("serial");
	T("</title>\n<style>");
	T(doc_style);
	T("</style>\n</head>\n<body>\n");
	T("<header><div>ỦY BAN NHÂN DÂN<br>");
	E("unit_name");
	T("</div><div>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br>Độc lập - Tự do - Hạnh phúc</div></header>\n");
	if (revoked)
		T("<p class=\"revoked\">ĐÃ THU HỒI — văn bản này không còn giá trị (revoked)</p>\n");
	T("<h1>");
	E("title");
	T("</h1>\n<p class=\"no\">Số: ");
	E("serial");
	T("</p>\n<table>\n");
	json_array_foreach (json_object_get(d, "fields"), i, f) {
		T("<tr><th>");
		bad |= html_text(&b, json_string_value(json_object_get(f, "label"))) < 0;
		T(":</th><td>");
		bad |= html_text(&b, json_string_value(json_object_get(f, "value"))) < 0;
		T("</td></tr>\n");
	}
	T("</table>\n<p class=\"place\">");
	E("place");
	bad |= buf_printf(&b, ", ngày %02d tháng %02d năm %d</p>\n<p class=\"sign\">NGƯỜI KÝ<br>", day, m,
			  y) < 0;
	E("issuer_name");
	T("</p>\n<footer>Mã số văn bản: ");
	E("serial");
	T("<br>SHA-256: ");
	bad |= html_text(&b, hash) < 0;
	T("<br>Kiểm tra: /v1/documents/");
	E("serial");
	bad |= buf_printf(&b, "/verify?h=%.*s</footer>\n</body>\n</html>\n", DOC_HASH_PREFIX,
			  hash ? hash : "") < 0;
#undef T
#undef E
	json_decref(d);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

char *document_json(const struct doc_record *r)
{
	json_t *d = json_loads(r->body, 0, NULL);
	char *s;

	if (d == NULL)
		return NULL;
	json_object_set_new(d, "hash", json_string(r->hash));
	json_object_set_new(d, "signature", json_string(r->signature));
	json_object_set_new(d, "public_key", json_string(r->public_key));
	json_object_set_new(d, "revoked", json_boolean(r->revoked));
	json_object_set_new(d, "revoked_at", r->revoked ? json_string(r->revoked_at) : json_null());
	json_object_set_new(d, "revoke_reason", r->revoked ? json_string(r->revoke_reason) : json_null());
	s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}

/* ------------------------------------------------------------ outbox */

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
			(table = quoted(c, colon + 1)) != NULL &&
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

/* ------------------------------------------------------------ records */

int record_get(const struct config *cfg, const struct routing *rt, const char *source, const char *table,
	       int unit, const char *key, char **json, char *reason, size_t reasonlen)
{
	const struct routing_table *t = NULL;
	char *conninfo = NULL, *schema = NULL, *sql = NULL, err[512];
	char *qs = NULL, *qt = NULL, *qk = NULL;
	PGconn *c;
	PGresult *r = NULL;
	int rc = -503;

	*json = NULL;
	for (size_t i = 0; i < routing_table_count(rt); i++) {
		const struct routing_table *x = routing_table_get(rt, i);

		if (strcmp(x->source, source) == 0 &&
		    (strcmp(x->table, table) == 0 || strcmp(x->name, table) == 0))
			t = x;
	}
	if (t == NULL) {
		snprintf(reason, reasonlen, "unknown_table (source %s routes no table %s)", source, table);
		return -404;
	}
	conninfo = config_expand_unit(cfg->tier_conninfo, unit);
	schema = config_expand_unit(cfg->tier_schema, unit);
	c = conninfo && schema ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	if (c == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (%s)", conninfo ? err : "out of memory");
		goto out;
	}
	{
		const char *p[2] = {schema, t->target_table ? t->target_table : t->name};

		r = PQexecParams(
			c,
			"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
			"AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass(quote_ident($1) || '.' || "
			"quote_ident($2)) AND i.indisprimary AND i.indnatts = 1",
			2, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			snprintf(reason, reasonlen,
				 "no_single_key (the unit's %s has no one-column primary key)", table);
			rc = PQresultStatus(r) == PGRES_TUPLES_OK ? -400 : -503;
			goto out;
		}
		qs = PQescapeIdentifier(c, schema, strlen(schema));
		qt = PQescapeIdentifier(c, p[1], strlen(p[1]));
		qk = PQescapeIdentifier(c, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
		PQclear(r);
		r = NULL;
	}
	if (qs == NULL || qt == NULL || qk == NULL ||
	    asprintf(&sql, "SELECT row_to_json(t)::text FROM %s.%s t WHERE %s = $1", qs, qt, qk) < 0) {
		sql = NULL;
		snprintf(reason, reasonlen, "internal (out of memory)");
		rc = -500;
		goto out;
	}
	r = PQexecParams(c, sql, 1, NULL, &key, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		pg_error(c, NULL, err, sizeof(err));
		rc = state && strncmp(state, "22", 2) == 0 ? -400 : -503;
		snprintf(reason, reasonlen, rc == -400 ? "bad_key (%s)" : "tier_unavailable (%s)", err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		snprintf(reason, reasonlen, "record_not_in_unit (no record %s in unit %05d's copy of %s)",
			 key, unit, table);
		rc = 0;
		goto out;
	}
	*json = strdup(PQgetvalue(r, 0, 0));
	rc = *json ? 1 : -500;
out:
	PQclear(r);
	PQfreemem(qs);
	PQfreemem(qt);
	PQfreemem(qk);
	free(sql);
	free(conninfo);
	free(schema);
	return rc;
}

/* The WHERE clause for one kind's search columns; $1 is the text, $2/$3
 * the sheet and number of a "SHEET/NUMBER" query. */
static int search_where(PGconn *c, const struct doc_kind *k, bool sheet_query, struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i < k->nsearch; i++) {
		const char *col = k->search[i], *slash = strchr(col, '/');
		char *a = NULL, *z = NULL;
		int bad = 0;

		if (slash != NULL) {
			if (!sheet_query)
				continue;
			a = PQescapeIdentifier(c, col, (size_t)(slash - col));
			z = PQescapeIdentifier(c, slash + 1, strlen(slash + 1));
			bad = a == NULL || z == NULL ||
			      buf_printf(b, "%s(%s::text = $2 AND %s::text = $3)", n ? " OR " : "", a, z) < 0;
		} else {
			a = PQescapeIdentifier(c, col, strlen(col));
			bad = a == NULL ||
			      buf_printf(b, "%s%s::text ILIKE '%%' || $1 || '%%'", n ? " OR " : "", a) < 0;
		}
		PQfreemem(a);
		PQfreemem(z);
		if (bad)
			return -1;
		n++;
	}
	return n;
}

int records_search(const struct config *cfg, const struct documents *d, int unit, const char *q,
		   bool (*may_read)(const struct doc_kind *k, void *arg), void *arg, json_t **out,
		   char *reason, size_t reasonlen)
{
	char *conninfo = config_expand_unit(cfg->tier_conninfo, unit),
	     *schema = config_expand_unit(cfg->tier_schema, unit);
	char err[512], sheet[16] = "", number[16] = "", like[200];
	bool sheet_query = sscanf(q, "%15[0-9]/%15[0-9]", sheet, number) == 2;
	PGconn *c = conninfo && schema ? thread_conn(conninfo, cfg->tier_password, err, sizeof(err)) : NULL;
	int rc = 0;

	*out = json_array();
	if (c == NULL || *out == NULL) {
		snprintf(reason, reasonlen, "tier_unavailable (%s)", conninfo ? err : "out of memory");
		rc = 503;
		goto out;
	}
	/* LIKE's own wildcards in the query are taken literally */
	{
		size_t j = 0;

		for (const char *p = q; *p && j + 2 < sizeof(like); p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				like[j++] = '\\';
			like[j++] = *p;
		}
		like[j] = '\0';
	}
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		const struct doc_kind *k = &d->k[i];
		struct buf sql = {0};
		char *qs, *qt, *qk;
		const char *p[3] = {like, sheet, number};
		bool dup = false;
		PGresult *r;

		for (size_t j = 0; j < i; j++)
			dup |= strcmp(d->k[j].table, k->table) == 0 && strcmp(d->k[j].source, k->source) == 0;
		if (dup || k->nsearch == 0 || !may_read(k, arg))
			continue;
		qs = PQescapeIdentifier(c, schema, strlen(schema));
		qt = PQescapeIdentifier(c, k->target, strlen(k->target));
		qk = PQescapeIdentifier(c, k->key, strlen(k->key));
		if (qs == NULL || qt == NULL || qk == NULL || buf_printf(&sql, "SELECT %s::text", qk) < 0)
			rc = 500;
		for (size_t f = 0; f < k->nfields && rc == 0; f++) {
			char *col = PQescapeIdentifier(c, k->fields[f].column, strlen(k->fields[f].column));

			if (col == NULL || buf_printf(&sql, ", %s::text", col) < 0)
				rc = 500;
			PQfreemem(col);
		}
		if (rc == 0 &&
		    buf_printf(&sql,
			       " FROM %s.%s WHERE $1::text IS NOT NULL AND $2::text IS NOT NULL AND "
			       "$3::text IS NOT NULL AND (",
			       qs, qt) < 0)
			rc = 500;
		PQfreemem(qs);
		PQfreemem(qt);
		PQfreemem(qk);
		if (rc == 0) {
			int nw = search_where(c, k, sheet_query, &sql);

			if (nw < 0 || buf_printf(&sql, ") ORDER BY 1 LIMIT 50") < 0)
				rc = 500;
			else if (nw == 0) {
				buf_free(&sql);
				continue;
			}
		}
		if (rc != 0) {
			buf_free(&sql);
			snprintf(reason, reasonlen, "internal (out of memory)");
			break;
		}
		r = PQexecParams(c, sql.data, 3, NULL, p, NULL, NULL, 0);
		buf_free(&sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pg_error(c, NULL, err, sizeof(err));
			snprintf(reason, reasonlen, "tier_unavailable (%s)", err);
			PQclear(r);
			rc = 503;
			break;
		}
		for (int row = 0; row < PQntuples(r); row++) {
			json_t *fields = json_array();

			for (size_t f = 0; f < k->nfields; f++)
				json_array_append_new(
					fields, json_pack("{s:s,s:s?}", "label", k->fields[f].label, "value",
							  PQgetisnull(r, row, (int)f + 1)
								  ? NULL
								  : PQgetvalue(r, row, (int)f + 1)));
			json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:o}", "kind", k->name, "table",
							      k->table, "key", PQgetvalue(r, row, 0),
							      "fields", fields));
		}
		PQclear(r);
	}
out:
	free(conninfo);
	free(schema);
	return rc;
}
