#!/bin/bash
# The layout rules of `make lint` (issue 11 item 8) check what they say:
# scripts/lint-rules.sh, run on a throwaway tree, fails a 101-line function
# (and passes a 100-line one), each wrong include direction, a stale or
# reasonless exception, and a syncctl that holds daemon code, naming each
# as file:line; on the real tree the include and nm rules pass.
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"

h_init
T=$H_TMP/tree
mkdir -p "$T/scripts" "$T/common" "$T/authz" "$T/connectors" "$T/syncd/sync" "$T/syncd/api" "$T/build"

# the script under test, with its exception list replaced by the tree's own
sed "/^EXCEPTIONS='/,/^'/{/^EXCEPTIONS='/!{/^'/!d}}" "$H_ROOT/scripts/lint-rules.sh" >"$T/scripts/lint-rules.sh"
sed -i "/^EXCEPTIONS='/a\\
syncd/sync/allowed.c:long_allowed  # a test: listed, so it passes\\
authz/short.c:tiny  # a test: listed but short\\
common/gone.c:vanished  # a test: the file is gone\\
authz/short.c:no_reason" "$T/scripts/lint-rules.sh"
chmod +x "$T/scripts/lint-rules.sh"

# fn NAME BODY-LINES: a function whose body ({ through }) has BODY-LINES lines
fn() {
	local i
	printf 'static int %s(int x)\n{\n' "$1"
	for ((i = 0; i < $2 - 3; i++)); do printf '\tx += %d;\n' "$i"; done
	printf '\treturn x;\n}\n'
}
{
	printf '/* a long function\n * and a limit one */\n'
	fn just_fits 100
	fn too_long 101
} >"$T/syncd/sync/long.c"
{ printf '/* listed */\n'; fn long_allowed 150; } >"$T/syncd/sync/allowed.c"
{ printf '/* short */\n'; fn tiny 5; } >"$T/authz/short.c"
printf '/* wrong ways */\n#include "common/log.h"\n#include "syncd/config.h"\n' >"$T/authz/up.c"
printf '/* wrong ways */\n#include "syncd/sync/plan.h"\n' >"$T/connectors/up.h"
printf '/* wrong ways */\n#include "syncd/sync/state.h"\n#include "syncd/api/api.h"\n' >"$T/syncd/sync/toapi.c"
printf '/* wrong ways */\n#include <stdio.h>\n#include "common/buf.h"\n#include "authz/sign.h"\n' >"$T/common/up.c"
printf '/* right way */\n#include "syncd/sync/plan.h"\n#include "authz/authz.h"\n' >"$T/syncd/api/down.c"

out=$("$T/scripts/lint-rules.sh" --root "$T" --rules length,includes 2>&1) && rc=0 || rc=$?
h_assert_eq "a tree with violations: exit 1" 1 "$rc"
# expect LABEL FIXED-STRING: the output holds the string
expect() {
	if grep -qF -- "$2" <<<"$out"; then h_ok "$1"; else h_fail "$1" "no '$2' in: $out"; fi
}
expect "a 101-line function is named with file:line" "syncd/sync/long.c:104: function too_long is 101 lines long (limit 100); fix: "
grep -q just_fits <<<"$out" && h_fail "a 100-line function passes" "$out" || h_ok "a 100-line function passes"
grep -q 'long_allowed\b' <<<"$out" && h_fail "a listed long function passes" "$out" || h_ok "a listed long function passes"
l=$(grep -n '^authz/short.c:tiny' "$T/scripts/lint-rules.sh" | cut -d: -f1)
expect "an exception for a function now short is stale" \
	"scripts/lint-rules.sh:$l: stale exception authz/short.c:tiny: it is 5 lines now, within the limit of 100; fix: remove it"
l=$(grep -n '^common/gone.c:vanished' "$T/scripts/lint-rules.sh" | cut -d: -f1)
expect "an exception for a function that is gone is stale" \
	"scripts/lint-rules.sh:$l: stale exception common/gone.c:vanished: no such function; fix: remove it"
l=$(grep -n '^authz/short.c:no_reason' "$T/scripts/lint-rules.sh" | cut -d: -f1)
expect "an exception without its reason is refused" "scripts/lint-rules.sh:$l: exception 'authz/short.c:no_reason' is not 'file:function  # reason'"
expect "authz/ including syncd/ is named" 'authz/up.c:3: authz/ includes "syncd/config.h", but nothing below syncd/ may depend on it; fix: '
expect "connectors/ including syncd/ is named (headers too)" 'connectors/up.h:2: connectors/ includes "syncd/sync/plan.h"'
expect "syncd/sync/ including syncd/api/ is named" 'syncd/sync/toapi.c:3: syncd/sync/ includes "syncd/api/api.h", but sync must not know the API; fix: '
expect "common/ including authz/ is named" 'common/up.c:4: common/ includes "authz/sign.h", but common/ depends on nothing of ours outside common/; fix: '
h_assert_eq "nothing else is reported (8 violations)" "8" "$(grep -cE '^[^ ]+:[0-9]+: ' <<<"$out")"
h_assert_eq "the count closes the output" "lint-rules: 8 violation(s)" "$(tail -1 <<<"$out")"

# a syncctl that carries daemon code
printf 'int api_start(void);\nint api_start(void) { return 0; }\nint stream_run(void);\nint stream_run(void) { return 1; }\nint main(void) { return api_start() + stream_run(); }\n' >"$H_TMP/fake.c"
cc -o "$T/build/syncctl" "$H_TMP/fake.c"
out=$("$T/scripts/lint-rules.sh" --root "$T" --rules nm 2>&1) && rc=0 || rc=$?
h_assert_eq "a syncctl with daemon code: exit 1" 1 "$rc"
expect "nm names api_start" "build/syncctl:1: contains api_start (daemon code in the operator's command); fix: "
expect "nm names stream_run" "build/syncctl:1: contains stream_run"
grep -qE 'snapshot_run|audit_append' <<<"$out" && h_fail "only what it holds is named" "$out" ||
	h_ok "only what it holds is named"

# the real tree: no function over the limit, includes run one way,
# syncctl holds no daemon code
out=$("$H_ROOT/scripts/lint-rules.sh" --rules length 2>&1) && rc=0 || rc=$?
h_assert_eq "the real tree passes the function-length rule" "0" "$rc${out:+: $out}"
out=$("$H_ROOT/scripts/lint-rules.sh" --rules includes 2>&1) && rc=0 || rc=$?
h_assert_eq "the real tree passes the include rule" "0" "$rc${out:+: $out}"
out=$("$H_ROOT/scripts/lint-rules.sh" --rules nm 2>&1) && rc=0 || rc=$?
h_assert_eq "the real build/syncctl passes the nm rule" "0" "$rc${out:+: $out}"
h_summary
