#!/usr/bin/env bash
# gencity.sh LAND_CONNINFO CIVIL_CONNINFO SIZE
#
# (Re)creates the sample city source databases (tests/harness/city/*.sql) and
# fills them with deterministic, realistic-looking data: the same SIZE always
# gives the same rows.  SIZE = number of thua_dat rows (>= 1000; every unit
# code is guaranteed to appear in every table once SIZE >= 4000).
#
# Everything is generated set-based in SQL; "random" values are
# hashint8extended(row id, salt), never random(), so the result does not
# depend on evaluation order.  Unit codes come from the policy CSVs, loaded
# into a helper schema "gen" (dropped at the end unless GEN_KEEP=1).
#
# Deliberate oddities, relied upon by the routing tests (see
# tests/harness/oracle.sh for the routing rules):
#   * ids 7..11 of every table carry bad unit codes (NULL, '', '9999',
#     'AB123', '99999'); ~0.05% more rows at random (ids > 600);
#   * land: thua_dat 1..6 (and their children 1..6) sit in the split wards
#     31178/31183/31207 with so_to 999 (1..3 and the other rows listed in
#     policies/units/split_overrides.csv are resolved by that file);
#     ~5% of split-ward parcels have so_to 999 too;
#   * by-date tables: rows on/after the cutover carry new codes, a few of them
#     a pre-reform-only code (unknown in the new era), a few have a NULL date;
#   * thua_dat.ban_quet: ~1% of rows hold 4-12 KiB of incompressible bytes;
#   * a few dia_chi / nguon_goc values contain a tab, a newline, a backslash.
set -euo pipefail

usage() { echo "usage: $0 LAND_CONNINFO CIVIL_CONNINFO SIZE" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
LAND=$1 CIVIL=$2 SIZE=$3
if ! [[ $SIZE =~ ^[0-9]+$ ]] || (( SIZE < 1000 )); then
    echo "$0: SIZE must be an integer >= 1000" >&2; exit 2
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
UNITS=$ROOT/policies/units/cantho_new_units.csv
MAPPING=$ROOT/policies/units/cantho_old_to_new_mapping.csv
ROUTING=$ROOT/policies/routing.json
for f in "$UNITS" "$MAPPING" "$ROUTING" "$HERE/city/land.sql" "$HERE/city/civil.sql"; do
    [[ -r $f ]] || { echo "$0: cannot read $f" >&2; exit 1; }
done

sqlstr() { printf "'%s'" "${1//\'/\'\'}"; }

# ---------------------------------------------------------------------------
# Helper schema "gen": unit lists, split rules, sheet layout, value pickers.
# The \copy lines are built here because psql does not expand variables in
# \copy.
# ---------------------------------------------------------------------------
prelude() {
    cat <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS gen CASCADE;
CREATE SCHEMA gen;
CREATE TABLE gen.new_csv (new_code text, new_name text, new_type text,
    new_full_name text, name_en text, province_code text);
CREATE TABLE gen.map_csv (old_code text, old_name text, old_province text,
    new_code text, new_name text, merge_type text, old_district_code text,
    old_district_name text, old_province_code text, resolution text,
    llm_confidence text, note text);
SQL
    echo "\\copy gen.new_csv FROM $(sqlstr "$UNITS") WITH (FORMAT csv, HEADER true)"
    echo "\\copy gen.map_csv FROM $(sqlstr "$MAPPING") WITH (FORMAT csv, HEADER true)"
    cat <<'SQL'
-- split rules, straight from routing.json (passed in as :routing)
CREATE TABLE gen.split_range AS
SELECT e.key AS code, (r->>'from')::int AS lo, (r->>'to')::int AS hi, r->>'unit' AS unit
FROM jsonb_each(:'routing'::jsonb -> 'split_rules') e,
     jsonb_array_elements(e.value -> 'ranges') r;
CREATE TABLE gen.split_kept AS
SELECT key AS code, value->>'registers_kept_by' AS unit
FROM jsonb_each(:'routing'::jsonb -> 'split_rules');

-- Old (pre-2025-07-01) units.  Split wards get idx 0,1,2 so that even the
-- smallest sheet layout gives each of them two sheets (one per split half).
CREATE TABLE gen.old_unit AS
SELECT (row_number() OVER (ORDER BY partial DESC, code) - 1)::int AS idx, x.*
FROM (SELECT m.old_code AS code, min(m.old_name) AS name,
             min(m.old_district_name) AS district,
             CASE min(m.old_province_code) WHEN '92' THEN 'TP Cần Thơ'
                  ELSE min(m.old_province) END AS province,
             min(m.old_province_code) AS prov,
             min(m.old_name) LIKE 'Xã %' AS rural,
             bool_or(m.merge_type = 'partial') AS partial,
             CASE WHEN bool_or(m.merge_type = 'partial') THEN NULL
                  ELSE min(m.new_code) END AS new_code,
             (SELECT max(s.hi) FROM gen.split_range s WHERE s.code = m.old_code) AS max_to
      FROM gen.map_csv m GROUP BY m.old_code) x;
ALTER TABLE gen.old_unit ADD PRIMARY KEY (idx);
CREATE UNIQUE INDEX ON gen.old_unit (code);

-- New units; prov = province most of their old units belonged to
CREATE TABLE gen.new_unit AS
SELECT (row_number() OVER (ORDER BY n.new_code) - 1)::int AS idx,
       n.new_code AS code, n.new_full_name AS name, n.new_type = 'Xã' AS rural,
       (SELECT mode() WITHIN GROUP (ORDER BY m.old_province_code)
          FROM gen.map_csv m WHERE m.new_code = n.new_code) AS prov
FROM gen.new_csv n;
ALTER TABLE gen.new_unit ADD PRIMARY KEY (idx);

-- codes that only exist before the reform (unknown in the new era)
CREATE TABLE gen.old_only AS
SELECT (row_number() OVER (ORDER BY code))::int AS n, code
FROM gen.old_unit WHERE code NOT IN (SELECT code FROM gen.new_unit);

SELECT count(*) AS n_old FROM gen.old_unit \gset
SELECT count(*) AS n_new FROM gen.new_unit \gset
-- the fixed id blocks below (coverage rows 12..277 etc.) are laid out for these counts
DO $$
BEGIN
    IF (SELECT count(*) FROM gen.old_unit) <> 263 OR (SELECT count(*) FROM gen.new_unit) <> 103
       OR (SELECT count(*) FROM gen.old_unit WHERE partial) <> 3 THEN
        RAISE EXCEPTION 'unit CSVs changed (expected 263 old units, 3 of them split, 103 new): update gencity.sh';
    END IF;
END $$;
SELECT greatest(300, :size / 50) AS ns \gset

-- Map sheets: sheet s belongs to old unit (s-1) % n_old and is that unit's
-- k-th sheet.  In split wards sheet numbers are spread over the split ranges
-- (k*41 mod max_to) so that both halves are populated from k = 2 on.
CREATE TABLE gen.sheet AS
SELECT s, u.idx AS uidx,
       CASE WHEN u.max_to IS NULL THEN k ELSE ((k - 1) * 41) % u.max_to + 1 END AS so_to
FROM generate_series(1, :ns) s,
     LATERAL (SELECT ((s - 1) % :n_old)::int AS ui, ((s - 1) / :n_old + 1)::int AS k) a
JOIN gen.old_unit u ON u.idx = a.ui;
ALTER TABLE gen.sheet ADD PRIMARY KEY (s);
ANALYZE gen.old_unit, gen.new_unit, gen.sheet, gen.split_range, gen.split_kept;

-- Pseudo-random pickers.  Plain one-expression SQL functions so the planner
-- inlines them (a non-inlined call would cost microseconds per row).
CREATE FUNCTION gen.r(i bigint, salt int, n int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT abs(hashint8extended(i, salt) % n)::int $$;

CREATE FUNCTION gen.pick(a text[], i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT a[1 + abs(hashint8extended(i, salt) % cardinality(a))::int] $$;

CREATE FUNCTION gen.day(lo date, hi date, i bigint, salt int) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT lo + abs(hashint8extended(i, salt) % (hi - lo + 1))::int $$;

-- replace the unit code by a bad one: always when forced, else ~0.05% (ids > 600)
CREATE FUNCTION gen.bad(v text, i bigint, salt int, forced bool) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
     WHEN forced THEN (ARRAY[NULL, '', '9999', 'AB123', '99999'])[1 + (i % 5)::int]
     WHEN i > 600 AND abs(hashint8extended(i, salt) % 2000) = 0
       THEN (ARRAY[NULL, '', '9999', 'AB123', '99999'])[1 + abs(hashint8extended(i, salt + 1) % 5)::int]
     ELSE v END $$;

-- ethnicity; Khmer are numerous in former Sóc Trăng (94)
CREATE FUNCTION gen.eth(prov text, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
     WHEN abs(hashint8extended(i, salt) % 100) < (CASE prov WHEN '94' THEN 30 WHEN '93' THEN 5 ELSE 4 END) THEN 'Khmer'
     WHEN abs(hashint8extended(i, salt) % 100) >= 96 THEN 'Hoa'
     ELSE 'Kinh' END $$;

CREATE FUNCTION gen.ho(eth text, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE eth
     WHEN 'Khmer' THEN gen.pick('{Thạch,Thạch,Sơn,Sơn,Danh,Kim,Lâm,Lý,Trà,Chau}', i, salt)
     WHEN 'Hoa'   THEN gen.pick('{Quách,Lý,Trương,Tăng,Mã,Lưu,Lâm,Huỳnh,Diệp,Hứa}', i, salt)
     ELSE gen.pick('{Nguyễn,Nguyễn,Nguyễn,Nguyễn,Nguyễn,Nguyễn,Trần,Trần,Trần,Lê,Lê,Lê,Phạm,Phạm,Huỳnh,Huỳnh,Hoàng,Võ,Võ,Đặng,Bùi,Đỗ,Hồ,Ngô,Dương,Lý,Phan,Trương,Đoàn,Lương,Châu,Tô,Quách,Lâm}', i, salt)
   END $$;

CREATE FUNCTION gen.dem(female bool, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN female
     THEN gen.pick('{Thị,Thị,Thị,Thị,Ngọc,Thanh,Minh,Kim,Mỹ,Thùy,Bích,Hồng}', i, salt)
     ELSE gen.pick('{Văn,Văn,Văn,Văn,Hữu,Minh,Ngọc,Thanh,Quốc,Đức,Công,Hoàng,Tấn}', i, salt) END $$;

CREATE FUNCTION gen.ten(eth text, female bool, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
     WHEN eth = 'Khmer' AND abs(hashint8extended(i, salt + 7) % 2) = 0 THEN
       CASE WHEN female THEN gen.pick('{Sa Rinh,Sa Ry,Sóc Kha,Sa Quynh,Thị Sóc,Phi Ly,Ni Ta,Sa Vênh}', i, salt)
            ELSE gen.pick('{Chanh Đa,Sà Phia,Sô Phon,Ra Sy,Sóc Thươl,Xuân,Sa Ray,Sơ Ni}', i, salt) END
     WHEN female THEN gen.pick('{An,Chi,Hạnh,Lan,Mai,Quyên,Thảo,Vy,Yến,Hoa,Trang,Nhung,Hương,Linh,Ngân,Phượng,Diễm,Loan,Tuyết,Thủy,Hằng,Oanh,Nga,Trâm,Nhi}', i, salt)
     ELSE gen.pick('{Bình,Dũng,Hùng,Khánh,Nam,Phúc,Sơn,Tuấn,Long,Hải,Tài,Trung,Cường,Hiếu,Phong,Lộc,Thắng,Tâm,Quang,Nghĩa,Đạt,Kiệt,Toàn,Vinh,Hòa}', i, salt) END $$;

-- full name; salt, salt+1, salt+2 pick family, middle and given name
CREATE FUNCTION gen.name(eth text, female bool, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT gen.ho(eth, i, salt) || ' ' || gen.dem(female, i, salt + 1) || ' '
          || gen.ten(eth, female, i, salt + 2) $$;

-- 12-digit personal ID: province of birth registration, century+sex, year, serial
CREATE FUNCTION gen.cccd(prov3 text, yr int, female bool, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT prov3 || ((CASE WHEN yr >= 2000 THEN 2 ELSE 0 END) + (CASE WHEN female THEN 1 ELSE 0 END))::text
          || lpad((yr % 100)::text, 2, '0')
          || lpad(abs(hashint8extended(i, salt) % 1000000)::text, 6, '0') $$;

-- province of birth registration of an adult living here
CREATE FUNCTION gen.prov3(i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT gen.pick('{092,092,092,092,093,093,093,094,094,094,094,079,086,089,091,087,001}', i, salt) $$;

CREATE FUNCTION gen.phone(i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT '0' || gen.pick('{90,91,93,94,96,97,98,32,33,34,35,36,37,38,39,70,76,77,78,79,81,82,83,84,85,86,88,89,56,58,59}', i, salt)
          || lpad(abs(hashint8extended(i, salt + 1) % 10000000)::text, 7, '0') $$;

-- "Số 12/5, đường 30/4, Phường Cái Khế, TP Cần Thơ" / "Ấp Mỹ Phước, Xã ..., Huyện ..., Tỉnh ..."
CREATE FUNCTION gen.addr(rural bool, unit text, district text, province text, i bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN rural
       THEN 'Ấp ' || gen.pick('{1,2,3,4,5,6,7,8,Mỹ Phước,Thới Hòa,Tân Lợi,Phú Thạnh,Long Hòa,Nhơn Lộc,Trường Khánh,Thạnh Lợi,Đông Thắng,Hòa An,Vĩnh Mỹ,Xẻo Chanh,Kinh Giữa,Bưng Tiết}', i, salt)
       ELSE 'Số ' || (1 + abs(hashint8extended(i, salt) % 350))
            || CASE WHEN abs(hashint8extended(i, salt + 1) % 4) = 0
                    THEN '/' || (1 + abs(hashint8extended(i, salt + 2) % 40)) ELSE '' END
            || ', đường ' || gen.pick('{30/4,3/2,Nguyễn Văn Cừ,Trần Hưng Đạo,Mậu Thân,Nguyễn Trãi,Hòa Bình,Lê Lợi,Cách Mạng Tháng Tám,Trần Phú,Hùng Vương,Lý Tự Trọng,Nguyễn An Ninh,Võ Văn Kiệt,Quốc lộ 1A,Quốc lộ 91,Quốc lộ 61,Trần Quang Diệu,Nguyễn Việt Hồng,Lê Hồng Phong,Tôn Đức Thắng,Phạm Hùng}', i, salt + 3)
     END || ', ' || unit || coalesce(', ' || district, '') || ', ' || province $$;

-- make a value need escaping in COPY text format: tab, newline or backslash
CREATE FUNCTION gen.awkward(v text, i bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE i % 3
     WHEN 0 THEN regexp_replace(v, ' ', E'\t')
     WHEN 1 THEN v || E'\n(ghi chú: đã đối soát)'
     ELSE 'Hẻm 51\2, ' || v END $$;

-- Civil-register rows: registration date class, date and registering unit.
-- ids 1..6: split wards before the cutover (two each); 7..11: bad codes;
-- 12..: every old code once (pre-cutover), then every new code once
-- (post-cutover), then 3 post-cutover rows with a pre-reform-only code,
-- then 3 rows without a date; the rest is random (15% post-cutover).
CREATE FUNCTION gen.civil_rows(n bigint, salt int)
RETURNS TABLE (i bigint, dated bool, d0 date, code text, uidx int, ukey bigint,
               uname text, udistrict text, uprovince text, prov text, rural bool)
LANGUAGE sql STABLE AS $$
  SELECT b.i, b.cls <> 'null', b.d0,
         gen.bad(CASE WHEN b.cls <> 'new' THEN ou.code
                      WHEN b.i BETWEEN 378 AND 380 THEN oo.code
                      WHEN b.i > 600 AND gen.r(b.i, salt + 4, 1000) = 0 THEN ou.code
                      ELSE nu.code END, b.i, salt + 5, b.i BETWEEN 7 AND 11),
         CASE WHEN b.cls = 'new' THEN 1000 + nu.idx ELSE ou.idx END,
         -- who signs: stable per unit and 6-year term
         (CASE WHEN b.cls = 'new' THEN 1000 + nu.idx ELSE ou.idx END) * 100
           + (extract(year FROM b.d0)::int - 1990) / 6,
         CASE WHEN b.cls = 'new' THEN nu.name ELSE ou.name END,
         CASE WHEN b.cls = 'new' THEN NULL ELSE ou.district END,
         CASE WHEN b.cls = 'new' THEN 'TP Cần Thơ' ELSE ou.province END,
         CASE WHEN b.cls = 'new' THEN nu.prov ELSE ou.prov END,
         CASE WHEN b.cls = 'new' THEN nu.rural ELSE ou.rural END
  FROM (SELECT a.*,
               CASE WHEN a.cls = 'new' THEN gen.day('2025-07-01', '2026-10-31', a.i, salt + 1)
                    ELSE gen.day('1995-01-01', '2025-06-30', a.i, salt + 1) END AS d0
        FROM (SELECT g AS i,
                     CASE WHEN g BETWEEN 381 AND 383 OR (g > 600 AND gen.r(g, salt, 2500) = 0) THEN 'null'
                          WHEN g <= 274 THEN 'old'
                          WHEN g <= 380 THEN 'new'
                          WHEN gen.r(g, salt + 2, 100) < 15 THEN 'new'
                          ELSE 'old' END AS cls
              FROM generate_series(1, n) g) a) b
  JOIN gen.old_unit ou ON ou.idx = CASE WHEN b.i <= 6 THEN (b.i - 1)::int / 2
                                        WHEN b.i BETWEEN 12 AND 274 THEN b.i::int - 12
                                        ELSE gen.r(b.i, salt + 3, 263) END
  JOIN gen.new_unit nu ON nu.idx = CASE WHEN b.i BETWEEN 275 AND 377 THEN b.i::int - 275
                                        ELSE gen.r(b.i, salt + 6, 103) END
  LEFT JOIN gen.old_only oo ON oo.n = b.i - 377
$$;
SQL
}

# ---------------------------------------------------------------------------
land_sql() {
    cat <<'SQL'
-- map sheets: ns-7..ns-5 are extra split-ward sheets numbered 999, ns-4..ns bad codes
INSERT INTO to_ban_do (id, ma_dvhc_xa, so_to, ty_le, dien_tich_ha)
SELECT s, gen.bad(code, s, 11, s > :ns - 5), so_to, ty_le,
       round(ty_le::numeric * ty_le / 40000 * (30 + gen.r(s, 13, 71)) / 100, 2)
FROM (SELECT sh.s, u.code,
             CASE WHEN sh.s BETWEEN :ns - 7 AND :ns - 5 THEN 999 ELSE sh.so_to END AS so_to,
             CASE WHEN u.rural THEN gen.pick('{1000,2000,2000,5000,10000}', sh.s, 12)::int
                  ELSE gen.pick('{500,500,1000,1000,2000}', sh.s, 12)::int END AS ty_le
      FROM gen.sheet sh
      JOIN gen.old_unit u ON u.idx = CASE WHEN sh.s BETWEEN :ns - 7 AND :ns - 5
                                          THEN sh.s - (:ns - 7) ELSE sh.uidx END) x;

-- parcels: 1..6 split wards with so_to 999; 12..277 one per sheet 1..266
-- (every old unit, both halves of each split ward); others on a random sheet
INSERT INTO thua_dat
SELECT i, gen.bad(code, i, 21, i BETWEEN 7 AND 11), so_to,
       1 + gen.r(i, 22, 600),
       dien_tich,
       CASE WHEN gen.r(i, 23, 10) < 8 THEN dien_tich
            WHEN gen.r(i, 23, 10) = 8 THEN greatest(dien_tich - gen.r(i, 24, 150) / 10.0, 10)
       END,
       CASE WHEN i BETWEEN 20 AND 22 OR (i > 600 AND gen.r(i, 25, 5000) = 0)
            THEN gen.awkward(addr, i) ELSE addr END,
       CASE WHEN gen.r(i, 26, 4) = 0 THEN code END,
       CASE WHEN gen.r(i, 26, 4) = 0 THEN 1 + gen.r(i, 27, 45) END,
       CASE WHEN gen.r(i, 26, 4) = 0 THEN 1 + gen.r(i, 28, 800) END,
       CASE WHEN gen.r(i, 29, 100) < 92 THEN 1 WHEN gen.r(i, 29, 100) < 97 THEN 2 ELSE 0 END,
       1 + gen.r(i, 30, 100) / 45,
       CASE WHEN i BETWEEN 30 AND 49 OR (i > 600 AND gen.r(i, 31, 100) = 0) THEN
         (SELECT decode(string_agg(md5(i || '/' || g), '' ORDER BY g), 'hex')
            FROM generate_series(1, 256 + gen.r(i, 32, 513)) g)   -- 4096..12288 bytes
       END
FROM (SELECT i, u.code,
             CASE WHEN i <= 6 THEN 999
                  WHEN u.partial AND i > 600 AND gen.r(i, 33, 20) = 0 THEN 999
                  ELSE sh.so_to END AS so_to,
             CASE WHEN u.rural THEN 150 + gen.r(i, 34, 3000) * (1 + gen.r(i, 35, 6))
                  ELSE 35 + gen.r(i, 34, 320) END + gen.r(i, 36, 10) / 10.0 AS dien_tich,
             gen.addr(u.rural, u.name, u.district, u.province, i, 37) AS addr
      FROM generate_series(1, :size) i
      JOIN gen.sheet sh ON sh.s = CASE WHEN i <= 6 THEN (i - 1) % 3 + 1
                                       WHEN i BETWEEN 12 AND 277 THEN i - 11
                                       ELSE 1 + gen.r(i, 20, :ns - 8) END
      JOIN gen.old_unit u ON u.idx = sh.uidx
      OFFSET 0) x;

-- land use: row i <= 600 belongs to parcel i, others to a random parcel
INSERT INTO muc_dich_su_dung
SELECT i, pid, gen.bad(code, i, 41, false), so_to, lt,
       CASE WHEN gen.r(i, 42, 10) < 6 THEN pdt
            ELSE greatest(round(pdt * (20 + gen.r(i, 43, 80)) / 100, 1), 1.0) END,
       CASE WHEN lt IN ('ODT', 'ONT') THEN NULL
            WHEN lt IN ('TMD', 'SKC') THEN gen.day('2030-01-01', '2074-12-31', i, 44)
            WHEN gen.r(i, 45, 3) = 0 THEN DATE '2043-07-01'
            ELSE gen.day('2026-01-01', '2064-12-31', i, 44) END,
       CASE WHEN i BETWEEN 20 AND 22 OR (i > 600 AND gen.r(i, 46, 5000) = 0)
            THEN gen.awkward(ng, i) ELSE ng END
FROM (SELECT s.i, p.id AS pid, p.ma_dvhc_xa AS code, p.so_to, p.dien_tich AS pdt,
             CASE WHEN coalesce(u.rural, false)
                  THEN gen.pick('{LUC,LUC,LUC,CLN,CLN,NTS,BHK,LNK,ONT,ONT}', s.i, 47)
                  ELSE gen.pick('{ODT,ODT,ODT,ODT,ODT,TMD,SKC,CLN,BHK}', s.i, 47) END AS lt,
             gen.pick(ARRAY['Nhà nước giao đất có thu tiền sử dụng đất',
                            'Nhà nước giao đất không thu tiền sử dụng đất',
                            'Công nhận QSDĐ như giao đất có thu tiền sử dụng đất',
                            'Công nhận QSDĐ như giao đất không thu tiền sử dụng đất',
                            'Nhận chuyển nhượng đất được Công nhận QSDĐ như giao đất có thu tiền sử dụng đất',
                            'Nhà nước cho thuê đất trả tiền hàng năm',
                            'Nhận thừa kế đất được Công nhận QSDĐ như giao đất không thu tiền sử dụng đất',
                            'Được tặng cho đất được Công nhận QSDĐ như giao đất có thu tiền sử dụng đất'], s.i, 48) AS ng
      FROM (SELECT i, CASE WHEN i <= 600 THEN i ELSE 1 + gen.r(i, 40, :size) END AS pid
            FROM generate_series(1, :size) i OFFSET 0) s
      JOIN thua_dat p ON p.id = s.pid
      LEFT JOIN gen.old_unit u ON u.code = p.ma_dvhc_xa
      OFFSET 0) x;

-- land users: individuals, households, couples, organisations
INSERT INTO nguoi_su_dung
SELECT i, pid, gen.bad(x.code, i, 51, false), so_to, loai,
       CASE loai
         WHEN 'CN'  THEN nm
         WHEN 'HGD' THEN CASE WHEN female THEN 'Hộ bà ' ELSE 'Hộ ông ' END || nm
         WHEN 'VC'  THEN nm || ' và ' || gen.name(eth, true, i, 53)
         ELSE gen.pick('{Công ty TNHH,Công ty Cổ phần,Doanh nghiệp tư nhân,Hợp tác xã}', i, 54) || ' '
              || gen.pick('{Thương mại Dịch vụ,Thủy sản,Xây dựng,Nông nghiệp công nghệ cao,Vận tải,Lúa gạo,Đầu tư Phát triển}', i, 55) || ' '
              || gen.pick('{Mekong,Tây Đô,Cửu Long,Hậu Giang,Sóc Trăng,Phương Nam,Ninh Kiều,Hưng Phát,Thành Tín,Sông Hậu}', i, 56)
       END,
       CASE WHEN loai <> 'TC' THEN yr END,
       CASE WHEN loai <> 'TC' AND gen.r(i, 57, 100) >= 4 THEN gen.cccd(gen.prov3(i, 58), yr, female, i, 59) END,
       gen.addr(ru.rural, ru.name, ru.district, ru.province, i, 60),
       CASE WHEN gen.r(i, 61, 10) < 8 THEN gen.phone(i, 62) END
FROM (SELECT s.i, p.id AS pid, p.ma_dvhc_xa AS code, p.so_to, s.loai,
             s.loai <> 'VC' AND gen.r(s.i, 63, 3) = 0 AS female,
             1940 + gen.r(s.i, 64, 66) AS yr,
             gen.eth(coalesce(u.prov, '92'), s.i, 65) AS eth,
             CASE WHEN u.idx IS NOT NULL AND gen.r(s.i, 66, 10) < 7 THEN u.idx
                  ELSE gen.r(s.i, 67, 263) END AS ridx
      FROM (SELECT i, CASE WHEN i <= 600 THEN i ELSE 1 + gen.r(i, 50, :size) END AS pid,
                   CASE WHEN gen.r(i, 68, 100) < 45 THEN 'CN' WHEN gen.r(i, 68, 100) < 80 THEN 'HGD'
                        WHEN gen.r(i, 68, 100) < 95 THEN 'VC' ELSE 'TC' END AS loai
            FROM generate_series(1, :size * 6 / 10) i OFFSET 0) s
      JOIN thua_dat p ON p.id = s.pid
      LEFT JOIN gen.old_unit u ON u.code = p.ma_dvhc_xa
      OFFSET 0) x
CROSS JOIN LATERAL (SELECT gen.name(x.eth, x.female, x.i, 52) AS nm) n
JOIN gen.old_unit ru ON ru.idx = x.ridx;

-- Certificates (era by ngay_cap).  1..277: parcel i, before the cutover;
-- 278..543: parcels 12..277 again, after it (every new code); 544..546:
-- after the cutover with a pre-reform-only code; 547..549: no date.
INSERT INTO giay_chung_nhan
SELECT i, pid, gen.bad(code, i, 71, false), so_to,
       chr(65 + least(3, (yr - 1995) / 8)) || chr(65 + gen.r(i, 72, 26)) || ' '
         || lpad(gen.r(i, 73, 1000000)::text, 6, '0'),
       CASE WHEN yr >= 2020 THEN 'CS ' ELSE 'CH ' END || lpad((1 + gen.r(i, 74, 99999))::text, 5, '0'),
       CASE WHEN cls <> 'null' THEN d0 END,
       CASE WHEN cls = 'new' THEN
              gen.pick(ARRAY['Sở Nông nghiệp và Môi trường TP Cần Thơ',
                             'Văn phòng Đăng ký đất đai TP Cần Thơ',
                             'UBND ' || coalesce(nname, 'TP Cần Thơ')], i, 75)
            WHEN uname IS NULL THEN NULL
            WHEN yr < 2015 THEN 'UBND ' || udistrict
            ELSE 'Sở Tài nguyên và Môi trường ' || uprovince END,
       gen.name('Kinh', gen.r(signer, 76, 5) = 0, signer, 77),
       CASE WHEN gen.r(i, 78, 100) < 90 THEN 1 WHEN gen.r(i, 78, 100) < 93 THEN 2 ELSE 3 END
FROM (SELECT s.i, s.cls, s.d0, p.id AS pid, p.so_to, extract(year FROM s.d0)::int AS yr,
             CASE WHEN s.cls <> 'new' OR u.code IS NULL THEN p.ma_dvhc_xa
                  WHEN s.i BETWEEN 544 AND 546 THEN oo.code
                  WHEN s.i > 600 AND gen.r(s.i, 79, 1000) = 0 THEN p.ma_dvhc_xa   -- stale old code
                  ELSE coalesce(u.new_code, sr.unit, sk.unit) END AS code,
             u.name AS uname, u.district AS udistrict, u.province AS uprovince, nu.name AS nname,
             coalesce(u.idx, 999) * 100 + (extract(year FROM s.d0)::int - 1990) / 6
               + CASE WHEN s.cls = 'new' THEN 50 ELSE 0 END AS signer
      FROM (SELECT a.*, CASE WHEN a.cls = 'new' THEN gen.day('2025-07-01', '2026-10-31', a.i, 81)
                             ELSE gen.day('1995-01-01', '2025-06-30', a.i, 81) END AS d0
            FROM (SELECT i,
                         CASE WHEN i <= 277 THEN i WHEN i <= 543 THEN i - 266
                              ELSE 1 + gen.r(i, 70, :size) END AS pid,
                         CASE WHEN i BETWEEN 547 AND 549 OR (i > 600 AND gen.r(i, 82, 2500) = 0) THEN 'null'
                              WHEN i <= 277 THEN 'old'
                              WHEN i <= 546 THEN 'new'
                              WHEN gen.r(i, 83, 100) < 15 THEN 'new' ELSE 'old' END AS cls
                  FROM generate_series(1, :size / 2) i) a
            OFFSET 0) s
      JOIN thua_dat p ON p.id = s.pid
      LEFT JOIN gen.old_unit u ON u.code = p.ma_dvhc_xa
      LEFT JOIN gen.split_range sr ON sr.code = p.ma_dvhc_xa AND p.so_to BETWEEN sr.lo AND sr.hi
      LEFT JOIN gen.split_kept sk ON sk.code = p.ma_dvhc_xa
      LEFT JOIN gen.new_unit nu ON nu.code = coalesce(u.new_code, sr.unit, sk.unit)
      LEFT JOIN gen.old_only oo ON oo.n = s.i - 543
      OFFSET 0) x;
SQL
}

# ---------------------------------------------------------------------------
civil_sql() {
    cat <<'SQL'
-- births
INSERT INTO khai_sinh
SELECT i, x.code, CASE WHEN dated THEN d0 END,
       (1 + gen.r(i, 101, 400))::text,
       lpad((1 + gen.r(i, 102, 3))::text, 2, '0') || '/' || extract(year FROM d0),
       CASE WHEN has_father THEN ho_cha ELSE ho_me END || ' ' || gen.dem(female, i, 103) || ' '
         || gen.ten(eth, female, i, 104),
       dob, CASE WHEN female THEN 'Nữ' ELSE 'Nam' END, eth, 'Việt Nam',
       CASE WHEN gen.r(i, 105, 5) = 0 THEN 'Trạm Y tế ' || uname
            WHEN x.prov = '93' THEN gen.pick('{Bệnh viện Đa khoa tỉnh Hậu Giang,Bệnh viện Sản - Nhi tỉnh Hậu Giang,Trung tâm Y tế huyện Phụng Hiệp}', i, 106)
            WHEN x.prov = '94' THEN gen.pick('{Bệnh viện Đa khoa tỉnh Sóc Trăng,Bệnh viện Sản - Nhi tỉnh Sóc Trăng,Trung tâm Y tế thị xã Vĩnh Châu}', i, 106)
            ELSE gen.pick('{Bệnh viện Phụ sản TP Cần Thơ,Bệnh viện Đa khoa Trung ương Cần Thơ,Bệnh viện Đa khoa TP Cần Thơ,Bệnh viện Quốc tế Phương Châu,Bệnh viện Nhi đồng TP Cần Thơ}', i, 106) END,
       q.name || ', ' || q.district || ', ' || q.province,
       CASE WHEN gen.r(i, 107, 100) < 92 THEN gen.cccd('0' || x.prov, byr, female, i, 108) END,
       ho_me || ' ' || gen.dem(true, i, 109) || ' ' || gen.ten(eth, true, i, 110),
       byr - 18 - gen.r(i, 111, 22),
       CASE WHEN has_father THEN ho_cha || ' ' || gen.dem(false, i, 112) || ' ' || gen.ten(eth, false, i, 113) END,
       CASE WHEN has_father THEN byr - 20 - gen.r(i, 114, 25) END,
       -- declarant: father, mother or a grandparent
       CASE decl WHEN 'Cha' THEN ho_cha || ' ' || gen.dem(false, i, 112) || ' ' || gen.ten(eth, false, i, 113)
                 WHEN 'Mẹ'  THEN ho_me || ' ' || gen.dem(true, i, 109) || ' ' || gen.ten(eth, true, i, 110)
                 ELSE gen.name(eth, decl = 'Bà ngoại', i, 115) END,
       CASE WHEN gen.r(i, 116, 100) >= 5 THEN
         CASE decl WHEN 'Cha' THEN gen.cccd(gen.prov3(i, 117), byr - 20 - gen.r(i, 114, 25), false, i, 118)
                   WHEN 'Mẹ'  THEN gen.cccd(gen.prov3(i, 117), byr - 18 - gen.r(i, 111, 22), true, i, 118)
                   ELSE gen.cccd(gen.prov3(i, 117), byr - 50 - gen.r(i, 119, 15), decl = 'Bà ngoại', i, 118) END
       END,
       decl,
       gen.name('Kinh', gen.r(ukey, 120, 2) = 0, ukey, 121),
       gen.name('Kinh', gen.r(ukey, 122, 4) = 0, ukey, 123)
FROM (SELECT c.*, extract(year FROM dob)::int AS byr,
             CASE WHEN has_father AND gen.r(c.i, 124, 100) < 60 THEN 'Cha'
                  WHEN gen.r(c.i, 124, 100) < 94 THEN 'Mẹ'
                  WHEN gen.r(c.i, 125, 2) = 0 THEN 'Ông nội' ELSE 'Bà ngoại' END AS decl
      FROM (SELECT r.*, gen.r(r.i, 126, 2) = 1 AS female,
                   gen.eth(r.prov, r.i, 127) AS eth,
                   gen.r(r.i, 128, 100) >= 6 AS has_father,
                   gen.ho(gen.eth(r.prov, r.i, 127), r.i, 129) AS ho_cha,
                   gen.ho(gen.eth(r.prov, r.i, 127), r.i, 130) AS ho_me,
                   r.d0 - CASE WHEN gen.r(r.i, 131, 100) < 95 THEN gen.r(r.i, 132, 60)
                               ELSE gen.r(r.i, 132, 6000) END AS dob
            FROM gen.civil_rows(:size * 3 / 10, 140) r OFFSET 0) c
      OFFSET 0) x
JOIN gen.old_unit q ON q.idx = gen.r(x.i, 133, 263);

-- marriages
INSERT INTO ket_hon
SELECT i, code, CASE WHEN dated THEN d0 END,
       (1 + gen.r(i, 201, 150))::text,
       lpad((1 + gen.r(i, 202, 2))::text, 2, '0') || '/' || extract(year FROM d0),
       gen.name(eth_c, false, i, 203), dob_c, eth_c,
       CASE WHEN gen.r(i, 204, 100) >= 5 THEN gen.cccd(gen.prov3(i, 205), extract(year FROM dob_c)::int, false, i, 206) END,
       gen.name(eth_v, true, i, 207), dob_v, eth_v,
       CASE WHEN gen.r(i, 208, 100) >= 5 THEN gen.cccd(gen.prov3(i, 209), extract(year FROM dob_v)::int, true, i, 210) END,
       gen.addr(rural, uname, udistrict, uprovince, i, 211),
       gen.name('Kinh', gen.r(ukey, 120, 2) = 0, ukey, 121),
       gen.name('Kinh', gen.r(ukey, 122, 4) = 0, ukey, 123)
FROM (SELECT r.*, gen.eth(r.prov, r.i, 212) AS eth_c,
             CASE WHEN gen.r(r.i, 213, 10) = 0 THEN gen.eth(r.prov, r.i, 214) ELSE gen.eth(r.prov, r.i, 212) END AS eth_v,
             r.d0 - 365 * 20 - gen.r(r.i, 215, 365 * 20) AS dob_c,
             r.d0 - 365 * 18 - gen.r(r.i, 216, 365 * 17) AS dob_v
      FROM gen.civil_rows(:size / 10, 240) r OFFSET 0) x;

-- deaths
INSERT INTO khai_tu
SELECT i, code, CASE WHEN dated THEN d0 END,
       (1 + gen.r(i, 301, 200))::text,
       lpad((1 + gen.r(i, 302, 2))::text, 2, '0') || '/' || extract(year FROM d0),
       gen.name(eth, female, i, 303), dob, CASE WHEN female THEN 'Nữ' ELSE 'Nam' END,
       CASE WHEN gen.r(i, 304, 100) < 85 THEN gen.cccd(gen.prov3(i, 305), extract(year FROM dob)::int, female, i, 306) END,
       dod,
       CASE WHEN gen.r(i, 307, 10) < 6 THEN 'Tại nhà, ' || gen.addr(rural, uname, udistrict, uprovince, i, 308)
            ELSE gen.pick('{Bệnh viện Đa khoa Trung ương Cần Thơ,Bệnh viện Đa khoa TP Cần Thơ,Bệnh viện Ung bướu TP Cần Thơ,Bệnh viện Đa khoa tỉnh Hậu Giang,Bệnh viện Đa khoa tỉnh Sóc Trăng}', i, 309) END,
       CASE WHEN extract(year FROM age(dod, dob)) >= 75 AND gen.r(i, 310, 2) = 0 THEN 'Bệnh già'
            ELSE gen.pick('{Bệnh tim mạch,Ung thư,Đột quỵ,Tai nạn giao thông,Bệnh phổi,Suy thận,Đuối nước,Bệnh}', i, 311) END,
       gen.name(eth, decl_female, i, 312),
       CASE WHEN gen.r(i, 313, 100) >= 5 THEN
         gen.cccd(gen.prov3(i, 314), least(extract(year FROM d0)::int - 18,
                  CASE WHEN rel IN ('Vợ', 'Chồng') THEN extract(year FROM dob)::int + gen.r(i, 315, 9) - 4
                       ELSE extract(year FROM dob)::int + 20 + gen.r(i, 315, 20) END),
                  decl_female, i, 316) END,
       rel,
       gen.name('Kinh', gen.r(ukey, 120, 2) = 0, ukey, 121),
       gen.name('Kinh', gen.r(ukey, 122, 4) = 0, ukey, 123)
FROM (SELECT y.*, CASE WHEN rel = 'Vợ' THEN true WHEN rel = 'Chồng' THEN false
                       ELSE gen.r(y.i, 317, 2) = 0 END AS decl_female
      FROM (SELECT r.*, gen.r(r.i, 318, 2) = 0 AS female, gen.eth(r.prov, r.i, 319) AS eth,
                   r.d0 - gen.r(r.i, 320, 20) AS dod,
                   greatest(DATE '1900-01-01',
                            r.d0 - (CASE WHEN gen.r(r.i, 321, 100) < 85 THEN 50 * 365 + gen.r(r.i, 322, 49 * 365)
                                         ELSE gen.r(r.i, 322, 50 * 365) END)) AS dob,
                   CASE gen.r(r.i, 323, 6) WHEN 0 THEN CASE WHEN gen.r(r.i, 318, 2) = 0 THEN 'Chồng' ELSE 'Vợ' END
                                           WHEN 1 THEN 'Cháu' ELSE 'Con' END AS rel
            FROM gen.civil_rows(:size / 10, 340) r OFFSET 0) y
      OFFSET 0) x;
SQL
}

counts_sql() {  # $@ = table names
    local t
    printf "SELECT concat_ws(' '"
    for t in "$@"; do printf ", '%s=' || (SELECT count(*) FROM %s)" "$t" "$t"; done
    echo ");"
}

# ---------------------------------------------------------------------------
PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1 -v "size=$SIZE" -v "routing=$(cat "$ROUTING")")
LAND_TABLES=(to_ban_do thua_dat muc_dich_su_dung nguoi_su_dung giay_chung_nhan)
CIVIL_TABLES=(khai_sinh ket_hon khai_tu)
epilogue() {
    echo "ANALYZE $(IFS=,; echo "$*");"
    [[ ${GEN_KEEP:-0} = 1 ]] || echo "DROP SCHEMA gen CASCADE;"
    counts_sql "$@"
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# The two databases are independent: generate them concurrently.
{ prelude
  echo "DROP TABLE IF EXISTS $(IFS=,; echo "${LAND_TABLES[*]}") CASCADE;"
  cat "$HERE/city/land.sql"; land_sql; epilogue "${LAND_TABLES[@]}"
} | "${PSQL[@]}" "$LAND" >"$tmp/land" 2>"$tmp/land.err" &
land_pid=$!
{ prelude
  echo "DROP TABLE IF EXISTS $(IFS=,; echo "${CIVIL_TABLES[*]}") CASCADE;"
  cat "$HERE/city/civil.sql"; civil_sql; epilogue "${CIVIL_TABLES[@]}"
} | "${PSQL[@]}" "$CIVIL" >"$tmp/civil" 2>"$tmp/civil.err" &
civil_pid=$!
rc=0
wait $land_pid  || { rc=1; echo "$0: land generation failed:"  >&2; cat "$tmp/land.err"  >&2; }
wait $civil_pid || { rc=1; echo "$0: civil generation failed:" >&2; cat "$tmp/civil.err" >&2; }
(( rc == 0 )) || exit 1
echo "size=$SIZE $(tail -n1 "$tmp/land") $(tail -n1 "$tmp/civil") seconds=$((SECONDS - start))"
