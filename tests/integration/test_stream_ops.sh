#!/bin/bash
# Operations on the stream (issue 3): syncctl resync of one unit under load,
# and a table added to routing.json — each ends equal to the oracle.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 3000
SYNCCTL=$H_BUILD/syncctl

# start without public.to_ban_do in routing.json; it is added later
cp -r "$H_ROOT/policies" "$H_TMP/pol"
sed -i '/"table": "public.to_ban_do"/,+1d' "$H_TMP/pol/routing.json"
grep -q to_ban_do "$H_TMP/pol/routing.json" && h_fail "test setup" "to_ban_do still routed"
h_city_conf "$H_TMP/small.conf" "$H_TMP/pol"
h_syncd_once "$H_TMP/small.conf"
h_assert_eq "to_ban_do not copied while unrouted" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM pg_tables WHERE tablename = 'to_ban_do'")"

# the table added: the daemon copies it into every unit, then streams it
h_syncd_start || true
pid=$H_SYNCD_PID
h_psql -d land -c "UPDATE to_ban_do SET ty_le = 1000 WHERE ma_dvhc_xa = '31117'"
h_psql -d land -c "INSERT INTO to_ban_do (id, ma_dvhc_xa, so_to, ty_le) VALUES (990001, '31120', 99, 500)"

h_city_caught_up
h_assert_eq "the added table's copy is done" "ok" \
    "$(h_psql -d syncd_state -c "SELECT left(result, 2) FROM syncd_request WHERE kind = 'copy_table' AND tbl = 'public.to_ban_do'")"
h_city_compare "table added to routing.json"

# resync of one unit while a workload runs; its copy was damaged by hand
(
    for ((i = 1; i <= 150; i++)); do
        psql -X -q -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1, ma_dvhc_xa = (ARRAY['31117','31120','31123'])[1 + $i % 3] WHERE id = (SELECT id FROM thua_dat ORDER BY md5(id::text || '$i') LIMIT 1)" >/dev/null 2>&1 || true
        psql -X -q -d civil -c "UPDATE khai_sinh SET so = so || '.' WHERE id = (SELECT id FROM khai_sinh WHERE ma_dvhc_dang_ky IN ('31117', '31120') ORDER BY md5(id::text || '$i') LIMIT 1)" >/dev/null 2>&1 || true
    done
) &
wl=$!
h_atexit_kill "$wl"
h_psql -d tier -c "DELETE FROM u31120.thua_dat WHERE id IN (SELECT id FROM u31120.thua_dat ORDER BY id LIMIT 10); UPDATE u31120.khai_sinh SET ho_ten = 'sai' WHERE id IN (SELECT id FROM u31120.khai_sinh LIMIT 5)"
out=$("$SYNCCTL" -c "$H_CONF" resync --unit 31120 --timeout 120 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl resync exits 0" 0 "$rc"
if grep -q '^source land: unit 31120: ok: [0-9]* rows copied at' <<<"$out" && grep -q '^source civil: unit 31120: ok' <<<"$out"; then
    h_ok "syncctl reports the resync of each source"
else
    h_fail "syncctl report" "$out"
fi
wait "$wl" || true
h_city_caught_up
h_city_compare "resync of unit 31120 under load"

# bad requests are refused with the reason
out=$("$SYNCCTL" -c "$H_CONF" resync --unit 31117 2>&1) && rc=0 || rc=$?
h_assert_eq "resync of a pre-2025 code is refused" 2 "$rc"
grep -q 'needs one of the 103 unit codes' <<<"$out" && h_ok "refusal names the fix" || h_fail "refusal message" "$out"
out=$("$SYNCCTL" -c "$H_CONF" resync --unit 31120 --table public.nope 2>&1) && rc=0 || rc=$?
h_assert_eq "resync of an unrouted table is refused" 2 "$rc"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"

# a routing change makes quarantined rows routable: they move to their units
rm -rf "$H_TMP/pol2"
cp -r "$H_ROOT/policies" "$H_TMP/pol2"
echo "public.thua_dat,4,31120" >>"$H_TMP/pol2/units/split_overrides.csv"
h_city_conf "$H_TMP/pol2.conf" "$H_TMP/pol2"
h_assert_eq "parcel 4 is quarantined before" split_unresolved \
    "$(h_psql -d syncd_state -c "SELECT reason FROM syncd_quarantine WHERE tbl = 'public.thua_dat' AND key = '4'")"
"$H_SYNCD" -c "$H_TMP/pol2.conf" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
h_assert_eq "--once with the new policy exits 0" 0 "$rc"
grep -q 're-routing the quarantine: ok: [1-9][0-9]* of' "$H_TMP/err" && h_ok "the quarantine is re-routed" ||
    h_fail "re-route" "$(cat "$H_TMP/err")"
h_assert_eq "parcel 4 is in unit 31120" 1 "$(h_psql -d tier -c "SELECT count(*) FROM u31120.thua_dat WHERE id = 4")"
ROUTING=$H_TMP/pol2/routing.json h_city_compare "quarantine re-routed after a routing change"
"$H_SYNCD" -c "$H_TMP/pol2.conf" --once >"$H_TMP/out" 2>"$H_TMP/err"
grep -q 're-routing' "$H_TMP/err" && h_fail "no re-route without a change" "$(cat "$H_TMP/err")" ||
    h_ok "an unchanged policy does not re-route again"

# a unit copy damaged by hand: the change that cannot apply stops the source
# with the table and the fix named, in the middle of a pipelined batch, and
# nothing of that batch is confirmed; repaired, the stream goes on
victim=$(h_psql -d tier -c "SELECT id FROM u31120.thua_dat ORDER BY id LIMIT 1 OFFSET 5")
h_psql -d tier -c "DELETE FROM u31120.thua_dat WHERE id = $victim"
before=$(h_psql -d land -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'")
h_psql -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id % 7 = 0 OR id = $victim"
"$H_SYNCD" -c "$H_TMP/pol2.conf" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
[[ $rc != 0 ]] && h_ok "a diverged unit copy stops --once with an error" || h_fail "diverged copy" "exit 0"
grep -q "UPDATE u31120.thua_dat: no row with that key (the unit's copy has diverged; resync it)" "$H_TMP/err" &&
    h_ok "the error names the unit table and the fix" || h_fail "diverged copy message" "$(cat "$H_TMP/err")"
h_assert_eq "the slot is not confirmed past the failed batch" "$before" \
    "$(h_psql -d land -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'")"
h_psql -d land -c "COPY (SELECT * FROM thua_dat WHERE id = $victim) TO STDOUT" |
    h_psql -d tier -c "COPY u31120.thua_dat FROM STDIN"
"$H_SYNCD" -c "$H_TMP/pol2.conf" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
h_assert_eq "--once after the repair exits 0" 0 "$rc"
ROUTING=$H_TMP/pol2/routing.json h_city_compare "diverged copy repaired"

# a lost slot (here: gone, as after a failover to a server without it) is
# reported and leads to a clean resnapshot
h_psql -d land -c "SELECT pg_drop_replication_slot('syncd_land')" >/dev/null
h_psql -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id % 3 = 0"
"$H_SYNCD" -c "$H_TMP/pol2.conf" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
h_assert_eq "--once after the slot was lost exits 0" 0 "$rc"
grep -q 'slot syncd_land is missing although a snapshot completed.*taking a new snapshot' "$H_TMP/err" &&
    h_ok "the lost slot is reported" || h_fail "lost slot report" "$(cat "$H_TMP/err")"
grep -q '^source land: snapshot complete at' "$H_TMP/out" && h_ok "a new snapshot was taken" || h_fail "resnapshot" "$(cat "$H_TMP/out")"
ROUTING=$H_TMP/pol2/routing.json h_city_compare "resnapshot after a lost slot"
h_summary
