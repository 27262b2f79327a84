#!/bin/bash
# Issuance speed (issues 5 and 14), in one run on one machine: 32
# concurrent clients (bench_issue: threads, libcurl, keep-alive) issuing
# birth extracts through the API (login cached, decision cached, record
# read from the unit's copy; then serial, signature, document and its allow
# + issued audit rows in one state-DB transaction, group-committed with the
# other issues in flight), all in ONE unit (one gap-free serial sequence)
# and spread over 32 units, beside the reference: a bare single-row INSERT
# loop into the same state DB with the same 32 clients (pgbench).  Audit
# appends/s are counted from the rows the first run added; documents per
# commit from the register's transaction ids.  Target: >= 1,000
# documents/s with p99 < 50 ms on 2 cores, in both cases.
# syncd runs with api_threads = 32, one worker per client: since issue 14
# a worker issuing a document mostly waits for the group commit (it burns
# no CPU), and the commit can only group the documents whose workers are
# waiting; with the default 8 the batches hold at most 8.
# usage: bench/documents.sh [SECONDS]   (default 20; BENCH_DOC_CLIENTS
# clients, default 32; BENCH_DOC_THREADS api_threads, default 32)
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

secs=${1:-${BENCH_DOC_SECS:-20}}
clients=${BENCH_DOC_CLIENTS:-32}
h_init
h_pg_start
h_city_setup 10000 >/dev/null
h_slapd_start --dit
h_ldap_user admin1 pw-admin >/dev/null
h_ldap_user reg1 pw-reg1 >/dev/null
h_ldap_group_add city_admin admin1 >/dev/null
openssl genpkey -algorithm ed25519 -out "$H_TMP/sign.pem" 2>/dev/null
chmod 600 "$H_TMP/sign.pem"
h_city_conf "$H_CONF"
h_ldap_conf "$H_CONF"
sed -i "s|^\[syncd\]$|[syncd]\nsigning_key_file = $H_TMP/sign.pem\napi_threads = ${BENCH_DOC_THREADS:-32}|" "$H_CONF"
"$H_SYNCD" -c "$H_CONF" --once >/dev/null 2>&1
"$H_SYNCD" -c "$H_CONF" >"$H_TMP/daemon.log" 2>&1 &
pid=$!
h_atexit_kill "$pid"
API=http://127.0.0.1:$H_API_PORT
for ((i = 0; i < 300; i++)); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
units=$(h_psql -d tier -c "SELECT string_agg(code, ' ') FROM (SELECT substr(nspname, 2) AS code FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}$' ORDER BY 1 LIMIT 32) x")
spread=""
for u in $units; do
    curl -s -u admin1:pw-admin -H 'Content-Type: application/json' \
        --data-binary "{\"grantee\":\"reg1\",\"role\":\"civil_registrar\",\"unit\":\"$u\"}" "$API/v1/grants" >/dev/null
    k=$(h_psql -d tier -c "SELECT id FROM u$u.khai_sinh ORDER BY id LIMIT 1")
    [[ -n $k ]] && spread+="${spread:+,}$u:$k"
done
one=${spread%%,*}
echo "bench: documents: $clients clients for $secs s each, api_threads ${BENCH_DOC_THREADS:-32} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
a0=$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_audit")
t0=$(date +%s.%N)
res1=$("$H_ROOT/build/bench_issue" "$API" reg1 pw-reg1 "$one" "$clients" "$secs")
t1=$(date +%s.%N)
a1=$(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_audit")
res2=$("$H_ROOT/build/bench_issue" "$API" reg1 pw-reg1 "$spread" "$clients" "$secs")
kill -TERM "$pid"; wait "$pid" || true
per_commit=$(h_psql -d syncd_state -c "SELECT round(count(*)::numeric / count(DISTINCT xmin::text), 1) FROM syncd_documents")
h_psql -d syncd_state -c "CREATE TABLE bench_ref (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
echo "INSERT INTO bench_ref (body) VALUES (repeat('x', 400));" >"$H_TMP/ref.sql"
ref=$("$H_PG_BINDIR/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U postgres -c "$clients" -j 2 -T "$secs" -f "$H_TMP/ref.sql" syncd_state 2>&1 |
    awk '/latency average/ { lat = $4 } /^tps/ { tps = $3 } END { printf "%.0f inserts/s, latency average %s ms", tps, lat }')
echo
echo "| measurement ($clients clients, $secs s) | result |"
echo "|---|---|"
echo "| syncd: POST /v1/documents, all in one unit (${one%%:*}: one gap-free serial sequence) | $res1 |"
echo "| syncd: POST /v1/documents, spread over $(tr ',' '\n' <<<"$spread" | wc -l) units | $res2 |"
echo "| syncd: documents per state-DB commit (mean; api_threads = ${BENCH_DOC_THREADS:-32}) | $per_commit |"
echo "| syncd: audit appends during the run | $(awk -v a="$a0" -v b="$a1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.0f/s", (b - a) / (y - x) }') |"
echo "| reference: bare single-row INSERT, same state DB (pgbench) | $ref |"
