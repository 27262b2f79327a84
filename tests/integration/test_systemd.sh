#!/bin/bash
# syncd under systemd (issue 6): sd_notify to a datagram socket the test
# owns — READY=1 only once the sources and the state DB answer, STATUS with
# a degraded state while a unit database is down, WATCHDOG=1 while the loops
# turn, STOPPING=1 on SIGTERM — and /healthz, /readyz, and a live /metrics
# scrape that passes promtool check metrics, syncctl status, and SIGHUP
# reloads (RELOADING=1/READY=1) with valid and refused files while a
# workload streams, ending equal to the oracle.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
cp -r "$H_ROOT/policies" "$H_TMP/pol"
sed -i '/"table": "public.to_ban_do"/,+1d' "$H_TMP/pol/routing.json" # added back by a reload
h_city_conf "$H_CONF" "$H_TMP/pol"
h_syncd_once
API=http://127.0.0.1:$H_API_PORT
sock=$H_TMP/notify.sock
notes=$H_TMP/notes
"$H_BUILD/notify_listen" "$sock" "$notes" &
h_atexit_kill $!
for ((i = 0; i < 50; i++)); do [[ -S $sock ]] && break; sleep 0.1; done
db() { h_psql -d postgres -c "ALTER DATABASE $1 ALLOW_CONNECTIONS $2" \
    -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$1'" >/dev/null; }
wait_note() { # wait_note REGEX [SECONDS]: a message after the last mark
    local from
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        from=$(cat "$notes.mark" 2>/dev/null || echo 0)
        tail -n +"$((from + 1))" "$notes" 2>/dev/null | grep -Eq "$1" && return 0
        sleep 0.1
    done
    return 1
}
mark() { wc -l <"$notes" >"$notes.mark"; }

# the state DB does not answer: no READY, exit 1
db syncd_state false
NOTIFY_SOCKET=$sock "$H_SYNCD" -c "$H_CONF" >"$H_TMP/d0.log" 2>&1 && rc=0 || rc=$?
h_assert_eq "state DB down at start: syncd exits 1" 1 "$rc"
grep -q 'READY=1' "$notes" 2>/dev/null && h_fail "no READY" "$(cat "$notes")" || h_ok "and never says READY=1"
db syncd_state true

NOTIFY_SOCKET=$sock WATCHDOG_USEC=4000000 "$H_SYNCD" -c "$H_CONF" >"$H_TMP/daemon.log" 2>&1 &
pid=$!
h_atexit_kill "$pid"
wait_note '^READY=1' && h_ok "READY=1 once the sources and the state DB answer" || h_fail "READY" "$(cat "$notes" "$H_TMP/daemon.log")"
grep -A1 '^READY=1' "$notes" | grep -q '^STATUS=land: ' && h_ok "READY comes with a STATUS line" || h_fail "STATUS with READY" "$(cat "$notes")"
wait_note '^STATUS=land: streaming, lag [0-9]+ kB, all units; civil: streaming' &&
    h_ok "STATUS: every source streaming, all units" || h_fail "STATUS streaming" "$(tail -6 "$notes")"
wait_note '^WATCHDOG=1' 10 && h_ok "WATCHDOG=1 while the loops turn" || h_fail "WATCHDOG" "$(tail -6 "$notes")"

# a wedged loop trips the watchdog: a stream blocked in an apply (a lock
# held on a unit table) stops turning, and the pings stop until it moves
( h_psql -d tier -c "BEGIN" -c "LOCK TABLE u31120.thua_dat IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(9)" -c "COMMIT" >"$H_TMP/locker.log" 2>&1 ) &
locker=$!
h_atexit_kill "$locker"
sleep 0.5
h_psql -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1" # every unit, 31120 too
sleep 3.5
w1=$(grep -c '^WATCHDOG=1' "$notes")
sleep 3
w2=$(grep -c '^WATCHDOG=1' "$notes")
h_assert_eq "a stream blocked in an apply: no WATCHDOG=1 (systemd would restart syncd)" "$w1" "$w2"
grep -q 'a source loop is not turning' "$notes" && h_ok "... and STATUS says a source loop is not turning" ||
    h_fail "wedged STATUS" "$(grep STATUS "$notes" | tail -2)"
wait "$locker" || true
sleep 2.5
[[ $(grep -c '^WATCHDOG=1' "$notes") -gt $w2 ]] && h_ok "the lock released, the pings come back" ||
    h_fail "pings back" "$(tail -4 "$notes")"

h_assert_eq "/healthz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/healthz")"
h_assert_eq "/readyz: ready" "200 true" "$(curl -s -o "$H_TMP/r" -w '%{http_code}' "$API/readyz") $(jq .ready "$H_TMP/r")"
curl -s "$API/metrics" >"$H_TMP/metrics"
out=$(promtool check metrics <"$H_TMP/metrics" 2>&1) && rc=0 || rc=$?
h_assert_eq "promtool check metrics on a live scrape" "0:" "$rc:$out"
grep -Eq '^syncd_source_lag_seconds\{source="land"\} [0-9.]+$' "$H_TMP/metrics" &&
    h_ok "/metrics has the lag in seconds per source" || h_fail "lag seconds" "$(grep lag_seconds "$H_TMP/metrics")"
grep -q '^syncd_unit_applied_lsn{source="land",unit="31120"} [1-9]' "$H_TMP/metrics" &&
    h_ok "/metrics has the applied LSN per unit" || h_fail "unit LSN" "$(grep unit_applied "$H_TMP/metrics" | head -3)"

out=$("$H_BUILD/syncctl" -s "$API" status 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl status exits 0" 0 "$rc"
grep -Eq '^land +streaming +[0-9]+ +[0-9A-F]+/[0-9A-F]+ ' <<<"$out" && grep -Eq '^civil +streaming ' <<<"$out" &&
    h_ok "syncctl status: a table of the sources" || h_fail "syncctl status" "$out"
out=$("$H_BUILD/syncctl" -s "$API" status --units 2>&1)
grep -Eq '^31120 +Phường Cái Khế +[0-9A-F]+/[0-9A-F]+ +[0-9A-F]+/[0-9A-F]+' <<<"$out" &&
    h_ok "syncctl status --units: each unit's applied position per source" || h_fail "status --units" "$(head -5 <<<"$out")"
h_assert_eq "the quarantine in /v1/status equals the state DB's" \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_quarantine WHERE source = 'land'")" \
    "$("$H_BUILD/syncctl" -s "$API" --json status | jq '.sources[] | select(.name == "land") | .quarantined')"

# a unit database down: degraded, still running, still pinging the watchdog
mark
db tier false
h_psql -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id % 50 = 0" >/dev/null
wait_note '^STATUS=land: [a-z]+, lag [0-9]+ kB, 103 units down' 30 &&
    h_ok "STATUS shows the units whose database is down" || h_fail "degraded STATUS" "$(grep STATUS "$notes" | tail -3)"
n0=$(grep -c '^WATCHDOG=1' "$notes")
sleep 3
[[ $(grep -c '^WATCHDOG=1' "$notes") -gt $n0 ]] && h_ok "a dead unit database does not stop the watchdog pings" ||
    h_fail "watchdog with a unit down" "$(tail -6 "$notes")"
curl -s -o "$H_TMP/r" "$API/readyz"
h_assert_eq "/readyz says degraded" true "$(jq .degraded "$H_TMP/r")"
db tier true
mark
wait_note '^STATUS=land: streaming, lag [0-9]+ kB, all units' 60 && h_ok "back: all units again" || h_fail "back" "$(grep STATUS "$notes" | tail -3)"

# SIGHUP while a workload streams: valid, invalid, a routing change that
# moves rows, a key that needs a restart; nothing lost
(
    for ((i = 1; i <= 120; i++)); do
        psql -X -q -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1, ma_dvhc_xa = (ARRAY['31117','31120','31123'])[1 + $i % 3] WHERE id = (SELECT id FROM thua_dat ORDER BY md5(id::text || '$i') LIMIT 1)" >/dev/null 2>&1 || true
        psql -X -q -d civil -c "UPDATE khai_sinh SET so = so || '.' WHERE id % 97 = $i % 97" >/dev/null 2>&1 || true
    done
) &
wl=$!
h_atexit_kill "$wl"
hup() { # hup LABEL REGEX: SIGHUP, then RELOADING=1 and READY=1 with a STATUS matching REGEX
    local n0
    n0=$(grep -c '^RELOADING=1' "$notes" || true)
    kill -HUP "$pid"
    for ((i = 0; i < 100; i++)); do [[ $(grep -c '^RELOADING=1' "$notes") -gt $n0 ]] && break; sleep 0.1; done
    sleep 0.5
    if [[ $(grep -c '^RELOADING=1' "$notes") -gt $n0 ]] && tail -n 20 "$notes" | grep -A1 '^READY=1' | grep -Eq "$2"; then
        h_ok "SIGHUP, $1: RELOADING=1, then READY=1 with the outcome"
    else
        h_fail "SIGHUP, $1" "$(tail -8 "$notes")"
    fi
}
sed -i 's/^log_level = info$/log_level = debug/' "$H_CONF"
sed -i 's/"max_days": 730,/"max_days": 700,/' "$H_TMP/pol/roles.json"
cp "$H_ROOT/policies/routing.json" "$H_TMP/pol/routing.json"
hup "valid files, a table added to routing.json" '^STATUS=.*reloaded .*log_level debug.*1 tables were added'
echo '{"actions": [' >"$H_TMP/pol/roles.json.new"
cp "$H_TMP/pol/roles.json" "$H_TMP/roles.good"
mv "$H_TMP/pol/roles.json.new" "$H_TMP/pol/roles.json"
hup "an invalid roles.json" '^STATUS=.*reload refused, the running policies are kept: .*roles.json:[0-9]+:'
cp "$H_TMP/roles.good" "$H_TMP/pol/roles.json"
echo "public.thua_dat,4,31120" >>"$H_TMP/pol/units/split_overrides.csv"
hup "a routing change that moves rows" '^STATUS=.*moves existing rows between units.*syncctl resync'
sed -i '$d' "$H_TMP/pol/units/split_overrides.csv"
sed -i "s/^listen = .*/listen = 127.0.0.1:1/" "$H_CONF"
hup "a key that needs a restart" '^STATUS=.*\[syncd\] listen cannot change while syncd runs'
sed -i "s/^listen = .*/listen = 127.0.0.1:$H_API_PORT/" "$H_CONF"
hup "back to valid files" '^STATUS=.*reloaded'
h_pid_alive "$pid" && h_ok "syncd kept running through the reloads" || h_fail "daemon" "$(tail "$H_TMP/daemon.log")"
wait "$wl" || true
h_city_caught_up
h_assert_eq "the table added by the reload was copied into every unit, then streamed" "ok" \
    "$(h_psql -d syncd_state -c "SELECT left(result, 2) FROM syncd_request WHERE kind = 'copy_table' AND tbl = 'public.to_ban_do'")"
ROUTING=$H_TMP/pol/routing.json h_city_compare "workload through five reloads"
curl -s "$API/metrics" >"$H_TMP/metrics2"
out=$(promtool check metrics <"$H_TMP/metrics2" 2>&1) && rc=0 || rc=$?
h_assert_eq "promtool check metrics after the workload" "0:" "$rc:$out"
grep -Eq '^syncd_rows_applied_total\{source="civil",unit="[0-9]{5}",table="public.khai_sinh",op="update"\} [1-9]' "$H_TMP/metrics2" &&
    h_ok "/metrics: rows applied by unit, table and operation" ||
    h_fail "rows applied" "$(grep rows_applied "$H_TMP/metrics2" | head -3)"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "SIGTERM: exit 0" 0 "$rc"
grep -q '^STOPPING=1' "$notes" && h_ok "STOPPING=1 on SIGTERM" || h_fail "STOPPING" "$(tail -6 "$notes")"
h_summary
