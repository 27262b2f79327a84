#!/bin/bash
# The HTTP target end to end (issue 13): three units of the city go to a
# receiver on loopback beside their [tier] copy (mode = also).  Under 500s,
# a connection reset, a timeout, a slow answer and 429 + Retry-After the
# receiver ends up holding every change exactly once by Idempotency-Key, in
# source order per unit, equal to the unit's tier copy; a 400 makes a dead
# letter and pauses only that unit, and `syncctl deadletter retry` delivers
# it and the rest in order; a unit whose endpoint hangs does not hold the
# others back; KILLS (default 10) kill -9 of syncd during delivery lose
# nothing and send nothing twice under another key; a wrong webhook secret
# is a 401 that ends in the dead-letter table, not a retry loop.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

kills=${KILLS:-10}
UNITS=31120,31135,31147
RECV=$H_ROOT/tests/harness/receiver.py
REPLAY=$H_ROOT/tests/harness/http_replay.py
h_city_start 2000
h_city_ldap 1
h_city_personas
printf '%s' "$SYNCD_ADMIN_PASSWORD" >"$H_TMP/admin.pw"
chmod 600 "$H_TMP/admin.pw"

# recv NAME ARGS...: a receiver logging to $H_TMP/NAME.log; prints its port
recv() {
	local name=$1 _ port
	shift
	: >"$H_TMP/$name.log"
	python3 "$RECV" --log "$H_TMP/$name.log" "$@" >"$H_TMP/$name.out" 2>"$H_TMP/$name.err" &
	h_atexit_kill $!
	for _ in $(seq 50); do
		port=$(head -1 "$H_TMP/$name.out" 2>/dev/null || true)
		[[ -n $port ]] && { echo "$port"; return 0; }
		sleep 0.1
	done
	echo "receiver $name did not start: $(cat "$H_TMP/$name.err")" >&2
	return 1
}
ctl() { curl -fsS "http://127.0.0.1:$P/control?$1" >/dev/null; }
state() { h_psql -d syncd_state -c "$1"; }
# waits up to $2 seconds (default 60) for SQL $1 on the state DB to say t
wait_for() {
	local i
	for ((i = 0; i < ${2:-60} * 10; i++)); do
		[[ $(state "$1") == t ]] && return 0
		sleep 0.1
	done
	return 1
}
all_delivered() { wait_for "SELECT count(*) = 0 FROM syncd_http_batch WHERE target = 'onestop' AND state IN ('pending', 'dead')" "${1:-90}"; }
# the tier copies of the three units as UNIT<TAB>TABLE<TAB>to_jsonb
tier_dump() {
	local u t sql=''
	for u in ${UNITS//,/ }; do
		for t in $(h_psql -d tier -c "SELECT tablename FROM pg_tables WHERE schemaname = 'u$u' AND tablename <> 'syncd_checkpoint'"); do
			sql+="${sql:+ UNION ALL }SELECT '$u' || E'\\t' || '$t' || E'\\t' || to_jsonb(x)::text FROM u$u.$t x"
		done
	done
	h_psql -d tier -c "$sql" >"$H_TMP/tier.dump"
}
check_receiver() {
	tier_dump
	if python3 "$REPLAY" --log "$H_TMP/onestop.log" --tier "$H_TMP/tier.dump" --units "$UNITS" \
		--path-prefix /u/ >"$H_TMP/replay.out" 2>&1; then
		h_ok "$1: $(tr '\n' ' ' <"$H_TMP/replay.out")"
	else
		h_fail "$1" "$(head -20 "$H_TMP/replay.out")"
	fi
}
# $1 transactions, most of their rows in the three units (old codes 31117,
# 31120 -> 31120; 31123, 31135, 31144 -> 31135; 31147, 31149 -> 31147):
# updates, a text edit, a move between two of them, an insert, a delete
OLD="'31117','31120','31123','31135','31144','31147','31149'"
changes() {
	local i
	for ((i = 1; i <= $1; i++)); do
		h_psql -d land -c "BEGIN;
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa IN ($OLD) ORDER BY md5(id::text || '$RANDOM') LIMIT 4);
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id = (SELECT id FROM thua_dat ORDER BY md5(id::text || 'o$RANDOM') LIMIT 1);
UPDATE thua_dat SET dia_chi = coalesce(dia_chi, '') || ' (sửa)' WHERE id = (SELECT id FROM thua_dat WHERE ma_dvhc_xa IN ($OLD) ORDER BY md5(id::text || 'a$RANDOM') LIMIT 1);
UPDATE thua_dat SET ma_dvhc_xa = (ARRAY['31117','31123','31147'])[1 + $RANDOM % 3] WHERE id = (SELECT id FROM thua_dat WHERE ma_dvhc_xa IN ($OLD) ORDER BY md5(id::text || 'm$RANDOM') LIMIT 1);
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban, dia_chi)
  SELECT coalesce(max(id), 0) + 1, (ARRAY['31120','31135','31149'])[1 + $RANDOM % 3], 5, 1, 12.5, 1, 1, 'Hẻm 3, Nguyễn Văn Cừ' FROM thua_dat;
DELETE FROM thua_dat WHERE id = (SELECT t.id FROM thua_dat t WHERE t.ma_dvhc_xa IN ($OLD) AND t.id > 600 AND NOT EXISTS (SELECT 1 FROM giay_chung_nhan g WHERE g.thua_dat_id = t.id) ORDER BY md5(t.id::text || 'd$RANDOM') LIMIT 1);
COMMIT;" >/dev/null 2>>"$H_TMP/changes.err" || true
	done
}

# documents: birth extracts are registered with an HTTP target
cp -r "$H_ROOT/policies" "$H_TMP/policies"
jq '.kinds.birth_extract.register = {"target": "register"}' "$H_ROOT/policies/documents.json" >"$H_TMP/policies/documents.json"
sed -i "s|^policies_dir = .*|policies_dir = $H_TMP/policies|" "$H_CONF"
h_syncd_set "signing_key_file=$(h_signing_key)" "unit_backlog_limit=1"
RP=$(recv reg)
OP=$(recv oauth --oauth-client 'syncd-onestop:s3cret' --token-ttl 3600)
printf '%s' 's3cret' >"$H_TMP/client_secret"
chmod 600 "$H_TMP/client_secret"
P=$(recv onestop)
SIGNED_SECRET=whsec_$(head -c 24 /dev/urandom | base64)
SP=$(recv signed --webhook-secret "$SIGNED_SECRET")
printf '%s' "whsec_$(head -c 24 /dev/urandom | base64)" >"$H_TMP/wrong.secret"
chmod 600 "$H_TMP/wrong.secret"
cat >>"$H_CONF" <<EOF

[target onestop]
kind = http
units = $UNITS
mode = also
url = http://127.0.0.1:$P/u/{unit}
batch_rows = 40
timeout = 2
retry_deadline = 600
max_in_flight_units = 3

[target register]
kind = http
units = 31120
url = http://127.0.0.1:$RP/reg/{unit}

[target oauth]
kind = http
units = 31135
url = http://127.0.0.1:$OP/in
auth = oauth2
token_url = http://127.0.0.1:$OP/token
client_id = syncd-onestop
client_secret_file = $H_TMP/client_secret

[target signed]
kind = http
units = 31147
url = http://127.0.0.1:$SP/in
auth = hmac
hmac_secret_file = $H_TMP/wrong.secret
EOF
"$H_SYNCD" -c "$H_CONF" --check-config >/dev/null 2>"$H_TMP/check.err" &&
	h_ok "--check-config accepts the [target] sections" || h_fail "--check-config" "$(cat "$H_TMP/check.err")"

# documents.json's register naming a target that does not exist, or not a
# name: syncd refuses to start, says which kind and the fix, writes nothing
badreg() { # $1: the register object; $2: the words expected
	cp -r "$H_TMP/policies" "$H_TMP/badpol"
	jq --argjson r "$1" '.kinds.birth_extract.register = $r' "$H_TMP/policies/documents.json" >"$H_TMP/badpol/documents.json"
	sed "s|^policies_dir = .*|policies_dir = $H_TMP/badpol|" "$H_CONF" >"$H_TMP/bad.conf"
	timeout 60 "$H_SYNCD" -c "$H_TMP/bad.conf" >"$H_TMP/bad.out" 2>&1 && rc=0 || rc=$?
	if [[ $rc != 0 && $rc != 124 ]] && grep -qF "$2" "$H_TMP/bad.out"; then
		h_ok "register $1: refused at start ($2)"
	else
		h_fail "register $1" "rc=$rc $(tail -3 "$H_TMP/bad.out")"
	fi
	rm -rf "$H_TMP/badpol"
}
badreg '{"target": "nowhere"}' 'kind birth_extract: register names [target nowhere], which'
badreg '{"target": 5}' 'kind birth_extract: register {"target": NAME} names one [target NAME]'
badreg '{"target": "register", "table": "x"}' 'kind birth_extract: register {"target": NAME} names one [target NAME]'
h_assert_eq "... and nothing was written to the state database" 0 \
	"$(h_psql -d syncd_state -c "SELECT count(*) FROM pg_tables WHERE tablename = 'syncd_http_batch'")"

# ---------------------------------------------------------------- snapshot and failures
h_syncd_once
queued=$(state "SELECT count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state = 'pending'")
[[ $queued -gt 3 ]] && h_ok "the snapshot queues the three units' rows ($queued batches) before any send" ||
	h_fail "snapshot queued" "$queued batches"
h_assert_eq "nothing is sent by --once" 0 "$(wc -l <"$H_TMP/onestop.log" | tr -d ' ')"

ctl "status=500&times=3&body=busy"
ctl "status=0&times=1"
ctl "status=200&delay_ms=3000&times=1"
ctl "status=429&retry_after=1&times=2"
ctl "status=503&times=2"
h_syncd_start
changes 30
h_city_caught_up
all_delivered && h_ok "every batch delivered after 500s, a reset, a timeout and 429s" ||
	h_fail "delivery" "$(state "SELECT state, count(*), max(last_error) FROM syncd_http_batch GROUP BY state")"
retried=$(jq -s '[.[] | select(.status != 200)] | length' "$H_TMP/onestop.log")
[[ $retried -ge 8 ]] && h_ok "the failures were answered and retried ($retried refused or unanswered requests)" ||
	h_fail "failures seen" "$retried"
check_receiver "the receiver holds each change once, in order, equal to the tier"
h_city_compare "tier beside the HTTP target"

# ---------------------------------------------------------------- OAuth2: a revoked token cured by a fresh one
oa_done() { wait_for "SELECT count(*) = 0 FROM syncd_http_batch WHERE target = 'oauth' AND state IN ('pending', 'dead')" 30; }
oa_done && h_ok "OAuth2 target: batches delivered with a client-credentials token" ||
	h_fail "oauth delivery" "$(state "SELECT state, count(*), max(last_error) FROM syncd_http_batch WHERE target = 'oauth' GROUP BY 1")"
tokens=$(jq -s '[.[] | select(.path == "/token")] | length' "$H_TMP/oauth.log")
curl -fsS "http://127.0.0.1:$OP/control?revoke=1" >/dev/null
changes 3
h_city_caught_up
oa_done && h_ok "after the token is revoked (401) a fresh token delivers the rest" ||
	h_fail "oauth after revoke" "$(state "SELECT state, count(*), max(last_error) FROM syncd_http_batch WHERE target = 'oauth' GROUP BY 1")"
h_assert_eq "... fetched once more, not a retry loop, and no dead letter" "$((tokens + 1)) 0" \
	"$(jq -s '[.[] | select(.path == "/token")] | length' "$H_TMP/oauth.log") $(state "SELECT count(*) FROM syncd_deadletter WHERE target = 'oauth'")"

# ---------------------------------------------------------------- a document up to its register
h_city_persona_grants
ks=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")
status=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "$SYNCD_OFFICIAL_UID:$SYNCD_OFFICIAL_PASSWORD" \
	-H 'Content-Type: application/json' --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$ks\"}" \
	"http://127.0.0.1:$H_API_PORT/v1/documents")
serial=$(jq -r .serial "$H_TMP/body")
h_assert_eq "a birth extract is issued" 201 "$status"
wait_for "SELECT state = 'delivered' FROM syncd_http_batch WHERE target = 'register' AND batch_id = '$serial'" 30 &&
	h_ok "the document is queued for [target register] in its issuing transaction and delivered" ||
	h_fail "document delivery" "$(state "SELECT batch_id, state, last_error FROM syncd_http_batch WHERE target = 'register' AND source = 'documents'")"
h_assert_eq "the receiver got it once, its serial the Idempotency-Key" "1 $serial" \
	"$(jq -rs --arg s "$serial" '[.[] | select(.headers["idempotency-key"] == $s and .status == 200)] | "\(length) \(.[0].headers["idempotency-key"])"' "$H_TMP/reg.log")"
h_assert_eq "... with the signed document as its body" "$serial" \
	"$(jq -rs --arg s "$serial" '[.[] | select(.headers["idempotency-key"] == $s)][0].body | fromjson | .serial' "$H_TMP/reg.log")"

# ---------------------------------------------------------------- 400: dead letter, pause, retry
ctl "status=400&times=1&path=/u/31135&body=field%20dien_tich%20rejected"
changes 3
h_city_caught_up
wait_for "SELECT EXISTS (SELECT 1 FROM syncd_deadletter WHERE target = 'onestop' AND unit = 31135 AND resolved_at IS NULL)" 30 &&
	h_ok "a 400 puts the batch in syncd_deadletter" || h_fail "dead letter" "$(state "SELECT * FROM syncd_http_batch WHERE state <> 'delivered'")"
h_assert_eq "the dead letter keeps the status and the receiver's words" "400|field dien_tich rejected" \
	"$(state "SELECT http_status || '|' || response_excerpt FROM syncd_deadletter WHERE unit = 31135")"
h_assert_eq "the unit is paused" 1 "$(state "SELECT count(*) FROM syncd_http_paused WHERE target = 'onestop' AND unit = 31135")"
for _ in $(seq 50); do
	curl -s "http://127.0.0.1:$H_API_PORT/metrics" >"$H_TMP/metrics"
	grep -q '^syncd_target_paused_units{target="onestop"} 1$' "$H_TMP/metrics" && break
	sleep 0.1
done
grep -q '^syncd_target_paused_units{target="onestop"} 1$' "$H_TMP/metrics" &&
	h_ok "/metrics: syncd_target_paused_units{target=\"onestop\"} 1 (the alert)" ||
	h_fail "paused metric" "$(grep syncd_target_ "$H_TMP/metrics")"
curl -s "http://127.0.0.1:$H_API_PORT/v1/status" -u "$SYNCD_ADMIN_UID:$SYNCD_ADMIN_PASSWORD" >"$H_TMP/status.json"
h_assert_eq "/v1/status names the paused unit count per target" 1 \
	"$(jq '.targets[] | select(.name == "onestop") | .paused_units' "$H_TMP/status.json")"
changes 3
h_city_caught_up
all_delivered 1 || true
wait_for "SELECT count(*) = 0 FROM syncd_http_batch WHERE target = 'onestop' AND unit <> 31135 AND state <> 'delivered'" 30 &&
	h_ok "the other units keep being delivered while 31135 is paused" || h_fail "others during pause" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"
waiting=$(state "SELECT count(*) FROM syncd_http_batch WHERE target = 'onestop' AND unit = 31135 AND state = 'pending'")
[[ $waiting -ge 1 ]] && h_ok "later batches of 31135 wait behind the dead one ($waiting)" || h_fail "batches wait" "$waiting"
dl=$(state "SELECT id FROM syncd_deadletter WHERE unit = 31135 AND resolved_at IS NULL")
out=$(SYNCCTL_URL=http://127.0.0.1:$H_API_PORT SYNCCTL_PASSWORD_FILE="$H_TMP/admin.pw" \
	"$H_BUILD/syncctl" -u "$SYNCD_ADMIN_UID" deadletter retry "$dl" 2>&1) &&
	h_ok "syncctl deadletter retry $dl" || h_fail "syncctl deadletter retry" "$out"
all_delivered 60 && h_ok "after retry the dead batch and the rest are delivered" ||
	h_fail "after retry" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"
check_receiver "after the dead letter's retry, still once and in order"

# ---------------------------------------------------------------- one unit hangs
ctl "status=200&delay_ms=1800&times=1000&path=/u/31120"
changes 5
h_city_caught_up
wait_for "SELECT count(*) = 0 FROM syncd_http_batch WHERE target = 'onestop' AND unit <> 31120 AND state <> 'delivered'" 15 &&
	h_ok "a unit whose endpoint hangs does not hold the others back" ||
	h_fail "isolation" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"
ctl "clear=1"
all_delivered 60 || h_fail "hanging unit recovers" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"

# ---------------------------------------------------------------- wrong webhook secret
wait_for "SELECT EXISTS (SELECT 1 FROM syncd_deadletter WHERE target = 'signed' AND http_status = 401)" 30 &&
	h_ok "a wrong webhook secret: the receiver's 401 is a dead letter" || h_fail "wrong secret" "$(state "SELECT state, attempts, last_error FROM syncd_http_batch WHERE target = 'signed' LIMIT 3")"
h_assert_eq "... after one attempt, not a retry loop" 1 \
	"$(state "SELECT max(attempts) FROM syncd_http_batch WHERE target = 'signed'")"
printf '%s' "$SIGNED_SECRET" >"$H_TMP/wrong.secret"
dl=$(state "SELECT id FROM syncd_deadletter WHERE target = 'signed' AND resolved_at IS NULL")
SYNCCTL_URL=http://127.0.0.1:$H_API_PORT SYNCCTL_PASSWORD_FILE="$H_TMP/admin.pw" \
	"$H_BUILD/syncctl" -u "$SYNCD_ADMIN_UID" deadletter retry "$dl" >/dev/null 2>&1 || true
wait_for "SELECT count(*) = 0 FROM syncd_http_batch WHERE target = 'signed' AND state <> 'delivered'" 30 &&
	h_ok "with the right secret the signed batches are verified and delivered" ||
	h_fail "signed delivery" "$(state "SELECT state, count(*) FROM syncd_http_batch WHERE target = 'signed' GROUP BY 1")"

# ---------------------------------------------------------------- a paused unit's backlog past the limit
ctl "status=400&times=1&path=/u/31147&body=no"
changes 2
wait_for "SELECT EXISTS (SELECT 1 FROM syncd_http_paused WHERE target = 'onestop' AND unit = 31147)" 30 ||
	h_fail "31147 paused" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"
h_psql -d land -c "UPDATE thua_dat SET ban_quet = decode(repeat(md5(id::text || random()::text), 12000), 'hex') WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa IN ('31147', '31149') ORDER BY id LIMIT 8)" >/dev/null
wait_for "SELECT detached FROM syncd_http_paused WHERE target = 'onestop' AND unit = 31147" 30 &&
	h_ok "over 1 MB behind a dead letter (unit_backlog_limit = 1): the unit is detached" ||
	h_fail "detach" "$(state "SELECT * FROM syncd_http_paused")"
h_assert_eq "its backlog is discarded and its dead letter resolved by syncd" "0 0" \
	"$(state "SELECT (SELECT count(*) FROM syncd_http_batch WHERE target = 'onestop' AND unit = 31147 AND state IN ('pending', 'dead')) || ' ' || (SELECT count(*) FROM syncd_deadletter WHERE target = 'onestop' AND unit = 31147 AND resolved_at IS NULL)")"
grep -q "target onestop unit 31147: detached: .* run syncctl resync --unit 31147" "$H_TMP/daemon.log" &&
	h_ok "the log says it and names the fix" || h_fail "detach log" "$(grep 31147 "$H_TMP/daemon.log" | tail -3)"
out=$("$H_BUILD/syncctl" -c "$H_CONF" resync --unit 31147 --timeout 120 2>&1) &&
	h_ok "syncctl resync --unit 31147" || h_fail "resync" "$out"
all_delivered 60 && h_ok "the resync's full copy ends the detachment and is delivered" ||
	h_fail "after resync" "$(state "SELECT unit, state, count(*) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2") $(state "SELECT * FROM syncd_http_paused")"
check_receiver "after the detachment and resync, the receiver again equals the tier"
h_stop_pid "$H_SYNCD_PID"

# ---------------------------------------------------------------- kill -9 during delivery
ctl "status=500&times=4"
( changes 60 ) &
wl=$!
h_atexit_kill "$wl"
for ((k = 1; k <= kills; k++)); do
	"$H_SYNCD" -c "$H_CONF" >>"$H_TMP/daemon.log" 2>&1 &
	pid=$!
	sleep "0.$((3 + RANDOM % 7))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
wait "$wl" 2>/dev/null || true
h_syncd_start
h_city_caught_up
all_delivered 90 && h_ok "after $kills kill -9 during delivery every batch is delivered" ||
	h_fail "after kills" "$(state "SELECT unit, state, count(*), max(last_error) FROM syncd_http_batch WHERE target = 'onestop' AND state <> 'delivered' GROUP BY 1, 2")"
check_receiver "after $kills kill -9: nothing lost, nothing twice under another key"
h_city_compare "tier after the kills"
h_stop_pid "$H_SYNCD_PID"
h_summary
