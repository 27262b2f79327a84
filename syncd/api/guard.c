/* guard.c — what stands before a handler acts: the login (HTTP Basic or the
 * session cookie, and its CSRF token), the decision, the audit row of each
 * decision and outcome, and the cross-site refusal. */
#include "syncd/api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authz/login.h"
#include "common/log.h"

/* The one login check of HTTP Basic and of POST /v1/session: the directory
 * bind, the throttle's count, the audit row of a failure.  1: u is the
 * person; otherwise the response was queued (401 with code, or 503). */
int login_check(struct api *api, struct MHD_Connection *c, struct req *rq, const char *user, const char *pass,
		const char *code, struct authz_user *u, enum MHD_Result *res)
{
	char err[512];
	int r;

	snprintf(rq->user, sizeof(rq->user), "%s", user);
	r = authz_authenticate(api->az, user, pass ? pass : "", u, err, sizeof(err));
	if (r < 0) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "the directory cannot check the login now (%s); try again shortly", err);
		return 0;
	}
	throttle_after(api, user, rq->addr, r == 1);
	if (r == 0) {
		if (!audited(api, rq, "login", 0, user, "deny", "unauthenticated"))
			*res = audit_down(c, rq);
		else
			*res = respond_error(c, rq, 401, code, "uid or password not accepted");
		return 0;
	}
	/* from here on the person is the directory's uid, however it was typed */
	snprintf(rq->user, sizeof(rq->user), "%s", u->uid);
	return 1;
}

/* The caller of the session cookie: 1 with u, else 401 no_session queued. */
static int session_caller(struct api *api, struct MHD_Connection *c, struct req *rq, struct authz_user *u,
			  enum MHD_Result *res)
{
	const char *cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
	struct session_info si;

	if (cookie == NULL || !session_cookie_parse(cookie, rq->sid) ||
	    !session_lookup(api->sessions, rq->sid, time(NULL), &si)) {
		explicit_bzero(rq->sid, sizeof(rq->sid));
		*res = respond_error(c, rq, 401, "no_session",
				     "not signed in, or the session ended (idle or too long); sign in again");
		return 0;
	}
	*u = si.user;
	memcpy(rq->csrf, si.csrf, sizeof(rq->csrf));
	explicit_bzero(&si, sizeof(si));
	rq->via_session = true;
	snprintf(rq->user, sizeof(rq->user), "%s", u->uid);
	return 1;
}

/* 1: u is the caller (HTTP Basic, or the session cookie: rq->via_session);
 * otherwise the response was queued (401/503). */
int authenticate(struct api *api, struct MHD_Connection *c, struct req *rq, struct authz_user *u,
		 enum MHD_Result *res)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	bool has_auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") != NULL;
	const char *cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
	char sid[SESSION_TOKEN_HEX + 1];
	int r = 0;

	if (api->az == NULL) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "no [ldap] section in syncd.conf: the API cannot authenticate anyone");
	} else if (!has_auth && (rq->browser || (cookie != NULL && session_cookie_parse(cookie, sid)))) {
		rq->browser = true; /* a page's request: a 401 must not open the browser's login box */
		r = session_caller(api, c, rq, u, res);
	} else if (user == NULL || user[0] == '\0') {
		/* credentials sent but unreadable (a NUL, no colon) are a failed login too */
		if (has_auth && !audited(api, rq, "login", 0, "-", "deny", "malformed_credentials"))
			*res = audit_down(c, rq);
		else
			*res = respond_error(c, rq, 401, "unauthenticated",
					     "log in with HTTP Basic (your directory uid and password)");
	} else {
		r = login_check(api, c, rq, user, pass, "unauthenticated", u, res);
	}
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	return r;
}

/* True when a state-changing request of a session caller lacks its
 * X-CSRF-Token: 403 csrf queued in *res (audited: the caller is known). */
bool csrf_refused(struct MHD_Connection *c, struct req *rq, const char *method, enum MHD_Result *res)
{
	const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");

	if (!rq->via_session || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return false;
	if (session_token_equal(token, rq->csrf))
		return false;
	*res = respond_error(c, rq, 403, "csrf",
			     "%s: a signed-in page's request that changes something must carry the session's "
			     "X-CSRF-Token header; reload the page",
			     token ? "X-CSRF-Token does not match" : "no X-CSRF-Token");
	return true;
}

/* ------------------------------------------------------------ audit of every decision */

/* The row of rq's action (u: room for the unit's code), counted in the
 * decision metrics. */
static void event_fill(struct api *api, struct req *rq, const char *action, int unit, const char *object,
		       const char *decision, const char *reason, char u[12], struct audit_event *ev)
{
	u[0] = '\0';
	if (unit > 0)
		snprintf(u, 12, "%05d", unit);
	ev->actor = rq->user[0] ? rq->user : "-";
	ev->client = rq->addr;
	ev->request_id = rq->id;
	ev->action = action;
	ev->unit = u;
	ev->object = object ? object : "";
	ev->decision = decision;
	ev->reason = reason ? reason : "";
	metrics_decision_add(api->deps.metrics, decision, ev->reason);
}

/* Appends the n rows ev with w (audit_append_work) and counts them: 0, -1
 * (logged: not audited) or AUDIT_WORK_FAILED (err: w's reason). */
static int rows_append(struct api *api, struct req *rq, const struct audit_event *ev, size_t n,
		       const struct audit_work *w, char *err, size_t errlen)
{
	int r = audit_append_work(api->deps.audit, ev, n, w, NULL, err, errlen);

	for (size_t i = 0; i < n && r != AUDIT_WORK_FAILED; i++)
		metrics_audit_add(api->deps.metrics, r == 0);
	if (r == 0) {
		rq->naudited += (int)n;
	} else if (r != AUDIT_WORK_FAILED) {
		rq->audit_failed = true;
		log_err("%s: %s %s not audited: %s", rq->addr, ev[0].action, ev[0].object, err);
	}
	return r;
}

/* Appends the decision to the audit log; false when it could not be
 * written (the caller then refuses: nothing happens unaudited). */
bool audited(struct api *api, struct req *rq, const char *action, int unit, const char *object,
	     const char *decision, const char *reason)
{
	char u[12], err[512];
	struct audit_event ev;

	event_fill(api, rq, action, unit, object, decision, reason, u, &ev);
	if (api->deps.audit == NULL)
		return true;
	return rows_append(api, rq, &ev, 1, NULL, err, sizeof(err)) == 0;
}

int audited_action(struct api *api, struct req *rq, const struct audited_pair *p, const struct audit_work *w,
		   char *err, size_t errlen)
{
	char u[12];
	struct audit_event ev[2];

	event_fill(api, rq, p->action, p->unit, p->object, "allow", p->why, u, &ev[0]);
	event_fill(api, rq, p->action, p->unit, p->object, p->done, p->reason, u, &ev[1]);
	if (api->deps.audit == NULL)
		return 0;
	return rows_append(api, rq, ev, 2, w, err, errlen);
}

enum MHD_Result audit_down(struct MHD_Connection *c, struct req *rq)
{
	return respond_error(
		c, rq, 503, "audit_unavailable",
		"the audit log cannot be written (state database); nothing is done unaudited, try again shortly");
}

/* The outcome row of an action whose intent (or allow) row is already
 * committed: done on success (st 0), else deny or error with the reason.
 * The effect may be live already, so a failure here is logged, not undone:
 * the row before it announced the action. */
void outcome(struct api *api, struct req *rq, const char *action, int unit, const char *object, int st,
	     const char *done, const char *reason)
{
	if (!audited(api, rq, action, unit, object,
		     st == 0	 ? done
		     : st >= 500 ? "error"
				 : "deny",
		     st == 0 ? "" : reason))
		log_err("%s %s: %s %s (%d): its outcome row is missing; the row before it announced it",
			rq->addr, rq->user, action, object, st);
}

/* The answer to a decision (r, d) whose row is written: true when
 * allowed, else *res set. */
static bool decision_answer(struct MHD_Connection *c, struct req *rq, int r, const struct authz_decision *d,
			    const char *perm, int unit, const char *action, enum MHD_Result *res)
{
	if (r == LP_UNAVAILABLE) {
		*res = respond_error(c, rq, 503, "directory_unavailable",
				     "the directory cannot be reached; nothing is allowed until it returns");
		return false;
	}
	if (!d->allow) {
		*res = respond_error(c, rq, 403, "forbidden", "%s needs %s in unit %05d (%s)", action, perm,
				     unit, d->reason);
		return false;
	}
	return true;
}

/* The decision for me/perm/unit, audited; *res set and false unless allowed. */
bool permitted(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
	       const char *perm, int unit, const char *action, const char *object, enum MHD_Result *res)
{
	struct authz_decision d;
	int r = authz_check(api->az, me->uid, perm, unit, &d);

	if (!audited(api, rq, action, unit, object, d.allow ? "allow" : "deny", d.reason)) {
		*res = audit_down(c, rq);
		return false;
	}
	return decision_answer(c, rq, r, &d, perm, unit, action, res);
}

bool permitted_with(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
		    const char *perm, int unit, const char *action, const char *object,
		    struct authz_decision *d, enum MHD_Result *res)
{
	int r = authz_check(api->az, me->uid, perm, unit, d);

	if (r != LP_UNAVAILABLE && d->allow)
		return true; /* its row goes with the action's */
	if (!audited(api, rq, action, unit, object, "deny", d->reason)) {
		*res = audit_down(c, rq);
		return false;
	}
	return decision_answer(c, rq, r, d, perm, unit, action, res);
}

/* A state-changing request from another site's page is refused before
 * anything else: its body must be JSON (a form or text/plain post cannot
 * send that without CORS), and a foreign Origin or Sec-Fetch-Site says
 * where it comes from.  True when refused (*res set). */
bool cross_site(struct MHD_Connection *c, struct req *rq, bool has_body, enum MHD_Result *res)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *authority = origin ? strstr(origin, "://") : NULL;

	if (site != NULL && strcmp(site, "cross-site") == 0) {
		*res = respond_error(c, rq, 403, "cross_site",
				     "requests from another site's page are refused");
		return true;
	}
	if (origin != NULL && strcmp(origin, "null") != 0 &&
	    (authority == NULL || host == NULL || strcasecmp(authority + 3, host) != 0)) {
		*res = respond_error(
			c, rq, 403, "cross_site",
			"Origin %.200s is not this server; requests from another site's page are refused",
			origin);
		return true;
	}
	if (origin != NULL && strcmp(origin, "null") == 0) {
		*res = respond_error(c, rq, 403, "cross_site", "an opaque Origin (null) is refused");
		return true;
	}
	if (has_body && (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
			 (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))) {
		*res = respond_error(c, rq, 415, "unsupported_media_type",
				     "send the body as JSON with Content-Type: application/json (not %.80s)",
				     ct ? ct : "no Content-Type");
		return true;
	}
	return false;
}
