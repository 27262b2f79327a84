/* internal.h — what the files of syncd/api/ share: the server and request
 * structs, the reply and guard helpers, the embedded web page's files, and
 * one handler per endpoint. */
#ifndef SYNCD_API_INTERNAL_H
#define SYNCD_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "syncd/api/api.h"
#include "syncd/api/session.h"
#include "syncd/metrics.h"

struct throttle {
	char key[160];
	int fails;
	long long last_ms; /* monotonic time of the last failure */
};

struct api {
	struct MHD_Daemon *d;
	struct api_deps deps;
	struct authz *az;
	char **proxies;
	size_t nproxies;
	char *cert, *key;
	pthread_mutex_t lock;
	struct throttle *slots; /* THROTTLE_SIZE, under lock */
	bool throttle_full_said;
	unsigned char query_key[32]; /* for the keyed hash of searches in the audit log */
	struct session_table *sessions;
	bool secure_cookie; /* TLS here, or a public_url of https:// (a TLS proxy in front) */
	/* requests that wait on the directory or a database run on workers, so
	 * the server's own threads always answer /healthz and refusals */
	pthread_t *workers;
	size_t nworkers;
	pthread_mutex_t qlock;
	pthread_cond_t qwake;
	struct req *qhead, *qtail;
	bool stopping;
};

struct req {
	struct buf body;
	bool too_big;
	/* a request handed to a worker: its answer waits here until the
	 * connection is resumed and the server thread sends it */
	struct MHD_Connection *conn;
	struct req *qnext;
	char *url, *method;
	bool deferred, failed;
	struct MHD_Response *resp;
	unsigned status;
	char id[40];
	char addr[64];
	char user[128];
	char next[24];	 /* a CSV page's next cursor, sent as X-Next-Cursor */
	int retry_after; /* seconds, for a 429 */
	/* every refusal of a logged-in caller leaves an audit row: the
	 * endpoint's own, or one written by respond_error */
	struct api *api;
	bool authed, audit_failed, logged;
	int naudited;
	char what[160]; /* METHOD PATH, for that row */
	/* a caller signed in with the session cookie: its id (never logged
	 * nor audited) and the CSRF token its state-changing requests carry */
	bool via_session;
	char sid[SESSION_TOKEN_HEX + 1];
	char csrf[SESSION_TOKEN_HEX + 1];
	bool browser;	      /* a session endpoint or a cookie: no Basic challenge on 401 */
	bool is_static;	      /* an embedded file of the page: Cache-Control no-cache */
	const char *csp;      /* NULL: the API's own (or documents' for text/html) */
	char set_cookie[200]; /* sent as Set-Cookie when not empty */
};

/* One endpoint's handler: me is NULL unless the row asks for a login; hole
 * is what the pattern's {} matched ("" without one). */
typedef enum MHD_Result (*endpoint_fn)(struct api *api, struct MHD_Connection *c, struct req *rq,
				       const struct authz_user *me, const char *hole);

/* A row of the dispatch table. */
struct endpoint {
	const char *method, *pattern;
	endpoint_fn handler;
	bool login;	  /* HTTP Basic, then the handler has me */
	bool documents;	  /* off without documents.json */
	bool served_here; /* by the server thread: waits on nothing */
	bool standby;	  /* a standby serves it too (syncd/leader.h): status, the page, verification */
};

/* A file of the page (syncd/api/web/), embedded by the Makefile into
 * build/gen/web_assets.c. */
struct web_asset {
	const char *path; /* "index.html", "i18n/vi.json" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};
extern const struct web_asset web_assets[];
extern const size_t web_nassets;

/* The Content-Security-Policy of every response (documents' HTML pages keep
 * their own stricter one). */
#define API_CSP                                                                                              \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " \
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/* server.c */
/* The row for method and url, what its {} matched in hole; NULL with
 * *allowed set to the methods the url has ("" when none: 404). */
const struct endpoint *endpoint_find(const char *method, const char *url, char *hole, size_t holesize,
				     char *allowed, size_t allowedlen);
void throttle_after(struct api *api, const char *uid, const char *addr, bool ok);
/* A 5-digit unit code, or -1. */
int unit_parse(const char *s);
/* A query argument of the request (borrowed), NULL when absent. */
const char *req_arg(struct MHD_Connection *c, const char *name);
/* The request body as a JSON object (new reference), NULL with err. */
json_t *body_object(struct req *rq, char *err, size_t errlen);

/* reply.c */
/* Takes body (freed by the response). */
enum MHD_Result respond(struct MHD_Connection *c, struct req *rq, unsigned status, const char *ctype,
			char *body, size_t len);
/* Takes the reference to j. */
enum MHD_Result respond_json(struct MHD_Connection *c, struct req *rq, unsigned status, json_t *j);
/* {"error": code, "message": text}; refusals are logged with the reason. */
enum MHD_Result respond_error(struct MHD_Connection *c, struct req *rq, unsigned status, const char *code,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "code (details)" -> code and the whole text as the message. */
enum MHD_Result respond_reason(struct MHD_Connection *c, struct req *rq, unsigned status, const char *reason);

/* guard.c */
/* 1: u is the caller (HTTP Basic, or the session cookie: rq->via_session);
 * otherwise the response was queued (401/503). */
int authenticate(struct api *api, struct MHD_Connection *c, struct req *rq, struct authz_user *u,
		 enum MHD_Result *res);
/* The one login check of HTTP Basic and of POST /v1/session: the directory
 * bind, the throttle's count, the audit row of a failure.  1: u is the
 * person; otherwise the response was queued (401 with code, or 503). */
int login_check(struct api *api, struct MHD_Connection *c, struct req *rq, const char *user, const char *pass,
		const char *code, struct authz_user *u, enum MHD_Result *res);
/* True when a state-changing request of a session caller lacks its
 * X-CSRF-Token (403 csrf queued in *res). */
bool csrf_refused(struct MHD_Connection *c, struct req *rq, const char *method, enum MHD_Result *res);
/* Appends the decision to the audit log; false when it could not be
 * written (the caller then refuses: nothing happens unaudited). */
bool audited(struct api *api, struct req *rq, const char *action, int unit, const char *object,
	     const char *decision, const char *reason);
enum MHD_Result audit_down(struct MHD_Connection *c, struct req *rq);
/* The outcome row of an action whose intent row is committed; st is the
 * HTTP status of the outcome (0: done). */
void outcome(struct api *api, struct req *rq, const char *action, int unit, const char *object, int st,
	     const char *done, const char *reason);
/* The decision for me/perm/unit, audited; *res set and false unless allowed. */
bool permitted(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
	       const char *perm, int unit, const char *action, const char *object, enum MHD_Result *res);
/* As permitted, but an allow is not audited here (*d the decision): its
 * row goes with the action's own, in one transaction (audited_action). */
bool permitted_with(struct api *api, struct MHD_Connection *c, struct req *rq, const struct authz_user *me,
		    const char *perm, int unit, const char *action, const char *object,
		    struct authz_decision *d, enum MHD_Result *res);
/* An allowed action's two rows: the decision (allow, why) and the outcome
 * (done: issued, deny or error, with reason). */
struct audited_pair {
	const char *action;
	int unit;
	const char *object, *why, *done, *reason;
};
/* Appends p's rows in one transaction with w, the action's state-DB part
 * (NULL: none; its run names the outcome row's object): 0 committed; -1
 * the audit log could not be written (refuse: nothing happened);
 * AUDIT_WORK_FAILED: w refused (nothing written, err says why). */
int audited_action(struct api *api, struct req *rq, const struct audited_pair *p, const struct audit_work *w,
		   char *err, size_t errlen);
/* True when a state-changing request from another site is refused (*res set). */
bool cross_site(struct MHD_Connection *c, struct req *rq, bool has_body, enum MHD_Result *res);

/* grants.c */
enum MHD_Result ep_check(struct api *api, struct MHD_Connection *c, struct req *rq,
			 const struct authz_user *me, const char *hole);
enum MHD_Result ep_grant_create(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole);
enum MHD_Result ep_grant_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *id);
enum MHD_Result ep_grants_list(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole);

/* documents.c */
enum MHD_Result ep_document_issue(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole);
enum MHD_Result ep_document_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *serial);
enum MHD_Result ep_document_revoke(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *serial);
enum MHD_Result ep_document_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *serial);
enum MHD_Result ep_verify_page(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *serial);

/* records.c */
enum MHD_Result ep_record_get(struct api *api, struct MHD_Connection *c, struct req *rq,
			      const struct authz_user *me, const char *rest);
enum MHD_Result ep_records_search(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole);

/* audit.c */
enum MHD_Result ep_audit_query(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole);
enum MHD_Result ep_audit_verify(struct api *api, struct MHD_Connection *c, struct req *rq,
				const struct authz_user *me, const char *hole);

/* session.c */
enum MHD_Result ep_session_create(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole);
enum MHD_Result ep_session_get(struct api *api, struct MHD_Connection *c, struct req *rq,
			       const struct authz_user *me, const char *hole);
enum MHD_Result ep_session_delete(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *hole);

/* static.c */
/* The embedded file at path ("" is index.html), or NULL. */
const struct web_asset *web_asset_find(const char *path);
/* GET / and GET /<file>: hole is the path without its leading slash. */
enum MHD_Result ep_static(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole);

/* status.c */
enum MHD_Result ep_healthz(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole);
enum MHD_Result ep_readyz(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole);
enum MHD_Result ep_metrics(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole);
enum MHD_Result ep_status(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole);

#endif
