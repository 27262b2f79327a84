/* schema.c — applies the state schema (the files of dist/sql/state, built in) in
 * order, once each, with a version row per file (see schema.h). */
#include "common/schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"

/* every syncd process that may create state tables takes it */
#define SCHEMA_LOCK "4217001"

static const char version_sql[] =
	"CREATE TABLE IF NOT EXISTS public.syncd_schema_version (version int PRIMARY KEY, name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

/* Runs one file and records it. */
static int file_apply(PGconn *c, const struct schema_file *f, char *err, size_t errlen)
{
	char version[16], msg[1024];
	const char *p[2] = {version, f->name};
	PGresult *r;

	snprintf(version, sizeof(version), "%d", atoi(f->name));
	if (pg_exec(c, f->sql, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "state database: schema %s: %s", f->name, msg);
		return -1;
	}
	r = PQexecParams(c, "INSERT INTO public.syncd_schema_version (version, name) VALUES ($1::int, $2)", 2,
			 NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_error(c, "state database: syncd_schema_version", err, errlen);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	log_info("state database: schema %s applied", f->name);
	return 0;
}

/* Whether version v has its row in the applied versions r. */
static bool applied(PGresult *r, int v)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (atoi(PQgetvalue(r, i, 0)) == v)
			return true;
	return false;
}

/* Inside the locked transaction: what is there, then what is missing. */
static int pending_apply(PGconn *c, char *err, size_t errlen)
{
	char msg[1024];
	PGresult *r = pg_query(c,
			       "SELECT to_regclass('public.syncd_schema_version') IS NULL"
			       " AND to_regclass('public.syncd_checkpoint') IS NOT NULL",
			       0, NULL, msg, sizeof(msg));
	int rc = 0;

	if (r == NULL)
		goto fail;
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
		log_info("state database: tables from before syncd_schema_version; bringing them up to date");
	PQclear(r);
	if (pg_exec(c, version_sql, msg, sizeof(msg)) < 0 ||
	    (r = pg_query(c, "SELECT version FROM public.syncd_schema_version", 0, NULL, msg, sizeof(msg))) ==
		    NULL)
		goto fail;
	for (size_t i = 0; i < schema_nfiles && rc == 0; i++)
		if (!applied(r, atoi(schema_files[i].name)))
			rc = file_apply(c, &schema_files[i], err, errlen);
	PQclear(r);
	return rc;
fail:
	snprintf(err, errlen, "state database: syncd_schema_version: %s", msg);
	return -1;
}

int schema_apply(PGconn *c, char *err, size_t errlen)
{
	char msg[1024];

	/* two processes starting at once: the second waits, then finds it done */
	if (pg_exec(c, "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(" SCHEMA_LOCK ")", msg, sizeof(msg)) <
	    0) {
		snprintf(err, errlen, "state database: %s", msg);
		goto out;
	}
	if (pending_apply(c, err, errlen) < 0)
		goto out;
	if (pg_exec(c, "COMMIT", msg, sizeof(msg)) == 0)
		return 0;
	snprintf(err, errlen, "state database: %s", msg);
out:
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		(void)pg_exec(c, "ROLLBACK", msg, sizeof(msg));
	return -1;
}
