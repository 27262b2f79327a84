/* leader.h — active/standby: the instances of one cluster ([syncd] cluster)
 * elect their active instance through a lease row in the state database
 * (public.syncd_leader, dist/sql/state/007_leader.sql).
 *
 * The active instance renews the lease every lease/4 seconds.  A standby
 * takes the row once its lease has run out (term + 1), or at once when the
 * row names this instance's own holder (host and listen address: the
 * previous process of this instance is dead, as this one holds its port).
 * An active instance that cannot renew for most of its lease, or finds the
 * row taken, stops writing at once: the process exits (EXIT_LOST, systemd
 * restarts it as the standby).  The database fences what a stopped-and-
 * resumed instance would still write (common/fence.h). */
#ifndef SYNCD_LEADER_H
#define SYNCD_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The exit status of an instance that lost its lease (EX_TEMPFAIL). */
#define LEADER_EXIT_LOST 75

struct leader;

struct leader_conf {
	const char *conninfo, *password; /* the state database */
	const char *cluster;		 /* the row's name */
	const char *holder;		 /* "host listen": this instance, as the row names it */
	long lease;			 /* seconds */
};

struct leader *leader_new(const struct leader_conf *c);
void leader_free(struct leader *l);

/* One round: renews the lease (active) or tries to take it (standby).
 * 1: active (fence_set has the term), 0: standby, 2: was active and the
 * lease is lost (taken by another instance, or not renewed for too long:
 * stop writing now), -1: the state database did not answer (err set; an
 * active instance stays active until its lease runs short). */
int leader_round(struct leader *l, char *err, size_t errlen);

/* True while active with the lease run short (no renewal for lease minus
 * a fifth): the main loop's check, should a round hang. */
bool leader_expiring(struct leader *l);

/* Who holds the lease, as the last round saw it: "HOLDER, pid N, term T"
 * (or "" before the first round). */
void leader_who(struct leader *l, char *out, size_t outlen);
int64_t leader_term(const struct leader *l);

/* A clean exit hands the lease on at once (expires now); best effort. */
void leader_release(struct leader *l);

/* Runs rounds every lease/4 seconds in a thread of its own until
 * leader_stop; on_change is called (from that thread) with each new
 * outcome of leader_round, 2 included. */
int leader_start(struct leader *l, void (*on_change)(void *ctx, int state), void *ctx);
void leader_stop(struct leader *l);

/* The holder text of this instance: hostname and listen address. */
void leader_holder(const char *listen, char *out, size_t outlen);

#endif
