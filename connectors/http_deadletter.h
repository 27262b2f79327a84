/* http_deadletter.h — the operator's side of the HTTP targets' dead letters
 * (issue 13): list them, show one with its batch, retry or discard one.  A
 * resolution is one transaction on the state database: the dead letter is
 * marked resolved, its batch goes back to pending (retry) or is discarded,
 * and the (target, unit) pause is lifted once no other open dead letter of
 * it is left.  Answers in its own words (enum deadletter_result), never in
 * HTTP statuses. */
#ifndef SYNCD_CONNECTORS_HTTP_DEADLETTER_H
#define SYNCD_CONNECTORS_HTTP_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/buf.h"

enum deadletter_result {
	DEADLETTER_OK = 0,
	DEADLETTER_NOT_FOUND,	/* no dead letter with this id */
	DEADLETTER_CONFLICT,	/* already resolved (retried or discarded) before */
	DEADLETTER_INVALID,	/* a bad argument: a discard without a reason, a reason too long */
	DEADLETTER_UNAVAILABLE, /* the state database cannot answer */
	DEADLETTER_NOMEM,
};

/* "ok", "not_found", "conflict", "invalid", "unavailable", "nomem" */
const char *deadletter_result_name(enum deadletter_result r);

/* A list answers at most this many dead letters, newest first. */
#define DEADLETTER_LIST_MAX 500
/* The longest reason an operator may give, in bytes. */
#define DEADLETTER_REASON_MAX 1000

/* A dead letter id as given by a person or a URL: decimal digits only
 * (no sign, no blanks), 1 to the largest bigint.  Returns 0 with *id, or -1. */
int deadletter_id_parse(const char *s, long long *id) __attribute__((warn_unused_result));

/* Whether s is NULL, empty or only blanks (space, tab, CR, LF): no reason. */
bool deadletter_reason_blank(const char *s);

/* What to list; every field may be 0/NULL. */
struct deadletter_filter {
	const char *target; /* NULL: every target */
	int unit;	    /* 0: every unit */
	bool all;	    /* false: the open ones only (not yet retried or discarded) */
};

/* The SELECT of a list: filters as parameters ($1, $2, ... into params,
 * their count in *np; params holds 2), newest first, DEADLETTER_LIST_MAX + 1
 * rows (the last one only tells that there are more).  unitbuf (12 bytes)
 * holds the unit's text, which params may point to.  0, or -1 out of memory. */
int deadletter_list_sql(const struct deadletter_filter *f, struct buf *sql, const char **params, int *np,
			char unitbuf[12]);

/* One dead letter and its batch.  The strings are borrowed from the list
 * or item it came in; a NULL string is a NULL column. */
struct deadletter {
	long long id;
	long long batch; /* syncd_http_batch.id */
	const char *target;
	int unit;
	const char *batch_id; /* the Idempotency-Key */
	int http_status;      /* 0: no HTTP answer came (connection, TLS, timeout) */
	const char *error;
	const char *response_excerpt; /* deadletter_get only; NULL in a list */
	int attempts;
	const char *dead_at;	 /* RFC 3339 UTC */
	const char *resolved_at; /* NULL while open */
	const char *resolution;	 /* "retried", "discarded"; NULL while open */
	const char *resolved_by;
	const char *reason;
	/* the batch */
	const char *source;
	const char *batch_state; /* pending, delivered, dead, discarded */
	int changes;
	const char *lsn_from, *lsn_to;
	const char *content_type;
	const char *created_at;
	bool paused; /* (target, unit) is paused now */
	/* deadletter_get with its body only: new memory, freed by deadletter_item_free */
	unsigned char *body;
	size_t body_len;
};

/* A list: n dead letters (newest first); more: there are more than
 * DEADLETTER_LIST_MAX. */
struct deadletter_list {
	struct deadletter *items;
	size_t n;
	bool more;
	PGresult *res; /* the strings live here */
};

/* The dead letters f asks for, at most DEADLETTER_LIST_MAX.  On OK *out is
 * filled (free it with deadletter_list_free); otherwise err says why. */
enum deadletter_result deadletter_list(PGconn *db, const struct deadletter_filter *f,
				       struct deadletter_list *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void deadletter_list_free(struct deadletter_list *l);

/* One dead letter: with_body also reads the batch's body (maybe large).
 * OK with *out (free it with deadletter_item_free), NOT_FOUND, or
 * UNAVAILABLE / NOMEM with err. */
struct deadletter_item {
	struct deadletter d;
	PGresult *res;
};
enum deadletter_result deadletter_get(PGconn *db, long long id, bool with_body, struct deadletter_item *out,
				      char *err, size_t errlen) __attribute__((warn_unused_result));
void deadletter_item_free(struct deadletter_item *it);

/* What a retry or discard did, or (CONFLICT) how the dead letter was
 * resolved before. */
struct deadletter_resolution {
	long long batch;
	int unit;
	char target[256];
	char batch_id[256];
	char resolution[16]; /* "retried" / "discarded": this one, or the earlier one on CONFLICT */
	char resolved_by[128];
	char resolved_at[32]; /* RFC 3339 UTC */
	bool unpaused;	      /* the pause of (target, unit) was lifted */
	bool paused;	      /* (target, unit) stays paused: another open dead letter holds it */
};

/* Retry: in one transaction, with the dead letter's row locked (FOR
 * UPDATE: two operators never both resolve it), it is marked retried by
 * who (reason optional, NULL or blank: none), its batch goes back to
 * pending with attempts 0, and the pause of its (target, unit) is deleted
 * unless another open dead letter of it remains (then out->paused).  NOT_FOUND, CONFLICT
 * (already resolved: *out says how), INVALID, UNAVAILABLE with err. */
enum deadletter_result deadletter_retry(PGconn *db, long long id, const char *who, const char *reason,
					struct deadletter_resolution *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Discard: the same, but the batch is marked discarded (never sent) and
 * the reason is required (INVALID when blank). */
enum deadletter_result deadletter_discard(PGconn *db, long long id, const char *who, const char *reason,
					  struct deadletter_resolution *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
