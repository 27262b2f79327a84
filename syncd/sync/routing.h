/* routing.h — the routing policy (policies/routing.json + policies/units/):
 * loading, validation, units and tables; the router itself is router.h.
 *
 * Loading validates everything that can be checked without a database:
 * unknown keys, eras, overlapping split ranges, split targets that are not
 * among the old unit's successors, masks on unlisted columns.  Checks against
 * the source catalog (does the column exist?) belong to the source connector.
 */
#ifndef SYNCD_ROUTING_H
#define SYNCD_ROUTING_H

#include <stdbool.h>
#include <stddef.h>

#include "syncd/sync/router.h"

#define ROUTING_CODE_SPACE 100000 /* unit codes are 5 decimal digits */

struct unit_info {
	int code;
	char *name;	 /* "Cái Khế" */
	char *type;	 /* "Phường" / "Xã" */
	char *full_name; /* "Phường Cái Khế" */
};

struct split_range {
	int old_code;
	long from, to; /* inclusive */
	int unit;
};

struct column_mask {
	char *column;
	enum mask_kind kind;
};

/* The value types of a kind = http source's fields (routing.json "fields"). */
enum routing_field_type {
	ROUTING_FIELD_TEXT,
	ROUTING_FIELD_INTEGER, /* bigint in the units */
	ROUTING_FIELD_NUMERIC,
	ROUTING_FIELD_DATE,
	ROUTING_FIELD_TIMESTAMPTZ,
	ROUTING_FIELD_BOOLEAN,
};

/* One column of a kind = http source's table: taken from a record's JSON
 * path ("a.b": field b of object a). */
struct routing_field {
	char *column;
	char *path;
	enum routing_field_type type;
};

struct routing_table {
	char *source;	    /* [source NAME] */
	char *table;	    /* "public.thua_dat" as written */
	char *schema;	    /* "public" */
	char *name;	    /* "thua_dat" */
	char *target_table; /* name in each unit's schema; default name */
	char *unit_column;
	enum routing_era era;
	char *date_column;	    /* by_date only */
	char *split_column;	    /* NULL: no column to split by */
	bool split_registers;	    /* split wards: send to the unit keeping the old registers */
	struct split_range *ranges; /* table-level rules; NULL: the global ones */
	size_t nranges;
	char **columns; /* NULL: all columns ("*") */
	size_t ncolumns;
	struct column_mask *masks;
	size_t nmasks;
	/* a kind = http source's table: its columns (fields, in file order) and
	 * key (column names); NULL: a PostgreSQL table, described by its source */
	struct routing_field *fields;
	size_t nfields;
	char **key;
	size_t nkey;
};

/* "text", "integer", "numeric", "date", "timestamptz", "boolean" */
const char *routing_field_type_name(enum routing_field_type t);

struct routing;

/* Loads routing.json from policies_dir; file names inside are relative to
 * it.  Returns a new policy (routing_free) or NULL with "file: message" in err. */
struct routing *routing_load(const char *policies_dir, char *err, size_t errlen);
void routing_free(struct routing *r);

/* SHA-256 (hex) of routing.json and every unit file it names: tells a
 * policy change from a restart. */
const char *routing_digest(const struct routing *r);

/* What a reload would change: 0 nothing that matters, 1 where existing
 * rows go (units, mapping, cutover, split rules or overrides, or how a
 * table is routed), 2 something else (tables removed, columns, masks), 3
 * only tables added; msg says what. */
int routing_compare(const struct routing *a, const struct routing *b, char *msg, size_t msglen);

size_t routing_table_count(const struct routing *r);
const struct routing_table *routing_table_get(const struct routing *r, size_t i);

/* The post-reform units, in file order. */
size_t routing_unit_count(const struct routing *r);
const struct unit_info *routing_unit_get(const struct routing *r, size_t i);
/* The unit with that code, or NULL. */
const struct unit_info *routing_unit_find(const struct routing *r, int code);
/* Index of the unit in routing_unit_get() order, or -1. */
int routing_unit_index(const struct routing *r, int code);

#endif
