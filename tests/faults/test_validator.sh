#!/bin/bash
# The order validator (tests/harness/validator.py) catches what it is there
# to catch: on hand-made unit copies and a quarantine, with no syncd, a
# version that goes back, a key in two units of one transaction's database,
# and a key left in a unit and the quarantine at the end are each reported;
# moves done as syncd does them (one transaction) are not.
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"
. "$(dirname "$0")/../harness/validator.sh"

h_init
h_pg_start
h_psql -d postgres -c "CREATE DATABASE tier" -c "CREATE DATABASE st"
h_psql -d tier <<'SQL'
CREATE SCHEMA u31120;
CREATE SCHEMA u31117;
CREATE TABLE u31120.thua_dat (id bigint PRIMARY KEY, phien_ban int);
CREATE TABLE u31117.thua_dat (id bigint PRIMARY KEY, phien_ban int);
INSERT INTO u31120.thua_dat VALUES (1, 1), (2, 1), (3, 1);
SQL
h_psql -d st -c "CREATE TABLE syncd_quarantine (tbl text, key text, row_data jsonb)"
export H_STATE="host=127.0.0.1 port=$PGPORT dbname=st user=postgres"
TIER="host=127.0.0.1 port=$PGPORT dbname=tier user=postgres"
tier() { h_psql -d tier -c "$1"; }
samples() { sed -n 's/.*samples=\([0-9]*\).*/\1/p' "$H_TMP/validator.stats" 2>/dev/null || echo 0; }
settle() { # two more samples
    local n i
    n=$(samples)
    for ((i = 0; i < 100; i++)); do
        [[ $(samples) -ge $((${n:-0} + 2)) ]] && return
        sleep 0.1
    done
}
stop_validator() {
    kill -TERM "$H_VALIDATOR_PID"
    wait "$H_VALIDATOR_PID" 2>/dev/null || true
}

# syncd's way: versions go up, a move is one transaction
h_validator_start "$TIER:group"
settle
tier "UPDATE u31120.thua_dat SET phien_ban = 2 WHERE id = 1"
settle
tier "BEGIN; DELETE FROM u31120.thua_dat WHERE id = 2; INSERT INTO u31117.thua_dat VALUES (2, 2); COMMIT"
settle
h_validator_check "honest moves"

# a version that goes back
h_validator_start "$TIER:group"
settle
tier "UPDATE u31120.thua_dat SET phien_ban = 1 WHERE id = 1"
settle
stop_validator
grep -q 'unit 31120 key 1 went back from version 2 to 1' "$H_TMP/validator.out" &&
    h_ok "a version that goes back is a violation" || h_fail "older version" "$(cat "$H_TMP/validator.out")"

# a key in two units that commit together
h_validator_start "$TIER:group"
tier "INSERT INTO u31117.thua_dat VALUES (3, 1)"
settle
stop_validator
grep -q 'key 3 in unit 311[0-9]* and unit 311[0-9]* at once' "$H_TMP/validator.out" &&
    h_ok "a key in two units of one transaction's database is a violation" ||
    h_fail "two units" "$(cat "$H_TMP/validator.out")"

# the same without ":group" (a conninfo per unit): transient, but still
# there in the final sample, so a violation
tier "DELETE FROM u31117.thua_dat WHERE id = 3"
h_validator_start "$TIER"
settle
tier "INSERT INTO u31117.thua_dat VALUES (3, 1)"
h_psql -d st -c "INSERT INTO syncd_quarantine VALUES ('public.thua_dat', '1', '{\"phien_ban\": 2}')"
settle
stop_validator
h_assert_eq "overlaps between separate commits are counted as transient" yes \
    "$([[ $(sed -n 's/.*transient=\([0-9]*\).*/\1/p' "$H_TMP/validator.stats") -gt 0 ]] && echo yes)"
grep -q 'key 3 still in' "$H_TMP/validator.out" && grep -q 'key 1 still in' "$H_TMP/validator.out" &&
    h_ok "an overlap still there in the final sample is a violation (unit and unit, unit and quarantine)" ||
    h_fail "final overlaps" "$(cat "$H_TMP/validator.out")"
h_summary
