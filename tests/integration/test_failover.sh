#!/bin/bash
# Active/standby with fencing (issue 15): two syncd instances on one
# configuration (only the listen address differs) elect one active instance
# through the lease row in the state database.  The standby says "standby"
# in STATUS, /readyz (503) and /v1/status, serves the public verification
# page and refuses the API with 503.  Under a streaming workload and
# concurrent issuance, the active instance is killed with -9 KILLS times
# (default 20; `make soak` more): each time the standby takes over the slot
# and the API, and the killed one comes back as the standby.  Then the
# active instance is paused (SIGSTOP) until the standby has taken over, and
# resumed: the database refuses what it still writes under its old term (no
# checkpoint moves back, the audit chain does not fork) and it exits 75.
# An instance cut off from the state database stops by itself (75) and the
# other takes over; SIGTERM hands the lease over at once.  The order
# validator samples the units throughout.  At the end every unit equals the
# oracle, serials are gap-free, every document has its audit rows (the
# standby's verification rows in the same chain) and `syncctl audit verify`
# passes.  The
# takeover times are printed as figures, not asserted.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"
. "$(dirname "$0")/../harness/validator.sh"

kills=${KILLS:-20}
soak=${SOAK_SECONDS:-0} # make soak: minutes of mixed load and failovers, RSS watched
h_city_documents 2000 30 lease=2
h_syncd_set "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=50
h_ldap_users "Lê Thị" admin1 reg1 reg2
h_ldap_group_add city_admin admin1
BENCH=$H_ROOT/build/bench_issue
[[ -x $BENCH ]] || make -C "$H_ROOT" --no-print-directory build/bench_issue >/dev/null
sql() { h_psql -d syncd_state -c "$1"; }

# instance B: the same configuration on another listen address
PORT_A=$H_API_PORT
PORT_B=$(h_freeport)
CONF_A=$H_CONF
CONF_B=$H_TMP/syncd-b.conf
sed "s/^listen = .*/listen = 127.0.0.1:$PORT_B/" "$CONF_A" >"$CONF_B"
declare -A PID PORT=([a]=$PORT_A [b]=$PORT_B) CONF=([a]=$CONF_A [b]=$CONF_B)

start() { # start INSTANCE: runs it, waits until /healthz answers
    local i
    "$H_SYNCD" -c "${CONF[$1]}" >>"$H_TMP/$1.log" 2>&1 &
    PID[$1]=$!
    h_atexit_kill "${PID[$1]}"
    for ((i = 0; i < 300; i++)); do
        curl -sf "http://127.0.0.1:${PORT[$1]}/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    h_fail "instance $1 starts" "$(tail -5 "$H_TMP/$1.log")"
    return 1
}
role() { # role INSTANCE: active | standby | down, from /v1/status
    curl -s -m 3 "http://127.0.0.1:${PORT[$1]}/v1/status" 2>/dev/null | jq -r '.role // "down"' 2>/dev/null || echo down
}
wait_role() { # wait_role INSTANCE ROLE SECONDS: 0 once it says so
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [[ $(role "$1") == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}
other() { [[ $1 == a ]] && echo b || echo a; }

# ---------------------------------------------------------------- the slot held by a former session
# a session on land's slot left by an earlier active instance (named
# syncd:CLUSTER) is ended by the new one at once; another program's is
# waited for.  Nothing is written to land meanwhile, so the holder's
# acknowledgements move nothing.
hold_slot() { # hold_slot APPNAME: a pg_recvlogical on syncd_land, its pid printed
    "$H_PG_BINDIR/pg_recvlogical" -U syncd_repl -d "host=127.0.0.1 port=$PGPORT dbname=land application_name=$1" \
        --slot syncd_land --start --no-loop -o proto_version=1 -o publication_names=syncd_land -f /dev/null \
        >>"$H_TMP/recvlogical.log" 2>&1 &
    echo $!
}
slot_pid() { h_psql -d land -c "SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = 'syncd_land'"; }
held=$(hold_slot dba-tool)
h_atexit_kill "$held"
for ((i = 0; i < 50; i++)); do [[ $(slot_pid) != 0 ]] && break; sleep 0.1; done
start a
sleep 3
h_pid_alive "$held" && grep -q "still held" "$H_TMP/a.log" &&
    h_ok "another program's session on the slot is waited for, not ended" ||
    h_fail "foreign slot holder" "alive: $(h_pid_alive "$held" && echo yes || echo no); $(tail -3 "$H_TMP/a.log")"
kill "${PID[a]}" && wait "${PID[a]}" 2>/dev/null || true
kill "$held" 2>/dev/null && wait "$held" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do [[ $(slot_pid) == 0 ]] && break; sleep 0.1; done
held=$(hold_slot syncd:syncd)
h_atexit_kill "$held"
for ((i = 0; i < 50; i++)); do [[ $(slot_pid) != 0 ]] && break; sleep 0.1; done
start a
for ((i = 0; i < 100; i++)); do h_pid_alive "$held" || break; sleep 0.1; done
! h_pid_alive "$held" && grep -q "held by an earlier instance's session; ended it" "$H_TMP/a.log" &&
    h_ok "a former session of this cluster on the slot is ended by the new active instance" ||
    h_fail "stale slot holder" "$(tail -3 "$H_TMP/a.log")"
kill "${PID[a]}" && wait "${PID[a]}" 2>/dev/null || true

# ---------------------------------------------------------------- roles
sock=$H_TMP/notify.sock
"$H_BUILD/notify_listen" "$sock" "$H_TMP/notes" &
h_atexit_kill $!
start a
wait_role a active 10 && h_ok "the first instance takes the lease: active" || h_fail "a active" "$(role a)"
h_api admin1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}' >/dev/null
NOTIFY_SOCKET=$sock "$H_SYNCD" -c "$CONF_B" >>"$H_TMP/b.log" 2>&1 &
PID[b]=$!
h_atexit_kill "${PID[b]}"
wait_role b standby 10 && h_ok "the second instance waits: standby in /v1/status" || h_fail "b standby" "$(role b)"
code=$(curl -s -o "$H_TMP/readyz" -w '%{http_code}' "http://127.0.0.1:$PORT_B/readyz")
[[ $code == 503 ]] && grep -q standby "$H_TMP/readyz" && h_ok "standby /readyz: 503 with the word standby" ||
    h_fail "standby /readyz" "$code $(cat "$H_TMP/readyz")"
for ((i = 0; i < 50; i++)); do grep -q '^STATUS=standby' "$H_TMP/notes" 2>/dev/null && break; sleep 0.1; done
grep -q '^STATUS=standby: .*pid' "$H_TMP/notes" && h_ok "standby STATUS names the active instance" ||
    h_fail "standby STATUS" "$(grep STATUS "$H_TMP/notes" | tail -2)"
SYNCCTL_URL=http://127.0.0.1:$PORT_B "$H_BUILD/syncctl" status >"$H_TMP/ctl.out" 2>&1 || true
grep -q '^role: standby, term [0-9]*; active instance: .*pid' "$H_TMP/ctl.out" && h_ok "syncctl status on the standby: role standby and the active instance" ||
    h_fail "syncctl status role" "$(cat "$H_TMP/ctl.out")"
key=$(h_psql -d tier -c "SELECT id FROM u31120.khai_sinh ORDER BY id LIMIT 1")
code=$(h_api reg1 POST /v1/documents "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}")
serial=$(jq -r .serial "$H_TMP/body" 2>/dev/null || true)
[[ $code == 201 ]] && h_ok "the active instance issues ($serial)" || h_fail "issue on active" "$code $(cat "$H_TMP/body")"
code=$(curl -s -o "$H_TMP/b.body" -w '%{http_code}' -u reg1:pw-reg1-secret -H 'Content-Type: application/json' \
    --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}" "http://127.0.0.1:$PORT_B/v1/documents")
[[ $code == 503 ]] && grep -q standby "$H_TMP/b.body" && h_ok "the standby refuses issuance: 503 standby, naming the active one" ||
    h_fail "standby refuses API" "$code $(cat "$H_TMP/b.body")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_B/verify/$serial")
h_assert_eq "the standby serves the public verification page" 200 "$code"

# ---------------------------------------------------------------- kill -9 of the active, KILLS times
workload() {
    local i codes=(31117 31120 31123 31135 31213 31178 99999 '') c m
    for ((i = 1; ; i++)); do
        [[ -e $H_TMP/stop ]] && return 0
        c=${codes[RANDOM % 6]}
        m=${codes[RANDOM % 8]}
        h_parcel_txn "$i" "$c" "$m" any | psql -X -q -d land >>"$H_TMP/workload.log" 2>&1 || true
        sleep 0.02
    done
}
issuer() { # issues against whichever instance answers, until told to stop
    local p n=0
    while [[ ! -e $H_TMP/stop ]]; do
        for p in "$PORT_A" "$PORT_B"; do
            code=$(curl -s -m 5 -o "$H_TMP/issue.out" -w '%{http_code}' -u reg1:pw-reg1-secret -H 'Content-Type: application/json' \
                --data-binary "{\"kind\":\"birth_extract\",\"unit\":\"31120\",\"key\":\"$key\"}" \
                "http://127.0.0.1:$p/v1/documents" 2>/dev/null || true)
            [[ $code == 201 ]] && n=$((n + 1)) && echo "$n" >"$H_TMP/issued.$BASHPID"
        done
        sleep 0.05
    done
}
# the order validator samples every unit and the quarantine through the
# failovers: no version goes back, no row in two places at once
h_validator_start "host=127.0.0.1 port=$PGPORT dbname=tier user=postgres:group"
workload &
h_atexit_kill $!
for w in 1 2; do
    issuer &
    h_atexit_kill $!
done
verifier() { # the public page on both instances: the standby's audit rows join the same chain
    while [[ ! -e $H_TMP/stop ]]; do
        curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT_A/verify/$serial" || true
        curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT_B/verify/$serial" || true
        sleep 0.2
    done
}
verifier &
h_atexit_kill $!
kill "${PID[b]}" 2>/dev/null && wait "${PID[b]}" 2>/dev/null || true
start b
wait_role b standby 10 || h_fail "b standby again" "$(role b)"
active=a takeovers=() survived=0
for ((k = 1; k <= kills; k++)); do
    sleep "0.$((RANDOM % 9 + 1))"
    standby=$(other $active)
    t0=$(date +%s%3N)
    kill -9 "${PID[$active]}"
    wait "${PID[$active]}" 2>/dev/null || true
    if wait_role "$standby" active 30; then
        survived=$((survived + 1))
        takeovers+=("$(awk -v d=$(($(date +%s%3N) - t0)) 'BEGIN { printf "%.1f", d / 1000 }')")
    else
        h_fail "kill #$k: $standby takes over" "$(role "$standby"); $(tail -3 "$H_TMP/$standby.log")"
        break
    fi
    start "$active"
    wait_role "$active" standby 10 || h_fail "kill #$k: the killed instance comes back as the standby" "$(role "$active")"
    active=$standby
done
h_assert_eq "kill -9 of the active instance: the standby took over every time" "$kills" "$survived"
printf '%s\n' "${takeovers[@]}" | sort -n >"$H_TMP/takeovers"
echo "figure: takeover after kill -9 (lease 2 s): n=$(wc -l <"$H_TMP/takeovers") min $(head -1 "$H_TMP/takeovers") s, median $(sed -n "$(( ($(wc -l <"$H_TMP/takeovers") + 1) / 2 ))p" "$H_TMP/takeovers") s, max $(tail -1 "$H_TMP/takeovers") s"

# ---------------------------------------------------------------- a paused active instance resumes
# every unit's checkpoints (schema, source, lsn, term), in the tier
h_psql -d tier <<'SQL'
CREATE FUNCTION public.all_ckpt() RETURNS TABLE (s text, source text, lsn pg_lsn, term bigint) LANGUAGE plpgsql AS $$
DECLARE r record; BEGIN
  FOR r IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^u[0-9]{5}$' LOOP
    RETURN QUERY EXECUTE format('SELECT %L::text, source, lsn, term FROM %I.syncd_checkpoint', r.nspname, r.nspname);
  END LOOP; END $$;
SQL
standby=$(other $active)
term0=$(sql "SELECT term FROM syncd_leader")
kill -STOP "${PID[$active]}"
wait_role "$standby" active 30 && h_ok "paused active instance: the standby takes over when its lease runs out" ||
    h_fail "takeover from a paused instance" "$(role "$standby")"
sleep 2 # the new active instance streams and issues
h_psql -d tier -c "CREATE TABLE ck_before AS SELECT * FROM public.all_ckpt()"
seq_before=$(sql "SELECT seq FROM syncd_audit_head")
kill -CONT "${PID[$active]}"
rc=0
for ((i = 0; i < 100; i++)); do h_pid_alive "${PID[$active]}" || break; sleep 0.1; done
wait "${PID[$active]}" 2>/dev/null || rc=$?
h_assert_eq "the resumed old leader finds its lease lost and exits 75" 75 "$rc"
grep -q "lost the lease" "$H_TMP/$active.log" && h_ok "... saying so in its log" || h_fail "lost-lease log" "$(tail -3 "$H_TMP/$active.log")"
for ((i = 0; i < 300; i++)); do # the new active instance streams (the slot is its own)
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$standby]}/readyz") == 200 ]] && break
    sleep 0.1
done
h_city_caught_up
h_assert_eq "every unit checkpoint was raised to the new term at the takeover" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM public.all_ckpt() WHERE term <= $term0")"
h_assert_eq "no unit checkpoint moved back after the old leader resumed" 0 \
    "$(h_psql -d tier -c "SELECT count(*) FROM ck_before b JOIN public.all_ckpt() c USING (s, source) WHERE c.lsn < b.lsn")"
h_assert_eq "the audit chain goes on from the head the new leader wrote (no fork)" t \
    "$(sql "SELECT seq >= $seq_before FROM syncd_audit_head")"
echo "figure: units whose checkpoints were compared across the resume: $(h_psql -d tier -c "SELECT count(*) FROM ck_before")"
start "$active"
wait_role "$active" standby 10 && h_ok "restarted, the old leader is the standby" || h_fail "old leader standby" "$(role "$active")"

# ---------------------------------------------------------------- the active instance loses the state database
# one instance reaches the state database through a forwarder; killing it
# cuts that instance alone off, as a machine losing its network to it
x=$active y=$standby # x: the standby now, y: active
pport=$(h_freeport)
python3 "$H_ROOT/tests/harness/tcp_proxy.py" "$pport" 127.0.0.1 "$PGPORT" &
proxy=$!
h_atexit_kill $proxy
for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.1; done
sed "s/port=$PGPORT dbname=syncd_state/port=$pport dbname=syncd_state/" "${CONF[$x]}" >"$H_TMP/syncd-$x-proxy.conf"
conf_x=${CONF[$x]}
CONF[$x]=$H_TMP/syncd-$x-proxy.conf
kill "${PID[$x]}" && wait "${PID[$x]}" 2>/dev/null || true
start "$x"
kill "${PID[$y]}" && wait "${PID[$y]}" 2>/dev/null || true # SIGTERM hands the lease over at once
wait_role "$x" active 15 && h_ok "SIGTERM of the active instance: the standby takes over at once" ||
    h_fail "handover on SIGTERM" "$(role "$x")"
start "$y"
wait_role "$y" standby 10 || h_fail "$y standby" "$(role "$y")"
t0=$(date +%s%3N)
kill -9 "$proxy" && { wait "$proxy" 2>/dev/null || true; }
rc=0
for ((i = 0; i < 150; i++)); do h_pid_alive "${PID[$x]}" || break; sleep 0.1; done
wait "${PID[$x]}" 2>/dev/null || rc=$?
h_assert_eq "the active instance cut off from the state database stops by itself (exit 75)" 75 "$rc"
wait_role "$y" active 15 && h_ok "... and the standby, which still reaches it, takes over" ||
    h_fail "takeover after the state DB loss" "$(role "$y")"
echo "figure: active cut off from the state database -> other instance active: $(awk -v d=$(($(date +%s%3N) - t0)) 'BEGIN { printf "%.1f", d / 1000 }') s (lease 2 s)"
CONF[$x]=$conf_x
start "$x"
wait_role "$x" standby 10 || h_fail "$x standby again" "$(role "$x")"
active=$y

# ---------------------------------------------------------------- soak (make soak)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
granter() { # grants and revocations against whichever instance is active
    local p id
    while [[ ! -e $H_TMP/stop ]]; do
        for p in "$PORT_A" "$PORT_B"; do
            curl -s -m 5 -o "$H_TMP/grant.out" -u admin1:pw-admin1-secret -H 'Content-Type: application/json' \
                --data-binary '{"grantee":"reg2","role":"civil_registrar","unit":"31135"}' \
                "http://127.0.0.1:$p/v1/grants" >/dev/null 2>&1 || true
            id=$(jq -r '.id // empty' "$H_TMP/grant.out" 2>/dev/null || true)
            if [[ -n $id ]]; then
                curl -s -m 5 -o /dev/null -X DELETE -u admin1:pw-admin1-secret "http://127.0.0.1:$p/v1/grants/$id" || true
            fi
            rm -f "$H_TMP/grant.out"
        done
        sleep 0.5
    done
}
if ((soak > 0)); then
    # RSS per process and role (a standby holds less than an active one):
    # the first sample SOAK_WARMUP (300) s into a role, once its caches
    # (statements per unit table, the directory's) have filled; the last
    # while still in it
    granter &
    h_atexit_kill $!
    every=${SOAK_FAILOVER_EVERY:-600}
    declare -A since first last
    end=$((SECONDS + soak)) next_kill=$((SECONDS + every)) failovers=0
    while ((SECONDS < end)); do
        sleep 10
        for x in a b; do
            p=${PID[$x]} r=$(role "$x") m=$(rss "${PID[$x]}")
            [[ $r == active || $r == standby ]] && [[ $m -gt 0 ]] || continue
            [[ -n ${since[$p:$r]:-} ]] || since[$p:$r]=$SECONDS
            ((SECONDS - ${since[$p:$r]} >= ${SOAK_WARMUP:-300})) || continue
            [[ -n ${first[$p:$r]:-} ]] || first[$p:$r]=$m
            last[$p:$r]=$m
        done
        if ((SECONDS >= next_kill)); then
            standby=$(other $active)
            kill -9 "${PID[$active]}"
            wait "${PID[$active]}" 2>/dev/null || true
            wait_role "$standby" active 30 || h_fail "soak failover: $standby takes over" "$(role "$standby")"
            start "$active"
            active=$standby failovers=$((failovers + 1)) next_kill=$((SECONDS + every))
        fi
    done
    worst=0
    for k in "${!first[@]}"; do
        g=$(awk -v a="${first[$k]}" -v b="${last[$k]}" 'BEGIN { printf "%.1f", (a > 0 ? (b - a) * 100 / a : 0) }')
        echo "figure: soak: pid ${k%%:*} as ${k#*:}: RSS ${first[$k]} kB after warm-up -> ${last[$k]} kB (${g}%)"
        awk -v g="$g" -v w="$worst" 'BEGIN { exit !(g > w) }' && worst=$g
    done
    echo "figure: soak: $soak s, $failovers failovers, grants made and revoked: $(sql "SELECT count(*) FROM syncd_audit WHERE action = 'grant.revoke' AND decision = 'allow'")"
    [[ ${#first[@]} -gt 0 ]] && awk -v w="$worst" 'BEGIN { exit !(w < 10) }' &&
        h_ok "soak: RSS growth after warm-up under 10% in every process and role (worst ${worst}%)" ||
        h_fail "soak: RSS growth" "worst ${worst}% over ${#first[@]} process roles"
fi

# ---------------------------------------------------------------- the end: nothing lost, nothing doubled
touch "$H_TMP/stop"
sleep 1
kill "${PID[a]}" "${PID[b]}" 2>/dev/null || true
wait "${PID[a]}" "${PID[b]}" 2>/dev/null || true
h_city_once "after $kills kills and a paused leader"
h_validator_check "through $kills failovers, a paused leader and a state database lost"
n=$(sql "SELECT count(*) FROM syncd_documents WHERE unit = '31120'")
h_assert_eq "serials of 31120 are 1..$n, no gap, no duplicate" 0 \
    "$(sql "SELECT count(*) FILTER (WHERE n <> rn) + count(*) - count(DISTINCT serial) FROM (SELECT serial,
        split_part(serial, '-', 3)::int AS n, row_number() OVER (ORDER BY serial) AS rn FROM syncd_documents WHERE unit = '31120') x")"
h_assert_eq "every document has its allow and issued audit rows" 0 \
    "$(sql "SELECT count(*) FROM syncd_documents d LEFT JOIN (SELECT request_id, count(*) AS n FROM syncd_audit
        WHERE action = 'document.issue' GROUP BY request_id) a USING (request_id) WHERE coalesce(a.n, 0) <> 2")"
h_assert_eq "the standby's verification rows share the chain with the active one's" t \
    "$(sql "SELECT count(*) > 0 FROM syncd_audit WHERE action = 'document.verify'")"
"$H_BUILD/syncctl" -c "$H_CONF" audit verify >"$H_TMP/verify.out" 2>&1 && h_ok "syncctl audit verify: one linear chain, intact" ||
    h_fail "audit verify" "$(cat "$H_TMP/verify.out")"
echo "figure: documents issued across the failovers: $n; terms: $(sql "SELECT term FROM syncd_leader")"
h_summary
