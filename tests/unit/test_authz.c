/* test_authz.c — roles.json checks and the delegation model (authz/decide.c)
 * on hand-built facts: chains, revocation cascades, validity windows,
 * depth, re-created accounts, city roles, grant authority.
 *
 * With SYNCD_TEST_LDAP_URI set (tests/integration/test_authz_identity.sh
 * does), a second group runs against that real slapd: identities, login
 * round trips, grant creation, revocation and listing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "authz/decide.h"
#include "authz/grants.h"
#include "authz/login.h"
#include "authz/roles.h"
#include "common/fileio.h"

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

/* roles.json cases as data: tests/data/roles/cases.tsv names each file and
 * "ok" or the error it must get (which must also name the file). */
static void test_roles_cases(void **state)
{
	char line[512], path[600], err[512];
	FILE *f = fopen("tests/data/roles/cases.tsv", "r");
	int n = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t'), *want;
		struct roles *r;

		if (line[0] == '#' || tab == NULL)
			continue;
		*tab = '\0';
		want = tab + 1;
		want[strcspn(want, "\n")] = '\0';
		snprintf(path, sizeof(path), "tests/data/roles/%s", line);
		err[0] = '\0';
		r = roles_load(path, err, sizeof(err));
		if (strcmp(want, "ok") == 0) {
			if (r == NULL)
				fail_msg("%s: want ok, got \"%s\"", line, err);
		} else if (r != NULL || strstr(err, want) == NULL || strstr(err, line) == NULL) {
			fail_msg("%s: want an error naming the file with \"%s\", got \"%s\"", line, want,
				 r ? "(loaded)" : err);
		}
		roles_free(r);
		n++;
	}
	fclose(f);
	assert_true(n >= 14);
}

static void test_roles_file(void **state)
{
	(void)state;
	assert_non_null(roles_find(roles, "unit_chair"));
	assert_true(role_may_grant(roles_find(roles, "city_admin"), "unit_auditor"));
	assert_false(role_may_grant(roles_find(roles, "unit_chair"), "unit_auditor"));
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
	/* dates and times that do not exist (timegm would move them) */
	assert_int_equal(authz_time_parse("2026-02-31T10:00:00Z", &t), -1);
	assert_int_equal(authz_time_parse("2026-11-27T23:59:60Z", &t), -1);
	assert_int_equal(authz_time_parse("20260229100000Z", &t), -1);
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
	e = lpool_filter_escape(""); /* libldap gives no buffer for it (fuzz_ldap) */
	assert_string_equal(e, "");
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

static void test_uid_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"an.nguyen", "an.nguyen"},
		{"AN.NGUYEN", "an.nguyen"},
		{" an.nguyen ", "an.nguyen"},
		{"  Kiem.Do\t", "kiem.do\t"},
		{"a   b  c", "a b c"},
		{"   ", ""},
		{"", ""},
		{"Người", "người"},
	};
	char out[128], small[4];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		authz_uid_normalize(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("authz_uid_normalize(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out,
				 cases[i].out);
	}
	authz_uid_normalize(" ABCDEF ", small, sizeof(small));
	assert_string_equal(small, "abc");
}

/* ------------------------------------------------------------ against a real slapd */

static struct authz *live;

static int live_setup(void **state)
{
	static const int units[] = {31120, 31135};
	struct authz_conf c = {0};
	char err[512], *pw;
	struct roles *r;

	(void)state;
	pw = secret_file_read(getenv("SYNCD_TEST_LDAP_PWFILE"), err, sizeof(err));
	r = roles_load("policies/roles.json", err, sizeof(err));
	if (pw == NULL || r == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	c.ldap.uri = getenv("SYNCD_TEST_LDAP_URI");
	c.ldap.bind_dn = getenv("SYNCD_TEST_LDAP_SVC_DN");
	c.ldap.password = pw;
	c.ldap.timeout_s = 5;
	c.base = getenv("SYNCD_TEST_LDAP_BASE");
	c.units = units;
	c.nunits = 2;
	c.cache_ttl = 30;
	live = authz_new(&c, r, err, sizeof(err));
	free(pw);
	if (live == NULL)
		fprintf(stderr, "%s\n", err);
	return live == NULL ? -1 : 0;
}

static int live_teardown(void **state)
{
	(void)state;
	authz_free(live);
	return 0;
}

static unsigned long trips(void)
{
	return lpool_round_trips(authz_pool(live));
}

static struct authz_user who(const char *uid)
{
	struct authz_user u;
	char err[512];

	if (authz_user_find(live, uid, &u, err, sizeof(err)) != 1)
		fail_msg("authz_user_find(%s): %s", uid, err);
	return u;
}

/* AN.NGUYEN, " an.nguyen " and an.nguyen are one person with one name. */
static void test_live_one_name(void **state)
{
	struct authz_user a = who("an.nguyen"), b = who("AN.NGUYEN"), c = who("  an.nguyen "), admin;
	struct grant_request req = {.grantee = " ADMIN1", .role = "land_officer", .unit = 31120};
	struct authz_decision d1, d2;
	struct grant g;
	char reason[512];

	(void)state;
	assert_string_equal(b.uid, "an.nguyen");
	assert_string_equal(c.uid, "an.nguyen");
	assert_string_equal(b.uuid, a.uuid);
	assert_string_equal(c.dn, a.dn);
	assert_true(a.uuid[0] != '\0');
	/* a decision for any spelling is the same person's */
	admin = who("admin1");
	req.grantee = "AN.NGUYEN";
	assert_int_equal(authz_grant_create(live, &admin, &req, &g, reason, sizeof(reason)), AUTHZ_GRANT_OK);
	assert_int_equal(authz_check(live, " An.Nguyen ", "land.record.read", 31120, &d1), 0);
	assert_int_equal(authz_check(live, "an.nguyen", "land.record.read", 31120, &d2), 0);
	assert_true(d1.allow && d2.allow);
	/* granting to oneself under another spelling is still a self-grant */
	req.grantee = " ADMIN1 ";
	assert_int_equal(authz_grant_create(live, &admin, &req, &g, reason, sizeof(reason)),
			 AUTHZ_GRANT_FORBIDDEN);
	assert_non_null(strstr(reason, "self_grant"));
}

/* A login as KIEM.DO after kiem.do is the same remembered login. */
static void test_live_login_cache(void **state)
{
	struct authz_user u;
	char err[512];
	unsigned long t;

	(void)state;
	assert_int_equal(authz_authenticate(live, "kiem.do", "pw-kiem.do-secret", &u, err, sizeof(err)), 1);
	assert_string_equal(u.uid, "kiem.do");
	t = trips();
	assert_int_equal(authz_authenticate(live, "KIEM.DO", "pw-kiem.do-secret", &u, err, sizeof(err)), 1);
	assert_string_equal(u.uid, "kiem.do");
	assert_int_equal(authz_authenticate(live, " kiem.do", "pw-kiem.do-secret", &u, err, sizeof(err)), 1);
	assert_int_equal(trips() - t, 0); /* from the cache: no round trip */
	/* a wrong password is never served from the cache */
	assert_int_equal(authz_authenticate(live, "KIEM.DO", "wrong", &u, err, sizeof(err)), 0);
	assert_true(trips() - t > 0);
}

/* An unknown uid costs what a known one with a wrong password does. */
static void test_live_unknown_uid_binds(void **state)
{
	struct authz_user u;
	char err[512];
	unsigned long t, known, unknown, several;

	(void)state;
	t = trips();
	assert_int_equal(authz_authenticate(live, "kiem.do", "not-the-password", &u, err, sizeof(err)), 0);
	known = trips() - t;
	t = trips();
	assert_int_equal(authz_authenticate(live, "no.such.person", "not-the-password", &u, err, sizeof(err)),
			 0);
	unknown = trips() - t;
	t = trips();
	assert_int_equal(authz_authenticate(live, "twin", "not-the-password", &u, err, sizeof(err)), 0);
	several = trips() - t;
	assert_int_equal(known, 2); /* the lookup, the bind */
	assert_int_equal(unknown, known);
	assert_int_equal(several, known);
}

/* The chair's own grant revoked: the former chair revokes nothing, not even
 * a grant they made.  The grant's unit comes back whenever it was found. */
static void test_live_revoke_needs_authority(void **state)
{
	struct authz_user admin = who("admin1"), chair = who("chair1");
	struct grant_request req = {
		.grantee = "chair1", .role = "unit_chair", .unit = 31135, .may_delegate = 1};
	struct grant gc, gr;
	char reason[512];
	int unit;

	(void)state;
	assert_int_equal(authz_grant_create(live, &admin, &req, &gc, reason, sizeof(reason)), AUTHZ_GRANT_OK);
	req = (struct grant_request){.grantee = "an.nguyen", .role = "civil_registrar", .unit = 31135};
	assert_int_equal(authz_grant_create(live, &chair, &req, &gr, reason, sizeof(reason)), AUTHZ_GRANT_OK);
	assert_int_equal(authz_grant_revoke(live, &admin, gc.id, &unit, reason, sizeof(reason)),
			 AUTHZ_GRANT_OK);
	assert_int_equal(unit, 31135);
	assert_int_equal(authz_grant_revoke(live, &chair, gr.id, &unit, reason, sizeof(reason)),
			 AUTHZ_GRANT_FORBIDDEN);
	assert_int_equal(unit, 31135);
	assert_non_null(strstr(reason, "grant_revoked"));
	unit = -1;
	assert_int_equal(authz_grant_revoke(live, &admin, "0123456789abcdef0123456789abcdef", &unit, reason,
					    sizeof(reason)),
			 AUTHZ_GRANT_UNKNOWN);
	assert_int_equal(unit, 0);
}

/* may_delegate above the role's range: refused, never truncated. */
static void test_live_may_delegate_range(void **state)
{
	struct authz_user admin = who("admin1");
	struct grant_request req = {
		.grantee = "kiem.do", .role = "unit_chair", .unit = 31120, .may_delegate = 2};
	struct grant g;
	char reason[512];

	(void)state;
	assert_int_equal(authz_grant_create(live, &admin, &req, &g, reason, sizeof(reason)),
			 AUTHZ_GRANT_INVALID);
	assert_string_equal(reason, "bad_request (may_delegate 2 is above the role's maximum 1)");
	req.role = "land_officer";
	req.may_delegate = 2147483647;
	assert_int_equal(authz_grant_create(live, &admin, &req, &g, reason, sizeof(reason)),
			 AUTHZ_GRANT_INVALID);
	assert_string_equal(reason, "bad_request (may_delegate 2147483647 is above the role's maximum 0)");
}

/* Unit 0: every unit's grants. */
static void test_live_list_all(void **state)
{
	struct grant *g = NULL;
	size_t n = 0;
	bool u1 = false, u2 = false;
	char reason[512];

	(void)state;
	assert_int_equal(authz_grants_list(live, 0, NULL, &g, &n, reason, sizeof(reason)), AUTHZ_GRANT_OK);
	for (size_t i = 0; i < n; i++) {
		u1 |= g[i].unit == 31120;
		u2 |= g[i].unit == 31135;
	}
	free(g);
	assert_true(n >= 3);
	assert_true(u1 && u2);
}

/* City-wide: only a city role allows, and the answer is cached like a
 * unit's (no round trip the second time). */
static void test_live_city_role(void **state)
{
	struct authz_decision d;
	unsigned long t;

	(void)state;
	assert_int_equal(authz_city_role(live, "ADMIN1", "grant.manage", &d), 0);
	assert_true(d.allow);
	assert_string_equal(d.reason, "city_role");
	assert_string_equal(d.chain[0].role, "city_admin");
	t = trips();
	assert_int_equal(authz_city_role(live, "admin1", "grant.manage", &d), 0);
	assert_true(d.allow);
	assert_int_equal(trips() - t, 0);
	/* city_admin does not read the audit log */
	assert_int_equal(authz_city_role(live, "admin1", "audit.read", &d), 0);
	assert_false(d.allow);
	assert_string_equal(d.reason, "no_city_role");
	/* a unit grant (an.nguyen is a land officer in 31120) is no city role */
	assert_int_equal(authz_check(live, "an.nguyen", "land.record.read", 31120, &d), 0);
	assert_true(d.allow);
	assert_int_equal(authz_city_role(live, "an.nguyen", "land.record.read", &d), 0);
	assert_false(d.allow);
	assert_string_equal(d.reason, "no_city_role");
	assert_int_equal(authz_city_role(live, "no.such.person", "grant.manage", &d), 0);
	assert_false(d.allow);
	assert_string_equal(d.reason, "unknown_user");
	assert_int_equal(authz_city_role(live, "admin1", "no.such.action", &d), 0);
	assert_false(d.allow);
	assert_string_equal(d.reason, "unknown_action");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_file),	   cmocka_unit_test(test_roles_cases),
		cmocka_unit_test(test_chain_allows),	   cmocka_unit_test(test_cascade),
		cmocka_unit_test(test_windows_and_bounds), cmocka_unit_test(test_recreated_account),
		cmocka_unit_test(test_authority),	   cmocka_unit_test(test_times_and_names),
		cmocka_unit_test(test_filter_escape),	   cmocka_unit_test(test_cleartext_refused),
		cmocka_unit_test(test_host_loopback),	   cmocka_unit_test(test_uid_normalize),
	};
	const struct CMUnitTest live_tests[] = {
		cmocka_unit_test(test_live_one_name),
		cmocka_unit_test(test_live_login_cache),
		cmocka_unit_test(test_live_unknown_uid_binds),
		cmocka_unit_test(test_live_revoke_needs_authority),
		cmocka_unit_test(test_live_may_delegate_range),
		cmocka_unit_test(test_live_list_all),
		cmocka_unit_test(test_live_city_role),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);

	if (getenv("SYNCD_TEST_LDAP_URI") == NULL)
		return r;
	return r + cmocka_run_group_tests_name("live", live_tests, live_setup, live_teardown);
}
