#!/bin/bash
# Security of the API (issue 10), against real PostgreSQL and slapd:
#  1. hostile bytes (tests/data/hostile/values.tsv) in every field that is
#     logged or audited (tests/data/hostile/fields.tsv): one definite answer,
#     exactly one escaped audit row, one log line, while a second client's
#     normal requests all succeed;
#  2. spellings of one identity resolve to one person;
#  3. failure between an action and its audit row never leaves an effect
#     without a row; cross-site and malformed posts write nothing;
#  4. no stranger slows the API: 429 at once, /healthz while logins or a
#     frozen directory hold the workers, 1,000 idle sockets from one address.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 2
h_ldap_users "Đỗ Văn" admin1 chair1 reg1 audc kiem.do victim
h_ldap_user colon 'pw:with:colons' "Người Hai Chấm"
h_ldap_group_add city_admin admin1
h_ldap_group_add city_auditor audc
h_syncd_set "signing_key_file=$(h_signing_key)" api_threads=4 api_max_connections_per_ip=32 api_idle_timeout=5
API=http://127.0.0.1:$H_API_PORT
h_syncd_once
h_syncd_start || { h_summary; exit 1; }
pid=$H_SYNCD_PID

api() { h_api "$@"; }
field() { jq -r "$1" "$H_TMP/body"; }
sql() { h_psql -d syncd_state -c "$1"; }
rows_of() { sql "SELECT count(*) FROM syncd_audit WHERE request_id = '$1'"; }

api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}' >/dev/null
api chair1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
api chair1 POST /v1/grants '{"grantee":"kiem.do","role":"civil_registrar","unit":"31120"}' >/dev/null
ks=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")

# ---------------------------------------------------------------- 1. hostile bytes
# a second client runs throughout: every one of its requests must succeed
(
    while [[ ! -e $H_TMP/stop_bg ]]; do
        curl -s -o /dev/null -w '%{http_code}\n' -u reg1:pw-reg1-secret \
            "$API/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120" >>"$H_TMP/bg.codes"
    done
) &
bg=$!
pct() { jq -rn --arg v "$1" '$v|@uri'; }
n=0
while IFS=$'\t' read -r vname vhex; do
    [[ $vname == \#* || -z $vname ]] && continue
    # the value as bytes (NUL cut where a shell or a C string would cut it)
    val=$(printf '%s' "$vhex" | xxd -r -p | tr -d '\000') || true
    enc=$(printf '%s' "$vhex" | sed 's/../%&/g')
    jsv=$(printf '%s' "$val" | jq -Rs . 2>/dev/null || echo '"?"')
    while IFS=$'\t' read -r fname how; do
        [[ $fname == \#* || -z $fname ]] && continue
        rid="h-$fname-$vname"
        n=$((n + 1))
        args=(-s -o "$H_TMP/body" -w '%{http_code}' -H "X-Request-Id: $rid")
        case $how in
        login)
            # from an address of its own: these failures throttle nobody else
            args+=(--interface 127.0.0.2 -H "Authorization: Basic $( (printf '%s' "$vhex" | xxd -r -p; printf ':wrong') | base64 -w0)")
            url="$API/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120" ;;
        *)
            read -r method path body <<<"$how"
            path=${path/V/$enc}
            args+=(-u reg1:pw-reg1-secret -X "$method" --path-as-is)
            [[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "${body/\"V\"/$jsv}")
            url="$API$path" ;;
        esac
        code=$(curl "${args[@]}" "$url") || code=000
        bad=""
        [[ $code =~ ^[24][0-9][0-9]$ ]] || bad+=" answer $code"
        r=$(rows_of "$rid")
        [[ $r == 1 ]] || bad+=" $r audit rows"
        ctl=$(sql "SELECT count(*) FROM syncd_audit WHERE request_id = '$rid' AND (actor || object || reason) ~ '[[:cntrl:]]'")
        [[ $ctl == 0 ]] || bad+=" raw control characters in the row"
        l=$(grep -c "req=$rid" "$H_TMP/daemon.log" || true)
        [[ $l == 1 ]] || bad+=" $l log lines"
        if [[ -z $bad ]]; then h_ok "$fname = $vname: $code, one escaped audit row, one log line"; else
            h_fail "$fname = $vname" "$bad; body: $(head -c 300 "$H_TMP/body")"; fi
    done <"$H_ROOT/tests/data/hostile/fields.tsv"
done <"$H_ROOT/tests/data/hostile/values.tsv"
touch "$H_TMP/stop_bg"
wait "$bg" || true
total=$(wc -l <"$H_TMP/bg.codes")
ok=$(grep -c '^200$' "$H_TMP/bg.codes" || true)
[[ $total -gt 10 && $ok == "$total" ]] && h_ok "the second client's $total requests all answered 200 meanwhile" ||
    h_fail "second client" "$ok of $total were 200: $(sort "$H_TMP/bg.codes" | uniq -c | tr '\n' ' ')"
h_assert_eq "invalid bytes are kept as U+FFFD, not lost" t \
    "$(sql "SELECT count(*) > 0 FROM syncd_audit WHERE request_id LIKE 'h-%-invalid-utf8-ff' AND (actor || object) LIKE '%'||chr(65533)||'%'")"
grep -qP '^(?!.*(\x1b|\x00)).*req=h-username-journald-priority' "$H_TMP/daemon.log" &&
    ! grep -q '^<3>syncd: forged' "$H_TMP/daemon.log" && h_ok "a newline and <3> in a username forge no log record" ||
    h_fail "log forging" "$(grep -a 'forged' "$H_TMP/daemon.log" | head -3)"

# ---------------------------------------------------------------- 2. one person, one name
spell_rid=0
for spelling in 'KIEM.DO' ' kiem.do' 'kiem.do ' 'Kiem.Do'; do
    spell_rid=$((spell_rid + 1))
    code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -H "X-Request-Id: sp-$spell_rid" -u "$spelling:pw-kiem.do-secret" \
        "$API/v1/authz/check?user=kiem.do&action=civil.extract.issue&unit=31120")
    h_assert_eq "'$spelling' logs in as kiem.do and checks itself" "200 allow" "$code $(field .decision)"
    h_assert_eq "'$spelling': the audit actor is the directory's uid" kiem.do \
        "$(sql "SELECT string_agg(DISTINCT actor, ',') FROM syncd_audit WHERE request_id = 'sp-$spell_rid'")"
done
code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "kiem.do:pw-kiem.do-secret" \
    "$API/v1/authz/check?user=KIEM.DO&action=civil.extract.issue&unit=31120")
h_assert_eq "checking 'KIEM.DO' as kiem.do is a self-check" "200 allow" "$code $(field .decision)"
code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "KIEM.DO:pw-kiem.do-secret" -H 'Content-Type: application/json' \
    --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$ks\"}" "$API/v1/documents")
h_assert_eq "a document issued as KIEM.DO" 201 "$code"
serial=$(field .serial)
h_assert_eq "its issuer is kiem.do" kiem.do "$(sql "SELECT issuer FROM syncd_documents WHERE serial = '$serial'")"
api audc GET "/v1/audit?actor=kiem.do&action=document.issue" >/dev/null
h_assert_eq "GET /v1/audit?actor=kiem.do finds it" yes \
    "$(jq -r --arg s "$serial" '[.events[] | select(.object | contains($s))] | if length > 0 then "yes" else "no" end' "$H_TMP/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "colon:pw:with:colons" "$API/v1/authz/check?user=colon&action=civil.extract.issue&unit=31120")
h_assert_eq "a password with ':' logs in" 200 "$code"
codes=""
for spelling in 'VICTIM' ' victim' 'Victim'; do
    codes+=$(curl -s -o /dev/null -w ' %{http_code}' --interface 127.0.0.3 -u "$spelling:wrong" "$API/v1/authz/check?user=victim&action=x&unit=31120")
done
codes+=$(curl -s -o /dev/null -w ' %{http_code}' --interface 127.0.0.4 -u "victim:pw-victim-secret" "$API/v1/authz/check?user=victim&action=civil.extract.issue&unit=31120")
h_assert_eq "3 failures under 3 spellings count for one uid: the next login waits (429)" " 401 401 401 429" "$codes"

# ---------------------------------------------------------------- 3. cross-site, malformed
grants_before=$(h_ldapsearch -b "ou=units,$H_LDAP_BASE" '(objectClass=syncdGrant)' dn | grep -c '^dn:' || true)
docs_before=$(sql "SELECT count(*) FROM syncd_documents")
gbody='{"grantee":"audc","role":"civil_registrar","unit":"31120"}'
dbody="{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$ks\"}"
for ep in "chair1 /v1/grants $gbody" "reg1 /v1/documents $dbody" "reg1 /v1/documents/$serial/revoke {\"reason\":\"x\"}" \
    "reg1 /v1/records/search {\"unit\":\"31120\",\"q\":\"Nguyen\"}"; do
    read -r who path body <<<"$ep"
    for how in "text/plain" "application/x-www-form-urlencoded" "origin" "fetch-site" "duplicate"; do
        args=(-s -o "$H_TMP/body" -w '%{http_code}' -u "$who:pw-$who-secret" -X POST)
        case $how in
        origin) args+=(-H 'Content-Type: application/json' -H 'Origin: https://evil.example' --data-binary "$body") ;;
        fetch-site) args+=(-H 'Content-Type: application/json' -H 'Sec-Fetch-Site: cross-site' --data-binary "$body") ;;
        duplicate) args+=(-H 'Content-Type: application/json' --data-binary "${body%\}},\"$(jq -r 'keys_unsorted[0]' <<<"$body")\":\"dup\"}") ;;
        *) args+=(-H "Content-Type: $how" --data-binary "$body") ;;
        esac
        code=$(curl "${args[@]}" "$API$path")
        [[ $code =~ ^4 ]] && h_ok "POST $path as $how: refused ($code)" || h_fail "POST $path as $how" "$code $(cat "$H_TMP/body")"
    done
done
h_assert_eq "nothing was written by them (grants, documents)" "$grants_before $docs_before" \
    "$(h_ldapsearch -b "ou=units,$H_LDAP_BASE" '(objectClass=syncdGrant)' dn | grep -c '^dn:' || true) $(sql "SELECT count(*) FROM syncd_documents")"
code=$(curl -s -o /dev/null -w '%{http_code}' -u chair1:pw-chair1-secret -X DELETE -H 'Origin: https://evil.example' "$API/v1/grants/0123456789abcdef0123456789abcdef")
h_assert_eq "DELETE with a foreign Origin: refused" 403 "$code"

# ---------------------------------------------------------------- 3'. failure between an action and its row
# the audit table refuses rows past a seq: first the intent row itself, then only the outcome row
block() { h_psql -d syncd_state -c "ALTER TABLE syncd_audit DROP CONSTRAINT IF EXISTS t_block" -c "ALTER TABLE syncd_audit ADD CONSTRAINT t_block CHECK (seq <= $(sql "SELECT max(seq) FROM syncd_audit") + $1) NOT VALID" >/dev/null; }
unblock() { h_psql -d syncd_state -c "ALTER TABLE syncd_audit DROP CONSTRAINT IF EXISTS t_block" >/dev/null; }
effect_without_row() { # RID: an effect exists and no intent/allow row announced it
    local rid=$1 effect=$2 announced
    announced=$(sql "SELECT count(*) FROM syncd_audit WHERE request_id = '$rid' AND decision IN ('intent', 'allow')")
    [[ $effect -gt 0 && $announced == 0 ]] && echo yes || echo no
}
grantee_grants() { h_ldapsearch -b "ou=units,$H_LDAP_BASE" "(&(objectClass=syncdGrant)(syncdGrantee=uid=$1,ou=people,$H_LDAP_BASE))" dn | grep -c '^dn:' || true; }
for step in 0 1; do
    block "$step"
    RID="fb-grant-$step" api chair1 POST /v1/grants '{"grantee":"audc","role":"civil_registrar","unit":"31120"}' >"$H_TMP/code"
    code=$(cat "$H_TMP/code")
    unblock
    h_assert_eq "grant create, audit failing at step $step: answered, never an effect without a row" "no" \
        "$(effect_without_row "fb-grant-$step" "$(grantee_grants audc)")"
    [[ $step == 0 ]] && h_assert_eq "... the intent row failed: 503, no grant" "503 0" "$code $(grantee_grants audc)"
done
gid=$(api admin1 GET "/v1/grants?grantee=audc" >/dev/null; field '.grants[] | select(.state == "active") | .id' | head -1)
block 0
RID=fb-revoke-0 api chair1 DELETE "/v1/grants/$gid" >"$H_TMP/code"
unblock
h_assert_eq "revoke with the intent row failing: 503 and the grant still active" "503 active" \
    "$(cat "$H_TMP/code") $(api admin1 GET "/v1/grants?grantee=audc" >/dev/null; field ".grants[] | select(.id == \"$gid\") | .state")"
for step in 0 1; do
    before=$(sql "SELECT count(*) FROM syncd_documents")
    block "$step"
    RID="fb-issue-$step" api reg1 POST /v1/documents "$dbody" >/dev/null
    unblock
    made=$(($(sql "SELECT count(*) FROM syncd_documents") - before))
    h_assert_eq "document issue, audit failing at step $step: never an effect without a row" no \
        "$(effect_without_row "fb-issue-$step" "$made")"
done
h_slapd_stop
RID=fb-ldap api chair1 POST /v1/grants '{"grantee":"victim","role":"civil_registrar","unit":"31120"}' >"$H_TMP/code"
h_assert_eq "slapd down during a grant: 503, and the intent and its outcome are both in the log" "503 intent,error" \
    "$(cat "$H_TMP/code") $(sql "SELECT string_agg(decision, ',' ORDER BY seq) FROM syncd_audit WHERE request_id = 'fb-ldap'")"
h_slapd_restart

# ---------------------------------------------------------------- 4. no stranger slows the API
loops=()
for ((k = 0; k < 16; k++)); do
    (for ((j = 0; j < 8; j++)); do
        curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.5 -u "nobody$k:wrong" "$API/v1/audit"
    done >"$H_TMP/loop.$k") &
    loops+=($!)
done
h_assert_eq "16 wrong-password loops running: /healthz from another address answers" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.6 --max-time 5 "$API/healthz")"
wait "${loops[@]}"
cat "$H_TMP"/loop.* | sort | uniq -c | tr -s ' ' >"$H_TMP/loop.codes"
n429=$(awk '$2 == 429 { print $1 }' "$H_TMP/loop.codes")
other=$(awk '$2 != 429 && $2 != 401 { s += $1 } END { print s + 0 }' "$H_TMP/loop.codes")
[[ ${n429:-0} -gt 0 && $other == 0 ]] && h_ok "the throttled address gets 429 at once (${n429} of 128), nothing else failed" ||
    h_fail "429 for the throttled address" "$(cat "$H_TMP/loop.codes")"
# a frozen directory holds every worker: health, readiness and metrics still answer
kill -STOP "$_H_SLAPD_PID"
frozen=()
for ((k = 0; k < 8; k++)); do
    curl -s -o /dev/null --max-time 20 -u "reg1:pw-reg1-secret" "$API/v1/grants?grantee=reg1" &
    frozen+=($!)
done
sleep 1
h_assert_eq "directory frozen, 8 requests waiting on it: /healthz /readyz /metrics answer" "200 200 200" \
    "$(for u in healthz readyz metrics; do curl -s -o /dev/null -w '%{http_code} ' --max-time 5 "$API/$u"; done | sed 's/ $//')"
kill -CONT "$_H_SLAPD_PID"
wait "${frozen[@]}" || true
# 1,000 idle sockets from one address
"$H_BUILD/idle_sockets" 127.0.0.7 127.0.0.1 "$H_API_PORT" 1000 8 >"$H_TMP/idle.out" &
idle=$!
sleep 2
h_assert_eq "1,000 idle sockets from 127.0.0.7: /healthz from another address answers" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.8 --max-time 5 "$API/healthz")"
wait "$idle"
closed=$(awk '/closed by the server/ { print $5 }' "$H_TMP/idle.out")
[[ ${closed:-0} -ge 968 ]] && h_ok "the server closed the sockets beyond its per-address limit and the idle ones ($closed of 1000)" ||
    h_fail "idle sockets closed" "$(cat "$H_TMP/idle.out")"

# ---------------------------------------------------------------- wrong shapes: 404 and 405 from the dispatch table
for spec in "GET /nope 404" "GET /v1/records/search 405 POST" "DELETE /v1/documents/$serial 405 GET" \
    "PUT /v1/grants 405 GET, POST" "POST /healthz 405 GET" "GET /v1/grants/0123456789abcdef0123456789abcdef 405 DELETE"; do
    read -r method path want allow <<<"$spec"
    code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -X "$method" -u reg1:pw-reg1-secret "$API$path")
    got="$code"
    [[ $want == 405 ]] && got+=" $(jq -r .message "$H_TMP/body")"
    h_assert_eq "$method $path" "$want${allow:+ $allow only}" "$got"
done

# ---------------------------------------------------------------- headers of the document page
curl -s -D "$H_TMP/hdr" -o /dev/null -u reg1:pw-reg1-secret -H 'Accept: text/html' "$API/v1/documents/$serial"
for h in "content-security-policy: default-src 'none'" "x-content-type-options: nosniff" "frame-ancestors 'none'" "referrer-policy: no-referrer"; do
    grep -qi "$h" "$H_TMP/hdr" && h_ok "document page: $h" || h_fail "document page header $h" "$(cat "$H_TMP/hdr")"
done
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "syncd stops cleanly" 0 "$rc"
h_summary
