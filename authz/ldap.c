/* ldap.c — LDAP client with per-thread handles. */
#include "authz/ldap.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ldap_pool {
	char *uri, *bind_dn, *password, *ca_file;
	bool starttls;
	int timeout_s;
	pthread_key_t key; /* this thread's LDAP * */
	atomic_ulong trips;
};

static void handle_drop(void *h)
{
	if (h != NULL)
		ldap_unbind_ext_s(h, NULL, NULL);
}

bool lpool_host_loopback(const char *host)
{
	struct in_addr a4;

	/* no host: libldap's default, the local server */
	if (host == NULL || host[0] == '\0')
		return true;
	/* a literal address only: 127.evil.example is a name anyone may register */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0 || strcasecmp(host, "localhost") == 0;
}

struct ldap_pool *lpool_new(const struct ldap_conf *conf, char *err, size_t errlen)
{
	LDAPURLDesc *url = NULL;
	struct ldap_pool *p;

	if (conf->uri == NULL || ldap_url_parse(conf->uri, &url) != LDAP_URL_SUCCESS) {
		snprintf(err, errlen, "[ldap] uri = %s: not an LDAP URL (ldap://, ldaps:// or ldapi://)",
			 conf->uri ? conf->uri : "(unset)");
		return NULL;
	}
	if (strcasecmp(url->lud_scheme, "ldap") == 0 && !conf->starttls &&
	    !lpool_host_loopback(url->lud_host)) {
		snprintf(
			err, errlen,
			"[ldap] uri = %s: cleartext LDAP to %s would send passwords in clear; use ldaps:// or set "
			"starttls = true",
			conf->uri, url->lud_host);
		ldap_free_urldesc(url);
		return NULL;
	}
	ldap_free_urldesc(url);
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->uri = strdup(conf->uri)) == NULL ||
	    (conf->bind_dn && (p->bind_dn = strdup(conf->bind_dn)) == NULL) ||
	    (conf->password && (p->password = strdup(conf->password)) == NULL) ||
	    (conf->ca_file && (p->ca_file = strdup(conf->ca_file)) == NULL) ||
	    pthread_key_create(&p->key, handle_drop) != 0) {
		snprintf(err, errlen, "out of memory");
		if (p != NULL) {
			free(p->uri);
			free(p->bind_dn);
			free(p->password);
			free(p->ca_file);
		}
		free(p);
		return NULL;
	}
	p->starttls = conf->starttls;
	p->timeout_s = conf->timeout_s > 0 ? conf->timeout_s : 5;
	return p;
}

void lpool_free(struct ldap_pool *p)
{
	if (p == NULL)
		return;
	handle_drop(pthread_getspecific(p->key));
	pthread_setspecific(p->key, NULL);
	pthread_key_delete(p->key);
	free(p->uri);
	free(p->bind_dn);
	if (p->password != NULL)
		explicit_bzero(p->password, strlen(p->password));
	free(p->password);
	free(p->ca_file);
	free(p);
}

unsigned long lpool_round_trips(const struct ldap_pool *p)
{
	return atomic_load(&p->trips);
}

static int unavailable(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
	       rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

static int fail(int rc, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, ldap_err2string(rc));
	return unavailable(rc) ? LP_UNAVAILABLE : LP_ERROR;
}

/* A connected handle with timeouts and TLS set; not bound. */
static int connect_new(struct ldap_pool *p, LDAP **out, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = p->timeout_s};
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
	LDAP *ld = NULL;

	*out = NULL;
	rc = ldap_initialize(&ld, p->uri);
	if (rc != LDAP_SUCCESS)
		return fail(rc, p->uri, err, errlen);
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    (p->ca_file != NULL &&
	     ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p->ca_file) != LDAP_OPT_SUCCESS) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		snprintf(err, errlen, "%s: cannot set the connection options (timeouts, TLS)", p->uri);
		return LP_ERROR;
	}
	if (p->starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return fail(rc, "StartTLS", err, errlen);
	}
	*out = ld;
	return 0;
}

/* This thread's service handle, connected and bound. */
static int handle_get(struct ldap_pool *p, LDAP **out, char *err, size_t errlen)
{
	LDAP *ld = pthread_getspecific(p->key);
	struct berval cred = {0};
	int rc;

	if (ld != NULL) {
		*out = ld;
		return 0;
	}
	rc = connect_new(p, &ld, err, errlen);
	if (rc != 0)
		return rc;
	atomic_fetch_add(&p->trips, 1);
	if (p->bind_dn != NULL) {
		cred.bv_val = p->password;
		cred.bv_len = p->password ? strlen(p->password) : 0;
		rc = ldap_sasl_bind_s(ld, p->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	} else if (strncasecmp(p->uri, "ldapi://", 8) == 0) {
		rc = ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &cred, NULL, NULL, NULL);
	} else {
		rc = LDAP_SUCCESS; /* anonymous */
	}
	if (rc != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return fail(rc, p->bind_dn ? "bind as [ldap] bind_dn" : "SASL EXTERNAL bind", err, errlen);
	}
	pthread_setspecific(p->key, ld);
	*out = ld;
	return 0;
}

static void handle_reset(struct ldap_pool *p)
{
	handle_drop(pthread_getspecific(p->key));
	pthread_setspecific(p->key, NULL);
}

static int search_once(struct ldap_pool *p, LDAP *ld, const char *base, int scope, const char *filter,
		       char **attrs, int page_size, lpool_entry_fn fn, void *arg, char *err, size_t errlen)
{
	struct berval *cookie = NULL;
	int r = 0;

	do {
		LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL}, **rctrls = NULL;
		LDAPMessage *res = NULL;
		int rc, code = 0;

		if (page_size > 0) {
			rc = ldap_create_page_control(ld, page_size, cookie, 0, &page);
			if (rc != LDAP_SUCCESS) {
				r = fail(rc, "paged results control", err, errlen);
				break;
			}
			ctrls[0] = page;
		}
		atomic_fetch_add(&p->trips, 1);
		rc = ldap_search_ext_s(ld, base, scope, filter, attrs, 0, page_size > 0 ? ctrls : NULL, NULL,
				       NULL, LDAP_NO_LIMIT, &res);
		if (page != NULL)
			ldap_control_free(page);
		if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT && res == NULL) {
			r = fail(rc, "search", err, errlen);
			break;
		}
		for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL && r == 0;
		     e = ldap_next_entry(ld, e))
			if (fn(ld, e, arg) < 0) {
				snprintf(err, errlen, "search of %s: out of memory or too many entries",
					 base);
				r = LP_ERROR;
			}
		rc = ldap_parse_result(ld, res, &code, NULL, NULL, NULL, &rctrls, 0);
		ldap_msgfree(res);
		if (cookie != NULL) {
			ber_bvfree(cookie);
			cookie = NULL;
		}
		if (r == 0 && rc == LDAP_SUCCESS && code != LDAP_SUCCESS && code != LDAP_NO_SUCH_OBJECT)
			r = fail(code, "search", err, errlen);
		if (r == 0 && rc != LDAP_SUCCESS)
			r = fail(rc, "search result", err, errlen);
		if (r == 0 && page_size > 0 && rctrls != NULL) {
			LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
			ber_int_t count;
			struct berval c = {0};

			if (pr != NULL &&
			    ldap_parse_pageresponse_control(ld, pr, &count, &c) == LDAP_SUCCESS) {
				if (c.bv_len > 0)
					cookie = ber_bvdup(&c);
				ber_memfree(c.bv_val);
			}
		}
		ldap_controls_free(rctrls);
	} while (r == 0 && cookie != NULL);
	if (cookie != NULL)
		ber_bvfree(cookie);
	return r;
}

int lpool_search(struct ldap_pool *p, const char *base, int scope, const char *filter, char **attrs,
		 int page_size, lpool_entry_fn fn, void *arg, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		LDAP *ld;
		int r = handle_get(p, &ld, err, errlen);

		if (r == 0)
			r = search_once(p, ld, base, scope, filter, attrs, page_size, fn, arg, err, errlen);
		if (r != LP_UNAVAILABLE)
			return r;
		handle_reset(p); /* server restarted? one fresh connection */
		if (attempt == 1)
			return r;
	}
}

static int probe_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	(void)ld;
	(void)e;
	(void)arg;
	return 0;
}

int lpool_probe(struct ldap_pool *p, char *err, size_t errlen)
{
	static char *attrs[] = {"1.1", NULL};

	return lpool_search(p, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, probe_entry, NULL, err,
			    errlen);
}

static int write_op(struct ldap_pool *p, bool add, const char *dn, LDAPMod **mods, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		LDAP *ld;
		int r = handle_get(p, &ld, err, errlen), rc;

		if (r == 0) {
			atomic_fetch_add(&p->trips, 1);
			rc = add ? ldap_add_ext_s(ld, dn, mods, NULL, NULL)
				 : ldap_modify_ext_s(ld, dn, mods, NULL, NULL);
			r = rc == LDAP_SUCCESS ? 0 : fail(rc, add ? "add" : "modify", err, errlen);
		}
		if (r != LP_UNAVAILABLE)
			return r;
		handle_reset(p);
		if (attempt == 1)
			return r;
	}
}

int lpool_add(struct ldap_pool *p, const char *dn, LDAPMod **mods, char *err, size_t errlen)
{
	return write_op(p, true, dn, mods, err, errlen);
}

int lpool_modify(struct ldap_pool *p, const char *dn, LDAPMod **mods, char *err, size_t errlen)
{
	return write_op(p, false, dn, mods, err, errlen);
}

int lpool_user_bind(struct ldap_pool *p, const char *dn, const char *password, char *err, size_t errlen)
{
	struct berval cred;
	LDAP *ld;
	int r, rc;

	if (password == NULL || password[0] == '\0') {
		snprintf(err, errlen, "empty password (LDAP would treat it as an anonymous bind)");
		return 0;
	}
	r = connect_new(p, &ld, err, errlen);
	if (r != 0)
		return r;
	cred.bv_val = (char *)password;
	cred.bv_len = strlen(password);
	atomic_fetch_add(&p->trips, 1);
	rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	ldap_unbind_ext_s(ld, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return 1;
	if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH ||
	    rc == LDAP_UNWILLING_TO_PERFORM) {
		snprintf(err, errlen, "%s", ldap_err2string(rc));
		return 0;
	}
	return fail(rc, "user bind", err, errlen);
}

char *lpool_filter_escape(const char *value)
{
	struct berval in, out = {0};
	char *s;

	in.bv_val = (char *)value;
	in.bv_len = strlen(value);
	if (ldap_bv2escaped_filter_value(&in, &out) != 0)
		return NULL;
	s = strdup(out.bv_val != NULL ? out.bv_val : ""); /* "" escapes to no buffer at all */
	ber_memfree(out.bv_val);
	return s;
}

int lpool_attr(LDAP *ld, LDAPMessage *entry, const char *attr, char *out, size_t outlen)
{
	struct berval **v = ldap_get_values_len(ld, entry, attr);

	out[0] = '\0';
	if (v == NULL || v[0] == NULL) {
		ldap_value_free_len(v);
		return -1;
	}
	snprintf(out, outlen, "%.*s", (int)v[0]->bv_len, v[0]->bv_val);
	ldap_value_free_len(v);
	return 0;
}
