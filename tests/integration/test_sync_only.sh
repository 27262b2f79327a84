#!/bin/bash
# A daemon that only syncs (issue 16): no [ldap], no signing key and no
# documents.json in its policies directory.  It starts, says once what is
# off, streams changes into the units, and the document and record endpoints
# answer 503 documents_not_configured; /readyz names the features that are off.
# A documents.json that is present but invalid still stops it, with file:line.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
cp -r "$H_ROOT/policies" "$H_TMP/pol"
rm "$H_TMP/pol/documents.json"
h_city_conf "$H_CONF" "$H_TMP/pol"
API=http://127.0.0.1:$H_API_PORT
h_syncd_once

h_syncd_start && h_ok "starts without documents.json, [ldap] or a signing key" || { h_summary; exit 1; }
pid=$H_SYNCD_PID
h_assert_eq "one warning names the missing documents.json" \
    "1" "$(grep -c "documents.json: no such file" "$H_TMP/daemon.log")"

# it streams: changes in both sources reach the units, equal to the oracle
h_psql -d land -c "UPDATE thua_dat SET dien_tich = dien_tich + 1 WHERE id IN (SELECT id FROM thua_dat ORDER BY id LIMIT 50)"
h_psql -d land -c "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban, dia_chi)
                   VALUES (800001, '31117', 7, 1, 99.5, 1, 1, 'Số 9, đường Trần Hưng Đạo')"
h_psql -d civil -c "DELETE FROM khai_sinh WHERE id IN (SELECT id FROM khai_sinh ORDER BY id LIMIT 5)"
h_city_caught_up
h_city_compare "sync-only daemon streams"

code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u nobody:pw -H 'Content-Type: application/json' \
    --data-binary '{"kind":"birth_extract","unit":"31120","key":"1"}' "$API/v1/documents")
h_assert_eq "POST /v1/documents answers 503" "503" "$code"
h_assert_eq "with the reason documents_not_configured" "documents_not_configured" "$(jq -r .error "$H_TMP/body")"
jq -r .message "$H_TMP/body" | grep -q "documents.json" &&
    h_ok "the message names documents.json and the fix" || h_fail "message names the fix" "$(cat "$H_TMP/body")"
code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"unit":"31120","q":"Nguyen"}' "$API/v1/records/search")
h_assert_eq "POST /v1/records/search answers 503 documents_not_configured" "503 documents_not_configured" \
    "$code $(jq -r .error "$H_TMP/body")"
code=$(curl -s -o "$H_TMP/body" -w '%{http_code}' "$API/v1/records/land/thua_dat/1")
h_assert_eq "GET /v1/records/... answers 503 documents_not_configured" "503 documents_not_configured" \
    "$code $(jq -r .error "$H_TMP/body")"
curl -s "$API/readyz" >"$H_TMP/ready"
h_assert_eq "/readyz: ready, and which features are off" "true false false false" \
    "$(jq -r '[.ready, .features.documents, .features.signing, .features.delegation] | map(tostring) | join(" ")' "$H_TMP/ready")"
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
h_assert_eq "SIGTERM stops it cleanly" "0" "$rc"

# present but invalid: still an error, with the file and the line
printf '{\n  "kinds": {\n    oops\n' >"$H_TMP/pol/documents.json"
"$H_SYNCD" -c "$H_CONF" >"$H_TMP/bad.log" 2>&1 && rc=0 || rc=$?
h_assert_eq "an invalid documents.json stops the daemon" "1" "$rc"
grep -q "$H_TMP/pol/documents.json:3:" "$H_TMP/bad.log" &&
    h_ok "the error names documents.json:3" || h_fail "error names file:line" "$(cat "$H_TMP/bad.log")"
h_summary
