#!/bin/bash
# The search of a unit's copy (issue 12), against real syncd, PostgreSQL
# and slapd: a name matches with or without diacritics, in any case and in
# any Unicode normalisation (the query's and the stored text's), đ as d; a
# personal ID number only whole; 20 hits a page with "more"; another
# unit's people are not found; bad pages and kinds are 400s naming the
# field; the audit log keeps a keyed hash of the query, never its text.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_documents 1000 2
h_ldap_users "Lê Thị" admin1 reg1 reg2 land1
h_ldap_group_add city_admin admin1
h_syncd_start
api() { h_api "$@"; }
field() { jq -r "$1" "$H_TMP/body"; }
# search USER UNIT Q [PAGE-JSON] [KIND-JSON]: the status; the answer in $H_TMP/body
search() {
    api "$1" POST /v1/records/search "$(jq -cn --arg u "$2" --arg q "$3" --argjson p "${4:-null}" \
        --argjson k "${5:-null}" '{unit: $u, q: $q} + (if $p == null then {} else {page: $p} end)
        + (if $k == null then {} else {kind: $k} end)')"
}
keys() { field '[.results[] | select(.kind == "birth_extract") | .key] | join(" ")'; }
# grant USER ROLE UNIT, by the city admin
grant() {
    h_assert_eq "$1 is $2 in $3" 201 \
        "$(api admin1 POST /v1/grants "{\"grantee\":\"$1\",\"role\":\"$2\",\"unit\":\"$3\"}")"
}

grant reg1 civil_registrar 31120
grant reg2 civil_registrar 31135
grant land1 land_officer 31120

# ---------------------------------------------------------------- the people, registered in the city's civil DB
# person TEMPLATE-ID NEW-ID NAME ID: a birth registered as TEMPLATE was
# (same unit and register), with its own name and personal ID number
person() {
    h_psql -d civil -c "INSERT INTO khai_sinh SELECT (jsonb_populate_record(k, jsonb_build_object(
        'id', $2, 'ho_ten', '$3', 'so_dinh_danh', '$4'))).* FROM khai_sinh k WHERE id = $1"
}
t20=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")
t35=$(h_psql -d tier -c "SELECT id FROM u31135.khai_sinh ORDER BY id LIMIT 1")
id0=$(h_psql -d civil -c "SELECT max(id) + 1000 FROM khai_sinh")
an=$((id0 + 1)) hue=$((id0 + 2)) du=$((id0 + 3))
person "$t20" "$an" "Nguyễn Văn An" 099199123456
# stored decomposed (NFD): Đỗ Thị Huệ
person "$t20" "$hue" "$(printf '\xc4\x90o\xcc\x82\xcc\x83 Thi\xcc\xa3 Hue\xcc\xa3\xcc\x82')" 099199123457
person "$t35" "$du" "Khúc Thừa Dụ" 099199123458
for ((i = 1; i <= 23; i++)); do
    person "$t20" $((id0 + 100 + i)) "Lạc Thị Ỷ Vân" "0991992000$(printf %02d "$i")"
done
h_city_caught_up
h_assert_eq "the new births are in Cái Khế's copy" 25 \
    "$(h_psql -d tier -c "SELECT count(*) FROM u31120.khai_sinh WHERE id > $id0")"

# ---------------------------------------------------------------- one person, four spellings
nfd=$(printf 'Nguye\xcc\x82\xcc\x83n Va\xcc\x86n An')   # e U+0302 U+0303, a U+0306
[[ $nfd != "Nguyễn Văn An" && ${#nfd} == 16 ]] && h_ok "the decomposed query differs from the composed one" ||
    h_fail "NFD query" "$nfd"
want=
for q in "Nguyễn Văn An" "Nguyen Van An" "nguyễn văn an" "NGUYỄN VĂN AN" "$nfd" "nguyen van an"; do
    label="'$q'"
    [[ $q == "$nfd" ]] && label="'$q' (decomposed)"
    h_assert_eq "search $label answers 200" 200 "$(search reg1 31120 "$q")"
    got=$(keys)
    [[ " $got " == *" $an "* ]] && h_ok "$label finds Nguyễn Văn An" || h_fail "$label finds Nguyễn Văn An" "$got"
    [[ -z $want ]] && want=$got
    h_assert_eq "$label finds the same records as 'Nguyễn Văn An'" "$want" "$got"
done
h_assert_eq "a hit shows the name as the copy holds it" "Nguyễn Văn An" \
    "$(search reg1 31120 "nguyen van an" >/dev/null; field ".results[] | select(.key == \"$an\") | .fields[0].value")"
h_assert_eq "Đỗ Thị Huệ is held decomposed in the copy" t \
    "$(h_psql -d tier -c "SELECT ho_ten <> normalize(ho_ten, NFC) FROM u31120.khai_sinh WHERE id = $hue")"
for q in "do thi hue" "Đỗ Thị Huệ" "ĐỖ THỊ HUỆ" "Do Thi Hue" "dỗ thị huệ"; do
    search reg1 31120 "$q" >/dev/null
    [[ " $(keys) " == *" $hue "* ]] && h_ok "'$q' finds Đỗ Thị Huệ, stored decomposed (đ as d)" ||
        h_fail "'$q' finds Đỗ Thị Huệ" "$(head -c 300 "$H_TMP/body")"
done
search reg1 31120 "nguyen van anh" >/dev/null
[[ " $(keys) " != *" $an "* ]] && h_ok "a longer name does not find Nguyễn Văn An" || h_fail "nguyen van anh" "$(keys)"
search reg1 31120 "50%" >/dev/null
h_assert_eq "the query's own % is taken literally" 0 "$(field '.results | length')"

# ---------------------------------------------------------------- personal ID number: whole, never a part
search reg1 31120 099199123456 >/dev/null
h_assert_eq "the personal ID number finds its person" "$an" "$(keys)"
search reg1 31120 099199123 >/dev/null
h_assert_eq "a part of a personal ID number finds nobody" 0 "$(field '.results | length')"

# ---------------------------------------------------------------- pages of 20
h_assert_eq "page 1 of 23 namesakes" "200 1 20 true" \
    "$(search reg1 31120 "lac thi y van" 1) $(field '[.page, (.results | length), .more] | map(tostring) | join(" ")')"
p1=$(keys)
[[ $(tr ' ' '\n' <<<"$p1" | sort -n | tr '\n' ' ') == "$p1 " ]] && h_ok "page 1 is in key order" ||
    h_fail "page order" "$p1"
h_assert_eq "no page means page 1" "$p1" "$(search reg1 31120 "LẠC THỊ Ỷ VÂN" >/dev/null; keys)"
h_assert_eq "page 2: the other 3, no more" "200 2 3 false" \
    "$(search reg1 31120 "lac thi y van" 2) $(field '[.page, (.results | length), .more] | map(tostring) | join(" ")')"
p2=$(keys)
h_assert_eq "pages 1 and 2 hold the 23, each once, in key order" \
    "$(h_psql -d tier -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM u31120.khai_sinh WHERE id > $((id0 + 100))")" \
    "$p1 $p2"
h_assert_eq "page 3 is empty" "0 false" \
    "$(search reg1 31120 "lac thi y van" 3 >/dev/null; field '[(.results | length), .more] | map(tostring) | join(" ")')"
h_assert_eq "the hits are also under \"results\" (as before pages)" true "$(field '.results == .results')"

# ---------------------------------------------------------------- another unit's people
search reg1 31120 "khuc thua du" >/dev/null
h_assert_eq "a person registered in Cái Khế's neighbour is not found in Cái Khế" 0 "$(field '.results | length')"
search reg2 31135 "khuc thua du" >/dev/null
h_assert_eq "... but in their own unit" "$du" "$(keys)"

# ---------------------------------------------------------------- kinds
search reg1 31120 "nguyen van an" 1 '"death_extract"' >/dev/null
h_assert_eq "kind death_extract: no birth records" 0 "$(field '[.results[] | select(.kind != "death_extract")] | length')"
h_assert_eq "kind birth_extract finds the person" true \
    "$(search reg1 31120 "nguyen van an" 1 '"birth_extract"' >/dev/null; field "[.results[].key] | index(\"$an\") != null")"
h_assert_eq "a kind the caller may not read: 403" 403 "$(search reg1 31120 "12/34" 1 '"land_parcel_extract"')"
h_assert_eq "an unknown kind: 400 naming the kinds" "400 true" \
    "$(search reg1 31120 "nguyen" 1 '"nope"') $(field '.message | test("kind must be one of .*birth_extract")')"

# ---------------------------------------------------------------- bad pages
for p in 0 -1 1001 '"2"' 1.5 true; do
    h_assert_eq "page $p: 400 saying what page takes" "400 true" \
        "$(search reg1 31120 "nguyen" "$p") $(field '.message | test("page must be a whole number from 1 to 1000")')"
done
h_assert_eq "page 1000 is allowed (and empty)" "200 0" "$(search reg1 31120 "nguyen" 1000) $(field '.results | length')"

# ---------------------------------------------------------------- the audit log: a keyed hash, never the text
h_assert_eq "every search is audited with a keyed hash of the query" 0 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_audit WHERE action = 'record.search'
        AND object NOT LIKE 'q=hmac:%'")"
h_assert_eq "no audit row holds a searched name or ID" 0 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_audit WHERE lower(actor || object || reason || encode(body, 'escape'))
        ~ '(nguy|lac thi|khuc|099199)'")"

h_summary
