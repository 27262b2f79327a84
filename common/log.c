/* log.c — the one log: sd-daemon priority prefixes under journald, timestamps
 * on a terminal, a per-thread context tag, every line cleaned; see log.h. */
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/text.h"

static enum log_level cur_level = LOG_LEVEL_INFO;
static int under_journal;
static int on_terminal;
static FILE *out_stream;
static const char *prog = "syncd";
static __thread char context[160];

/* JOURNAL_STREAM is "dev:inode" of the journal socket; it only counts when it
 * is still our stderr (a child may inherit the variable with another fd 2). */
static int journal_detect(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname)
{
	if (progname != NULL)
		prog = progname;
	under_journal = journal_detect();
	on_terminal = !under_journal && isatty(STDERR_FILENO);
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	{"err", LOG_LEVEL_ERR},	  {"error", LOG_LEVEL_ERR}, {"warning", LOG_LEVEL_WARN},
	{"warn", LOG_LEVEL_WARN}, {"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG},
};

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i].name) == 0)
			return (int)level_names[i].level;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR: return "err";
	case LOG_LEVEL_WARN: return "warning";
	case LOG_LEVEL_INFO: return "info";
	case LOG_LEVEL_DEBUG: return "debug";
	}
	return "info";
}

void log_set_context(const char *fmt, ...)
{
	va_list ap;

	if (fmt == NULL || fmt[0] == '\0') {
		context[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

void log_set_stream(void *file)
{
	out_stream = file;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	FILE *f = out_stream != NULL ? out_stream : stderr;
	char msg[4096], clean[8192];
	char prefix[64] = "";
	const char *word = "";
	int n;

	if (level > cur_level)
		return;
	if (under_journal) {
		snprintf(prefix, sizeof(prefix), "<%d>", (int)level);
	} else {
		if (on_terminal) {
			struct timespec ts;
			struct tm tm;

			clock_gettime(CLOCK_REALTIME, &ts);
			localtime_r(&ts.tv_sec, &tm);
			n = (int)strftime(prefix, sizeof(prefix), "%Y-%m-%d %H:%M:%S", &tm);
			snprintf(prefix + n, sizeof(prefix) - (size_t)n, ".%03ld ", ts.tv_nsec / 1000000);
		}
		/* journald shows the priority itself; elsewhere say it in words */
		if (level == LOG_LEVEL_ERR)
			word = "error: ";
		else if (level == LOG_LEVEL_WARN)
			word = "warning: ";
	}
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg))
		n = (int)sizeof(msg) - 1;
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* one record, one line: a CR/LF or "<3>" from a request forges nothing */
	text_clean(msg, (size_t)n, clean, sizeof(clean));
	/* one stdio call per line so concurrent threads do not interleave */
	fprintf(f, "%s%s%s%s%s%s%s\n", prefix, under_journal ? "" : prog, under_journal ? "" : ": ", word,
		context, context[0] ? ": " : "", clean);
	fflush(f);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
