/* router.h — which unit receives one row (eras, the cutover, split wards, the
 * override file) and the masks a unit's copy gets.  Pure: no I/O, no
 * allocation, deterministic.  The policy it reads comes from routing.h. */
#ifndef SYNCD_SYNC_ROUTER_H
#define SYNCD_SYNC_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct routing;
struct routing_table;

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
