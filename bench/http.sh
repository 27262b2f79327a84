#!/bin/bash
# HTTP target speed (issue 13), side by side in one run on one machine:
#   (S) syncd delivering thua_dat's changes for every unit to one local
#       receiver ([target bench] kind = http, units = *, mode = instead,
#       batch_rows and max_in_flight_units below): the stream queues each
#       unit's batches in the state DB (syncd_http_batch), the delivery
#       threads POST them, one batch in flight per unit, units at once, and
#       mark each one delivered in the state DB;
#   (L) a plain libcurl loop (build/http_loop) POSTing the same bodies, read
#       from syncd_http_batch before its clock starts, one after another on
#       one keep-alive handle, same headers, against the same receiver.
# The receiver (build/http_sink, libmicrohttpd) answers 200 at once, counts
# requests and changes ({"op": objects in the bodies) and Idempotency-Keys
# (a key seen twice is a duplicate), and keeps the wall-clock time of the
# first request's arrival and of the last request's end; a rate is changes
# / (last - first), measured by the receiver for S and L alike.
#
# Measured:
#   0. syncd --once (the snapshot) with mode = instead: it must queue every
#      routed row as batches and send nothing;
#   1. backlog: the daemon starts with the snapshot's batches queued and
#      delivers them (no stream work beside it); L replays them;
#   2. RUNS times: one UPDATE of UPDATE_ROWS rows spread over all units,
#      then syncd's delivery rate (first to last POST) and COMMIT -> last
#      POST; syncd is then stopped (SIGSTOP: no idle polling beside L) while
#      L replays the run's batches, and continued (SIGCONT).
# L's replays last a fraction of a second each: every measurement replays
# BENCH_LOOP_REPLAYS times and keeps the median.
# Target: S >= 0.5x L, and >= 10,000 changes/s with batching.
# usage: bench/http.sh [SIZE]   (SIZE parcels, default 100,000; ~2 min)
# env: BENCH_HTTP_RUNS (3), BENCH_UPDATE_ROWS (SIZE), BENCH_BATCH_ROWS (500),
#      BENCH_INFLIGHT (8), BENCH_HTTP_CAP (600: seconds a delivery may take),
#      BENCH_LOOP_REPLAYS (3: L's replays per measurement, the median kept)
# shellcheck disable=SC2154 # sink_stats and loop_replay set PREFIX_* variables by name
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

size=${1:-${BENCH_SIZE:-100000}}
runs=${BENCH_HTTP_RUNS:-3}
update_rows=${BENCH_UPDATE_ROWS:-$size}
batch_rows=${BENCH_BATCH_ROWS:-500}
inflight=${BENCH_INFLIGHT:-8}
cap=${BENCH_HTTP_CAP:-600}
replays=${BENCH_LOOP_REPLAYS:-3}
SINK=$H_ROOT/build/http_sink
LOOP=$H_ROOT/build/http_loop
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
state() { h_psql -d syncd_state -c "$1"; }
calc() { awk "BEGIN { $1 }"; }

h_init
h_pg_start
echo "bench: http: generating $size parcels ..."
h_city_setup "$size"
# no autovacuum of thua_dat in the middle of a measurement
h_psql -d land -c "ALTER TABLE thua_dat SET (autovacuum_enabled = off)"
h_psql -d land -c "VACUUM (FREEZE, ANALYZE)"
rows=$(h_psql -d land -c "SELECT count(*) FROM thua_dat")
[[ $update_rows -le $rows ]] || update_rows=$rows

# ------------------------------------------------------------ the receiver

"$SINK" >"$H_TMP/sink.out" 2>"$H_TMP/sink.err" &
sink_pid=$!
h_atexit_kill "$sink_pid"
for ((i = 0; i < 50; i++)); do
    port=$(head -1 "$H_TMP/sink.out" 2>/dev/null || true)
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { echo "bench: http_sink did not start: $(cat "$H_TMP/sink.err")" >&2; exit 1; }
SINK_URL=http://127.0.0.1:$port
sink_reset() { curl -fsS "$SINK_URL/reset" >/dev/null; }
# sink_stats PREFIX: sets PREFIX_requests, _changes, _bytes, _keys, _duplicates, _first, _last
sink_stats() {
    local json k
    json=$(curl -fsS "$SINK_URL/stats")
    for k in requests changes bytes keys duplicates no_key errors first last; do
        printf -v "${1}_$k" '%s' "$(jq -r ".$k" <<<"$json")"
    done
}
sink_changes() { curl -fsS "$SINK_URL/stats" | jq -r .changes; }

# ------------------------------------------------------------ syncd: thua_dat to the receiver only

h_policy_thua_dat "$H_TMP/pol1"
URL_TMPL="$SINK_URL/u/{unit}"
# the API on a port of its own: another syncd on this machine never collides
cat >"$H_TMP/http.conf" <<CONF
[syncd]
policies_dir = $H_TMP/pol1
log_level = info
listen = 127.0.0.1:$(h_freeport)
[state]
conninfo = $H_STATE
[source land]
conninfo = $H_LAND
[tier]
conninfo = $H_TIER
schema = u{unit}
[target bench]
kind = http
units = *
mode = instead
url = $URL_TMPL
batch_rows = $batch_rows
max_in_flight_units = $inflight
CONF
syncd_log=$H_TMP/syncd.log
syncd_fail() {
    echo "bench: http: $1; last lines of syncd's log:" >&2
    tail -n 20 "$syncd_log" >&2
    exit 1
}

# 0. the snapshot with mode = instead
t0=$(now)
"$H_SYNCD" -c "$H_TMP/http.conf" --once 2>>"$syncd_log" || syncd_fail "syncd --once (snapshot, mode = instead) failed"
once_secs=$(calc "printf \"%.1f\", $(now) - $t0")
read -r q_batches q_changes q_units <<<"$(state "SELECT count(*), coalesce(sum(changes), 0), count(DISTINCT unit) FROM syncd_http_batch WHERE target = 'bench' AND state = 'pending'" | tr '|' ' ')"
quarantined=$(state "SELECT count(*) FROM syncd_quarantine WHERE source = 'land'")
tier_tables=$(h_psql -d tier -c "SELECT count(*) FROM pg_tables WHERE schemaname ~ '^u[0-9]{5}\$'")
sink_stats once
echo "bench: http: snapshot (--once, mode = instead) in $once_secs s: $q_batches batches, $q_changes changes for $q_units units queued;" \
    "$quarantined rows quarantined; $rows rows in thua_dat; $tier_tables unit tables on the tier; $once_requests requests sent"
snap_ok=yes
# a snapshot's batches hold one truncate per unit (one routed table), then the rows
[[ $((q_changes - q_units + quarantined)) -eq $rows && $once_requests -eq 0 && $tier_tables -eq 0 ]] || snap_ok=NO
snap_max=$(state "SELECT coalesce(max(id), 0) FROM syncd_http_batch WHERE target = 'bench'")

# wait_delivered FIRST_ID EXPECTED: until the receiver holds EXPECTED
# changes and no batch from FIRST_ID on is open; 1 after $cap s
wait_delivered() {
    local i
    for ((i = 0; i < cap * 20; i++)); do
        if [[ $(sink_changes) -ge $2 ]]; then
            [[ $(state "SELECT count(*) FROM syncd_http_batch WHERE target = 'bench' AND id >= $1 AND state <> 'delivered'") == 0 ]] &&
                return 0
        fi
        h_pid_alive "$syncd_pid" || syncd_fail "syncd died"
        sleep 0.05
    done
    echo "bench: http: not delivered within $cap s: $(state "SELECT state, count(*), max(last_error) FROM syncd_http_batch WHERE id >= $1 GROUP BY state")" >&2
    return 1
}
# loop_replay FIRST LAST PREFIX: L on batches FIRST..LAST, $replays times
# (one replay lasts a fraction of a second: the median of the replays' rates
# is kept), syncd stopped meanwhile.  Sets PREFIX_rate, PREFIX_secs,
# PREFIX_changes, PREFIX_requests, PREFIX_duplicates (of the median replay).
loop_replay() {
    local k line rc
    kill -STOP "$syncd_pid"
    : >"$H_TMP/replays"
    for ((k = 0; k < replays; k++)); do
        sink_reset
        "$LOOP" "$H_STATE" bench "$1" "$2" "$URL_TMPL" >"$H_TMP/loop.out" 2>&1 || {
            rc=$?
            kill -CONT "$syncd_pid"
            echo "bench: http: http_loop on batches $1..$2 failed (exit $rc): $(cat "$H_TMP/loop.out" 2>&1)" >&2
            exit 1
        }
        sink_stats lr
        echo "$(rate "$lr_changes" "$lr_first" "$lr_last") $(calc "printf \"%.3f\", $lr_last - $lr_first") $lr_changes $lr_requests $lr_duplicates" >>"$H_TMP/replays"
    done
    kill -CONT "$syncd_pid"
    line=$(sort -g "$H_TMP/replays" | sed -n "$(((replays + 1) / 2))p")
    read -r "${3}_rate" "${3}_secs" "${3}_changes" "${3}_requests" "${3}_duplicates" <<<"$line"
    echo "bench: http: loop ($replays replays, changes/s): $(cut -d' ' -f1 "$H_TMP/replays" | tr '\n' ' ')- $(cat "$H_TMP/loop.out")"
}
# rate CHANGES FIRST LAST: changes/s between the first and the last request
rate() { calc "d = $3 - $2; if (d <= 0) print 0; else printf \"%.0f\", $1 / d"; }

# 1. the backlog: the snapshot's batches, delivered by the daemon
sink_reset
"$H_SYNCD" -c "$H_TMP/http.conf" 2>>"$syncd_log" &
syncd_pid=$!
h_atexit_kill "$syncd_pid"
t_start=$(now)
wait_delivered 1 "$q_changes" || syncd_fail "the snapshot's batches were not delivered"
sink_stats b
b_rate=$(rate "$b_changes" "$b_first" "$b_last")
b_total=$(calc "printf \"%.2f\", $b_last - $t_start")
echo "bench: http: backlog: $b_requests requests, $b_changes changes ($b_duplicates duplicate keys) in" \
    "$(calc "printf \"%.2f\", $b_last - $b_first") s: $b_rate changes/s; daemon start -> last POST $b_total s"
loop_replay 1 "$snap_max" bl

# 2. RUNS x one UPDATE of update_rows rows
: >"$H_TMP/runs"
for ((run = 1; run <= runs; run++)); do
    h_psql -d land -c "VACUUM thua_dat" -c "CHECKPOINT"
    h_psql -d syncd_state -c "VACUUM syncd_http_batch" -c "CHECKPOINT"
    id0=$(($(state "SELECT coalesce(max(id), 0) FROM syncd_http_batch") + 1))
    sink_reset
    echo "bench: http: run $run of $runs: UPDATE of $update_rows rows (load average $(load)) ..."
    res=$(h_psql -d land -c "WITH u AS (UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id <= $update_rows RETURNING 1) SELECT count(*) FROM u" \
        -c "SELECT pg_current_wal_lsn(), extract(epoch FROM clock_timestamp())")
    lsn=$(sed -n 2p <<<"$res" | cut -d'|' -f1)
    t_commit=$(sed -n 2p <<<"$res" | cut -d'|' -f2)
    # queued once the slot confirms the commit (the queue commits with the checkpoint)
    for ((i = 0; i < cap * 10; i++)); do
        [[ $(h_psql -d land -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'syncd_land'") == t ]] && break
        h_pid_alive "$syncd_pid" || syncd_fail "syncd died"
        sleep 0.1
    done
    t_queued=$(now)
    expected=$(state "SELECT coalesce(sum(changes), 0) FROM syncd_http_batch WHERE target = 'bench' AND id >= $id0")
    wait_delivered "$id0" "$expected" || syncd_fail "run $run was not delivered"
    id1=$(state "SELECT max(id) FROM syncd_http_batch WHERE target = 'bench'")
    sink_stats s
    s_rate=$(rate "$s_changes" "$s_first" "$s_last")
    # the stream's queue transaction: created_at is its now(), its start
    t_qbegin=$(state "SELECT extract(epoch FROM min(created_at)) FROM syncd_http_batch WHERE target = 'bench' AND id >= $id0")
    loop_replay "$id0" "$id1" l
    printf '%s\n' "$run $s_changes $s_requests $s_duplicates $s_rate $(calc "printf \"%.2f %.2f %.2f %.2f\", \
        $s_last - $s_first, $s_first - $t_commit, $s_last - $t_commit, $t_queued - $t_commit") \
        $l_changes $l_requests $l_duplicates $l_rate $l_secs \
        $(calc "printf \"%.2f\", ($l_rate > 0 ? $s_rate / $l_rate : 0)") $s_bytes \
        $(calc "printf \"%.2f %.2f\", $t_qbegin - $t_commit, $t_queued - $t_qbegin")" >>"$H_TMP/runs"
    echo "bench: http: run $run: syncd $s_changes changes in $s_requests requests ($s_duplicates duplicate keys): $s_rate changes/s," \
        "COMMIT -> first POST $(calc "printf \"%.2f\", $s_first - $t_commit") s, -> last POST $(calc "printf \"%.2f\", $s_last - $t_commit") s;" \
        "loop $l_changes changes: $l_rate changes/s"
done
h_pid_alive "$syncd_pid" || syncd_fail "syncd died"
h_stop_pid "$syncd_pid"
# the delivery's own lines (retries, dead letters) and any error; not the
# start-up warnings about what this configuration leaves out (API, documents)
syncd_errors=$(grep -E 'target bench|error' "$syncd_log" | head -5 || true)

# ------------------------------------------------------------ report

# stat COLUMN [FORMAT]: "min / median / max" of a column of $H_TMP/runs
stat() {
    awk -v c="$1" '{ print $c }' "$H_TMP/runs" | sort -g | awk -v f="${2:-%s}" '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf f " / " f " / " f, v[1], m, v[NR] }'
}
# runs: 1 run, 2-5 S changes requests duplicates rate, 6-9 S seconds first->last,
# COMMIT->first, COMMIT->last, COMMIT->queued, 10-14 L changes requests
# duplicates rate seconds, 15 S/L, 16 S bytes, 17 COMMIT->queue transaction
# begins, 18 its begin->queued
read -r r_changes r_requests r_bytes <<<"$(awk 'NR == 1 { print $2, $3, $16 }' "$H_TMP/runs")"
echo
echo "## HTTP target benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, load average at the end $(load))"
echo
echo "thua_dat: $rows rows; [target bench] units = * ($q_units units), mode = instead, batch_rows = $batch_rows," \
    "max_in_flight_units = $inflight; receiver: build/http_sink on loopback; runs: $runs (min / median / max)"
echo
echo "| measurement | (S) syncd | (L) libcurl loop | S/L | target |"
echo "|---|---:|---:|---:|---|"
echo "| 0. snapshot with mode = instead: every routed row queued ($q_units truncates + $((q_changes - q_units)) rows + $quarantined quarantined = $rows), nothing sent, no tier table | $q_batches batches: $snap_ok | | | works |"
echo "| 1. backlog (the snapshot's batches): changes/s, first to last POST | $b_rate | $bl_rate | $(calc "printf \"%.2fx\", ($bl_rate > 0 ? $b_rate / $bl_rate : 0)") | |"
echo "| 2. UPDATE of $update_rows rows ($r_changes changes, $r_requests requests, $((r_bytes / 1024)) KiB): changes/s, first to last POST | $(stat 5 %.0f) | $(stat 13 %.0f) | $(stat 15 %.2fx) | S >= 0.5x L; S >= 10,000/s |"
echo "| 2. seconds, first to last POST | $(stat 6) | $(stat 14) | | |"
echo "| 2. COMMIT -> batches queued (slot confirmed), s | $(stat 9) | | | |"
echo "| 2. of which COMMIT -> the stream's queue transaction begins (decoded, rendered) | $(stat 17) | | | |"
echo "| 2. of which that transaction (one INSERT per batch, COMMIT) | $(stat 18) | | | |"
echo "| 2. COMMIT -> first POST, s | $(stat 7) | | | |"
echo "| 2. COMMIT -> last POST (end to end), s | $(stat 8) | | | |"
echo "| duplicate Idempotency-Keys at the receiver (all runs) | $(awk '{ s += $4 } END { print s + 0 }' "$H_TMP/runs") | $(awk '{ s += $12 } END { print s + 0 }' "$H_TMP/runs") | | 0 |"
echo
echo "syncd log lines of the delivery or with an error: ${syncd_errors:-none}"
