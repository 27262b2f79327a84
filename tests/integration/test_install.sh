#!/bin/bash
# make install (issue 6): the tree an operator gets, the systemd unit checked
# by systemd-analyze (verify, and the security exposure, printed), and the
# man pages checked by man --warnings.
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"

h_init
root=$H_TMP/root
make -s -C "$H_ROOT" install DESTDIR="$root" PREFIX=/usr/local >"$H_TMP/install.log" 2>&1 ||
    { cat "$H_TMP/install.log"; exit 1; }
expected="etc/syncd/policies/documents.json
etc/syncd/policies/ldap/README.md
etc/syncd/policies/ldap/example-dit.ldif
etc/syncd/policies/ldap/syncd-acl.conf
etc/syncd/policies/ldap/syncd-acl.ldif
etc/syncd/policies/ldap/syncd.ldif
etc/syncd/policies/ldap/syncd.schema
etc/syncd/policies/roles.json
etc/syncd/policies/routing.json
etc/syncd/policies/signers.csv
etc/syncd/policies/units/README.md
etc/syncd/policies/units/cantho_new_units.csv
etc/syncd/policies/units/cantho_old_to_new_mapping.csv
etc/syncd/policies/units/split_overrides.csv
etc/syncd/syncd.conf
usr/local/bin/syncctl
usr/local/bin/syncd
usr/local/lib/systemd/system/syncd.service
usr/local/lib/sysusers.d/syncd.conf
usr/local/lib/tmpfiles.d/syncd.conf
usr/local/share/man/man1/syncctl.1
usr/local/share/man/man5/syncd.conf.5
usr/local/share/man/man8/syncd.8
usr/local/share/syncd/ldap/README.md
usr/local/share/syncd/ldap/example-dit.ldif
usr/local/share/syncd/ldap/syncd-acl.conf
usr/local/share/syncd/ldap/syncd-acl.ldif
usr/local/share/syncd/ldap/syncd.ldif
usr/local/share/syncd/ldap/syncd.schema
usr/local/share/syncd/sql/audit-owner.sql
usr/local/share/syncd/sql/land-intake.sql"
h_assert_eq "make install DESTDIR=... lays out the expected tree" "$expected" "$(cd "$root" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)"
h_assert_eq "modes: config dir 0750, syncd.conf 0640, programs 0755, unit 0644" "750 640 755 755 644" \
    "$(stat -c %a "$root/etc/syncd" "$root/etc/syncd/syncd.conf" "$root/usr/local/bin/syncd" "$root/usr/local/bin/syncctl" "$root/usr/local/lib/systemd/system/syncd.service" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^ExecStart=/usr/local/bin/syncd -c /etc/syncd/syncd.conf$' "$root/usr/local/lib/systemd/system/syncd.service" &&
    h_ok "the unit runs the installed syncd" || h_fail "ExecStart" "$(grep Exec "$root/usr/local/lib/systemd/system/syncd.service")"
echo "# a second install keeps the operator's syncd.conf" >>"$root/etc/syncd/syncd.conf"
make -s -C "$H_ROOT" install DESTDIR="$root" PREFIX=/usr/local >/dev/null 2>&1
grep -q "operator's syncd.conf" "$root/etc/syncd/syncd.conf" && h_ok "a second install keeps an edited syncd.conf" ||
    h_fail "syncd.conf kept" "overwritten"

# the unit, pointing at the programs just built (systemd-analyze checks them)
sed "s|@BINDIR@|$H_ROOT/build|g" "$H_ROOT/dist/systemd/syncd.service.in" >"$H_TMP/syncd.service"
out=$(systemd-analyze verify --man=no "$H_TMP/syncd.service" 2>&1) && rc=0 || rc=$?
h_assert_eq "systemd-analyze verify: clean" "0:" "$rc:$out"
exposure=$(systemd-analyze security --offline=true "$H_TMP/syncd.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for syncd.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security --offline=true: exposure $exposure (target <= 2.0)"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' && h_ok "security exposure $exposure <= 2.0" ||
    h_fail "security exposure" "$exposure"

for page in syncd.8 syncctl.1 syncd.conf.5; do
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$H_ROOT/docs/man/$page" 2>&1 >/dev/null)
    h_assert_eq "man --warnings: $page is clean" "" "$w"
done
h_summary
