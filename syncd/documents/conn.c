/* conn.c — the API threads' database connections (one per thread and
 * conninfo, mended on use) and the state schema check at start. */
#include "syncd/documents/documents.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pg.h"
#include "common/schema.h"

/* One connection per thread and conninfo (the API's pool threads). */
#define TL_MAX 16
static __thread struct {
	char *conninfo;
	PGconn *c;
	time_t used;
} tl[TL_MAX];

/* A thread that opened one has the key set: its connections close when it
 * ends (the API's workers, the outbox); the main thread calls
 * thread_conn_close itself. */
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

void thread_conn_close(void)
{
	for (int i = 0; i < TL_MAX; i++) {
		PQfinish(tl[i].c);
		free(tl[i].conninfo);
		tl[i].c = NULL;
		tl[i].conninfo = NULL;
	}
}

static void tl_destroy(void *unused)
{
	(void)unused;
	thread_conn_close();
}

static void tl_key_make(void)
{
	(void)pthread_key_create(&tl_key, tl_destroy);
}

/* A connection idle for a while may have lost its backend (a restart, a
 * terminate): an empty query tells, and a reset mends it before use. */
static bool conn_usable(PGconn *c, time_t idle)
{
	PGresult *r;
	bool ok;

	if (PQstatus(c) != CONNECTION_OK)
		return false;
	if (idle < 1)
		return true;
	r = PQexec(c, "");
	ok = PQresultStatus(r) == PGRES_EMPTY_QUERY && PQstatus(c) == CONNECTION_OK;
	PQclear(r);
	return ok;
}

PGconn *thread_conn(const char *conninfo, const char *password, char *err, size_t errlen)
{
	int slot = -1;

	for (int i = 0; i < TL_MAX; i++) {
		if (tl[i].conninfo != NULL && strcmp(tl[i].conninfo, conninfo) == 0) {
			time_t now = time(NULL), idle = now - tl[i].used;

			tl[i].used = now;
			if (conn_usable(tl[i].c, idle))
				return tl[i].c;
			PQreset(tl[i].c);
			if (PQstatus(tl[i].c) == CONNECTION_OK)
				return tl[i].c;
			pg_error(tl[i].c, NULL, err, errlen);
			return NULL;
		}
		if (tl[i].conninfo == NULL && slot < 0)
			slot = i;
	}
	if (slot < 0) { /* full: the oldest goes */
		PQfinish(tl[0].c);
		free(tl[0].conninfo);
		memmove(&tl[0], &tl[1], sizeof(tl[0]) * (TL_MAX - 1));
		tl[TL_MAX - 1].conninfo = NULL;
		slot = TL_MAX - 1;
	}
	tl[slot].c = pg_connect(&(const struct pg_connect_opts){.conninfo = conninfo,
								.password = password,
								.appname = "syncd-api",
								.what = "database",
								.pin_search_path = true,
								.quiet = true},
				err, errlen);
	if (tl[slot].c == NULL)
		return NULL;
	pthread_once(&tl_once, tl_key_make);
	(void)pthread_setspecific(tl_key, tl);
	tl[slot].conninfo = strdup(conninfo);
	tl[slot].used = time(NULL);
	return tl[slot].c;
}

int documents_prepare(const struct config *cfg, char *err, size_t errlen)
{
	PGconn *c = thread_conn(cfg->state_conninfo, cfg->state_password, err, errlen);

	return c == NULL ? -1 : schema_apply(c, err, errlen);
}
