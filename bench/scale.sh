#!/bin/bash
# make bench-scale: how syncd grows with the number of units (issue 15).
# One throwaway PostgreSQL 15, one city of SCALE_ROWS parcels (default
# 200,000), land's thua_dat routed two ways, one after the other:
#   (103)   the real 103 units of Can Tho (era old: the mapping and the split
#           wards, as bench/snapshot.sh and bench/stream.sh route it);
#   (1000)  SCALE_UNITS synthetic units (codes 90000.., era new): every parcel
#           with a well-formed code is rewritten to 90000 + id % SCALE_UNITS
#           first, so the same rows are spread thinner.
# For each, from an empty tier and state database:
#   snapshot  syncd --once: wall seconds, syncd CPU (user+sys) and peak RSS
#             (/usr/bin/time -v), CPU of the PostgreSQL backends it used
#             (the postmaster's reaped-children CPU);
#   stream    the continuous daemon, then SCALE_CHANGES single-row UPDATEs in
#             transactions of SCALE_TX_ROWS rows (ids spread over the whole
#             table, so over every unit), committed back to back by one
#             session: seconds from the last COMMIT until the slot confirms it
#             (applied in every unit), CPU of syncd and of its tier and state
#             backends and the walsender (/proc utime+stime), syncd's peak RSS
#             (VmHWM) and the tier backends' private memory (RssAnon: their
#             prepared statements and caches) once it is applied, and the
#             checkpoint rows written to the units meanwhile (one per unit
#             a batch touched).
# Then the cost of one unit: (figure at 1000 - figure at 103) / (1000 - 103).
# The load average is printed beside every figure: on a shared machine wall
# seconds are noisy, CPU seconds much less so.  Autovacuum is off; the tier
# is vacuumed and analysed by hand between the snapshot and the stream.
# usage: bench/scale.sh   (SCALE_ROWS, SCALE_UNITS, SCALE_CHANGES, SCALE_TX_ROWS)
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

rows=${SCALE_ROWS:-200000}
nsynth=${SCALE_UNITS:-1000}
changes=${SCALE_CHANGES:-50000}
per_tx=${SCALE_TX_ROWS:-100}
first_code=90000
cap=${SCALE_CAP:-900} # the stream gives up waiting after this many seconds
if ((nsynth < 104 || nsynth > 9999 || changes < per_tx || per_tx < 1)); then
    echo "$0: SCALE_UNITS must be 104..9999 and SCALE_CHANGES >= SCALE_TX_ROWS >= 1" >&2
    exit 2
fi
[[ -x /usr/bin/time ]] || { echo "$0: needs /usr/bin/time (GNU time) for syncd's CPU and peak memory: apt-get install time" >&2; exit 1; }
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
clk=$(getconf CLK_TCK)

h_init
h_pg_start
# measurements must not meet an autovacuum (its CPU would count as the backends')
h_psql -d postgres -c "ALTER SYSTEM SET autovacuum = off"
h_pg_restart
echo "scale: generating $rows parcels and the other tables (load average $(load)) ..."
h_city_setup "$rows"
h_psql -d land -c "VACUUM (FREEZE, ANALYZE)"
nrows=$(h_psql -d land -c "SELECT count(*) FROM thua_dat")
maxid=$(h_psql -d land -c "SELECT max(id) FROM thua_dat")
postmaster=$(head -1 "$H_PG_DATA/postmaster.pid")
api_port=$(h_freeport)

# ------------------------------------------------------------ policies

h_policy_thua_dat "$H_TMP/pol103"
mkdir -p "$H_TMP/pol$nsynth"
{
    echo "new_code,new_name,new_type,new_full_name,name_en,province_code"
    for ((i = 0; i < nsynth; i++)); do
        echo "$((first_code + i)),Thử $i,Xã,Xã Thử $i,Thu $i,99"
    done
} >"$H_TMP/pol$nsynth/units.csv"
{
    echo "old_code,old_name,old_province,new_code,new_name,merge_type,old_district_code,old_district_name,old_province_code,resolution,llm_confidence,note"
    for ((i = 0; i < nsynth; i++)); do
        echo "$((first_code + i)),Xã Thử $i,Tỉnh Thử,$((first_code + i)),Xã Thử $i,full,999,Huyện Thử,99,bench,high,"
    done
} >"$H_TMP/pol$nsynth/mapping.csv"
cat >"$H_TMP/pol$nsynth/routing.json" <<JSON
{ "units": { "list": "$H_TMP/pol$nsynth/units.csv", "mapping": "$H_TMP/pol$nsynth/mapping.csv",
             "cutover": "2025-07-01" },
  "tables": [ { "source": "land", "table": "public.thua_dat", "unit_column": "ma_dvhc_xa",
                "era": "new", "columns": ["*"] } ] }
JSON
for n in 103 "$nsynth"; do
    cat >"$H_TMP/scale$n.conf" <<CONF
[syncd]
policies_dir = $H_TMP/pol$n
log_level = info
listen = 127.0.0.1:$api_port
[state]
conninfo = $H_STATE
[source land]
conninfo = $H_LAND
[tier]
conninfo = $H_TIER
schema = u{unit}
CONF
done

# ------------------------------------------------------------ measuring

syncd_log=$H_TMP/syncd.log
syncd_fail() {
    echo "scale: syncd failed; last lines of its log:" >&2
    tail -n 20 "$syncd_log" >&2
    exit 1
}
# CPU ticks of the postmaster's reaped children (backends that have exited)
reaped_ticks() { sed 's/.*) //' "/proc/$postmaster/stat" | awk '{ print $14 + $15 }'; }
process_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# "pid kind ticks" of the live backends: tier, state, walsender
backend_ticks() {
    local pid kind
    h_psql -d postgres -c "SELECT pid, CASE WHEN backend_type = 'walsender' THEN 'walsender'
                                            WHEN datname = 'tier' THEN 'tier'
                                            WHEN datname = 'syncd_state' THEN 'state' END
                           FROM pg_stat_activity WHERE usename IN ('syncd', 'syncd_repl')" |
        while IFS='|' read -r pid kind; do
            [[ -n $kind && -r /proc/$pid/stat ]] || continue
            echo "$pid $kind $(process_ticks "$pid" 2>/dev/null || echo 0)"
        done
}
# CPU seconds of KIND between two backend_ticks files (pids present in both)
ticks_diff() {
    awk -v clk="$clk" -v k="$3" 'NR == FNR { a[$1] = $3; next } ($2 == k && ($1 in a)) { s += $3 - a[$1] }
        END { printf "%.2f", s / clk }' "$1" "$2"
}
# rows written to the units' syncd_checkpoint tables so far
checkpoint_writes() {
    h_psql -d tier -c "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'syncd_checkpoint'"
}
tier_shape() {
    h_psql -d tier -c "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}\$') || ' schemas, '
        || (SELECT count(*) FROM pg_class) || ' relations, '
        || round(pg_database_size('tier') / 1048576.0) || ' MB'"
}

# snapshot N: syncd --once from an empty tier and state database.  Sets
# snap_s, snap_cpu, snap_rss (MB), snap_pg (s), snap_load, snap_shape
snapshot() {
    local n=$1 t0 r0 tv
    h_psql -d postgres -c "CHECKPOINT"
    snap_load=$(load)
    echo "scale: $n units: snapshot (load average $snap_load) ..."
    tv=$H_TMP/time.snap$n
    r0=$(reaped_ticks)
    t0=$(now)
    /usr/bin/time -v -o "$tv" "$H_SYNCD" -c "$H_TMP/scale$n.conf" --once >"$H_TMP/once$n.out" 2>>"$syncd_log" ||
        syncd_fail
    snap_s=$(secs "$(now)" "$t0")
    snap_pg=$(awk -v a="$(reaped_ticks)" -v b="$r0" -v c="$clk" 'BEGIN { printf "%.1f", (a - b) / c }')
    snap_cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tv")
    snap_rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tv")
    snap_shape=$(tier_shape)
    echo "scale: $n units: snapshot $snap_s s, syncd CPU $snap_cpu s, peak RSS $snap_rss MB," \
        "PostgreSQL backends CPU $snap_pg s (load average $(load)); tier: $snap_shape"
}

# stream N: the daemon, SCALE_CHANGES UPDATEs in transactions of
# SCALE_TX_ROWS.  Sets st_load_s, st_drain, st_total, st_cpu, st_tier,
# st_state, st_ws, st_rss, st_load, st_check
stream() {
    local n=$1 pid i lsn cp0 t_stmt t_commit t_done='' res s0 ntx=$((changes / per_tx))
    h_psql -d tier -c "VACUUM ANALYZE" >/dev/null
    "$H_SYNCD" -c "$H_TMP/scale$n.conf" 2>>"$syncd_log" &
    pid=$!
    h_atexit_kill "$pid"
    for ((i = 0; i < 600; i++)); do
        [[ $(h_psql -d land -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'syncd_land'") == t ]] && break
        h_pid_alive "$pid" || syncd_fail
        sleep 0.1
    done
    # caught up with the snapshot (and its startup done) before the load
    lsn=$(h_psql -d land -c "SELECT pg_current_wal_lsn()")
    for ((i = 0; i < 600; i++)); do
        [[ $(h_psql -d land -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'syncd_land'") == t ]] && break
        sleep 0.2
    done
    # a backend sends its statistics at most every second, else 10 s later
    # once idle: wait them out, for the checkpoint rows counted below
    sleep 11
    st_load=$(load)
    echo "scale: $n units: stream of $changes UPDATEs in $ntx transactions (load average $st_load) ..."
    cp0=$(checkpoint_writes)
    backend_ticks >"$H_TMP/bt0.$n"
    s0=$(process_ticks "$pid")
    t_stmt=$(now)
    res=$(h_psql -d land -c "DO \$\$
        BEGIN
          FOR k IN 0 .. $((ntx - 1)) LOOP
            UPDATE thua_dat SET phien_ban = phien_ban + 1
             WHERE id IN (SELECT 1 + ((k * $per_tx + g)::bigint * 7919) % $maxid
                          FROM generate_series(0, $((per_tx - 1))) g);
            COMMIT;
          END LOOP;
        END \$\$" -c "SELECT pg_current_wal_lsn() || '|' || extract(epoch FROM clock_timestamp())")
    lsn=${res%%|*}
    t_commit=${res#*|}
    while :; do
        res=$(h_psql -d land -c "SELECT confirmed_flush_lsn >= '$lsn', extract(epoch FROM clock_timestamp()) FROM pg_replication_slots WHERE slot_name = 'syncd_land'")
        if [[ ${res%%|*} == t ]]; then
            t_done=${res#*|}
            break
        fi
        h_pid_alive "$pid" || syncd_fail
        awk -v a="${res#*|}" -v b="$t_commit" -v c="$cap" 'BEGIN { exit !(a - b > c) }' && break
        sleep 0.1
    done
    backend_ticks >"$H_TMP/bt1.$n"
    st_cpu=$(awk -v a="$(process_ticks "$pid")" -v b="$s0" -v c="$clk" 'BEGIN { printf "%.2f", (a - b) / c }')
    sleep 11 # the statistics of the last batches reach the views
    st_cp=$(($(checkpoint_writes) - cp0))
    st_rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
    st_tier=$(ticks_diff "$H_TMP/bt0.$n" "$H_TMP/bt1.$n" tier)
    st_state=$(ticks_diff "$H_TMP/bt0.$n" "$H_TMP/bt1.$n" state)
    st_ws=$(ticks_diff "$H_TMP/bt0.$n" "$H_TMP/bt1.$n" walsender)
    # the tier backends' private memory (their prepared statements and caches)
    st_tmem=$(awk '$2 == "tier" { print $1 }' "$H_TMP/bt1.$n" | while read -r p; do
        awk '/^RssAnon/ { print $2 }' "/proc/$p/status" 2>/dev/null || true
    done | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
    st_load_s=$(secs "$t_commit" "$t_stmt")
    if [[ -n $t_done ]]; then
        st_drain=$(secs "$t_done" "$t_commit")
        st_total=$(secs "$t_done" "$t_stmt")
    else
        st_drain=">$cap" st_total=">$cap"
    fi
    # the outcome: the units hold the source's versions of every routed row
    local qkeys
    qkeys=$(h_psql -d syncd_state -c "SELECT coalesce(string_agg(key, ','), '') FROM syncd_quarantine WHERE source = 'land'")
    st_check="source $(h_psql -d land -c "SELECT sum(phien_ban) FROM thua_dat WHERE id::text <> ALL ('{$qkeys}'::text[])")"
    st_check+=" units $(h_psql -d tier -c "SELECT sum((xpath('/row/s/text()', query_to_xml(format('SELECT coalesce(sum(phien_ban), 0) AS s FROM %I.thua_dat', nspname), false, true, '')))[1]::text::bigint) FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}\$'")"
    echo "scale: $n units: $changes UPDATEs committed in $st_load_s s; applied $st_drain s after the last COMMIT" \
        "($st_total s from the first); CPU: syncd $st_cpu s, tier backends $st_tier s, state backends $st_state s," \
        "walsender $st_ws s; syncd peak RSS $st_rss MB, tier backends' private memory $st_tmem MB; $st_cp unit checkpoint rows written (load average $(load)); sum(phien_ban): $st_check"
    h_stop_pid "$pid"
}

# ------------------------------------------------------------ the two runs

declare -A R
run() {
    local n=$1
    snapshot "$n"
    stream "$n"
    R[$n]="$snap_s $snap_cpu $snap_pg $snap_rss $st_drain $st_total $st_cpu $st_tier $st_state $st_ws $st_rss $st_tmem $st_cp"
    R[$n.load]="$snap_load / $st_load"
    R[$n.shape]=$snap_shape
    R[$n.check]=$st_check
}
run 103

# the second run from empty: no slot, no publication, fresh tier and state
h_psql -d land -c "SELECT pg_drop_replication_slot('syncd_land')" -c "DROP PUBLICATION IF EXISTS syncd_land" >/dev/null
h_psql -d postgres -c "DROP DATABASE tier WITH (FORCE)" -c "CREATE DATABASE tier OWNER syncd" \
    -c "DROP DATABASE syncd_state WITH (FORCE)" -c "CREATE DATABASE syncd_state OWNER syncd"
echo "scale: spreading the parcels over $nsynth units ..."
h_psql -d land -c "UPDATE thua_dat SET ma_dvhc_xa = ($first_code + id % $nsynth)::text
                   WHERE ma_dvhc_xa ~ '^[0-9]{5}\$' AND ma_dvhc_xa <> '99999'" >/dev/null
h_psql -d land -c "VACUUM FULL thua_dat" -c "VACUUM (FREEZE, ANALYZE) thua_dat"
run "$nsynth"

# ------------------------------------------------------------ the table

per_unit() { # column scale -> (at nsynth - at 103) * scale / (nsynth - 103)
    awk -v a="$(cut -d' ' -f"$1" <<<"${R[$nsynth]}")" -v b="$(cut -d' ' -f"$1" <<<"${R[103]}")" -v m="$2" \
        -v d=$((nsynth - 103)) 'BEGIN { if (a ~ /^>/ || b ~ /^>/) print "n/a"; else printf "%.2f", (a - b) * m / d }'
}
col() { cut -d' ' -f"$2" <<<"${R[$1]}"; }
echo
echo "## How it grows ($(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(h_psql -d postgres -c 'SHOW server_version'))"
echo
echo "thua_dat: $nrows rows; stream: $changes UPDATEs in transactions of $per_tx rows"
echo
echo "| figure | 103 units | $nsynth units | per added unit |"
echo "|---|---:|---:|---:|"
printf '| snapshot, s | %s | %s | %s ms |\n' "$(col 103 1)" "$(col "$nsynth" 1)" "$(per_unit 1 1000)"
printf '| snapshot, syncd CPU s | %s | %s | %s ms |\n' "$(col 103 2)" "$(col "$nsynth" 2)" "$(per_unit 2 1000)"
printf '| snapshot, PostgreSQL backends CPU s | %s | %s | %s ms |\n' "$(col 103 3)" "$(col "$nsynth" 3)" "$(per_unit 3 1000)"
printf '| snapshot, syncd peak RSS MB | %s | %s | %s KiB |\n' "$(col 103 4)" "$(col "$nsynth" 4)" "$(per_unit 4 1024)"
printf '| stream, last COMMIT -> applied, s | %s | %s | %s ms |\n' "$(col 103 5)" "$(col "$nsynth" 5)" "$(per_unit 5 1000)"
printf '| stream, first UPDATE -> applied, s | %s | %s | %s ms |\n' "$(col 103 6)" "$(col "$nsynth" 6)" "$(per_unit 6 1000)"
printf '| stream, syncd CPU s | %s | %s | %s ms |\n' "$(col 103 7)" "$(col "$nsynth" 7)" "$(per_unit 7 1000)"
printf '| stream, tier backends CPU s | %s | %s | %s ms |\n' "$(col 103 8)" "$(col "$nsynth" 8)" "$(per_unit 8 1000)"
printf '| stream, state backends CPU s | %s | %s | %s ms |\n' "$(col 103 9)" "$(col "$nsynth" 9)" "$(per_unit 9 1000)"
printf '| stream, walsender CPU s | %s | %s | %s ms |\n' "$(col 103 10)" "$(col "$nsynth" 10)" "$(per_unit 10 1000)"
printf '| daemon peak RSS MB | %s | %s | %s KiB |\n' "$(col 103 11)" "$(col "$nsynth" 11)" "$(per_unit 11 1024)"
printf '| tier backends private memory (RssAnon) MB | %s | %s | %s KiB |\n' "$(col 103 12)" "$(col "$nsynth" 12)" "$(per_unit 12 1024)"
printf '| stream, unit checkpoint rows written | %s | %s | %s |\n' "$(col 103 13)" "$(col "$nsynth" 13)" "$(per_unit 13 1)"
echo
echo "load average (1/5/15 min) at the snapshot / at the stream: 103 units ${R[103.load]}; $nsynth units ${R[$nsynth.load]}"
echo "tier after the snapshot: 103 units ${R[103.shape]}; $nsynth units ${R[$nsynth.shape]}"
echo "sum(phien_ban) after the stream: 103 units ${R[103.check]}; $nsynth units ${R[$nsynth.check]}"
