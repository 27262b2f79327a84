/* deadletter.c — /v1/deadletter: the HTTP targets' dead letters for the
 * city's operators: the list, one with its batch's body, retry and discard,
 * each decided (a city role) and audited before connectors/http_deadletter
 * does it; its results become HTTP statuses here, in one place. */
#include "syncd/api/deadletter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "connectors/http_deadletter.h"

/* ------------------------------------------------------------ words into statuses */

/* The module's result as the HTTP status to answer (0: done) and its
 * error code: the one place where dead-letter results become statuses. */
static int dl_status(enum deadletter_result r, const char **code)
{
	switch (r) {
	case DEADLETTER_OK: *code = ""; return 0;
	case DEADLETTER_INVALID: *code = "bad_request"; return 400;
	case DEADLETTER_NOT_FOUND: *code = "unknown_deadletter"; return 404;
	case DEADLETTER_CONFLICT: *code = "already_resolved"; return 409;
	case DEADLETTER_UNAVAILABLE: *code = "state_unavailable"; return 503;
	case DEADLETTER_NOMEM: break;
	}
	*code = "internal";
	return 500;
}

/* ------------------------------------------------------------ JSON */

/* s as a JSON string (made valid UTF-8 first if need be); null for NULL. */
static json_t *text_json(const char *s, size_t len)
{
	json_t *j;
	char *clean;

	if (s == NULL)
		return json_null();
	j = json_stringn(s, len);
	if (j != NULL)
		return j;
	/* not UTF-8 (or a NUL in it): shown as text_clean shows it */
	clean = malloc(len * 4 + 1);
	if (clean == NULL)
		return NULL;
	text_clean(s, len, clean, len * 4 + 1);
	j = json_string(clean);
	free(clean);
	return j;
}

static json_t *str_json(const char *s)
{
	return text_json(s, s ? strlen(s) : 0);
}

/* One dead letter as JSON; full adds the response excerpt, the batch's
 * content type, creation time and body.  NULL when memory runs out. */
static json_t *deadletter_json(const struct deadletter *d, bool full)
{
	char unit[12];
	json_t *o = json_object();
	int bad = 0;

	snprintf(unit, sizeof(unit), "%05d", d->unit);
	if (o == NULL)
		return NULL;
	bad |= json_object_set_new(o, "id", json_integer(d->id));
	bad |= json_object_set_new(o, "target", str_json(d->target));
	bad |= json_object_set_new(o, "unit", json_string(unit));
	bad |= json_object_set_new(o, "batch", json_integer(d->batch));
	bad |= json_object_set_new(o, "batch_id", str_json(d->batch_id));
	bad |= json_object_set_new(o, "source", str_json(d->source));
	bad |= json_object_set_new(o, "changes", json_integer(d->changes));
	bad |= json_object_set_new(o, "lsn_from", str_json(d->lsn_from));
	bad |= json_object_set_new(o, "lsn_to", str_json(d->lsn_to));
	bad |= json_object_set_new(o, "batch_state", str_json(d->batch_state));
	bad |= json_object_set_new(o, "attempts", json_integer(d->attempts));
	bad |= json_object_set_new(o, "http_status",
				   d->http_status ? json_integer(d->http_status) : json_null());
	bad |= json_object_set_new(o, "error", str_json(d->error));
	bad |= json_object_set_new(o, "dead_at", str_json(d->dead_at));
	bad |= json_object_set_new(o, "open", json_boolean(d->resolved_at == NULL));
	bad |= json_object_set_new(o, "resolution", str_json(d->resolution));
	bad |= json_object_set_new(o, "resolved_at", str_json(d->resolved_at));
	bad |= json_object_set_new(o, "resolved_by", str_json(d->resolved_by));
	bad |= json_object_set_new(o, "reason", str_json(d->reason));
	bad |= json_object_set_new(o, "paused", json_boolean(d->paused));
	if (full) {
		bad |= json_object_set_new(o, "response_excerpt", str_json(d->response_excerpt));
		bad |= json_object_set_new(o, "content_type", str_json(d->content_type));
		bad |= json_object_set_new(o, "created_at", str_json(d->created_at));
		bad |= json_object_set_new(o, "body", text_json((const char *)d->body, d->body_len));
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* What a retry or discard did. */
static json_t *resolution_json(long long id, const struct deadletter_resolution *r, const char *why)
{
	char unit[12];

	snprintf(unit, sizeof(unit), "%05d", r->unit);
	return json_pack("{s:I,s:o,s:s,s:I,s:o,s:s,s:s,s:s,s:o,s:s,s:b,s:b}", "id", (json_int_t)id, "target",
			 str_json(r->target), "unit", unit, "batch", (json_int_t)r->batch, "batch_id",
			 str_json(r->batch_id), "resolution", r->resolution, "resolved_by", r->resolved_by,
			 "resolved_at", r->resolved_at, "reason", str_json(why), "batch_state",
			 strcmp(r->resolution, "retried") == 0 ? "pending" : "discarded", "unpaused",
			 r->unpaused, "paused", r->paused);
}

/* ------------------------------------------------------------ who may */

/* The city-wide decision: allowed through a city role holding one of the
 * n permissions.  False when the directory cannot tell (503 in *res). */
static bool city_decision(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *const *perms, size_t n,
			  struct authz_decision *d, enum MHD_Result *res)
{
	for (size_t i = 0; i < n; i++) {
		if (authz_city_role(api->az, me->uid, perms[i], d) < 0) {
			*res = respond_error(
				c, rq, 503, "directory_unavailable",
				"the directory cannot be reached; nothing is allowed until it returns");
			return false;
		}
		if (d->allow)
			return true;
	}
	return true;
}

/* A refusal of the decision: its deny row, then 403 naming what is needed. */
static enum MHD_Result refuse(struct api *api, struct MHD_Connection *c, struct req *rq, const char *action,
			      const char *object, const char *doing, const char *needs,
			      const struct authz_decision *d)
{
	if (!audited(api, rq, action, 0, object, "deny", d->reason))
		return audit_down(c, rq);
	return respond_error(c, rq, 403, "forbidden",
			     "%s needs %s, which you do not hold (%s); ask a city administrator", doing,
			     needs, d->reason);
}

/* The {id} of the path; false with 400 in *res when it is not one. */
static bool id_arg(struct MHD_Connection *c, struct req *rq, const char *hole, long long *id,
		   enum MHD_Result *res)
{
	if (deadletter_id_parse(hole, id) == 0)
		return true;
	*res = respond_error(c, rq, 400, "bad_request",
			     "\"%.60s\" is not a dead letter id: give the number from GET /v1/deadletter "
			     "(1 to 9223372036854775807)",
			     hole);
	return false;
}

/* This thread's state connection; NULL with 503 in *res. */
static PGconn *state_conn(struct api *api, struct MHD_Connection *c, struct req *rq, enum MHD_Result *res)
{
	char err[512];
	PGconn *db =
		thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));

	if (db == NULL)
		*res = respond_error(c, rq, 503, "state_unavailable", "%s", err);
	return db;
}

/* Dead letter id into *it (its batch's body too with with_body); false
 * with *res answered: 404 (audited), 503 or 500. */
static bool find(struct api *api, struct MHD_Connection *c, struct req *rq, const char *action, long long id,
		 bool with_body, struct deadletter_item *it, enum MHD_Result *res)
{
	char err[512], ids[24];
	const char *code;
	PGconn *db = state_conn(api, c, rq, res);
	enum deadletter_result r;
	int st;

	if (db == NULL)
		return false;
	r = deadletter_get(db, id, with_body, it, err, sizeof(err));
	st = dl_status(r, &code);
	if (st == 0)
		return true;
	snprintf(ids, sizeof(ids), "%lld", id);
	if (r == DEADLETTER_NOT_FOUND && !audited(api, rq, action, 0, ids, "deny", "unknown_deadletter"))
		*res = audit_down(c, rq);
	else if (r == DEADLETTER_NOT_FOUND)
		*res = respond_error(c, rq, 404, code, "no dead letter %s; see GET /v1/deadletter?all=1",
				     ids);
	else
		*res = respond_error(c, rq, (unsigned)st, code, "%s", err);
	return false;
}

/* ------------------------------------------------------------ reading */

static const char *const readers[] = {"grant.manage", "audit.read"};
#define READERS_NEED "a city role with grant.manage or audit.read (city_admin, city_auditor)"

/* The list's query arguments into *f; false with 400 in *res. */
static bool list_args(struct MHD_Connection *c, struct req *rq, struct deadletter_filter *f,
		      enum MHD_Result *res)
{
	const char *target = req_arg(c, "target"), *us = req_arg(c, "unit"), *all = req_arg(c, "all");

	memset(f, 0, sizeof(*f));
	f->target = target && target[0] ? target : NULL;
	if (us != NULL && us[0] != '\0' && (f->unit = unit_parse(us)) < 0) {
		*res = respond_error(c, rq, 400, "bad_request",
				     "unit must be a 5-digit unit code like 31120, not \"%.40s\"", us);
		return false;
	}
	if (all != NULL && strcmp(all, "1") != 0 && strcmp(all, "0") != 0 && strcmp(all, "") != 0) {
		*res = respond_error(
			c, rq, 400, "bad_request",
			"all is 1 (resolved dead letters too) or 0 (open ones only, the default), "
			"not \"%.40s\"",
			all);
		return false;
	}
	f->all = all != NULL && strcmp(all, "1") == 0;
	if (f->target != NULL && strlen(f->target) > 200) {
		*res = respond_error(
			c, rq, 400, "bad_request",
			"target is the NAME of a [target NAME] section of syncd.conf, at most 200 bytes");
		return false;
	}
	return true;
}

enum MHD_Result ep_deadletter_list(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *hole)
{
	struct deadletter_filter f;
	struct deadletter_list l;
	struct authz_decision d;
	char object[300], err[512];
	const char *code;
	enum MHD_Result res;
	json_t *arr;
	PGconn *db;
	int st;
	(void)hole;

	if (!list_args(c, rq, &f, &res) || !city_decision(api, c, rq, me, readers, 2, &d, &res))
		return res;
	snprintf(object, sizeof(object), "target=%.200s unit=%05d all=%d", f.target ? f.target : "*", f.unit,
		 f.all);
	if (!d.allow)
		return refuse(api, c, rq, "deadletter.list", object, "listing dead letters", READERS_NEED,
			      &d);
	if (!audited(api, rq, "deadletter.list", f.unit, object, "allow", d.reason))
		return audit_down(c, rq);
	if ((db = state_conn(api, c, rq, &res)) == NULL)
		return res;
	st = dl_status(deadletter_list(db, &f, &l, err, sizeof(err)), &code);
	if (st != 0)
		return respond_error(c, rq, (unsigned)st, code, "%s", err);
	arr = json_array();
	for (size_t i = 0; i < l.n && arr != NULL; i++)
		if (json_array_append_new(arr, deadletter_json(&l.items[i], false)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	res = arr ? respond_json(c, rq, 200, json_pack("{s:o,s:b}", "deadletters", arr, "more", l.more))
		  : respond_error(c, rq, 500, "internal", "out of memory");
	deadletter_list_free(&l);
	return res;
}

enum MHD_Result ep_deadletter_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole)
{
	struct deadletter_item it;
	struct authz_decision d;
	char object[320];
	enum MHD_Result res;
	long long id;
	json_t *j;

	if (!id_arg(c, rq, hole, &id, &res) || !city_decision(api, c, rq, me, readers, 2, &d, &res))
		return res;
	if (!d.allow)
		return refuse(api, c, rq, "deadletter.read", hole, "reading a dead letter", READERS_NEED, &d);
	if (!find(api, c, rq, "deadletter.read", id, true, &it, &res))
		return res;
	/* the body holds the unit's rows: its reading is audited in the unit */
	snprintf(object, sizeof(object), "%lld %.280s", id, it.d.batch_id ? it.d.batch_id : "-");
	if (!audited(api, rq, "deadletter.read", it.d.unit, object, "allow", d.reason)) {
		deadletter_item_free(&it);
		return audit_down(c, rq);
	}
	j = deadletter_json(&it.d, true);
	deadletter_item_free(&it);
	if (j == NULL)
		return respond_error(c, rq, 500, "internal", "out of memory");
	return respond_json(c, rq, 200, j);
}

/* ------------------------------------------------------------ resolving */

/* The body's "reason" (borrowed from *o, which the caller frees; NULL when
 * none).  A retry's body may be empty or {}; a discard's must hold a
 * reason that is not blank.  False with 400 in *res. */
static bool reason_arg(struct MHD_Connection *c, struct req *rq, bool required, json_t **o, const char **why,
		       enum MHD_Result *res)
{
	char err[256];
	const char *key;
	json_t *v;

	*o = NULL;
	*why = NULL;
	if (rq->body.len > 0) {
		if ((*o = body_object(rq, err, sizeof(err))) == NULL) {
			*res = respond_error(c, rq, 400, "bad_request", "%s", err);
			return false;
		}
		json_object_foreach (*o, key, v) {
			if (strcmp(key, "reason") != 0) {
				*res = respond_error(c, rq, 400, "bad_request",
						     "unknown field \"%.60s\" (the only field is reason)",
						     key);
				return false;
			}
		}
		v = json_object_get(*o, "reason");
		if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
			*res = respond_error(c, rq, 400, "bad_request",
					     "the field reason must be a string: {\"reason\": \"why\"}");
			return false;
		}
		*why = json_string_value(v);
	}
	if (required && deadletter_reason_blank(*why)) {
		*res = respond_error(
			c, rq, 400, "bad_request",
			"the field reason is missing or blank: a discard says why the batch is never "
			"sent; send {\"reason\": \"why\"}");
		return false;
	}
	if (*why != NULL && strlen(*why) > DEADLETTER_REASON_MAX) {
		*res = respond_error(c, rq, 400, "bad_request",
				     "the field reason is longer than %d bytes; say it shorter",
				     DEADLETTER_REASON_MAX);
		return false;
	}
	if (deadletter_reason_blank(*why))
		*why = NULL;
	return true;
}

/* Retry (retry true) or discard dead letter {id}: decision (a city role
 * with grant.manage), the intent row (with the reason), the transaction,
 * the outcome row, the answer. */
static enum MHD_Result resolve(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole, bool retry)
{
	static const char *const managers[] = {"grant.manage"};
	const char *action = retry ? "deadletter.retry" : "deadletter.discard", *why, *code;
	struct deadletter_resolution out;
	struct deadletter_item it;
	struct authz_decision d;
	char object[320], err[512], reason[600];
	enum deadletter_result r;
	enum MHD_Result res;
	long long id;
	json_t *o = NULL;
	int st, unit;
	PGconn *db;

	if (!id_arg(c, rq, hole, &id, &res) || !reason_arg(c, rq, !retry, &o, &why, &res))
		goto out;
	if (!city_decision(api, c, rq, me, managers, 1, &d, &res))
		goto out;
	if (!d.allow) {
		res = refuse(api, c, rq, action, hole,
			     retry ? "retrying a dead letter" : "discarding a dead letter",
			     "a city role with grant.manage (city_admin)", &d);
		goto out;
	}
	if (!find(api, c, rq, action, id, false, &it, &res))
		goto out;
	snprintf(object, sizeof(object), "%lld %.280s", id, it.d.batch_id ? it.d.batch_id : "-");
	unit = it.d.unit;
	deadletter_item_free(&it);
	/* the intent first, with the operator's reason: nothing is resolved unannounced */
	if (!audited(api, rq, action, unit, object, "intent", why ? why : "")) {
		res = audit_down(c, rq);
		goto out;
	}
	if ((db = state_conn(api, c, rq, &res)) == NULL) {
		outcome(api, rq, action, unit, object, 503, "allow", "state_unavailable (no connection)");
		goto out;
	}
	r = retry ? deadletter_retry(db, id, me->uid, why, &out, err, sizeof(err))
		  : deadletter_discard(db, id, me->uid, why, &out, err, sizeof(err));
	st = dl_status(r, &code);
	snprintf(reason, sizeof(reason), "%s (%s)", code, err);
	outcome(api, rq, action, unit, object, st, "allow", reason);
	if (st != 0) {
		res = respond_error(c, rq, (unsigned)st, code, "%s%s", err,
				    r == DEADLETTER_CONFLICT ? "; nothing was changed" : "");
		goto out;
	}
	log_info("%s %s: %s dead letter %lld (target %s, unit %05d, batch %s)%s", rq->addr, me->uid,
		 out.resolution, id, out.target, out.unit, out.batch_id,
		 out.unpaused ? "; unit unpaused"
		 : out.paused ? "; unit stays paused (another dead letter open)"
			      : "");
	rq->logged = true;
	res = respond_json(c, rq, 200, resolution_json(id, &out, why));
out:
	json_decref(o);
	return res;
}

enum MHD_Result ep_deadletter_retry(struct api *api, struct MHD_Connection *c, struct req *rq,
				    const struct authz_user *me, const char *hole)
{
	return resolve(api, c, rq, me, hole, true);
}

enum MHD_Result ep_deadletter_discard(struct api *api, struct MHD_Connection *c, struct req *rq,
				      const struct authz_user *me, const char *hole)
{
	return resolve(api, c, rq, me, hole, false);
}
