/* notify.c — syncd's side of Type=notify: READY, RELOADING, STOPPING, the STATUS line
 * (rendered by metrics.c) and the watchdog, withheld while a source loop is wedged. */
#include "syncd/notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

struct notify {
	struct metrics *m;
	uint64_t wd_usec;	/* 0: no watchdog */
	unsigned long *seen;	/* per source: its loop turns when last looked at */
	struct timespec *moved; /* per source: when they last changed */
};

struct notify *notify_new(struct metrics *m)
{
	struct notify *n = calloc(1, sizeof(*n));
	size_t ns = metrics_nsources(m);

	if (n == NULL)
		return NULL;
	n->m = m;
	n->seen = calloc(ns + 1, sizeof(*n->seen));
	n->moved = calloc(ns + 1, sizeof(*n->moved));
	if (n->seen == NULL || n->moved == NULL) {
		notify_free(n);
		return NULL;
	}
	if (sd_watchdog_enabled(0, &n->wd_usec) <= 0)
		n->wd_usec = 0;
	for (size_t i = 0; i < ns; i++)
		clock_gettime(CLOCK_MONOTONIC, &n->moved[i]);
	return n;
}

void notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	free(n->seen);
	free(n->moved);
	free(n);
}

void notify_ready(struct notify *n, const char *result)
{
	char line[1024];

	metrics_status_line(n->m, line, sizeof(line));
	if (result != NULL)
		sd_notifyf(0, "READY=1\nSTATUS=%s; %s", line, result);
	else
		sd_notifyf(0, "READY=1\nSTATUS=%s", line);
}

void notify_reloading(void)
{
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration and the policies");
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing the batches in flight");
}

void notify_tick(struct notify *n)
{
	struct timespec now;
	bool wedged = false;
	char line[1024];

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < metrics_nsources(n->m); i++) {
		struct metrics_source s;

		metrics_source_read(n->m, i, &s);
		if (s.beats != n->seen[i] || s.ended) {
			n->seen[i] = s.beats;
			n->moved[i] = now;
		} else if (n->wd_usec > 0 &&
			   (uint64_t)((now.tv_sec - n->moved[i].tv_sec) * 1000000LL +
				      (now.tv_nsec - n->moved[i].tv_nsec) / 1000) > n->wd_usec / 2) {
			wedged = true;
		}
	}
	metrics_status_line(n->m, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s%s", line, wedged ? " (a source loop is not turning)" : "");
	if (n->wd_usec > 0 && !wedged)
		sd_notify(0, "WATCHDOG=1");
}
