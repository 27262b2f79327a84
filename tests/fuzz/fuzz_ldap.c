/* fuzz_ldap.c — libFuzzer target for what authz does to strings on their
 * way to and from the directory: the RFC 4515 filter escaping
 * (lpool_filter_escape, authz/ldap.c), the uid read from a DN
 * (authz_dn_uid), the uid normalization (authz_uid_normalize) and the
 * loopback test of an ldap:// host (lpool_host_loopback).
 *
 * The input is a value (up to its first NUL).  Checked: the escaped filter
 * value holds no '(', ')', '*' or NUL, each '\' starts a two-hex-digit
 * escape, and unescaping gives the value back; a DN built by libldap from
 * uid=VALUE gives VALUE back through authz_dn_uid (when it fits), and the
 * input itself parsed as a DN never overruns; a normalized uid has no
 * upper case, no leading, trailing or doubled space, normalizing it again
 * changes nothing, and a smaller buffer gets the same cut short; a host
 * called loopback is one of the forms the header lists. */
#include <arpa/inet.h>
#include <ctype.h>
#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz/authz.h"
#include "authz/ldap.h"
#include "common/hex.h"
#include "tests/fuzz/fuzz_util.h"

static void filter_check(const char *v)
{
	char *esc = lpool_filter_escape(v), *back;
	size_t n = 0;

	if (esc == NULL)
		abort();
	back = fuzz_str(esc, strlen(esc));
	for (const char *p = esc; *p; p++) {
		if (*p == '(' || *p == ')' || *p == '*')
			abort(); /* would end or widen the filter */
		if (*p == '\\') {
			int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);

			if (hi < 0 || lo < 0)
				abort();
			back[n++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			back[n++] = *p;
		}
	}
	if (n != strlen(v) || memcmp(back, v, n) != 0)
		abort();
	free(back);
	free(esc);
}

static void dn_check(const char *v)
{
	char uid[128], *dn = NULL;
	LDAPAVA ava = {0}, *rdn0[2] = {&ava, NULL}, ou = {0}, *rdn1[2] = {&ou, NULL};
	LDAPRDN rdns[3] = {rdn0, rdn1, NULL};

	authz_dn_uid(v, uid, sizeof(uid));
	if (strlen(uid) >= sizeof(uid))
		abort();
	ava.la_attr.bv_val = (char *)"uid";
	ava.la_attr.bv_len = 3;
	ava.la_value.bv_val = (char *)v;
	ava.la_value.bv_len = strlen(v);
	ava.la_flags = LDAP_AVA_STRING;
	ou.la_attr.bv_val = (char *)"ou";
	ou.la_attr.bv_len = 2;
	ou.la_value.bv_val = (char *)"people";
	ou.la_value.bv_len = 6;
	ou.la_flags = LDAP_AVA_STRING;
	if (v[0] == '\0' || ldap_dn2str(rdns, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || dn == NULL)
		return;
	authz_dn_uid(dn, uid, sizeof(uid));
	if (strlen(v) < sizeof(uid) && strcmp(uid, v) != 0)
		abort();
	ldap_memfree(dn);
}

static void uid_check(const char *v)
{
	size_t len = strlen(v) + 1, n;
	char *full = malloc(len), *again = malloc(len), small[64];

	if (full == NULL || again == NULL)
		abort();
	authz_uid_normalize(v, full, len);
	n = strlen(full);
	if ((n > 0 && (full[0] == ' ' || full[n - 1] == ' ')) || strstr(full, "  "))
		abort();
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)full[i]))
			abort();
	authz_uid_normalize(full, again, len);
	if (strcmp(full, again) != 0)
		abort();
	/* a smaller buffer holds the same, cut short */
	authz_uid_normalize(v, small, sizeof(small));
	if (strlen(small) >= sizeof(small) || strncmp(small, full, strlen(small)) != 0 ||
	    (n < sizeof(small) && strcmp(small, full) != 0))
		abort();
	free(full);
	free(again);
}

static void host_check(const char *v)
{
	struct in_addr a4;

	if (!lpool_host_loopback(v))
		return;
	if (v[0] == '\0' || strcmp(v, "::1") == 0 || strcmp(v, "[::1]") == 0 ||
	    strcasecmp(v, "localhost") == 0)
		return;
	if (inet_pton(AF_INET, v, &a4) != 1 || (ntohl(a4.s_addr) >> 24) != 127)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = fuzz_str(data, size);

	filter_check(v);
	dn_check(v);
	uid_check(v);
	host_check(v);
	free(v);
	return 0;
}
