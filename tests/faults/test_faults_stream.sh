#!/bin/bash
# Fault tests of the streaming path (issue 15), on real servers, sharing one
# city: the source and the state DB on one PostgreSQL, the tier of every
# unit but one on a second ("tier"), and unit 31135's tier on a third
# ("unit"), inside a network namespace when root may make one.  Each unit
# has its own [tier] conninfo (service=t{unit}, pg_service.conf).  While a
# workload moves, updates, inserts and deletes parcels (every update bumps
# phien_ban) and the order validator samples the units, these faults come
# one after the other:
#   1. unit 31135's tier database down (short 15 s, FAULTS_LONG=1: 2 min):
#      the other units flow (their checkpoints advance), /metrics shows the
#      unit down and the WAL the slot keeps, the unit catches up after;
#   7. the same database behind a partition that DROPS packets (the
#      namespace side of the veth set down): the others flow, the stuck
#      connection times out with a log line naming it, the unit catches up
#      when the partition heals (skipped with a note without netns);
#   2. immediate restarts (pg_ctl -m immediate) of the tier PostgreSQL
#      (short 8, long 100);
#   3. the source PostgreSQL (with the state DB) restarted immediately;
#   6. the spill directory (TMPDIR, a small tmpfs; needs root) full while a
#      large transaction streams: an error naming the directory, then the
#      transaction arrives whole once there is room.
# At the end every unit equals the oracle, the quarantine holds exactly the
# unroutable rows, and the validator saw no row go back or sit in two
# places.  Lags are printed as "figure:" lines and never asserted.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"
. "$(dirname "$0")/../harness/validator.sh"

LONG=${FAULTS_LONG:-0}
if [[ $LONG == 1 ]]; then
    down_s=120 restarts=100 part_s=60
else
    down_s=15 restarts=8 part_s=12
fi
ISO=31135  # the unit with a database of its own (old codes 31123, 31135)
HEALTHY=31213 # a unit on the shared tier (old code 31213)

h_city_start 1000
h_psql -d postgres -c "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" -c "SELECT pg_reload_conf()" >/dev/null
BIN=$H_PG_BINDIR

# ---------------------------------------------------------------- servers
f_run() { # as postgres when root, from a directory postgres may enter
    if [[ $EUID -eq 0 ]]; then (cd "$H_TMP" && runuser -u postgres -- "$@"); else "$@"; fi
}

# f_pg NAME ADDR [NETNS]: a PostgreSQL listening on ADDR (inside NETNS),
# with role syncd and database tier; sets F_PORT_<NAME>, F_DIR_<NAME>.
f_pg() {
    local name=$1 addr=$2 ns=${3:-} dir=$H_TMP/$1 port
    mkdir -p "$dir/run"
    chmod 0700 "$dir"
    [[ $EUID -ne 0 ]] || chown -R postgres:postgres "$dir"
    f_run "$BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C -A trust >"$dir/initdb.log" 2>&1
    port=$(h_freeport)
    f_run tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '$addr'
port = $port
unix_socket_directories = '$dir/run'
max_connections = 300
EOF
    f_run tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
local all all trust
host  all all 0.0.0.0/0 trust
EOF
    printf -v "F_PORT_$name" %s "$port"
    printf -v "F_DIR_$name" %s "$dir"
    printf -v "F_NS_$name" %s "$ns"
    h_atexit "$(declare -f f_run); f_run '$BIN/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1"
    f_pg_ctl "$name" start
    PGHOST=$addr PGPORT=$port h_psql -d postgres -c "CREATE ROLE syncd LOGIN" -c "CREATE DATABASE tier OWNER syncd"
}
f_pg_ctl() { # NAME start | stop-immediate | stop-fast
    local dir=F_DIR_$1 ns=F_NS_$1 pre=()
    [[ -z ${!ns} ]] || pre=(ip netns exec "${!ns}")
    case $2 in
    start)
        if [[ $EUID -eq 0 ]]; then
            (cd "$H_TMP" && "${pre[@]}" runuser -u postgres -- "$BIN/pg_ctl" -D "${!dir}/data" -l "${!dir}/log" -w -t 60 start >/dev/null)
        else
            "$BIN/pg_ctl" -D "${!dir}/data" -l "${!dir}/log" -w -t 60 start >/dev/null
        fi ;;
    stop-*) f_run "$BIN/pg_ctl" -D "${!dir}/data" -m "${2#stop-}" -w stop >/dev/null ;;
    esac
}

NS='' ISO_ADDR=127.0.0.1
if [[ $EUID -eq 0 ]] && ip netns add "synf$$" 2>/dev/null; then
    NS=synf$$
    h_atexit "ip link del synfh$$ 2>/dev/null; ip netns del $NS"
    if ip link add "synfh$$" type veth peer name synfn netns "$NS" &&
        ip addr add 10.231.0.1/30 dev "synfh$$" && ip link set "synfh$$" up &&
        ip netns exec "$NS" ip addr add 10.231.0.2/30 dev synfn &&
        ip netns exec "$NS" ip link set synfn up && ip netns exec "$NS" ip link set lo up &&
        # a permanent neighbour entry: with the peer down, packets vanish
        # (no ARP failure turning into "No route to host")
        ip neigh replace 10.231.0.2 lladdr "$(ip netns exec "$NS" cat /sys/class/net/synfn/address)" \
            dev "synfh$$" nud permanent; then
        ISO_ADDR=10.231.0.2
    else
        NS=''
    fi
fi
[[ -n $NS ]] || echo "note - fault 7 (partition) not run: a network namespace needs root and CAP_NET_ADMIN"
f_pg tier 127.0.0.1
f_pg unit "$ISO_ADDR" "$NS"
# shellcheck disable=SC2154 # F_PORT_* are set by f_pg (printf -v)
T_TIER="host=127.0.0.1 port=$F_PORT_tier dbname=tier user=postgres"
# shellcheck disable=SC2154
T_UNIT="host=$ISO_ADDR port=$F_PORT_unit dbname=tier user=postgres"
tier() { h_psql -d "$T_TIER" -c "$1"; }
unit() { h_psql -d "$T_UNIT" -c "$1"; }

# each unit its own conninfo (own connection, own transaction); the short
# form shortens libpq's timeouts (syncd's defaults: connect 10 s, keepalive
# after 10 s idle, 30 s for unacknowledged data), the long form keeps them
export PGSERVICEFILE=$H_TMP/pg_service.conf
timeouts=''
[[ $LONG == 1 ]] || timeouts=' connect_timeout=2 keepalives_idle=2 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=4000'
for code in $(tail -n +2 "$H_ROOT/policies/units/cantho_new_units.csv" | cut -d, -f1); do
    if [[ $code == "$ISO" ]]; then
        printf '[t%s]\nhost=%s\nport=%s\ndbname=tier\nuser=syncd\n' "$code" "$ISO_ADDR" "$F_PORT_unit"
    else
        printf '[t%s]\nhost=127.0.0.1\nport=%s\ndbname=tier\nuser=syncd\n' "$code" "$F_PORT_tier"
    fi
done >"$PGSERVICEFILE"
h_policy_thua_dat "$H_TMP/pol"
export ROUTING=$H_TMP/pol/routing.json
cat >"$H_CONF" <<EOF
[syncd]
policies_dir = $H_TMP/pol
log_level = info
listen = 127.0.0.1:$H_API_PORT

[state]
conninfo = $H_STATE

[source land]
conninfo = $H_LAND

[tier]
conninfo = service=t{unit}$timeouts
schema = u{unit}
EOF

# the spill directory: a tmpfs we can fill (root), else a plain directory
export TMPDIR=$H_TMP/spill
mkdir -p "$TMPDIR"
SPILL_FS=0
if [[ $EUID -eq 0 ]] && mount -t tmpfs -o size=16m,mode=0700 tmpfs "$TMPDIR" 2>/dev/null; then
    SPILL_FS=1
    h_atexit "umount -l '$TMPDIR'"
fi
h_syncd_once

# ---------------------------------------------------------------- helpers
compare() {
    local label=$1 exp act
    exp=$("$H_ROOT/tests/harness/oracle.sh" expect-land "host=127.0.0.1 port=$PGPORT dbname=land user=postgres")
    act=$({ "$H_ROOT/tests/harness/oracle.sh" actual-tier "$T_TIER" land
        "$H_ROOT/tests/harness/oracle.sh" actual-tier "$T_UNIT" land; } | LC_ALL=C sort)
    if [[ -n $exp && $exp == "$act" ]]; then
        h_ok "$label: every unit's copy equals the oracle ($(wc -l <<<"$exp") table/unit pairs, $(awk -F'\t' '{n += $3} END {print n}' <<<"$exp") rows)"
    else
        h_fail "$label: copies differ from the oracle" "$(diff <(echo "$exp") <(echo "$act") | head -20)"
    fi
    exp=$("$H_ROOT/tests/harness/oracle.sh" expect-quarantine-land "host=127.0.0.1 port=$PGPORT dbname=land user=postgres")
    act=$(h_psql -d syncd_state -c "SELECT tbl || E'\t' || key || E'\t' || reason FROM syncd_quarantine WHERE source = 'land'" | LC_ALL=C sort)
    [[ -n $exp && $exp == "$act" ]] && h_ok "$label: the quarantine holds exactly the unroutable rows ($(wc -l <<<"$exp"))" ||
        h_fail "$label: quarantine differs from the oracle" "$(diff <(echo "$exp") <(echo "$act") | head -20)"
}
now_ms() { date +%s%3N; }
# marker OLDCODE: a new parcel (ids from 9000001) in the unit of that old
# code; prints its id
marker() {
    h_psql -d land -c "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban)
        SELECT coalesce(max(id), 9000000) + 1, '$1', 5, 1, 10, 1, 1 FROM thua_dat WHERE id BETWEEN 9000001 AND 9499999 RETURNING id"
}
# arrival DB-FUNCTION SCHEMA ID SINCE-MS [SECONDS]: ms from SINCE until the
# row is in the unit, or "not within N s"
arrival() {
    local i n=$((${5:-60} * 20))
    for ((i = 0; i < n; i++)); do
        [[ $($1 "SELECT count(*) FROM $2.thua_dat WHERE id = $3" 2>/dev/null) == 1 ]] && { echo "$(($(now_ms) - $4)) ms"; return; }
        sleep 0.05
    done
    echo "not within ${5:-60} s"
}
ckpt() { tier "SELECT lsn FROM u$HEALTHY.syncd_checkpoint WHERE source = 'land'"; }
metric() {
    curl -s "http://127.0.0.1:$H_API_PORT/metrics" >"$H_TMP/metrics" || true
    awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { print $2; exit }' "$H_TMP/metrics"
}
caught_up() {
    local target i
    target=$(h_psql -d land -c "SELECT pg_current_wal_lsn()")
    for ((i = 0; i < 1200; i++)); do
        [[ $(h_psql -d land -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'syncd_land'" 2>/dev/null) == t ]] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- load
workload() {
    local i codes=(31117 31120 31123 31135 31213 31178 99999 '') c m
    for ((i = 1; ; i++)); do
        [[ -e $H_TMP/wl.stop ]] && break
        c=${codes[RANDOM % 6]} m=${codes[RANDOM % 8]}
        psql -X -q -d land >>"$H_TMP/workload.log" 2>&1 <<SQL || true
BEGIN;
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban) VALUES (7000000 + $i, '$c', 5, $i, 10, 1, 1);
UPDATE thua_dat SET ma_dvhc_xa = NULLIF('$m', ''), phien_ban = phien_ban + 1 WHERE id = (SELECT id FROM thua_dat WHERE id < 7000000 ORDER BY md5(id::text || '$i') LIMIT 1);
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id = (SELECT id FROM thua_dat WHERE id < 7000000 ORDER BY md5(id::text || 'u$i') LIMIT 1);
DELETE FROM thua_dat WHERE id = (SELECT id FROM thua_dat WHERE id < 7000000 ORDER BY md5(id::text || 'd$i') LIMIT 1);
COMMIT;
SQL
        echo "$i" >"$H_TMP/wl.count"
        sleep 0.05
    done
}
h_syncd_start
h_validator_start "$T_TIER" "$T_UNIT"
workload &
h_atexit_kill $!
sleep 2
t0=$(now_ms)
id=$(marker "$HEALTHY")
echo "figure: baseline: marker lag to unit $HEALTHY $(arrival tier "u$HEALTHY" "$id" "$t0")"

# ---------------------------------------------------------------- 1. unit database down
before=$(ckpt)
lag0=$(metric syncd_source_lag_bytes)
f_pg_ctl unit stop-immediate
t0=$(now_ms)
sleep 3
t1=$(now_ms)
id=$(marker "$HEALTHY")
echo "figure: 1 unit db down: marker lag to healthy unit $HEALTHY during the outage $(arrival tier "u$HEALTHY" "$id" "$t1")"
sleep $((down_s - 3))
idx=$(marker 31135)
after=$(ckpt)
down=$(metric syncd_units_down)
lag1=$(metric syncd_source_lag_bytes)
[[ $(h_psql -d land -c "SELECT '$after'::pg_lsn > '$before'::pg_lsn") == t ]] &&
    h_ok "1: while unit $ISO's database was down ${down_s} s, unit $HEALTHY's checkpoint advanced ($before -> $after)" ||
    h_fail "1: other units flow" "unit $HEALTHY's checkpoint stayed at $before"
h_assert_eq "1: /metrics: syncd_units_down counts the unit" 1 "${down:-none}"
[[ ${lag1:-0} -gt 0 && ${lag1:-0} -gt ${lag0:-0} ]] &&
    h_ok "1: /metrics: syncd_source_lag_bytes shows the WAL the slot keeps for it (${lag0:-?} -> $lag1 bytes)" ||
    h_fail "1: retained WAL metric" "syncd_source_lag_bytes ${lag0:-none} -> ${lag1:-none}"
echo "figure: 1 unit db down: ${down_s} s, slot kept $lag1 bytes for the down unit, retained on the source $(h_psql -d land -c "SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'") bytes"
f_pg_ctl unit start
t1=$(now_ms)
echo "figure: 1 unit db down: marker committed during the outage reached unit $ISO $(arrival unit "u$ISO" "$idx" "$t1" 120) after its database was back ($(((t1 - t0) / 1000)) s outage)"
h_assert_eq "1: unit $ISO caught up after its database came back" 1 "$(unit "SELECT count(*) FROM u$ISO.thua_dat WHERE id = $idx")"

# ---------------------------------------------------------------- 7. partition, packets dropped
if [[ -n $NS ]]; then
    mark_log=$(wc -l <"$H_TMP/daemon.log")
    before=$(ckpt)
    ip netns exec "$NS" ip link set synfn down
    t0=$(now_ms)
    idx=$(marker 31135)
    sleep 1
    t1=$(now_ms)
    id=$(marker "$HEALTHY")
    echo "figure: 7 partition: marker lag to healthy unit $HEALTHY during the partition $(arrival tier "u$HEALTHY" "$id" "$t1" "$part_s")"
    for ((i = 0; i < part_s * 10; i++)); do
        tail -n +"$mark_log" "$H_TMP/daemon.log" | grep -q "$ISO" && break
        sleep 0.1
    done
    line=$(tail -n +"$mark_log" "$H_TMP/daemon.log" | grep -m1 "$ISO" || true)
    echo "# $line"
    echo "figure: 7 partition: first log line naming the stuck unit's tier after $(($(now_ms) - t0)) ms"
    [[ -n $line ]] && h_ok "7: the stuck connection to unit $ISO's tier timed out with a log line naming it" ||
        h_fail "7: timeout logged" "no line naming $ISO: $(tail -3 "$H_TMP/daemon.log")"
    while (($(now_ms) - t0 < part_s * 1000)); do sleep 0.5; done
    id=$(marker "$HEALTHY")
    t1=$(now_ms)
    echo "figure: 7 partition: marker lag to healthy unit $HEALTHY late in the partition $(arrival tier "u$HEALTHY" "$id" "$t1" 60)"
    after=$(ckpt)
    [[ $(h_psql -d land -c "SELECT '$after'::pg_lsn > '$before'::pg_lsn") == t ]] &&
        h_ok "7: while packets to unit $ISO were dropped, unit $HEALTHY's checkpoint advanced" ||
        h_fail "7: other units flow" "unit $HEALTHY's checkpoint stayed at $before"
    ip netns exec "$NS" ip link set synfn up
    t1=$(now_ms)
    echo "figure: 7 partition: marker committed during the partition reached unit $ISO $(arrival unit "u$ISO" "$idx" "$t1" 120) after it healed ($(((t1 - t0) / 1000)) s partition)"
    h_assert_eq "7: unit $ISO caught up after the partition healed" 1 "$(unit "SELECT count(*) FROM u$ISO.thua_dat WHERE id = $idx")"
fi

# ---------------------------------------------------------------- 2. tier restarted, immediate
for ((k = 1; k <= restarts; k++)); do
    h_psql -d "$T_TIER" -c CHECKPOINT # a short crash recovery: the time goes to the fault
    f_pg_ctl tier stop-immediate
    sleep "0.$((RANDOM % 5))"
    f_pg_ctl tier start
    sleep "0.$((3 + RANDOM % 7))"
done
t1=$(now_ms)
id=$(marker "$HEALTHY")
echo "figure: 2 tier restarts: after $restarts immediate restarts, marker lag to unit $HEALTHY $(arrival tier "u$HEALTHY" "$id" "$t1" 120)"
h_pid_alive "$H_SYNCD_PID" && h_ok "2: the daemon survived $restarts immediate restarts of the tier" ||
    h_fail "2: tier restarts" "daemon died: $(tail -3 "$H_TMP/daemon.log")"

# ---------------------------------------------------------------- 3. source restarted, immediate
h_psql -d postgres -c CHECKPOINT
f_run "$BIN/pg_ctl" -D "$H_PG_DATA" -m immediate -w stop >/dev/null
sleep 1
_h_pg_ctl_start
t1=$(now_ms)
id=$(marker "$HEALTHY")
echo "figure: 3 source restart: marker committed right after the source came back reached unit $HEALTHY $(arrival tier "u$HEALTHY" "$id" "$t1" 120)"
h_pid_alive "$H_SYNCD_PID" && h_ok "3: the daemon survived an immediate restart of the source" ||
    h_fail "3: source restart" "daemon died: $(tail -3 "$H_TMP/daemon.log")"

# ---------------------------------------------------------------- 6. spill directory full
if [[ $SPILL_FS == 1 ]]; then
    mark_log=$(wc -l <"$H_TMP/daemon.log")
    dd if=/dev/zero of="$TMPDIR/filler" bs=64k >/dev/null 2>&1 || true
    t0=$(now_ms)
    h_psql -d land -c "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban)
        SELECT 9500000 + g, '31213', 5, g, 10, 1, 1 FROM generate_series(1, 3000) g"
    for ((i = 0; i < 300; i++)); do
        tail -n +"$mark_log" "$H_TMP/daemon.log" | grep -q "cannot stage streamed transaction" && break
        sleep 0.1
    done
    msg=$(tail -n +"$mark_log" "$H_TMP/daemon.log" | grep -m1 "cannot stage streamed transaction" || true)
    echo "# $msg"
    [[ $msg == *"$TMPDIR"*"No space left on device; free space there"* ]] &&
        h_ok "6: a full spill directory is an error naming it and the fix" ||
        h_fail "6: spill full reported" "${msg:-no such message}"
    h_assert_eq "6: meanwhile nothing of the transaction reached the unit" 0 "$(tier "SELECT count(*) FROM u$HEALTHY.thua_dat WHERE id > 9500000")"
    rm -f "$TMPDIR/filler"
    t1=$(now_ms)
    echo "figure: 6 spill full: the large transaction reached unit $HEALTHY $(arrival tier "u$HEALTHY" 9503000 "$t1" 120) after space was freed ($(((t1 - t0) / 1000)) s full)"
    h_assert_eq "6: the whole transaction arrived once there was room" 3000 "$(tier "SELECT count(*) FROM u$HEALTHY.thua_dat WHERE id > 9500000")"
else
    echo "note - fault 6 (spill directory full) not run: mounting a small tmpfs needs root"
fi

# ---------------------------------------------------------------- the end
touch "$H_TMP/wl.stop"
sleep 1
caught_up && h_ok "the daemon caught up with the source after every fault" ||
    h_fail "caught up" "slot behind: $(tail -3 "$H_TMP/daemon.log")"
h_pid_alive "$H_SYNCD_PID" && h_ok "the daemon ran through every fault without a restart" ||
    h_fail "daemon alive" "$(tail -3 "$H_TMP/daemon.log")"
echo "figure: workload: $(cat "$H_TMP/wl.count") transactions during the faults"
h_validator_check "faults"
compare "after every fault"
h_summary
