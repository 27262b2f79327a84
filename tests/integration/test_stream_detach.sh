#!/bin/bash
# A unit database that goes down (issue 3): below unit_backlog_limit the slot
# keeps the WAL and the units catch up by replay when it returns; past the
# limit the units are detached, the slot moves on, and they are resynced when
# the database returns.  Each ends equal to the oracle.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 2000
sed -i 's/^log_level = info$/log_level = info\nunit_backlog_limit = 4/' "$H_CONF"
h_syncd_once

tier_down() {
    h_psql -d postgres -c "ALTER DATABASE tier ALLOW_CONNECTIONS false" \
        -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'tier'" >/dev/null
}
tier_up() { h_psql -d postgres -c "ALTER DATABASE tier ALLOW_CONNECTIONS true"; }
flush() { h_psql -d land -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'"; }
changes() {
    h_psql -d land -c "UPDATE thua_dat SET phien_ban = phien_ban + 1, ma_dvhc_xa = CASE WHEN id % 2 = 0 THEN '31117' ELSE ma_dvhc_xa END WHERE id % 7 = $1"
    h_psql -d civil -c "UPDATE khai_sinh SET so = so || '$1' WHERE id % 5 = 1"
}

h_syncd_start || true
pid=$H_SYNCD_PID

# 1. down briefly, under the limit: the slot holds, the units replay
h_city_caught_up
tier_down
# WAL before the first change for the down units may be released; not past it
before=$(h_psql -d land -c "SELECT pg_current_wal_lsn()")
changes 1
sleep 3
h_assert_eq "while the tier is down the slot keeps the WAL of its units' changes" t \
    "$(h_psql -d land -c "SELECT confirmed_flush_lsn <= '$before' FROM pg_replication_slots WHERE slot_name = 'syncd_land'")"
kill -0 "$pid" && h_ok "the daemon keeps running with the tier down" || h_fail "daemon" "died"
tier_up
h_city_caught_up
h_city_compare "tier back under the limit"
h_assert_eq "nothing detached under the limit" 0 "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_unit_state")"

# 2. down past the limit (4 MB of WAL): detached, the slot moves on
tier_down
changes 2
before=$(flush)
h_psql -d land -c "CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 40) AS x FROM generate_series(1, 6000) g"
for ((i = 0; i < 200; i++)); do
    [[ $(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_unit_state WHERE source = 'land'") == 103 ]] && break
    sleep 0.1
done
h_assert_eq "past unit_backlog_limit every unit of the down tier is detached" 103 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_unit_state WHERE source = 'land'")"
grep -q 'unit 31120 detached from source land: database unreachable while the source kept [0-9]* MB of WAL (unit_backlog_limit = 4 MB)' "$H_TMP/daemon.log" &&
    h_ok "the detach is logged with its reason" || h_fail "detach log" "$(tail -5 "$H_TMP/daemon.log")"
for ((i = 0; i < 100; i++)); do
    [[ $(h_psql -d land -c "SELECT confirmed_flush_lsn > '$before' FROM pg_replication_slots WHERE slot_name = 'syncd_land'") == t ]] && break
    sleep 0.1
done
h_assert_eq "after the detach the slot moves on" t \
    "$(h_psql -d land -c "SELECT confirmed_flush_lsn > '$before' FROM pg_replication_slots WHERE slot_name = 'syncd_land'")"
changes 3
tier_up
h_city_caught_up
h_assert_eq "back: the detached units are resynced and attached" 0 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_unit_state")"
h_city_compare "tier back past the limit"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
h_summary
