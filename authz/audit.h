/* audit.h — the tamper-evident access log (state DB, table syncd_audit).
 *
 * Every row: seq, at, actor, client, request_id, action, unit, object,
 * decision, reason; body = the canonical JSON of all of these (sorted keys,
 * compact, UTF-8); hash = SHA-256(prev_hash || body).  Every field is
 * cleaned (valid UTF-8, controls escaped) and capped first.  Appends go
 * through the SECURITY DEFINER functions public.syncd_audit_lock() (the
 * head row FOR UPDATE, so several syncd share one chain) and
 * public.syncd_audit_append() (refuses a row that does not extend the
 * chain), so after dist/sql/audit-owner.sql syncd's role may write nothing
 * else; they are group-committed by one writer thread (an append may carry
 * the state-DB work of the action it records, committed with its rows), a
 * caller returns once its rows are durable, and a row the database refuses
 * fails only its own caller.  A trigger refuses UPDATE, DELETE and TRUNCATE.  Signed
 * checkpoints (seq, head hash) leave the database: to the journal and to a
 * file, so truncation or a rewrite with recomputed hashes is caught by
 * verify, which also compares the head with the last row. */
#ifndef SYNCD_AUTHZ_AUDIT_H
#define SYNCD_AUTHZ_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/sign.h"
#include "common/buf.h"

struct audit_event {
	const char *actor; /* uid, or "-" */
	const char *client;
	const char *request_id;
	const char *action;   /* e.g. document.issue, grant.create, authz.check, audit.read */
	const char *unit;     /* 5 digits or "" */
	const char *object;   /* serial, grant id, record key, query */
	const char *decision; /* allow, deny, error */
	const char *reason;
};

struct audit;

/* Opens its own connection, creates the tables, trigger and append functions
 * while syncd owns them (or they are missing), and
 * starts the writer.  signer may be NULL (checkpoints unsigned);
 * checkpoint_file may be NULL (journal only); a checkpoint every
 * checkpoint_every rows (and at close). */
struct audit *audit_open(const char *conninfo, const char *password, const struct signer *signer,
			 const char *checkpoint_file, long checkpoint_every, char *err, size_t errlen);
void audit_close(struct audit *a);

/* Appends ev and returns once it is committed: 0 (seq set) or -1 with err
 * (the caller must then refuse the action: nothing unaudited). */
int audit_append(struct audit *a, const struct audit_event *ev, long long *seq, char *err, size_t errlen);

/* Work done in the transaction of an append, before its rows (the state
 * database's part of the action the rows record, e.g. a document with its
 * serial): the action and its rows commit together or not at all, and
 * concurrent appends share the commit.  A batch's transaction is two round
 * trips: the head locked with every item's claim, then every item's
 * statements and rows with COMMIT, pipelined. */
struct pg_conn;
struct pg_result;
struct audit_work {
	/* One statement run first, in the batch's item order, after the head
	 * is locked (e.g. a sequence bumped: allocated in the chain's order,
	 * its row locked until the batch commits); NULL: none. */
	const char *claim;
	const char *const *claim_params;
	int nclaim;
	/* Then, with claim's result (NULL if none), puts its statements with
	 * audit_work_stmt and returns how many it sent, or -1 with err.  It may
	 * name, in object (objlen bytes), the object of the append's last row
	 * (the outcome row: e.g. "kind/key SERIAL").  Any failure rolls back
	 * the batch (nothing of it is written) and its other items are written
	 * again, each alone: run starts afresh every time. */
	int (*run)(struct pg_conn *c, void *arg, const struct pg_result *claimed, char *object, size_t objlen,
		   char *err, size_t errlen);
	void *arg;
	/* run executes statements of its own (not audit_work_stmt): the batch
	 * is then written statement by statement, not pipelined. */
	bool exec;
};

/* In a run: puts sql with its n text params: sent in the batch's pipeline
 * (1: its result is checked with the batch's) or executed (0); -1 with err
 * when it fails or cannot be sent. */
int audit_work_stmt(struct pg_conn *c, const char *sql, int n, const char *const *params, char *err,
		    size_t errlen);

/* audit_append_work's answer when w->run refused (err is its own). */
#define AUDIT_WORK_FAILED (-2)

/* Appends the n rows of ev, chained in order, in one transaction with w
 * (NULL: rows only), group-committed with other callers' appends; returns
 * once committed: 0 (*seq, if set, the first row's seq), -1 with err (the
 * audit log could not be written: refuse the action) or AUDIT_WORK_FAILED
 * with w's err; either way nothing of it was written. */
int audit_append_work(struct audit *a, const struct audit_event *ev, size_t n, const struct audit_work *w,
		      long long *seq, char *err, size_t errlen);

/* Every batch from now on starts with syncd_fence(cluster, the process's
 * term; common/fence.h): the database refuses the batch whole once another
 * instance of the cluster holds a later term.  0, or -1 out of memory. */
int audit_set_fence(struct audit *a, const char *cluster);

/* A reload: rows between checkpoints. */
void audit_set_checkpoint_every(struct audit *a, long every);

/* The canonical body of an event with its seq and time (new string). */
char *audit_body(long long seq, const char *at, const struct audit_event *ev);

struct audit_verdict {
	bool ok;
	long long rows;	       /* rows walked */
	long long checkpoints; /* signed checkpoints checked */
	long long seq;	       /* first broken link (0 if ok) */
	char expected[130], found[130];
	char problem[256];
};

/* One row of the chain as the walk reads it, every column as text (as the
 * state database gives it): seq; at, actor, client, request_id, action,
 * unit, object, decision, reason; the body; prev_hash and hash (hex); and
 * rehash, SHA-256(prev_hash || body) as the database computes it (hex).
 * Borrowed. */
struct audit_row {
	const char *seq;
	const char *col[9];
	const char *body, *prev_hash, *hash, *rehash;
};

/* Where a walk of the chain is: the seq it expects next and the hash (hex)
 * that row must name as its prev_hash. */
struct audit_walk {
	long long expect;
	char prev[65];
};

/* A walk before seq 1 (prev_hash all zeros). */
void audit_walk_start(struct audit_walk *w);
/* The walk's next row, checked (pure): 0 when a link is broken (a row
 * missing, prev_hash or hash wrong: the first break goes into v, stop);
 * 1 when the row was walked (v->rows counted; a body that does not say
 * what the columns say is a break in v). */
int audit_walk_row(struct audit_walk *w, const struct audit_row *row, struct audit_verdict *v);
/* The walk's end against the head row (head_seq, head_hash hex) and the
 * table's row count (pure): a break in v unless they end where it ended. */
void audit_walk_end(const struct audit_walk *w, long long head_seq, const char *head_hash, long long count,
		    struct audit_verdict *v);

/* Walks the chain from seq 1 and checks the checkpoints of
 * checkpoint_file (NULL: none) signed by signer (NULL: signatures not
 * checked).  0 (verdict filled) or -1 with err. */
int audit_verify(const char *conninfo, const char *password, const char *checkpoint_file,
		 const struct signer *signer, struct audit_verdict *v, char *err, size_t errlen);

/* ------------------------------------------------------------ reading (audit_query.c) */

/* An audit query's filters: each one given (not NULL) narrows the rows.
 * Values are text as the caller received them, sent as parameters. */
struct audit_filter {
	const char *unit, *actor, *action, *object, *decision;
	const char *from, *to; /* times: at >= from, at < to */
	const char *cursor;    /* the page starts after this seq */
	long limit;	       /* rows in a page */
};

/* The columns of a row, in order (seq, at, actor, ... hash). */
#define AUDIT_NCOLS 11
extern const char *const audit_cols[AUDIT_NCOLS];

/* The SELECT of f, pure: each filter given is a parameter ($1, $2 ...,
 * never text in the SQL), rows ordered by seq, limit + 1 of them (the extra
 * one says a next page exists).  params (room for 8) borrows f's strings,
 * *np their count.  0, or -1 when memory runs out. */
int audit_query_sql(const struct audit_filter *f, struct buf *sql, const char **params, int *np);

enum audit_query_result {
	AUDIT_QUERY_OK = 0,
	AUDIT_QUERY_BAD_FILTER,	 /* the database finds a filter's value invalid (a time, a number) */
	AUDIT_QUERY_UNAVAILABLE, /* the state database cannot answer */
	AUDIT_QUERY_NOMEM,
};

/* One page of rows. */
struct audit_page {
	struct pg_result *res; /* libpq's PGresult */
	int n;		       /* rows in the page */
	char next[24];	       /* the cursor of the next page; "" after the last */
};

/* One page of the rows f selects, read on db (the caller's connection to
 * the state database).  Anything but OK comes with err. */
enum audit_query_result audit_query(struct pg_conn *db, const struct audit_filter *f, struct audit_page *page,
				    char *err, size_t errlen);
/* Row i, column k of the page (borrowed until audit_page_free). */
const char *audit_page_value(const struct audit_page *p, int i, size_t k);
void audit_page_free(struct audit_page *p);

#endif
