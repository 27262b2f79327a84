#!/usr/bin/env bash
# Integration test of the test harness itself and of the syncd LDAP schema:
# the throwaway PostgreSQL and slapd come up as the other tests expect,
# syncd.schema and syncd.ldif load and define the same thing, and teardown
# leaves nothing behind, whether a test passes, fails or is killed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$ROOT/tests/harness/lib.sh"

ARC=2.25.282539281776689238774423242172740517294

h_init
h_pg_start
h_slapd_start

# ------------------------------------------------------------ PostgreSQL

h_assert_eq "pg: wal_level" logical "$(h_psql -c 'SHOW wal_level')"
h_assert_eq "pg: max_replication_slots" 20 "$(h_psql -c 'SHOW max_replication_slots')"
h_assert_eq "pg: max_wal_senders" 20 "$(h_psql -c 'SHOW max_wal_senders')"
h_assert_eq "pg: max_connections" 200 "$(h_psql -c 'SHOW max_connections')"
h_assert_eq "pg: fsync stays on" on "$(h_psql -c 'SHOW fsync')"
h_assert_eq "pg: listens on loopback only" 127.0.0.1 "$(h_psql -c 'SHOW listen_addresses')"
h_assert_eq "pg: PGPORT = H_PG_PORT" "$H_PG_PORT" "$PGPORT"

h_psql -c 'CREATE DATABASE syncd_test'
h_psql -d syncd_test -c 'CREATE TABLE t (id int PRIMARY KEY, name text)'
h_psql -d syncd_test -c "INSERT INTO t VALUES (1, 'Nguyễn Văn An')"
h_assert_eq "pg: create database, UTF-8 round trip" 'Nguyễn Văn An' \
    "$(h_psql -d syncd_test -c 'SELECT name FROM t WHERE id = 1')"

# pg_hba must let a replication connection in over TCP.
if out=$(h_psql -d 'dbname=syncd_test replication=database' -c 'IDENTIFY_SYSTEM' 2>&1); then
    h_ok "pg: replication connection accepted"
else
    h_fail "pg: replication connection accepted" "$out"
fi

h_pg_restart
h_assert_eq "pg: restart keeps port and data" 'Nguyễn Văn An' \
    "$(h_psql -d syncd_test -c 'SELECT name FROM t WHERE id = 1')"
h_pg_stop
h_pg_stop # idempotent
if h_psql -c 'SELECT 1' >/dev/null 2>&1; then
    h_fail "pg: stopped" "server still answers"
else
    h_ok "pg: stopped"
fi
h_pg_restart
h_assert_eq "pg: started again" 1 "$(h_psql -c 'SELECT 1')"

# ------------------------------------------------------------ LDAP, syncd.schema

B=$H_LDAP_BASE
h_ldapadd >/dev/null <<EOF
dn: ou=units,$B
objectClass: organizationalUnit
ou: units

dn: ou=31120,ou=units,$B
objectClass: organizationalUnit
objectClass: syncdUnitObject
ou: 31120
syncdUnitCode: 31120
syncdUnitName: Phường Cái Khế

dn: ou=people,$B
objectClass: organizationalUnit
ou: people

dn: uid=an.nguyen,ou=people,$B
objectClass: inetOrgPerson
uid: an.nguyen
cn: Nguyễn Văn An
sn: Nguyễn
givenName: An

dn: uid=city.admin,ou=people,$B
objectClass: inetOrgPerson
uid: city.admin
cn: Trần Thị Bình
sn: Trần
EOF
h_ok "ldap: units, people added"

# One attribute of one entry; decodes base64 (non-ASCII) values.
ldap_get() {
    h_ldapsearch -b "$1" -s base '(objectClass=*)' "$2" |
        awk -v a="$2" '
            tolower($1) == tolower(a) ":"  { sub(/^[^:]*: /, ""); print; exit }
            tolower($1) == tolower(a) "::" { sub(/^[^:]*:: /, ""); print | "base64 -d"; exit }'
}

h_assert_eq "ldap: UTF-8 cn read back" 'Nguyễn Văn An' \
    "$(ldap_get "uid=an.nguyen,ou=people,$B" cn)"

AN_UUID=$(ldap_get "uid=an.nguyen,ou=people,$B" entryUUID)
ADMIN_UUID=$(ldap_get "uid=city.admin,ou=people,$B" entryUUID)
NOW=$(date -u +%Y%m%d%H%M%SZ)

grant_ldif() { # $1 = cn, $2 = extra lines (a MUST attribute can be dropped below)
    cat <<EOF
dn: cn=$1,ou=31120,ou=units,$B
objectClass: syncdGrant
cn: $1
syncdGrantId: $1
syncdGrantee: uid=an.nguyen,ou=people,$B
syncdGranteeUUID: $AN_UUID
syncdUnit: 31120
syncdGrantor: uid=city.admin,ou=people,$B
syncdGrantorUUID: $ADMIN_UUID
syncdNotBefore: 20250701000000Z
syncdNotAfter: 20261231235959Z
syncdDepth: 1
syncdCreated: $NOW
description: harness test grant
$2
EOF
}

grant_ldif g1 'syncdRole: unit_chair' | h_ldapadd >/dev/null
h_assert_eq "ldap: syncdGrant added, syncdRole read back" unit_chair \
    "$(ldap_get "cn=g1,ou=31120,ou=units,$B" syncdRole)"

# The lookups authz makes: by grantee UUID (any case), unit, validity window.
filter="(&(objectClass=syncdGrant)(syncdGranteeUUID=${AN_UUID^^})(syncdUnit=31120)"
filter+="(syncdNotBefore<=$NOW)(syncdNotAfter>=$NOW)(!(syncdRevoked=TRUE)))"
h_assert_eq "ldap: grant found by UUID/unit/time filter" \
    "dn: cn=g1,ou=31120,ou=units,$B" \
    "$(h_ldapsearch -b "ou=units,$B" "$filter" 1.1)"

# Exit status of an ldapadd = the LDAP result code.
ldap_rc() {
    local rc=0
    h_ldapadd >/dev/null 2>&1 || rc=$?
    echo "$rc"
}
h_assert_eq "ldap: syncdGrant without syncdRole rejected (objectClassViolation)" 65 \
    "$(grant_ldif g2 '' | ldap_rc)"
h_assert_eq "ldap: two syncdRole values rejected (SINGLE-VALUE)" 19 \
    "$(grant_ldif g3 $'syncdRole: unit_chair\nsyncdRole: city_admin' | ldap_rc)"
h_assert_eq "ldap: non-numeric syncdUnit rejected (invalidAttributeSyntax)" 21 \
    "$(grant_ldif g4 'syncdRole: unit_chair' | sed 's/^syncdUnit: 31120$/syncdUnit: 31A20/' | ldap_rc)"

# ------------------------------------------------------------ syncd.ldif (cn=config)

CFG=$H_TMP/ldap-config
mkdir -p "$CFG/slapd.d" "$CFG/data"
# A copy: an include: URL must not contain spaces or other unsafe characters.
cp "$ROOT/policies/ldap/syncd.ldif" "$CFG/syncd.ldif"
cat >"$CFG/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $CFG/slapd.pid
olcArgsFile: $CFG/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file://$CFG/syncd.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $B
olcRootDN: $H_LDAP_ROOTDN
olcRootPW: $H_LDAP_ROOTPW
olcDbDirectory: $CFG/data
olcDbMaxSize: 1073741824
EOF

CFG_URI=''
if /usr/sbin/slapadd -n0 -F "$CFG/slapd.d" -l "$CFG/config.ldif" >"$CFG/slapadd.log" 2>&1; then
    h_ok "ldif: slapadd -n0 of core/cosine/inetorgperson/nis + syncd.ldif"
    CFG_URI="ldap://127.0.0.1:$(h_freeport)/"
    "${SLAPD:-/usr/sbin/slapd}" -d none -h "$CFG_URI" -F "$CFG/slapd.d" \
        >"$CFG/slapd.log" 2>&1 </dev/null &
    CFG_PID=$!
    h_atexit_kill "$CFG_PID"
    for _ in $(seq 100); do
        LDAPNOINIT=1 ldapsearch -x -H "$CFG_URI" -b '' -s base >/dev/null 2>&1 && break
        h_pid_alive "$CFG_PID" || break
        sleep 0.1
    done
else
    h_fail "ldif: slapadd -n0 of core/cosine/inetorgperson/nis + syncd.ldif" \
        "$(tail -n 5 "$CFG/slapadd.log")"
fi

# The definitions as a server reports them, one per line, sorted.
syncd_schema_of() {
    LDAPNOINIT=1 ldapsearch -x -LLL -o ldif-wrap=no -H "$1" -b cn=Subschema -s base \
        '(objectClass=subschema)' attributeTypes objectClasses |
        grep -F "( $ARC." | sort
}

if [[ -n $CFG_URI ]] && LDAPNOINIT=1 ldapsearch -x -H "$CFG_URI" -b '' -s base >/dev/null 2>&1; then
    h_ok "ldif: cn=config slapd with syncd.ldif answers"
    from_schema=$(syncd_schema_of "$H_LDAP_URI")
    from_ldif=$(syncd_schema_of "$CFG_URI")
    h_assert_eq "schema: 15 attribute types + 2 object classes" 17 \
        "$(grep -c . <<<"$from_schema")"
    if [[ $from_schema == "$from_ldif" ]]; then
        h_ok "schema: syncd.schema and syncd.ldif define the same thing"
    else
        h_fail "schema: syncd.schema and syncd.ldif define the same thing" \
            "$(diff <(echo "$from_schema") <(echo "$from_ldif") || true)"
    fi
    # A grant is usable under the cn=config server too.
    {
        printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: cantho\no: Can Tho\n\n' "$B"
        printf 'dn: ou=units,%s\nobjectClass: organizationalUnit\nou: units\n\n' "$B"
        printf 'dn: ou=31120,ou=units,%s\nobjectClass: organizationalUnit\nobjectClass: syncdUnitObject\nou: 31120\nsyncdUnitCode: 31120\n\n' "$B"
        grant_ldif g1 'syncdRole: unit_chair'
    } >"$CFG/data.ldif"
    if out=$(LDAPNOINIT=1 ldapadd -x -H "$CFG_URI" -D "$H_LDAP_ROOTDN" -w "$H_LDAP_ROOTPW" \
        -f "$CFG/data.ldif" 2>&1); then
        h_ok "ldif: syncdGrant entry accepted by the cn=config slapd"
    else
        h_fail "ldif: syncdGrant entry accepted by the cn=config slapd" "$out"
    fi
    h_stop_pid "$CFG_PID"
else
    h_fail "ldif: cn=config slapd with syncd.ldif answers" "$(tail -n 5 "$CFG/slapd.log" 2>/dev/null)"
fi

h_slapd_stop
h_slapd_stop # idempotent
if LDAPNOINIT=1 ldapsearch -x -H "$H_LDAP_URI" -b '' -s base >/dev/null 2>&1; then
    h_fail "ldap: stopped" "slapd still answers"
else
    h_ok "ldap: stopped"
fi

# ------------------------------------------------------------ teardown

# Processes whose command line mentions DIR (zombies have none).
procs_in() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        [[ $cmd == *"$1"* ]] && echo "${p#/proc/} $cmd"
    done
    return 0
}

# STATE (written by a child harness): its temp dir, postmaster pid, slapd pid.
check_torn_down() {
    local name=$1 state=$2 tmp pgpid ldpid left p
    if [[ ! -s $state ]]; then
        h_fail "$name: child reported its state" "no $state"
        return 0
    fi
    read -r tmp pgpid ldpid <"$state"
    h_assert_eq "$name: temp dir removed" gone "$([[ -e $tmp ]] && echo present || echo gone)"
    left=$(procs_in "$tmp")
    for p in "$pgpid" "$ldpid"; do
        if h_pid_alive "$p"; then left+=" pid $p alive"; fi
    done
    h_assert_eq "$name: no postgres/slapd left" "" "$left"
}

# The child harness: start both servers, report, then fail or wait for a
# signal, depending on $1.
cat >"$H_TMP/child.sh" <<'EOF'
set -euo pipefail
. "$1/tests/harness/lib.sh"
h_init
h_pg_start
h_slapd_start
echo "$H_TMP $(head -n1 "$H_PG_DATA/postmaster.pid") $(cat "$H_LDAP_DIR/slapd.pid")" >"$2.tmp"
mv "$2.tmp" "$2"
if [[ $3 == fail ]]; then
    false # set -e ends the test here, like a failing check would
    echo "not reached"
fi
while :; do sleep 0.2; done
EOF

# A test that fails under set -e.
rc=0
bash "$H_TMP/child.sh" "$ROOT" "$H_TMP/state.fail" fail >"$H_TMP/child.fail.log" 2>&1 || rc=$?
h_assert_eq "teardown on failure: exit status kept" 1 "$rc"
check_torn_down "teardown on failure" "$H_TMP/state.fail"

# A test that is killed (TERM) while its servers run.
bash "$H_TMP/child.sh" "$ROOT" "$H_TMP/state.term" wait >"$H_TMP/child.term.log" 2>&1 &
child=$!
h_atexit_kill "$child"
for _ in $(seq 300); do
    [[ -s $H_TMP/state.term ]] && break
    sleep 0.1
done
kill -TERM "$child"
rc=0
wait "$child" || rc=$?
h_assert_eq "teardown on SIGTERM: exit status 143" 143 "$rc"
check_torn_down "teardown on SIGTERM" "$H_TMP/state.term"

# A subshell of this test that exits normally (its own h_init and trap).
state=$H_TMP/state.ok
(
    h_init
    h_pg_start
    h_slapd_start
    h_atexit "h_psql -c 'SELECT 1' >'$state.atexit'" # runs while PG is still up
    echo "$H_TMP $(head -n1 "$H_PG_DATA/postmaster.pid") $(cat "$H_LDAP_DIR/slapd.pid")" \
        >"$state"
)
h_ok "teardown on normal exit: subshell exited 0"
h_assert_eq "teardown: h_atexit ran before the servers stopped" 1 "$(cat "$state.atexit")"
check_torn_down "teardown on normal exit" "$state"

h_summary
