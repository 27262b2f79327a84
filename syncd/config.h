/* config.h — syncd.conf: INI parsed with libinih, described by one key
 * table (type, default, reloadable, secret) that also prints the effective
 * configuration.  Errors are "file:line: message". */
#ifndef SYNCD_CONFIG_H
#define SYNCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* [source NAME]: a PostgreSQL database streamed through its slot (kind =
 * postgresql), or a paged JSON API pulled on an interval (kind = http,
 * syncd/sync/pull.c). */
struct config_source {
	char *name;
	long http;	/* kind = http (1) | postgresql (0) */
	char *conninfo; /* postgresql: required; http: refused */
	char *password_file;
	char *password; /* read from password_file; never printed */
	int line;	/* of the section header, for messages */
	/* kind = http */
	char *url;	       /* https://..., or http:// to loopback (tests) */
	long interval;	       /* seconds between rounds */
	char *cursor_param;    /* query parameter carrying the cursor */
	char *next_field;      /* page field holding the next-page token; NULL: max of cursor_field */
	char *cursor_field;    /* record field whose max over a page is the next cursor */
	char *records_field;   /* page field holding the array of records */
	long page_size;	       /* 0: not sent */
	char *page_size_param; /* query parameter carrying page_size */
	long timeout;	       /* seconds per request */
	char *ca_file;	       /* NULL: the system's CAs */
	char *auth;	       /* "none" | "bearer" */
	char *token_file;      /* auth = bearer: read on every request */
};

/* [target NAME] kind = http: an HTTP destination for some or all units
 * (issue 13).  Secrets are files read when sent, never held here. */
struct config_target {
	char *name;
	int line;	 /* of the section header, for messages */
	char *kind;	 /* "http" (the only kind) */
	char *units;	 /* as written: "*" or "92001, 92002" */
	int *unit_codes; /* parsed units (NULL with all_units); main checks them against routing.json */
	size_t nunit_codes;
	bool all_units;
	long instead; /* mode = instead (1) | also (0): beside [tier] or replacing it */
	char *url;    /* https://... ; may contain {unit} */
	char *format; /* "json" | "cloudevents" */
	char *tables; /* comma-separated "schema.table" list as written; NULL: all */
	char *ca_file;
	char *client_cert_file;
	char *client_key_file;
	char *auth;		  /* "none" | "bearer" | "oauth2" | "hmac" */
	char *token_file;	  /* auth = bearer */
	char *token_url;	  /* auth = oauth2 */
	char *client_id;	  /* auth = oauth2 */
	char *client_secret_file; /* auth = oauth2 */
	char *scope;		  /* auth = oauth2, optional */
	char *hmac_secret_file;	  /* auth = hmac (Standard Webhooks, "whsec_..." or raw) */
	long batch_rows;	  /* changes per request at most */
	long batch_bytes;	  /* body bytes per request at most (a single bigger change goes alone) */
	long timeout;		  /* seconds per request */
	long retry_deadline;	  /* seconds a batch may keep failing with retryable errors */
	long max_in_flight_units; /* units sent to at once (one batch in flight per unit) */
	long rate_limit;	  /* requests per second for the whole target; 0: none */
	long gzip;		  /* Content-Encoding: gzip */
};

struct config {
	char *path;
	/* [syncd] */
	char *listen;
	char *tls_cert_file;
	char *tls_key_file;
	char *trusted_proxies; /* addresses whose X-Forwarded-For is believed */
	long api_threads;
	long api_max_connections;	 /* open connections in all */
	long api_max_connections_per_ip; /* per client address; 0: no limit (behind a proxy) */
	long api_idle_timeout;		 /* seconds a connection may stay silent */
	char *signing_key_file;		 /* Ed25519 PEM: documents and audit checkpoints */
	char *audit_checkpoint_file;	 /* signed checkpoints, one JSON line each */
	long audit_checkpoint_every;
	char *policies_dir;
	char *log_level;
	long copy_buffer_kb;	 /* per-unit buffer before a COPY chunk is sent */
	long unit_backlog_limit; /* MB of source WAL kept for a unit database that is down, then it is
				    detached */
	char *public_url;	 /* base of verification links and QR codes; NULL: http://<listen> */
	long session_idle;	 /* seconds a browser session may stay unused */
	long session_max;	 /* seconds a browser session lasts at most */
	char *cluster;		 /* the instances electing one active one share this name */
	long lease;		 /* seconds the active instance's lease lasts without a renewal */
	/* [state] */
	char *state_conninfo;
	char *state_password_file;
	char *state_password;
	/* [source NAME] */
	struct config_source *sources;
	size_t nsources;
	/* [tier] */
	char *tier_conninfo;
	char *tier_password_file;
	char *tier_password;
	char *tier_schema;
	/* [target NAME] */
	struct config_target *targets;
	size_t ntargets;
	/* [ldap] */
	char *ldap_uri;
	char *ldap_base;
	char *ldap_bind_dn;
	char *ldap_bind_password_file;
	char *ldap_bind_password;
	long ldap_cache_ttl;
	long ldap_starttls;
	char *ldap_tls_ca_file;
	long ldap_timeout;
};

/* Parses and validates path.  Returns a new config (config_free) or NULL;
 * every problem found is appended to errors, one "file:line: message" per
 * line (caller frees *errors). */
struct config *config_load(const char *path, char **errors);
void config_free(struct config *cfg);

/* Writes the effective configuration, defaults included, secrets redacted. */
void config_print(const struct config *cfg, FILE *out);

/* The source with that name, or NULL. */
const struct config_source *config_source_find(const struct config *cfg, const char *name);

/* The target with that name, or NULL. */
const struct config_target *config_target_find(const struct config *cfg, const char *name);

/* The targets unit goes to, in file order: out[] (room for cfg->ntargets)
 * gets their indexes into cfg->targets; returns how many.  *instead is set
 * to true when one of them has mode = instead (then [tier] does not get the
 * unit), else to false. */
size_t config_unit_targets(const struct config *cfg, int unit, size_t *out, bool *instead);

/* Replaces every "{unit}" in tmpl by the 5-digit code.  New string. */
char *config_expand_unit(const char *tmpl, int unit);

/* The keys a reload may not change that differ between old and new, as
 * "[section] key, ..." in out; returns how many (0: the reload may go on). */
int config_fixed_changes(const struct config *old, const struct config *new, char *out, size_t outlen);

/* True when a reload may change that key of that section kind. */
bool config_key_reloadable(const char *section_kind, const char *key);

#endif
