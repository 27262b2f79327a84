/* session.h — browser sessions: a bounded in-memory table of signed-in
 * people (idle and absolute timeouts, clock passed in), and the pieces a
 * request needs (cookie parsing, constant-time token compare).  No HTTP. */
#ifndef SYNCD_API_SESSION_H
#define SYNCD_API_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "authz/authz.h"

#define SESSION_COOKIE	  "syncd_session"
#define SESSION_TOKEN_HEX 64 /* 256 random bits, hex: the id and the CSRF token */
#define SESSION_CAPACITY  10000

struct session_table;

/* What a session holds: the person (as the login found them), the CSRF
 * token, and its times. */
struct session_info {
	struct authz_user user;
	char csrf[SESSION_TOKEN_HEX + 1];
	time_t created, last;
};

/* A table of capacity sessions (0: SESSION_CAPACITY), idle and max in
 * seconds.  NULL when out of memory. */
struct session_table *session_table_new(size_t capacity, long idle, long max);
void session_table_free(struct session_table *t);
/* A reload: the timeouts of every session, from now on. */
void session_table_limits(struct session_table *t, long idle, long max);
void session_table_get_limits(struct session_table *t, long *idle, long *max);

/* What session_create came to. */
enum session_result {
	SESSION_OK = 0,
	SESSION_FULL,	  /* capacity live sessions: nobody is evicted, the sign-in is refused */
	SESSION_NO_RANDOM /* no randomness for the id or the token */
};

/* A new session for u at now: its id and CSRF token (hex) in id and csrf.
 * An expired session's slot is reused; a live one is never evicted. */
enum session_result session_create(struct session_table *t, const struct authz_user *u, time_t now,
				   char id[SESSION_TOKEN_HEX + 1], char csrf[SESSION_TOKEN_HEX + 1]);
/* The live session of id at now: true with *out (and its idle time
 * restarted); an expired one is removed and false. */
bool session_lookup(struct session_table *t, const char *id, time_t now, struct session_info *out);
/* Ends the session of id; true when there was one. */
bool session_remove(struct session_table *t, const char *id);
/* How many sessions the table holds (expired ones not yet reused included). */
size_t session_count(struct session_table *t);

/* Pure: has a session created at created, last used at last, expired at
 * now under idle and max seconds? */
bool session_expired(time_t created, time_t last, time_t now, long idle, long max);
/* Constant-time equality of two tokens (false for NULL or differing lengths). */
bool session_token_equal(const char *a, const char *b);
/* The syncd_session value of a Cookie header (64 lower-case hex digits) in
 * id: true when there is one, false otherwise. */
bool session_cookie_parse(const char *header, char id[SESSION_TOKEN_HEX + 1]);

#endif
