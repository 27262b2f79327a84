/* plan.h — what snapshot and stream share: the plan of a source's routed
 * tables (columns read, columns sent, key, routing columns, masks) and the
 * unit destinations grouped by connection. */
#ifndef SYNCD_PLAN_H
#define SYNCD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "connectors/connector.h"
#include "connectors/pg_source.h"
#include "syncd/config.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/state.h"

#define MAX_KEY_COLS 8
#define SLOT_WAIT_S  30 /* how long a dead client's walsender may hold the slot */

/* One routed table: what the source has, what the units get, and where the
 * routing inputs sit in each COPY row. */
struct plan_table {
	const struct routing_table *rt;
	struct pg_source_table src; /* columns read: the output ones, then extras */
	struct connector_table out; /* the first nout columns of src */
	size_t nout;
	int unit_idx, date_idx, split_idx;
	int key_idx[MAX_KEY_COLS];
	int nkey;
	enum mask_kind *mask; /* per output column; mask_on says which apply */
	bool *mask_on;
	bool rebuild; /* masks or extra columns: rows are re-assembled */
};

struct group_conf; /* dest.c: what opening an HTTP or tee group needs */

/* Units sharing one destination connection (and transaction): the same
 * [tier] conninfo and the same [target] sections. */
struct group {
	char *conninfo; /* the tier's; for a group of HTTP targets only, "target NAME[, NAME]" */
	const struct connector_ops *ops;
	const char *password;
	struct group_conf *conf; /* NULL: PostgreSQL alone */
	void *ctx;
	bool in_tx;
	bool down;	       /* could not be reached (stream only): its units wait or are detached */
	struct timespec tried; /* down: the last attempt to reach it */
	long wait_ms;	       /* down: before the next attempt (grows while attempts time out) */
};

struct unit_dest {
	int code;
	char *schema;
	struct group *group;
	struct buf rows;
};

struct sync_run {
	/* set (stream): plan what the units hold, read from this unit's
	 * tables, so a column the source added since shows as new */
	struct unit_dest *reference;
	bool tolerate_down; /* stream: a tier database that is down does not stop the others */
	const struct config *cfg;
	const struct routing *rt;
	const struct config_source *scfg;
	struct pg_source *src;
	struct state *st;
	struct plan_table *tables;
	size_t ntables;
	struct group *groups;
	size_t ngroups;
	struct unit_dest *units;
	size_t nunits;
	char lsn[32];
	long long rows_old, rows_new, quarantined;
	long long per_reason[ROUTER_REASON_COUNT];
	size_t flush_at;
	struct buf scratch, keybuf, maskbuf; /* row.c and snapshot.c, per row */
};

/* Connects to the source, checks the server, plans every routed table of
 * it and checks (dry run) that its publication can exist.  Writes nothing. */
int sync_plan(struct sync_run *run, char *err, size_t errlen);
/* Publication syncd_NAME over the planned tables (dry_run: only check). */
int sync_publication_ensure(struct sync_run *run, bool dry_run, bool *added, char *err, size_t errlen);
/* dest.c: groups the units by destination (the expanded tier conninfo and
 * the [target] sections each unit goes to: PostgreSQL, HTTP, or both through
 * a tee) and opens one connection (and transaction) per group.  With
 * run->tolerate_down a group that cannot be reached is marked down. */
int sync_targets_open(struct sync_run *run, bool begin, char *err, size_t errlen);
/* (Re)opens g's connection into g->ctx; NULL with msg set when it fails. */
void *sync_group_open(const struct group *g, char *msg, size_t msglen);
/* Frees g's connection (rolled back when a transaction is open) and settings. */
void sync_group_free(struct group *g);
/* Creates/checks (and truncates, for a snapshot) every unit's tables. */
int sync_targets_prepare(struct sync_run *run, bool truncate, char *err, size_t errlen);
/* Frees everything but cfg/rt/scfg/st; rolls back open transactions. */
void sync_run_free(struct sync_run *run);
int sync_col_index(const struct pg_source_table *t, const char *name);

#endif
