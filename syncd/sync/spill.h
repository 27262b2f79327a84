/* spill.h — where a source's streamed (in-progress) transactions wait for
 * their commit: one file per top-level xid in a private directory, so a
 * transaction of any size costs disk, not memory.
 *
 * With pgoutput protocol 2 and streaming on, PostgreSQL sends a large
 * transaction in blocks (Stream Start xid ... Stream Stop) while it still
 * runs, interleaved with ordinary transactions, and ends it with Stream
 * Commit or Stream Abort.  The messages of each block are appended here as
 * they came; the first message of each subtransaction has its offset
 * remembered, so the abort of a subtransaction truncates the file there (it
 * and the subtransactions after it are gone), as PostgreSQL's own apply
 * worker does; the abort of the whole transaction deletes the file.  At
 * Stream Commit the messages are read back in order and applied as one
 * source transaction.
 *
 * Nothing here is durable: a crash loses the directory, and the slot sends
 * the unfinished transaction again from its start. */
#ifndef SYNCD_SYNC_SPILL_H
#define SYNCD_SYNC_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spill;

/* Makes the directory syncd-spill-<pid>-<tag>-XXXXXX (mode 0700) under
 * $STATE_DIRECTORY (systemd's StateDirectory=), else $TMPDIR, else /tmp, and
 * removes the ones a dead syncd left there.  Returns a new spill
 * (spill_free) or NULL with err set. */
struct spill *spill_new(const char *tag, char *err, size_t errlen);
/* Deletes every staged transaction and the directory; NULL is a no-op. */
void spill_free(struct spill *sp);
/* The directory; borrowed, valid until spill_free. */
const char *spill_dir(const struct spill *sp);
/* Transactions staged and not yet committed or aborted. */
size_t spill_count(const struct spill *sp);
/* Is xid staged (a Stream Start of it was seen)? */
bool spill_has(const struct spill *sp, uint32_t xid);

/* Stream Start: opens xid's file for appending; first: the transaction's
 * first block (it must not be staged yet), else a later one (it must be). */
int spill_start(struct spill *sp, uint32_t xid, bool first, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Appends one message of the open block of xid; subxid is the
 * (sub)transaction the message carried. */
int spill_append(struct spill *sp, uint32_t xid, uint32_t subxid, const uint8_t *msg, size_t len, char *err,
		 size_t errlen) __attribute__((warn_unused_result));
/* Stream Stop: writes out and closes the open block's file. */
int spill_stop(struct spill *sp, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Stream Abort: subxid == xid drops the transaction; otherwise the file is
 * cut where subxid's first message starts (nothing to cut when subxid sent
 * none). */
int spill_abort(struct spill *sp, uint32_t xid, uint32_t subxid, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Stream Commit: reads xid's messages back in order.  spill_replay_next
 * gives >0 the length with *msg set (valid until the next call), 0 at the
 * end, -1 on error; spill_replay_end deletes the file and forgets xid. */
int spill_replay_begin(struct spill *sp, uint32_t xid, char *err, size_t errlen)
	__attribute__((warn_unused_result));
long spill_replay_next(struct spill *sp, const uint8_t **msg, char *err, size_t errlen);
void spill_replay_end(struct spill *sp, uint32_t xid);

#endif
