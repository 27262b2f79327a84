/* documents.c — /v1/documents: issue, read, revoke and the public verify
 * (JSON, and the citizen's page GET /verify/<serial>?h=), each decided and
 * audited before syncd/documents/ does the work. */
#include "syncd/api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"

/* Issues j's document with its two audit rows (allow, then issued with
 * the serial) in one state-DB transaction, group-committed with other
 * issues: 0, else an HTTP status with reason (every row of the refusal
 * written: allow, then deny or error), or -1: the audit log is down. */
static int issue_audited(struct api *api, struct req *rq, struct doc_job *j, int unit, const char *object,
			 const char *why, char *reason, size_t reasonlen)
{
	struct audited_pair p = {"document.issue", unit, object, why, "issued", ""};
	struct audit_work w;
	char err[512];
	int r, st;

	document_job_work(j, &w);
	r = audited_action(api, rq, &p, &w, err, sizeof(err));
	if (r == 0)
		return 0;
	if (r != AUDIT_WORK_FAILED)
		return -1;
	/* nothing of it was written: the decision and why it failed, together */
	st = document_job_failed(j, err);
	snprintf(reason, reasonlen, "%s", j->reason);
	p.done = st >= 500 ? "error" : "deny";
	p.reason = reason;
	return audited_action(api, rq, &p, NULL, err, sizeof(err)) == 0 ? st : -1;
}

/* The 201 answer: serial, hash and the document (body: its canonical JSON). */
static enum MHD_Result issued_answer(struct MHD_Connection *c, struct req *rq, const char *serial,
				     const char *body)
{
	json_t *doc = json_loads(body, 0, NULL);
	char hash[65];

	sha256_hex(body, strlen(body), NULL, 0, hash);
	return respond_json(c, rq, 201,
			    json_pack("{s:s,s:s,s:o,s:s}", "serial", serial, "hash", hash, "document",
				      doc ? doc : json_null(), "html", "see GET /v1/documents/{serial}"));
}

/* The document of an allowed request (d): prepared on this thread, then
 * written with its audit rows. */
static enum MHD_Result issue_allowed(struct api *api, struct MHD_Connection *c, struct req *rq,
				     const struct authz_user *me, const struct doc_kind *k, int unit,
				     const char *key, const struct authz_decision *d)
{
	char reason[512], object[160], role[64] = "";
	struct doc_issuer who = {me->uid, me->name, rq->id, role};
	struct audited_pair p = {"document.issue", unit, object, d->reason, "", ""};
	struct doc_job j;
	enum MHD_Result res;
	char err[512];
	int st;

	snprintf(object, sizeof(object), "%s/%s", k->name, key);
	if (d->nchain > 0) /* the role of the grant that allowed it picks the signature block */
		snprintf(role, sizeof(role), "%s", d->chain[0].role);
	if (api->deps.audit == NULL) /* nothing is issued unaudited */
		return audit_down(c, rq);
	st = document_prepare(api->deps.cfg, api->deps.rt, api->deps.signer, k, unit, key, &who, &j, reason,
			      sizeof(reason));
	if (st != 0) { /* the decision and why nothing was issued, in one commit */
		p.done = st >= 500 ? "error" : "deny";
		p.reason = reason;
	} else {
		st = issue_audited(api, rq, &j, unit, object, d->reason, reason, sizeof(reason));
	}
	if (st < 0 || (p.done[0] && audited_action(api, rq, &p, NULL, err, sizeof(err)) < 0)) {
		document_job_free(&j);
		return audit_down(c, rq);
	}
	if (st != 0) {
		document_job_free(&j);
		return respond_reason(c, rq, (unsigned)st, reason);
	}
	metrics_document_add(api->deps.metrics, k->name);
	log_info("%s %s: issued %s %s (%s)", rq->addr, me->uid, k->name, j.serial, object);
	rq->logged = true;
	res = issued_answer(c, rq, j.serial, j.body);
	document_job_free(&j);
	return res;
}

enum MHD_Result ep_document_issue(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	char err[512], object[160], keybuf[64];
	json_t *o = body_object(rq, err, sizeof(err)), *kv;
	const struct doc_kind *k;
	const char *kind, *key;
	struct authz_decision d;
	enum MHD_Result res;
	int unit;
	(void)hole;

	if (o == NULL)
		return respond_error(c, rq, 400, "bad_request", "%s", err);
	kind = json_string_value(json_object_get(o, "kind"));
	unit = unit_parse(json_string_value(json_object_get(o, "unit")));
	kv = json_object_get(o, "key");
	if (json_is_integer(kv)) {
		snprintf(keybuf, sizeof(keybuf), "%lld", (long long)json_integer_value(kv));
		key = keybuf;
	} else {
		key = json_string_value(kv);
	}
	if (kind == NULL || unit < 0 || key == NULL || key[0] == '\0' || strlen(key) > 60) {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "needs {\"kind\": KIND, \"unit\": \"CODE\", \"key\": RECORD-KEY}");
	}
	k = documents_kind(api->deps.docs, kind);
	if (k == NULL) {
		res = respond_error(
			c, rq, 400, "unknown_kind",
			"no document kind \"%s\" in documents.json (birth_extract, marriage_extract, "
			"death_extract, land_parcel_extract, land_use_certificate)",
			kind);
		json_decref(o);
		return res;
	}
	snprintf(object, sizeof(object), "%s/%s", k->name, key);
	/* an allow is written with the document, in its transaction */
	if (permitted_with(api, c, rq, me, k->perm, unit, "document.issue", object, &d, &res))
		res = issue_allowed(api, c, rq, me, k, unit, key, &d);
	json_decref(o);
	return res;
}

static bool wants_html(struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");

	return a != NULL && strstr(a, "text/html") != NULL && strstr(a, "application/json") == NULL;
}

enum MHD_Result ep_document_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char reason[512];
	const struct doc_kind *k;
	enum MHD_Result res;
	int f = document_serial_valid(serial)
			? document_find(api->deps.cfg, serial, &d, reason, sizeof(reason))
			: 0;

	if (f < 0)
		return respond_reason(c, rq, 503, reason);
	if (f == 0) {
		if (!audited(api, rq, "document.read", 0, serial, "deny", "unknown_document"))
			return audit_down(c, rq);
		return respond_error(c, rq, 404, "unknown_document", "no document %s", serial);
	}
	k = documents_kind(api->deps.docs, d.kind);
	if (!permitted(api, c, rq, me, k ? k->read_perm : "audit.read", d.unit, "document.read", serial,
		       &res)) {
		doc_record_free(&d);
		return res;
	}
	if (wants_html(c)) {
		struct doc_print p;
		char *html;

		documents_print_setup(api->deps.docs, api->deps.cfg, &d, &p);
		html = document_html(d.body, d.hash, d.revoked, &p);

		doc_record_free(&d);
		return html ? respond(c, rq, 200, "text/html; charset=utf-8", html, strlen(html)) : MHD_NO;
	} else {
		char *js = document_json(&d);

		doc_record_free(&d);
		return js ? respond(c, rq, 200, "application/json", js, strlen(js)) : MHD_NO;
	}
}

enum MHD_Result ep_document_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char reason[512], err[256];
	json_t *o = body_object(rq, err, sizeof(err));
	const char *why = o ? json_string_value(json_object_get(o, "reason")) : NULL;
	const struct doc_kind *k;
	enum MHD_Result res;
	int f, st;

	if (why == NULL || why[0] == '\0') {
		json_decref(o);
		return respond_error(c, rq, 400, "bad_request",
				     "needs {\"reason\": WHY} (a revocation says why)");
	}
	f = document_serial_valid(serial) ? document_find(api->deps.cfg, serial, &d, reason, sizeof(reason))
					  : 0;
	if (f <= 0) {
		json_decref(o);
		if (f < 0)
			return respond_reason(c, rq, 503, reason);
		if (!audited(api, rq, "document.revoke", 0, serial, "deny", "unknown_document"))
			return audit_down(c, rq);
		return respond_error(c, rq, 404, "unknown_document", "no document %s", serial);
	}
	k = documents_kind(api->deps.docs, d.kind);
	if (!permitted(api, c, rq, me, k ? k->perm : "grant.manage", d.unit, "document.revoke", serial,
		       &res)) {
		doc_record_free(&d);
		json_decref(o);
		return res;
	}
	/* the allow row above is the intent; the outcome follows */
	switch (document_revoke(api->deps.cfg, serial, me->uid, why, reason, sizeof(reason))) {
	case DOC_OK: st = 0; break;
	case DOC_ALREADY_REVOKED: st = 409; break;
	case DOC_STATE_DOWN:
	default: st = 503; break;
	}
	json_decref(o);
	outcome(api, rq, "document.revoke", d.unit, serial, st, "revoked", reason);
	doc_record_free(&d);
	if (st != 0)
		return respond_reason(c, rq, (unsigned)st, reason);
	log_info("%s %s: revoked document %s", rq->addr, me->uid, serial);
	rq->logged = true;
	return respond(c, rq, 204, "application/json", strdup(""), 0);
}

/* A verification's lookup and its audit row, for the JSON answer and the
 * page alike: 1 with *d when serial is a document whose hash starts with
 * ?h= (16-64 lowercase hex), 0 unknown, -1 with *res answered (the state
 * DB down, or the audit append failed). */
static int verify_open(struct api *api, struct MHD_Connection *c, struct req *rq, const char *serial,
		       struct doc_record *d, enum MHD_Result *res)
{
	const char *h = req_arg(c, "h");
	char reason[512];
	int f = document_serial_valid(serial) && h != NULL && strlen(h) >= DOC_HASH_PREFIX &&
				strlen(h) <= 64 && strspn(h, "0123456789abcdef") == strlen(h)
			? document_find(api->deps.cfg, serial, d, reason, sizeof(reason))
			: 0;

	if (f < 0) {
		*res = respond_reason(c, rq, 503, reason);
		return -1;
	}
	/* the serial alone tells nothing: the hash printed with it must match */
	if (f == 1 && strncmp(d->hash, h, strlen(h)) != 0) {
		doc_record_free(d);
		f = 0;
	}
	if (!audited(api, rq, "document.verify", f == 1 ? d->unit : 0, serial, "allow",
		     f == 1 ? "" : "unknown")) {
		if (f == 1)
			doc_record_free(d);
		*res = audit_down(c, rq);
		return -1;
	}
	return f;
}

/* valid, revoked, or invalid when the stored body no longer matches its
 * hash or signature. */
static const char *verify_status(struct api *api, const struct doc_record *d)
{
	char hash[65];

	sha256_hex(d->body, strlen(d->body), NULL, 0, hash);
	return strcmp(hash, d->hash) != 0 ||
			       (api->deps.signer != NULL &&
				signer_verify(api->deps.signer, d->body, strlen(d->body), d->signature) != 1)
		       ? "invalid"
	       : d->revoked ? "revoked"
			    : "valid";
}

/* Public: says whether a serial is a document syncd issued, and its state,
 * with no personal data. */
enum MHD_Result ep_document_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	char day[11] = "";
	const char *status;
	json_t *doc;
	enum MHD_Result res;
	int f = verify_open(api, c, rq, serial, &d, &res);
	(void)me;

	if (f < 0)
		return res;
	if (f == 0) {
		char shown[256];

		text_clean(serial, strlen(serial), shown, sizeof(shown));
		return respond_json(c, rq, 200, json_pack("{s:s,s:s}", "serial", shown, "status", "unknown"));
	}
	status = verify_status(api, &d);
	doc = json_loads(d.body, 0, NULL);
	snprintf(day, sizeof(day), "%.10s", doc ? json_string_value(json_object_get(doc, "issued_at")) : "");
	json_decref(doc);
	{
		char unit[12];
		json_t *j;

		snprintf(unit, sizeof(unit), "%05d", d.unit);
		j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "serial", serial, "status", status,
			      "kind", d.kind, "unit", unit, "issued_on", day, "hash", d.hash, "signature",
			      d.signature, "public_key", d.public_key, "revoked_at",
			      d.revoked ? json_string(d.revoked_at) : json_null());
		doc_record_free(&d);
		return respond_json(c, rq, 200, j);
	}
}

/* Public: the page a citizen's phone opens from the QR code, in
 * Vietnamese, server-rendered with no script: valid, revoked or unknown,
 * with the kind, serial, issuing unit and date only (DOMAIN.md, personal data). */
enum MHD_Result ep_verify_page(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *serial)
{
	struct doc_record d;
	struct doc_verdict v = {0};
	char shown[256], unit[12];
	const struct unit_info *ui;
	json_t *doc = NULL;
	char *html;
	enum MHD_Result res;
	int f = verify_open(api, c, rq, serial, &d, &res);
	(void)me;

	if (f < 0)
		return res;
	text_clean(serial, strlen(serial), shown, sizeof(shown));
	v.serial = shown;
	v.status = "unknown";
	if (f == 1) {
		doc = json_loads(d.body, 0, NULL);
		ui = routing_unit_find(api->deps.rt, d.unit);
		snprintf(unit, sizeof(unit), "%05d", d.unit);
		v.status = verify_status(api, &d);
		v.title = doc ? json_string_value(json_object_get(doc, "title")) : d.kind;
		v.unit = unit;
		v.unit_name = ui ? ui->full_name : unit;
		v.issued_at = doc ? json_string_value(json_object_get(doc, "issued_at")) : NULL;
		v.revoked_at = d.revoked ? d.revoked_at : NULL;
		v.hash_matches = true;
	}
	html = document_verify_html(&v);
	json_decref(doc);
	if (f == 1)
		doc_record_free(&d);
	return html ? respond(c, rq, 200, "text/html; charset=utf-8", html, strlen(html)) : MHD_NO;
}
