/* connector.h — the destination vtable.  A unit's copy lives behind one of
 * these; each connector exports one const struct connector_ops whose
 * functions work on an opaque per-connection context.
 *
 * Every call returns 0 or -1 with a message in err naming the object and
 * the server's own message. */
#ifndef SYNCD_CONNECTORS_CONNECTOR_H
#define SYNCD_CONNECTORS_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct connector_column {
	char *name;
	char *type; /* as format_type() prints it: "character varying(5)" */
	bool not_null;
	int key_pos;   /* 1-based position in the primary key; 0: not in it */
	bool identity; /* carried by the replica identity (old row of UPDATE/DELETE) */
};

struct connector_table {
	const char *name; /* name in the destination schema */
	const struct connector_column *cols;
	size_t ncols;
};

struct connector_ops {
	const char *name;
	/* Returns a new context, or NULL with err set. */
	void *(*open)(const char *conninfo, const char *password, char *err, size_t errlen);
	int (*begin)(void *ctx, char *err, size_t errlen);
	/* Creates the schemas and tables that are missing, checks the columns
	 * of those that exist, and (truncate) empties them — all inside the
	 * transaction, so a crash leaves the previous state.  One call covers
	 * every unit sharing this connection. */
	int (*prepare)(void *ctx, const char *const *schemas, size_t nschemas,
		       const struct connector_table *tables, size_t ntables, bool truncate, char *err,
		       size_t errlen);
	/* Appends rows in COPY text format (each ending in '\n'). */
	int (*load)(void *ctx, const char *schema, const struct connector_table *t, const char *rows,
		    size_t len, char *err, size_t errlen);
	/* Records (source, unit) -> lsn in the schema's syncd_checkpoint, in the
	 * same transaction as the rows. */
	int (*checkpoint)(void *ctx, const char *schema, const char *source, int unit, const char *lsn,
			  char *err, size_t errlen);
	int (*commit)(void *ctx, char *err, size_t errlen);
	void (*rollback)(void *ctx);
	void (*close)(void *ctx);
};

/* connectors/pg_target.c: a PostgreSQL database (COPY + one transaction). */
extern const struct connector_ops pg_target_ops;

#endif
