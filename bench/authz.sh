#!/bin/bash
# Decision speed (issue 4) against a real slapd with the project's schema,
# skeleton and ACLs, in one run: (ref) one raw LDAP search round trip on a
# warm connection, a decision without cache (cache_ttl 0), a decision from
# the cache.  Targets: cached p99 < 50 us; an uncached decision <= 2 LDAP
# round trips (the "LDAP trips" column counts them, probes included).
# usage: bench/authz.sh [N]   (N decisions per measurement, default 20000)
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"

n=${1:-${BENCH_AUTHZ_N:-20000}}
h_init
h_slapd_start --dit
for u in admin1 chair1 reg1; do h_ldap_user "$u" "pw-$u" >/dev/null; done
h_ldap_group_add city_admin admin1 >/dev/null
echo "bench: authz: $n decisions each, slapd on $H_LDAP_URI, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$H_ROOT"
"$H_ROOT/build/bench_authz" "$H_LDAP_URI" "$H_LDAP_BASE" "$H_LDAP_SVC_DN" "$H_LDAP_SVC_PWFILE" "$n"
