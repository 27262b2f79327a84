#!/bin/bash
# Fault tests of the API (issue 15), on real servers, with grants and
# issuance running in the background the whole time:
#   4. slapd stopped (short 4 s, FAULTS_LONG=1: 30 s; longer if the loops
#      have not had two answers each meanwhile), then started again:
#      while it is down every grant and every issue is refused with a clear
#      status and error (never a 2xx), and once it is back they succeed
#      again without restarting syncd;
#   5. the PostgreSQL holding the state DB (and, in this city, the source
#      and the tier) restarted with pg_ctl -m immediate during concurrent
#      issuance (short once, long 10 times): every 201 answered is a document,
#      no document lacks its allow and issued audit rows, no issued row
#      lacks its document, serials stay gap-free, `syncctl audit verify`
#      finds the chain intact, and issuance resumes without restarting syncd.
# How long each takes to recover is printed as "figure:" lines.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

LONG=${FAULTS_LONG:-0}
if [[ $LONG == 1 ]]; then slapd_down=30 pg_restarts=10; else slapd_down=4 pg_restarts=1; fi

h_city_documents 1000 30
h_syncd_set "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=50
h_ldap_users "Lê Thị" admin1 reg1
h_ldap_group_add city_admin admin1
# the people the grant loop names, one each, added in one go
for ((i = 1; i <= 200; i++)); do printf 'g%d\n' "$i"; done >"$H_TMP/grantees"
while read -r g; do
    printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Phan Van %s\nsn: Phan\n\n' "$g" "$H_LDAP_BASE" "$g" "$g"
done <"$H_TMP/grantees" | h_ldapadd >/dev/null
API=http://127.0.0.1:$H_API_PORT
BENCH=$H_ROOT/build/bench_issue
[[ -x $BENCH ]] || make -C "$H_ROOT" --no-print-directory build/bench_issue >/dev/null
sql() { h_psql -d syncd_state -c "$1"; }
h_syncd_start
pid=$H_SYNCD_PID
h_api admin1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
key=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")
now_ms() { date +%s%3N; }

# The invariants of test_issue_crash.sh, each a count of what breaks it.
gaps() {
    sql "SELECT count(*) FILTER (WHERE n <> rn) + count(*) - count(DISTINCT serial)
         FROM (SELECT serial, split_part(serial, '-', 3)::int AS n, row_number() OVER (ORDER BY serial) AS rn
               FROM syncd_documents WHERE unit = '31120') x"
}
unaudited() {
    sql "WITH r AS (SELECT request_id, string_agg(decision, ',' ORDER BY seq) AS ds, max(seq) - min(seq) AS span,
                max(object) FILTER (WHERE decision = 'issued') AS obj
                FROM syncd_audit WHERE action = 'document.issue' GROUP BY request_id)
         SELECT count(*) FROM syncd_documents d LEFT JOIN r USING (request_id)
         WHERE r.ds IS DISTINCT FROM 'allow,issued' OR r.span <> 1
            OR r.obj IS DISTINCT FROM d.kind || '/' || d.record_key || ' ' || d.serial"
}
phantoms() {
    sql "SELECT count(*) FROM syncd_audit a LEFT JOIN syncd_documents d
         ON a.object = d.kind || '/' || d.record_key || ' ' || d.serial
         WHERE a.action = 'document.issue' AND a.decision = 'issued' AND d.serial IS NULL"
}
verify() { "$H_BUILD/syncctl" -c "$H_CONF" audit verify >"$H_TMP/verify.out" 2>&1 && echo intact || echo "broken: $(cat "$H_TMP/verify.out")"; }

# loop NAME KIND: requests one after the other until $H_TMP/stop.NAME; each
# logged as "start_ms end_ms status error serial" in $H_TMP/log.NAME
loop() {
    local name=$1 kind=$2 n=0 s e code body url user
    : >"$H_TMP/log.$name"
    while [[ ! -e $H_TMP/stop.$name ]]; do
        n=$((n + 1))
        if [[ $kind == issue ]]; then
            url=$API/v1/documents user=reg1
            body="{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}"
        else
            url=$API/v1/grants user=admin1
            body="{\"grantee\":\"$(sed -n "${n}p" "$H_TMP/grantees")\",\"role\":\"civil_registrar\",\"unit\":\"31120\"}"
        fi
        s=$(now_ms)
        code=$(curl -s -m 20 -o "$H_TMP/body.$name" -w '%{http_code}' -u "$user:pw-$user-secret" \
            -H 'Content-Type: application/json' --data-binary "$body" "$url") || code=000
        e=$(now_ms)
        echo "$s $e $code $(jq -r '(.error // "-") + " " + (.serial // "-")' "$H_TMP/body.$name" 2>/dev/null || echo 'no-json -')" >>"$H_TMP/log.$name"
        sleep 0.1
    done
}
# window NAME FROM TO: "total 2xx unclear" over the requests sent and answered within [FROM, TO]
window() {
    awk -v f="$2" -v t="$3" '$1 >= f && $2 <= t { n++; if ($3 ~ /^2/) ok++; if ($4 == "-" || $4 == "no-json") bad++ }
        END { printf "%d %d %d\n", n, ok, bad }' "$H_TMP/log.$1"
}
# first_ok NAME FROM: ms from FROM to the end of the first 2xx sent after it
first_ok() {
    awk -v f="$2" '$1 >= f && $3 ~ /^2/ { print $2 - f " ms"; found = 1; exit } END { if (!found) print "never" }' "$H_TMP/log.$1"
}

# ---------------------------------------------------------------- 4. slapd down
loop issue issue &
h_atexit_kill $!
loop grant grant &
h_atexit_kill $!
sleep 2
h_slapd_stop
t0=$(now_ms)
sleep "$slapd_down"
# down for slapd_down seconds and (on a slow machine) until each loop had
# two requests sent and answered inside the window, for at most a minute
for ((i = 0; i < 600; i++)); do
    [[ $(window issue $((t0 + 1500)) "$(now_ms)" | cut -d' ' -f1) -ge 2 &&
        $(window grant $((t0 + 1500)) "$(now_ms)" | cut -d' ' -f1) -ge 2 ]] && break
    sleep 0.1
done
t1=$(now_ms)
h_slapd_restart
t2=$(now_ms)
sleep 3
touch "$H_TMP/stop.issue" "$H_TMP/stop.grant"
sleep 1
# a decision cached within the last second may still be used (docs/api.md):
# the window starts 1.5 s after slapd stopped
for name in issue grant; do
    read -r n ok bad <<<"$(window "$name" $((t0 + 1500)) "$t1")"
    echo "figure: 4 slapd down: $name: $n requests while the directory was down, $ok answered 2xx; statuses $(awk -v f=$((t0 + 1500)) -v t="$t1" '$1 >= f && $2 <= t { print $3 " " $4 }' "$H_TMP/log.$name" | sort | uniq -c | tr -s ' \n' ' ')"
    [[ $n -gt 0 && $ok -eq 0 && $bad -eq 0 ]] &&
        h_ok "4: slapd down: all $n ${name}s refused with a status and an error, none allowed" ||
        h_fail "4: $name fails closed" "$n requests, $ok answered 2xx, $bad without an error"
    echo "figure: 4 slapd down: $name: first success $(first_ok "$name" "$t2") after slapd answered again (${slapd_down} s down)"
    [[ $(first_ok "$name" "$t2") != never ]] && h_ok "4: $name succeeds again after slapd is back, syncd not restarted" ||
        h_fail "4: $name after slapd is back" "$(tail -3 "$H_TMP/log.$name")"
done
h_assert_eq "4: the directory's refusals say why" directory_unavailable \
    "$(awk -v f=$((t0 + 1500)) -v t="$t1" '$1 >= f && $2 <= t && $3 !~ /^2/ { print $4; exit }' "$H_TMP/log.issue")"
h_pid_alive "$pid" && h_ok "4: syncd kept running (pid $pid)" || h_fail "4: syncd alive" "$(tail -3 "$H_TMP/daemon.log")"

# ---------------------------------------------------------------- 5. state DB restarted during issuance
rm -f "$H_TMP/stop.issue"
before=$(sql "SELECT count(*) FROM syncd_documents")
loop issue issue &
h_atexit_kill $!
secs=$((pg_restarts * 6 + 4))
"$BENCH" "$API" reg1 pw-reg1-secret "31120:$key" 8 "$secs" >"$H_TMP/bench.out" 2>&1 &
bench=$!
h_atexit_kill "$bench"
sleep 1
for ((k = 1; k <= pg_restarts; k++)); do
    h_psql -d postgres -c CHECKPOINT # a short crash recovery: the test's time goes to the fault
    _h_pg_run "$H_PG_BINDIR/pg_ctl" -D "$H_PG_DATA" -m immediate -w stop >/dev/null 2>&1
    t0=$(now_ms)
    sleep 1
    _h_pg_ctl_start
    t2=$(now_ms)
    sleep 4
    echo "figure: 5 state db restart $k: first document issued $(first_ok issue "$t2") after PostgreSQL was back (down $((t2 - t0)) ms)"
done
wait "$bench" 2>/dev/null || true
touch "$H_TMP/stop.issue"
sleep 1
ok=$(sed -n 's/^\([0-9]*\) documents.*/\1/p' "$H_TMP/bench.out")
made=$(($(sql "SELECT count(*) FROM syncd_documents") - before))
answered=$(awk '$3 == 201' "$H_TMP/log.issue" | wc -l)
echo "figure: 5 state db restarts: $pg_restarts restarts; $((${ok:-0} + answered)) documents answered 201, $made written; loop statuses $(awk '{ print $3 " " $4 }' "$H_TMP/log.issue" | sort | uniq -c | tr -s ' \n' ' ')"
[[ $((${ok:-0} + answered)) -le $made && $made -gt 0 ]] && h_ok "5: every 201 answered is a document (${ok:-0} + $answered answered, $made written)" ||
    h_fail "5: answered vs written" "answered ${ok:-0} + $answered, written $made: $(cat "$H_TMP/bench.out")"
missing=0
for serial in $(awk '$3 == 201 { print $5 }' "$H_TMP/log.issue"); do
    [[ $(sql "SELECT count(*) FROM syncd_documents WHERE serial = '$serial'") == 1 ]] || missing=$((missing + 1))
done
h_assert_eq "5: each serial answered is in the register" 0 "$missing"
h_assert_eq "5: refusals during the restarts carry an error (none without one)" 0 \
    "$(awk '$3 !~ /^2/ && ($4 == "-" || $4 == "no-json")' "$H_TMP/log.issue" | wc -l)"
h_assert_eq "5: serials 1..N without a gap or duplicate" 0 "$(gaps)"
h_assert_eq "5: no document without its allow and issued rows" 0 "$(unaudited)"
h_assert_eq "5: no issued row without its document" 0 "$(phantoms)"
h_assert_eq "5: syncctl audit verify: the chain is intact" intact "$(verify)"
h_assert_eq "5: issuance resumes without restarting syncd" 201 \
    "$(h_api reg1 POST /v1/documents "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}")"
h_pid_alive "$pid" && h_ok "5: syncd kept running (pid $pid)" || h_fail "5: syncd alive" "$(tail -3 "$H_TMP/daemon.log")"
h_summary
