/* apiclient.h — syncctl's HTTP client for syncd's API: one call with libcurl
 * and Jansson, query strings, TIME and serial arguments, and the login.
 *
 * Answers are JSON unless another type is asked for (a document as HTML,
 * the audit log as CSV); an error is always {"error": CODE, "message": TEXT}
 * with a 4xx/5xx status, and every answer carries X-Request-Id. */
#ifndef SYNCD_APICLIENT_H
#define SYNCD_APICLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* Where and as whom; the strings are borrowed from the caller. */
struct api_client {
	const char *url;      /* base URL of the API, e.g. "http://127.0.0.1:8443" */
	const char *user;     /* HTTP Basic login; NULL: none */
	const char *password; /* NULL: empty */
	const char *cacert;   /* CA file for https; NULL: the system's */
};

struct api_response {
	long status;		/* HTTP status; 0 when no answer came */
	json_t *json;		/* the parsed JSON body (success or error), or NULL */
	char *raw;		/* the body as it came, NUL-terminated; NULL when empty */
	size_t raw_len;		/* its length without the NUL */
	char content_type[128]; /* Content-Type, "" when absent */
	char request_id[128];	/* X-Request-Id, "" when absent */
	char *next_cursor;	/* X-Next-Cursor (a CSV page's next page), or NULL */
	char error[1024];	/* what went wrong, when api_call returns -1 */
};

/* One request: method "GET", "POST", "DELETE"...; path starts with "/" and
 * is appended to c->url; body (borrowed, may be NULL) is sent as JSON.
 * Returns 0 on a 2xx answer whose body is JSON or empty, -1 otherwise with
 * out->error set: the server's refusal (see api_error_format), an
 * unreachable URL with how to point syncctl elsewhere, or a non-JSON answer.
 * Fills *out in every case; free it with api_response_free(). */
int api_call(const struct api_client *c, const char *method, const char *path, json_t *body,
	     struct api_response *out) __attribute__((warn_unused_result));
/* A GET with "Accept: <accept>" ("text/html", "text/csv"): a 2xx answer
 * must come with that Content-Type and is left in out->raw, unparsed; an
 * error answer is read as JSON as with api_call.  Same returns. */
int api_get_raw(const struct api_client *c, const char *path, const char *accept, struct api_response *out)
	__attribute__((warn_unused_result));
void api_response_free(struct api_response *res);

/* "<message> (HTTP <status>, <error code>, request <id>)" from an error
 * answer; body (borrowed) may be NULL or lack fields.  Control characters
 * from the server are shown as '?'. */
void api_error_format(long status, const json_t *body, const char *request_id, char *out, size_t outlen);
/* Text from the server goes to a terminal: C0 and C1 control characters
 * (escape sequences) become '?'.  In place; the string may get shorter. */
void api_text_sanitize(char *s);

/* Query strings: path?name=value&...; names and values are URL-escaped,
 * parameters whose value is NULL are left out.  Returns a new string
 * (caller frees with free()) or NULL when memory runs out. */
struct api_param {
	const char *name;
	const char *value;
};
char *api_query(const char *path, const struct api_param *params, size_t n);
/* path + "/" + segment, the segment URL-escaped ('/' included).  Same return. */
char *api_path_join(const char *path, const char *segment);

/* TIME arguments: "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC), "YYYY-MM-DD"
 * (midnight UTC) or "+Nd" / "+Nh" (from now).  Writes the RFC 3339 UTC form
 * into out (at least 21 bytes).  Returns 0, or -1 for anything else. */
#define API_TIME_FORMS "2026-11-27T10:00:00Z (UTC), 2026-11-27 (midnight UTC), +30d or +12h (from now)"
int api_time_arg(const char *in, time_t now, char *out, size_t outlen) __attribute__((warn_unused_result));
/* The same forms and "-Nd" / "-Nh" (before now): where to search the past. */
#define API_PAST_FORMS API_TIME_FORMS ", -2d or -1h (before now)"
int api_time_arg_past(const char *in, time_t now, char *out, size_t outlen)
	__attribute__((warn_unused_result));
/* "YYYY-MM-DDTHH:MM:SSZ" -> *t.  Returns 0 or -1. */
int api_time_parse(const char *s, time_t *t) __attribute__((warn_unused_result));

/* Document serials: UNIT-YEAR-NUMBER, "31135-2026-000001".  1 or 0. */
#define API_SERIAL_FORM "31135-2026-000001 (unit-year-number)"
int api_serial_valid(const char *s);
/* The login.  The host of a URL (no port, an IPv6 address without its
 * brackets) into host; returns 0, or -1 for a URL libcurl cannot parse. */
int api_url_host(const char *url, char *host, size_t hostlen);
/* A password file: refused when group or others may read it (the message
 * says how to fix that) or when empty; trailing newlines are stripped.
 * Returns a new string (caller frees) or NULL with err set. */
char *api_password_file_read(const char *path, char *err, size_t errlen);
/* Looks host up in a netrc file ("machine", "default", "login", "password",
 * "account", "macdef"; double-quoted tokens).  When user is not NULL only an
 * entry with that login (or without a login) matches.  Returns 1 with
 * *login and *password set to new strings or NULL when the entry lacks
 * them, 0 when no entry matches, -1 with err set when the file cannot be
 * read or group or others may read it. */
int api_netrc_lookup(const char *path, const char *host, const char *user, char **login, char **password,
		     char *err, size_t errlen);
/* Asks on /dev/tty with echo off.  Returns a new string or NULL with err
 * set (no terminal, empty answer, interrupted). */
char *api_password_prompt(const char *prompt, char *err, size_t errlen);

#endif
