#!/bin/bash
# Browser sessions and the embedded page (issue 12), against real syncd,
# PostgreSQL and slapd: sign-in sets the cookie with its flags; GET
# /v1/session lists the person's units, roles and city roles; with the
# cookie a change needs X-CSRF-Token (else 403 csrf, nothing written, one
# audit row) and a foreign Origin is still refused; sign-out ends the session
# on the server; a bad password is 401 and the same throttle as HTTP Basic
# answers 429; the CSP on every kind of response; session_idle/session_max
# read and reloaded; neither the session id nor a password in the log or the
# audit.  Expiry itself is tested with an injected clock (test_session.c).
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 2
h_ldap_users "Trần Thị" admin1 chair1 reg1 reg2 mallory victim
h_ldap_group_add city_admin admin1
h_syncd_set session_idle=900 session_max=7200
API=http://127.0.0.1:$H_API_PORT
h_syncd_start || { h_summary; exit 1; }
pid=$H_SYNCD_PID

field() { jq -r "$1" "$H_TMP/body"; }
hdr() { grep -i "^$1:" "$H_TMP/hdr" | head -1 | tr -d '\r'; }
sql() { h_psql -d syncd_state -c "$1"; }
# signin USER PASSWORD: POST /v1/session; headers in $H_TMP/hdr, body in $H_TMP/body
signin() {
    curl -s -D "$H_TMP/hdr" -o "$H_TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"user\":\"$1\",\"password\":\"$2\"}" "$API/v1/session"
}
# sess COOKIE METHOD PATH [JSON] [CURL-ARGS...]: a request with the session cookie
sess() {
    local cookie=$1 method=$2 path=$3 data=${4:-}
    shift 4 || shift $#
    local args=(-s -D "$H_TMP/hdr" -o "$H_TMP/body" -w '%{http_code}' -X "$method"
        -H "Cookie: syncd_session=$cookie" -H "X-Request-Id: ${RID:-s$RANDOM$RANDOM}")
    [[ -z $data ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
    curl "${args[@]}" "$@" "$API$path"
}

h_assert_eq "admin1 names chair1 chair of 31120 (Basic)" 201 \
    "$(h_api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}')"

# ---------------------------------------------------------------- sign in
h_assert_eq "no cookie: GET /v1/session 401" 401 "$(sess '' GET /v1/session)"
h_assert_eq "... no_session" no_session "$(field .error)"
[[ -z $(hdr WWW-Authenticate) ]] && h_ok "... without a Basic challenge (no browser login box)" ||
    h_fail "no challenge" "$(hdr WWW-Authenticate)"
h_assert_eq "chair1 signs in (200)" 200 "$(signin chair1 pw-chair1-secret)"
setc=$(hdr Set-Cookie)
cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: syncd_session=\([0-9a-f]*\);.*/\1/p' <<<"$setc")
[[ ${#cookie} == 64 ]] && h_ok "the cookie is a 256-bit hex id" || h_fail "cookie" "$setc"
for flag in "Path=/" HttpOnly "SameSite=Strict"; do
    grep -q "; $flag" <<<"$setc" && h_ok "cookie flag $flag" || h_fail "cookie flag $flag" "$setc"
done
grep -q Secure <<<"$setc" && h_fail "no Secure without TLS (plain loopback)" "$setc" || h_ok "no Secure flag without TLS"
h_assert_eq "the answer names the person" "chair1 Trần Thị chair1" "$(field '.user + " " + .name')"
csrf=$(field .csrf)
[[ ${#csrf} == 64 && $csrf != "$cookie" ]] && h_ok "a CSRF token of its own" || h_fail "csrf token" "$csrf"
h_assert_eq "timeouts as configured" "900 7200" "$(field '"\(.idle) \(.max)"')"

h_assert_eq "GET /v1/session with the cookie (200)" 200 "$(sess "$cookie" GET /v1/session)"
h_assert_eq "... the unit and its name" "31120 Phường Cái Khế" "$(field '.units[0] | .code + " " + .name')"
h_assert_eq "... the role" unit_chair "$(field '.units[0].roles[0].role')"
h_assert_eq "... its expiry date" "$(date -u -d '+1826 days' +%F)" "$(field '.units[0].roles[0].until')"
h_assert_eq "... what it lets the chair do" "grant.manage land.record.read civil.record.read" \
    "$(field '.units[0].roles[0].permissions | join(" ")')"
h_assert_eq "... may manage grants, not read the audit log" "true false" \
    "$(field '"\(.may["grant.manage"]) \(.may["audit.read"])"')"
h_assert_eq "... no city role" 0 "$(field '.city_roles | length')"
h_assert_eq "... the roles it may grant, from roles.json" "land_officer civil_registrar" \
    "$(field '.may_grant.unit_chair | join(" ")')"
h_assert_eq "... the document kinds, from documents.json" "civil public.khai_sinh civil.extract.issue" \
    "$(field '.kinds.birth_extract | "\(.source) \(.table) \(.permission)"')"
h_assert_eq "admin1 signs in" 200 "$(signin admin1 pw-admin1-secret)"
admin_cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: syncd_session=\([0-9a-f]*\);.*/\1/p' "$H_TMP/hdr" | tr -d '\r')
sess "$admin_cookie" GET /v1/session >/dev/null
h_assert_eq "a city admin: city_roles" '["city_admin"]' "$(jq -c .city_roles "$H_TMP/body")"
h_assert_eq "... no unit" 0 "$(field '.units | length')"
h_assert_eq "... may grant what roles.json says a city admin may" "unit_chair land_officer civil_registrar unit_auditor" \
    "$(field '.may_grant.city_admin | join(" ")')"
h_assert_eq "... may manage grants (city-wide)" true "$(field '.may["grant.manage"]')"
h_assert_eq "the session cookie opens the other endpoints (GET /v1/grants)" 200 \
    "$(sess "$cookie" GET '/v1/grants?unit=31120')"

# ---------------------------------------------------------------- CSRF and cross-site
grant='{"grantee":"reg1","role":"civil_registrar","unit":"31120"}'
RID=csrf-none$RANDOM
h_assert_eq "POST /v1/grants with the cookie, no X-CSRF-Token: 403" 403 "$(sess "$cookie" POST /v1/grants "$grant")"
h_assert_eq "... csrf" csrf "$(field .error)"
h_assert_eq "... one audit row of the refusal" "1 deny" \
    "$(sql "SELECT count(*) || ' ' || min(decision) FROM syncd_audit WHERE request_id = '$RID'")"
RID=csrf-bad$RANDOM
# the token with its last digit changed (to 1 if it was 0: never the token itself)
[[ ${csrf: -1} == 0 ]] && wrong=${csrf%?}1 || wrong=${csrf%?}0
h_assert_eq "a wrong X-CSRF-Token: 403" 403 \
    "$(sess "$cookie" POST /v1/grants "$grant" -H "X-CSRF-Token: $wrong")"
h_assert_eq "... csrf" csrf "$(field .error)"
RID=csrf-other$RANDOM
h_assert_eq "another session's token: 403" 403 \
    "$(sess "$cookie" POST /v1/grants "$grant" -H "X-CSRF-Token: $(sess "$admin_cookie" GET /v1/session >/dev/null; field .csrf)")"
RID=cross$RANDOM
h_assert_eq "the right token from another Origin: 403" 403 \
    "$(sess "$cookie" POST /v1/grants "$grant" -H "X-CSRF-Token: $csrf" -H 'Origin: https://evil.example')"
h_assert_eq "... cross_site" cross_site "$(field .error)"
unset RID
h_api admin1 GET '/v1/grants?unit=31120' >/dev/null
h_assert_eq "nothing was written: reg1 has no grant" 0 "$(field '[.grants[] | select(.grantee == "reg1")] | length')"
h_assert_eq "with the token: 201" 201 "$(sess "$cookie" POST /v1/grants "$grant" -H "X-CSRF-Token: $csrf")"
h_assert_eq "... granted by chair1" chair1 "$(field .grantor)"
h_assert_eq "a GET needs no token" 200 "$(sess "$cookie" GET '/v1/grants?unit=31120')"
h_assert_eq "reg1 signs in" 200 "$(signin reg1 pw-reg1-secret)"
reg_cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: syncd_session=\([0-9a-f]*\);.*/\1/p' "$H_TMP/hdr" | tr -d '\r')
sess "$reg_cookie" GET /v1/session >/dev/null
h_assert_eq "reg1's page shows the new role" "31120 civil_registrar civil.record.read civil.extract.issue" \
    "$(field '.units[0] | .code + " " + .roles[0].role + " " + (.roles[0].permissions | join(" "))')"

# ---------------------------------------------------------------- sign-out
h_assert_eq "DELETE /v1/session without the token: 403" 403 "$(sess "$cookie" DELETE /v1/session)"
h_assert_eq "... the session still works" 200 "$(sess "$cookie" GET /v1/session)"
h_assert_eq "DELETE /v1/session with the token: 204" 204 \
    "$(sess "$cookie" DELETE /v1/session '' -H "X-CSRF-Token: $csrf")"
grep -qi "^set-cookie: syncd_session=; .*Max-Age=0" "$H_TMP/hdr" && h_ok "... the cookie is cleared (Max-Age=0)" ||
    h_fail "cookie cleared" "$(cat "$H_TMP/hdr")"
h_assert_eq "the old cookie no longer works: GET /v1/session 401" 401 "$(sess "$cookie" GET /v1/session)"
h_assert_eq "... nor on GET /v1/grants" 401 "$(sess "$cookie" GET '/v1/grants?unit=31120')"
h_assert_eq "... no_session" no_session "$(field .error)"
h_assert_eq "... nor for a change (with its old token)" 401 \
    "$(sess "$cookie" POST /v1/grants '{"grantee":"reg2","role":"civil_registrar","unit":"31120"}' -H "X-CSRF-Token: $csrf")"
h_assert_eq "the other sessions live on" 200 "$(sess "$reg_cookie" GET /v1/session)"

# ---------------------------------------------------------------- bad password, throttle
codes=""
for i in 1 2 3 4; do codes+=" $(signin mallory wrong-password-$i)"; done
h_assert_eq "bad password: 401 x3, then 429 (the throttle of HTTP Basic)" " 401 401 401 429" "$codes"
signin mallory wrong-password-1 >/dev/null
[[ -n $(hdr Retry-After) ]] && h_ok "429 says Retry-After" || h_fail "Retry-After" "$(cat "$H_TMP/hdr")"
h_assert_eq "... too_many_attempts" too_many_attempts "$(field .error)"
signin victim nope >/dev/null
h_assert_eq "a failed sign-in: bad_credentials" bad_credentials "$(field .error)"
h_assert_eq "... audited as a failed login" 1 \
    "$(sql "SELECT count(*) FROM syncd_audit WHERE action = 'login' AND object = 'victim' AND decision = 'deny'")"
for i in 1 2; do signin victim "nope$i" >/dev/null; done
h_assert_eq "sign-in failures count for HTTP Basic too: Basic now 429" 429 \
    "$(curl -s -o /dev/null -w '%{http_code}' -u victim:pw-victim-secret "$API/v1/grants")"
h_assert_eq "a body without a password: 400" 400 \
    "$(curl -s -o "$H_TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary '{"user":"reg2"}' "$API/v1/session")"
h_assert_eq "a sign-in from another site: 403" 403 \
    "$(curl -s -o "$H_TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'Origin: https://evil.example' --data-binary '{"user":"reg2","password":"pw-reg2-secret"}' "$API/v1/session")"
h_assert_eq "a form post (text/plain): 415" 415 \
    "$(curl -s -o "$H_TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
        --data-binary '{"user":"reg2","password":"pw-reg2-secret"}' "$API/v1/session")"

# ---------------------------------------------------------------- the page and the CSP
csp="Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
for spec in "/ 200 text/html" "/app.js 200 text/javascript" "/app.css 200 text/css" "/index.html 200 text/html" \
    "/healthz 200 -" "/v1/status 200 application/json" "/nope.js 404 application/json" "/v1/session 401 application/json"; do
    read -r path want type <<<"$spec"
    code=$(curl -s -D "$H_TMP/hdr" -o "$H_TMP/body" -w '%{http_code}' "$API$path")
    h_assert_eq "GET $path" "$want" "$code"
    h_assert_eq "... its CSP" "$csp" "$(hdr Content-Security-Policy)"
    h_assert_eq "... nosniff" "X-Content-Type-Options: nosniff" "$(hdr X-Content-Type-Options)"
    [[ $type == - ]] || { grep -qi "^content-type: $type" "$H_TMP/hdr" && h_ok "... $type" || h_fail "$path type" "$(hdr Content-Type)"; }
done
curl -s -D "$H_TMP/hdr" -o "$H_TMP/page" "$API/"
h_assert_eq "/ is index.html, byte for byte" "$(sha256sum <"$H_ROOT/syncd/api/web/index.html")" "$(sha256sum <"$H_TMP/page")"
h_assert_eq "the page: Cache-Control no-cache" "Cache-Control: no-cache" "$(hdr Cache-Control)"
curl -s -D "$H_TMP/hdr" -o /dev/null "$API/v1/status"
h_assert_eq "JSON answers: Cache-Control no-store" "Cache-Control: no-store" "$(hdr Cache-Control)"
h_assert_eq "POST /app.js: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/app.js")"
h_assert_eq "HEAD /app.js: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I "$API/app.js")"
h_assert_eq "GET /../Makefile: 404" 404 "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$API/../Makefile")"

# ---------------------------------------------------------------- configuration
"$H_SYNCD" -c "$H_CONF" --print-config >"$H_TMP/printed"
grep -qx "session_idle = 900 ; reloadable" "$H_TMP/printed" && grep -qx "session_max = 7200 ; reloadable" "$H_TMP/printed" &&
    h_ok "--print-config: session_idle and session_max, reloadable" || h_fail "print-config" "$(grep session "$H_TMP/printed")"
sed 's/^session_idle = 900$/session_idle = 30/' "$H_CONF" >"$H_TMP/bad.conf"
out=$("$H_SYNCD" -c "$H_TMP/bad.conf" --check-config 2>&1) && rc=0 || rc=$?
[[ $rc != 0 && $out == *"session_idle = 30: expected an integer from 60 to 86400"* ]] &&
    h_ok "session_idle below a minute is refused" || h_fail "session_idle range" "$rc $out"
sed -i 's/^session_idle = 900$/session_idle = 600/' "$H_CONF"
kill -HUP "$pid"
for ((i = 0; i < 50; i++)); do grep -q "reloaded $H_CONF" "$H_TMP/daemon.log" && break; sleep 0.1; done
sess "$reg_cookie" GET /v1/session >/dev/null
h_assert_eq "a reload applies session_idle to the live sessions" 600 "$(field .idle)"

# ---------------------------------------------------------------- never in the log or the audit
sql "SELECT t::text FROM syncd_audit t" >"$H_TMP/audit.txt"
for secret in "$cookie" "$admin_cookie" "$reg_cookie" "$csrf" pw-chair1-secret pw-reg1-secret wrong-password-1; do
    ! grep -qF "$secret" "$H_TMP/daemon.log" "$H_TMP/audit.txt" && h_ok "neither log nor audit holds ${secret:0:12}…" ||
        h_fail "a secret leaked" "$(grep -F "$secret" "$H_TMP/daemon.log" "$H_TMP/audit.txt" | head -3)"
done
h_assert_eq "sign-in and sign-out are audited" "1 1" \
    "$(sql "SELECT count(*) FILTER (WHERE action = 'login' AND actor = 'chair1' AND decision = 'allow') || ' ' ||
                  count(*) FILTER (WHERE action = 'logout' AND actor = 'chair1') FROM syncd_audit")"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "syncd stops cleanly" 0 "$rc"
h_summary
