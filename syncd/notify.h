/* notify.h — what syncd tells systemd (Type=notify): READY, RELOADING, STOPPING,
 * the STATUS line once a second, and the watchdog ping while every source loop turns. */
#ifndef SYNCD_NOTIFY_H
#define SYNCD_NOTIFY_H

#include "syncd/metrics.h"

struct notify;

/* Watches the sources m reads (borrowed for the life of the object); the
 * watchdog interval comes from the environment (WATCHDOG_USEC).  NULL
 * when memory runs out.  notify_free(NULL) does nothing. */
struct notify *notify_new(struct metrics *m);
void notify_free(struct notify *n);

/* READY=1 with the status line, and after it "; " and result when given
 * (a reload's outcome). */
void notify_ready(struct notify *n, const char *result);
void notify_reloading(void);
void notify_stopping(void);

/* Once a second: STATUS=, and WATCHDOG=1 unless a source loop has not
 * turned for half the watchdog interval (a unit that is down does not stop
 * the loop: it waits or detaches). */
void notify_tick(struct notify *n);

#endif
