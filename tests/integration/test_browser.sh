#!/bin/bash
# The web page in a real browser (issue 12): a city with the directory,
# documents (a signing key) and the demo personas (official, chair, city
# admin, auditor, a registrar-to-be, a deputy), syncd serving the page, then
# tests/browser/run.mjs drives Debian's chromium through every
# tests/browser/*.test.mjs.  Screenshots land in build/screenshots/.
# Nothing is skipped: without chromium, zbarimg or the npm packages the test
# fails and names the command that installs them.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

browser_dir=$H_ROOT/tests/browser
need=''
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || need+=" ${CHROMIUM:-/usr/bin/chromium}"
for cmd in node zbarimg; do
    command -v "$cmd" >/dev/null || need+=" $cmd"
done
for mod in playwright-core axe-core; do
    [[ -f $browser_dir/node_modules/$mod/package.json ]] || need+=" node_modules/$mod"
done
if [[ -n $need ]]; then
    h_fail "browser test dependencies" "missing:$need; run: scripts/deps.sh browser (as root, or the apt-get command it prints)"
    h_summary
fi

h_city_start 1000
h_city_ldap
h_city_personas
# a deputy who holds nothing until the city admin makes them chair in place of another (45_admin_replace)
h_ldap_user hoa.vo demo-pw-hoa 'Võ Thị Hoa' >/dev/null
export SYNCD_DEPUTY_UID=hoa.vo SYNCD_DEPUTY_PASSWORD=demo-pw-hoa
h_syncd_set "signing_key_file=$(h_signing_key)" "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=5
h_syncd_once
h_syncd_start
h_city_persona_grants
export SYNCD_URL=http://127.0.0.1:$H_API_PORT
# the standby of the pair (75_standby): the same configuration on another port
standby_port=$(h_freeport)
sed "s/^listen = .*/listen = 127.0.0.1:$standby_port/" "$H_CONF" >"$H_TMP/standby.conf"
"$H_SYNCD" -c "$H_TMP/standby.conf" >>"$H_TMP/standby.log" 2>&1 &
h_atexit_kill $!
for ((i = 0; i < 100; i++)); do
    grep -q standby <(curl -s "http://127.0.0.1:$standby_port/readyz" 2>/dev/null) && break
    sleep 0.1
done
export SYNCD_STANDBY_URL=http://127.0.0.1:$standby_port

# The outage test (70_outage) stops and restarts the directory.  slapd is this
# shell's child and its teardown stops it, so this shell does it: two small
# scripts (their paths in SYNCD_STOP_DIRECTORY / SYNCD_START_DIRECTORY) write
# "stop" or "start" into a FIFO this shell reads while node runs, and wait
# for its answer in a file ("ok" or what went wrong).
ctl=$H_TMP/ctl
mkdir "$ctl"
mkfifo "$ctl/req"
for cmd in stop start; do
    cat >"$ctl/$cmd-directory" <<EOF
#!/bin/bash
# Asks tests/integration/test_browser.sh to $cmd slapd; exits 0 once it has.
set -euo pipefail
rm -f "$ctl/answer"
echo $cmd >"$ctl/req"
for ((i = 0; i < 300; i++)); do
    if [[ -s "$ctl/answer" ]]; then
        answer=\$(cat "$ctl/answer")
        [[ \$answer == ok ]] && exit 0
        echo "$cmd-directory: \$answer" >&2
        exit 1
    fi
    sleep 0.1
done
echo "$cmd-directory: no answer from test_browser.sh in 30 s" >&2
exit 1
EOF
    chmod 0755 "$ctl/$cmd-directory"
done
export SYNCD_STOP_DIRECTORY=$ctl/stop-directory SYNCD_START_DIRECTORY=$ctl/start-directory

# Stops or restarts slapd as the FIFO asks, until node ends.
serve_directory_requests() {
    local node_pid=$1 req answer
    exec 7<>"$ctl/req" # read-write: never blocks on open, never sees EOF
    while h_pid_alive "$node_pid"; do
        read -r -t 1 req <&7 || continue
        case $req in
        stop) if h_slapd_stop; then answer=ok; else answer="h_slapd_stop failed"; fi ;;
        start) if h_slapd_restart 2>"$ctl/start.err"; then answer=ok; else answer="h_slapd_restart failed: $(tail -3 "$ctl/start.err")"; fi ;;
        *) answer="unknown request '$req'" ;;
        esac
        echo "$answer" >"$ctl/answer.tmp"
        mv "$ctl/answer.tmp" "$ctl/answer"
    done
    exec 7<&-
}

rm -rf "$H_ROOT/build/screenshots"
rc=0
timeout 200 node "$browser_dir/run.mjs" >"$H_TMP/browser.out" 2>&1 &
node_pid=$!
h_atexit_kill "$node_pid"
serve_directory_requests "$node_pid"
wait "$node_pid" || rc=$?
cat "$H_TMP/browser.out"
# a test that stopped the directory and failed before restarting it
if ! LDAPNOINIT=1 ldapsearch -x -H "$H_LDAP_URI" -b '' -s base -LLL '(objectClass=*)' namingContexts >/dev/null 2>&1; then
    h_fail "the directory runs after the browser tests" "slapd is down; restarting it"
    h_slapd_restart || true
fi
# the browser's own counts join this test's; a run that never closed is a failure
if tally=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$H_TMP/browser.out" | tail -1) && [[ -n $tally ]]; then
    H_PASS=$((H_PASS + ${tally%% *}))
    H_FAILED=$((H_FAILED + $(cut -d' ' -f3 <<<"$tally")))
    [[ $rc -eq 0 || $(cut -d' ' -f3 <<<"$tally") -ne 0 ]] || h_fail "run.mjs exits 0" "exit $rc"
else
    h_fail "run.mjs closes with its counts" "exit $rc"
fi
h_summary
