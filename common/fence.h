/* fence.h — the leader's term this process writes under.
 *
 * Two syncd instances on one configuration elect one active instance
 * through a lease row in the state database (syncd/leader.c); each takeover
 * raises the term.  Every checkpoint (unit tier and state database) and every
 * audit batch carries the term this process holds, and the database refuses
 * a write under an older term than the one it has seen (SQLSTATE SYF01), so
 * an instance that was paused and resumes after a takeover can neither move
 * a checkpoint back nor fork the audit chain.  0: no term (not active). */
#ifndef SYNCD_COMMON_FENCE_H
#define SYNCD_COMMON_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The SQLSTATE the fence raises: a stale term. */
#define FENCE_SQLSTATE "SYF01"

void fence_set(int64_t term);
/* The cluster this process is elected in ("" before): its replication
 * sessions are named "syncd:CLUSTER", so a takeover ends only its own
 * cluster's former session on a slot.  Set once, before any thread runs. */
void fence_set_cluster(const char *cluster);
const char *fence_cluster(void);
int64_t fence_term(void);
/* The term as decimal text (for a query parameter). */
void fence_text(char *out, size_t outlen);
/* True when a database error's text says the fence refused a write (every
 * refusal's message starts "syncd fence:"). */
bool fence_refused(const char *err);

#endif
