#!/bin/bash
# Streaming speed (issue 3), side by side in one run, same data, same machine:
#   (S) syncd, the continuous daemon, thua_dat routed into 103 unit schemas
#       of one tier database (on the source's cluster, the harness default);
#   (N) PostgreSQL 15 native logical replication: 103 row-filtered
#       publications of thua_dat on the source (each unit's old codes, the
#       split wards by map sheet), 103 subscriptions in 103 databases of a
#       second throwaway cluster (a subscription cannot write into a schema).
# S is set up and measured first, then syncd is stopped and N is set up and
# measured, so the two never run at once.  Measured for each:
#   1. one 300,000-row UPDATE: seconds from its COMMIT until every unit has
#      applied it (confirmed_flush_lsn of syncd's slot; for N the least of the
#      103 subscription slots), polled every 0.2 s; N capped (BENCH_CAP);
#   1'. the same from the start of the UPDATE statement;
#   1''. for S only: one pg_recvlogical decode of that transaction (pgoutput
#      protocol 1, no streaming) from a slot made before it, started at its
#      COMMIT: the floor of any design that waits for the commit;
#   1i, 1d. one 300,000-row INSERT, then one 300,000-row DELETE of those
#      rows: COMMIT -> applied in every unit, as 1;
#   2. CPU (utime+stime) of the source cluster's walsenders during 1;
#   3. lag under a sustained load of BENCH_RATE transactions/s for BENCH_SECS s
#      (pgbench -R, each transaction one change: 9 single-row UPDATEs to 1
#      INSERT of thua_dat, across all units): every 0.1 s the source's WAL
#      position and the flush position are sampled; a sample's lag is the time
#      until the flush position reached its WAL position.
#   3'. if the source could not sustain BENCH_RATE under N: syncd again (N's
#      subscriptions disabled) at the rate the source achieved under N.
# The initial copies (syncd --once, the subscriptions' copy_data) are not timed.
# usage: bench/stream.sh [SIZE]   (SIZE parcels, default 300,000; ~13 min)
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

size=${1:-${BENCH_SIZE:-300000}}
update_rows=${BENCH_UPDATE_ROWS:-300000}
rate=${BENCH_RATE:-5000}
secs=${BENCH_SECS:-60}
cap=${BENCH_CAP:-1500}          # measurement 1 of N gives up after this
tail_cap=${BENCH_TAIL_CAP:-120} # measurement 3: wait after the load stops
clients=${BENCH_CLIENTS:-16}    # pgbench -c: 4 cannot commit 5,000/s here, 16 can
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
fmt() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
ratio() { awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) print "n/a"; else if (n / s < 10) printf "%.1fx", n / s; else printf "%.0fx", n / s }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
clk=$(getconf CLK_TCK)

h_init
h_pg_start
# the source must serve 103 subscriptions (+ their table syncs) and syncd
h_psql -d postgres -c "ALTER SYSTEM SET max_wal_senders = 130" -c "ALTER SYSTEM SET max_replication_slots = 130"
h_pg_restart
echo "bench: generating $size parcels and the other tables ..."
h_city_setup "$size"
# measurements must not meet an autovacuum of thua_dat; it is vacuumed by hand
h_psql -d land -c "ALTER TABLE thua_dat SET (autovacuum_enabled = off)"
h_psql -d land -c "CREATE SEQUENCE bench_ids START 100000000" # not published
h_psql -d land -c "VACUUM (FREEZE, ANALYZE)"
rows=$(h_psql -d land -c "SELECT count(*) FROM thua_dat")

# ------------------------------------------------------------ shared parts

# unit -> its old codes (full merges), and the split wards' sheet ranges
# (a row filter takes "= ANY (constant array)": IN (...) becomes an ARRAY[] expression, refused in PG 15)
filters=$(awk -F, 'NR > 1 && $6 == "full" { f[$4] = f[$4] (f[$4] ? "," : "") $1 }
    END { for (u in f) print u "\t" f[u] }' "$H_ROOT/policies/units/cantho_old_to_new_mapping.csv" | sort)
split_sql() { # unit -> extra OR clause for the split wards' sheet ranges (as bench/snapshot.sh)
    case $1 in
    31120) echo " OR (ma_dvhc_xa = '31178' AND so_to BETWEEN 1 AND 30)" ;;
    31168) echo " OR (ma_dvhc_xa = '31178' AND so_to BETWEEN 31 AND 60)" ;;
    31150) echo " OR (ma_dvhc_xa = '31183' AND so_to BETWEEN 1 AND 30)" ;;
    31183) echo " OR (ma_dvhc_xa = '31183' AND so_to BETWEEN 31 AND 60)" ;;
    31228) echo " OR (ma_dvhc_xa = '31207' AND so_to BETWEEN 1 AND 40)" ;;
    31207) echo " OR (ma_dvhc_xa = '31207' AND so_to BETWEEN 41 AND 80)" ;;
    esac
}
nunits=$(wc -l <<<"$filters")
check_unit=31135 # no split ward: its rows are exactly ma_dvhc_xa IN (its old codes)
check_codes=$(awk -F'\t' -v u="$check_unit" '$1 == u { print $2 }' <<<"$filters")
unit_filter() { echo "ma_dvhc_xa::text = ANY ('{$2}'::text[])$(split_sql "$1")"; }

# the flush position every unit has reached, as SQL run on the source
flush_sql=''
# CPU ticks (utime + stime) of the source's walsenders: "pid ticks" lines
walsender_ticks() {
    local pid
    for pid in $(h_psql -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender'"); do
        [[ -r /proc/$pid/stat ]] || continue
        sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk -v p="$pid" '{ print p, $12 + $13 }' || true
    done
}
# seconds of CPU between two samples, over the PIDs present in both; "secs procs"
ticks_diff() {
    awk -v clk="$clk" 'NR == FNR { a[$1] = $2; next } ($1 in a) { s += $2 - a[$1]; n++ }
        END { printf "%.2f %d\n", s / clk, n }' "$1" "$2"
}
process_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# wait until the flush position reaches the source's current WAL position
wait_caught_up() {
    local target t0 i
    target=$(h_psql -d land -c "SELECT pg_current_wal_lsn()")
    t0=$(now)
    for ((i = 0; i < 1500; i++)); do
        [[ $(h_psql -d land -c "SELECT coalesce(($flush_sql) >= '$target', false)") == t ]] && return 0
        sleep 0.2
    done
    echo "bench: $1 did not reach $target within $(fmt "$(awk -v a="$(now)" -v b="$t0" 'BEGIN{print a-b}')") s" >&2
    return 1
}

# the three big transactions: SQL returning the rows it changed
big_update="WITH u AS (UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id <= $update_rows RETURNING 1) SELECT count(*) FROM u"
big_insert="WITH u AS (INSERT INTO thua_dat SELECT id + 500000000, ma_dvhc_xa, so_to, so_thua, dien_tich, dien_tich_phap_ly, dia_chi, ma_dvhc_cu, so_to_cu, so_thua_cu, trang_thai, phien_ban FROM thua_dat WHERE id <= $update_rows RETURNING 1) SELECT count(*) FROM u"
big_delete="WITH u AS (DELETE FROM thua_dat WHERE id > 500000000 AND id <= 500000000 + $update_rows RETURNING 1) SELECT count(*) FROM u"

# Measurement 1 and 2 (and 1i, 1d).  Sets m1_rows, m1_stmt (s), m1_secs (or
# "> cap"), m1_total, m1_cpu, m1_procs, m1_lsn (the commit's end)
measure_update() { measure_change "$1" "$2" "$big_update" UPDATE; }
measure_change() {
    local label=$1 limit=$2 sql=$3 what=$4 lsn t_commit t_stmt res t_done=''
    h_psql -d land -c "VACUUM thua_dat" -c "CHECKPOINT"
    wait_caught_up "$label" || true
    echo "bench: $label: $what of $update_rows rows (load average $(load)) ..."
    walsender_ticks >"$H_TMP/ws0.$label"
    [[ -n ${syncd_pid:-} ]] && syncd_t0=$(process_ticks "$syncd_pid")
    t_stmt=$(now)
    res=$(h_psql -d land -c "$sql" \
        -c "SELECT pg_current_wal_lsn(), extract(epoch FROM clock_timestamp())")
    m1_rows=$(sed -n 1p <<<"$res")
    lsn=$(sed -n 2p <<<"$res" | cut -d'|' -f1)
    m1_lsn=$lsn
    t_commit=$(sed -n 2p <<<"$res" | cut -d'|' -f2)
    m1_stmt=$(awk -v a="$t_commit" -v b="$t_stmt" 'BEGIN { printf "%.1f", a - b }')
    while :; do
        res=$(h_psql -d land -c "SELECT coalesce(($flush_sql) >= '$lsn', false), extract(epoch FROM clock_timestamp()), ($flush_sql)")
        echo "$res" >>"$H_TMP/poll.$label"
        res=${res%|*}
        if [[ ${res%%|*} == t ]]; then
            t_done=${res#*|}
            break
        fi
        if awk -v a="${res#*|}" -v b="$t_commit" -v c="$limit" 'BEGIN { exit !(a - b > c) }'; then
            break
        fi
        sleep 0.2
    done
    walsender_ticks >"$H_TMP/ws1.$label"
    read -r m1_cpu m1_procs <<<"$(ticks_diff "$H_TMP/ws0.$label" "$H_TMP/ws1.$label")"
    if [[ -n $t_done ]]; then
        m1_secs=$(awk -v a="$t_done" -v b="$t_commit" 'BEGIN { printf "%.1f", a - b }')
        m1_total=$(awk -v a="$t_done" -v b="$t_stmt" 'BEGIN { printf "%.1f", a - b }')
    else
        m1_secs="> $limit"
        m1_total="> $(awk -v a="$m1_stmt" -v b="$limit" 'BEGIN { printf "%.1f", a + b }')"
    fi
    echo "bench: $label: $what of $m1_rows rows in $m1_stmt s (commit at $lsn); applied in every unit after $m1_secs s;" \
        "walsender CPU $m1_cpu s over $m1_procs processes"
}

# Measurement 3.  Sets m3_rate (changes/s), m3_p50, m3_p99, m3_n, m3_miss, m3_tail
cat >"$H_TMP/update.sql" <<SQL
\set id random(1, $size)
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id = :id;
SQL
cat >"$H_TMP/insert.sql" <<SQL
\set id random(1, $size)
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, dia_chi, trang_thai, phien_ban)
  SELECT nextval('bench_ids'), ma_dvhc_xa, so_to, so_thua, dien_tich, dia_chi, trang_thai, 1 FROM thua_dat WHERE id = :id;
SQL
measure_load() {
    local label=$1 rate=$2 samples sampler t_start t_end lsn i t0 done_=0 processed
    samples=$H_TMP/samples.$label
    h_psql -d land -c "VACUUM thua_dat" -c "CHECKPOINT"
    wait_caught_up "$label" || true
    echo "bench: $label: $rate changes/s for $secs s (load average $(load)) ..."
    # the sampler: one session, server clock, a NOTICE every 0.1 s, no WAL of its own
    PGAPPNAME=bench_sampler psql -X -q -d land -c "DO \$\$
        DECLARE t numeric; w numeric; f numeric;
        BEGIN
          LOOP
            t := extract(epoch FROM clock_timestamp());
            w := pg_current_wal_lsn() - '0/0'::pg_lsn;
            f := coalesce(($flush_sql) - '0/0'::pg_lsn, -1);
            RAISE NOTICE 'lag % % %', t, w, f;
            COMMIT;
            PERFORM pg_sleep(0.1);
          END LOOP;
        END \$\$" 2>"$samples" &
    sampler=$!
    h_atexit_kill "$sampler"
    sleep 1
    t_start=$(now)
    "$H_PG_BINDIR/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U postgres -f "$H_TMP/update.sql@9" -f "$H_TMP/insert.sql@1" \
        -R "$rate" -T "$secs" -c "$clients" -j 2 land >"$H_TMP/pgbench.$label" 2>&1 ||
        { cat "$H_TMP/pgbench.$label" >&2; return 1; }
    t_end=$(now)
    lsn=$(h_psql -d land -c "SELECT pg_current_wal_lsn()")
    t0=$(now)
    for ((i = 0; i < tail_cap * 5; i++)); do
        if [[ $(h_psql -d land -c "SELECT coalesce(($flush_sql) >= '$lsn', false)") == t ]]; then
            done_=1
            break
        fi
        sleep 0.2
    done
    m3_tail=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
    [[ $done_ -eq 1 ]] || m3_tail="> $tail_cap"
    sleep 0.3
    h_psql -d postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench_sampler'" >/dev/null
    wait "$sampler" 2>/dev/null || true
    processed=$(awk '/number of transactions actually processed/ { print $NF }' "$H_TMP/pgbench.$label" | cut -d/ -f1)
    m3_rate=$(awk -v p="$processed" -v a="$t_end" -v b="$t_start" 'BEGIN { printf "%.0f", p / (a - b) }')
    # lag of every sample taken during the load; a sample whose position was
    # never reached counts as lagging more than the whole wait
    grep -o 'lag [0-9.]* [0-9]* -\?[0-9]*' "$samples" | awk -v t0="$t_start" -v t1="$t_end" '
        { t[n] = $2; w[n] = $3; f[n] = $4; n++ }
        END {
            j = 0
            for (i = 0; i < n; i++) {
                if (t[i] < t0 || t[i] > t1) continue
                if (j < i) j = i
                while (j < n && f[j] < w[i]) j++
                if (j >= n) print "miss"; else printf "%.3f\n", t[j] - t[i]
            }
        }' >"$H_TMP/lags.$label"
    m3_n=$(wc -l <"$H_TMP/lags.$label")
    m3_miss=$(grep -c miss "$H_TMP/lags.$label" || true)
    pct() { grep -v miss "$H_TMP/lags.$label" | sort -n | awk -v p="$1" -v n="$m3_n" '
        { v[NR] = $1 } END { k = int(p * n + 0.999999); if (k < 1) k = 1
            if (k > NR) print "never"; else printf "%.1f", v[k] }'; }
    m3_p50=$(pct 0.50)
    m3_p99=$(pct 0.99)
    m3_max=$(pct 1.00)
    echo "bench: $label: $processed changes at $m3_rate/s; lag over $m3_n samples: p50 $m3_p50 s, p99 $m3_p99 s, max $m3_max s" \
        "($m3_miss never reached); caught up $m3_tail s after the load"
}

# sum(phien_ban) of the check unit on the source: what the unit must hold
check_expected() {
    h_psql -d land -c "SELECT count(*) || '/' || sum(phien_ban) FROM thua_dat WHERE $(unit_filter "$check_unit" "$check_codes")"
}

# ------------------------------------------------------------ (S) syncd

h_policy_thua_dat "$H_TMP/pol1"
cat >"$H_TMP/one.conf" <<CONF
[syncd]
policies_dir = $H_TMP/pol1
log_level = info
[state]
conninfo = $H_STATE
[source land]
conninfo = $H_LAND
[tier]
conninfo = $H_TIER
schema = u{unit}
CONF
syncd_log=$H_TMP/syncd.log
syncd_fail() {
    echo "bench: syncd failed; last lines of its log:" >&2
    tail -n 20 "$syncd_log" >&2
    exit 1
}
"$H_SYNCD" -c "$H_TMP/one.conf" --once 2>>"$syncd_log" || syncd_fail
"$H_SYNCD" -c "$H_TMP/one.conf" 2>>"$syncd_log" &
syncd_pid=$!
h_atexit_kill "$syncd_pid"
for ((i = 0; i < 100; i++)); do
    [[ $(h_psql -d land -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'syncd_land'") == t ]] && break
    h_pid_alive "$syncd_pid" || syncd_fail
    sleep 0.1
done
s_units_rows=$(h_psql -d tier -c "SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.thua_dat', nspname), false, true, '')))[1]::text::bigint) FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}\$'")
flush_sql="SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'"

# the floor of any design that waits for the COMMIT: one pg_recvlogical
# decode of the same transaction (pgoutput, protocol 1: no streaming) from a
# slot made before it, started once it has committed
h_psql -d land -c "SELECT pg_create_logical_replication_slot('bench_floor', 'pgoutput')" >/dev/null
measure_update syncd "$cap"
s1_rows=$m1_rows s1_stmt=$m1_stmt s1_secs=$m1_secs s1_total=$m1_total s1_cpu=$m1_cpu s1_procs=$m1_procs
t0=$(now)
"$H_PG_BINDIR/pg_recvlogical" -h 127.0.0.1 -p "$PGPORT" -U postgres -d land --slot bench_floor --start \
    --endpos "$m1_lsn" -o proto_version=1 -o publication_names=syncd_land -f /dev/null
f1_secs=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
h_psql -d land -c "SELECT pg_drop_replication_slot('bench_floor')" >/dev/null
echo "bench: pg_recvlogical: decoded the UPDATE's transaction in $f1_secs s"
s1_syncd_cpu=$(awk -v a="$(process_ticks "$syncd_pid")" -v b="$syncd_t0" -v c="$clk" 'BEGIN { printf "%.1f", (a - b) / c }')
s_check="$(check_expected) expected, $(h_psql -d tier -c "SELECT count(*) || '/' || sum(phien_ban) FROM u$check_unit.thua_dat") in u$check_unit"
echo "bench: syncd: check unit $check_unit after measurement 1: $s_check (count/sum of phien_ban)"
h_pid_alive "$syncd_pid" || syncd_fail

# the sustained load before the big INSERT and DELETE: their dead rows in
# the units would otherwise be vacuumed during it
measure_load syncd "$rate"
s3_rate=$m3_rate s3_p50=$m3_p50 s3_p99=$m3_p99 s3_max=$m3_max s3_n=$m3_n s3_miss=$m3_miss s3_tail=$m3_tail
h_pid_alive "$syncd_pid" || syncd_fail

measure_change syncd-insert "$cap" "$big_insert" INSERT
si_rows=$m1_rows si_secs=$m1_secs
measure_change syncd-delete "$cap" "$big_delete" DELETE
sd_rows=$m1_rows sd_secs=$m1_secs
h_pid_alive "$syncd_pid" || syncd_fail
h_stop_pid "$syncd_pid"
syncd_pid=''

# ------------------------------------------------------------ (N) native logical replication

# the tier cluster: a second throwaway PostgreSQL 15, started like lib.sh does
T_DIR=$H_TMP/tierpg
T_DATA=$T_DIR/data
T_LOG=$T_DIR/postgresql.log
mkdir -p "$T_DIR/run"
chmod 0700 "$T_DIR"
[[ $EUID -ne 0 ]] || chown -R postgres:postgres "$T_DIR"
_h_pg_run "$H_PG_BINDIR/initdb" -D "$T_DATA" -U postgres -E UTF8 \
    --locale="$(h_psql -d postgres -c 'SHOW lc_ctype')" -A trust >"$T_DIR/initdb.log" 2>&1 ||
    { cat "$T_DIR/initdb.log" >&2; exit 1; }
_h_pg_run tee -a "$T_DATA/postgresql.conf" >/dev/null <<EOF

# --- syncd bench: tier cluster of the native subscriptions ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$T_DIR/run'
shared_buffers = 256MB
max_connections = 200
max_worker_processes = 130
max_logical_replication_workers = 120
max_replication_slots = 130
EOF
_h_pg_run cp "$H_PG_DATA/pg_hba.conf" "$T_DATA/pg_hba.conf"
for attempt in 1 2 3; do
    T_PORT=$(h_freeport)
    printf 'port = %s\n' "$T_PORT" | _h_pg_run tee -a "$T_DATA/postgresql.conf" >/dev/null
    if _h_pg_run "$H_PG_BINDIR/pg_ctl" -D "$T_DATA" -l "$T_LOG" -w -t 60 start >"$T_DIR/pg_ctl.log" 2>&1; then
        break
    fi
    if [[ $attempt -eq 3 ]] || ! grep -q 'could not bind' "$T_LOG" 2>/dev/null; then
        tail -20 "$T_LOG" >&2
        exit 1
    fi
done
h_atexit "_h_pg_run '$H_PG_BINDIR/pg_ctl' -D '$T_DATA' -m fast -w -t 60 stop >/dev/null 2>&1"
tpsql() { PGOPTIONS='-c client_min_messages=warning' h_psql -h 127.0.0.1 -p "$T_PORT" -U postgres "$@"; }

echo "bench: native: $nunits publications, databases and subscriptions ..."
t_setup=$(now)
ddl=$(pg_dump -h 127.0.0.1 -p "$PGPORT" -U postgres -s -O -x -t public.thua_dat land)
while IFS=$'\t' read -r unit codes; do
    echo "CREATE PUBLICATION nat_u$unit FOR TABLE public.thua_dat WHERE ($(unit_filter "$unit" "$codes"));"
done <<<"$filters" | psqlq -d land
while IFS=$'\t' read -r unit codes; do
    echo "CREATE DATABASE u$unit;"
done <<<"$filters" | psqlq -h 127.0.0.1 -p "$T_PORT" -d postgres
while IFS=$'\t' read -r unit codes; do
    psqlq -h 127.0.0.1 -p "$T_PORT" -d "u$unit" <<<"$ddl" >/dev/null
    tpsql -d "u$unit" -c "CREATE SUBSCRIPTION nat_u$unit CONNECTION 'host=127.0.0.1 port=$PGPORT dbname=land user=postgres'
        PUBLICATION nat_u$unit WITH (copy_data = true)"
done <<<"$filters"
# the initial copy is not timed: wait until every table is ready ('r')
pending=$(cut -f1 <<<"$filters")
for ((i = 0; i < 900; i++)); do
    [[ -n ${pending// /} ]] || break
    sleep 1
    left=''
    for unit in $pending; do
        [[ $(tpsql -d "u$unit" -c "SELECT count(*) FILTER (WHERE srsubstate = 'r') = 1 FROM pg_subscription_rel") == t ]] ||
            left="$left $unit"
    done
    pending=$left
done
[[ -z ${pending// /} ]] || { echo "bench: native: tables not ready after 900 s:$pending" >&2; tail -20 "$T_LOG" >&2; exit 1; }
n_setup=$(awk -v a="$(now)" -v b="$t_setup" 'BEGIN { printf "%.0f", a - b }')
n_units_rows=0
while IFS=$'\t' read -r unit codes; do
    n_units_rows=$((n_units_rows + $(tpsql -d "u$unit" -c "SELECT count(*) FROM public.thua_dat")))
done <<<"$filters"
echo "bench: native: initial copy done in $n_setup s (not counted): $n_units_rows rows in the units (syncd's snapshot: $s_units_rows)"
flush_sql="SELECT CASE WHEN count(*) = $nunits THEN min(confirmed_flush_lsn) END FROM pg_replication_slots WHERE slot_name LIKE 'nat\\_u%' AND slot_type = 'logical'"

measure_update native "$cap"
n1_rows=$m1_rows n1_stmt=$m1_stmt n1_secs=$m1_secs n1_total=$m1_total n1_cpu=$m1_cpu n1_procs=$m1_procs
n_check="$(check_expected) expected, $(tpsql -d "u$check_unit" -c "SELECT count(*) || '/' || sum(phien_ban) FROM public.thua_dat") in u$check_unit"
echo "bench: native: check unit $check_unit after measurement 1: $n_check (count/sum of phien_ban)"
ni_secs='not run' nd_secs='not run'
if [[ $n1_secs == '>'* ]]; then
    echo "bench: native: still applying measurement 1 after the cap; the rest is not run" >&2
    n3_rate='-' n3_p50='not run' n3_p99='not run' n3_max='-' n3_n=0 n3_miss=0 n3_tail='-'
else
    measure_load native "$rate"
    n3_rate=$m3_rate n3_p50=$m3_p50 n3_p99=$m3_p99 n3_max=$m3_max n3_n=$m3_n n3_miss=$m3_miss n3_tail=$m3_tail
    measure_change native-insert "$cap" "$big_insert" INSERT
    ni_secs=$m1_secs
    if [[ $ni_secs != '>'* ]]; then
        measure_change native-delete "$cap" "$big_delete" DELETE
        nd_secs=$m1_secs
    fi
fi
n_log_errors=$(grep -c 'ERROR' "$T_LOG" || true)

# (S) again, at the rate the source achieved under N, for a like-for-like lag:
# the subscriptions are disabled (their walsenders leave), syncd restarts
# and first catches up with what N's measurements wrote
s4_rate='-' s4_p50='not run' s4_p99='not run' s4_max='-' s4_n=0 s4_miss=0
if [[ $n3_rate =~ ^[0-9]+$ && $n3_rate -lt $rate ]]; then
    while IFS=$'\t' read -r unit codes; do
        tpsql -d "u$unit" -c "ALTER SUBSCRIPTION nat_u$unit DISABLE"
    done <<<"$filters"
    for ((i = 0; i < 300; i++)); do
        [[ $(h_psql -d land -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'nat\_u%' AND active") == 0 ]] && break
        sleep 0.2
    done
    "$H_SYNCD" -c "$H_TMP/one.conf" 2>>"$syncd_log" &
    syncd_pid=$!
    h_atexit_kill "$syncd_pid"
    flush_sql="SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_land'"
    t0=$(now)
    wait_caught_up "syncd (catching up with N's changes)" || true
    h_pid_alive "$syncd_pid" || syncd_fail
    echo "bench: syncd: caught up with N's changes in $(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.0f", a - b }') s"
    measure_load syncd-at-native-rate "$n3_rate"
    s4_rate=$m3_rate s4_p50=$m3_p50 s4_p99=$m3_p99 s4_max=$m3_max s4_n=$m3_n s4_miss=$m3_miss
    h_pid_alive "$syncd_pid" || syncd_fail
    h_stop_pid "$syncd_pid"
    syncd_pid=''
fi
syncd_errors=$(grep -iE 'error|warn|fail' "$syncd_log" | grep -v 'rows quarantined' | head -10 || true)

# ------------------------------------------------------------ report

secs_ratio() { # N/S where N may be "> cap"
    if [[ $1 == '>'* ]]; then ratio "${1#> }" "$2" | sed 's/^/> /'; else ratio "$1" "$2"; fi
}
echo
echo "## Streaming benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(h_psql -d postgres -c 'SHOW server_version'), load average at the end $(load))"
echo
echo "thua_dat: $rows rows; syncd: one tier database, $nunits schemas ($s_units_rows rows); native: $nunits publications with row filters, $nunits subscriptions in $nunits databases of a second cluster ($n_units_rows rows)"
echo
echo "| measurement | (S) syncd | (N) native LR | N/S | target |"
echo "|---|---:|---:|---:|---|"
echo "| 1. UPDATE of $s1_rows rows in one transaction: COMMIT -> applied in every unit (s) | $s1_secs | $n1_secs | $(secs_ratio "$n1_secs" "$s1_secs") | N/S >= 10x |"
echo "| (the UPDATE statement itself, s; rows updated) | $s1_stmt; $s1_rows | $n1_stmt; $n1_rows | | |
| 1'. start of the UPDATE -> applied in every unit (s) | $s1_total | $n1_total | $(secs_ratio "$n1_total" "$s1_total") | N/S >= 15x |
| 1''. COMMIT -> applied (S) vs one pg_recvlogical decode of that transaction from a slot made before it (s) | $s1_secs | (pg_recvlogical) $f1_secs | S/floor $(ratio "$s1_secs" "$f1_secs") | S/floor <= 1.0x |
| 1i. INSERT of $si_rows rows in one transaction: COMMIT -> applied in every unit (s) | $si_secs | $ni_secs | $(secs_ratio "$ni_secs" "$si_secs") | N/S >= 10x |
| 1d. DELETE of $sd_rows rows in one transaction: COMMIT -> applied in every unit (s) | $sd_secs | $nd_secs | $(secs_ratio "$nd_secs" "$sd_secs") | N/S >= 10x |"
echo "| 2. source walsender CPU during 1 (s; processes present before and after) | $s1_cpu ($s1_procs) | $n1_cpu ($n1_procs) | $(ratio "$n1_cpu" "$s1_cpu") | N/S >= 50x |"
echo "| 3. sustained load: achieved changes/s (target $rate for $secs s) | $s3_rate | $n3_rate | | |"
echo "| 3. lag p50 (s) | $s3_p50 | $n3_p50 | | |"
echo "| 3. lag p99 (s) | $s3_p99 | $n3_p99 | | S < 1 s |"
echo "| 3. lag max (s); samples (never reached) | $s3_max; $s3_n ($s3_miss) | $n3_max; $n3_n ($n3_miss) | | |"
echo "| 3. caught up after the load stopped (s) | $s3_tail | $n3_tail | | |"
echo "| 3'. syncd at the rate N achieved: changes/s; lag p50 / p99 / max (s) | $s4_rate; $s4_p50 / $s4_p99 / $s4_max; $s4_n ($s4_miss) samples | (see 3) | | |"
echo
echo "syncd process CPU during 1: $s1_syncd_cpu s; tier cluster log ERRORs: $n_log_errors"
echo "syncd log lines with error/warn/fail: ${syncd_errors:-none}"
echo "check unit $check_unit after 1 (rows/sum of phien_ban): syncd $s_check; native $n_check"
