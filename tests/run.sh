#!/bin/bash
# Runs test programs and sums their results into one closing line
# "N passed, N failed".  usage: run.sh UNIT... [-- ASAN... [-- INTEGRATION...]]
# Unit tests are cmocka programs; integration tests are scripts ending with
# their own "N passed, N failed" line (tests/harness/lib.sh h_summary).
set -u
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
failures=()
logdir=$(mktemp -d /tmp/syncd-run.XXXXXX)
phase=unit

run_one() {
	local prog=$1 label=$2 log rc p f
	log="$logdir/$(echo "$label" | tr '/ ' '__').log"
	local t0=$SECONDS
	"$prog" >"$log" 2>&1
	rc=$?
	if [ "$phase" = integration ]; then
		p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f1)
		f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f3)
	else
		p=$(grep -Eo '\[  PASSED  \] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
		f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
	fi
	p=${p:-0}
	f=${f:-0}
	# a crash or a non-zero exit without a failed count is still a failure
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-12s %-40s %4d passed, %d failed  (%ds)\n' "$phase" "$label" "$p" "$f" $((SECONDS - t0))
	if [ "$f" -ne 0 ]; then
		failures+=("$label")
		echo "----- $label (exit $rc) -----"
		tail -n 60 "$log"
		echo "-----"
	fi
}

for arg in "$@"; do
	if [ "$arg" = "--" ]; then
		case $phase in unit) phase=asan ;; asan) phase=integration ;; esac
		continue
	fi
	if [ "$phase" = asan ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 run_one "$arg" "$(basename "$arg") (asan)"
	else
		run_one "$arg" "$(basename "$arg")"
	fi
done

rm -rf "$logdir"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
