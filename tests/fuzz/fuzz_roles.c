/* fuzz_roles.c — libFuzzer target for authz/roles.c, policies/roles.json.
 *
 * The input is the file's text (roles_parse, as roles_load reads it).  A
 * refusal must name the file.  What is accepted must keep the promises the
 * rest of authz relies on: each role found by its name; names of 1-63 of
 * a-z, 0-9, '_' and '.'; every permission among the actions; may_grant
 * names unit roles only; a unit role's max_days 1-3660 and max_delegate
 * 0-8; 1-4 signer title lines; and a city role's group, put into the DN
 * authz builds for it (cn=GROUP,ou=roles,BASE), reads back from that DN as
 * one RDN cn=GROUP: no group can inject into the DN or the filter. */
#include <ldap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/roles.h"
#include "tests/fuzz/fuzz_util.h"

static void name_check(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
		abort();
}

static void group_dn_check(const char *group)
{
	char dn[512];
	LDAPDN parsed = NULL;

	name_check(group);
	snprintf(dn, sizeof(dn), "cn=%s,ou=roles,dc=cantho,dc=gov,dc=vn", group);
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || parsed == NULL)
		abort();
	for (int i = 0; i < 5; i++)
		if (parsed[i] == NULL || parsed[i][0] == NULL || parsed[i][1] != NULL)
			abort(); /* five RDNs, each one attribute */
	if (parsed[5] != NULL || parsed[0][0]->la_value.bv_len != strlen(group) ||
	    memcmp(parsed[0][0]->la_value.bv_val, group, strlen(group)) != 0)
		abort();
	ldap_dnfree(parsed);
}

static void role_check(const struct roles *r, const struct role *ro)
{
	name_check(ro->name);
	if (roles_find(r, ro->name) != ro)
		abort();
	for (size_t j = 0; j < ro->nperms; j++)
		if (!roles_action_known(r, ro->perms[j]) || !role_has_perm(ro, ro->perms[j]))
			abort();
	for (size_t j = 0; j < ro->nmay_grant; j++) {
		const struct role *g = roles_find(r, ro->may_grant[j]);

		if (g == NULL || g->scope != ROLE_UNIT || !role_may_grant(ro, g->name))
			abort();
	}
	if (ro->nsigner_title > 4)
		abort();
	for (size_t j = 0; j < ro->nsigner_title; j++)
		if (ro->signer_title[j][0] == '\0' || strlen(ro->signer_title[j]) > 80)
			abort();
	if (ro->scope == ROLE_CITY)
		group_dn_check(ro->group);
	else if (ro->max_days < 1 || ro->max_days > 3660 || ro->max_delegate < 0 || ro->max_delegate > 8)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), err[1024];
	struct roles *r;

	err[0] = '\0';
	r = roles_parse(text, "roles.json", err, sizeof(err));
	if (r == NULL) {
		if (strncmp(err, "roles.json", 10) != 0 && strcmp(err, "out of memory") != 0)
			abort(); /* a refusal names the file */
	} else {
		if (r->n == 0)
			abort();
		for (size_t i = 0; i < r->n; i++)
			role_check(r, &r->v[i]);
		for (size_t i = 0; i < r->nactions; i++)
			if (!roles_action_known(r, r->actions[i]))
				abort();
		if (roles_find(r, "") != NULL || role_has_perm(&r->v[0], "no such permission") ||
		    role_may_grant(&r->v[0], ""))
			abort();
	}
	roles_free(r);
	free(text);
	return 0;
}
