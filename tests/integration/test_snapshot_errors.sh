#!/bin/bash
# Bad input to the snapshot (issue 2): each is refused with exit code 1 and
# a message naming the object and the fix, and nothing is half-written:
# no slot, no publication, no unit schema, no state rows.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000

# nothing written anywhere: the proof that a refusal happened before any write
nothing_written() {
    local label=$1
    h_assert_eq "$label: no slot" 0 "$(h_psql -d land -c "SELECT count(*) FROM pg_replication_slots")"
    h_assert_eq "$label: no unit schema" 0 "$(h_psql -d tier -c "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}$'")"
    h_assert_eq "$label: no publication" 0 "$(h_psql -d land -c "SELECT count(*) FROM pg_publication")"
    h_assert_eq "$label: no quarantine" 0 "$(h_psql -d syncd_state -c "SELECT count(*) FROM pg_tables WHERE tablename = 'syncd_quarantine'")"
}

# expect_refusal LABEL CONF PATTERN: exit 1 and PATTERN (grep -E) on stderr
expect_refusal() {
    local label=$1 conf=$2 pattern=$3 rc err
    "$H_SYNCD" -c "$conf" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
    err=$(cat "$H_TMP/err")
    h_assert_eq "$label: exit code 1" 1 "$rc"
    if grep -Eq -- "$pattern" <<<"$err"; then
        h_ok "$label: message names the object and the fix"
    else
        h_fail "$label: message" "expected /$pattern/ in: $err"
    fi
    nothing_written "$label"
}

# replica identity that does not carry the unit column
h_psql -d land -c "ALTER TABLE public.thua_dat REPLICA IDENTITY DEFAULT"
expect_refusal "replica identity" "$H_CONF" \
    'table public.thua_dat: unit column ma_dvhc_xa is nullable.*run: ALTER TABLE public.thua_dat REPLICA IDENTITY FULL;'
h_psql -d land -c "ALTER TABLE public.thua_dat ALTER COLUMN ma_dvhc_xa SET NOT NULL" 2>/dev/null ||
    h_psql -d land -c "DELETE FROM public.thua_dat WHERE ma_dvhc_xa IS NULL; ALTER TABLE public.thua_dat ALTER COLUMN ma_dvhc_xa SET NOT NULL"
expect_refusal "replica identity (not null)" "$H_CONF" \
    'table public.thua_dat: REPLICA IDENTITY DEFAULT does not carry routing column ma_dvhc_xa.*ALTER TABLE public.thua_dat REPLICA IDENTITY FULL;'
h_psql -d land -c "ALTER TABLE public.thua_dat REPLICA IDENTITY FULL"

# the REPLICATION privilege
h_psql -d postgres -c "ALTER ROLE syncd_repl NOREPLICATION"
expect_refusal "replication privilege" "$H_CONF" \
    'source land: role syncd_repl lacks the REPLICATION privilege.*ALTER ROLE "?syncd_repl"? REPLICATION;'
h_psql -d postgres -c "ALTER ROLE syncd_repl REPLICATION"

# an unreachable source
sed "s/dbname=land user=syncd_repl/dbname=land user=syncd_repl port=$(h_freeport)/; s/port=$PGPORT dbname=land/dbname=land/" "$H_CONF" >"$H_TMP/unreach.conf"
expect_refusal "unreachable source" "$H_TMP/unreach.conf" \
    'source land: cannot connect: .*check \[source land\] conninfo'

# routing.json that names what the source lacks, or contradicts itself
bad_policy() {
    local label=$1 pattern=$2 sedexpr=$3
    rm -rf "$H_TMP/pol"
    cp -r "$H_ROOT/policies" "$H_TMP/pol"
    sed -i "$sedexpr" "$H_TMP/pol/routing.json"
    h_city_conf "$H_TMP/pol.conf" "$H_TMP/pol"
    expect_refusal "$label" "$H_TMP/pol.conf" "$pattern"
}
bad_policy "unknown table" 'source land: table public.thua_dat_x does not exist.*fix "table" in routing.json' \
    's/"public.thua_dat"/"public.thua_dat_x"/'
bad_policy "unknown column" 'routing.json: public.to_ban_do: unit_column "ma_xa" does not exist in source land' \
    '0,/"unit_column": "ma_dvhc_xa"/s//"unit_column": "ma_xa"/'
bad_policy "unknown split column" 'routing.json: public.to_ban_do: split column "so_to_x" does not exist in source land' \
    '0,/"split": { "column": "so_to" }/s//"split": { "column": "so_to_x" }/'
bad_policy "overlapping split rules" 'overlapping split rules for old unit 31178: \[1,30\] -> 31120 and \[25,60\] -> 31168; make the ranges disjoint' \
    's/{ "from": 31, "to": 60, "unit": "31168" }/{ "from": 25, "to": 60, "unit": "31168" }/'
bad_policy "unknown source" 'source "water" has no \[source water\] section' \
    '0,/"source": "land"/s//"source": "water"/'

# wal_level: needs a restart of the cluster
h_psql -d postgres -c "ALTER SYSTEM SET wal_level = replica"
h_pg_restart
expect_refusal "wal_level" "$H_CONF" \
    "source land: wal_level is 'replica' but logical decoding needs 'logical'; set wal_level = logical"
h_psql -d postgres -c "ALTER SYSTEM RESET wal_level"
h_pg_restart

# tables syncd's role does not own: the DBA must publish them, and is told how
for t in to_ban_do thua_dat muc_dich_su_dung nguoi_su_dung giay_chung_nhan; do
    h_psql -d land -c "ALTER TABLE public.$t OWNER TO postgres"
done
h_psql -d land -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO syncd_repl"
expect_refusal "publication needs the DBA" "$H_CONF" \
    'source land: publication syncd_land does not exist, and this role does not own the tables to publish them; ask the DBA to run: CREATE PUBLICATION "syncd_land" FOR TABLE "public"."to_ban_do", "public"."thua_dat"'
h_psql -d land -c "CREATE PUBLICATION syncd_land FOR TABLE public.to_ban_do, public.thua_dat, public.muc_dich_su_dung, public.nguoi_su_dung, public.giay_chung_nhan"

# and after all that, the same files work (with the DBA's publication)
"$H_SYNCD" -c "$H_CONF" --once >/dev/null 2>"$H_TMP/err" && h_ok "the corrected setup snapshots" || h_fail "corrected setup" "$(cat "$H_TMP/err")"

h_summary
