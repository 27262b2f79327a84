#!/bin/bash
# Issuance in one group-committed transaction (issue 14): 32 concurrent
# clients issuing in ONE unit get serials 1..N with no gap and no
# duplicate, each document with exactly its two audit rows (allow, then
# issued naming its serial) next to each other in the chain; then syncd is
# killed (kill -9) in the middle of concurrent issuing, several times, and
# after each restart: every answered 201 is a document, no document lacks
# its rows, no audit row claims a serial that does not exist, serials are
# still gap-free, and `syncctl audit verify` finds the chain intact.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_documents 1000 30
h_syncd_set "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=50
h_ldap_users "Lê Thị" admin1 reg1
h_ldap_group_add city_admin admin1
API=http://127.0.0.1:$H_API_PORT
BENCH=$H_ROOT/build/bench_issue
[[ -x $BENCH ]] || make -C "$H_ROOT" --no-print-directory build/bench_issue >/dev/null
sql() { h_psql -d syncd_state -c "$1"; }
h_syncd_start
h_api admin1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
key=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")

# The invariants, each a count of what breaks it (0 when all hold).
gaps() { # serials of 31120 that are not exactly 1..N
    sql "SELECT count(*) FILTER (WHERE n <> rn) + count(*) - count(DISTINCT serial)
         FROM (SELECT serial, split_part(serial, '-', 3)::int AS n, row_number() OVER (ORDER BY serial) AS rn
               FROM syncd_documents WHERE unit = '31120') x"
}
unaudited() { # documents without exactly allow + issued (naming the serial) at seq, seq + 1
    sql "WITH r AS (SELECT request_id, string_agg(decision, ',' ORDER BY seq) AS ds, max(seq) - min(seq) AS span,
                max(object) FILTER (WHERE decision = 'issued') AS obj
                FROM syncd_audit WHERE action = 'document.issue' GROUP BY request_id)
         SELECT count(*) FROM syncd_documents d LEFT JOIN r USING (request_id)
         WHERE r.ds IS DISTINCT FROM 'allow,issued' OR r.span <> 1
            OR r.obj IS DISTINCT FROM d.kind || '/' || d.record_key || ' ' || d.serial"
}
phantoms() { # issued rows naming a serial that is not in the register
    sql "SELECT count(*) FROM syncd_audit a LEFT JOIN syncd_documents d
         ON a.object = d.kind || '/' || d.record_key || ' ' || d.serial
         WHERE a.action = 'document.issue' AND a.decision = 'issued' AND d.serial IS NULL"
}
verify() { "$H_BUILD/syncctl" -c "$H_CONF" audit verify >"$H_TMP/verify.out" 2>&1 && echo intact || echo "broken: $(cat "$H_TMP/verify.out")"; }

# ---------------------------------------------------------------- 32 clients, one unit
out=$("$BENCH" "$API" reg1 pw-reg1-secret "31120:$key" 32 2)
ok=$(sed -n 's/^\([0-9]*\) documents.*/\1/p' <<<"$out")
n=$(sql "SELECT count(*) FROM syncd_documents WHERE unit = '31120'")
[[ $ok -gt 32 && $n == "$ok" ]] && h_ok "32 concurrent clients in one unit: $ok answered 201, $n documents" ||
    h_fail "32 clients in one unit" "answered $ok, documents $n: $out"
h_assert_eq "... serials 1..$n, no gap, no duplicate" 0 "$(gaps)"
h_assert_eq "... each document has its allow and issued rows, adjacent, naming its serial" 0 "$(unaudited)"
h_assert_eq "... no issued row without its document" 0 "$(phantoms)"
h_assert_eq "... group-committed: concurrent issues shared transactions (fewer xids than documents)" t \
    "$(sql "SELECT count(DISTINCT xmin::text) < count(*) FROM syncd_documents")"
h_assert_eq "... and each document is in the same transaction as its audit rows" 0 \
    "$(sql "SELECT count(*) FROM syncd_documents d JOIN syncd_audit a ON a.request_id = d.request_id WHERE a.xmin::text <> d.xmin::text")"

# ---------------------------------------------------------------- kill -9 during group commit
for round in 1 2 3; do
    before=$(sql "SELECT count(*) FROM syncd_documents")
    "$BENCH" "$API" reg1 pw-reg1-secret "31120:$key" 32 3 >"$H_TMP/bench.$round" 2>&1 &
    bench=$!
    sleep "1.$((round * 3))" # 1.3 to 1.9 s into the run: batches in flight
    kill -9 "$H_SYNCD_PID"
    wait "$H_SYNCD_PID" 2>/dev/null || true
    wait "$bench" 2>/dev/null || true
    ok=$(sed -n 's/^\([0-9]*\) documents.*/\1/p' "$H_TMP/bench.$round")
    h_syncd_start
    made=$(($(sql "SELECT count(*) FROM syncd_documents") - before))
    [[ ${ok:-0} -le $made ]] && h_ok "kill -9 #$round: every 201 answered is a document (${ok:-0} answered, $made written)" ||
        h_fail "kill -9 #$round: answered vs written" "answered $ok, written $made"
    h_assert_eq "kill -9 #$round: serials still 1..N without a gap or duplicate" 0 "$(gaps)"
    h_assert_eq "kill -9 #$round: no document without its allow and issued rows" 0 "$(unaudited)"
    h_assert_eq "kill -9 #$round: no audit row claims a serial that does not exist" 0 "$(phantoms)"
    h_assert_eq "kill -9 #$round: syncctl audit verify: the chain is intact" intact "$(verify)"
done
h_assert_eq "after the kills, issuing goes on at the next serial" \
    "201 31120-$(date -u +%Y)-$(printf %06d $(($(sql "SELECT count(*) FROM syncd_documents WHERE unit = '31120'") + 1)))" \
    "$(h_api reg1 POST /v1/documents "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}") $(jq -r .serial "$H_TMP/body")"
h_summary
