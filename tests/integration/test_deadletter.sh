#!/bin/bash
# The HTTP targets' dead letters, the operator's side (issue 13), against a
# real syncd, PostgreSQL and slapd: batches, dead letters and pauses are
# written straight into the state DB, then syncctl deadletter list, show,
# retry and discard (and the API under them): who may (city roles only),
# the list's filters, the body shown, a retry puts the batch back to
# pending and unpauses its unit, a discard needs a reason and leaves it in
# the audit log, the pause stays while another dead letter of the unit is
# open, a second resolution is 409 (also two at once), an unknown id 404, a
# bad id 400.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 2
h_ldap_users "Nguyễn Văn" admin1 aud1 chair1 off1
h_ldap_group_add city_admin admin1
h_ldap_group_add city_auditor aud1
API=http://127.0.0.1:$H_API_PORT
h_syncd_start || { h_summary; exit 1; }
SYNCCTL=$H_BUILD/syncctl
export SYNCCTL_URL=$API

sql() { h_psql -d syncd_state -c "$1"; }
field() { jq -r "$1" "$H_TMP/body"; }
# ctl USER ARGS...: syncctl as USER (its password in a 0600 file); output in $H_TMP/out, exit status printed
ctl() {
    local user=$1 rc=0
    shift
    [[ -f $H_TMP/$user.pw ]] || { printf 'pw-%s-secret' "$user" >"$H_TMP/$user.pw" && chmod 600 "$H_TMP/$user.pw"; }
    SYNCCTL_PASSWORD_FILE=$H_TMP/$user.pw "$SYNCCTL" -u "$user" "$@" >"$H_TMP/out" 2>&1 || rc=$?
    echo "$rc"
}
out() { cat "$H_TMP/out"; }
# expect LABEL STATUS ERROR-CODE -- h_api ARGS...
expect() {
    local label=$1 want_status=$2 want_code=$3 status
    shift 4
    status=$(h_api "$@")
    if [[ $status == "$want_status" && $(field .error) == "$want_code" ]]; then
        h_ok "$label ($status $want_code)"
    else
        h_fail "$label" "got $status $(cat "$H_TMP/body"), want $want_status $want_code"
    fi
}

h_assert_eq "admin1 names chair1 chair of 31120" 201 \
    "$(h_api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}')"

# ---------------------------------------------------------------- the state DB's dead letters
BODY='{"source":"land","unit":"31120","changes":[{"op":"insert","table":"public.thua_dat","row":{"id":7,"chu":"Nguyễn Văn An"}}]}'
# batch TARGET UNIT N STATE: a batch's id
batch() {
    sql "INSERT INTO syncd_http_batch (target, unit, source, batch_id, lsn_from, lsn_to, changes, content_type, body, state, attempts, last_error)
         VALUES ('$1', $2, 'land', 'land-$2-00000000000000$3-00000000000000$3', '0/10$3', '0/20$3', 1, 'application/json',
                 convert_to('$BODY', 'UTF8'), '$4', 5, 'HTTP 422') RETURNING id"
}
# dead BATCH-ID [resolved]: a dead letter of that batch (open, or retried a
# day ago); its id
dead() {
    local resolved='NULL, NULL, NULL'
    [[ -z ${2:-} ]] || resolved="now() - interval '1 day', 'retried', 'someone'"
    sql "INSERT INTO syncd_deadletter (batch, target, unit, batch_id, http_status, error, response_excerpt, attempts, resolved_at, resolution, resolved_by)
         SELECT id, target, unit, batch_id, 422, 'HTTP 422 Unprocessable Entity', '{\"error\":\"unknown column chu\"}', 5, $resolved
         FROM syncd_http_batch WHERE id = $1 RETURNING id"
}
pause() { sql "INSERT INTO syncd_http_paused (target, unit, reason) VALUES ('$1', $2, 'dead letter')"; }
paused() { sql "SELECT count(*) FROM syncd_http_paused WHERE target = '$1' AND unit = $2"; }

old=$(dead "$(batch onestop 31120 0 delivered)" resolved) # retried long ago
ba=$(batch onestop 31120 1 dead)
a=$(dead "$ba")
bw=$(batch onestop 31120 2 pending) # waits behind the dead one
pause onestop 31120
bb1=$(batch onestop 31135 3 dead)
b1=$(dead "$bb1")
bb2=$(batch onestop 31135 4 dead)
b2=$(dead "$bb2")
pause onestop 31135
bc=$(batch archive 31147 5 dead)
c=$(dead "$bc")
pause archive 31147

# ---------------------------------------------------------------- who may
h_assert_eq "an official without a city role may not list (syncctl exit 1)" 1 "$(ctl off1 deadletter list)"
grep -q 'forbidden' "$H_TMP/out" && grep -q 'grant.manage or audit.read' "$H_TMP/out" &&
    h_ok "... 403 forbidden, naming the roles that may" || h_fail "list refused" "$(out)"
expect "a unit chair (grant.manage in 31120 only) may not read one" 403 forbidden -- chair1 GET "/v1/deadletter/$a"
expect "a unit chair may not retry one of its own unit" 403 forbidden -- chair1 POST "/v1/deadletter/$a/retry" '{}'
h_assert_eq "the chair's retry changed nothing" "dead open 1" \
    "$(sql "SELECT b.state || ' ' || CASE WHEN d.resolved_at IS NULL THEN 'open' ELSE 'resolved' END || ' ' || (SELECT count(*) FROM syncd_http_paused WHERE target = 'onestop' AND unit = 31120)
            FROM syncd_deadletter d JOIN syncd_http_batch b ON b.id = d.batch WHERE d.id = $a")"
h_assert_eq "the refusal is audited in a deny row" "deny no_city_role" \
    "$(sql "SELECT decision || ' ' || reason FROM syncd_audit WHERE action = 'deadletter.retry' AND actor = 'chair1' ORDER BY seq DESC LIMIT 1")"
h_assert_eq "a city auditor may list (exit 0)" 0 "$(ctl aud1 deadletter list)"
h_assert_eq "a city auditor may read one" 200 "$(h_api aud1 GET "/v1/deadletter/$a")"
expect "a city auditor may not retry" 403 forbidden -- aud1 POST "/v1/deadletter/$a/retry" '{}'
h_assert_eq "a city auditor may not discard (syncctl exit 1)" 1 "$(ctl aud1 deadletter discard "$c" --reason test)"
grep -q 'discarding a dead letter needs a city role with grant.manage' "$H_TMP/out" &&
    h_ok "... the message says what is needed" || h_fail "discard refused" "$(out)"

# ---------------------------------------------------------------- list and show
h_assert_eq "list: the open ones, newest first" "$c $b2 $b1 $a" \
    "$(ctl admin1 --json deadletter list >/dev/null; jq -r '[.deadletters[].id] | join(" ")' "$H_TMP/out")"
h_assert_eq "list --all: the retried one too" "$c $b2 $b1 $a $old" \
    "$(ctl admin1 --json deadletter list --all >/dev/null; jq -r '[.deadletters[].id] | join(" ")' "$H_TMP/out")"
h_assert_eq "list --target archive" "$c" \
    "$(ctl admin1 --json deadletter list --target archive >/dev/null; jq -r '[.deadletters[].id] | join(" ")' "$H_TMP/out")"
h_assert_eq "list --unit 31135" "$b2 $b1" \
    "$(ctl admin1 --json deadletter list --unit 31135 >/dev/null; jq -r '[.deadletters[].id] | join(" ")' "$H_TMP/out")"
h_assert_eq "list as a table (exit 0)" 0 "$(ctl admin1 deadletter list)"
[[ $(head -1 "$H_TMP/out") == ID*DEAD\ AT*TARGET*UNIT*BATCH*ERROR*STATE ]] &&
    grep -qE "^$a +[0-9-]+T[0-9:]+Z +onestop +31120 +land-31120-.* +422 +HTTP 422 .* +open\$" "$H_TMP/out" &&
    h_ok "... one row per dead letter with its state" || h_fail "list table" "$(out)"
expect "list: a unit that is not 5 digits" 400 bad_request -- admin1 GET '/v1/deadletter?unit=311'
expect "list: all=2" 400 bad_request -- admin1 GET '/v1/deadletter?all=2'
h_assert_eq "show (exit 0)" 0 "$(ctl admin1 deadletter show "$a")"
grep -q "^dead letter $a: open" "$H_TMP/out" && grep -q '"chu": "Nguyễn Văn An"' "$H_TMP/out" &&
    grep -q '^response:    {"error":"unknown column chu"}' "$H_TMP/out" &&
    h_ok "... its state, the receiver's answer and the body, indented" || h_fail "show" "$(out)"
h_assert_eq "show --json: the body as sent, status, counts" "$BODY 422 5 true onestop 31120 application/json" \
    "$(ctl admin1 --json deadletter show "$a" >/dev/null
        jq -r '"\(.body) \(.http_status) \(.attempts) \(.paused) \(.target) \(.unit) \(.content_type)"' "$H_TMP/out")"
batch_a=$(jq -r .batch_id "$H_TMP/out")
h_assert_eq "reading a body is audited in its unit" "31120 allow $a $batch_a" \
    "$(sql "SELECT unit || ' ' || decision || ' ' || object FROM syncd_audit WHERE action = 'deadletter.read' AND actor = 'admin1' ORDER BY seq DESC LIMIT 1")"

# ---------------------------------------------------------------- bad and unknown ids
expect "an id that is not a number" 400 bad_request -- admin1 GET /v1/deadletter/abc
expect "an id beyond bigint" 400 bad_request -- admin1 GET /v1/deadletter/99999999999999999999
expect "a negative id" 400 bad_request -- admin1 POST /v1/deadletter/-1/retry '{}'
expect "id 0" 400 bad_request -- admin1 POST /v1/deadletter/0/discard '{"reason":"x"}'
expect "an unknown id: show" 404 unknown_deadletter -- admin1 GET /v1/deadletter/999999
expect "an unknown id: retry" 404 unknown_deadletter -- admin1 POST /v1/deadletter/999999/retry '{}'
h_assert_eq "an unknown id with syncctl: exit 1" 1 "$(ctl admin1 deadletter retry 999999)"
grep -q 'no dead letter 999999' "$H_TMP/out" && h_ok "... saying so" || h_fail "unknown id" "$(out)"
h_assert_eq "a bad id with syncctl is a usage error (exit 2)" 2 "$(ctl admin1 deadletter show 12x)"
expect "DELETE is not a method of a dead letter" 405 method_not_allowed -- admin1 DELETE "/v1/deadletter/$a"
expect "an unknown field in a retry" 400 bad_request -- admin1 POST "/v1/deadletter/$a/retry" '{"force":true}'

# ---------------------------------------------------------------- retry
h_assert_eq "retry with a reason (exit 0)" 0 "$(ctl admin1 deadletter retry "$a" --reason 'receiver fixed')"
grep -q "^retried dead letter $a (target onestop, unit 31120, batch $batch_a): receiver fixed" "$H_TMP/out" &&
    grep -q 'unit 31120 of target onestop is no longer paused' "$H_TMP/out" &&
    h_ok "... says what it did and that the unit goes on" || h_fail "retry output" "$(out)"
h_assert_eq "the batch is pending again with 0 attempts" "pending 0" \
    "$(sql "SELECT state || ' ' || attempts FROM syncd_http_batch WHERE id = $ba")"
h_assert_eq "the dead letter is resolved: retried, by whom, why" "retried admin1 receiver fixed true" \
    "$(sql "SELECT resolution || ' ' || resolved_by || ' ' || reason || ' ' || (resolved_at IS NOT NULL) FROM syncd_deadletter WHERE id = $a")"
h_assert_eq "the unit is no longer paused" 0 "$(paused onestop 31120)"
h_assert_eq "the batch waiting behind it is untouched" pending \
    "$(sql "SELECT state FROM syncd_http_batch WHERE id = $bw")"
expect "retrying it again" 409 already_resolved -- admin1 POST "/v1/deadletter/$a/retry" '{}'
grep -q "already retried by admin1" "$H_TMP/body" && h_ok "... naming who resolved it" || h_fail "409 message" "$(cat "$H_TMP/body")"
h_assert_eq "... audited: its intent, then a deny outcome saying why" "intent|deny already_resolved" \
    "$(sql "SELECT decision || CASE WHEN decision = 'deny' THEN ' ' || split_part(reason, ' ', 1) ELSE '' END FROM syncd_audit
            WHERE action = 'deadletter.retry' AND object = '$a $batch_a' ORDER BY seq DESC LIMIT 2" | tac | paste -sd'|')"
h_assert_eq "discarding it after the retry: syncctl exit 1" 1 "$(ctl admin1 deadletter discard "$a" --reason late)"
h_assert_eq "the batch stays pending" pending "$(sql "SELECT state FROM syncd_http_batch WHERE id = $ba")"

# ---------------------------------------------------------------- discard
h_assert_eq "discard without --reason: usage error (exit 2)" 2 "$(ctl admin1 deadletter discard "$b1")"
grep -q -- '--reason' "$H_TMP/out" && h_ok "... naming --reason" || h_fail "discard usage" "$(out)"
expect "discard without a reason" 400 bad_request -- admin1 POST "/v1/deadletter/$b1/discard" '{}'
grep -q 'the field reason is missing or blank' "$H_TMP/body" && h_ok "... naming the reason field and the fix" ||
    h_fail "reason message" "$(cat "$H_TMP/body")"
expect "discard with a blank reason" 400 bad_request -- admin1 POST "/v1/deadletter/$b1/discard" '{"reason":"  "}'
expect "discard with a reason that is not a string" 400 bad_request -- admin1 POST "/v1/deadletter/$b1/discard" '{"reason":5}'
h_assert_eq "the refused discards changed nothing" "dead open" \
    "$(sql "SELECT b.state || ' ' || CASE WHEN d.resolved_at IS NULL THEN 'open' ELSE 'resolved' END FROM syncd_deadletter d JOIN syncd_http_batch b ON b.id = d.batch WHERE d.id = $b1")"
h_assert_eq "discard with a reason (exit 0)" 0 "$(ctl admin1 deadletter discard "$b1" --reason 'duplicate of a manual import')"
h_assert_eq "the batch is discarded" discarded "$(sql "SELECT state FROM syncd_http_batch WHERE id = $bb1")"
h_assert_eq "the pause stays: another dead letter of 31135 is open" 1 "$(paused onestop 31135)"
grep -q 'unit 31135 of target onestop stays paused' "$H_TMP/out" && h_ok "... and syncctl says so" || h_fail "stays paused" "$(out)"
h_assert_eq "the discard's reason is in its audit row (syncctl audit query)" 0 \
    "$(ctl aud1 --json audit query --action deadletter.discard --actor admin1)"
h_assert_eq "... an intent row with the reason, then the outcome" \
    "intent duplicate of a manual import|allow " \
    "$(jq -r --arg o "$b1 $(sql "SELECT batch_id FROM syncd_deadletter WHERE id = $b1")" \
        '[.events[] | select(.object == $o and .unit == "31135") | .decision + " " + .reason] | join("|")' "$H_TMP/out")"
h_assert_eq "the last open dead letter of 31135 retried: (exit 0)" 0 "$(ctl admin1 --json deadletter retry "$b2")"
h_assert_eq "... unpauses the unit" "true false 0" "$(jq -r '"\(.unpaused) \(.paused)"' "$H_TMP/out") $(paused onestop 31135)"
h_assert_eq "a retry without a reason keeps none" "" "$(sql "SELECT coalesce(reason, '') FROM syncd_deadletter WHERE id = $b2")"

# ---------------------------------------------------------------- two operators at once
racers=()
for i in 1 2; do
    curl -s -o "$H_TMP/race$i" -w '%{http_code}' -u admin1:pw-admin1-secret -H 'Content-Type: application/json' \
        --data-binary "{\"reason\":\"race $i\"}" "$API/v1/deadletter/$c/discard" >"$H_TMP/status$i" &
    racers+=($!)
done
wait "${racers[@]}" # not a bare wait: syncd and slapd are children of this shell too
h_assert_eq "two discards at once: one done, one 409" "200 409" \
    "$(printf '%s\n' "$(cat "$H_TMP/status1")" "$(cat "$H_TMP/status2")" | sort | tr '\n' ' ' | sed 's/ $//')"
h_assert_eq "... resolved once, unpaused" "1 0" \
    "$(sql "SELECT count(*) FROM syncd_deadletter WHERE id = $c AND resolution = 'discarded'") $(paused archive 31147)"
h_assert_eq "nothing open is left" "no dead letters" "$(ctl admin1 deadletter list >/dev/null; out)"

h_pid_alive "$H_SYNCD_PID" && h_ok "syncd kept running" || h_fail "daemon" "$(tail -20 "$H_TMP/daemon.log")"
h_summary
