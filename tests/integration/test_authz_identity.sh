#!/bin/bash
# authz against a real slapd, below the API (issue 10): one person has one
# name however the uid is typed, a login is remembered under that name, an
# unknown uid costs the same LDAP round trips as a known one, a grantor
# whose own grant was revoked revokes nothing, may_delegate above the
# role's range is refused, and unit 0 lists every unit's grants.  The
# checks are the "live" group of build/tests/test_authz (cmocka), run here
# with the slapd's coordinates; they count round trips, never durations.
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"

h_init
h_slapd_start --dit
B=$H_LDAP_BASE
h_ldap_users "" admin1 chair1 an.nguyen kiem.do >/dev/null
h_ldap_group_add city_admin admin1 >/dev/null
# two entries with one uid: nobody may log in as either
h_ldap_user twin pw-twin-secret >/dev/null
h_ldapadd >/dev/null <<EOF2
dn: cn=twin2,ou=people,$B
objectClass: inetOrgPerson
cn: twin2
sn: twin
uid: twin
userPassword: pw-twin-secret
EOF2

bin=$H_ROOT/build/tests/test_authz
[[ -x $bin ]] || make -C "$H_ROOT" --no-print-directory build/tests/test_authz >/dev/null
cd "$H_ROOT"
out=$(SYNCD_TEST_LDAP_URI=$H_LDAP_URI SYNCD_TEST_LDAP_BASE=$B SYNCD_TEST_LDAP_SVC_DN=$H_LDAP_SVC_DN \
    SYNCD_TEST_LDAP_PWFILE=$H_LDAP_SVC_PWFILE "$bin" 2>&1) && rc=0 || rc=$?
for t in one_name login_cache unknown_uid_binds revoke_needs_authority may_delegate_range list_all; do
    if grep -q "\[       OK \] test_live_$t\$" <<<"$out"; then
        h_ok "live: $t"
    else
        h_fail "live: $t" "$(grep -B3 "test_live_$t" <<<"$out" | head -12)"
    fi
done
h_assert_eq "test_authz (both groups) exits 0" 0 "$rc"
h_summary
