#!/bin/bash
# make demo: the main job on the embedded default.  A throwaway PostgreSQL
# with the sample city databases (land + civil, ~50,000 records), syncd
# --once copies them into the 103 units, then shows what each unit holds,
# what was quarantined and why, and that a second run copies nothing.
# Everything is removed afterwards (KEEP_TMP=1 keeps the temp dir).
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

size=${DEMO_SIZE:-15000}
show() { psql -X -q -P footer=off "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

h_init
say "starting a throwaway PostgreSQL 15 (wal_level=logical) in $H_TMP"
h_pg_start
say "generating the sample city: land (to_ban_do, thua_dat, muc_dich_su_dung, nguoi_su_dung, giay_chung_nhan) and civil (khai_sinh, ket_hon, khai_tu)"
h_city_setup "$size"
cat "$H_TMP/gencity.log"

say "syncd --once: one read of each table, each row routed to its unit"
echo "\$ syncd -c syncd.conf --once"
"$H_SYNCD" -c "$H_CONF" --once 2>"$H_TMP/syncd.log"
grep -E 'warning|error' "$H_TMP/syncd.log" || true

say "rows per unit (first 12 of 103; old pre-2025 codes already mapped to the new units)"
show -d tier -c "
SELECT n.nspname AS unit_schema,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.thua_dat', n.nspname), false, true, '')))[1]::text AS parcels,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.khai_sinh', n.nspname), false, true, '')))[1]::text AS births
FROM pg_namespace n WHERE n.nspname ~ '^u[0-9]{5}\$' ORDER BY 1 LIMIT 12"

say "Phường Cái Khế (31120) — its own birth registrations, names intact"
show -d tier -c "SELECT so, ngay_dang_ky, ho_ten, ngay_sinh, gioi_tinh, dan_toc FROM u31120.khai_sinh ORDER BY ngay_dang_ky DESC LIMIT 5"

say "the three split wards: parcels of old Bùi Hữu Nghĩa (31178) went to 31120 or 31168 by map sheet"
show -d tier -c "SELECT '31120' AS unit, count(*) AS parcels_from_31178 FROM u31120.thua_dat WHERE ma_dvhc_xa = '31178' UNION ALL SELECT '31168', count(*) FROM u31168.thua_dat WHERE ma_dvhc_xa = '31178'"

say "masking: a unit never holds a land user's full phone number"
show -d tier -c "SELECT ho_ten, so_dinh_danh, so_dien_thoai FROM u31120.nguoi_su_dung ORDER BY id LIMIT 3"

say "quarantine (state DB): rows no unit can take, kept whole with the reason"
show -d syncd_state -c "SELECT source, tbl, reason, count(*) FROM syncd_quarantine GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"

say "a second run finds the completed snapshot and copies nothing"
echo "\$ syncd -c syncd.conf --once"
"$H_SYNCD" -c "$H_CONF" --once 2>>"$H_TMP/syncd.log"

say "done; the throwaway servers are stopped and removed"
