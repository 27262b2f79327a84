#!/bin/bash
# Snapshot of the sample city into 103 units (issue 2): every unit equals an
# independent oracle, the quarantine holds exactly the unroutable rows,
# masking, TOAST, Vietnamese text, checkpoints, and a second run that copies
# nothing.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 8000

out=$("$H_SYNCD" -c "$H_CONF" --once 2>"$H_TMP/syncd.err") && rc=0 || rc=$?
h_assert_eq "syncd --once exits 0" 0 "$rc"
[[ $rc -eq 0 ]] || cat "$H_TMP/syncd.err"
if grep -q '^source land: snapshot complete at [0-9A-F]*/[0-9A-F]*: [0-9]* rows (old era [0-9]*, new era [0-9]*), [0-9]* quarantined, 103 units' <<<"$out" &&
    grep -q '^source civil: snapshot complete' <<<"$out"; then
    h_ok "one summary line per source"
else
    h_fail "one summary line per source" "$out"
fi

h_city_compare "first run"

# the summary's row counts are the oracle's
land_rows=$(sed -n 's/^source land: .*: \([0-9]*\) rows.*/\1/p' <<<"$out")
land_expect=$("$H_ROOT/tests/harness/oracle.sh" expect-land "host=127.0.0.1 port=$PGPORT dbname=land user=postgres" | awk -F'\t' '{s += $3} END {print s}')
h_assert_eq "summary counts the routed land rows" "$land_expect" "$land_rows"

# all six quarantine reasons occur in the sample data, each with the whole row
reasons=$(h_psql -d syncd_state -c "SELECT string_agg(DISTINCT reason, ',' ORDER BY reason) FROM syncd_quarantine")
h_assert_eq "quarantine reasons" "date_null,split_unresolved,unit_malformed,unit_null,unit_unknown_new,unit_unknown_old" "$reasons"
whole=$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_quarantine q WHERE source = 'land' AND tbl = 'public.thua_dat' AND row_data ? 'ban_quet' AND row_data ? 'dia_chi' AND row_data->>'id' = q.key")
h_assert_eq "quarantined rows keep every column and their key" \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_quarantine WHERE source = 'land' AND tbl = 'public.thua_dat'")" "$whole"
h_assert_eq "quarantined NULL and empty unit codes are told apart" "t|t" \
    "$(h_psql -d syncd_state -c "SELECT bool_and(unit_value IS NULL) FILTER (WHERE coalesce(row_data->>'ma_dvhc_xa', row_data->>'ma_dvhc_dang_ky') IS NULL), bool_and(unit_value = '') FILTER (WHERE coalesce(row_data->>'ma_dvhc_xa', row_data->>'ma_dvhc_dang_ky') = '') FROM syncd_quarantine WHERE reason = 'unit_null'")"

# masking: the land user's phone number arrives as ******1234
masked=$(h_psql -d tier -c "SELECT count(*) FILTER (WHERE so_dien_thoai !~ '^\*{6}[0-9]{4}$'), count(so_dien_thoai) FROM u31120.nguoi_su_dung")
h_assert_eq "phone numbers masked to last4 in unit 31120" "0" "${masked%%|*}"
[[ ${masked##*|} -gt 0 ]] && h_ok "unit 31120 holds land users with phone numbers" || h_fail "unit 31120 has land users" "$masked"
h_assert_eq "personal ID numbers (printed on documents) are not masked" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM u31120.nguoi_su_dung WHERE so_dinh_danh !~ '^[0-9]{12}$'")"

# TOAST: the scanned documents are stored out of line at the source and arrive whole
src_scans=$(h_psql -d land -c "SELECT count(*), sum(octet_length(ban_quet)), bool_and(pg_column_size(ban_quet) >= octet_length(ban_quet)) FROM thua_dat WHERE ban_quet IS NOT NULL AND id NOT IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa IS NULL OR ma_dvhc_xa !~ '^[0-9]{5}$')")
h_assert_eq "source scans are stored uncompressed out of line" t "${src_scans##*|}"
tier_md5=$(h_psql -d tier -c "SELECT string_agg(x, '') FROM (SELECT md5(ban_quet) AS x FROM (SELECT ban_quet, id FROM u31135.thua_dat UNION ALL SELECT ban_quet, id FROM u31120.thua_dat) s WHERE ban_quet IS NOT NULL ORDER BY id) q")
ids=$(h_psql -d tier -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM u31135.thua_dat UNION ALL SELECT id FROM u31120.thua_dat) s")
src_md5=$(h_psql -d land -c "SELECT string_agg(md5(ban_quet), '' ORDER BY id) FROM thua_dat WHERE ban_quet IS NOT NULL AND id IN ($ids)")
if [[ -n $src_md5 && $src_md5 == "$tier_md5" ]]; then h_ok "TOASTed scans arrive byte for byte"; else h_fail "TOASTed scans" "differ"; fi

# Vietnamese text byte-identical (not just equal after normalisation)
h_assert_eq "names byte-identical" \
    "$(h_psql -d civil -c "SELECT md5(string_agg(ho_ten, '|' ORDER BY id)) FROM khai_sinh WHERE id IN (SELECT id FROM khai_sinh WHERE ma_dvhc_dang_ky = '31120' AND ngay_dang_ky >= '2025-07-01')")" \
    "$(h_psql -d tier -c "SELECT md5(string_agg(ho_ten, '|' ORDER BY id)) FROM u31120.khai_sinh WHERE ngay_dang_ky >= '2025-07-01'")"
h_assert_eq "diacritics intact" 1 "$(h_psql -d tier -c "SELECT count(*) FROM (SELECT 1 FROM u31120.khai_sinh WHERE ho_ten ~ '[ễếộườ]' LIMIT 1) s")"

# every unit has a checkpoint per source at the slot's consistent point
lsn=$(h_psql -d syncd_state -c "SELECT lsn FROM syncd_snapshot WHERE source = 'land'")
h_assert_eq "103 land checkpoints at the consistent point" 103 \
    "$(h_psql -d tier -c "SELECT count(*) FROM pg_namespace n, LATERAL (SELECT 1) x WHERE n.nspname ~ '^u[0-9]{5}$'")"
cps=0
for s in $(h_psql -d tier -c "SELECT nspname FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}$'"); do
    [[ $(h_psql -d tier -c "SELECT lsn FROM $s.syncd_checkpoint WHERE source = 'land'") == "$lsn" ]] && cps=$((cps + 1))
done
h_assert_eq "each unit's land checkpoint equals the snapshot LSN" 103 "$cps"
h_assert_eq "quarantine checkpoint" "$lsn" "$(h_psql -d syncd_state -c "SELECT lsn FROM syncd_checkpoint WHERE source = 'land' AND unit = 'quarantine'")"
h_assert_eq "slot created" "syncd_land" "$(h_psql -d land -c "SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'syncd_land'")"
h_assert_eq "publication created by syncd" 5 "$(h_psql -d land -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'syncd_land'")"

# a second run finds the slot and its marker, copies nothing, duplicates nothing
before=$(h_psql -d syncd_state -c "SELECT completed_at FROM syncd_snapshot WHERE source = 'land'")
out2=$("$H_SYNCD" -c "$H_CONF" --once 2>>"$H_TMP/syncd.err") && rc=0 || rc=$?
h_assert_eq "second --once exits 0" 0 "$rc"
grep -q '^source land: snapshot already complete at' <<<"$out2" && h_ok "second run reports the existing snapshot" || h_fail "second run report" "$out2"
h_assert_eq "second run leaves the marker" "$before" "$(h_psql -d syncd_state -c "SELECT completed_at FROM syncd_snapshot WHERE source = 'land'")"
h_city_compare "second run"

# the effective configuration and the check mode work on this file
"$H_SYNCD" -c "$H_CONF" --check-config >/dev/null && h_ok "--check-config accepts it" || h_fail "--check-config" "rejected"
"$H_SYNCD" -c "$H_CONF" --print-config | grep -q '^conninfo = host=127.0.0.1' && h_ok "--print-config" || h_fail "--print-config" "no conninfo"

h_summary
