/* test_authz.c — roles.json checks and the delegation model (authz/decide.c)
 * on hand-built facts: chains, revocation cascades, validity windows,
 * depth, re-created accounts, city roles, grant authority. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../authz/authz.h"
#include "../../authz/decide.h"
#include "../../authz/roles.h"

#define NOW  1800000000L
#define DAY  86400L
#define UNIT 31120

static struct roles *roles;

static int setup(void **state)
{
	char err[512];

	(void)state;
	roles = roles_load("policies/roles.json", err, sizeof(err));
	if (roles == NULL)
		fprintf(stderr, "%s\n", err);
	return roles == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	roles_free(roles);
	return 0;
}

static struct grant mk(const char *id, const char *grantee, const char *role, const char *grantor,
		       const char *parent, int depth)
{
	struct grant g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.grantee_uuid, sizeof(g.grantee_uuid), "%s", grantee);
	snprintf(g.grantee_dn, sizeof(g.grantee_dn), "uid=%s,ou=people,dc=x", grantee);
	snprintf(g.role, sizeof(g.role), "%s", role);
	snprintf(g.grantor_uuid, sizeof(g.grantor_uuid), "%s", grantor);
	snprintf(g.grantor_dn, sizeof(g.grantor_dn), "uid=%s,ou=people,dc=x", grantor);
	snprintf(g.parent, sizeof(g.parent), "%s", parent);
	g.unit = UNIT;
	g.not_before = NOW - DAY;
	g.not_after = NOW + 100 * DAY;
	g.depth = depth;
	return g;
}

/* admin -> chair (depth 1) -> registrar */
static struct grant G[3];
static struct city_holder H[2];

static void world(struct authz_facts *f, const char *user)
{
	G[0] = mk("g-chair", "chair", "unit_chair", "admin", "", 1);
	G[1] = mk("g-reg", "reg", "civil_registrar", "chair", "g-chair", 0);
	G[2] = mk("g-off", "off", "land_officer", "admin", "", 0);
	memset(H, 0, sizeof(H));
	snprintf(H[0].uuid, sizeof(H[0].uuid), "admin");
	H[0].role = roles_find(roles, "city_admin");
	snprintf(H[1].uuid, sizeof(H[1].uuid), "aud");
	H[1].role = roles_find(roles, "city_auditor");
	memset(f, 0, sizeof(*f));
	snprintf(f->user_uuid, sizeof(f->user_uuid), "%s", user);
	snprintf(f->user_dn, sizeof(f->user_dn), "uid=%s,ou=people,dc=x", user);
	f->grants = G;
	f->ngrants = 3;
	f->holders = H;
	f->nholders = 2;
}

static void expect(struct authz_facts *f, const char *action, int unit, bool allow, const char *reason)
{
	struct authz_decision d;

	authz_decide(roles, f, action, unit, unit == UNIT || unit == 31135, NOW, &d);
	if (d.allow != allow || strncmp(d.reason, reason, strlen(reason)) != 0)
		fail_msg("%s in %d: got %s \"%s\", want %s \"%s\"", action, unit, d.allow ? "allow" : "deny",
			 d.reason, allow ? "allow" : "deny", reason);
}

static void test_roles_file(void **state)
{
	char err[512];
	struct roles *r;

	(void)state;
	assert_non_null(roles_find(roles, "unit_chair"));
	assert_true(role_may_grant(roles_find(roles, "city_admin"), "unit_auditor"));
	assert_false(role_may_grant(roles_find(roles, "unit_chair"), "unit_auditor"));
	r = roles_parse(
		"{\"actions\":[\"audit.read\"],\"roles\":{\"c\":{\"scope\":\"unit\",\"permissions\":[],"
		"\"may_grant\":[\"a\"],\"max_days\":10,\"max_delegate\":1},\"a\":{\"scope\":\"unit\","
		"\"permissions\":[\"audit.read\"],\"may_grant\":[],\"max_days\":10,\"max_delegate\":0}}}",
		"t.json", err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "auditors are granted from city level only"));
	r = roles_parse("{\"actions\":[],\"roles\":{\"c\":{\"scope\":\"unit\",\"permissions\":[\"x.y\"],"
			"\"may_grant\":[],\"max_days\":10,\"max_delegate\":0}}}",
			"t.json", err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "permission \"x.y\" is not in \"actions\""));
	r = roles_parse(
		"{\"actions\":[],\"roles\":{\"c\":{\"scope\":\"city\",\"permissions\":[],\"may_grant\":[]}}}",
		"t.json", err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "needs \"group\""));
	r = roles_parse("{\"actions\": [", "t.json", err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "t.json:1:"));
}

static void test_chain_allows(void **state)
{
	struct authz_facts f;
	struct authz_decision d;

	(void)state;
	world(&f, "reg");
	expect(&f, "civil.extract.issue", UNIT, true, "grant");
	authz_decide(roles, &f, "civil.extract.issue", UNIT, true, NOW, &d);
	assert_int_equal(d.nchain, 2);
	assert_string_equal(d.chain[0].id, "g-reg");
	assert_string_equal(d.chain[1].id, "g-chair");
	assert_int_equal(d.valid_until, NOW + 100 * DAY);
	expect(&f, "civil.extract.issue", 31135, false, "no_grant");
	expect(&f, "land.extract.issue", UNIT, false, "no_grant");
	expect(&f, "civil.extract.issue", 99999, false, "unknown_unit");
	expect(&f, "civil.delete.everything", UNIT, false, "unknown_action");
	world(&f, "admin");
	expect(&f, "grant.manage", UNIT, true, "city_role");
	expect(&f, "civil.extract.issue", UNIT, false, "no_grant"); /* admins grant, they do not issue */
	world(&f, "aud");
	expect(&f, "audit.read", 31135, true, "city_role");
	world(&f, "");
	expect(&f, "civil.extract.issue", UNIT, false, "unknown_user");
}

static void test_cascade(void **state)
{
	struct authz_facts f;

	(void)state;
	world(&f, "reg");
	G[0].revoked = true;
	expect(&f, "civil.extract.issue", UNIT, false, "parent_grant_invalid: grant_revoked (grant g-chair)");
	world(&f, "reg");
	G[0].not_after = NOW - 1;
	expect(&f, "civil.extract.issue", UNIT, false, "parent_grant_invalid: grant_expired");
	world(&f, "reg");
	f.nholders = 1;
	H[0].role = roles_find(roles, "city_auditor"); /* the admin is no longer an admin */
	expect(&f, "civil.extract.issue", UNIT, false, "parent_grant_invalid: grantor_no_longer_authorized");
	world(&f, "reg");
	f.ngrants = 2;
	G[0] = G[1]; /* the parent is gone */
	f.grants = G;
	f.ngrants = 1;
	expect(&f, "civil.extract.issue", UNIT, false, "parent_grant_missing");
}

static void test_windows_and_bounds(void **state)
{
	struct authz_facts f;

	(void)state;
	world(&f, "reg");
	G[1].not_before = NOW + DAY;
	expect(&f, "civil.extract.issue", UNIT, false, "grant_not_yet_valid");
	world(&f, "reg");
	G[1].not_after = NOW;
	expect(&f, "civil.extract.issue", UNIT, false, "grant_expired");
	world(&f, "reg");
	G[1].not_after = G[0].not_after + 1; /* outlives its parent (written around syncd) */
	expect(&f, "civil.extract.issue", UNIT, false, "grant_outside_parent");
	world(&f, "reg");
	G[0].depth = 0; /* the chair could not re-delegate */
	expect(&f, "civil.extract.issue", UNIT, false, "grant_outside_parent");
	world(&f, "reg");
	G[1].depth = 3; /* beyond what civil_registrar allows */
	expect(&f, "civil.extract.issue", UNIT, false, "grant_depth_exceeds_role");
	world(&f, "reg");
	snprintf(G[1].role, sizeof(G[1].role), "unit_auditor"); /* a chair cannot grant it */
	expect(&f, "audit.read", UNIT, false, "grant_outside_parent");
	world(&f, "reg");
	G[1].parent[0] = '\0'; /* a root grant whose grantor is no city role holder */
	expect(&f, "civil.extract.issue", UNIT, false, "grantor_no_longer_authorized");
}

static void test_recreated_account(void **state)
{
	struct authz_facts f;

	(void)state;
	world(&f, "reg");
	snprintf(f.user_uuid, sizeof(f.user_uuid), "reg-new"); /* same DN, new entryUUID */
	expect(&f, "civil.extract.issue", UNIT, false, "grant_for_previous_account");
}

static void test_authority(void **state)
{
	struct authz_facts f;
	const struct grant *parent;
	time_t limit;
	char why[256];

	(void)state;
	world(&f, "chair");
	assert_int_equal(authz_grant_authority(roles, &f, "civil_registrar", 0, NOW, &parent, &limit, why,
					       sizeof(why)),
			 1);
	assert_string_equal(parent->id, "g-chair");
	assert_int_equal(limit, G[0].not_after);
	assert_int_equal(
		authz_grant_authority(roles, &f, "unit_chair", 0, NOW, &parent, &limit, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "role_not_grantable"));
	assert_int_equal(
		authz_grant_authority(roles, &f, "unit_auditor", 0, NOW, &parent, &limit, why, sizeof(why)),
		0);
	assert_non_null(strstr(why, "role_not_grantable"));
	assert_int_equal(authz_grant_authority(roles, &f, "civil_registrar", 1, NOW, &parent, &limit, why,
					       sizeof(why)),
			 0);
	assert_non_null(strstr(why, "may_delegate_exceeds_role"));
	assert_int_equal(
		authz_grant_authority(roles, &f, "city_admin", 0, NOW, &parent, &limit, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "city role"));
	G[0].depth = 0;
	assert_int_equal(authz_grant_authority(roles, &f, "civil_registrar", 0, NOW, &parent, &limit, why,
					       sizeof(why)),
			 0);
	assert_non_null(strstr(why, "delegation_depth_exhausted"));
	world(&f, "chair");
	G[0].not_after = NOW - 1;
	assert_int_equal(authz_grant_authority(roles, &f, "civil_registrar", 0, NOW, &parent, &limit, why,
					       sizeof(why)),
			 0);
	assert_non_null(strstr(why, "grantor_grant_invalid: grant_expired"));
	world(&f, "admin");
	assert_int_equal(
		authz_grant_authority(roles, &f, "unit_auditor", 0, NOW, &parent, &limit, why, sizeof(why)),
		1);
	assert_null(parent);
	assert_int_equal(limit, 0);
	world(&f, "reg");
	assert_int_equal(authz_grant_authority(roles, &f, "civil_registrar", 0, NOW, &parent, &limit, why,
					       sizeof(why)),
			 0);
	assert_non_null(strstr(why, "no_authority"));
}

static void test_times_and_names(void **state)
{
	time_t t;
	char s[32], uid[64];

	(void)state;
	assert_int_equal(authz_time_parse("2026-11-27T10:00:00Z", &t), 0);
	authz_time_ldap(t, s, sizeof(s));
	assert_string_equal(s, "20261127100000Z");
	assert_int_equal(authz_time_parse(s, &t), 0);
	authz_time_rfc3339(t, s, sizeof(s));
	assert_string_equal(s, "2026-11-27T10:00:00Z");
	assert_int_equal(authz_time_parse("2026-11-27 10:00:00", &t), -1);
	assert_int_equal(authz_time_parse("2026-13-27T10:00:00Z", &t), -1);
	assert_int_equal(authz_time_parse("", &t), -1);
	authz_dn_uid("uid=chair1,ou=people,dc=cantho,dc=gov,dc=vn", uid, sizeof(uid));
	assert_string_equal(uid, "chair1");
	authz_dn_uid("uid=a\\2Cb,ou=people,dc=x", uid, sizeof(uid));
	assert_string_equal(uid, "a,b");
	authz_dn_uid("cn=syncd,ou=services,dc=x", uid, sizeof(uid));
	assert_string_equal(uid, "");
	authz_dn_uid("not a dn", uid, sizeof(uid));
	assert_string_equal(uid, "");
}

static void test_filter_escape(void **state)
{
	char *e;

	(void)state;
	e = lpool_filter_escape("*)(uid=*");
	assert_string_equal(e, "\\2A\\29\\28uid=\\2A");
	free(e);
	e = lpool_filter_escape("a\\00b");
	assert_string_equal(e, "a\\5C00b");
	free(e);
}

/* Only a literal loopback address (or localhost) may carry cleartext LDAP. */
static void test_host_loopback(void **state)
{
	static const struct {
		const char *host;
		bool loopback;
	} cases[] = {
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"127.255.255.255", true},
		{"::1", true},
		{"[::1]", true},
		{"localhost", true},
		{"LocalHost", true},
		{"", true},
		{"127.evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"127.", false},
		{"127.0.0.256", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"::2", false},
		{"localhost.evil.example", false},
		{"ldap.cantho.gov.vn", false},
	};
	struct ldap_conf c = {.uri = "ldap://127.evil.example:389", .timeout_s = 1};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (lpool_host_loopback(cases[i].host) != cases[i].loopback)
			fail_msg("lpool_host_loopback(\"%s\") should be %s", cases[i].host,
				 cases[i].loopback ? "true" : "false");
	assert_null(lpool_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "use ldaps:// or set starttls = true"));
}

static void test_cleartext_refused(void **state)
{
	struct ldap_conf c = {.uri = "ldap://ldap.cantho.gov.vn", .timeout_s = 1};
	struct ldap_pool *p;
	char err[512];

	(void)state;
	assert_null(lpool_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "use ldaps:// or set starttls = true"));
	c.starttls = true;
	p = lpool_new(&c, err, sizeof(err));
	assert_non_null(p);
	lpool_free(p);
	c.uri = "ldaps://ldap.cantho.gov.vn";
	c.starttls = false;
	p = lpool_new(&c, err, sizeof(err));
	assert_non_null(p);
	lpool_free(p);
	c.uri = "http://x";
	assert_null(lpool_new(&c, err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_file),	  cmocka_unit_test(test_chain_allows),
		cmocka_unit_test(test_cascade),		  cmocka_unit_test(test_windows_and_bounds),
		cmocka_unit_test(test_recreated_account), cmocka_unit_test(test_authority),
		cmocka_unit_test(test_times_and_names),	  cmocka_unit_test(test_filter_escape),
		cmocka_unit_test(test_cleartext_refused), cmocka_unit_test(test_host_loopback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
