#!/bin/bash
# Schema drift (issue 10): a column added at the source with a constant
# default is added to every unit with that default; one whose default is a
# function (CURRENT_USER, now(), nextval) is added without it, with a
# warning naming the column and the default, since each unit would compute
# its own value.  Rows streamed afterwards carry the source's values.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000

once() {
    "$H_SYNCD" -c "$H_CONF" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
    h_assert_eq "$1: syncd --once exits 0" 0 "$rc"
    [[ $rc == 0 ]] || tail -5 "$H_TMP/err" >&2
}
land() { h_psql -d land -c "$1"; }
default_of() { # default_of COLUMN: its default in unit 31120's copy, or "none"
    h_psql -d tier -c "SELECT coalesce(column_default, 'none') FROM information_schema.columns
                       WHERE table_schema = 'u31120' AND table_name = 'thua_dat' AND column_name = '$1'"
}

once "snapshot"
land "ALTER TABLE thua_dat ADD COLUMN a text DEFAULT 'const', ADD COLUMN b text DEFAULT current_user,
      ADD COLUMN c timestamptz DEFAULT now(), ADD COLUMN d numeric DEFAULT 1"
land "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban)
      VALUES (900001, '31120', 5, 1, 120.5, 1, 1)"
once "columns added with defaults"
h_assert_eq "a constant default is declared in the unit's copy" "'const'::text" "$(default_of a)"
h_assert_eq "a constant cast (1 into numeric) too" 1 "$(default_of d)"
h_assert_eq "CURRENT_USER is not copied as a default" none "$(default_of b)"
h_assert_eq "now() is not copied as a default" none "$(default_of c)"
grep -q "gained column b with DEFAULT CURRENT_USER, which is not a constant: added to the units without a default" \
    "$H_TMP/err" && h_ok "a warning names the column and the default not copied" ||
    h_fail "non-constant default warning" "$(grep -i default "$H_TMP/err" | head -5)"
src=$(h_psql -d land -c "SELECT a || '|' || b || '|' || c || '|' || d FROM thua_dat WHERE id = 900001")
h_assert_eq "the new row's values in the unit equal the source's" "$src" \
    "$(h_psql -d tier -c "SELECT a || '|' || b || '|' || c || '|' || d FROM u31120.thua_dat WHERE id = 900001")"
[[ $src == const\|postgres\|* ]] && h_ok "... (computed at the source: $src)" || h_fail "source values" "$src"
h_summary
