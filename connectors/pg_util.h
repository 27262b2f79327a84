/* pg_util.h — libpq helpers shared by the PostgreSQL source and target. */
#ifndef SYNCD_CONNECTORS_PG_UTIL_H
#define SYNCD_CONNECTORS_PG_UTIL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "common/buf.h"

/* Connects (conninfo + optional password; replication=database when
 * replication) and sets the session up so that COPY text is the same on
 * every side: ISO dates, UTF-8.  Returns NULL with err set. */
PGconn *pgu_connect(const char *conninfo, const char *password, bool replication, char *err, size_t errlen);

/* Runs a command that returns no rows; err gets the server's message. */
int pgu_exec(PGconn *conn, const char *sql, char *err, size_t errlen);

/* Runs a query with text parameters; returns the result (caller PQclear)
 * or NULL with err set when it did not return PGRES_TUPLES_OK. */
PGresult *pgu_query(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
		    size_t errlen);

/* COPY ... FROM STDIN with data (rows in COPY text format). */
int pgu_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len, char *err, size_t errlen);

/* Appends a quoted identifier. */
int pgu_append_ident(PGconn *conn, struct buf *b, const char *ident);

#endif
