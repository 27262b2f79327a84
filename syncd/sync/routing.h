/* routing.h — the routing policy (policies/routing.json + policies/units/)
 * and the router that decides, for one row, which unit receives it.
 *
 * Loading validates everything that can be checked without a database:
 * unknown keys, eras, overlapping split ranges, split targets that are not
 * among the old unit's successors, masks on unlisted columns.  Checks against
 * the source catalog (does the column exist?) belong to the source connector.
 *
 * router_route() is pure: no I/O, no allocation, deterministic. */
#ifndef SYNCD_ROUTING_H
#define SYNCD_ROUTING_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTING_CODE_SPACE 100000 /* unit codes are 5 decimal digits */

enum routing_era {
	ROUTING_ERA_NEW,
	ROUTING_ERA_OLD,
	ROUTING_ERA_BY_DATE,
};

enum mask_kind {
	MASK_LAST4,  /* keep the last 4 characters, '*' for the rest */
	MASK_NULL,   /* the unit gets NULL */
	MASK_SHA256, /* hex SHA-256: units can match values without holding them */
};

/* Why a row could not be routed; the names are stored in syncd_quarantine. */
enum router_reason {
	ROUTER_OK = 0,
	ROUTER_UNIT_NULL,
	ROUTER_UNIT_MALFORMED,
	ROUTER_DATE_NULL,
	ROUTER_DATE_MALFORMED,
	ROUTER_UNIT_UNKNOWN_NEW,
	ROUTER_UNIT_UNKNOWN_OLD,
	ROUTER_SPLIT_UNRESOLVED,
	ROUTER_REASON_COUNT,
};

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
};

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

/* One row's routing inputs, as text (COPY text values, already unescaped);
 * a NULL pointer is SQL NULL. */
struct router_row {
	const char *unit;
	size_t unit_len;
	const char *date;
	size_t date_len;
	const char *split;
	size_t split_len;
	const char *key; /* primary key as text, for the override file */
	size_t key_len;
};

/* True when routing this row may consult the override file, so the caller
 * must fill row->key (the key costs work; most rows never need it). */
bool router_needs_key(const struct routing *r, const struct router_row *row);

/* Routes one row: ROUTER_OK and *unit set, or the reason it is unroutable.
 * *era_out (may be NULL) says which era the code was read in. */
enum router_reason router_route(const struct routing *r, const struct routing_table *t,
				const struct router_row *row, int *unit, enum routing_era *era_out);
const char *router_reason_name(enum router_reason reason);

/* Masks one value into out (size outlen >= 2*len+65 is always enough).
 * Returns the output length, or -1 for NULL (the value becomes NULL). */
long mask_apply(enum mask_kind kind, const char *in, size_t len, char *out, size_t outlen);
const char *mask_kind_name(enum mask_kind kind);

#endif
