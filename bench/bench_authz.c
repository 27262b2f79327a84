/* bench_authz.c — decision speed against a real slapd: one raw LDAP search
 * round trip (the reference), an uncached decision, a cached decision.
 * usage: bench_authz URI BASE SERVICE-DN PASSWORD-FILE N
 * Expects admin1 (member of cn=city_admin), chair1 and reg1 under
 * ou=people (bench/authz.sh sets them up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz.h"
#include "authz/grants.h"
#include "authz/login.h"
#include "common/fileio.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *lat, int n, double total_us, double trips)
{
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("%-34s %8d %12.0f %10.1f %10.1f %10.2f\n", what, n, n / (total_us / 1e6), lat[n / 2],
	       lat[(int)(n * 0.99)], trips);
}

static int noop(LDAP *ld, LDAPMessage *e, void *arg)
{
	(void)ld;
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static struct authz *open_authz(char **argv, const char *pw, long ttl, const int *units, size_t nunits)
{
	struct authz_conf c = {0};
	char err[512];
	struct roles *roles = roles_load("policies/roles.json", err, sizeof(err));
	struct authz *a;

	if (roles == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	c.ldap.uri = argv[1];
	c.ldap.bind_dn = argv[3];
	c.ldap.password = pw;
	c.ldap.timeout_s = 5;
	c.base = argv[2];
	c.units = units;
	c.nunits = nunits;
	c.cache_ttl = ttl;
	a = authz_new(&c, roles, err, sizeof(err));
	if (a == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return a;
}

int main(int argc, char **argv)
{
	static const int units[] = {31120, 31135};
	static char *attrs[] = {"uid", "entryUUID", NULL};
	char err[512], reason[512], *pw;
	struct authz *a, *cached;
	struct authz_user admin, chair;
	struct grant g;
	struct authz_decision d;
	int n, found = 0;
	double *lat, t0, t;
	unsigned long trips;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_authz URI BASE SERVICE-DN PASSWORD-FILE N\n");
		return 2;
	}
	n = atoi(argv[5]);
	pw = secret_file_read(argv[4], err, sizeof(err));
	lat = calloc((size_t)n, sizeof(double));
	if (pw == NULL || lat == NULL || n < 100) {
		fprintf(stderr, "bench_authz: %s\n", pw ? "N must be >= 100" : err);
		return 2;
	}
	a = open_authz(argv, pw, 0, units, 2);
	cached = open_authz(argv, pw, 3600, units, 2);
	/* the path city_admin -> unit_chair -> civil_registrar, made through syncd's own rules */
	if (authz_user_find(a, "admin1", &admin, err, sizeof(err)) != 1 ||
	    authz_user_find(a, "chair1", &chair, err, sizeof(err)) != 1) {
		fprintf(stderr, "bench_authz: %s (run bench/authz.sh)\n", err);
		return 1;
	}
	if (authz_grant_create(
		    a, &admin,
		    &(struct grant_request){
			    .grantee = "chair1", .role = "unit_chair", .unit = 31120, .may_delegate = 1},
		    &g, reason, sizeof(reason)) != AUTHZ_GRANT_OK ||
	    authz_grant_create(
		    a, &chair,
		    &(struct grant_request){.grantee = "reg1", .role = "civil_registrar", .unit = 31120}, &g,
		    reason, sizeof(reason)) != AUTHZ_GRANT_OK) {
		fprintf(stderr, "bench_authz: grant: %s\n", reason);
		return 1;
	}
	printf("%-34s %8s %12s %10s %10s %10s\n", "measurement", "n", "per second", "p50 us", "p99 us",
	       "LDAP trips");

	/* (ref) one raw LDAP search round trip on a warm, bound connection */
	(void)lpool_search(authz_pool(a), argv[2], LDAP_SCOPE_SUBTREE, "(uid=reg1)", attrs, 0, noop, &found,
			   err, sizeof(err));
	trips = lpool_round_trips(authz_pool(a));
	t0 = now_us();
	for (int i = 0; i < n; i++) {
		t = now_us();
		if (lpool_search(authz_pool(a), argv[2], LDAP_SCOPE_SUBTREE, "(uid=reg1)", attrs, 0, noop,
				 &found, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_authz: %s\n", err);
			return 1;
		}
		lat[i] = now_us() - t;
	}
	report("raw LDAP search (reference)", lat, n, now_us() - t0,
	       (double)(lpool_round_trips(authz_pool(a)) - trips) / n);

	/* uncached: every decision reads the directory */
	trips = lpool_round_trips(authz_pool(a));
	t0 = now_us();
	for (int i = 0; i < n; i++) {
		t = now_us();
		if (authz_check(a, "reg1", "civil.extract.issue", 31120, &d) != 0 || !d.allow) {
			fprintf(stderr, "bench_authz: uncached decision: %s\n", d.reason);
			return 1;
		}
		lat[i] = now_us() - t;
	}
	report("decision, uncached", lat, n, now_us() - t0,
	       (double)(lpool_round_trips(authz_pool(a)) - trips) / n);

	/* cached (per user and unit) */
	(void)authz_check(cached, "reg1", "civil.extract.issue", 31120, &d);
	trips = lpool_round_trips(authz_pool(cached));
	t0 = now_us();
	for (int i = 0; i < n * 10 && i < 2000000; i++) {
		int k = i % n;

		t = now_us();
		if (authz_check(cached, "reg1", "civil.extract.issue", 31120, &d) != 0 || !d.allow) {
			fprintf(stderr, "bench_authz: cached decision: %s\n", d.reason);
			return 1;
		}
		lat[k] = now_us() - t;
	}
	report("decision, cached", lat, n, (now_us() - t0) / (n * 10 < 2000000 ? 10 : 2000000.0 / n),
	       (double)(lpool_round_trips(authz_pool(cached)) - trips) / (n * 10));
	authz_free(a);
	authz_free(cached);
	free(lat);
	free(pw);
	return 0;
}
