#!/bin/bash
# Set-based apply (issue 14): a batch's changes are reduced per key and sent
# as one statement per operation (connectors/pg_sets.c).  Each step puts
# the sequences the reduction rules cover into one source transaction (or
# many small ones caught up in one batch) — insert/update/delete per key,
# rows moving between units and the quarantine and back, unchanged TOAST
# values, a TRUNCATE between changes — then syncd --once catches up and
# every unit equals the oracle.  Last, a unit whose copy lost rows makes
# the set's UPDATE refuse, naming the table and the fix, and nothing of
# that batch is kept.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 8000

once() { h_city_once "$1"; }
land() { h_psql -d land -c "$1"; }
cols="id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban, dia_chi"

once "snapshot"

# -- per key, in one transaction: I+U+U, I+D, U+U, U+D, D+I, I+D+I
h_psql -d land <<SQL
BEGIN;
INSERT INTO thua_dat ($cols) SELECT g, '31117', 5, g % 1000, 100, 1, 1, 'a' FROM generate_series(700001, 700200) g;
UPDATE thua_dat SET phien_ban = phien_ban + 1, dia_chi = 'b' WHERE id BETWEEN 700001 AND 700200;
UPDATE thua_dat SET phien_ban = phien_ban + 1, dia_chi = NULL WHERE id BETWEEN 700001 AND 700100;
INSERT INTO thua_dat ($cols) SELECT g, '31117', 5, 1, 1, 1, 1, 'gone' FROM generate_series(700201, 700400) g;
DELETE FROM thua_dat WHERE id BETWEEN 700201 AND 700400;
CREATE TEMP TABLE pick AS SELECT id, row_number() OVER (ORDER BY id) n, count(*) OVER () c FROM thua_dat WHERE ma_dvhc_xa IN (SELECT ma_dvhc_xa FROM thua_dat WHERE ma_dvhc_xa <> '31117' GROUP BY 1 ORDER BY count(*) DESC LIMIT 4) AND ban_quet IS NULL AND id < 700000;
DO \$\$ BEGIN IF (SELECT count(*) FROM pick) < 100 THEN RAISE 'test data: fewer than 100 rows in four codes'; END IF; END \$\$;
UPDATE thua_dat SET dien_tich = dien_tich + 1 WHERE id IN (SELECT id FROM pick);
UPDATE thua_dat SET dien_tich = dien_tich + 1, dia_chi = 'twice' WHERE id IN (SELECT id FROM pick WHERE n <= c / 2);
DELETE FROM thua_dat WHERE id IN (SELECT id FROM pick WHERE n <= c / 6);
CREATE TEMP TABLE back AS SELECT * FROM thua_dat WHERE id IN (SELECT id FROM pick WHERE n > 2 * c / 3);
DELETE FROM thua_dat WHERE id IN (SELECT id FROM back);
INSERT INTO thua_dat ($cols) SELECT id, ma_dvhc_xa, so_to, so_thua, dien_tich + 5, trang_thai, phien_ban, 'back again' FROM back;
INSERT INTO thua_dat ($cols) SELECT g, '31120', 7, 1, 1, 1, 1, 'first' FROM generate_series(700401, 700450) g;
DELETE FROM thua_dat WHERE id BETWEEN 700401 AND 700450;
INSERT INTO thua_dat ($cols) SELECT g, '31120', 7, 1, 1, 1, 2, 'second' FROM generate_series(700401, 700450) g;
COMMIT;
SQL
once "insert, update and delete sequences per key in one transaction"
h_assert_eq "I+U+U arrives as the last image" "100 100" \
    "$(h_psql -d tier -c "SELECT count(*) FILTER (WHERE phien_ban = 3 AND dia_chi IS NULL), count(*) FILTER (WHERE phien_ban = 2 AND dia_chi = 'b') FROM u31120.thua_dat WHERE id BETWEEN 700001 AND 700200" | tr '|' ' ')"
h_assert_eq "I+D leaves nothing" 0 "$(h_psql -d tier -c "SELECT count(*) FROM u31120.thua_dat WHERE id BETWEEN 700201 AND 700400")"

# -- moves in one transaction: unit to unit, back, to the quarantine and out
h_psql -d land <<'SQL'
BEGIN;
CREATE TEMP TABLE mv AS SELECT id, row_number() OVER (ORDER BY id) n, count(*) OVER () c FROM thua_dat WHERE ma_dvhc_xa = '31135' AND ban_quet IS NULL;
DO $$ BEGIN IF (SELECT count(*) FROM mv) < 40 THEN RAISE 'test data: fewer than 40 rows in 31135'; END IF; END $$;
UPDATE thua_dat SET ma_dvhc_xa = '31153' WHERE id IN (SELECT id FROM mv);
UPDATE thua_dat SET dien_tich = dien_tich + 2 WHERE id IN (SELECT id FROM mv);
UPDATE thua_dat SET ma_dvhc_xa = '31135' WHERE id IN (SELECT id FROM mv WHERE n <= c / 2);
UPDATE thua_dat SET ma_dvhc_xa = '99999' WHERE id IN (SELECT id FROM mv WHERE n > c / 2 AND n <= 7 * c / 10);
UPDATE thua_dat SET ma_dvhc_xa = '31153', phien_ban = phien_ban + 7 WHERE id IN (SELECT id FROM mv WHERE n > 6 * c / 10 AND n <= 7 * c / 10);
UPDATE thua_dat SET ma_dvhc_xa = '31135' WHERE id IN (SELECT id FROM mv WHERE n <= c / 10);
UPDATE thua_dat SET ma_dvhc_xa = '31153' WHERE id IN (SELECT id FROM mv WHERE n <= c / 20);
COMMIT;
SQL
once "rows moving between units and the quarantine, back and forth, in one transaction"

# -- unchanged TOAST values: inserted then updated in the same transaction,
#    and existing scans updated twice (the scan is absent from each change)
h_psql -d land <<SQL
BEGIN;
INSERT INTO thua_dat ($cols, ban_quet) SELECT g, '31117', 9, 1, 10, 1, 1, 'scan', decode(repeat(md5(g::text), 300), 'hex') FROM generate_series(710001, 710040) g;
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id BETWEEN 710001 AND 710040;
UPDATE thua_dat SET trang_thai = 3 WHERE id BETWEEN 710001 AND 710020;
UPDATE thua_dat SET trang_thai = 2 WHERE ban_quet IS NOT NULL AND id < 700000;
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE ban_quet IS NOT NULL AND id < 700000;
COMMIT;
SQL
once "unchanged TOAST values in merged changes"
h_assert_eq "scans arrive whole after insert+update merges" \
    "$(land "SELECT string_agg(md5(ban_quet), ',' ORDER BY id) FROM thua_dat WHERE id BETWEEN 710001 AND 710040")" \
    "$(h_psql -d tier -c "SELECT string_agg(md5(ban_quet), ',' ORDER BY id) FROM u31120.thua_dat WHERE id BETWEEN 710001 AND 710040")"

# -- a TRUNCATE between changes of one transaction
h_psql -d land <<'SQL'
BEGIN;
UPDATE muc_dich_su_dung SET dien_tich = dien_tich + 1 WHERE id IN (SELECT id FROM muc_dich_su_dung ORDER BY id LIMIT 300);
INSERT INTO muc_dich_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, ma_loai_dat, dien_tich)
    SELECT 720000 + id, id, ma_dvhc_xa, so_to, 'ODT', 10 FROM thua_dat ORDER BY id LIMIT 100;
TRUNCATE muc_dich_su_dung;
INSERT INTO muc_dich_su_dung (id, thua_dat_id, ma_dvhc_xa, so_to, ma_loai_dat, dien_tich)
    SELECT 730000 + id, id, ma_dvhc_xa, so_to, 'LUC', 20 FROM thua_dat ORDER BY id LIMIT 400;
UPDATE muc_dich_su_dung SET nguon_goc = 'after truncate' WHERE id % 2 = 0;
DELETE FROM muc_dich_su_dung WHERE id % 7 = 0;
COMMIT;
SQL
once "TRUNCATE in the middle of a transaction"

# -- many small transactions on the same keys, caught up in one batch
{
    for i in $(seq 1 30); do
        echo "UPDATE thua_dat SET phien_ban = phien_ban + 1, dia_chi = 'round $i' WHERE id IN (SELECT id FROM thua_dat WHERE ma_dvhc_xa = '31213' ORDER BY id LIMIT 60);"
        if ((i % 2)); then
            echo "INSERT INTO thua_dat ($cols) SELECT g, '31213', 3, 1, 1, 1, $i, 'flip' FROM generate_series(740001, 740030) g;"
        else
            echo "DELETE FROM thua_dat WHERE id BETWEEN 740001 AND 740030;"
        fi
    done
} | h_psql -d land >/dev/null
once "30 small transactions on the same keys in one batch"

# -- a unit whose copy lost rows: the set's UPDATE finds fewer rows than keys
lost=$(h_psql -d tier -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM u31120.thua_dat WHERE id < 700000 ORDER BY id LIMIT 3) s")
ckpt_before=$(h_psql -d tier -c "SELECT lsn FROM u31120.syncd_checkpoint WHERE source = 'land'")
h_psql -d tier -c "DELETE FROM u31120.thua_dat WHERE id IN ($lost)" >/dev/null
land "UPDATE thua_dat SET phien_ban = phien_ban + 100 WHERE ma_dvhc_xa IN ('31117', '31120')"
"$H_SYNCD" -c "$H_CONF" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
[[ $rc -ne 0 ]] && h_ok "a diverged unit stops the source" || h_fail "a diverged unit stops the source" "exit 0"
grep -q 'UPDATE u31120\.thua_dat: [23] of [0-9]* keys have no row' "$H_TMP/err" &&
    grep -q "resync it" "$H_TMP/err" &&
    h_ok "the error names the table, the count and the fix" ||
    h_fail "the error names the table, the count and the fix" "$(tail -3 "$H_TMP/err")"
h_assert_eq "nothing of the refused batch is kept (checkpoint unchanged)" "$ckpt_before" \
    "$(h_psql -d tier -c "SELECT lsn FROM u31120.syncd_checkpoint WHERE source = 'land'")"
h_assert_eq "nothing of the refused batch is kept (rows unchanged)" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM u31120.thua_dat WHERE phien_ban >= 100")"

h_summary
