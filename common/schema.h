/* schema.h — the state database's schema: the files of dist/sql/state/
 * (built in), applied in order once each, recorded in syncd_schema_version. */
#ifndef SYNCD_COMMON_SCHEMA_H
#define SYNCD_COMMON_SCHEMA_H

#include <stddef.h>

#include <libpq-fe.h>

/* One file, NNN_name.sql: version NNN. */
struct schema_file {
	const char *name; /* "002_audit.sql" */
	const char *sql;
};

/* The files in order (build/gen/state_schema.c, made by the Makefile). */
extern const struct schema_file schema_files[];
extern const size_t schema_nfiles;

/* Brings the state database up to date on c (a pg_connect_state session,
 * idle): under an advisory lock, in one transaction, runs every file whose
 * version has no row in public.syncd_schema_version and records it.  A
 * database from before that table runs them all (they are idempotent).
 * 0, or -1 with "state database: ..." in err (nothing applied). */
int schema_apply(PGconn *c, char *err, size_t errlen);

#endif
