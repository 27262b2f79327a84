#!/bin/bash
# The web page in a real browser (issue 12): a city with the directory,
# documents (a signing key) and the demo personas (official, chair, city
# admin, auditor, a registrar-to-be), syncd serving the page, then
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
h_syncd_set "signing_key_file=$(h_signing_key)" "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=5
h_syncd_once
h_syncd_start
h_city_persona_grants
export SYNCD_URL=http://127.0.0.1:$H_API_PORT

rm -rf "$H_ROOT/build/screenshots"
rc=0
timeout 150 node "$browser_dir/run.mjs" >"$H_TMP/browser.out" 2>&1 || rc=$?
cat "$H_TMP/browser.out"
# the browser's own counts join this test's; a run that never closed is a failure
if tally=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$H_TMP/browser.out" | tail -1) && [[ -n $tally ]]; then
    H_PASS=$((H_PASS + ${tally%% *}))
    H_FAILED=$((H_FAILED + $(cut -d' ' -f3 <<<"$tally")))
    [[ $rc -eq 0 || $(cut -d' ' -f3 <<<"$tally") -ne 0 ]] || h_fail "run.mjs exits 0" "exit $rc"
else
    h_fail "run.mjs closes with its counts" "exit $rc"
fi
h_summary
