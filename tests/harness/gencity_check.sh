#!/usr/bin/env bash
# gencity_check.sh [SIZE]   (default SIZE 15000; run as root or as postgres)
#
# Dev self-test of gencity.sh and oracle.sh on a throwaway PostgreSQL cluster
# (PG_BIN, default /usr/lib/postgresql/15/bin) under /tmp, stopped and removed
# on exit:
#   * generates land + civil with gencity.sh, checks the data rules (unit
#     coverage, bad codes, split wards, overrides, TOAST, IDs, escaping, UTF-8)
#     and that a second run produces identical data;
#   * cross-checks the oracle against a second, deliberately different
#     implementation of the routing (row-by-row PL/pgSQL) that fills a fake
#     tier (schemas u<code>): actual-tier must equal expect-*, and the
#     quarantine lists must agree.
set -euo pipefail

SIZE=${1:-15000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

DIR=$(mktemp -d /tmp/gencity-check.XXXXXX)
chmod 755 "$DIR"
[[ $(id -u) -ne 0 ]] || chown postgres "$DIR"
cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

PORT=55432
while (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || [[ -e /tmp/.s.PGSQL.$PORT || -e $DIR/.s.PGSQL.$PORT ]]; do
    PORT=$((PORT + 1))
done
as_pg "$PG_BIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 -A trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses='' -c fsync=off -c wal_level=logical" start >/dev/null

BASE="host=$DIR port=$PORT user=postgres"
LAND="$BASE dbname=land" CIVIL="$BASE dbname=civil"
psql -X -q "$BASE dbname=postgres" -c "CREATE DATABASE land" -c "CREATE DATABASE civil"
Q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
elapsed() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() {  # check NAME CONNINFO SQL-returning-boolean
    local got
    got=$(Q "$2" -c "$3") || got=error
    if [[ $got = t ]]; then pass "$1"; else fail "$1 ($got)"; fi
}

echo "== gencity.sh SIZE=$SIZE"
t0=$(date +%s%N)
"$HERE/gencity.sh" "$LAND" "$CIVIL" "$SIZE"
printf 'generation took %s s\n' "$(elapsed "$t0")"

echo "== oracle expect modes"
for m in expect-land expect-civil expect-quarantine-land expect-quarantine-civil; do
    conn=$LAND; [[ $m = *civil ]] && conn=$CIVIL
    t0=$(date +%s%N)
    "$HERE/oracle.sh" "$m" "$conn" >"$DIR/$m"
    printf '%-24s %6d lines  %s s\n' "$m" "$(wc -l <"$DIR/$m")" "$(elapsed "$t0")"
done

echo "== data checks"
for t in to_ban_do thua_dat muc_dich_su_dung nguoi_su_dung giay_chung_nhan khai_sinh ket_hon khai_tu; do
    n=$(awk -F'\t' -v t="public.$t" '$1 == t' "$DIR/expect-land" "$DIR/expect-civil" | wc -l)
    if [[ $n -eq 103 ]]; then pass "$t: all 103 new units receive rows"; else fail "$t: $n new units receive rows"; fi
done
reasons=$(cut -f3 "$DIR/expect-quarantine-land" "$DIR/expect-quarantine-civil" | sort -u | tr '\n' ' ')
if [[ $reasons = "date_null split_unresolved unit_malformed unit_null unit_unknown_new unit_unknown_old " ]]; then
    pass "all 6 quarantine reasons: $reasons"
else
    fail "quarantine reasons: $reasons"
fi

mapping=$ROOT/policies/units/cantho_old_to_new_mapping.csv
old_codes=$(tail -n +2 "$mapping" | cut -d, -f1 | sort -u | paste -sd, -)
for t in to_ban_do thua_dat muc_dich_su_dung nguoi_su_dung; do
    check "$t: all 263 old codes" "$LAND" \
        "SELECT count(DISTINCT ma_dvhc_xa) = 263 FROM $t WHERE ma_dvhc_xa = ANY (string_to_array('$old_codes', ','))"
done
check "giay_chung_nhan: all 263 old codes before the cutover" "$LAND" \
    "SELECT count(DISTINCT ma_dvhc_xa) = 263 FROM giay_chung_nhan WHERE ngay_cap < '2025-07-01' AND ma_dvhc_xa = ANY (string_to_array('$old_codes', ','))"
for t in khai_sinh ket_hon khai_tu; do
    check "$t: all 263 old codes before the cutover" "$CIVIL" \
        "SELECT count(DISTINCT ma_dvhc_dang_ky) = 263 FROM $t WHERE ngay_dang_ky < '2025-07-01' AND ma_dvhc_dang_ky = ANY (string_to_array('$old_codes', ','))"
    check "$t: civil rows in split wards before the cutover" "$CIVIL" \
        "SELECT count(DISTINCT ma_dvhc_dang_ky) = 3 FROM $t WHERE ngay_dang_ky < '2025-07-01' AND ma_dvhc_dang_ky IN ('31178','31183','31207')"
    check "$t: dates span 1995 .. 2026-10" "$CIVIL" \
        "SELECT min(ngay_dang_ky) < '1996-01-01' AND max(ngay_dang_ky) BETWEEN '2026-10-01' AND '2026-10-31' FROM $t"
done
for t in to_ban_do thua_dat muc_dich_su_dung nguoi_su_dung giay_chung_nhan; do
    check "$t: >= 3 bad codes, each kind" "$LAND" \
        "SELECT count(*) FILTER (WHERE ma_dvhc_xa IS NULL) > 0 AND count(*) FILTER (WHERE ma_dvhc_xa = '') > 0
            AND count(*) FILTER (WHERE ma_dvhc_xa IN ('9999', 'AB123')) > 0 AND count(*) FILTER (WHERE ma_dvhc_xa = '99999') > 0 FROM $t"
done
check "split wards: so_to in both halves and outside every range" "$LAND" \
    "SELECT bool_and(lo_half AND hi_half AND outside) FROM (
       SELECT ma_dvhc_xa, bool_or(so_to BETWEEN 1 AND 30) AS lo_half,
              bool_or(so_to BETWEEN CASE ma_dvhc_xa WHEN '31207' THEN 41 ELSE 31 END
                                AND CASE ma_dvhc_xa WHEN '31207' THEN 80 ELSE 60 END) AS hi_half,
              bool_or(so_to = 999) AS outside
       FROM thua_dat WHERE ma_dvhc_xa IN ('31178', '31183', '31207') GROUP BY 1 HAVING count(*) > 0) s
     HAVING count(*) = 3"
check "fixed split rows: thua_dat 1..6, muc_dich 1, nguoi 1" "$LAND" \
    "SELECT (SELECT array_agg(ma_dvhc_xa || ':' || so_to ORDER BY id) FROM thua_dat WHERE id <= 6)
              = '{31178:999,31183:999,31207:999,31178:999,31183:999,31207:999}'
        AND (SELECT ma_dvhc_xa || ':' || so_to FROM muc_dich_su_dung WHERE id = 1) = '31178:999'
        AND (SELECT ma_dvhc_xa || ':' || so_to FROM nguoi_su_dung WHERE id = 1) = '31178:999'"
q=$(grep -E '^public\.(thua_dat|muc_dich_su_dung|nguoi_su_dung)	[1-6]	' "$DIR/expect-quarantine-land" \
    | grep -vE '^public\.(muc_dich_su_dung|nguoi_su_dung)	[2-6]	' | cut -f1,2 | tr '\t\n' ': ')
if [[ $q = "public.thua_dat:4 public.thua_dat:5 public.thua_dat:6 " ]]; then
    pass "overrides resolve thua_dat 1-3, muc_dich 1, nguoi 1; thua_dat 4-6 unresolved"
else
    fail "override rows in quarantine: $q"
fi
check "by-date: post-cutover rows with a pre-reform-only code (31117 ...)" "$LAND" \
    "SELECT count(*) >= 1 FROM giay_chung_nhan WHERE ngay_cap >= '2025-07-01' AND ma_dvhc_xa = '31117'"
for t in giay_chung_nhan khai_sinh ket_hon khai_tu; do
    n=$(grep -c "^public\.$t	.*	unit_unknown_new\$" "$DIR/expect-quarantine-land" "$DIR/expect-quarantine-civil" | awk -F: '{s += $2} END {print s}')
    if (( n >= 3 )); then pass "$t: $n rows unknown in the new era"; else fail "$t: $n rows unknown in the new era"; fi
done
check "by-date: NULL dates" "$LAND" "SELECT count(*) >= 3 FROM giay_chung_nhan WHERE ngay_cap IS NULL"
check "ban_quet: >= 20 scans of 4096..12288 bytes, stored uncompressed" "$LAND" \
    "SELECT count(*) >= greatest(20, $SIZE / 200) AND bool_and(octet_length(ban_quet) BETWEEN 4096 AND 12288)
            AND bool_and(pg_column_size(ban_quet) >= octet_length(ban_quet)) FROM thua_dat WHERE ban_quet IS NOT NULL"
check "ban_quet: TOAST table not empty" "$LAND" \
    "SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE oid = 'thua_dat'::regclass"
check "COPY escaping: tab, newline, backslash in dia_chi and nguon_goc" "$LAND" \
    "SELECT bool_and(n > 0) FROM (SELECT count(*) FILTER (WHERE dia_chi LIKE '%'||chr(9)||'%') AS n FROM thua_dat
       UNION ALL SELECT count(*) FILTER (WHERE dia_chi LIKE '%'||chr(10)||'%') FROM thua_dat
       UNION ALL SELECT count(*) FILTER (WHERE strpos(dia_chi, chr(92)) > 0) FROM thua_dat
       UNION ALL SELECT count(*) FILTER (WHERE nguon_goc LIKE '%'||chr(9)||'%') FROM muc_dich_su_dung
       UNION ALL SELECT count(*) FILTER (WHERE nguon_goc LIKE '%'||chr(10)||'%') FROM muc_dich_su_dung
       UNION ALL SELECT count(*) FILTER (WHERE strpos(nguon_goc, chr(92)) > 0) FROM muc_dich_su_dung) s"
check "UTF-8 Vietnamese names" "$CIVIL" \
    "SELECT current_setting('server_encoding') = 'UTF8'
        AND count(*) FILTER (WHERE ho_ten ~ '^(Nguyễn|Trần|Lê|Phạm|Huỳnh|Hoàng|Võ|Đặng|Bùi|Đỗ|Hồ|Ngô|Dương|Lý|Thạch|Sơn|Lâm|Quách) ') > count(*) * 0.6
        AND count(DISTINCT dan_toc) = 3 AND bool_and(quoc_tich = 'Việt Nam') FROM khai_sinh"
check "personal IDs: 12 digits, century/sex/year consistent" "$CIVIL" \
    "SELECT bool_and(so_dinh_danh ~ '^0[0-9]{2}[0-3][0-9]{8}$'
                     AND substr(so_dinh_danh, 4, 1)::int = (CASE WHEN ngay_sinh >= '2000-01-01' THEN 2 ELSE 0 END) + (CASE gioi_tinh WHEN 'Nữ' THEN 1 ELSE 0 END)
                     AND substr(so_dinh_danh, 5, 2) = to_char(ngay_sinh, 'YY'))
     FROM (SELECT so_dinh_danh, ngay_sinh, gioi_tinh FROM khai_sinh UNION ALL SELECT so_dinh_danh, ngay_sinh, gioi_tinh FROM khai_tu) s
     WHERE so_dinh_danh IS NOT NULL"
check "land users: IDs match birth year, phones 10 digits" "$LAND" \
    "SELECT bool_and(so_dinh_danh IS NULL OR (substr(so_dinh_danh, 5, 2)::int = nam_sinh % 100
                     AND substr(so_dinh_danh, 4, 1)::int / 2 = (nam_sinh >= 2000)::int))
        AND bool_and(so_dien_thoai IS NULL OR so_dien_thoai ~ '^0[0-9]{9}$') FROM nguoi_su_dung"
check "certificates: serial and register formats, land-type codes" "$LAND" \
    "SELECT (SELECT bool_and(so_phat_hanh ~ '^[A-Z]{2} [0-9]{6}$' AND so_vao_so ~ '^C[HS] [0-9]{5}$') FROM giay_chung_nhan)
        AND (SELECT array_agg(DISTINCT ma_loai_dat ORDER BY ma_loai_dat) FROM muc_dich_su_dung) = '{BHK,CLN,LNK,LUC,NTS,ODT,ONT,SKC,TMD}'
        AND (SELECT bool_and(thoi_han IS NULL) FROM muc_dich_su_dung WHERE ma_loai_dat IN ('ODT', 'ONT'))"
check "replica identity full, only primary-key indexes" "$LAND" \
    "SELECT bool_and(relreplident = 'f') AND bool_and((SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid AND NOT i.indisprimary) = 0)
     FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
check "helper schema gen dropped" "$LAND" "SELECT to_regnamespace('gen') IS NULL"

echo "== cross-check the oracle against a row-by-row router + fake tier"
# Second implementation: per-row PL/pgSQL, CSVs read by string splitting,
# masking by regular expression.  Writes the routed rows into u<code>.<table>.
build_tier() {  # $1 = conninfo, $2 = source
    Q "$1" -F $'\t' -v "routing=$(cat "$ROOT/policies/routing.json")" -v "source=$2" \
      -v "new_csv=$(cat "$ROOT/policies/units/cantho_new_units.csv")" \
      -v "map_csv=$(cat "$ROOT/policies/units/cantho_old_to_new_mapping.csv")" \
      -v "ovr_csv=$(cat "$ROOT/policies/units/split_overrides.csv")" <<'SQL'
SET client_min_messages = warning;
SET x.source = :'source';
-- CSV lines split by hand into jsonb lookup objects (code -> ...)
CREATE TEMP TABLE x_cfg AS
SELECT :'routing'::jsonb AS r,
       (SELECT jsonb_object_agg(split_part(l, ',', 1), true)
          FROM unnest(string_to_array(:'new_csv', E'\n')) l WHERE l <> '') AS n,
       (SELECT jsonb_object_agg(split_part(l, ',', 1), jsonb_build_object('t', split_part(l, ',', 6), 'n', split_part(l, ',', 4)))
          FROM unnest(string_to_array(:'map_csv', E'\n')) l WHERE l <> '') AS m,
       (SELECT jsonb_object_agg(split_part(l, ',', 1) || '|' || split_part(l, ',', 2), split_part(l, ',', 3))
          FROM unnest(string_to_array(:'ovr_csv', E'\n')) l WHERE l <> '') AS o;

CREATE FUNCTION pg_temp.x_route(tbl text, key text, v text, d date, s bigint, era jsonb, split jsonb)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    cfg x_cfg; old_era boolean; kind text; hit text; rng jsonb;
BEGIN
    SELECT * INTO cfg FROM x_cfg;
    IF v IS NULL OR length(v) = 0 THEN RETURN 'Q:unit_null'; END IF;
    IF length(v) <> 5 OR translate(v, '0123456789', '') <> '' THEN RETURN 'Q:unit_malformed'; END IF;
    IF jsonb_typeof(era) = 'object' THEN
        IF d IS NULL THEN RETURN 'Q:date_null'; END IF;
        old_era := d < (cfg.r->'units'->>'cutover')::date;
    ELSE
        old_era := (era #>> '{}') = 'old';
    END IF;
    IF NOT old_era THEN
        IF cfg.n ? v THEN RETURN 'U:' || v; END IF;
        RETURN 'Q:unit_unknown_new';
    END IF;
    kind := cfg.m->v->>'t';
    IF kind IS NULL THEN RETURN 'Q:unit_unknown_old'; END IF;
    IF kind = 'full' THEN RETURN 'U:' || (cfg.m->v->>'n'); END IF;
    hit := cfg.o->>(tbl || '|' || key);
    IF hit IS NOT NULL THEN RETURN 'U:' || hit; END IF;
    IF split ? 'column' AND s IS NOT NULL THEN
        FOR rng IN SELECT * FROM jsonb_array_elements(cfg.r->'split_rules'->v->'ranges') LOOP
            IF s >= (rng->>'from')::bigint AND s <= (rng->>'to')::bigint THEN RETURN 'U:' || (rng->>'unit'); END IF;
        END LOOP;
    END IF;
    hit := cfg.r->'split_rules'->v->>'registers_kept_by';
    IF coalesce((split->>'registers')::boolean, false) AND hit IS NOT NULL THEN RETURN 'U:' || hit; END IF;
    RETURN 'Q:split_unresolved';
END $$;

CREATE TEMP TABLE x_quar (tbl text, key text, reason text);

DO $$
DECLARE t jsonb; rel text; sel text; u text;
BEGIN
    FOR t IN SELECT value FROM x_cfg, jsonb_array_elements(r->'tables') WHERE value->>'source' = current_setting('x.source') LOOP
        rel := split_part(t->>'table', '.', 2);
        EXECUTE format('CREATE TEMP TABLE x_r AS SELECT s.*, pg_temp.x_route(%L, id::text, (%I)::text, %s, %s, %L, %L) AS x_unit FROM public.%I s',
                       t->>'table', t->>'unit_column',
                       CASE WHEN t->'era' ? 'by_date' THEN quote_ident(t->'era'->>'by_date') || '::date' ELSE 'NULL::date' END,
                       CASE WHEN t->'split' ? 'column' THEN quote_ident(t->'split'->>'column') || '::bigint' ELSE 'NULL::bigint' END,
                       t->'era', coalesce(t->'split', '{}'), rel);
        SELECT string_agg(CASE WHEN t->'mask' ? attname
                               THEN format('CASE WHEN length(%1$I) <= 4 THEN regexp_replace(%1$I, ''.'', ''*'', ''g'') ELSE regexp_replace(%1$I, ''.(?=.{4})'', ''*'', ''g'') END', attname)
                               ELSE quote_ident(attname) END, ', ' ORDER BY attnum)
          INTO sel FROM pg_attribute WHERE attrelid = ('public.' || rel)::regclass AND attnum > 0 AND NOT attisdropped;
        FOR u IN SELECT DISTINCT substr(x_unit, 3) FROM x_r WHERE x_unit LIKE 'U:%' LOOP
            EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', 'u' || u);
            EXECUTE format('CREATE TABLE %I.%I (LIKE public.%I)', 'u' || u, rel, rel);
            EXECUTE format('INSERT INTO %I.%I SELECT %s FROM x_r WHERE x_unit = %L', 'u' || u, rel, sel, 'U:' || u);
        END LOOP;
        INSERT INTO x_quar SELECT t->>'table', x.id::text, substr(x.x_unit, 3) FROM x_r x WHERE x.x_unit LIKE 'Q:%';
        DROP TABLE x_r;
    END LOOP;
END $$;
SELECT tbl, key, reason FROM x_quar ORDER BY 1, 2;
SQL
}
for src in land civil; do
    conn=$LAND; [[ $src = civil ]] && conn=$CIVIL
    t0=$(date +%s%N)
    build_tier "$conn" "$src" | LC_ALL=C sort >"$DIR/x-quar-$src"
    printf 'row-by-row router (%s) took %s s\n' "$src" "$(elapsed "$t0")"
    "$HERE/oracle.sh" actual-tier "$conn" "$src" >"$DIR/actual-$src"
    if diff -q "$DIR/expect-$src" "$DIR/actual-$src" >/dev/null; then
        pass "$src: actual-tier == expect-$src ($(wc -l <"$DIR/actual-$src") unit/table lines)"
    else
        fail "$src: actual-tier differs from expect-$src"; diff "$DIR/expect-$src" "$DIR/actual-$src" | head
    fi
    if LC_ALL=C sort "$DIR/expect-quarantine-$src" | diff -q - "$DIR/x-quar-$src" >/dev/null; then
        pass "$src: quarantine lists agree ($(wc -l <"$DIR/x-quar-$src") rows)"
    else
        fail "$src: quarantine lists differ"; LC_ALL=C sort "$DIR/expect-quarantine-$src" | diff - "$DIR/x-quar-$src" | head
    fi
done
if [[ $(LC_ALL=C sort "$DIR/expect-land") = "$(cat "$DIR/expect-land")" ]]; then
    pass "output is sorted (LC_ALL=C)"
else
    fail "output not sorted"
fi

echo "== determinism: regenerate and compare"
for conn in "$LAND" "$CIVIL"; do
    PGOPTIONS='-c client_min_messages=warning' Q "$conn" -c "DO \$\$ DECLARE s text; BEGIN
        FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}\$' LOOP
            EXECUTE format('DROP SCHEMA %I CASCADE', s);
        END LOOP; END \$\$"
done
"$HERE/gencity.sh" "$LAND" "$CIVIL" "$SIZE" >/dev/null
if "$HERE/oracle.sh" expect-land "$LAND" | cmp -s - "$DIR/expect-land" \
   && "$HERE/oracle.sh" expect-civil "$CIVIL" | cmp -s - "$DIR/expect-civil"; then
    pass "same SIZE, same data"
else
    fail "regenerated data differs"
fi

echo "== $fails failure(s)"
(( fails == 0 ))
