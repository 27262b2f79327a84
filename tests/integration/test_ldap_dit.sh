#!/usr/bin/env bash
# Integration test of syncd's directory: the committed skeleton
# (policies/ldap/example-dit.ldif) is what scripts/gen-dit.sh makes of the
# units CSV and loads; the shipped ACLs (syncd-acl.conf, syncd-acl.ldif) let
# only the service DN write grants, let people read nothing but their own
# entry, and give anonymous nothing; and the cn=config files load into a
# cn=config slapd the way docs/operations.md says, with the same effect.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$ROOT/tests/harness/lib.sh"

export LC_ALL=C
CSV=$ROOT/policies/units/cantho_new_units.csv
DIT=$ROOT/policies/ldap/example-dit.ldif

h_init
h_slapd_start --dit
B=$H_LDAP_BASE
SVC=$H_LDAP_SVC_DN

# ------------------------------------------------------------ helpers

# Each value of attribute $1 in (unwrapped) LDIF on stdin, base64 decoded.
ldif_vals() {
    local line a=${1,,}
    while IFS= read -r line; do
        case ${line,,} in
        "$a:: "*) base64 -d <<<"${line#*:: }" && echo ;;
        "$a: "*) printf '%s\n' "${line#*: }" ;;
        "$a:") echo ;;
        esac
    done
}

# Run an ldap tool against URI as DN/PASSWORD ('' '' = anonymous).
ldap_as() { # URI DN PW TOOL ARGS...
    local uri=$1 dn=$2 pw=$3 tool=$4
    shift 4
    if [[ -z $dn ]]; then
        LDAPNOINIT=1 "$tool" -x -H "$uri" "$@"
    else
        LDAPNOINIT=1 "$tool" -x -H "$uri" -D "$dn" -w "$pw" "$@"
    fi
}

# Exit status of a command (= the LDAP result code for ldap tools); stdin
# passes through, output is dropped.
rc_of() {
    local rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    echo "$rc"
}

grant_ldif() { # CN UNIT GRANTEE-UUID
    cat <<EOF
dn: cn=$1,ou=$2,ou=units,$B
objectClass: syncdGrant
cn: $1
syncdGrantId: $1
syncdGrantee: uid=an.nguyen,ou=people,$B
syncdGranteeUUID: $3
syncdRole: unit_chair
syncdUnit: $2
syncdGrantor: uid=city.admin,ou=people,$B
syncdNotBefore: 20250701000000Z
syncdNotAfter: 20261231235959Z
syncdDepth: 1
syncdCreated: 20250701000000Z
EOF
}

# The access rules, checked against the slapd at URI whose service DN has
# password SVCPW; LABEL tells the two servers apart.  Adds two people.
acl_checks() { # LABEL URI SVCPW
    local L=$1 uri=$2 svcpw=$3 uuid out
    local an="uid=an.nguyen,ou=people,$B" adm="uid=city.admin,ou=people,$B"
    local grants="ou=units,$B"
    H_LDAP_URI=$uri h_ldap_user an.nguyen an-secret 'Nguyễn Văn An'
    H_LDAP_URI=$uri h_ldap_user city.admin admin-secret 'Trần Thị Bình'
    H_LDAP_URI=$uri h_ldap_group_add city_admin city.admin

    # The service DN: reads people (entryUUID), groups; writes grants only.
    uuid=$(ldap_as "$uri" "$SVC" "$svcpw" ldapsearch -LLL -o ldif-wrap=no \
        -b "ou=people,$B" '(uid=an.nguyen)' entryUUID | ldif_vals entryUUID)
    h_assert_eq "$L: service reads a person's entryUUID" \
        "$(H_LDAP_URI=$uri h_ldapsearch -b "$an" -s base entryUUID | ldif_vals entryUUID)" \
        "${uuid:-none}"
    out=$(ldap_as "$uri" "$SVC" "$svcpw" ldapsearch -LLL -o ldif-wrap=no \
        -b "ou=people,$B" '(uid=an.nguyen)' userPassword cn)
    h_assert_eq "$L: service reads cn but not userPassword" 'Nguyễn Văn An|' \
        "$(ldif_vals cn <<<"$out")|$(ldif_vals userPassword <<<"$out")"
    h_assert_eq "$L: service reads cn=city_admin members" "|$adm" \
        "$(ldap_as "$uri" "$SVC" "$svcpw" ldapsearch -LLL -o ldif-wrap=no \
            -b "cn=city_admin,ou=roles,$B" -s base member | ldif_vals member | paste -sd'|')"
    h_assert_eq "$L: service adds a syncdGrant" 0 \
        "$(grant_ldif g1 31120 "$uuid" | rc_of ldap_as "$uri" "$SVC" "$svcpw" ldapadd)"
    h_assert_eq "$L: service modifies a syncdGrant" 0 \
        "$(printf 'dn: cn=g1,ou=31120,%s\nchangetype: modify\nreplace: syncdRevoked\nsyncdRevoked: TRUE\n' \
            "$grants" | rc_of ldap_as "$uri" "$SVC" "$svcpw" ldapmodify)"
    h_assert_eq "$L: service reads the grant back" TRUE \
        "$(ldap_as "$uri" "$SVC" "$svcpw" ldapsearch -LLL -b "$grants" \
            '(&(objectClass=syncdGrant)(syncdGrantId=g1))' syncdRevoked | ldif_vals syncdRevoked)"
    h_assert_eq "$L: service may not add to cn=city_admin (insufficientAccess)" 50 \
        "$(printf 'dn: cn=city_admin,ou=roles,%s\nchangetype: modify\nadd: member\nmember: %s\n' \
            "$B" "$SVC" | rc_of ldap_as "$uri" "$SVC" "$svcpw" ldapmodify)"
    h_assert_eq "$L: service may not modify a person" 50 \
        "$(printf 'dn: %s\nchangetype: modify\nreplace: sn\nsn: X\n' "$an" |
            rc_of ldap_as "$uri" "$SVC" "$svcpw" ldapmodify)"
    # ldappasswd exits 1 whatever the result: look at its message.
    h_assert_eq "$L: service may not set a person's password" 'Insufficient access (50)' \
        "$(ldap_as "$uri" "$SVC" "$svcpw" ldappasswd -s stolen "$an" 2>&1 |
            grep -o 'Insufficient access (50)' || true)"
    h_assert_eq "$L: the person's password is unchanged" "dn:$an" \
        "$(ldap_as "$uri" "$an" an-secret ldapwhoami 2>&1)"

    # A person bound as themselves: own entry only, no grants, no groups.
    h_assert_eq "$L: person reads own entry" 'Nguyễn Văn An' \
        "$(ldap_as "$uri" "$an" an-secret ldapsearch -LLL -o ldif-wrap=no \
            -b "$an" -s base cn | ldif_vals cn)"
    h_assert_eq "$L: person does not read others" '' \
        "$(ldap_as "$uri" "$an" an-secret ldapsearch -LLL -b "$B" \
            '(uid=city.admin)' dn 2>/dev/null || true)"
    h_assert_eq "$L: person does not read grants" '' \
        "$(ldap_as "$uri" "$an" an-secret ldapsearch -LLL -b "$grants" \
            '(objectClass=syncdGrant)' dn 2>/dev/null || true)"
    h_assert_eq "$L: person cannot add a syncdGrant (insufficientAccess)" 50 \
        "$(grant_ldif g2 31120 "$uuid" | rc_of ldap_as "$uri" "$an" an-secret ldapadd)"
    h_assert_eq "$L: person cannot add themselves to cn=city_admin" 50 \
        "$(printf 'dn: cn=city_admin,ou=roles,%s\nchangetype: modify\nadd: member\nmember: %s\n' \
            "$B" "$an" | rc_of ldap_as "$uri" "$an" an-secret ldapmodify)"
    h_assert_eq "$L: person cannot change own cn" 50 \
        "$(printf 'dn: %s\nchangetype: modify\nreplace: cn\ncn: Boss\n' "$an" |
            rc_of ldap_as "$uri" "$an" an-secret ldapmodify)"
    h_assert_eq "$L: city_admin member cannot add a grant either" 50 \
        "$(grant_ldif g3 31120 "$uuid" | rc_of ldap_as "$uri" "$adm" admin-secret ldapadd)"
    h_assert_eq "$L: person cannot revoke a grant" 50 \
        "$(rc_of ldap_as "$uri" "$adm" admin-secret ldapdelete "cn=g1,ou=31120,$grants")"

    # Anonymous: bind only.
    h_assert_eq "$L: anonymous reads no grants" '' \
        "$(ldap_as "$uri" '' '' ldapsearch -LLL -b "$grants" \
            '(objectClass=syncdGrant)' dn 2>/dev/null || true)"
    h_assert_eq "$L: anonymous reads nothing in the tree" '' \
        "$(ldap_as "$uri" '' '' ldapsearch -LLL -b "$B" '(objectClass=*)' dn 2>/dev/null || true)"
    # slapd refuses an anonymous write before the ACLs: strongerAuthRequired.
    h_assert_eq "$L: anonymous cannot add a grant" 8 \
        "$(grant_ldif g4 31120 "$uuid" | rc_of ldap_as "$uri" '' '' ldapadd)"
    h_assert_eq "$L: wrong password refused (invalidCredentials)" 49 \
        "$(rc_of ldap_as "$uri" "$an" wrong ldapwhoami)"

    # The service deletes the grant; a person changes their own password.
    h_assert_eq "$L: service deletes a syncdGrant" 0 \
        "$(rc_of ldap_as "$uri" "$SVC" "$svcpw" ldapdelete "cn=g1,ou=31120,$grants")"
    h_assert_eq "$L: grant gone" 32 \
        "$(H_LDAP_URI=$uri rc_of h_ldapsearch -b "cn=g1,ou=31120,$grants" -s base)"
    h_assert_eq "$L: person changes own password" 0 \
        "$(rc_of ldap_as "$uri" "$an" an-secret ldappasswd -a an-secret -s an-secret2)"
    h_assert_eq "$L: person binds with the new password" "dn:$an" \
        "$(ldap_as "$uri" "$an" an-secret2 ldapwhoami 2>&1)"
}

# ------------------------------------------------------------ the skeleton

if out=$(diff -u "$DIT" <("$ROOT/scripts/gen-dit.sh") 2>&1); then
    h_ok "dit: committed example-dit.ldif = scripts/gen-dit.sh output"
else
    h_fail "dit: committed example-dit.ldif = scripts/gen-dit.sh output" \
        "$(head -n 20 <<<"$out")"
fi
h_assert_eq "dit: the base entry is not in the file" 0 \
    "$(grep -c "^dn: $B\$" "$DIT" || true)"
h_assert_eq "dit: no userPassword but the locked placeholder" 'userPassword: {CRYPT}!' \
    "$(grep -i '^userPassword' "$DIT")"
h_assert_eq "gen-dit.sh: another base DN" 103 \
    "$("$ROOT/scripts/gen-dit.sh" "$CSV" dc=example,dc=vn | grep -c '^dn: ou=[0-9]*,ou=units,dc=example,dc=vn$')"
h_assert_eq "gen-dit.sh: unreadable CSV refused" 2 \
    "$(rc_of "$ROOT/scripts/gen-dit.sh" "$H_TMP/absent.csv")"
printf 'new_code,new_name\n3112x,Bad\n' >"$H_TMP/bad.csv"
h_assert_eq "gen-dit.sh: bad unit code refused" 1 \
    "$(rc_of "$ROOT/scripts/gen-dit.sh" "$H_TMP/bad.csv")"

units=$(h_ldapsearch -b "ou=units,$B" -s one '(objectClass=syncdUnitObject)' \
    syncdUnitCode syncdUnitName)
h_assert_eq "dit: 103 unit entries" 103 "$(grep -c '^dn: ' <<<"$units")"
want=$(tail -n +2 "$CSV" | tr -d '\r' | awk -F, '{ print $1 " " $4 }' | sort)
got=$(paste -d' ' <(ldif_vals syncdUnitCode <<<"$units") \
    <(ldif_vals syncdUnitName <<<"$units") | sort)
if [[ $got == "$want" ]]; then
    h_ok "dit: unit codes and UTF-8 names = the CSV"
else
    h_fail "dit: unit codes and UTF-8 names = the CSV" \
        "$(diff <(echo "$want") <(echo "$got") | head -n 10)"
fi
h_assert_eq "dit: unit RDN = its code" 0 \
    "$(grep '^dn: ' <<<"$units" | grep -vc '^dn: ou=[0-9]\{5\},ou=units,' || true)"
for g in city_admin city_auditor; do
    h_assert_eq "dit: role group cn=$g" "dn: cn=$g,ou=roles,$B" \
        "$(h_ldapsearch -b "cn=$g,ou=roles,$B" -s base '(objectClass=groupOfNames)' 1.1)"
done
h_assert_eq "dit: ou=people, ou=services exist" 2 \
    "$(h_ldapsearch -b "$B" -s one '(|(ou=people)(ou=services))' 1.1 | grep -c '^dn: ')"

# ------------------------------------------------------------ harness

h_assert_eq "harness: H_LDAP_SVC_DN" "cn=syncd,ou=services,$B" "$SVC"
h_assert_eq "harness: service binds with H_LDAP_SVC_PW" "dn:$SVC" \
    "$(ldap_as "$H_LDAP_URI" "$SVC" "$H_LDAP_SVC_PW" ldapwhoami 2>&1)"
h_assert_eq "harness: svc.pw = H_LDAP_SVC_PW, mode 600, no newline" \
    "$H_TMP/ldap/svc.pw 600 $H_LDAP_SVC_PW" \
    "$H_LDAP_SVC_PWFILE $(stat -c %a "$H_TMP/ldap/svc.pw") $(cat "$H_TMP/ldap/svc.pw")"
h_assert_eq "harness: svc.pw has no trailing newline" 0 \
    "$(tail -c 1 "$H_TMP/ldap/svc.pw" | grep -c '^$' || true)"
h_assert_eq "harness: the password is stored hashed" '{SSHA}' \
    "$(h_ldapsearch -b "$SVC" -s base userPassword | ldif_vals userPassword | cut -c1-6)"
h_assert_eq "harness: h_ldap_user rejects an empty password" 1 \
    "$(rc_of h_ldap_user nobody '')"
h_assert_eq "harness: h_ldap_user rejects a DN-unsafe uid" 1 \
    "$(rc_of h_ldap_user 'a,ou=roles' pw)"

# ------------------------------------------------------------ ACLs, slapd.conf

acl_checks "acl(conf)" "$H_LDAP_URI" "$H_LDAP_SVC_PW"

port=$H_LDAP_PORT
h_slapd_restart
h_assert_eq "harness: restart keeps the port" "$port" "$H_LDAP_PORT"
h_assert_eq "harness: restart keeps data and the service password" "dn:$SVC" \
    "$(ldap_as "$H_LDAP_URI" "$SVC" "$H_LDAP_SVC_PW" ldapwhoami 2>&1)"
h_ldap_user_delete an.nguyen
h_assert_eq "harness: h_ldap_user_delete, the person can no longer bind" 49 \
    "$(rc_of ldap_as "$H_LDAP_URI" "uid=an.nguyen,ou=people,$B" an-secret2 ldapwhoami)"
h_assert_eq "harness: h_ldap_user_delete of an absent user fails (noSuchObject)" 32 \
    "$(rc_of h_ldap_user_delete an.nguyen)"

# ------------------------------------------------------------ cn=config

# A second slapd configured through cn=config, loaded like production: the
# schema and the ACLs over ldapi:// with SASL EXTERNAL (as this user), on a
# database that starts with Debian's default indexes and access rules.
CFG=$H_TMP/ldap-config
mkdir -p "$CFG/slapd.d" "$CFG/data"
ME="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"
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

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=$ME manage by * break

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $B
olcRootDN: $H_LDAP_ROOTDN
olcRootPW: $(_h_ldap_hash "$H_LDAP_ROOTPW")
olcDbDirectory: $CFG/data
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: cn,uid eq
olcDbIndex: member,memberUid eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to attrs=shadowLastChange by self write by * read
olcAccess: {2}to * by * read
EOF

cfg_ok=0
if out=$(/usr/sbin/slapadd -n0 -F "$CFG/slapd.d" -l "$CFG/config.ldif" 2>&1); then
    CFG_PORT=$(h_freeport)
    CFG_URI="ldap://127.0.0.1:$CFG_PORT/"
    CFG_LDAPI="ldapi://${CFG//\//%2F}%2Fldapi"
    "${SLAPD:-/usr/sbin/slapd}" -d none -h "$CFG_URI $CFG_LDAPI" -F "$CFG/slapd.d" \
        >"$CFG/slapd.log" 2>&1 </dev/null &
    CFG_PID=$!
    h_atexit_kill "$CFG_PID"
    for _ in $(seq 300); do
        h_pid_alive "$CFG_PID" || break
        if LDAPNOINIT=1 ldapsearch -x -H "$CFG_URI" -b '' -s base >/dev/null 2>&1; then
            cfg_ok=1
            break
        fi
        sleep 0.1
    done
fi
if [[ $cfg_ok -eq 1 ]]; then
    h_ok "cn=config: slapd from slapadd -n0 answers"
else
    h_fail "cn=config: slapd from slapadd -n0 answers" \
        "${out:-}$(tail -n 5 "$CFG/slapd.log" 2>/dev/null)"
fi

if [[ $cfg_ok -eq 1 ]]; then
    ext() { LDAPNOINIT=1 "$1" -Y EXTERNAL -Q -H "$CFG_LDAPI" "${@:2}"; }
    # The commands of docs/operations.md, files as shipped.
    if out=$(ext ldapadd -f "$ROOT/policies/ldap/syncd.ldif" 2>&1); then
        h_ok "cn=config: ldapadd -Y EXTERNAL -f syncd.ldif"
    else
        h_fail "cn=config: ldapadd -Y EXTERNAL -f syncd.ldif" "$out"
    fi
    if out=$(ext ldapmodify -f "$ROOT/policies/ldap/syncd-acl.ldif" 2>&1); then
        h_ok "cn=config: ldapmodify -Y EXTERNAL -f syncd-acl.ldif"
    else
        h_fail "cn=config: ldapmodify -Y EXTERNAL -f syncd-acl.ldif" "$out"
    fi
    # The index block of docs/operations.md.
    if out=$(ext ldapmodify 2>&1 <<EOF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: entryUUID eq
olcDbIndex: syncdUnitCode eq
olcDbIndex: syncdGrantId eq
olcDbIndex: syncdGrantee,syncdGranteeUUID,syncdGrantorUUID eq
olcDbIndex: syncdRole,syncdUnit,syncdParentGrant eq
EOF
    ); then
        h_ok "cn=config: olcDbIndex for syncd added"
    else
        h_fail "cn=config: olcDbIndex for syncd added" "$out"
    fi
    # "replace": Debian's "to * by * read" is gone, only syncd's 3 rules left.
    h_assert_eq "cn=config: olcAccess replaced by syncd's 3 rules" \
        '{0}to attrs=userPassword by self =wx by anonymous auth by * none|{1}to dn.subtree="ou=units,dc=cantho,dc=gov,dc=vn" by dn.exact="cn=syncd,ou=services,dc=cantho,dc=gov,dc=vn" write by * none|{2}to * by dn.exact="cn=syncd,ou=services,dc=cantho,dc=gov,dc=vn" read by self read by * none' \
        "$(ext ldapsearch -LLL -o ldif-wrap=no -b 'olcDatabase={1}mdb,cn=config' -s base olcAccess |
            ldif_vals olcAccess | sed 's/  */ /g' | paste -sd'|')"

    # Skeleton as the rootdn; the service password is still the placeholder.
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: cantho\no: Can Tho\n' "$B" |
        H_LDAP_URI=$CFG_URI h_ldapadd >/dev/null
    h_assert_eq "cn=config: example-dit.ldif loads" 0 \
        "$(H_LDAP_URI=$CFG_URI rc_of h_ldapadd -f "$DIT")"
    for pw in '!' '*' '{CRYPT}!' x; do
        h_assert_eq "cn=config: placeholder password rejects '$pw'" 49 \
            "$(rc_of ldap_as "$CFG_URI" "$SVC" "$pw" ldapwhoami)"
    done
    h_assert_eq "cn=config: ldappasswd sets the service password" 0 \
        "$(rc_of ldap_as "$CFG_URI" "$H_LDAP_ROOTDN" "$H_LDAP_ROOTPW" ldappasswd -s cfg-svc-pw "$SVC")"
    acl_checks "acl(cn=config)" "$CFG_URI" cfg-svc-pw
    h_stop_pid "$CFG_PID"
fi

h_summary
