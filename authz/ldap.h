/* ldap.h — the LDAP client: one handle per thread (never shared), timeouts
 * always set, TLS verified, simple bind or SASL EXTERNAL over ldapi://,
 * paged searches (RFC 2696), reconnect after a server restart, and a user
 * bind on a handle of its own for authentication. */
#ifndef SYNCD_AUTHZ_LDAP_H
#define SYNCD_AUTHZ_LDAP_H

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>

struct ldap_conf {
	const char *uri;
	const char *bind_dn; /* NULL: SASL EXTERNAL (ldapi://) or anonymous */
	const char *password;
	const char *ca_file; /* NULL: the system's CAs */
	bool starttls;
	int timeout_s;
};

/* Results: 0 done, LP_UNAVAILABLE the directory could not be reached (or
 * timed out), LP_ERROR anything else (err says what). */
#define LP_ERROR       (-1)
#define LP_UNAVAILABLE (-2)

struct ldap_pool;

/* Checks the URI (cleartext ldap:// to a non-loopback host is refused) and
 * copies conf; connects lazily, per thread. */
struct ldap_pool *lpool_new(const struct ldap_conf *conf, char *err, size_t errlen);
void lpool_free(struct ldap_pool *p);

/* Called once per entry; a negative return stops the search with LP_ERROR. */
typedef int (*lpool_entry_fn)(LDAP *ld, LDAPMessage *entry, void *arg);

/* Subtree/one-level/base search, paged by page_size (0: not paged);
 * retried once on a fresh connection if the server went away. */
int lpool_search(struct ldap_pool *p, const char *base, int scope, const char *filter, char **attrs,
		 int page_size, lpool_entry_fn fn, void *arg, char *err, size_t errlen);
int lpool_add(struct ldap_pool *p, const char *dn, LDAPMod **mods, char *err, size_t errlen);
int lpool_modify(struct ldap_pool *p, const char *dn, LDAPMod **mods, char *err, size_t errlen);

/* Binds as dn with password on a new connection (never a pooled one):
 * 1 accepted, 0 refused (bad credentials), LP_UNAVAILABLE, LP_ERROR.
 * An empty password is refused here: to LDAP it is an anonymous bind. */
int lpool_user_bind(struct ldap_pool *p, const char *dn, const char *password, char *err, size_t errlen);

/* Is the directory there?  One base search of the root DSE: 0 or LP_*. */
int lpool_probe(struct ldap_pool *p, char *err, size_t errlen);

/* Round trips to the server since start (searches, writes, binds). */
unsigned long lpool_round_trips(const struct ldap_pool *p);

/* RFC 4515 escaping of a filter value (ldap_bv2escaped_filter_value).
 * New string, or NULL when out of memory. */
char *lpool_filter_escape(const char *value);

/* First value of attr in entry, copied into out (""): 0, or -1 if absent. */
int lpool_attr(LDAP *ld, LDAPMessage *entry, const char *attr, char *out, size_t outlen);

/* True when host is the loopback: a literal IPv4 address in 127.0.0.0/8,
 * ::1 (bracketed or not), localhost, or no host (libldap's default). */
bool lpool_host_loopback(const char *host);

#endif
