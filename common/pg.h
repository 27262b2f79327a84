/* pg.h — the one libpq connect to syncd's state database. */
#ifndef SYNCD_COMMON_PG_H
#define SYNCD_COMMON_PG_H

#include <stddef.h>

#include <libpq-fe.h>

/* Connects to the state database: conninfo (a libpq string or URI), password
 * (NULL: libpq's own sources), appname (fallback_application_name).  The
 * session's search_path is pg_catalog, public, so a schema named after
 * syncd's role ("$user") cannot shadow a table; notices are discarded.
 * Returns a new connection (caller frees with PQfinish) or NULL with a
 * one-line "state database: ..." in err. */
PGconn *pg_connect_state(const char *conninfo, const char *password, const char *appname, char *err,
			 size_t errlen);

/* The same for any database syncd's API reads (what names it in err). */
PGconn *pg_connect_pinned(const char *conninfo, const char *password, const char *appname, const char *what,
			  char *err, size_t errlen);

#endif
