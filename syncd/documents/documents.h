/* documents.h — documents officials issue from their unit's copy
 * (policies/documents.json): the record read from the tier, a serial
 * <unit>-<year>-<6 digits> from a gap-free per-unit, per-year sequence,
 * canonical JSON, SHA-256, Ed25519 signature, a printable Vietnamese HTML
 * page, the register syncd_documents and an outbox that delivers
 * registration acts (land-use certificates) up to the city exactly once.
 * Grouped by the file that holds them: config.c, conn.c, issue.c,
 * render.c, qr.c, signers.c, records.c. */
#ifndef SYNCD_DOCUMENTS_H
#define SYNCD_DOCUMENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "authz/audit.h"
#include "authz/roles.h"
#include "authz/sign.h"
#include "syncd/config.h"
#include "syncd/sync/routing.h"

struct doc_field {
	char *column, *label;
};

struct doc_kind {
	char *name, *source, *table, *key, *perm, *read_perm, *title;
	char *target; /* the table's name in a unit's schema */
	struct doc_field *fields;
	size_t nfields;
	char *reg_source, *reg_table; /* NULL: not registered up */
	char *reg_target;	      /* or: a [target NAME] (HTTP) the document goes to; NULL: none */
	char **search;		      /* columns POST /v1/records/search looks in */
	size_t nsearch;
};

struct documents;

/* config.c */
struct documents *documents_load(const char *path, const struct routing *rt, char *err, size_t errlen);
void documents_free(struct documents *d);
const struct doc_kind *documents_kind(const struct documents *d, const char *name);
/* The kinds, 0 .. documents_count(d) - 1 (borrowed, valid until documents_free). */
size_t documents_count(const struct documents *d);
const struct doc_kind *documents_nth(const struct documents *d, size_t i);

/* conn.c */
/* Brings the state schema up to date (schema_apply) on this thread's
 * state connection. */
int documents_prepare(const struct config *cfg, char *err, size_t errlen);
/* This thread's connection for conninfo (opened, or reset, on demand;
 * borrowed: the thread keeps it). */
PGconn *thread_conn(const char *conninfo, const char *password, char *err, size_t errlen);
/* Closes this thread's connections (a thread that ends has its own closed;
 * the main thread calls this before it returns). */
void thread_conn_close(void);

/* issue.c */

struct doc_issuer {
	const char *uid, *name, *request_id;
	const char *role; /* of the grant that allowed the issue: picks the signature block */
};

/* One document to issue: what the API thread prepares (the record's
 * fields, the time, the nonce), then what the state-DB transaction gives it
 * (serial, the signed body) or why not. */
struct doc_job {
	const struct doc_kind *k;
	const struct signer *signer;
	const struct doc_issuer *who; /* borrowed: valid until the job is done */
	const struct unit_info *ui;   /* NULL: the unit's code stands for its name */
	const char *key;
	json_t *fields;
	char at[32], ustr[12], ystr[12], nonce[33];
	const char *claim_params[2];
	char serial[40];
	char *body; /* canonical JSON as signed (the job's) */
	int status; /* of the last run: 0, else an HTTP status with reason */
	char reason[512];
};

/* Prepares j (no database written): 0, else an HTTP status with reason:
 * 404 record not in the unit's copy, 400 bad key, 503 tier down or no
 * signing key.  Free it with document_job_free. */
int document_prepare(const struct config *cfg, const struct routing *rt, const struct signer *signer,
		     const struct doc_kind *k, int unit, const char *key, const struct doc_issuer *who,
		     struct doc_job *j, char *reason, size_t reasonlen);
/* The job's state-DB part as the work of its audit rows' append (w refers
 * to j): the claim bumps the unit-year serial (its row locked until the
 * batch commits: gap-free, in commit order); the run builds the canonical
 * JSON with the serial, hashes and signs it, and puts the syncd_documents
 * row, the outbox row or the target's queue row for a kind with a
 * register; the outcome row's object becomes "kind/key SERIAL". */
void document_job_work(struct doc_job *j, struct audit_work *w);
/* audit_work's run of a job (arg: the struct doc_job). */
int document_job_run(PGconn *c, void *arg, const PGresult *claimed, char *object, size_t objlen, char *err,
		     size_t errlen);
/* The job's status after its work failed (err: audit_append_work's), with
 * j->reason. */
int document_job_failed(struct doc_job *j, const char *err);
void document_job_free(struct doc_job *j);

struct doc_record {
	char kind[64];
	int unit;
	char *body; /* canonical JSON as signed */
	char hash[65], signature[129], public_key[65];
	bool revoked;
	char revoked_at[40], revoke_reason[256];
	char signer_role[64]; /* "" for documents issued before 004_document_signer.sql */
};

/* 1 found, 0 unknown serial, -1 state DB error (reason). */
int document_find(const struct config *cfg, const char *serial, struct doc_record *r, char *reason,
		  size_t reasonlen);
void doc_record_free(struct doc_record *r);
/* What a revocation did (the API maps it to a status). */
enum doc_outcome {
	DOC_OK,		     /* revoked now */
	DOC_ALREADY_REVOKED, /* revoked before, or no such serial (reason says) */
	DOC_STATE_DOWN,	     /* the state database did not answer (reason says) */
};
enum doc_outcome document_revoke(const struct config *cfg, const char *serial, const char *by,
				 const char *why, char *reason, size_t reasonlen);
/* A serial's shape: 5 digits, year, 6 digits. */
bool document_serial_valid(const char *s);
/* Delivers the outbox once (a pass): rows delivered, or -1. */
int outbox_deliver(const struct config *cfg, const struct documents *d, char *err, size_t errlen);

/* How a document is printed beyond its signed body: the base of its
 * verification link, the signature block, the land-use information sheet. */
struct doc_print {
	char base[512]; /* public_url, else http(s)://listen; no trailing slash */
	const char *lines[4];
	size_t nlines;	  /* signer title lines; 0: the caption only */
	const char *name; /* the signer's name, "" when not configured */
	bool info_sheet;  /* registered up (a land-use certificate): an information sheet */
};

/* config.c (continued) */
/* Fills p for document r (kind, unit, issuing role) from d and cfg. */
void documents_print_setup(const struct documents *d, const struct config *cfg, const struct doc_record *r,
			   struct doc_print *p);

/* signers.c */
struct signers;
/* policies/signers.csv (text; name for messages): lines
 * unit_code,role,title,name — title lines separated by " / ", name
 * optional; '#' comments, blank lines and the header line skipped.  Each
 * unit must be unit_known and each role in roles; NULL with
 * "name:line: what is wrong and the fix" in err. */
struct signers *signers_parse(const char *text, const char *name, const struct roles *roles,
			      bool (*unit_known)(int unit, const void *arg), const void *arg, char *err,
			      size_t errlen);
void signers_free(struct signers *s);
/* The signature block of a document role issued in unit: the title lines
 * (at most max, borrowed) from s, else the role's signer_title; *name from
 * s or "".  Returns the number of lines (0: caption only). */
size_t signers_resolve(const struct signers *s, const struct roles *roles, int unit, const char *role,
		       const char **lines, size_t max, const char **name);

/* qr.c */
/* text as a QR code (libqrencode, level M): an inline <svg> of one path
 * (new string), NULL on failure; *modules (if set) the symbol's width. */
char *qr_svg(const char *text, int *modules);

/* render.c */

/* "ngày 05 tháng 01 năm 2026": a leading zero for days 1-9 and for months
 * 1 and 2 only (ngày 22 tháng 8 năm 2026).  -1 when not a date. */
int doc_date_words(int y, int m, int d, char *out, size_t outlen);
/* A field value "2026-08-22" as "22/08/2026"; false (out untouched) when
 * the value is not exactly a date. */
bool doc_date_field(const char *value, char *out, size_t outlen);

/* The printable page (new string) from the canonical JSON; p NULL: no
 * signer, links relative to the server. */
char *document_html(const char *body, const char *hash, bool revoked, const struct doc_print *p);

/* What the public verification page shows: never personal data. */
struct doc_verdict {
	const char *serial;
	const char *status; /* "valid", "revoked", "invalid" or "unknown" (nothing else shown) */
	const char *title, *unit, *unit_name;
	const char *issued_at, *revoked_at; /* UTC "2026-08-22T03:00:00Z"; shown as the date in Việt Nam */
	bool hash_matches;
};
/* The public verification page (new string, Vietnamese, no script). */
char *document_verify_html(const struct doc_verdict *v);

/* The Content-Security-Policy of that page (its style allowed by hash). */
const char *document_csp(void);

/* Hex digits of a document's SHA-256 printed with its serial for public
 * verification: the serial alone tells nothing (GET .../verify?h=PREFIX). */
#define DOC_HASH_PREFIX 16
/* The JSON answer for GET: the body plus hash, signature, revocation. */
char *document_json(const struct doc_record *r);

/* records.c */
/* The record's fields from the unit's copy: a JSON array of {label, value}
 * (*out, caller frees); 1 found, 0 not in this unit, else -status with reason. */
int records_fields(const struct config *cfg, const struct doc_kind *k, int unit, const char *key,
		   json_t **out, char *reason, size_t reasonlen);
/* "schema"."table" (or "table") quoted for SQL; a new string or NULL. */
char *records_quote_table(PGconn *c, const char *schema_dot_table);
/* One record of a routed table from the unit's copy, as JSON text (caller
 * frees): 1 found, 0 not in the unit's copy, else -status with reason. */
int record_get(const struct config *cfg, const struct routing *rt, const char *source, const char *table,
	       int unit, const char *key, char **json, char *reason, size_t reasonlen);

/* A search of a unit's copy: q (a name, a personal ID number, or
 * SHEET/NUMBER), the page (from 1, RECORDS_PAGE_SIZE hits each, at most
 * RECORDS_PAGE_MAX), and one kind or NULL for every kind. */
#define RECORDS_PAGE_SIZE 20
#define RECORDS_PAGE_MAX  1000
#define RECORDS_QUERY_MAX 100 /* bytes of q */
struct records_query {
	const char *q;
	int page;
	const struct doc_kind *kind;
};
/* Searches the unit's copy of every document table the caller may read
 * (may_read(kind) true) for q in the kinds' "search" columns; *hits is
 * [{kind, table, key, fields: [{label, value}]}], ordered by kind (as in
 * documents.json) then key, one page of it; *more says a next page has
 * some.  0, else an HTTP status with reason. */
int records_search(const struct config *cfg, const struct documents *d, int unit,
		   const struct records_query *rq, bool (*may_read)(const struct doc_kind *k, void *arg),
		   void *arg, json_t **hits, bool *more, char *reason, size_t reasonlen);

#endif
