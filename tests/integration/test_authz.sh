#!/bin/bash
# LDAP role delegation (issue 4), against a real slapd with the project's
# schema, skeleton and ACLs, through syncd's HTTP API and syncctl:
# the allowed path city_admin -> unit_chair -> civil_registrar, a table of
# escalation attempts each refused with its own reason, revocation (through
# syncd: at once; directly in LDAP: after cache_ttl), and slapd stopped
# (deny, 503) and back (recovered without a restart).
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 3
SYNCCTL=$H_BUILD/syncctl
B=$H_LDAP_BASE

h_ldap_users "Nguyễn Văn" admin1 admin2 chair1 chair2 chair3 chair4 chair5 reg1 reg2 off1 mallory aud1
h_ldap_group_add city_admin admin1
h_ldap_group_add city_admin admin2
h_ldap_group_add city_auditor aud1

API=http://127.0.0.1:$H_API_PORT
h_syncd_start || true
pid=$H_SYNCD_PID
h_assert_eq "the API answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/healthz")"

# api USER METHOD PATH [JSON]: the body goes to $H_TMP/body, the status to stdout
api() {
    local user=$1 method=$2 path=$3 data=${4:-}
    local args=(-s -o "$H_TMP/body" -w '%{http_code}' -X "$method" -u "$user:pw-$user-secret")
    [[ -z $data ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
    curl "${args[@]}" "$API$path"
}
field() { jq -r "$1" "$H_TMP/body"; }
grant() { # grant GRANTOR GRANTEE ROLE UNIT [EXTRA-JSON]
    api "$1" POST /v1/grants "{\"grantee\":\"$2\",\"role\":\"$3\",\"unit\":\"$4\"${5:+,$5}}"
}
iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---------------------------------------------------------------- the allowed path
h_assert_eq "city admin grants unit_chair of 31120 (201)" 201 \
    "$(grant admin1 chair1 unit_chair 31120 '"may_delegate":1')"
chair1_grant=$(field .id)
h_assert_eq "the stored grant names its grantor" admin1 "$(field .grantor)"
h_assert_eq "a grant from city level has no parent" null "$(field .parent)"
na=$(field .not_after)
[[ ${na:0:10} == $(date -u -d "+1826 days" +%F) || ${na:0:10} == $(date -u -d "+1825 days" +%F) ]] &&
    h_ok "unit_chair lasts its role's maximum by default" || h_fail "default duration" "$na"
export SYNCCTL_URL=$API
printf 'pw-chair1-secret' >"$H_TMP/chair1.pw"
chmod 600 "$H_TMP/chair1.pw"
out=$(SYNCCTL_PASSWORD_FILE=$H_TMP/chair1.pw "$SYNCCTL" -u chair1 grant --user reg1 --role civil_registrar \
    --unit 31120 --not-after +100d 2>&1) && rc=0 || rc=$?
h_assert_eq "chair re-delegates civil_registrar with syncctl (exit 0)" 0 "$rc"
reg1_grant=$(sed -n 's/^granted \([0-9a-f]*\):.*/\1/p' <<<"$out")
[[ -n $reg1_grant ]] && h_ok "syncctl prints the new grant's id" || h_fail "syncctl grant output" "$out"
h_assert_eq "registrar checks own civil.extract.issue in 31120" 200 \
    "$(api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120')"
h_assert_eq "... allowed" allow "$(field .decision)"
h_assert_eq "... through the grant chain registrar <- chair" "$reg1_grant $chair1_grant" "$(field '[.chain[].id] | join(" ")')"
api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31135' >/dev/null
h_assert_eq "the same action in another unit is denied" "deny no_grant" "$(field '.decision + " " + .reason')"
api reg1 GET '/v1/authz/check?user=reg1&action=land.extract.issue&unit=31120' >/dev/null
h_assert_eq "another domain's action in the unit is denied" deny "$(field .decision)"
out=$(SYNCCTL_PASSWORD_FILE=$H_TMP/chair1.pw "$SYNCCTL" -u chair1 check --user reg1 --action civil.extract.issue --unit 31120 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl check by the chair: allow (exit 0)" 0 "$rc"
out=$(SYNCCTL_PASSWORD_FILE=$H_TMP/chair1.pw "$SYNCCTL" -u chair1 --json grants --unit 31120 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl grants --json lists the unit's two grants" 2 "$(jq '.grants | length' <<<"$out" 2>/dev/null || echo "$out")"
h_assert_eq "a city auditor may list a unit's grants" 200 "$(api aud1 GET '/v1/grants?unit=31120')"

# ---------------------------------------------------------------- escalation attempts
# setup for some rows: a chair with depth 0, an expired and a future chair
grant admin1 chair2 unit_chair 31135 "\"may_delegate\":1,\"not_after\":\"$(iso '+30 days')\"" >/dev/null
grant admin1 chair3 unit_chair 31120 '"may_delegate":0' >/dev/null
grant admin1 chair4 unit_chair 31147 "\"may_delegate\":1,\"not_after\":\"$(iso '+3 seconds')\"" >/dev/null
grant admin1 chair5 unit_chair 31150 "\"may_delegate\":1,\"not_before\":\"$(iso '+1 day')\"" >/dev/null
grant admin1 off1 land_officer 31120 >/dev/null
sleep 4 # chair4's grant has expired

# expect STATUS ERROR-CODE LABEL -- GRANTOR METHOD PATH [JSON]
expect() {
    local want_status=$1 want_code=$2 label=$3 status
    shift 4
    status=$(api "$@")
    if [[ $status == "$want_status" && $(field .error) == "$want_code" ]]; then
        h_ok "refused: $label ($status $want_code)"
    else
        h_fail "refused: $label" "got $status $(cat "$H_TMP/body"), want $want_status $want_code"
    fi
}
g() { echo "{\"grantee\":\"$1\",\"role\":\"$2\",\"unit\":\"$3\"${4:+,$4}}"; }
expect 403 no_authority "grant in another unit" -- chair1 POST /v1/grants "$(g reg2 civil_registrar 31135)"
expect 403 role_not_grantable "a role not in the grantor's list" -- chair1 POST /v1/grants "$(g reg2 unit_chair 31120)"
expect 403 outlives_grantor_grant "longer than the grantor's own grant" -- chair2 POST /v1/grants \
    "$(g reg2 civil_registrar 31135 "\"not_after\":\"$(iso '+60 days')\"")"
expect 403 self_grant "self-grant" -- chair1 POST /v1/grants "$(g chair1 land_officer 31120)"
expect 403 delegation_depth_exhausted "re-delegation past the depth" -- chair3 POST /v1/grants "$(g reg2 civil_registrar 31120)"
expect 403 no_authority "re-delegation by a role that grants nothing" -- reg1 POST /v1/grants "$(g reg2 civil_registrar 31120)"
expect 400 unknown_unit "a unit that does not exist" -- admin1 POST /v1/grants "$(g reg2 civil_registrar 99999)"
expect 400 unknown_unit "a pre-2025 unit code" -- admin1 POST /v1/grants "$(g reg2 civil_registrar 31117)"
expect 400 unknown_user "a user that does not exist" -- admin1 POST /v1/grants "$(g ghost civil_registrar 31120)"
expect 403 grantor_grant_invalid "grant by an expired grantor" -- chair4 POST /v1/grants "$(g reg2 civil_registrar 31147)"
expect 403 grantor_grant_invalid "grant by a not-yet-valid grantor" -- chair5 POST /v1/grants "$(g reg2 civil_registrar 31150)"
expect 403 role_not_grantable "a chair granting unit_auditor" -- chair1 POST /v1/grants "$(g reg2 unit_auditor 31120)"
expect 400 bad_request "may_delegate above what the role allows" -- admin1 POST /v1/grants \
    "$(g reg2 land_officer 31120 '"may_delegate":1')"
h_assert_eq "... naming the asked depth and the role's maximum" \
    "bad_request (may_delegate 1 is above the role's maximum 0)" "$(field .message)"
expect 400 bad_request "may_delegate above unit_chair's maximum" -- admin1 POST /v1/grants \
    "$(g reg2 unit_chair 31120 '"may_delegate":2')"
expect 400 bad_request "a chair passing on more depth than the role has" -- chair1 POST /v1/grants \
    "$(g reg2 civil_registrar 31120 '"may_delegate":1')"
expect 400 exceeds_role_max_duration "longer than the role's maximum" -- admin1 POST /v1/grants \
    "$(g reg2 land_officer 31120 "\"not_after\":\"$(iso '+800 days')\"")"
expect 403 role_not_grantable "a city role through the API" -- admin1 POST /v1/grants "$(g reg2 city_admin 31120)"
expect 400 unknown_role "a role that does not exist" -- admin1 POST /v1/grants "$(g reg2 superuser 31120)"
expect 400 unknown_user "filter injection in the grantee: *)(uid=*" -- admin1 POST /v1/grants "$(g '*)(uid=*' civil_registrar 31120)"
expect 400 unknown_user "filter injection in the grantee: a NUL escape" -- admin1 POST /v1/grants "$(g 'reg2\\00' civil_registrar 31120)"
expect 400 unknown_user "parentheses in the grantee" -- admin1 POST /v1/grants "$(g 'reg2)(objectClass=*' civil_registrar 31120)"
expect 400 unknown_user "a non-ASCII grantee" -- admin1 POST /v1/grants "$(g 'người' civil_registrar 31120)"
expect 400 unknown_user "DN injection in the grantee" -- admin1 POST /v1/grants \
    "$(g "reg2,ou=people,$B" civil_registrar 31120)"
expect 400 unknown_user "a full DN as the grantee" -- admin1 POST /v1/grants "$(g "uid=reg2,ou=people,$B" civil_registrar 31120)"
expect 403 no_authority "an officer granting" -- off1 POST /v1/grants "$(g reg2 land_officer 31120)"
expect 403 forbidden "checking someone else's rights without grant.manage" -- reg1 GET \
    '/v1/authz/check?user=chair1&action=grant.manage&unit=31120'
expect 403 no_authority "an officer revoking the chair's grant" -- off1 DELETE "/v1/grants/$chair1_grant"
expect 400 bad_request "an unknown field" -- admin1 POST /v1/grants "$(g reg2 land_officer 31120 '"admin":true')"
expect 400 bad_request "a body that is not JSON" -- admin1 POST /v1/grants '{"grantee":'
h_assert_eq "the refusals left no grant for reg2" 0 \
    "$(h_ldapsearch -b "ou=units,$B" "(syncdGrantee=uid=reg2,ou=people,$B)" dn | grep -c '^dn:' || true)"

# one person, one name: a login in another spelling is the same person
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u ' CHAIR2 :pw-chair2-secret' "$API/v1/grants?grantee=chair2")
h_assert_eq "a login as ' CHAIR2 ' lists chair2's own grants (same person)" 200 "$status"
api admin1 GET '/v1/authz/check?user=%20Chair2%20&action=grant.manage&unit=31135' >/dev/null
h_assert_eq "a decision for ' Chair2 ' is chair2's" "allow grant" "$(field '.decision + " " + .reason')"
expect 403 self_grant "a self-grant under another spelling" -- admin1 POST /v1/grants "$(g ' ADMIN1' land_officer 31120)"

# filter injection in a login and in a decision's user
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u '*:pw-admin1-secret' "$API/v1/grants?unit=31120")
h_assert_eq "login as uid '*' is refused" 401 "$status"
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u 'admin1)(uid=*:pw-admin1-secret' "$API/v1/grants?unit=31120")
h_assert_eq "login with a filter in the uid is refused" 401 "$status"
api admin1 GET "/v1/authz/check?user=$(jq -rn --arg v '*)(uid=*' '$v|@uri')&action=grant.manage&unit=31120" >/dev/null
h_assert_eq "a decision for user '*)(uid=*' is a deny" "deny unknown_user" "$(field '.decision + " " + .reason')"
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u 'chair1:' "$API/v1/grants?unit=31120")
h_assert_eq "an empty password is refused (never an anonymous bind)" 401 "$status"
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u 'chair1:wrong' "$API/v1/grants?unit=31120")
h_assert_eq "a wrong password is refused" 401 "$status"
h_assert_eq "the refusal is JSON with its reason" unauthenticated "$(field .error)"
status=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/grants?unit=31120")
h_assert_eq "no credentials: 401" 401 "$status"
id=$(curl -s -D - -o /dev/null -H 'X-Request-Id: abc-123' "$API/nope" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')
h_assert_eq "the request id comes back in a header" abc-123 "$id"
grep -q 'req=abc-123' "$H_TMP/daemon.log" && h_ok "the request id is on the log line" ||
    h_fail "request id in the log" "$(tail -5 "$H_TMP/daemon.log")"
status=$(head -c 70000 /dev/zero | tr '\0' a | curl -s -o "$H_TMP/body" -w '%{http_code}' -u admin1:pw-admin1-secret \
    --data-binary @- "$API/v1/grants")
h_assert_eq "an oversized body is refused" 413 "$status"

# a person cannot bypass syncd by writing a grant into LDAP
rc=0
LDAPNOINIT=1 ldapadd -x -H "$H_LDAP_URI" -D "uid=chair1,ou=people,$B" -w pw-chair1-secret >/dev/null 2>&1 <<EOF2 || rc=$?
dn: cn=forged,ou=31120,ou=units,$B
objectClass: syncdGrant
cn: forged
syncdGrantee: uid=mallory,ou=people,$B
syncdGranteeUUID: 00000000-0000-0000-0000-000000000000
syncdRole: land_officer
syncdUnit: 31120
syncdGrantor: uid=chair1,ou=people,$B
syncdNotBefore: 20250101000000Z
syncdNotAfter: 20300101000000Z
syncdDepth: 0
syncdCreated: 20250101000000Z
EOF2
h_assert_eq "a user's direct LDAP write of a grant is refused (insufficient access)" 50 "$rc"

# ---------------------------------------------------------------- a re-created account inherits nothing
grant admin1 reg2 civil_registrar 31135 >/dev/null
api reg2 GET '/v1/authz/check?user=reg2&action=civil.record.read&unit=31135' >/dev/null
h_assert_eq "reg2 may read civil records in 31135" allow "$(field .decision)"
h_ldap_user_delete reg2
h_ldap_user reg2 pw-reg2-secret "Trần Thị reg2"
sleep 3.5 # a change made in LDAP itself is seen once cache_ttl has passed
api reg2 GET '/v1/authz/check?user=reg2&action=civil.record.read&unit=31135' >/dev/null
h_assert_eq "the re-created reg2 (same DN) inherits nothing" deny "$(field .decision)"
[[ $(field .reason) == grant_for_previous_account* ]] && h_ok "... with reason grant_for_previous_account" ||
    h_fail "re-created account reason" "$(field .reason)"

# ---------------------------------------------------------------- revocation
api chair1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120' >/dev/null
h_assert_eq "before the revocation: allow (and cached)" allow "$(field .decision)"
h_assert_eq "city admin revokes the chair's grant (204)" 204 "$(api admin1 DELETE "/v1/grants/$chair1_grant")"
api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120' >/dev/null
h_assert_eq "the very next decision for the registrar is a deny" deny "$(field .decision)"
[[ $(field .reason) == "parent_grant_invalid: grant_revoked (grant $chair1_grant)" ]] &&
    h_ok "the cascade names the revoked parent" || h_fail "cascade reason" "$(field .reason)"
expect 409 already_revoked "revoking twice" -- admin1 DELETE "/v1/grants/$chair1_grant"
expect 404 unknown_grant "revoking a grant id that does not exist" -- admin1 DELETE "/v1/grants/0123456789abcdef0123456789abcdef"
expect 403 grantor_grant_invalid "a chair whose grant was revoked" -- chair1 POST /v1/grants "$(g reg2 civil_registrar 31120)"
expect 403 grantor_grant_invalid "a former chair revoking a grant they made" -- chair1 DELETE "/v1/grants/$reg1_grant"
h_assert_eq "the refused revocation is audited in the grant's unit" "31120 deny" \
    "$(h_psql -d syncd_state -c "SELECT unit || ' ' || decision FROM syncd_audit WHERE action = 'grant.revoke' AND object = '$reg1_grant' ORDER BY seq DESC LIMIT 1")"
# a city admin removed from the group revokes nothing, not even their own grants
grant admin2 mallory land_officer 31135 >/dev/null
mallory_grant=$(field .id)
h_ldapmodify >/dev/null <<EOF2
dn: cn=city_admin,ou=roles,$B
changetype: modify
delete: member
member: uid=admin2,ou=people,$B
EOF2
expect 403 no_authority "a city admin removed from city_admin revoking their grant" -- admin2 DELETE "/v1/grants/$mallory_grant"
h_assert_eq "a current city admin still may (204)" 204 "$(api admin1 DELETE "/v1/grants/$mallory_grant")"
h_assert_eq "the revocation is audited in the grant's unit" "31135 allow" \
    "$(h_psql -d syncd_state -c "SELECT unit || ' ' || decision FROM syncd_audit WHERE action = 'grant.revoke' AND object = '$mallory_grant' ORDER BY seq DESC LIMIT 1")"

# a change made directly in LDAP is seen once cache_ttl (3 s) has passed
api off1 GET '/v1/authz/check?user=off1&action=land.certificate.issue&unit=31120' >/dev/null
h_assert_eq "the land officer may issue certificates" allow "$(field .decision)"
off1_dn=$(h_ldapsearch -b "ou=units,$B" "(&(syncdRole=land_officer)(syncdGrantee=uid=off1,ou=people,$B))" dn | sed -n 's/^dn: //p')
h_ldapmodify >/dev/null <<EOF2
dn: $off1_dn
changetype: modify
replace: syncdRevoked
syncdRevoked: TRUE
EOF2
sleep 3.5
api off1 GET '/v1/authz/check?user=off1&action=land.certificate.issue&unit=31120' >/dev/null
h_assert_eq "after cache_ttl, the direct LDAP revocation is in force" "deny grant_revoked" \
    "$(field '.decision + " " + (.reason | split(" ")[0])')"

# ---------------------------------------------------------------- directory down, and back
grant admin1 reg1 civil_registrar 31135 >/dev/null
api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31135' >/dev/null
h_assert_eq "allowed while the directory answers" allow "$(field .decision)"
h_slapd_stop
sleep 1.2 # a cached decision is trusted only within a second of the directory's last answer
status=$(api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31135')
h_assert_eq "slapd stopped: the API answers 503" 503 "$status"
status=$(api admin1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31135')
h_assert_eq "slapd stopped: still 503 for another caller" 503 "$status"
h_assert_eq "slapd stopped: the error says why" directory_unavailable "$(field .error)"
h_slapd_restart
status=$(api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31135')
h_assert_eq "slapd back: decisions work again without restarting syncd" "200 allow" "$status $(field .decision)"
h_pid_alive "$pid" && h_ok "syncd kept running throughout" || h_fail "daemon" "$(tail -20 "$H_TMP/daemon.log")"

# failed logins slow down (429 with Retry-After, nobody sleeps), never lock
# out; a forged X-Forwarded-For from a peer that is not a trusted proxy is ignored
codes=""
for ((i = 0; i < 5; i++)); do
    codes+=$(curl -s -o /dev/null -w ' %{http_code}' -u chair2:wrong -H 'X-Forwarded-For: 203.0.113.9' "$API/v1/grants?grantee=chair2")
done
h_assert_eq "3 wrong passwords answered 401, then 429 inside the wait" " 401 401 401 429 429" "$codes"
status=$(curl -s -D "$H_TMP/hdr" -o "$H_TMP/body" -w '%{http_code}' -u chair2:pw-chair2-secret "$API/v1/grants?grantee=chair2")
wait_s=$(awk -F': ' 'tolower($1) == "retry-after" { print $2 + 0 }' "$H_TMP/hdr")
h_assert_eq "inside the wait even the right password gets 429 with Retry-After" "429 too_many_attempts yes" \
    "$status $(field .error) $([[ $wait_s -ge 1 ]] && echo yes)"
sleep "$wait_s"
h_assert_eq "after the wait the right password works (no lockout)" 200 \
    "$(api chair2 GET '/v1/grants?grantee=chair2')"
grep -q '127.0.0.1 chair2: refused 401' "$H_TMP/daemon.log" && ! grep -q '203.0.113.9' "$H_TMP/daemon.log" &&
    h_ok "the peer's address is logged, not an untrusted X-Forwarded-For" ||
    h_fail "client address" "$(grep chair2 "$H_TMP/daemon.log" | tail -3)"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"

# with a certificate the API speaks TLS (and may listen beyond loopback)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$H_TMP/api.key" -out "$H_TMP/api.crt" >/dev/null 2>&1
chmod 600 "$H_TMP/api.key"
sed "s|^listen = .*|listen = 127.0.0.1:$H_API_PORT\ntls_cert_file = $H_TMP/api.crt\ntls_key_file = $H_TMP/api.key|" \
    "$H_CONF" >"$H_TMP/tls.conf"
"$H_SYNCD" -c "$H_TMP/tls.conf" >"$H_TMP/tls.log" 2>&1 &
pid=$!
h_atexit_kill "$pid"
for ((i = 0; i < 300; i++)); do
    curl -sf --cacert "$H_TMP/api.crt" "https://127.0.0.1:$H_API_PORT/healthz" >/dev/null 2>&1 && break
    h_pid_alive "$pid" || break
    sleep 0.1
done
h_assert_eq "the API answers over TLS" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$H_TMP/api.crt" "https://127.0.0.1:$H_API_PORT/healthz")"
out=$(SYNCCTL_PASSWORD_FILE=$H_TMP/chair1.pw "$SYNCCTL" -s "https://127.0.0.1:$H_API_PORT" --cacert "$H_TMP/api.crt" \
    -u chair1 grants --user chair1 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl over TLS with --cacert" 0 "$rc"
SYNCCTL_PASSWORD_FILE=$H_TMP/chair1.pw "$SYNCCTL" -s "https://127.0.0.1:$H_API_PORT" -u chair1 grants --user chair1 \
    >"$H_TMP/out" 2>&1 && rc=0 || rc=$?
[[ $rc == 1 ]] && grep -qi 'certificate\|cacert' "$H_TMP/out" && h_ok "syncctl refuses a certificate it cannot verify" ||
    h_fail "unverified TLS" "rc $rc: $(cat "$H_TMP/out")"
kill -TERM "$pid"
wait "$pid" || true

# the API refuses to listen beyond loopback without TLS
sed "s/^listen = .*/listen = 0.0.0.0:$H_API_PORT/" "$H_CONF" >"$H_TMP/open.conf"
"$H_SYNCD" -c "$H_TMP/open.conf" >"$H_TMP/out" 2>&1 && rc=0 || rc=$?
h_assert_eq "listen on 0.0.0.0 without TLS: syncd refuses to start" 1 "$rc"
grep -q 'loopback address only' "$H_TMP/out" && h_ok "... and says to set tls_cert_file or use a proxy" ||
    h_fail "open listen message" "$(cat "$H_TMP/out")"
sed "s|^uri = .*|uri = ldap://192.0.2.1:389|" "$H_CONF" >"$H_TMP/clear.conf"
"$H_SYNCD" -c "$H_TMP/clear.conf" >"$H_TMP/out" 2>&1 && rc=0 || rc=$?
h_assert_eq "cleartext ldap:// to another host: syncd refuses to start" 1 "$rc"
grep -q 'use ldaps:// or set starttls = true' "$H_TMP/out" && h_ok "... naming the fix" ||
    h_fail "cleartext ldap message" "$(cat "$H_TMP/out")"
h_summary
