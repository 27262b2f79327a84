/* pg.c — see pg.h. */
#include "common/pg.h"

#include <stdio.h>
#include <string.h>

/* "already exists, skipping" and the like are nobody's business */
static void pg_notice_discard(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *pg_connect_pinned(const char *conninfo, const char *password, const char *appname, const char *what,
			  char *err, size_t errlen)
{
	/* options is sent at connect time, before any query can be shadowed */
	const char *kw[] = {"dbname", "fallback_application_name", "options", password ? "password" : NULL,
			    NULL};
	const char *val[] = {conninfo, appname, "-c search_path=pg_catalog,public", password, NULL};
	PGconn *c = PQconnectdbParams(kw, val, 1);

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: %s", what, c ? PQerrorMessage(c) : "out of memory");
		err[strcspn(err, "\n")] = '\0';
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, pg_notice_discard, NULL);
	return c;
}

PGconn *pg_connect_state(const char *conninfo, const char *password, const char *appname, char *err,
			 size_t errlen)
{
	return pg_connect_pinned(conninfo, password, appname, "state database", err, errlen);
}
