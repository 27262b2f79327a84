#!/bin/bash
# A kind = http source (issue 13 item 6): [source cases] pulls a paged JSON
# API (tests/harness/api_server.py) beside the city's two databases.  10,000
# records in pages of 200 are routed by their unit code to the new units'
# ho_so_mot_cua tables, the unknown codes to the quarantine; a kill -9 in the
# middle of the pull applies nothing twice; every unit then equals the data.
# A malformed page (a non-integer so_trang) stops this source only, with the
# page, record and field in the log, and nothing of that page in any unit.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000

# ---------------------------------------------------------------- the data
# deterministic: record i's unit is a real new unit, every 37th an unknown code
python3 - "$H_ROOT/policies/units/cantho_new_units.csv" "$H_TMP" <<'PY'
import csv, json, sys
codes = [r["new_code"] for r in csv.DictReader(open(sys.argv[1]))]
def rec(i):
    unit = ("99999" if i % 2 else "00000") if i % 37 == 0 else codes[i % len(codes)]
    return {"id": i, "unit": {"code": unit}, "so_ho_so": "HS-%06d" % i,
            "phi": "%d.%02d" % (i % 500, i % 100), "ngay_nop": "2025-%02d-%02d" % (i % 12 + 1, i % 28 + 1),
            "updated_at": "2025-07-%02dT%02d:%02d:%02dZ" % (1 + i // 86400, i // 3600 % 24, i // 60 % 60, i % 60),
            "da_xong": i % 3 == 0, "so_trang": i % 90, "ghi_chu": None if i % 5 else "ghi chú %d" % i}
json.dump([rec(i) for i in range(1, 10001)], open(sys.argv[2] + "/cases.json", "w"), ensure_ascii=False)
json.dump([rec(i) for i in range(10001, 10501)], open(sys.argv[2] + "/more.json", "w"), ensure_ascii=False)
PY

python3 "$H_ROOT/tests/harness/api_server.py" --data "$H_TMP/cases.json" >"$H_TMP/api.out" 2>"$H_TMP/api.err" &
api_pid=$!
h_atexit_kill "$api_pid"
for ((i = 0; i < 50; i++)); do [[ -s $H_TMP/api.out ]] && break; sleep 0.1; done
API="http://127.0.0.1:$(head -1 "$H_TMP/api.out")"
ctl() { curl -sf "$API/control?$1"; }

# ---------------------------------------------------------------- the policies
mkdir -p "$H_TMP/policies"
cp -r "$H_ROOT/policies/." "$H_TMP/policies/"
python3 - "$H_TMP/policies/routing.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["tables"].append({"source": "cases", "table": "public.ho_so_mot_cua", "unit_column": "ma_xa", "era": "new",
    "fields": {"id": {"field": "id", "type": "integer"},
               "ma_xa": {"field": "unit.code", "type": "text"},
               "so_ho_so": {"field": "so_ho_so", "type": "text"},
               "phi": {"field": "phi", "type": "numeric"},
               "ngay_nop": {"field": "ngay_nop", "type": "date"},
               "updated_at": {"field": "updated_at", "type": "timestamptz"},
               "da_xong": {"field": "da_xong", "type": "boolean"},
               "so_trang": {"field": "so_trang", "type": "integer"},
               "ghi_chu": {"field": "ghi_chu", "type": "text"}},
    "key": ["id"]})
json.dump(d, open(p, "w"), ensure_ascii=False, indent=1)
PY
h_city_conf "$H_CONF" "$H_TMP/policies"
cat >>"$H_CONF" <<EOF2

[source cases]
kind = http
url = $API/api/cases
interval = 1
page_size = 200
page_size_param = limit
EOF2

"$H_SYNCD" -c "$H_CONF" --check-config >"$H_TMP/check.out" 2>&1 &&
    h_ok "--check-config accepts the http source and its table" ||
    h_fail "--check-config accepts the http source and its table" "$(cat "$H_TMP/check.out")"
"$H_SYNCD" -c "$H_CONF" --print-config | grep -q "^page_size_param = limit$" &&
    h_ok "--print-config shows the http source's keys" || h_fail "--print-config shows the http source's keys"

# ---------------------------------------------------------------- pull, kill -9 in the middle, pull again
seq_now() { h_psql -d syncd_state -c "SELECT coalesce((SELECT page_seq FROM syncd_source_cursor WHERE source = 'cases'), 0)"; }
wait_seq() { # wait_seq N: until page_seq >= N (60 s at most)
    local i
    for ((i = 0; i < 600; i++)); do (($(seq_now) >= $1)) && return 0; sleep 0.1; done
    return 1
}
ctl "delay_ms=60" >/dev/null
h_syncd_start || { h_summary; exit 1; }
wait_seq 8 && h_ok "the pull has begun (page $(seq_now))" || h_fail "the pull has begun" "$(tail -5 "$H_TMP/daemon.log")"
kill -9 "$H_SYNCD_PID"
wait "$H_SYNCD_PID" 2>/dev/null || true
at_kill=$(seq_now)
((at_kill < 50)) && h_ok "killed -9 in the middle of the pull (after page $at_kill of 50)" ||
    h_fail "killed -9 in the middle of the pull" "page $at_kill"
ctl "delay_ms=0" >/dev/null
h_syncd_start || { h_summary; exit 1; }
wait_seq 50 && h_ok "the pull resumes and reaches page 50" || h_fail "the pull resumes and reaches page 50" "$(seq_now)"
sleep 2 # a round more: an empty page changes nothing
h_assert_eq "10,000 records in 50 pages, each page applied once: page_seq" "50" "$(seq_now)"
h_assert_eq "the cursor is the last record's updated_at" "2025-07-01T02:46:40Z" \
    "$(h_psql -d syncd_state -c "SELECT cursor FROM syncd_source_cursor WHERE source = 'cases'")"

# every unit's table equals the records of its code; the rest are quarantined
expected() { # expected FILE...: "unit<TAB>row" of every record, the unknown ones as "quarantine<TAB>id"
    python3 - "$H_ROOT/policies/units/cantho_new_units.csv" "$@" <<'PY'
import csv, json, sys
codes = {r["new_code"] for r in csv.DictReader(open(sys.argv[1]))}
out = []
for f in sys.argv[2:]:
    for r in json.load(open(f)):
        u = r["unit"]["code"]
        if u not in codes:
            out.append("quarantine\t%d" % r["id"])
            continue
        out.append("\t".join([u, str(r["id"]), r["so_ho_so"], r["phi"], r["ngay_nop"], r["updated_at"],
                              "t" if r["da_xong"] else "f", str(r["so_trang"]),
                              r["ghi_chu"] if r["ghi_chu"] is not None else "\\N"]))
print("\n".join(sorted(out)))
PY
}
actual() {
    local u
    for u in $(tail -n +2 "$H_ROOT/policies/units/cantho_new_units.csv" | cut -d, -f1); do
        h_psql -d tier -c "SELECT '$u', id, so_ho_so, phi, ngay_nop,
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), da_xong, so_trang,
                coalesce(ghi_chu, '\\N') FROM u$u.ho_so_mot_cua" 2>/dev/null | tr '|' '\t' || true
    done
    h_psql -d syncd_state -c "SELECT 'quarantine', key FROM syncd_quarantine WHERE source = 'cases'" | tr '|' '\t'
}
exp=$(expected "$H_TMP/cases.json")
act=$(actual | LC_ALL=C sort)
exp=$(LC_ALL=C sort <<<"$exp")
if [[ $exp == "$act" ]]; then
    h_ok "every unit's ho_so_mot_cua equals its records, the quarantine exactly the unknown codes ($(wc -l <<<"$exp") rows)"
else
    h_fail "the units and the quarantine equal the data" "$(diff <(echo "$exp") <(echo "$act") | head -20)"
fi
h_assert_eq "the quarantine's reasons" "$(grep -c '^quarantine' <<<"$exp") unit_unknown_new" \
    "$(h_psql -d syncd_state -c "SELECT count(*) || ' ' || string_agg(DISTINCT reason, ',') FROM syncd_quarantine WHERE source = 'cases'")"
h_assert_eq "each unit's checkpoint for cases is a page position" "t" \
    "$(h_psql -d tier -c "SELECT bool_and(lsn <= '0/32') FROM u31120.syncd_checkpoint WHERE source = 'cases'")"

# ---------------------------------------------------------------- a malformed page stops this source only
ctl "append=$H_TMP/more.json&bad_id=10250" >/dev/null
for ((i = 0; i < 300; i++)); do grep -q "is malformed" "$H_TMP/daemon.log" && break; sleep 0.1; done
line=$(grep "is malformed" "$H_TMP/daemon.log" || true)
[[ $line == *"source cases: page 52 (cursor \""* && $line == *"record 49: field \"so_trang\" (column so_trang): expected an integer, got \"abc\""* &&
    $line == *"nothing of this page was applied"* && $line == *"this source is stopped"* ]] &&
    h_ok "the log names the page, the record and the field, and the fix" ||
    h_fail "the log names the page, the record and the field" "${line:-$(tail -5 "$H_TMP/daemon.log")}"
h_assert_eq "page 51 was applied, nothing of page 52" "51" "$(seq_now)"
n=0
for u in $(tail -n +2 "$H_ROOT/policies/units/cantho_new_units.csv" | cut -d, -f1); do
    n=$((n + $(h_psql -d tier -c "SELECT count(*) FROM u$u.ho_so_mot_cua WHERE id > 10200")))
done
h_assert_eq "no record of the malformed page (or after it) is in any unit" "0" "$n"
n=0
for u in $(tail -n +2 "$H_ROOT/policies/units/cantho_new_units.csv" | cut -d, -f1); do
    n=$((n + $(h_psql -d tier -c "SELECT count(*) FROM u$u.ho_so_mot_cua WHERE id BETWEEN 10001 AND 10200")))
done
q=$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_quarantine WHERE source = 'cases' AND key::int BETWEEN 10001 AND 10200")
h_assert_eq "the page before it is in the units and the quarantine" "200" "$((n + q))"
h_pid_alive "$H_SYNCD_PID" && h_ok "syncd keeps running" || h_fail "syncd keeps running"
h_psql -d land -c "INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban, dia_chi)
                   VALUES (900001, '31117', 5, 1, 120.5, 1, 1, 'Số 1, đường Hòa Bình')" >/dev/null
h_city_caught_up
h_city_compare "the other sources keep streaming"

# restarted with the API fixed, the source goes on from page 52
kill -TERM "$H_SYNCD_PID"
wait "$H_SYNCD_PID" 2>/dev/null || true
ctl "bad_id=" >/dev/null
h_syncd_start || { h_summary; exit 1; }
wait_seq 53 && h_ok "fixed, the source resumes at page 52" || h_fail "fixed, the source resumes at page 52" "$(seq_now)"
sleep 2
exp=$(expected "$H_TMP/cases.json" "$H_TMP/more.json" | LC_ALL=C sort)
act=$(actual | LC_ALL=C sort)
[[ $exp == "$act" ]] && h_ok "then every unit equals all 10,500 records" ||
    h_fail "then every unit equals all 10,500 records" "$(diff <(echo "$exp") <(echo "$act") | head -20)"

h_summary
