#!/bin/bash
# Streaming (issue 3): the row-filter scenarios of PostgreSQL's
# 028_row_filter.pl that apply to one table filtered by unit, and more;
# after each step syncd --once catches up and every unit equals the oracle.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 4000

once() { h_city_once "$1"; }
land() { h_psql -d land -c "$1"; }
civil() { h_psql -d civil -c "$1"; }

once "snapshot"

# insert inside and outside every filter: new units, old codes, quarantine
land "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban, dia_chi)
      VALUES (900001, '31117', 5, 1, 120.5, 1, 1, 'Số 1, đường Hòa Bình'),
             (900002, '31178', 12, 2, 80, 1, 1, 'tab\there'),
             (900003, '31178', 45, 3, 80, 1, 1, NULL),
             (900004, '99999', 5, 4, 80, 1, 1, NULL),
             (900005, NULL, 5, 5, 80, 1, 1, NULL)"
once "insert in and out of every filter"

# update moving a row into a unit (from the quarantine), out (to it), and between units
land "UPDATE thua_dat SET ma_dvhc_xa = '31123' WHERE id = 900005"
land "UPDATE thua_dat SET ma_dvhc_xa = NULL WHERE id = 900001"
land "UPDATE thua_dat SET ma_dvhc_xa = '31147' WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa = '31135' ORDER BY id LIMIT 20)"
land "UPDATE thua_dat SET so_to = 50 WHERE id = 900002"
once "update moving rows in, out and between units"

# an update that keeps the unit; a key change; deletes routed by the old row
land "UPDATE thua_dat SET dien_tich = dien_tich * 1.1, phien_ban = phien_ban + 1 WHERE ma_dvhc_xa = '31120'"
land "UPDATE thua_dat SET id = 990002 WHERE id = 900002"
land "DELETE FROM thua_dat WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa = '31213' ORDER BY id LIMIT 10)"
land "DELETE FROM thua_dat WHERE id = 900004"
once "updates in place, key change, deletes"

# TOAST: a moved row whose scan was not changed (unchanged-TOAST in the new row)
toast_ids=$(land "SELECT string_agg(id::text, ',') FROM (SELECT id FROM thua_dat WHERE ban_quet IS NOT NULL AND ma_dvhc_xa = '31117' ORDER BY id LIMIT 3) s")
land "UPDATE thua_dat SET ma_dvhc_xa = '31153' WHERE id IN ($toast_ids)"
land "UPDATE thua_dat SET trang_thai = 2 WHERE ban_quet IS NOT NULL AND ma_dvhc_xa = '31153'"
once "TOASTed column unchanged on moved rows"
h_assert_eq "moved scans arrive whole" \
    "$(land "SELECT string_agg(md5(ban_quet), ',' ORDER BY id) FROM thua_dat WHERE id IN ($toast_ids)")" \
    "$(h_psql -d tier -c "SELECT string_agg(md5(ban_quet), ',' ORDER BY id) FROM u31153.thua_dat WHERE id IN ($toast_ids)")"

# multi-table transactions, rollbacks, a rolled-back savepoint
h_psql -d land <<'SQL'
BEGIN;
INSERT INTO to_ban_do (id, ma_dvhc_xa, so_to, ty_le) VALUES (800001, '31120', 77, 2000);
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban) VALUES (800001, '31120', 77, 1, 50, 1, 1);
INSERT INTO muc_dich_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, ma_loai_dat, dien_tich) VALUES (800001, 800001, '31120', 77, 'ODT', 50);
SAVEPOINT a;
INSERT INTO nguoi_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, loai, ho_ten, so_dien_thoai) VALUES (800001, 800001, '31120', 77, 'CN', 'Bỏ Đi', '0900000000');
ROLLBACK TO a;
INSERT INTO nguoi_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, loai, ho_ten, so_dien_thoai) VALUES (800002, 800001, '31120', 77, 'CN', 'Trần Thị Giữ', '0911222333');
COMMIT;
BEGIN;
DELETE FROM thua_dat WHERE ma_dvhc_xa = '31135';
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban) VALUES (800009, '31120', 1, 1, 1, 1, 1);
ROLLBACK;
SQL
once "multi-table transaction, rollback, rolled-back savepoint"
h_assert_eq "rolled-back rows never arrive" 0 "$(h_psql -d tier -c "SELECT count(*) FROM u31120.thua_dat WHERE id = 800009")"

# the 2025 re-coding as one big UPDATE (old codes -> new codes), rows in split wards
land "UPDATE giay_chung_nhan g SET ma_dvhc_xa = m.new_code, ngay_cap = '2025-08-01'
      FROM (SELECT DISTINCT ON (old_code) old_code, new_code FROM (VALUES ('31117','31120'),('31120','31120'),('31123','31135'),('31178','31168')) v(old_code, new_code)) m
      WHERE g.ma_dvhc_xa = m.old_code"
once "re-coding old codes to new codes"

# civil: unit to NULL (quarantine) and back, dates across the cutover
civil "UPDATE khai_sinh SET ma_dvhc_dang_ky = NULL WHERE id IN (SELECT id FROM khai_sinh WHERE ma_dvhc_dang_ky = '31120' ORDER BY id LIMIT 3)"
civil "UPDATE khai_sinh SET ngay_dang_ky = '2025-07-01' WHERE ma_dvhc_dang_ky = '31117'"
civil "UPDATE ket_hon SET ngay_dang_ky = '2020-01-01' WHERE ma_dvhc_dang_ky = '31120'"
once "unit set to NULL, dates moved across the cutover"

# a 500,000-row transaction (its changes are applied as they arrive, never held in memory)
land "INSERT INTO muc_dich_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, ma_loai_dat, dien_tich)
      SELECT 2000000 + g, g, (ARRAY['31117','31123','31213','31178','99999'])[1 + g % 5], 1 + g % 70, 'LUC', g % 1000
      FROM generate_series(1, 500000) g"
once "a 500,000-row transaction"

# truncate: emptied in every unit and in the quarantine
land "TRUNCATE muc_dich_su_dung, nguoi_su_dung"
once "truncate of two tables"
h_assert_eq "truncated tables are empty in every unit" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM u31120.muc_dich_su_dung")"
h_assert_eq "truncated tables leave the quarantine" 0 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_quarantine WHERE tbl IN ('public.muc_dich_su_dung', 'public.nguoi_su_dung')")"

# schema drift: a nullable column with a default is added everywhere
land "ALTER TABLE thua_dat ADD COLUMN ghi_chu text DEFAULT 'chưa kiểm tra'"
land "UPDATE thua_dat SET ghi_chu = 'đã kiểm tra' WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa = '31117' ORDER BY id LIMIT 5)"
once "nullable column added at the source"
h_assert_eq "added column carries its default in the units" "chưa kiểm tra" \
    "$(h_psql -d tier -c "SELECT ghi_chu FROM u31168.thua_dat ORDER BY id LIMIT 1")"
# a type change stops the source with the fix
land "ALTER TABLE to_ban_do ALTER COLUMN ty_le TYPE bigint"
land "UPDATE to_ban_do SET ty_le = 5000 WHERE id = 800001"
"$H_SYNCD" -c "$H_CONF" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
h_assert_eq "a type change stops the source" 1 "$rc"
grep -q 'column ty_le of public.to_ban_do changed type (was integer); alter the units' "$H_TMP/err" &&
    h_ok "the type change is named with the fix" || h_fail "type change message" "$(cat "$H_TMP/err")"

h_summary
