/* pg.h — the one libpq helper: connect (password, pinned search_path, session
 * settings), one-line error text, the notice processor, exec/query/COPY. */
#ifndef SYNCD_COMMON_PG_H
#define SYNCD_COMMON_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/buf.h"

/* How to connect; every field but conninfo may be 0/NULL. */
struct pg_connect_opts {
	const char *conninfo;	 /* a libpq string or URI */
	const char *password;	 /* NULL: libpq's own sources (PGPASSFILE, ...) */
	const char *appname;	 /* fallback_application_name */
	const char *what;	 /* names the database in err ("state database: ..."); NULL: nothing */
	bool pin_search_path;	 /* search_path = pg_catalog, public, sent at connect time, so a
				  * schema named after syncd's role ("$user") cannot shadow a table */
	bool quiet;		 /* notices ("already exists, skipping") are discarded */
	bool copy_session;	 /* ISO dates, UTF-8, exact floats, client_min_messages = warning:
				  * COPY text reads the same on every side (pg_dump does the same) */
	bool replication;	 /* replication=database (a walsender) */
	int connect_timeout;	 /* seconds, unless the conninfo says otherwise; 0: libpq's default */
	int tcp_user_timeout_ms; /* unacknowledged data ends the connection after this; 0: the kernel's */
};

/* Connects.  Returns a new connection (caller frees with PQfinish) or NULL
 * with a one-line message in err. */
PGconn *pg_connect(const struct pg_connect_opts *o, char *err, size_t errlen);

/* The state database's session: search_path pinned, notices discarded,
 * errors "state database: ...". */
PGconn *pg_connect_state(const char *conninfo, const char *password, const char *appname, char *err,
			 size_t errlen);

/* Cuts a libpq message to one line in place: DETAIL/HINT lines follow after
 * ';', the final newline goes. */
void pg_one_line(char *msg);

/* err = "what: <c's last error>" (what NULL: the message alone), one line. */
void pg_error(PGconn *c, const char *what, char *err, size_t errlen);

/* Runs commands that return no rows (or rows nobody reads); -1 with the
 * server's message in err. */
int pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);

/* Runs a query with text parameters; returns the result (caller PQclear)
 * or NULL with err set when it did not return PGRES_TUPLES_OK. */
PGresult *pg_query(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
		   size_t errlen);

/* COPY ... FROM STDIN with data (rows in COPY text format). */
int pg_copy_in(PGconn *c, const char *copy_sql, const char *data, size_t len, char *err, size_t errlen);

/* Appends ident quoted as an identifier; -1 out of memory. */
int pg_append_ident(PGconn *c, struct buf *b, const char *ident);

#endif
