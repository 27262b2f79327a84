#!/bin/bash
# Documents and the audit log (issue 5), against real PostgreSQL and slapd:
# every kind issued from the unit's copy (Vietnamese fields byte-identical
# in the HTML), serials gap-free under 8 concurrent issuers, denials leave no
# document and one audit row, revocation, public verification, the land
# register's intake (exactly once, also across kill -9), issuing with the
# city DB down, refusing with the state DB down, auditor scopes, and every
# kind of tampering with the audit log caught by verify at the right seq.
# Issue 12: the print layout (header, motto, Vietnamese date, the signature
# block from roles.json and signers.csv), its QR code decoded with zbarimg,
# and the public page /verify/<serial>?h= (valid, revoked, unknown; no
# personal data); a wrong signers.csv refused at start with file:line.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 2
SYNCCTL=$H_BUILD/syncctl
h_ldap_users "Lê Thị" admin1 chair1 reg1 land1 reg2 audc aud1 audx
h_ldap_group_add city_admin admin1
h_ldap_group_add city_auditor audc
h_syncd_set "signing_key_file=$(h_signing_key)" "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=5
API=http://127.0.0.1:$H_API_PORT
h_syncd_once
# the land register's intake table is the land database owner's (dist/sql/land-intake.sql)
h_psql -d land -f "$H_ROOT/dist/sql/land-intake.sql" -v syncd_role=syncd_repl >/dev/null

# the signature block: roles.json's title, overridden per unit by signers.csv
mkdir -p "$H_TMP/policies"
cp -r "$H_ROOT/policies/." "$H_TMP/policies/"
cat >"$H_TMP/policies/signers.csv" <<'EOF2'
# who signs for the committee, per unit and issuing role
unit_code,role,title,name
31120,civil_registrar,KT. CHỦ TỊCH / PHÓ CHỦ TỊCH,Trần Văn Bình
EOF2
sed -i "s|^policies_dir = .*|policies_dir = $H_TMP/policies|" "$H_CONF"
h_syncd_set "public_url=http://localhost:$H_API_PORT/"
# a wrong signers.csv: syncd refuses to start, naming file:line and the fix
cp -r "$H_TMP/policies" "$H_TMP/badpolicies"
printf 'unit_code,role,title,name\n99999,civil_registrar,CHỦ TỊCH\n' >"$H_TMP/badpolicies/signers.csv"
sed "s|^policies_dir = .*|policies_dir = $H_TMP/badpolicies|" "$H_CONF" >"$H_TMP/bad.conf"
timeout 60 "$H_BUILD/syncd" -c "$H_TMP/bad.conf" >"$H_TMP/bad.out" 2>&1 && rc=0 || rc=$?
grep -qF "badpolicies/signers.csv:2: unit \"99999\" is not a unit of the city" "$H_TMP/bad.out" && [[ $rc != 0 && $rc != 124 ]] &&
    h_ok "signers.csv with an unknown unit: syncd refuses to start with file:line and the fix" ||
    h_fail "bad signers.csv" "rc=$rc $(tail -3 "$H_TMP/bad.out")"
printf '31120,registrar,CHỦ TỊCH\n' >"$H_TMP/badpolicies/signers.csv"
timeout 60 "$H_BUILD/syncd" -c "$H_TMP/bad.conf" >"$H_TMP/bad.out" 2>&1 && rc=0 || rc=$?
grep -qF 'signers.csv:1: role "registrar" is not in roles.json' "$H_TMP/bad.out" && [[ $rc != 0 && $rc != 124 ]] &&
    h_ok "signers.csv with an unknown role: refused at start" || h_fail "bad signers.csv role" "rc=$rc $(tail -3 "$H_TMP/bad.out")"

start() { h_syncd_start && pid=$H_SYNCD_PID; }
stop() { kill -TERM "$pid"; wait "$pid" || true; }
api() { h_api "$@"; }
field() { jq -r "$1" "$H_TMP/body"; }
issue() { api "$1" POST /v1/documents "{\"kind\":\"$2\",\"unit\":\"$3\",\"key\":\"$4\"}"; }
ndocs() { h_psql -d syncd_state -c "SELECT count(*) FROM syncd_documents"; }
start

api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}' >/dev/null
api chair1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
api admin1 POST /v1/grants '{"grantee":"land1","role":"land_officer","unit":"31120"}' >/dev/null
api admin1 POST /v1/grants '{"grantee":"aud1","role":"unit_auditor","unit":"31120"}' >/dev/null

# ---------------------------------------------------------------- every kind
first() { h_psql -d tier -c "SELECT id FROM u31120.$1 ORDER BY id LIMIT 1"; }
ks=$(first khai_sinh)
for spec in "reg1 birth_extract khai_sinh ho_ten" "reg1 marriage_extract ket_hon ho_ten_vo" \
    "reg1 death_extract khai_tu ho_ten" "land1 land_parcel_extract thua_dat dia_chi" \
    "land1 land_use_certificate thua_dat dia_chi"; do
    read -r who kind table col <<<"$spec"
    key=$(first "$table")
    status=$(issue "$who" "$kind" 31120 "$key")
    serial=$(field .serial)
    eval "hash_$kind=$(field .hash)"
    h_assert_eq "$kind issued in Cái Khế (201)" 201 "$status"
    [[ $serial =~ ^31120-[0-9]{4}-[0-9]{6}$ ]] && h_ok "$kind serial $serial has the unit-year-sequence shape" ||
        h_fail "$kind serial" "$serial"
    api "$who" GET "/v1/documents/$serial" "" text/html >/dev/null
    cp "$H_TMP/body" "$H_TMP/page_$kind.html"
    value=$(h_psql -d tier -c "SELECT $col FROM u31120.$table WHERE id = $key")
    if grep -qF -- "$value" "$H_TMP/body" && grep -qF 'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM' "$H_TMP/body" &&
        grep -qF 'Phường Cái Khế' "$H_TMP/body"; then
        h_ok "$kind page: motto, issuing unit and the record's '$value' byte-identical"
    else
        h_fail "$kind page" "$(head -c 600 "$H_TMP/body")"
    fi
    eval "serial_$kind=$serial"
done
# shellcheck disable=SC2154
cert=$serial_land_use_certificate
# shellcheck disable=SC2154
hp=${hash_birth_extract:0:16}
grep -qF "/v1/documents/$serial_birth_extract/verify?h=$hp" "$H_TMP/page_birth_extract.html" &&
    h_ok "the printed page carries the verification link with the hash prefix" ||
    h_fail "verification link on the page" "$(grep -o 'Kiểm tra[^<]*' "$H_TMP/page_birth_extract.html")"
api - GET "/v1/documents/$serial_birth_extract/verify?h=$hp" >/dev/null
h_assert_eq "public verification without login: valid" valid "$(field .status)"

# ---------------------------------------------------------------- the print layout (issue 12)
page=$H_TMP/page_birth_extract.html
m=$(TZ=Asia/Ho_Chi_Minh date +%-m)
((m <= 2)) && m=0$m
today="class=\"place\">Cái Khế, $(TZ=Asia/Ho_Chi_Minh date +'ngày %d tháng ')${m}$(TZ=Asia/Ho_Chi_Minh date +' năm %Y')"
has() { grep -qF -- "$2" "$1"; }
has "$page" "<p class=\"body\">ỦY BAN NHÂN DÂN<br>Phường Cái Khế</p><hr class=\"rule\"><p class=\"no\">Số: $serial_birth_extract</p>" &&
    h_ok "header: the issuing body in two lines, its rule and the number" || h_fail "header" "$(grep -o '<header.*' "$page" | head -3)"
has "$page" '<p class="state">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</p><p><span class="motto">Độc lập - Tự do - Hạnh phúc</span></p>' &&
    h_ok "the national motto with its rule" || h_fail "motto" "$(grep -o 'class="nation".*' "$page" | head -2)"
has "$page" "$today" && h_ok "the place and the Vietnamese date: $today" || h_fail "date line" "$(grep -o 'class="place">[^<]*' "$page")"
has "$page" '<h1>TRÍCH LỤC KHAI SINH</h1>' && has "$page" '<p class="copy">(BẢN SAO)</p>' &&
    h_ok "title centred, (BẢN SAO) on its own line" || h_fail "title" "$(grep -o '<h1>.*' "$page")"
has "$page" '<p class="caption">NGƯỜI KÝ TRÍCH LỤC</p>' &&
    has "$page" '<p class="signer">KT. CHỦ TỊCH</p><p class="signer">PHÓ CHỦ TỊCH</p><p class="signer-name">Trần Văn Bình</p>' &&
    h_ok "the signature block from signers.csv for the civil registrar in Cái Khế" ||
    h_fail "signature block" "$(grep -o 'class="sign".*' "$page")"
! has "$page" 'CÔNG CHỨC' && h_ok "no registrar's job title as the signer" || h_fail "job title printed" "$(grep -o 'class="sign".*' "$page")"
h_assert_eq "the issuing role is kept with the document" civil_registrar \
    "$(h_psql -d syncd_state -c "SELECT signer_role FROM syncd_documents WHERE serial = '$serial_birth_extract'")"
has "$page" '@media print' && has "$page" '@page{size:A4' && ! has "$page" 'style="' && ! has "$page" '<script' &&
    h_ok "A4 print stylesheet, no inline style attribute or script" || h_fail "print CSS" "$(head -c 400 "$page")"
lpage=$H_TMP/page_land_use_certificate.html
has "$lpage" '<h1>THÔNG TIN HỒ SƠ CẤP GIẤY CHỨNG NHẬN</h1>' && ! has "$lpage" '<h1>GIẤY CHỨNG NHẬN' &&
    has "$lpage" '<p class="signer">KT. CHỦ TỊCH</p><p class="signer">PHÓ CHỦ TỊCH</p></div>' &&
    h_ok "a land-use certificate prints as an information sheet, signed per roles.json (no name configured)" ||
    h_fail "land information sheet" "$(grep -o '<h1>.*' "$lpage") $(grep -o 'class="sign".*' "$lpage")"
csp=$(curl -s -D - -o /dev/null -u reg1:pw-reg1-secret -H 'Accept: text/html' "$API/v1/documents/$serial_birth_extract" | tr -d '\r' | sed -n 's/^Content-Security-Policy: //Ip')
style_hash=$(sed -n 's:.*<style>\(.*\)</style>.*:\1:p' "$page" | tr -d '\n' | openssl dgst -sha256 -binary | base64)
[[ $csp == *"style-src 'sha256-$style_hash'"* && $csp == *"default-src 'none'"* ]] &&
    h_ok "the page's stylesheet is allowed by its hash in the CSP" || h_fail "CSP" "$csp vs $style_hash"
# the QR code: rendered and decoded
grep -o '<svg[^>]*class="qr".*</svg>' "$page" >"$H_TMP/qr.svg" || true
rsvg-convert -w 400 -b white "$H_TMP/qr.svg" -o "$H_TMP/qr.png" 2>"$H_TMP/err" || h_fail "rsvg-convert" "$(cat "$H_TMP/err")"
qr=$(zbarimg --raw -q "$H_TMP/qr.png" 2>/dev/null | tr -d '\n') || true
h_assert_eq "the QR code decodes to public_url/verify/<serial>?h=<16 hex>" \
    "http://localhost:$H_API_PORT/verify/$serial_birth_extract?h=$hp" "$qr"
has "$page" "Kiểm tra: http://localhost:$H_API_PORT/verify/$serial_birth_extract?h=$hp" &&
    h_ok "... and the same link is printed under it" || h_fail "printed link" "$(grep -o 'Kiểm tra:[^<]*' "$page")"
# the public verification page, opened from the QR code, no login
vpage() { curl -s -D "$H_TMP/vhead" -o "$H_TMP/vpage" -w '%{http_code}' "$1"; }
h_assert_eq "GET /verify/<serial>?h= (the QR code's URL) without login" 200 "$(vpage "${qr/localhost/127.0.0.1}")"
grep -qi '^Content-Type: text/html' "$H_TMP/vhead" && has "$H_TMP/vpage" '<html lang="vi">' &&
    has "$H_TMP/vpage" 'Văn bản hợp lệ' && has "$H_TMP/vpage" "$serial_birth_extract" &&
    has "$H_TMP/vpage" 'Phường Cái Khế' && has "$H_TMP/vpage" 'TRÍCH LỤC KHAI SINH' &&
    ! has "$H_TMP/vpage" '<script' && grep -qi '^Content-Security-Policy:' "$H_TMP/vhead" &&
    h_ok "... a Vietnamese page: valid, kind, serial, unit, no script" || h_fail "verify page" "$(cat "$H_TMP/vhead" "$H_TMP/vpage")"
leaks=""
for col in ho_ten ngay_sinh dan_toc so_dinh_danh ho_ten_me ho_ten_cha noi_sinh que_quan; do
    v=$(h_psql -d tier -c "SELECT coalesce($col::text, '') FROM u31120.khai_sinh WHERE id = $ks")
    [[ -n $v ]] && has "$H_TMP/vpage" "$v" && leaks+=" $col"
done
h_assert_eq "the verification page shows no personal field of the record" "" "$leaks"
vpage "$API/verify/$serial_birth_extract?h=0000000000000000" >/dev/null
has "$H_TMP/vpage" 'Không tìm thấy văn bản' && ! has "$H_TMP/vpage" 'Phường Cái Khế' &&
    h_ok "a wrong hash prefix: Không tìm thấy văn bản, nothing about the document" || h_fail "wrong prefix page" "$(cat "$H_TMP/vpage")"
vpage "$API/verify/$serial_birth_extract" >/dev/null
has "$H_TMP/vpage" 'Không tìm thấy văn bản' && h_ok "no hash prefix: unknown" || h_fail "no prefix page" "$(cat "$H_TMP/vpage")"
vpage "$API/verify/31120-2020-999999?h=$hp" >/dev/null
has "$H_TMP/vpage" 'Không tìm thấy văn bản' && h_ok "a serial never issued: unknown" || h_fail "unknown serial page" "$(cat "$H_TMP/vpage")"
h_assert_eq "the serial alone tells nothing (no hash prefix): unknown, no kind or unit" "unknown null null" \
    "$(api - GET "/v1/documents/$serial_birth_extract/verify" >/dev/null; field '[.status, .kind, .unit] | map(tostring) | join(" ")')"
h_assert_eq "a wrong hash prefix: unknown" unknown \
    "$(api - GET "/v1/documents/$serial_birth_extract/verify?h=0000000000000000" >/dev/null; field .status)"
grep -q "$(h_psql -d tier -c "SELECT ho_ten FROM u31120.khai_sinh WHERE id = $ks")" "$H_TMP/body" &&
    h_fail "verification shows no personal data" "$(cat "$H_TMP/body")" || h_ok "verification shows no personal data"
h_assert_eq "verification of a serial never issued: unknown" unknown \
    "$( api - GET /v1/documents/31120-2020-999999/verify >/dev/null; field .status)"

# ---------------------------------------------------------------- records, from the unit's copy
name=$(h_psql -d tier -c "SELECT ho_ten FROM u31120.khai_sinh WHERE id = $ks")
h_assert_eq "a registrar reads a birth record of the unit" 200 "$(api reg1 GET "/v1/records/civil/khai_sinh/$ks?unit=31120")"
h_assert_eq "... as the unit's copy holds it" "$name" "$(field .record.ho_ten)"
other_ks=$(h_psql -d tier -c "SELECT id FROM u31135.khai_sinh ORDER BY id LIMIT 1")
h_assert_eq "a record registered in another unit is not in this unit's copy" 404 \
    "$(api reg1 GET "/v1/records/civil/khai_sinh/$other_ks?unit=31120")"
h_assert_eq "a land officer may not read civil records" 403 "$(api land1 GET "/v1/records/civil/khai_sinh/$ks?unit=31120")"
h_assert_eq "search by name (in the body, never the URL)" 200 \
    "$(api reg1 POST /v1/records/search "$(jq -cn --arg q "$name" '{unit: "31120", q: $q}')")"
[[ $(field "[.results[] | select(.kind == \"birth_extract\" and .key == \"$ks\")] | length") -ge 1 ]] &&
    h_ok "... finds the record" || h_fail "search by name" "$(head -c 300 "$H_TMP/body")"
[[ $(field '[.results[] | select(.kind == "land_parcel_extract")] | length') == 0 ]] &&
    h_ok "... and nothing from tables the registrar may not read" || h_fail "search scope" "$(head -c 300 "$H_TMP/body")"
sheet=$(h_psql -d tier -c "SELECT so_to || '/' || so_thua FROM u31120.thua_dat ORDER BY id LIMIT 1")
api land1 POST /v1/records/search "{\"unit\":\"31120\",\"q\":\"$sheet\"}" >/dev/null
[[ $(field '[.results[] | select(.kind == "land_parcel_extract")] | length') -ge 1 ]] &&
    h_ok "a land officer finds a parcel by sheet/number" || h_fail "parcel search" "$(head -c 300 "$H_TMP/body")"
h_assert_eq "searching by GET is refused" 405 "$(api reg1 GET /v1/records/search)"

# ---------------------------------------------------------------- serials under 8 concurrent issuers
before=$(ndocs)
workers=()
for ((w = 0; w < 8; w++)); do
    ( for ((i = 0; i < 10; i++)); do
        curl -s -o /dev/null -u reg1:pw-reg1-secret -H 'Content-Type: application/json' \
            --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$ks\"}" "$API/v1/documents"
    done ) &
    workers+=($!)
done
for j in "${workers[@]}"; do wait "$j" || true; done
h_assert_eq "80 concurrent issues: 80 documents" $((before + 80)) "$(ndocs)"
h_assert_eq "serials per unit-year are unique and gap-free" "t" \
    "$(h_psql -d syncd_state -c "SELECT count(*) = max(split_part(serial, '-', 3)::int) AND count(DISTINCT serial) = count(*) FROM syncd_documents WHERE unit = '31120'")"

# ---------------------------------------------------------------- denials: no document, one audit row each
api admin1 POST /v1/grants "{\"grantee\":\"reg2\",\"role\":\"civil_registrar\",\"unit\":\"31120\",\"not_after\":\"$(date -u -d '+2 seconds' +%FT%TZ)\"}" >/dev/null
sleep 3
other=$(h_psql -d tier -c "SELECT id FROM u31135.khai_sinh ORDER BY id LIMIT 1")
deny_case() { # LABEL USER KIND UNIT KEY
    local n0 rid status
    n0=$(ndocs)
    rid="deny$RANDOM$RANDOM"
    status=$(RID=$rid issue "$2" "$3" "$4" "$5")
    h_assert_eq "$1: refused" 403 "$status"
    h_assert_eq "$1: no document" "$n0" "$(ndocs)"
    h_assert_eq "$1: one audit row, a deny" "1 deny" \
        "$(h_psql -d syncd_state -c "SELECT count(*) || ' ' || min(decision) FROM syncd_audit WHERE request_id = '$rid'")"
}
deny_case "wrong unit (a record registered in Ninh Kiều)" reg1 birth_extract 31135 "$other"
deny_case "wrong role (a registrar issuing a land certificate)" reg1 land_use_certificate 31120 "$(first thua_dat)"
deny_case "expired grant" reg2 birth_extract 31120 "$ks"
chair_grant=$(h_ldapsearch -b "ou=units,$H_LDAP_BASE" "(&(syncdRole=unit_chair)(syncdUnit=31120))" cn | sed -n 's/^cn: //p')
api admin1 DELETE "/v1/grants/$chair_grant" >/dev/null
deny_case "revoked grantor (the chair who delegated)" reg1 death_extract 31120 "$(first khai_tu)"
api chair1 GET "/v1/documents/$serial_birth_extract" >/dev/null
h_assert_eq "reading a document without read permission in its unit is refused" 403 \
    "$(api land1 GET "/v1/documents/$serial_birth_extract")"

# ---------------------------------------------------------------- revocation
h_assert_eq "revoking needs a reason" 400 "$(api land1 POST "/v1/documents/$cert/revoke" '{}')"
h_assert_eq "the land officer revokes the certificate" 204 \
    "$(api land1 POST "/v1/documents/$cert/revoke" '{"reason":"cấp nhầm thửa"}')"
# shellcheck disable=SC2154
api - GET "/v1/documents/$cert/verify?h=${hash_land_use_certificate:0:16}" >/dev/null
h_assert_eq "a revoked document verifies as revoked" revoked "$(field .status)"
# shellcheck disable=SC2154
curl -s -o "$H_TMP/vpage" "$API/verify/$cert?h=${hash_land_use_certificate:0:16}"
grep -qF 'Văn bản đã bị thu hồi' "$H_TMP/vpage" && grep -qF 'Ngày thu hồi' "$H_TMP/vpage" &&
    h_ok "after revocation the public page says Văn bản đã bị thu hồi" || h_fail "revoked page" "$(cat "$H_TMP/vpage")"
owner_cols=$(h_psql -d tier -c "SELECT string_agg(column_name, ' ') FROM information_schema.columns WHERE table_schema = 'u31120' AND table_name = 'thua_dat' AND data_type = 'text'")
key_cert=$(h_psql -d syncd_state -c "SELECT record_key FROM syncd_documents WHERE serial = '$cert'")
leaks=""
for col in $owner_cols; do
    v=$(h_psql -d tier -c "SELECT coalesce($col, '') FROM u31120.thua_dat WHERE id = $key_cert")
    [[ ${#v} -ge 4 ]] && grep -qF -- "$v" "$H_TMP/vpage" && leaks+=" $col"
done
h_assert_eq "... and shows no parcel field (address, owner)" "" "$leaks"
out=$("$SYNCCTL" -s "$API" document verify "$cert" "${hash_land_use_certificate:0:16}" 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl document verify SERIAL HASH of a revoked one exits 1 and says revoked" "1 yes" \
    "$rc $(grep -qi revoked <<<"$out" && echo yes)"
out=$("$SYNCCTL" -s "$API" document verify "$serial_birth_extract" "${hash_birth_extract:0:16}" 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl document verify SERIAL HASH of a valid one exits 0" 0 "$rc"
"$SYNCCTL" -s "$API" document verify "$serial_birth_extract" >/dev/null 2>&1 && rc=0 || rc=$?
h_assert_eq "syncctl document verify without the hash: usage error (2)" 2 "$rc"

# ---------------------------------------------------------------- the land register's intake, exactly once
for ((i = 0; i < 5; i++)); do
    issue land1 land_use_certificate 31120 "$(h_psql -d tier -c "SELECT id FROM u31120.thua_dat ORDER BY id OFFSET $((i + 1)) LIMIT 1")" >/dev/null
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start
for ((i = 0; i < 100; i++)); do
    [[ $(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_outbox WHERE delivered_at IS NULL") == 0 ]] && break
    sleep 0.1
done
h_assert_eq "every land-use certificate is in the land DB's intake exactly once (also across kill -9)" \
    "$(h_psql -d syncd_state -c "SELECT string_agg(serial, ',' ORDER BY serial) FROM syncd_documents WHERE kind = 'land_use_certificate'")" \
    "$(h_psql -d land -c "SELECT string_agg(serial, ',' ORDER BY serial) FROM syncd_intake_certificates")"

# ---------------------------------------------------------------- city DB down / state DB down
api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}' >/dev/null
api chair1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
h_psql -d postgres -c "ALTER DATABASE civil ALLOW_CONNECTIONS false" \
    -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'civil'" >/dev/null
h_assert_eq "city civil DB down: a birth extract is still issued from the unit's copy" 201 \
    "$(issue reg1 birth_extract 31120 "$ks")"
h_psql -d postgres -c "ALTER DATABASE civil ALLOW_CONNECTIONS true" >/dev/null
n0=$(ndocs)
h_psql -d postgres -c "ALTER DATABASE syncd_state ALLOW_CONNECTIONS false" \
    -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'syncd_state'" >/dev/null
h_assert_eq "state DB down: issuing is refused with 503" 503 "$(issue reg1 birth_extract 31120 "$ks")"
h_psql -d postgres -c "ALTER DATABASE syncd_state ALLOW_CONNECTIONS true" >/dev/null
h_assert_eq "... and nothing was issued" "$n0" "$(ndocs)"

# ---------------------------------------------------------------- auditors
st=$(api aud1 GET '/v1/audit?unit=31120&limit=5')
[[ $st == 200 ]] && h_ok "a unit auditor reads its unit's events" || h_fail "unit auditor read" "$st $(cat "$H_TMP/body")"
h_assert_eq "... page of 5 with a cursor" "5 true" "$(field '(.events | length | tostring) + " " + (.next_cursor != null | tostring)')"
rid="aud$RANDOM"
h_assert_eq "a unit auditor cannot read another unit's events" 403 "$(RID=$rid api aud1 GET '/v1/audit?unit=31135')"
h_assert_eq "... and that refusal is audited" "1 deny" \
    "$(h_psql -d syncd_state -c "SELECT count(*) || ' ' || min(decision) FROM syncd_audit WHERE request_id = '$rid'")"
h_assert_eq "a city auditor reads every unit" 200 "$(api audc GET '/v1/audit?decision=deny&limit=1000')"
[[ $(field '[.events[] | select(.action == "document.issue")] | length') -ge 4 ]] &&
    h_ok "the city auditor sees the denied issues" || h_fail "denied issues in the log" "$(head -c 300 "$H_TMP/body")"
status=$(curl -s -o "$H_TMP/csv" -w '%{http_code}' -u audc:pw-audc-secret "$API/v1/audit?unit=31120&format=csv&limit=3")
h_assert_eq "CSV export" "200 seq,at,actor,client,request_id,action,unit,object,decision,reason,hash" \
    "$status $(head -1 "$H_TMP/csv" | tr -d '\r')"
status=$(curl -s -o "$H_TMP/csv" -w '%{http_code} %{content_type}' -u audc:pw-audc-secret -H 'Accept: text/csv' \
    "$API/v1/audit?unit=31120&limit=3")
h_assert_eq "CSV export by Accept: text/csv" "200 text/csv; charset=utf-8 seq,at,actor" \
    "$status $(head -1 "$H_TMP/csv" | cut -d, -f1-3)"
out=$("$SYNCCTL" -s "$API" -u audc audit verify 2>&1 <<<"" ) || true
printf 'pw-audc-secret' >"$H_TMP/audc.pw"; chmod 600 "$H_TMP/audc.pw"
out=$(SYNCCTL_PASSWORD_FILE=$H_TMP/audc.pw "$SYNCCTL" -s "$API" -u audc audit verify 2>&1) && rc=0 || rc=$?
h_assert_eq "syncctl audit verify: the chain is intact (exit 0)" 0 "$rc"
grep -q 'audit log intact' <<<"$out" && h_ok "... and says so" || h_fail "verify output" "$out"
curl -s "$API/metrics" >"$H_TMP/metrics"
out=$(promtool check metrics <"$H_TMP/metrics" 2>&1) && rc=0 || rc=$?
h_assert_eq "promtool check metrics on a scrape after issuing" "0:" "$rc:$out"
grep -Eq '^syncd_documents_issued_total\{kind="birth_extract"\} [1-9][0-9]*$' "$H_TMP/metrics" &&
    grep -Eq '^syncd_decisions_total\{outcome="deny",reason="no_grant"\} [1-9]' "$H_TMP/metrics" &&
    grep -Eq '^syncd_ldap_seconds_count [1-9]' "$H_TMP/metrics" &&
    h_ok "/metrics: documents by kind, decisions by reason, LDAP latency" ||
    h_fail "metrics content" "$(grep -E 'documents_issued|decisions_total|ldap_seconds_count' "$H_TMP/metrics")"
stop

# ---------------------------------------------------------------- tampering, as a database superuser
[[ -s $H_TMP/checkpoints ]] && h_ok "signed checkpoints left the database" || h_fail "checkpoints" "none written"
last_ck=$(tail -1 "$H_TMP/checkpoints" | jq .seq)
h_psql -d syncd_state -c "CREATE TABLE bak AS SELECT * FROM syncd_audit; CREATE TABLE bak_head AS SELECT * FROM syncd_audit_head"
verify_local() { "$SYNCCTL" -c "$H_CONF" audit verify 2>&1; }
h_assert_eq "before tampering: intact" 0 "$(verify_local >/dev/null && echo 0 || echo 1)"
tamper() { # LABEL SEQ SQL
    local out
    h_psql -d syncd_state -c "ALTER TABLE syncd_audit DISABLE TRIGGER USER" -c "$3" >/dev/null
    out=$(verify_local) || true
    if grep -q "BROKEN at seq $2:" <<<"$out"; then
        h_ok "tampering caught: $1 (at seq $2)"
    else
        h_fail "tampering: $1" "$out"
    fi
    h_psql -d syncd_state -c "DELETE FROM syncd_audit" -c "INSERT INTO syncd_audit SELECT * FROM bak" \
        -c "UPDATE syncd_audit_head h SET seq = b.seq, hash = b.hash FROM bak_head b" \
        -c "ALTER TABLE syncd_audit ENABLE TRIGGER USER" >/dev/null
}
tamper "one column of one row" 3 "UPDATE syncd_audit SET object = 'x' WHERE seq = 3"
tamper "the hashed body of one row" 4 \
    "UPDATE syncd_audit SET body = convert_to(replace(convert_from(body, 'UTF8'), '\"allow\"', '\"deny\"'), 'UTF8') WHERE seq = 4"
tamper "a row deleted in the middle" 7 "DELETE FROM syncd_audit WHERE seq = 7"
tamper "two rows swapped" 9 "UPDATE syncd_audit SET seq = -9 WHERE seq = 9; UPDATE syncd_audit SET seq = 9 WHERE seq = 10; UPDATE syncd_audit SET seq = 10 WHERE seq = -9"
keep=$((last_ck - 2))
tamper "the tail truncated after a checkpoint" $((keep + 1)) "DELETE FROM syncd_audit WHERE seq > $keep"
tamper "a row rewritten and every later hash recomputed" 5 "
DO \$\$ DECLARE r record; prev bytea; b bytea;
BEGIN
  UPDATE syncd_audit SET reason = 'rewritten',
         body = convert_to(jsonb_set(convert_from(body, 'UTF8')::jsonb, '{reason}', '\"rewritten\"')::text, 'UTF8')
   WHERE seq = 3;
  SELECT hash INTO prev FROM syncd_audit WHERE seq = 2;
  FOR r IN SELECT seq, body FROM syncd_audit WHERE seq >= 3 ORDER BY seq LOOP
    UPDATE syncd_audit SET prev_hash = prev, hash = sha256(prev || r.body) WHERE seq = r.seq;
    prev := sha256(prev || r.body);
  END LOOP;
  UPDATE syncd_audit_head SET hash = prev;
END \$\$"
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "restored: intact again" 0 "$rc"
h_psql -d syncd_state -c "SET ROLE syncd; UPDATE syncd_audit SET reason = 'x' WHERE seq = 1" >/dev/null 2>"$H_TMP/err" &&
    h_fail "append-only" "an UPDATE went through" || h_ok "UPDATE of the audit log is refused ($(head -1 "$H_TMP/err"))"
# the audit table handed to another role: syncd may only SELECT it (appends go through syncd_audit_append)
h_psql -d syncd_state -v syncd_role=syncd -f "$H_ROOT/dist/sql/audit-owner.sql" >/dev/null
h_assert_eq "after audit-owner.sql syncd's role may SELECT, not INSERT, UPDATE, DELETE or TRUNCATE" "f t f f f" \
    "$(h_psql -d syncd_state -c "SELECT concat_ws(' ', has_table_privilege('syncd', 'syncd_audit', 'INSERT'), has_table_privilege('syncd', 'syncd_audit', 'SELECT'), has_table_privilege('syncd', 'syncd_audit', 'UPDATE'), has_table_privilege('syncd', 'syncd_audit', 'DELETE'), has_table_privilege('syncd', 'syncd_audit', 'TRUNCATE'))")"
start
h_assert_eq "syncd still appends to the log it no longer owns" 200 "$(api audc GET '/v1/audit?limit=1')"
stop
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "and the chain is still intact" 0 "$rc"
h_summary
