/* config.c — syncd.conf through libinih: one key table (type, default,
 * reloadable, secret) drives parsing, defaults and --print-config. */
#include "syncd/config.h"

#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/fileio.h"
#include "common/log.h"

enum key_type {
	KEY_STRING,
	KEY_INT,
	KEY_LOG_LEVEL,
	KEY_CONNINFO,
	KEY_SECRET_FILE, /* path of a file holding a secret */
	KEY_PATH,
	KEY_LISTEN,
	KEY_BOOL,	/* true/false, yes/no, on/off, 1/0 -> long 1/0 */
	KEY_URL,	/* http(s)://HOST[:PORT][/PATH]; trailing slashes are dropped */
	KEY_WORD,	/* one word of choices, kept as a string */
	KEY_WORD_INDEX, /* one word of choices -> long: its position in the list */
	KEY_SEND_URL,	/* a URL syncd sends to: https://, or http:// to a loopback host; kept as written */
};

enum section_kind {
	SEC_SYNCD,
	SEC_STATE,
	SEC_SOURCE, /* [source NAME], repeated */
	SEC_TIER,
	SEC_TARGET, /* [target NAME], repeated */
	SEC_LDAP,
};

static const char *const section_names[] = {"syncd", "state", "source", "tier", "target", "ldap"};
#define NSECTIONS (sizeof(section_names) / sizeof(section_names[0]))

/* The one description of syncd.conf: parsing, defaults, reload and
 * --print-config all read this table. */
struct key_def {
	enum section_kind section;
	const char *name;
	enum key_type type;
	const char *def; /* NULL: no default */
	bool reloadable;
	bool required;
	size_t offset; /* into struct config, config_source (SEC_SOURCE) or config_target (SEC_TARGET) */
	long min, max; /* KEY_INT */
	const char *choices; /* KEY_WORD, KEY_WORD_INDEX: "also|instead" */
};

#define C(field) offsetof(struct config, field)
#define S(field) offsetof(struct config_source, field)
#define T(field) offsetof(struct config_target, field)

static const struct key_def keys[] = {
	{SEC_SYNCD, "listen", KEY_LISTEN, "127.0.0.1:8443", false, false, C(listen), 0, 0, NULL},
	{SEC_SYNCD, "tls_cert_file", KEY_PATH, NULL, false, false, C(tls_cert_file), 0, 0, NULL},
	{SEC_SYNCD, "tls_key_file", KEY_SECRET_FILE, NULL, false, false, C(tls_key_file), 0, 0, NULL},
	{SEC_SYNCD, "trusted_proxies", KEY_STRING, NULL, true, false, C(trusted_proxies), 0, 0, NULL},
	{SEC_SYNCD, "api_threads", KEY_INT, "8", false, false, C(api_threads), 1, 64, NULL},
	{SEC_SYNCD, "api_max_connections", KEY_INT, "1000", false, false, C(api_max_connections), 16, 100000,
	 NULL},
	{SEC_SYNCD, "api_max_connections_per_ip", KEY_INT, "32", false, false, C(api_max_connections_per_ip),
	 0, 100000, NULL},
	{SEC_SYNCD, "api_idle_timeout", KEY_INT, "10", false, false, C(api_idle_timeout), 1, 3600, NULL},
	{SEC_SYNCD, "signing_key_file", KEY_SECRET_FILE, NULL, false, false, C(signing_key_file), 0, 0, NULL},
	{SEC_SYNCD, "audit_checkpoint_file", KEY_PATH, NULL, false, false, C(audit_checkpoint_file), 0, 0,
	 NULL},
	{SEC_SYNCD, "audit_checkpoint_every", KEY_INT, "1000", true, false, C(audit_checkpoint_every), 1,
	 10000000, NULL},
	{SEC_SYNCD, "policies_dir", KEY_PATH, "/etc/syncd/policies", true, false, C(policies_dir), 0, 0,
	 NULL},
	{SEC_SYNCD, "log_level", KEY_LOG_LEVEL, "info", true, false, C(log_level), 0, 0, NULL},
	{SEC_SYNCD, "copy_buffer_kb", KEY_INT, "256", true, false, C(copy_buffer_kb), 8, 65536, NULL},
	{SEC_SYNCD, "unit_backlog_limit", KEY_INT, "1024", true, false, C(unit_backlog_limit), 1, 1048576,
	 NULL},
	{SEC_SYNCD, "public_url", KEY_URL, NULL, false, false, C(public_url), 0, 0, NULL},
	{SEC_SYNCD, "session_idle", KEY_INT, "1800", true, false, C(session_idle), 60, 86400, NULL},
	{SEC_SYNCD, "session_max", KEY_INT, "43200", true, false, C(session_max), 300, 604800, NULL},
	{SEC_SYNCD, "cluster", KEY_STRING, "syncd", false, false, C(cluster), 0, 0, NULL},
	{SEC_SYNCD, "lease", KEY_INT, "10", false, false, C(lease), 2, 300, NULL},
	{SEC_STATE, "conninfo", KEY_CONNINFO, NULL, false, true, C(state_conninfo), 0, 0, NULL},
	{SEC_STATE, "password_file", KEY_SECRET_FILE, NULL, false, false, C(state_password_file), 0, 0, NULL},
	/* [source NAME]: nothing reloadable (a source's thread starts with its
	 * settings); conninfo and password_file are kind = postgresql's, the keys
	 * after them kind = http's (source_end refuses the other kind's) */
	{SEC_SOURCE, "kind", KEY_WORD_INDEX, "postgresql", false, false, S(http), 0, 0, "postgresql|http"},
	{SEC_SOURCE, "conninfo", KEY_CONNINFO, NULL, false, false, S(conninfo), 0, 0, NULL},
	{SEC_SOURCE, "password_file", KEY_SECRET_FILE, NULL, false, false, S(password_file), 0, 0, NULL},
	{SEC_SOURCE, "url", KEY_SEND_URL, NULL, false, false, S(url), 0, 0, NULL},
	{SEC_SOURCE, "interval", KEY_INT, "30", false, false, S(interval), 1, 86400, NULL},
	{SEC_SOURCE, "cursor_param", KEY_STRING, "updated_since", false, false, S(cursor_param), 0, 0, NULL},
	{SEC_SOURCE, "next_field", KEY_STRING, NULL, false, false, S(next_field), 0, 0, NULL},
	{SEC_SOURCE, "cursor_field", KEY_STRING, "updated_at", false, false, S(cursor_field), 0, 0, NULL},
	{SEC_SOURCE, "records_field", KEY_STRING, "items", false, false, S(records_field), 0, 0, NULL},
	{SEC_SOURCE, "page_size", KEY_INT, NULL, false, false, S(page_size), 1, 100000, NULL},
	{SEC_SOURCE, "page_size_param", KEY_STRING, NULL, false, false, S(page_size_param), 0, 0, NULL},
	{SEC_SOURCE, "timeout", KEY_INT, "30", false, false, S(timeout), 1, 600, NULL},
	{SEC_SOURCE, "ca_file", KEY_PATH, NULL, false, false, S(ca_file), 0, 0, NULL},
	{SEC_SOURCE, "auth", KEY_WORD, "none", false, false, S(auth), 0, 0, "none|bearer"},
	{SEC_SOURCE, "token_file", KEY_PATH, NULL, false, false, S(token_file), 0, 0, NULL},
	{SEC_TIER, "conninfo", KEY_CONNINFO, NULL, false, true, C(tier_conninfo), 0, 0, NULL},
	{SEC_TIER, "password_file", KEY_SECRET_FILE, NULL, false, false, C(tier_password_file), 0, 0, NULL},
	{SEC_TIER, "schema", KEY_STRING, "u{unit}", false, false, C(tier_schema), 0, 0, NULL},
	/* [target NAME]: nothing reloadable (a target's sender starts with its
	 * settings); units is parsed at the section's end (target_units); the
	 * *_file keys are only paths here, read when sent (connectors/http_send.c) */
	{SEC_TARGET, "kind", KEY_WORD, NULL, false, true, T(kind), 0, 0, "http"},
	{SEC_TARGET, "units", KEY_STRING, "*", false, false, T(units), 0, 0, NULL},
	{SEC_TARGET, "mode", KEY_WORD_INDEX, "also", false, false, T(instead), 0, 0, "also|instead"},
	{SEC_TARGET, "url", KEY_SEND_URL, NULL, false, true, T(url), 0, 0, NULL},
	{SEC_TARGET, "format", KEY_WORD, "json", false, false, T(format), 0, 0, "json|cloudevents"},
	{SEC_TARGET, "tables", KEY_STRING, NULL, false, false, T(tables), 0, 0, NULL},
	{SEC_TARGET, "ca_file", KEY_PATH, NULL, false, false, T(ca_file), 0, 0, NULL},
	{SEC_TARGET, "client_cert_file", KEY_PATH, NULL, false, false, T(client_cert_file), 0, 0, NULL},
	{SEC_TARGET, "client_key_file", KEY_PATH, NULL, false, false, T(client_key_file), 0, 0, NULL},
	{SEC_TARGET, "auth", KEY_WORD, "none", false, false, T(auth), 0, 0, "none|bearer|oauth2|hmac"},
	{SEC_TARGET, "token_file", KEY_PATH, NULL, false, false, T(token_file), 0, 0, NULL},
	{SEC_TARGET, "token_url", KEY_SEND_URL, NULL, false, false, T(token_url), 0, 0, NULL},
	{SEC_TARGET, "client_id", KEY_STRING, NULL, false, false, T(client_id), 0, 0, NULL},
	{SEC_TARGET, "client_secret_file", KEY_PATH, NULL, false, false, T(client_secret_file), 0, 0, NULL},
	{SEC_TARGET, "scope", KEY_STRING, NULL, false, false, T(scope), 0, 0, NULL},
	{SEC_TARGET, "hmac_secret_file", KEY_PATH, NULL, false, false, T(hmac_secret_file), 0, 0, NULL},
	{SEC_TARGET, "batch_rows", KEY_INT, "500", false, false, T(batch_rows), 1, 100000, NULL},
	{SEC_TARGET, "batch_bytes", KEY_INT, "1048576", false, false, T(batch_bytes), 1024, 67108864, NULL},
	{SEC_TARGET, "timeout", KEY_INT, "30", false, false, T(timeout), 1, 600, NULL},
	{SEC_TARGET, "retry_deadline", KEY_INT, "86400", false, false, T(retry_deadline), 10, 2592000, NULL},
	{SEC_TARGET, "max_in_flight_units", KEY_INT, "8", false, false, T(max_in_flight_units), 1, 128, NULL},
	{SEC_TARGET, "rate_limit", KEY_INT, "0", false, false, T(rate_limit), 0, 100000, NULL},
	{SEC_TARGET, "gzip", KEY_BOOL, "false", false, false, T(gzip), 0, 1, NULL},
	{SEC_LDAP, "uri", KEY_STRING, NULL, false, false, C(ldap_uri), 0, 0, NULL},
	{SEC_LDAP, "base", KEY_STRING, NULL, false, false, C(ldap_base), 0, 0, NULL},
	{SEC_LDAP, "bind_dn", KEY_STRING, NULL, false, false, C(ldap_bind_dn), 0, 0, NULL},
	{SEC_LDAP, "bind_password_file", KEY_SECRET_FILE, NULL, false, false, C(ldap_bind_password_file), 0,
	 0, NULL},
	{SEC_LDAP, "cache_ttl", KEY_INT, "30", true, false, C(ldap_cache_ttl), 0, 86400, NULL},
	{SEC_LDAP, "starttls", KEY_BOOL, "false", false, false, C(ldap_starttls), 0, 1, NULL},
	{SEC_LDAP, "tls_ca_file", KEY_PATH, NULL, false, false, C(ldap_tls_ca_file), 0, 0, NULL},
	{SEC_LDAP, "timeout", KEY_INT, "5", true, false, C(ldap_timeout), 1, 120, NULL},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct parse_state {
	struct config *cfg;
	struct buf errors;
	const char *file;
	FILE *fp;
	int line;
	int header_line; /* of the last [section] line read */
	char cur_section[256];
	int cur_kind; /* -1: unknown section */
	struct config_source *cur_source;
	struct config_target *cur_target;
	bool seen_single[NSECTIONS];
	/* line of each key seen, per section instance, for duplicates/required */
	int seen_line[NKEYS];
};

static void perr(struct parse_state *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parse_state *ps, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line per problem: libpq's messages end in a newline */
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	for (char *p = msg; (p = strchr(p, '\n')) != NULL;)
		*p = ' ';
	if (buf_printf(&ps->errors, "%s:%d: %s\n", ps->file, line, msg) < 0)
		return;
}

/* inih gives no line numbers to the handler; reading through this counter
 * gives the line being handled (inih reads one line per call). */
static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	char *r = fgets(str, num, ps->fp);
	size_t n;

	if (r == NULL)
		return NULL;
	ps->line++;
	/* the handler first hears of a section at its first key: keep where the
	 * header was, for the section's messages */
	if (r[strspn(r, " \t")] == '[')
		ps->header_line = ps->line;
	n = strlen(r);
	/* inih would read the rest of an over-long line as a line of its own */
	if (n > 0 && r[n - 1] != '\n' && !feof(ps->fp)) {
		perr(ps, ps->line, "line longer than %d characters; shorten it", num - 2);
		while ((n = strlen(r)) > 0 && r[n - 1] != '\n' && fgets(str, num, ps->fp) != NULL)
			;
		str[0] = '\0';
	}
	return r;
}

/* Kept as a long (the others as a string, or NULL). */
static bool key_is_long(const struct key_def *k)
{
	return k->type == KEY_INT || k->type == KEY_BOOL || k->type == KEY_WORD_INDEX;
}

/* [source NAME] and [target NAME] may appear many times, each its own struct. */
static bool section_repeated(enum section_kind kind)
{
	return kind == SEC_SOURCE || kind == SEC_TARGET;
}

/* The struct the keys of k's section are fields of, in this section. */
static void *field_base(struct parse_state *ps, const struct key_def *k)
{
	if (k->section == SEC_SOURCE)
		return ps->cur_source;
	if (k->section == SEC_TARGET)
		return ps->cur_target;
	return ps->cfg;
}

static const struct key_def *key_find(enum section_kind kind, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == kind && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The string field of k in base (NULL: not set). */
static const char *field_str(const struct key_def *k, const void *base)
{
	return *(char *const *)(const void *)((const char *)base + k->offset);
}

static bool listen_valid(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (colon == NULL || colon == v)
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port > 0 && port < 65536;
}

static int bool_parse(const char *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off",
										    "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Where value is in choices ("a|b|c"), or -1. */
static int choice_index(const char *choices, const char *value)
{
	size_t len = strlen(value);
	int i = 0;

	for (const char *p = choices;; i++) {
		size_t wlen = strcspn(p, "|");

		if (wlen == len && strncmp(p, value, len) == 0)
			return i;
		if (p[wlen] == '\0')
			return -1;
		p += wlen + 1;
	}
}

/* The word at position i of choices, and its length in *len. */
static const char *choice_word(const char *choices, long i, int *len)
{
	const char *p = choices;

	while (i-- > 0 && strchr(p, '|') != NULL)
		p = strchr(p, '|') + 1;
	*len = (int)strcspn(p, "|");
	return p;
}

static void choice_check(struct parse_state *ps, const struct key_def *k, const char *value)
{
	struct buf list = {0};
	int n = 1, len;

	if (choice_index(k->choices, value) >= 0)
		return;
	for (const char *p = k->choices; (p = strchr(p, '|')) != NULL; p++)
		n++;
	/* "a", "a or b", "a, b or c" */
	for (int i = 0; i < n; i++) {
		const char *w = choice_word(k->choices, i, &len);

		if (buf_printf(&list, "%s%.*s", i == 0 ? "" : i == n - 1 ? " or " : ", ", len, w) < 0)
			break;
	}
	if (n == 1)
		perr(ps, ps->line, "[%s] %s = %s: expected %s; write %s = %s", ps->cur_section, k->name,
		     value, k->choices, k->name, k->choices);
	else
		perr(ps, ps->line, "[%s] %s = %s: expected %s", ps->cur_section, k->name, value,
		     list.data ? list.data : k->choices);
	buf_free(&list);
}

static bool port_valid(const char *p, size_t len)
{
	long port = 0;

	if (len < 2 || len > 6 || p[0] != ':')
		return false;
	for (size_t i = 1; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		port = port * 10 + (p[i] - '0');
	}
	return port > 0 && port < 65536;
}

static bool host_loopback(const char *host, size_t len)
{
	return (len == 9 && strncmp(host, "127.0.0.1", len) == 0) ||
	       (len == 5 && strncmp(host, "[::1]", len) == 0) ||
	       (len == 9 && strncasecmp(host, "localhost", len) == 0);
}

/* What is wrong with a URL syncd sends to, or NULL: https://HOST[:PORT]/...,
 * or http:// to a loopback host (tests).  No user or password in it: that
 * would put a secret in syncd.conf. */
static const char *send_url_problem(const char *v)
{
	bool https = strncmp(v, "https://", 8) == 0;
	const char *host = v + (https ? 8 : 7);
	size_t alen, hlen;

	if (!https && strncmp(v, "http://", 7) != 0)
		return "expected https://HOST[:PORT][/PATH]";
	if (strpbrk(v, " \t") != NULL)
		return "a URL holds no spaces; write each as %20";
	alen = strcspn(host, "/?#");
	if (memchr(host, '@', alen) != NULL)
		return "a user or password in the URL would be a secret in syncd.conf; remove it and use auth with its *_file keys";
	if (host[0] == '[') {
		const char *end = memchr(host, ']', alen);

		hlen = end != NULL ? (size_t)(end - host) + 1 : alen;
	} else {
		hlen = strcspn(host, ":/?#");
	}
	if (hlen == 0 || (host[0] == '[' && (hlen < 3 || host[hlen - 1] != ']')))
		return "expected https://HOST[:PORT][/PATH]: the host is missing or malformed";
	if (hlen < alen && !port_valid(host + hlen, alen - hlen))
		return "expected HOST or HOST:PORT after the scheme (a port from 1 to 65535)";
	if (!https && !host_loopback(host, hlen))
		return "http:// is allowed only to 127.0.0.1, [::1] or localhost (tests); use https://";
	return NULL;
}

static void value_check(struct parse_state *ps, const struct key_def *k, const char *value)
{
	const char *key = k->name;

	switch (k->type) {
	case KEY_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < k->min || v > k->max)
			perr(ps, ps->line, "[%s] %s = %s: expected an integer from %ld to %ld",
			     ps->cur_section, key, value, k->min, k->max);
		break;
	}
	case KEY_BOOL:
		if (bool_parse(value) < 0)
			perr(ps, ps->line, "[%s] %s = %s: expected true or false", ps->cur_section, key,
			     value);
		break;
	case KEY_LOG_LEVEL:
		if (log_level_parse(value) < 0)
			perr(ps, ps->line, "[%s] %s = %s: expected err, warning, info or debug",
			     ps->cur_section, key, value);
		break;
	case KEY_LISTEN:
		if (!listen_valid(value))
			perr(ps, ps->line, "[%s] %s = %s: expected ADDRESS:PORT, e.g. 127.0.0.1:8443",
			     ps->cur_section, key, value);
		break;
	case KEY_CONNINFO: {
		char *errmsg = NULL;
		PQconninfoOption *opts = PQconninfoParse(value, &errmsg);

		if (opts == NULL) {
			perr(ps, ps->line, "[%s] %s: %s", ps->cur_section, key,
			     errmsg ? errmsg : "cannot parse the connection string");
			PQfreemem(errmsg);
			break;
		}
		for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
				perr(ps, ps->line,
				     "[%s] %s contains a password: remove it and put the password in a file named by password_file (mode 0600)",
				     ps->cur_section, key);
		PQconninfoFree(opts);
		break;
	}
	case KEY_SECRET_FILE: {
		char err[512];
		char *s = secret_file_read(value, err, sizeof(err));

		if (s == NULL)
			perr(ps, ps->line, "[%s] %s: %s", ps->cur_section, key, err);
		else
			free(s);
		break;
	}
	case KEY_URL:
		if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
		    strchr(value, '/')[2] == '\0' || strchr(value, '/')[2] == '/')
			perr(ps, ps->line,
			     "[%s] %s = %s: expected the base URL people reach syncd at, "
			     "http(s)://HOST[:PORT][/PATH], e.g. https://syncd.cantho.gov.vn",
			     ps->cur_section, key, value);
		break;
	case KEY_WORD:
	case KEY_WORD_INDEX: choice_check(ps, k, value); break;
	case KEY_SEND_URL: {
		const char *problem = send_url_problem(value);

		if (problem != NULL)
			perr(ps, ps->line, "[%s] %s = %s: %s", ps->cur_section, key, value, problem);
		break;
	}
	case KEY_STRING:
	case KEY_PATH:
		if (value[0] == '\0')
			perr(ps, ps->line, "[%s] %s is empty; remove the line to use the default",
			     ps->cur_section, key);
		break;
	}
}

/* Sets the field of k in base (struct config, config_source or
 * config_target) from its text; value was checked by value_check. */
static void key_set(const struct key_def *k, void *base, const char *value)
{
	char **field = (char **)(void *)((char *)base + k->offset);

	if (k->type == KEY_INT) {
		*(long *)(void *)field = strtol(value, NULL, 10);
	} else if (k->type == KEY_BOOL) {
		*(long *)(void *)field = bool_parse(value) == 1;
	} else if (k->type == KEY_WORD_INDEX) {
		int i = choice_index(k->choices, value);

		*(long *)(void *)field = i > 0 ? i : 0;
	} else {
		free(*field);
		*field = strdup(value);
		/* a URL's trailing slashes go: links are built as base + "/path" */
		while (k->type == KEY_URL && *field != NULL && (*field)[0] != '\0' &&
		       (*field)[strlen(*field) - 1] == '/')
			(*field)[strlen(*field) - 1] = '\0';
	}
}

/* A NAME of [source NAME] or [target NAME]: it names a replication slot, a
 * target in logs and in the state database. */
static bool name_valid(const char *name)
{
	return *name != '\0' && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(name) &&
	       strlen(name) <= 40;
}

/* Returns 1 when added, 0 when refused (reported), -1 out of memory. */
static int source_add(struct parse_state *ps, const char *name)
{
	struct config_source *s;

	if (!name_valid(name)) {
		perr(ps, ps->header_line,
		     "[source %s]: a source needs a name of lower-case letters, digits and _ (it names the slot syncd_NAME), e.g. [source land]",
		     name);
		return 0;
	}
	if (config_source_find(ps->cfg, name) != NULL) {
		perr(ps, ps->header_line, "[source %s] is defined twice", name);
		return 0;
	}
	s = realloc(ps->cfg->sources, (ps->cfg->nsources + 1) * sizeof(*s));
	if (s == NULL)
		return -1;
	ps->cfg->sources = s;
	s = &s[ps->cfg->nsources++];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->line = ps->header_line;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == SEC_SOURCE && keys[i].def != NULL)
			key_set(&keys[i], s, keys[i].def);
	ps->cur_source = s;
	return s->name != NULL ? 1 : -1;
}

/* Returns 1 when added (with every default), 0 when refused (reported), -1
 * out of memory. */
static int target_add(struct parse_state *ps, const char *name)
{
	const struct config_target *first = config_target_find(ps->cfg, name);
	struct config_target *t;

	if (!name_valid(name)) {
		perr(ps, ps->header_line,
		     "[target %s]: a target needs a name of lower-case letters, digits and _ (it names the target in logs and in the state database), e.g. [target onestop]",
		     name);
		return 0;
	}
	if (first != NULL) {
		perr(ps, ps->header_line,
		     "[target %s] is defined twice (first at line %d); merge them or rename one", name,
		     first->line);
		return 0;
	}
	t = realloc(ps->cfg->targets, (ps->cfg->ntargets + 1) * sizeof(*t));
	if (t == NULL)
		return -1;
	ps->cfg->targets = t;
	t = &t[ps->cfg->ntargets++];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	t->line = ps->header_line;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == SEC_TARGET && keys[i].def != NULL)
			key_set(&keys[i], t, keys[i].def);
	ps->cur_target = t;
	return t->name != NULL ? 1 : -1;
}

/* Where key name of the current section was set, else fallback. */
static int key_line(const struct parse_state *ps, enum section_kind kind, const char *name, int fallback)
{
	const struct key_def *k = key_find(kind, name);

	return k != NULL && ps->seen_line[k - keys] != 0 ? ps->seen_line[k - keys] : fallback;
}

/* True when the target takes unit (every unit with units = *). */
static bool target_has_unit(const struct config_target *t, int unit)
{
	if (t->all_units)
		return true;
	for (size_t i = 0; i < t->nunit_codes; i++)
		if (t->unit_codes[i] == unit)
			return true;
	return false;
}

/* units = "*", or 5-digit codes separated by commas or spaces. */
static void target_units(struct parse_state *ps, struct config_target *t)
{
	int line = key_line(ps, SEC_TARGET, "units", t->line);
	const char *p = t->units;
	bool bad = false;

	t->all_units = p != NULL && strcmp(p, "*") == 0;
	if (p == NULL || t->all_units || p[0] == '\0') /* "": reported at its line */
		return;
	while (*(p += strspn(p, ", \t")) != '\0') {
		size_t len = strcspn(p, ", \t");
		int code = (int)strtol(p, NULL, 10);
		int *codes;

		if (len != 5 || strspn(p, "0123456789") < 5) {
			perr(ps, line,
			     "[%s] units: \"%.*s\" is not a 5-digit unit code; write units = * for every unit, or codes such as units = 31120, 31135",
			     ps->cur_section, (int)len, p);
			bad = true;
		} else if (target_has_unit(t, code)) {
			perr(ps, line, "[%s] units: %.5s is listed twice; remove one", ps->cur_section, p);
			bad = true;
		} else {
			codes = realloc(t->unit_codes, (t->nunit_codes + 1) * sizeof(*codes));
			if (codes == NULL) {
				perr(ps, line, "[%s] units: out of memory", ps->cur_section);
				return;
			}
			t->unit_codes = codes;
			codes[t->nunit_codes++] = code;
		}
		p += len;
	}
	if (t->nunit_codes == 0 && !bad)
		perr(ps, line,
		     "[%s] units lists no unit code; write units = * for every unit, or codes such as units = 31120, 31135",
		     ps->cur_section);
}

/* The keys of each auth mode, with what they hold: under another mode
 * they are mistakes (a secret configured but never used). */
static const struct {
	const char *key;
	const char *auth;
	bool required;
	const char *holds;
} auth_keys[] = {
	{"token_file", "bearer", true, "a file (mode 0600) holding the bearer token"},
	{"token_url", "oauth2", true, "the OAuth2 token endpoint, https://..."},
	{"client_id", "oauth2", true, "the OAuth2 client id"},
	{"client_secret_file", "oauth2", true, "a file (mode 0600) holding the OAuth2 client secret"},
	{"scope", "oauth2", false, "the OAuth2 scope"},
	{"hmac_secret_file", "hmac", true, "a file (mode 0600) holding the webhook secret"},
};

static void target_auth(struct parse_state *ps, const struct config_target *t)
{
	int auth_line = key_line(ps, SEC_TARGET, "auth", t->line);

	if (t->auth == NULL || choice_index(key_find(SEC_TARGET, "auth")->choices, t->auth) < 0)
		return; /* reported at its line */
	for (size_t i = 0; i < sizeof(auth_keys) / sizeof(auth_keys[0]); i++) {
		const char *key = auth_keys[i].key;
		bool set = field_str(key_find(SEC_TARGET, key), t) != NULL;

		if (strcmp(t->auth, auth_keys[i].auth) != 0 && set)
			perr(ps, key_line(ps, SEC_TARGET, key, t->line),
			     "[%s] %s is set but auth = %s; set auth = %s or remove %s", ps->cur_section, key,
			     t->auth, auth_keys[i].auth, key);
		else if (strcmp(t->auth, auth_keys[i].auth) == 0 && !set && auth_keys[i].required)
			perr(ps, auth_line, "[%s] auth = %s needs %s: %s", ps->cur_section, t->auth, key,
			     auth_keys[i].holds);
	}
}

/* The checks of a [target NAME] that need the whole section: what is
 * required, what goes together, the units. */
static void target_end(struct parse_state *ps, struct config_target *t)
{
	if (t->kind == NULL)
		perr(ps, t->line, "[%s] kind is required: write kind = http", ps->cur_section);
	if (t->url == NULL)
		perr(ps, t->line,
		     "[%s] url is required: where the changes are POSTed, e.g. url = https://onestop.cantho.gov.vn/api/units/{unit}/changes",
		     ps->cur_section);
	if ((t->client_cert_file == NULL) != (t->client_key_file == NULL)) {
		const char *set = t->client_cert_file != NULL ? "client_cert_file" : "client_key_file";
		const char *unset = t->client_cert_file != NULL ? "client_key_file" : "client_cert_file";

		perr(ps, key_line(ps, SEC_TARGET, set, t->line),
		     "[%s] %s is set but %s is not: mutual TLS needs both; set %s or remove %s",
		     ps->cur_section, set, unset, unset, set);
	}
	target_auth(ps, t);
	target_units(ps, t);
}

/* True for the keys of kind = postgresql; the other [source] keys but
 * kind are kind = http's. */
static bool source_key_pg(const char *key)
{
	return strcmp(key, "conninfo") == 0 || strcmp(key, "password_file") == 0;
}

/* The checks of a [source NAME] that need the whole section: each kind's
 * required keys, the other kind's keys refused, what goes together. */
static void source_end(struct parse_state *ps, struct config_source *s)
{
	const char *kind = s->http ? "http" : "postgresql";

	for (size_t i = 0; i < NKEYS; i++) {
		int line = ps->seen_line[i];

		if (keys[i].section != SEC_SOURCE || line == 0 || strcmp(keys[i].name, "kind") == 0 ||
		    source_key_pg(keys[i].name) != (s->http != 0))
			continue;
		perr(ps, line, "[%s] %s is not a key of kind = %s; remove it%s", ps->cur_section,
		     keys[i].name, kind,
		     s->http ? "" : ", or set kind = http for a source pulled from a JSON API");
	}
	if (!s->http && s->conninfo == NULL)
		perr(ps, s->line, "[%s] conninfo is required (or kind = http with url)", ps->cur_section);
	if (!s->http)
		return;
	if (s->url == NULL)
		perr(ps, s->line,
		     "[%s] url is required with kind = http: the API's pages, e.g. url = https://onestop.cantho.gov.vn/api/cases",
		     ps->cur_section);
	if ((s->page_size != 0) != (s->page_size_param != NULL))
		perr(ps, key_line(ps, SEC_SOURCE, s->page_size ? "page_size" : "page_size_param", s->line),
		     "[%s] page_size and page_size_param go together: the size and the query parameter carrying it (e.g. limit)",
		     ps->cur_section);
	if (s->auth != NULL && strcmp(s->auth, "bearer") == 0 && s->token_file == NULL)
		perr(ps, key_line(ps, SEC_SOURCE, "auth", s->line),
		     "[%s] auth = bearer needs token_file: a file (mode 0600) holding the bearer token",
		     ps->cur_section);
	if (s->auth != NULL && strcmp(s->auth, "none") == 0 && s->token_file != NULL)
		perr(ps, key_line(ps, SEC_SOURCE, "token_file", s->line),
		     "[%s] token_file is set but auth = none; set auth = bearer or remove token_file",
		     ps->cur_section);
}

/* Called when a section ends (another begins, or the file ends). */
static void section_end(struct parse_state *ps)
{
	if (ps->cur_kind == SEC_TARGET && ps->cur_target != NULL)
		target_end(ps, ps->cur_target);
	if (ps->cur_kind == SEC_SOURCE && ps->cur_source != NULL)
		source_end(ps, ps->cur_source);
	ps->cur_target = NULL;
	ps->cur_source = NULL;
}

/* Returns 1 when the section may begin, 0 when refused (reported). */
static int single_start(struct parse_state *ps, const char *section, bool named, size_t kindlen)
{
	if (named) {
		perr(ps, ps->header_line, "section [%s] takes no name; write [%.*s]", section, (int)kindlen,
		     section);
		return 0;
	}
	if (ps->seen_single[ps->cur_kind]) {
		perr(ps, ps->header_line, "section [%s] appears twice; merge them", section);
		return 0;
	}
	ps->seen_single[ps->cur_kind] = true;
	return 1;
}

static int section_start(struct parse_state *ps, const char *section)
{
	const char *sp = strchr(section, ' ');
	size_t kindlen = sp ? (size_t)(sp - section) : strlen(section);
	const char *name = sp ? sp + strspn(sp, " ") : "";
	int r;

	section_end(ps);
	snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
	ps->cur_kind = -1;
	for (int i = 0; i < (int)NSECTIONS; i++)
		if (strlen(section_names[i]) == kindlen && strncmp(section, section_names[i], kindlen) == 0)
			ps->cur_kind = i;
	if (ps->cur_kind < 0) {
		perr(ps, ps->header_line,
		     "unknown section [%s] (known: [syncd], [state], [source NAME], [tier], [target NAME], [ldap])",
		     section);
		return 0;
	}
	for (size_t i = 0; i < NKEYS; i++)
		if ((int)keys[i].section == ps->cur_kind)
			ps->seen_line[i] = 0;
	if (ps->cur_kind == SEC_SOURCE)
		r = source_add(ps, name);
	else if (ps->cur_kind == SEC_TARGET)
		r = target_add(ps, name);
	else
		r = single_start(ps, section, sp != NULL, kindlen);
	if (r <= 0)
		ps->cur_kind = -1;
	return r < 0 ? -1 : 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	size_t i;

	if (strcmp(section, ps->cur_section) != 0 && section_start(ps, section) < 0)
		return 0;
	if (ps->cur_kind < 0)
		return 1; /* the section's own error was reported */
	for (i = 0; i < NKEYS; i++)
		if ((int)keys[i].section == ps->cur_kind && strcmp(keys[i].name, name) == 0)
			break;
	if (i == NKEYS) {
		if (strcmp(name, "password") == 0)
			perr(ps, ps->line,
			     "[%s] password: passwords never go in syncd.conf; write it to a file (chmod 600) and set password_file",
			     ps->cur_section);
		else
			perr(ps, ps->line, "[%s] unknown key \"%s\"", ps->cur_section, name);
		return 1;
	}
	if (ps->seen_line[i] != 0) {
		perr(ps, ps->line, "[%s] %s is set twice (first at line %d)", ps->cur_section, name,
		     ps->seen_line[i]);
		return 1;
	}
	ps->seen_line[i] = ps->line;
	value_check(ps, &keys[i], value);
	key_set(&keys[i], field_base(ps, &keys[i]), value);
	return 1;
}

static void defaults_apply(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!section_repeated(keys[i].section) && keys[i].def != NULL)
			key_set(&keys[i], cfg, keys[i].def);
}

static char *secret_load(struct parse_state *ps, const char *path)
{
	char err[512];

	if (path == NULL)
		return NULL;
	/* validity was reported at the key's line; a failure here repeats nothing */
	(void)ps;
	return secret_file_read(path, err, sizeof(err));
}

static void required_check(struct parse_state *ps)
{
	struct config *cfg = ps->cfg;

	if (cfg->state_conninfo == NULL)
		perr(ps, ps->line,
		     "[state] conninfo is required: syncd's own database (quarantine, audit, documents)");
	if (cfg->tier_conninfo == NULL)
		perr(ps, ps->line, "[tier] conninfo is required: where the units' copies go");
	if (cfg->nsources == 0)
		perr(ps, ps->line,
		     "at least one [source NAME] section is required (a city database to copy from)");
	if (cfg->tier_conninfo != NULL && cfg->tier_schema != NULL &&
	    strstr(cfg->tier_conninfo, "{unit}") == NULL && strstr(cfg->tier_schema, "{unit}") == NULL)
		perr(ps, ps->line,
		     "[tier] neither conninfo nor schema contains {unit}: every unit would share one copy; use schema = u{unit}");
	if (cfg->tls_cert_file != NULL && cfg->tls_key_file == NULL)
		perr(ps, ps->line, "[syncd] tls_cert_file is set but tls_key_file is not");
	if (cfg->ldap_uri != NULL && cfg->ldap_base == NULL)
		perr(ps, ps->line, "[ldap] base is required with uri (e.g. base = dc=cantho,dc=gov,dc=vn)");
	if (cfg->ldap_bind_dn != NULL && cfg->ldap_bind_password_file == NULL)
		perr(ps, ps->line,
		     "[ldap] bind_dn is set but bind_password_file is not: put the service password in a file (chmod 600)");
}

struct config *config_load(const char *path, char **errors)
{
	struct parse_state ps;
	struct config *cfg = calloc(1, sizeof(*cfg));
	int r;

	memset(&ps, 0, sizeof(ps));
	*errors = NULL;
	if (cfg == NULL)
		return NULL;
	ps.cfg = cfg;
	ps.file = path;
	ps.cur_kind = -1;
	cfg->path = strdup(path);
	defaults_apply(cfg);
	ps.fp = fopen(path, "r");
	if (ps.fp == NULL) {
		if (buf_printf(&ps.errors, "%s: cannot open: %s\n", path, strerror(errno)) < 0)
			buf_free(&ps.errors);
		goto fail;
	}
	r = ini_parse_stream(counting_reader, &ps, handler, &ps);
	fclose(ps.fp);
	section_end(&ps);
	if (r > 0)
		perr(&ps, r, "syntax error: expected [section], key = value or a ; comment");
	else if (r < 0)
		perr(&ps, ps.line, "cannot parse the file (out of memory)");
	required_check(&ps);
	if (ps.errors.len > 0)
		goto fail;
	cfg->state_password = secret_load(&ps, cfg->state_password_file);
	cfg->tier_password = secret_load(&ps, cfg->tier_password_file);
	cfg->ldap_bind_password = secret_load(&ps, cfg->ldap_bind_password_file);
	for (size_t i = 0; i < cfg->nsources; i++)
		cfg->sources[i].password = secret_load(&ps, cfg->sources[i].password_file);
	return cfg;
fail:
	*errors = ps.errors.data;
	config_free(cfg);
	return NULL;
}

static void secret_free(char *s)
{
	if (s != NULL) {
		/* keep passwords out of freed heap memory */
		volatile char *p = s;
		while (*p)
			*p++ = '\0';
		free(s);
	}
}

/* Frees the strings of the keys of kind in base. */
static void fields_free(enum section_kind kind, void *base)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == kind && !key_is_long(&keys[i]))
			free(*(char **)(void *)((char *)base + keys[i].offset));
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!section_repeated(i))
			fields_free(i, cfg);
	for (size_t i = 0; i < cfg->nsources; i++) {
		fields_free(SEC_SOURCE, &cfg->sources[i]);
		free(cfg->sources[i].name);
		secret_free(cfg->sources[i].password);
	}
	free(cfg->sources);
	for (size_t i = 0; i < cfg->ntargets; i++) {
		fields_free(SEC_TARGET, &cfg->targets[i]);
		free(cfg->targets[i].name);
		free(cfg->targets[i].unit_codes);
	}
	free(cfg->targets);
	secret_free(cfg->state_password);
	secret_free(cfg->tier_password);
	secret_free(cfg->ldap_bind_password);
	free(cfg->path);
	free(cfg);
}

static void print_section(FILE *out, enum section_kind kind, const char *title, const void *base)
{
	fprintf(out, "[%s]\n", title);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		const char *ptr = (const char *)base + k->offset;

		if (k->section != kind)
			continue;
		/* a source shows its own kind's keys only */
		if (kind == SEC_SOURCE && strcmp(k->name, "kind") != 0 &&
		    source_key_pg(k->name) == (((const struct config_source *)base)->http != 0))
			continue;
		if (k->type == KEY_INT && k->def == NULL && *(const long *)(const void *)ptr == 0) {
			fprintf(out, "; %s is not set\n", k->name);
			continue;
		}
		if (k->type == KEY_INT) {
			fprintf(out, "%s = %ld%s\n", k->name, *(const long *)(const void *)ptr,
				k->reloadable ? " ; reloadable" : "");
			continue;
		}
		if (k->type == KEY_BOOL) {
			fprintf(out, "%s = %s%s\n", k->name,
				*(const long *)(const void *)ptr ? "true" : "false",
				k->reloadable ? " ; reloadable" : "");
			continue;
		}
		if (k->type == KEY_WORD_INDEX) {
			int len;
			const char *w = choice_word(k->choices, *(const long *)(const void *)ptr, &len);

			fprintf(out, "%s = %.*s%s\n", k->name, len, w, k->reloadable ? " ; reloadable" : "");
			continue;
		}
		if (*(char *const *)(const void *)ptr == NULL) {
			fprintf(out, "; %s is not set\n", k->name);
			continue;
		}
		if (k->type == KEY_SECRET_FILE)
			fprintf(out, "%s = %s ; secret: contents not shown\n", k->name,
				*(char *const *)(const void *)ptr);
		else
			fprintf(out, "%s = %s%s\n", k->name, *(char *const *)(const void *)ptr,
				k->reloadable ? " ; reloadable" : "");
	}
	fputc('\n', out);
}

void config_print(const struct config *cfg, FILE *out)
{
	fprintf(out, "; effective configuration of %s (defaults included)\n", cfg->path);
	print_section(out, SEC_SYNCD, "syncd", cfg);
	print_section(out, SEC_STATE, "state", cfg);
	for (size_t i = 0; i < cfg->nsources; i++) {
		char title[64];

		snprintf(title, sizeof(title), "source %s", cfg->sources[i].name);
		print_section(out, SEC_SOURCE, title, &cfg->sources[i]);
	}
	print_section(out, SEC_TIER, "tier", cfg);
	for (size_t i = 0; i < cfg->ntargets; i++) {
		char title[64];

		snprintf(title, sizeof(title), "target %s", cfg->targets[i].name);
		print_section(out, SEC_TARGET, title, &cfg->targets[i]);
	}
	print_section(out, SEC_LDAP, "ldap", cfg);
}

const struct config_source *config_source_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].name != NULL && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
}

const struct config_target *config_target_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntargets; i++)
		if (cfg->targets[i].name != NULL && strcmp(cfg->targets[i].name, name) == 0)
			return &cfg->targets[i];
	return NULL;
}

size_t config_unit_targets(const struct config *cfg, int unit, size_t *out, bool *instead)
{
	size_t n = 0;

	*instead = false;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		if (!target_has_unit(&cfg->targets[i], unit))
			continue;
		out[n++] = i;
		if (cfg->targets[i].instead)
			*instead = true;
	}
	return n;
}

char *config_expand_unit(const char *tmpl, int unit)
{
	struct buf b = {0};
	const char *p = tmpl, *hit;

	while ((hit = strstr(p, "{unit}")) != NULL) {
		if (buf_append(&b, p, (size_t)(hit - p)) < 0 || buf_printf(&b, "%05d", unit) < 0)
			goto oom;
		p = hit + 6;
	}
	if (buf_puts(&b, p) < 0)
		goto oom;
	return b.data;
oom:
	buf_free(&b);
	return NULL;
}

bool config_key_reloadable(const char *section_kind, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(section_names[keys[i].section], section_kind) == 0 &&
		    strcmp(keys[i].name, key) == 0)
			return keys[i].reloadable;
	return false;
}

static bool field_same(const struct key_def *k, const void *a, const void *b)
{
	const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

	if (key_is_long(k))
		return *(const long *)(const void *)pa == *(const long *)(const void *)pb;
	{
		const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;

		return (sa == NULL && sb == NULL) || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
	}
}

/* The fixed changes found so far, "a, b, c" in out. */
struct changes {
	char *out;
	size_t outlen, len;
	int count;
};

static void note(struct changes *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct changes *c, const char *fmt, ...)
{
	va_list ap;

	if (c->count++ > 0 && c->len < c->outlen)
		c->len += (size_t)snprintf(c->out + c->len, c->outlen - c->len, ", ");
	if (c->len < c->outlen) {
		va_start(ap, fmt);
		c->len += (size_t)vsnprintf(c->out + c->len, c->outlen - c->len, fmt, ap);
		va_end(ap);
	}
}

/* One [source NAME] or [target NAME] of the old file against the section
 * at the same place in the new one. */
static void instance_changes(struct changes *c, enum section_kind kind, const char *oname, const char *nname,
			     const void *o, const void *n)
{
	if (strcmp(oname, nname) != 0) {
		note(c, "[%s %s] renamed", section_names[kind], oname);
		return;
	}
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].section == kind && !keys[i].reloadable && !field_same(&keys[i], o, n))
			note(c, "[%s %s] %s", section_names[kind], oname, keys[i].name);
}

int config_fixed_changes(const struct config *old, const struct config *new, char *out, size_t outlen)
{
	struct changes c = {out, outlen, 0, 0};

	out[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];

		if (section_repeated(k->section) || k->reloadable || field_same(k, old, new))
			continue;
		note(&c, "[%s] %s", section_names[k->section], k->name);
	}
	if (old->nsources != new->nsources)
		note(&c, "[source] sections added or removed");
	for (size_t s = 0; s < old->nsources && s < new->nsources; s++)
		instance_changes(&c, SEC_SOURCE, old->sources[s].name, new->sources[s].name, &old->sources[s],
				 &new->sources[s]);
	/* a target's sender is started with its settings: any change restarts */
	if (old->ntargets != new->ntargets)
		note(&c, "[target] sections added or removed");
	for (size_t t = 0; t < old->ntargets && t < new->ntargets; t++)
		instance_changes(&c, SEC_TARGET, old->targets[t].name, new->targets[t].name, &old->targets[t],
				 &new->targets[t]);
	return c.count;
}
