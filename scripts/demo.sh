#!/bin/bash
# make demo: the main job on the embedded default.  A throwaway PostgreSQL
# with the sample city databases (land + civil, ~50,000 records), syncd
# --once copies them into the 103 units, then shows what each unit holds,
# what was quarantined and why, and that a second run copies nothing.  Then
# a throwaway slapd: a city admin names a unit chair, who delegates a civil
# registrar; the registrar issues a birth extract in Cái Khế (the HTML page
# is kept under build/demo/) and is refused one of another unit; the city
# auditor's query shows both and the audit chain verifies.  In a terminal
# it then prints the web page's URL and a login for each persona and keeps
# the page up until Ctrl-C.  Everything is removed afterwards (KEEP_TMP=1
# keeps the temp dir).
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

# ---------------------------------------------------------------- delegation, documents, audit
out_dir=${DEMO_DIR:-$H_ROOT/build/demo}
mkdir -p "$out_dir"
say "starting a throwaway OpenLDAP (slapd) with syncd's schema, the Can Tho skeleton (103 units) and ACLs"
h_slapd_start --dit
h_city_personas
echo "people: binh.tran (city admin), chau.le, an.nguyen, kiem.do (city auditor), lan.pham"
openssl genpkey -algorithm ed25519 -out "$H_TMP/signing.pem" 2>/dev/null
chmod 600 "$H_TMP/signing.pem"
h_ldap_conf "$H_CONF"
sed -i "s|^\[syncd\]\$|[syncd]\nsigning_key_file = $H_TMP/signing.pem\naudit_checkpoint_file = $H_TMP/audit.checkpoints\naudit_checkpoint_every = 5|" "$H_CONF"
say "syncd as the daemon: streaming, and the API on 127.0.0.1:$H_API_PORT"
"$H_SYNCD" -c "$H_CONF" >>"$H_TMP/syncd.log" 2>&1 &
daemon=$!
h_atexit_kill "$daemon"
for ((i = 0; i < 300; i++)); do curl -sf "http://127.0.0.1:$H_API_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
export SYNCCTL_URL=http://127.0.0.1:$H_API_PORT
as() { # as USER PASSWORD syncctl-args...: syncctl logged in as USER
    local u=$1 pw=$2
    shift 2
    printf '%s' "$pw" >"$H_TMP/pw"
    chmod 600 "$H_TMP/pw"
    echo "\$ syncctl -u $u $*"
    SYNCCTL_PASSWORD_FILE=$H_TMP/pw "$H_ROOT/build/syncctl" -u "$u" "$@"
}
say "the city admin names the chair of Phường Cái Khế; the chair delegates a civil registrar"
as binh.tran demo-pw-admin grant --user chau.le --role unit_chair --unit 31120 --may-delegate 1
as chau.le demo-pw-chair grant --user an.nguyen --role civil_registrar --unit 31120 --not-after +365d
as chau.le demo-pw-chair check --user an.nguyen --action civil.extract.issue --unit 31120 || true

say "the registrar issues a birth extract (trích lục khai sinh) for a birth registered in Cái Khế"
key=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY ngay_dang_ky DESC LIMIT 1")
echo "\$ curl -u an.nguyen -X POST $SYNCCTL_URL/v1/documents -d '{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}'"
issued=$(curl -s -u an.nguyen:demo-pw-registrar -H 'Content-Type: application/json' \
    --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}" "$SYNCCTL_URL/v1/documents")
serial=$(jq -r .serial <<<"$issued")
hash=$(jq -r .hash <<<"$issued")
echo "issued: $serial"
as an.nguyen demo-pw-registrar document get "$serial" --html "$out_dir/$serial.html"
echo "the printable page: $out_dir/$serial.html"
"$H_ROOT/build/syncctl" document verify "$serial" "${hash:0:16}" || true

say "the same registrar tries a birth registered in Phường Ninh Kiều (31135): refused"
other=$(h_psql -d tier -c "SELECT id FROM u31135.khai_sinh ORDER BY id LIMIT 1")
echo "\$ curl -u an.nguyen -X POST $SYNCCTL_URL/v1/documents -d '{\"kind\":\"birth_extract\",\"unit\":\"31135\",\"key\":\"$other\"}'"
curl -s -u an.nguyen:demo-pw-registrar -H 'Content-Type: application/json' \
    --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31135\",\"key\":\"$other\"}" "$SYNCCTL_URL/v1/documents"
echo

say "the city auditor's query shows both, and the hash chain verifies"
as kiem.do demo-pw-auditor audit query --action document.issue || true
as kiem.do demo-pw-auditor audit verify || true

# In a terminal the page stays up for a person to try; without one (CI, a
# pipe) the demo ends here as it always did.
if [[ -t 0 && -t 1 ]]; then
    say "the web page: http://127.0.0.1:$H_API_PORT/ (Ctrl-C stops the demo and removes everything)"
    echo "sign in as (user / password):"
    echo "  official, civil registrar of Phường Cái Khế: $SYNCD_OFFICIAL_UID / $SYNCD_OFFICIAL_PASSWORD"
    echo "  chair of Phường Cái Khế:                     $SYNCD_CHAIR_UID / $SYNCD_CHAIR_PASSWORD"
    echo "  city admin:                                  $SYNCD_ADMIN_UID / $SYNCD_ADMIN_PASSWORD"
    echo "  city auditor:                                $SYNCD_AUDITOR_UID / $SYNCD_AUDITOR_PASSWORD"
    echo "  no role yet, for the chair to delegate:      $SYNCD_REGISTRAR_UID / $SYNCD_REGISTRAR_PASSWORD"
    wait "$daemon" || true
fi
kill -TERM "$daemon"
wait "$daemon" || true

say "done; the throwaway servers are stopped and removed (the page stays in $out_dir)"
