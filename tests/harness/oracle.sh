#!/usr/bin/env bash
# oracle.sh — independent oracle for the routing tests.  Pure SQL + psql; it
# shares no code with syncd and re-implements the routing rules from
# policies/routing.json and the unit CSVs.
#
# usage:
#   oracle.sh expect-land            SOURCE_CONNINFO
#   oracle.sh expect-civil           SOURCE_CONNINFO
#       -> table<TAB>unit<TAB>count<TAB>checksum   one line per (table, unit)
#          with at least one routed row, for every routed table of the source
#   oracle.sh expect-quarantine-land  SOURCE_CONNINFO
#   oracle.sh expect-quarantine-civil SOURCE_CONNINFO
#       -> table<TAB>key<TAB>reason   one line per row that cannot be routed
#   oracle.sh actual-tier TIER_CONNINFO SOURCE        (SOURCE = land | civil)
#       -> table<TAB>unit<TAB>count<TAB>checksum   computed from the tier
#          database: schema u<code> holds the tables of unit <code> under
#          their bare names; (unit, table) pairs with no rows are omitted
#
# "table" is the name exactly as written in routing.json ("public.thua_dat"),
# "unit" the 5-digit code, "key" the primary key as text (several key
# columns: joined with ',').  Output is sorted bytewise (LC_ALL=C sort).
# checksum = sum(('x'||substr(md5(ROW(columns in table order)::text),1,15))
#                ::bit(60)::bigint)   — order-independent; on the expect side
# masked columns are masked before hashing (last4: all but the last 4
# characters become '*').  Text rendering is pinned (DateStyle ISO, bytea
# hex, ...) so both sides hash the same strings whatever the server defaults.
#
# Environment: ROUTING=path/to/routing.json (default: policies/routing.json
# of this repository); the CSVs it names are read relative to its directory.
#
# Routing rules implemented (per row, first failing step wins):
#   1. unit value v NULL or ''                 -> quarantine unit_null
#      v not exactly 5 ASCII digits            -> unit_malformed
#   2. era: "old" | "new" | {"by_date": col}; by_date: date NULL -> date_null,
#      date < units.cutover -> old, else new
#   3. new era: v in the new-unit list -> v, else unit_unknown_new
#   4. old era: v not an old code -> unit_unknown_old; merge_type full ->
#      its new code; partial (split ward): (a) split_overrides.csv entry for
#      (schema.table, key) (b) split.column value inside a range of
#      split_rules[v] (c) split.registers -> registers_kept_by
#      otherwise split_unresolved
set -euo pipefail

usage() {
    cat >&2 <<EOF
usage: $0 expect-land|expect-civil SOURCE_CONNINFO
       $0 expect-quarantine-land|expect-quarantine-civil SOURCE_CONNINFO
       $0 actual-tier TIER_CONNINFO land|civil
EOF
    exit 2
}
[[ $# -ge 2 ]] || usage
MODE=$1 CONN=$2
case $MODE in
    expect-land|expect-civil)                       KIND=expect; SOURCE=${MODE#expect-} ;;
    expect-quarantine-land|expect-quarantine-civil) KIND=quarantine; SOURCE=${MODE#expect-quarantine-} ;;
    actual-tier) [[ $# -eq 3 ]] || usage;           KIND=tier; SOURCE=$3 ;;
    *) usage ;;
esac
[[ $KIND = tier || $# -eq 2 ]] || usage

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUTING=${ROUTING:-$HERE/../../policies/routing.json}
[[ -r $ROUTING ]] || { echo "$0: cannot read $ROUTING" >&2; exit 1; }
POLDIR=$(cd "$(dirname "$ROUTING")" && pwd)
ROUTING_JSON=$(cat "$ROUTING")

PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1 -F $'\t' -v "routing=$ROUTING_JSON" -v "source=$SOURCE")
sqlstr() { printf "'%s'" "${1//\'/\'\'}"; }
policy_file() {  # resolve a units.* path of routing.json
    local p
    p=$(echo "SELECT :'routing'::jsonb #>> '{units,$1}';" | "${PSQL[@]}" "$CONN") || exit 1
    [[ -n $p ]] || { echo "$0: routing.json has no units.$1" >&2; exit 1; }
    [[ $p = /* ]] || p=$POLDIR/$p
    [[ -r $p ]] || { echo "$0: cannot read $p" >&2; exit 1; }
    printf '%s' "$p"
}

# Session setup shared by all modes: pinned text rendering, routed tables.
common_sql() {
    cat <<'SQL'
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET bytea_output = 'hex';
SET extra_float_digits = 1;
SET timezone = 'UTC';

CREATE TEMP TABLE o_tables AS
SELECT t.ord, t.v->>'source' AS source, t.v->>'table' AS tbl,
       CASE WHEN cardinality(p.id) > 1 THEN p.id[1] ELSE 'public' END AS sch,
       p.id[cardinality(p.id)] AS rel,
       t.v->>'unit_column' AS unit_col,
       CASE jsonb_typeof(t.v->'era') WHEN 'string' THEN t.v->>'era' ELSE 'by_date' END AS era,
       t.v->'era'->>'by_date' AS date_col,
       t.v->'split'->>'column' AS split_col,
       coalesce((t.v->'split'->>'registers')::boolean, false) AS split_reg,
       coalesce(t.v->'columns', '["*"]') AS cols,
       coalesce(t.v->'mask', '{}') AS mask
FROM jsonb_array_elements(:'routing'::jsonb->'tables') WITH ORDINALITY t(v, ord),
     LATERAL (SELECT parse_ident(t.v->>'table') AS id) p
WHERE t.v->>'source' = :'source';

-- refuse what this oracle does not understand rather than guess
DO $$
DECLARE r record;
BEGIN
    IF NOT EXISTS (SELECT FROM o_tables) THEN
        RAISE EXCEPTION 'routing.json has no table for this source';
    END IF;
    FOR r IN SELECT * FROM o_tables LOOP
        IF r.era NOT IN ('old', 'new', 'by_date') OR (r.era = 'by_date' AND r.date_col IS NULL) THEN
            RAISE EXCEPTION '%: unsupported era', r.tbl;
        END IF;
        IF EXISTS (SELECT FROM jsonb_each_text(r.mask) WHERE value <> 'last4') THEN
            RAISE EXCEPTION '%: unsupported mask %', r.tbl, r.mask;
        END IF;
    END LOOP;
END $$;

CREATE TEMP TABLE o_out (tbl text, unit text, n bigint, cs numeric);
SQL
}

# o_hash(rel, cols, mask) returns the SQL text of the row-hash expression
# over rel's columns (all, or those listed in cols) in table order, with the
# masked columns replaced by their masked value.
hash_fn_sql() {
    cat <<'SQL'
CREATE FUNCTION pg_temp.o_hash(rel regclass, cols jsonb, mask jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
SELECT format('(''x'' || substr(md5(ROW(%s)::text), 1, 15))::bit(60)::bigint',
              string_agg(CASE WHEN mask ? a.attname
                              THEN format('CASE WHEN char_length(%1$I::text) > 4 '
                                          'THEN repeat(''*'', char_length(%1$I::text) - 4) || right(%1$I::text, 4) '
                                          'ELSE repeat(''*'', char_length(%1$I::text)) END', a.attname)
                              ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum))
FROM pg_attribute a
WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
  AND (cols = '["*"]' OR cols ? a.attname)
$$;
SQL
}

expect_sql() {  # $1 = expect | quarantine
    # psql does not expand variables in \copy: paths are spliced in here
    echo "\\copy o_new_csv FROM $(sqlstr "$NEW_CSV") WITH (FORMAT csv, HEADER true)"
    echo "\\copy o_map_csv FROM $(sqlstr "$MAP_CSV") WITH (FORMAT csv, HEADER true)"
    echo "\\copy o_ovr FROM $(sqlstr "$OVR_CSV") WITH (FORMAT csv, HEADER true)"
    cat <<'SQL'
CREATE TEMP TABLE o_new (code text PRIMARY KEY);
INSERT INTO o_new SELECT DISTINCT new_code FROM o_new_csv;
-- one row per old code; a code with any 'partial' row is a split ward
CREATE TEMP TABLE o_old AS
SELECT old_code,
       CASE WHEN bool_or(merge_type = 'partial') THEN 'partial' ELSE min(merge_type) END AS merge_type,
       CASE WHEN bool_or(merge_type = 'partial') THEN NULL ELSE min(new_code) END AS new_code
FROM o_map_csv GROUP BY old_code;
CREATE TEMP TABLE o_range AS
SELECT e.key AS code, r.ord, (r.v->>'from')::bigint AS lo, (r.v->>'to')::bigint AS hi, r.v->>'unit' AS unit
FROM jsonb_each(:'routing'::jsonb->'split_rules') e,
     jsonb_array_elements(e.value->'ranges') WITH ORDINALITY r(v, ord);
CREATE TEMP TABLE o_kept AS
SELECT key AS code, value->>'registers_kept_by' AS unit
FROM jsonb_each(:'routing'::jsonb->'split_rules');
ANALYZE o_new, o_old, o_ovr, o_range, o_kept;
-- a row must match at most one range (the plain join below relies on it)
DO $$
BEGIN
    IF EXISTS (SELECT FROM o_range a JOIN o_range b ON a.code = b.code AND a.ord < b.ord
                WHERE a.lo <= b.hi AND b.lo <= a.hi) THEN
        RAISE EXCEPTION 'overlapping split ranges in routing.json';
    END IF;
END $$;
SELECT (:'routing'::jsonb #>> '{units,cutover}')::date AS cutover \gset

CREATE TEMP TABLE o_quar (tbl text, key text, reason text);

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM o_tables LOOP
        IF to_regclass(format('%I.%I', r.sch, r.rel)) IS NULL THEN
            RAISE EXCEPTION 'source table %.% does not exist', r.sch, r.rel;
        END IF;
    END LOOP;
END $$;

-- One routing query per table: b = raw values, c = pre-checks and era,
-- then the lookups.  Written with joins, not per-row subqueries, so that
-- a million rows route in seconds.
CREATE TEMP TABLE o_routed AS
SELECT t.tbl, format($q$
SELECT c.key, c.h,
       CASE WHEN c.pre IS NOT NULL THEN NULL
            WHEN NOT c.old THEN n.code
            WHEN m.merge_type = 'full' THEN m.new_code
            WHEN m.merge_type = 'partial' THEN coalesce(o.unit, rg.unit, CASE WHEN %6$s THEN k.unit END)
       END AS unit,
       coalesce(c.pre,
         CASE WHEN NOT c.old THEN CASE WHEN n.code IS NULL THEN 'unit_unknown_new' END
              WHEN m.old_code IS NULL THEN 'unit_unknown_old'
              WHEN m.merge_type = 'full' THEN NULL
              WHEN m.merge_type <> 'partial' THEN 'unit_unknown_old'
              WHEN coalesce(o.unit, rg.unit, CASE WHEN %6$s THEN k.unit END) IS NULL THEN 'split_unresolved'
         END) AS reason
FROM (SELECT b.*,
             CASE WHEN b.v IS NULL OR b.v = '' THEN 'unit_null'
                  WHEN b.v !~ '^[0-9]{5}$' THEN 'unit_malformed'
                  WHEN %7$s AND b.d IS NULL THEN 'date_null'
             END AS pre,
             %8$s AS old
      FROM (SELECT %1$s AS key, (%2$I)::text AS v, %3$s AS d, %4$s AS s, %5$s AS h
            FROM %9$I.%10$I) b) c
LEFT JOIN o_new n ON c.pre IS NULL AND NOT c.old AND n.code = c.v
LEFT JOIN o_old m ON c.pre IS NULL AND c.old AND m.old_code = c.v
LEFT JOIN o_ovr o ON m.merge_type = 'partial' AND o.tbl = %11$L AND o.key = c.key
LEFT JOIN o_range rg ON m.merge_type = 'partial' AND rg.code = c.v AND c.s BETWEEN rg.lo AND rg.hi
LEFT JOIN o_kept k ON m.merge_type = 'partial' AND k.code = c.v
$q$,
    -- 1 key: the primary key as text
    (SELECT string_agg(format('(%I)::text', a.attname), ' || '','' || ' ORDER BY k.ord)
       FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord), pg_attribute a
      WHERE i.indrelid = rc.oid AND i.indisprimary AND a.attrelid = i.indrelid AND a.attnum = k.attnum),
    t.unit_col,
    CASE WHEN t.era = 'by_date' THEN format('(%I)::date', t.date_col) ELSE 'NULL::date' END,
    CASE WHEN t.split_col IS NULL THEN 'NULL::bigint'
         WHEN (SELECT atttypid FROM pg_attribute WHERE attrelid = rc.oid AND attname = t.split_col)
              IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN format('(%I)::bigint', t.split_col)
         ELSE format($s$CASE WHEN (%1$I)::text ~ '^-?[0-9]{1,18}$' THEN (%1$I)::text::bigint END$s$, t.split_col) END,
    pg_temp.o_hash(rc.oid, t.cols, t.mask),
    CASE WHEN t.split_reg THEN 'true' ELSE 'false' END,
    CASE WHEN t.era = 'by_date' THEN 'true' ELSE 'false' END,
    CASE t.era WHEN 'old' THEN 'true' WHEN 'new' THEN 'false'
               ELSE format('coalesce(b.d < %L::date, false)', :'cutover') END,
    t.sch, t.rel,
    t.sch || '.' || t.rel) AS q
FROM o_tables t, LATERAL (SELECT to_regclass(format('%I.%I', t.sch, t.rel))::oid AS oid) rc;

DO $$
BEGIN
    IF EXISTS (SELECT FROM o_routed WHERE q IS NULL) THEN
        RAISE EXCEPTION 'cannot build the routing query (table without primary key?): %',
            (SELECT string_agg(tbl, ', ') FROM o_routed WHERE q IS NULL);
    END IF;
END $$;
SQL
    if [[ $1 = expect ]]; then
        cat <<'SQL'
SELECT format('INSERT INTO o_out SELECT %L, unit, count(*), sum(h) FROM (%s) z WHERE unit IS NOT NULL GROUP BY unit',
              tbl, q) FROM o_routed \gexec
SELECT tbl, unit, n, cs FROM o_out ORDER BY tbl COLLATE "C", unit COLLATE "C";
SQL
    else
        cat <<'SQL'
SELECT format('INSERT INTO o_quar SELECT %L, key, reason FROM (%s) z WHERE unit IS NULL', tbl, q)
FROM o_routed \gexec
SELECT tbl, key, reason FROM o_quar ORDER BY tbl COLLATE "C", key COLLATE "C";
SQL
    fi
}

tier_sql() {
    cat <<'SQL'
SELECT format('INSERT INTO o_out SELECT %L, %L, count(*), sum(h) FROM (SELECT %s AS h FROM %I.%I) z HAVING count(*) > 0',
              t.tbl, substr(n.nspname, 2), pg_temp.o_hash(c.oid, '["*"]', '{}'), n.nspname, c.relname)
FROM o_tables t
JOIN pg_class c ON c.relname = t.rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname ~ '^u[0-9]{5}$'
\gexec
SELECT tbl, unit, n, cs FROM o_out ORDER BY tbl COLLATE "C", unit COLLATE "C";
SQL
}

if [[ $KIND != tier ]]; then
    NEW_CSV=$(policy_file list)
    MAP_CSV=$(policy_file mapping)
    OVR_CSV=$(policy_file split_overrides)
fi

{
    common_sql
    hash_fn_sql
    case $KIND in
        expect|quarantine)
            cat <<'SQL'
CREATE TEMP TABLE o_new_csv (new_code text, new_name text, new_type text,
    new_full_name text, name_en text, province_code text);
CREATE TEMP TABLE o_map_csv (old_code text, old_name text, old_province text,
    new_code text, new_name text, merge_type text, old_district_code text,
    old_district_name text, old_province_code text, resolution text,
    llm_confidence text, note text);
CREATE TEMP TABLE o_ovr (tbl text, key text, unit text);
SQL
            expect_sql "$KIND" ;;
        tier) tier_sql ;;
    esac
} | "${PSQL[@]}" "$CONN"
