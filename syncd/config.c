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
};

enum section_kind {
	SEC_SYNCD,
	SEC_STATE,
	SEC_SOURCE, /* [source NAME], repeated */
	SEC_TIER,
	SEC_LDAP,
};

static const char *const section_names[] = {"syncd", "state", "source", "tier", "ldap"};

/* The one description of syncd.conf: parsing, defaults, reload and
 * --print-config all read this table. */
struct key_def {
	enum section_kind section;
	const char *name;
	enum key_type type;
	const char *def; /* NULL: no default */
	bool reloadable;
	bool required;
	size_t offset;	     /* into struct config, or struct config_source for SEC_SOURCE */
	long min, max;	     /* KEY_INT */
	const char *choices; /* KEY_WORD, KEY_WORD_INDEX: "also|instead" */
};

#define C(field) offsetof(struct config, field)
#define S(field) offsetof(struct config_source, field)

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
	{SEC_STATE, "conninfo", KEY_CONNINFO, NULL, false, true, C(state_conninfo), 0, 0, NULL},
	{SEC_STATE, "password_file", KEY_SECRET_FILE, NULL, false, false, C(state_password_file), 0, 0, NULL},
	{SEC_SOURCE, "conninfo", KEY_CONNINFO, NULL, false, true, S(conninfo), 0, 0, NULL},
	{SEC_SOURCE, "password_file", KEY_SECRET_FILE, NULL, false, false, S(password_file), 0, 0, NULL},
	{SEC_TIER, "conninfo", KEY_CONNINFO, NULL, false, true, C(tier_conninfo), 0, 0, NULL},
	{SEC_TIER, "password_file", KEY_SECRET_FILE, NULL, false, false, C(tier_password_file), 0, 0, NULL},
	{SEC_TIER, "schema", KEY_STRING, "u{unit}", false, false, C(tier_schema), 0, 0, NULL},
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
	char cur_section[256];
	int cur_kind; /* -1: unknown section */
	struct config_source *cur_source;
	bool seen_single[5];
	/* line of each key seen, per section instance, for duplicates/required */
	int seen_line[NKEYS];
};

static void perr(struct parse_state *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parse_state *ps, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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

/* The struct the keys of k's section are fields of, in this section. */
static void *field_base(struct parse_state *ps, const struct key_def *k)
{
	return k->section == SEC_SOURCE ? (void *)ps->cur_source : (void *)ps->cfg;
}

static int section_start(struct parse_state *ps, const char *section)
{
	const char *sp = strchr(section, ' ');
	size_t kindlen = sp ? (size_t)(sp - section) : strlen(section);

	snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
	ps->cur_kind = -1;
	ps->cur_source = NULL;
	for (int i = 0; i < (int)(sizeof(section_names) / sizeof(section_names[0])); i++)
		if (strlen(section_names[i]) == kindlen && strncmp(section, section_names[i], kindlen) == 0)
			ps->cur_kind = i;
	if (ps->cur_kind < 0) {
		perr(ps, ps->line,
		     "unknown section [%s] (known: [syncd], [state], [source NAME], [tier], [ldap])",
		     section);
		return 0;
	}
	for (size_t i = 0; i < NKEYS; i++)
		if ((int)keys[i].section == ps->cur_kind)
			ps->seen_line[i] = 0;
	if (ps->cur_kind == SEC_SOURCE) {
		const char *name = sp ? sp + 1 : "";
		struct config_source *s;

		while (*name == ' ')
			name++;
		if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name) ||
		    strlen(name) > 40) {
			perr(ps, ps->line,
			     "[source %s]: a source needs a name of lower-case letters, digits and _ (it names the slot syncd_NAME), e.g. [source land]",
			     name);
			ps->cur_kind = -1;
			return 0;
		}
		if (config_source_find(ps->cfg, name) != NULL) {
			perr(ps, ps->line, "[source %s] is defined twice", name);
			ps->cur_kind = -1;
			return 0;
		}
		s = realloc(ps->cfg->sources, (ps->cfg->nsources + 1) * sizeof(*s));
		if (s == NULL)
			return -1;
		ps->cfg->sources = s;
		s = &s[ps->cfg->nsources++];
		memset(s, 0, sizeof(*s));
		s->name = strdup(name);
		s->line = ps->line;
		ps->cur_source = s;
	} else {
		if (sp != NULL) {
			perr(ps, ps->line, "section [%s] takes no name; write [%.*s]", section, (int)kindlen,
			     section);
			ps->cur_kind = -1;
			return 0;
		}
		if (ps->seen_single[ps->cur_kind]) {
			perr(ps, ps->line, "section [%s] appears twice; merge them", section);
			ps->cur_kind = -1;
			return 0;
		}
		ps->seen_single[ps->cur_kind] = true;
	}
	return 0;
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
		while (k->type == KEY_URL && *field != NULL && (*field)[strlen(*field) - 1] == '/')
			(*field)[strlen(*field) - 1] = '\0';
	}
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
		if (keys[i].section != SEC_SOURCE && keys[i].def != NULL)
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
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].conninfo == NULL)
			perr(ps, cfg->sources[i].line, "[source %s] conninfo is required",
			     cfg->sources[i].name);
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

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].section == SEC_SOURCE || key_is_long(&keys[i]))
			continue;
		free(*(char **)(void *)((char *)cfg + keys[i].offset));
	}
	for (size_t i = 0; i < cfg->nsources; i++) {
		free(cfg->sources[i].name);
		free(cfg->sources[i].conninfo);
		free(cfg->sources[i].password_file);
		secret_free(cfg->sources[i].password);
	}
	free(cfg->sources);
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
	print_section(out, SEC_LDAP, "ldap", cfg);
}

const struct config_source *config_source_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].name != NULL && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
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

int config_fixed_changes(const struct config *old, const struct config *new, char *out, size_t outlen)
{
	size_t n = 0;
	int changed = 0;

	out[0] = '\0';
#define NOTE(...)                                                                                            \
	do {                                                                                                 \
		if (n < outlen)                                                                              \
			n += (size_t)snprintf(out + n, outlen - n, __VA_ARGS__);                             \
		changed++;                                                                                   \
	} while (0)
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];

		if (k->section == SEC_SOURCE || k->reloadable || field_same(k, old, new))
			continue;
		NOTE("%s[%s] %s", changed ? ", " : "", section_names[k->section], k->name);
	}
	if (old->nsources != new->nsources)
		NOTE("%s[source] sections added or removed", changed ? ", " : "");
	for (size_t s = 0; s < old->nsources && s < new->nsources; s++) {
		if (strcmp(old->sources[s].name, new->sources[s].name) != 0) {
			NOTE("%s[source %s] renamed", changed ? ", " : "", old->sources[s].name);
			continue;
		}
		for (size_t i = 0; i < NKEYS; i++)
			if (keys[i].section == SEC_SOURCE && !keys[i].reloadable &&
			    !field_same(&keys[i], &old->sources[s], &new->sources[s]))
				NOTE("%s[source %s] %s", changed ? ", " : "", old->sources[s].name,
				     keys[i].name);
	}
#undef NOTE
	return changed;
}
