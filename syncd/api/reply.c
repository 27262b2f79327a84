/* reply.c — responses: headers every answer carries (the CSP among them),
 * JSON bodies, and the {"error","message"} body of a refusal (logged, and
 * audited once). */
#include "syncd/api/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"

enum MHD_Result respond(struct MHD_Connection *c, struct req *rq, unsigned status, const char *ctype,
			char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "X-Request-Id", rq->id);
	/* the page's files may be kept but are checked each time; answers never */
	MHD_add_response_header(r, "Cache-Control", rq->is_static ? "no-cache" : "no-store");
	if (rq->next[0] != '\0')
		MHD_add_response_header(r, "X-Next-Cursor", rq->next);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* every answer, static or JSON or an error: no inline script or style */
	MHD_add_response_header(r, "Content-Security-Policy",
				rq->csp							? rq->csp
				: strncmp(ctype, "text/html", 9) == 0 && !rq->is_static ? document_csp()
											: API_CSP);
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	if (rq->set_cookie[0] != '\0')
		MHD_add_response_header(r, "Set-Cookie", rq->set_cookie);
	/* a page's request gets no Basic challenge: the browser would open its login box */
	if (status == MHD_HTTP_UNAUTHORIZED && !rq->browser)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"syncd\", charset=\"UTF-8\"");
	if (status == 429 && rq->retry_after > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", rq->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (status < 400 && !rq->logged) /* one line per request: refusals say theirs */
		log_info("%s %s: %s: %u", rq->addr, rq->user[0] ? rq->user : "-", rq->what, status);
	rq->logged = true;
	if (rq->deferred) { /* a worker's answer: sent by the server thread on resume */
		rq->resp = r;
		rq->status = status;
		return MHD_YES;
	}
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Takes the reference to j. */
enum MHD_Result respond_json(struct MHD_Connection *c, struct req *rq, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	return respond(c, rq, status, "application/json", s, strlen(s));
}

/* {"error": code, "message": text}; refusals are logged with the reason. */
enum MHD_Result respond_error(struct MHD_Connection *c, struct req *rq, unsigned status, const char *code,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
enum MHD_Result respond_error(struct MHD_Connection *c, struct req *rq, unsigned status, const char *code,
			      const char *fmt, ...)
{
	char raw[1024], msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* the message may quote the request: valid UTF-8, no controls, or no JSON */
	text_clean(raw, strlen(raw), msg, sizeof(msg));
	if (rq->authed && rq->naudited == 0 && !rq->audit_failed) {
		char reason[1100];

		snprintf(reason, sizeof(reason), "%s (%s)", code, msg);
		if (!audited(rq->api, rq, "request", 0, rq->what, status >= 500 ? "error" : "deny", reason))
			return respond_error(
				c, rq, 503, "audit_unavailable",
				"the audit log cannot be written (state database); nothing is done "
				"unaudited, try again shortly");
	}
	rq->logged = true;
	if (status >= 500)
		log_warn("%s %s: %u %s: %s", rq->addr, rq->user[0] ? rq->user : "-", status, code, msg);
	else
		log_info("%s %s: refused %u %s: %s", rq->addr, rq->user[0] ? rq->user : "-", status, code,
			 msg);
	return respond_json(c, rq, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
}

/* "code (details)" -> code and the whole text as the message. */
enum MHD_Result respond_reason(struct MHD_Connection *c, struct req *rq, unsigned status, const char *reason)
{
	char code[64];

	snprintf(code, sizeof(code), "%.*s", (int)strcspn(reason, " (:"), reason);
	return respond_error(c, rq, status, code, "%s", reason);
}
