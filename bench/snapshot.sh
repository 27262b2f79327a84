#!/bin/bash
# make bench: snapshot speed, side by side in one run on one throwaway
# PostgreSQL 15 (issue 2).  SIZE parcels (default 1,000,000) plus the other
# land tables and the civil registers are generated; then
#   (a) raw   COPY thua_dat TO STDOUT | COPY FROM STDIN into one database
#   (s) syncd --once on thua_dat alone, routed into 103 unit schemas
#   (b) 103 filtered COPYs, one per unit, with an index on the unit column
#   (S) syncd --once on every table of both sources
# and prints rows/s and the ratios.  Speed is measured here, never in tests.
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

size=${1:-${BENCH_SIZE:-1000000}}
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
rate() { awk -v r="$1" -v m="$2" 'BEGIN { printf "%.0f", r * 1000 / (m > 0 ? m : 1) }'; }
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

h_init
h_pg_start
echo "bench: generating $size parcels and the other tables ..."
t=$(date +%s%N)
h_city_setup "$size"
echo "bench: generated in $(($(ms "$t") / 1000)) s: $(tail -1 "$H_TMP/gencity.log")"
rows=$(h_psql -d land -c "SELECT count(*) FROM thua_dat")
bytes=$(h_psql -d land -c "SELECT pg_size_pretty(pg_total_relation_size('thua_dat'))")
# settle hint bits and visibility now, or the first method to read pays for it
h_psql -d land -c "VACUUM (FREEZE, ANALYZE)"
h_psql -d civil -c "VACUUM (FREEZE, ANALYZE)"
h_psql -d postgres -c "CHECKPOINT"
# warm the cache the same way for every method
h_psql -d land -c "SELECT count(*), sum(length(dia_chi)), sum(octet_length(ban_quet)) FROM thua_dat" >/dev/null

# (a) raw COPY into one database, same table definition (primary key included)
h_psql -d postgres -c "CREATE DATABASE rawcopy"
pg_dump -h 127.0.0.1 -p "$PGPORT" -U postgres -s -t public.thua_dat land | psqlq -d rawcopy >/dev/null
t=$(date +%s%N)
psqlq -d land -c "COPY public.thua_dat TO STDOUT" | psqlq -d rawcopy -c "COPY public.thua_dat FROM STDIN"
raw_ms=$(ms "$t")

# (s) syncd, thua_dat alone
h_policy_thua_dat "$H_TMP/pol1"
cat >"$H_TMP/one.conf" <<CONF
[syncd]
policies_dir = $H_TMP/pol1
[state]
conninfo = $H_STATE
[source land]
conninfo = $H_LAND
[tier]
conninfo = $H_TIER
CONF
t=$(date +%s%N)
"$H_SYNCD" -c "$H_TMP/one.conf" --once 2>"$H_TMP/one.log" | tee "$H_TMP/one.out"
one_ms=$(ms "$t")

# (b) 103 filtered COPYs with an index on the unit column: each unit's old
# codes (and, for the split wards, its map-sheet ranges) as the filter
t=$(date +%s%N)
h_psql -d land -c "CREATE INDEX thua_dat_unit ON thua_dat (ma_dvhc_xa)"
index_ms=$(ms "$t")
h_psql -d postgres -c "CREATE DATABASE filtered"
filters=$(awk -F, 'NR > 1 && $6 == "full" { f[$4] = f[$4] (f[$4] ? "," : "") "'\''" $1 "'\''" }
    END { for (u in f) print u "\t" f[u] }' "$H_ROOT/policies/units/cantho_old_to_new_mapping.csv")
split_sql() { # unit -> extra OR clause for the split wards' sheet ranges
    case $1 in
    31120) echo " OR (ma_dvhc_xa = '31178' AND so_to BETWEEN 1 AND 30)" ;;
    31168) echo " OR (ma_dvhc_xa = '31178' AND so_to BETWEEN 31 AND 60)" ;;
    31150) echo " OR (ma_dvhc_xa = '31183' AND so_to BETWEEN 1 AND 30)" ;;
    31183) echo " OR (ma_dvhc_xa = '31183' AND so_to BETWEEN 31 AND 60)" ;;
    31228) echo " OR (ma_dvhc_xa = '31207' AND so_to BETWEEN 1 AND 40)" ;;
    31207) echo " OR (ma_dvhc_xa = '31207' AND so_to BETWEEN 41 AND 80)" ;;
    esac
}
ddl=$(pg_dump -h 127.0.0.1 -p "$PGPORT" -U postgres -s -t public.thua_dat land | grep -v '^SET\|^SELECT pg_catalog')
while IFS=$'\t' read -r unit codes; do
    { echo "CREATE SCHEMA u$unit; SET search_path = u$unit;"; sed 's/public\./u'"$unit"'./g' <<<"$ddl"; } | psqlq -d filtered >/dev/null 2>&1
done <<<"$filters"
t=$(date +%s%N)
while IFS=$'\t' read -r unit codes; do
    psqlq -d land -c "COPY (SELECT * FROM thua_dat WHERE ma_dvhc_xa IN ($codes)$(split_sql "$unit")) TO STDOUT" |
        psqlq -d filtered -c "COPY u$unit.thua_dat FROM STDIN"
done <<<"$filters"
filtered_ms=$(ms "$t")
filtered_rows=$(h_psql -d filtered -c "SELECT sum(n) FROM (SELECT (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.thua_dat', nspname), false, true, '')))[1]::text::bigint AS n FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}\$') s")
h_psql -d land -c "DROP INDEX thua_dat_unit"

# (S) syncd, every table of both sources, into a fresh tier
h_psql -d land -c "SELECT pg_drop_replication_slot('syncd_land')" >/dev/null
h_psql -d syncd_state -c "DELETE FROM syncd_snapshot; DELETE FROM syncd_quarantine"
h_psql -d postgres -c "DROP DATABASE tier" -c "CREATE DATABASE tier OWNER syncd"
count_all() {
    local db t
    for db in land civil; do
        for t in $(h_psql -d "$db" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"); do
            h_psql -d "$db" -c "SELECT count(*) FROM public.$t"
        done
    done | awk '{ s += $1 } END { print s }'
}
all_rows=$(count_all)
t=$(date +%s%N)
"$H_SYNCD" -c "$H_CONF" --once 2>"$H_TMP/all.log" | tee "$H_TMP/all.out"
all_ms=$(ms "$t")

raw_rate=$(rate "$rows" "$raw_ms")
echo
echo "## Snapshot benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(h_psql -d postgres -c 'SHOW server_version'))"
echo
echo "thua_dat: $rows rows, $bytes on disk (of which ~1% carry a 4-12 KiB TOASTed scan); all tables: $all_rows rows"
echo
echo "| method | rows | seconds | rows/s | vs (a) |"
echo "|---|---:|---:|---:|---:|"
row() { printf '| %s | %s | %.1f | %s | %.2fx |\n' "$1" "$2" "$(awk -v m="$3" 'BEGIN{print m/1000}')" "$(rate "$2" "$3")" "$(awk -v a="$(rate "$2" "$3")" -v b="$raw_rate" 'BEGIN{print a/b}')"; }
row "(a) raw COPY TO \| COPY FROM, one database" "$rows" "$raw_ms"
row "syncd --once, thua_dat into 103 units" "$rows" "$one_ms"
row "(b) 103 filtered COPYs (+ $((index_ms / 1000)) s for the unit index, not counted)" "$filtered_rows" "$filtered_ms"
row "syncd --once, all 8 tables of land + civil" "$all_rows" "$all_ms"
