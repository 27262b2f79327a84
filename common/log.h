/* log.h — one logging module for every component.
 *
 * Under journald (JOURNAL_STREAM set and matching stderr) every line carries
 * an sd-daemon priority prefix ("<3>", "<4>", "<6>", "<7>"); on a terminal
 * it carries a timestamp instead.  A per-thread context tag ("source=land
 * unit=31120") is prepended so a line can be traced to what it concerns. */
#ifndef SYNCD_COMMON_LOG_H
#define SYNCD_COMMON_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Detects journald/terminal once; safe to call again (tests do). */
void log_init(const char *progname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "err", "warning", "info", "debug" -> level; returns -1 for anything else. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* Context tag of the calling thread; NULL or "" clears it.  Copied. */
void log_set_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Where lines go (default stderr); for tests. */
void log_set_stream(void *file);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Logs at error level and exits 1.  Only main and start-up may call it. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
