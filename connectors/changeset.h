/* changeset.h — the changes of one destination table within a transaction,
 * reduced to the last change per key where that means the same thing, so
 * they can be sent as one statement per operation (set-based apply).
 *
 * Pure: no I/O.  Values are copied in; the set owns them until reset.
 *
 * Reduction rules, per key (the earlier change, then the later one):
 *   none   + X      -> X
 *   INSERT + UPDATE -> INSERT of the merged image
 *   UPDATE + UPDATE -> UPDATE of the merged image
 *   INSERT + DELETE -> nothing
 *   UPDATE + DELETE -> DELETE
 *   DELETE + INSERT -> UPDATE of every column (the row existed: the DELETE
 *                      had to find it; the INSERT's image replaces it)
 * A merged image takes the later change's value of each column, and the
 * earlier one's where the later one is absent (an unchanged TOAST value).
 * Every other pair (INSERT + INSERT, DELETE + UPDATE, DELETE + DELETE,
 * UPDATE + INSERT) depends on what the destination holds: changeset_add
 * answers 1 and the caller sends what the set holds before adding again. */
#ifndef SYNCD_CONNECTORS_CHANGESET_H
#define SYNCD_CONNECTORS_CHANGESET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "connectors/connector.h"

enum cs_op {
	CS_NONE = 0, /* reduced to nothing */
	CS_INSERT = 'I',
	CS_UPDATE = 'U',
	CS_DELETE = 'D',
};

struct cs_val { /* a value stored in the set's arena */
	enum connector_value_kind kind;
	size_t off, len;
};

struct cs_entry {
	char op; /* enum cs_op */
	uint32_t hash;
	size_t key;   /* index of its nkey key values in vals */
	size_t image; /* index of its ncols values (INSERT/UPDATE) */
};

struct changeset {
	size_t ncols, nkey;
	const size_t *key_cols; /* column index of each key column, in key order */
	struct buf arena;
	struct cs_val *vals;
	size_t nvals, capvals;
	struct cs_entry *e; /* in first-seen order */
	size_t n, cap;
	uint32_t *slots; /* open addressing: entry index + 1, 0 empty */
	size_t nslots;
	size_t bytes; /* of values added since the last reset */
};

/* key_cols must outlive the set. */
void changeset_init(struct changeset *cs, size_t ncols, size_t nkey, const size_t *key_cols);
void changeset_reset(struct changeset *cs);
void changeset_free(struct changeset *cs);

/* Adds a change: op CS_INSERT (vals), CS_UPDATE (key, vals: the key
 * unchanged) or CS_DELETE (key).  0 added or merged, 1 the pair cannot be
 * reduced (send the set first, then add again), -1 out of memory. */
int changeset_add(struct changeset *cs, char op, const struct connector_value *key,
		  const struct connector_value *vals);

/* Entries whose op is not CS_NONE. */
size_t changeset_live(const struct changeset *cs);

/* Fills out[0..count) with the stored values from index first on. */
void changeset_values(const struct changeset *cs, size_t first, size_t count, struct connector_value *out);

#endif
