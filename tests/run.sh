#!/bin/bash
# Runs test programs and sums their results into one closing line
# "N passed, N failed".  usage: run.sh UNIT... [-- ASAN... [-- INTEGRATION...]]
# Unit tests are cmocka programs; integration tests are scripts ending with
# their own "N passed, N failed" line (tests/harness/lib.sh h_summary).
# Integration tests run CHECK_JOBS at a time (default 2; each has its own
# servers, ports and temp dir), the longest first; results print as each
# ends and the failures' logs at the end.
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

# The integration tests that take longest, started first so the lanes end together.
LONG_FIRST="test_faults_stream.sh test_bench_smoke.sh test_failover.sh test_stream_crash.sh test_faults_api.sh test_stream.sh test_stream_ops.sh
test_systemd.sh test_browser.sh test_http_target.sh"

# One integration test in the background: its counts go to $logdir/NAME.res.
run_bg() {
	local prog=$1 label=$2 log rc p f figs t0=$SECONDS
	log="$logdir/$label.log"
	"$prog" >"$log" 2>&1
	rc=$?
	p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f1)
	f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f3)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "$p $f $rc" >"$logdir/$label.res"
	# the figures a test measured (lag, takeover times, ...) stay in the
	# run's output, printed with its line in one write (the lanes interleave)
	figs=$(grep -E '^figure: ' "$log" | sed 's/^/             /')
	printf '%-12s %-40s %4d passed, %d failed  (%ds)\n%s' integration "$label" "$p" "$f" $((SECONDS - t0)) \
		"${figs:+$figs
}"
}

integration=()
for arg in "$@"; do
	if [ "$arg" = "--" ]; then
		case $phase in unit) phase=asan ;; asan) phase=integration ;; esac
		continue
	fi
	if [ "$phase" = integration ]; then
		integration+=("$arg")
	elif [ "$phase" = asan ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 run_one "$arg" "$(basename "$arg") (asan)"
	else
		run_one "$arg" "$(basename "$arg")"
	fi
done

if [ ${#integration[@]} -gt 0 ]; then
	ordered=()
	for name in $LONG_FIRST; do
		for t in "${integration[@]}"; do [ "$(basename "$t")" = "$name" ] && ordered+=("$t"); done
	done
	for t in "${integration[@]}"; do
		case " $(echo $LONG_FIRST) " in *" $(basename "$t") "*) ;; *) ordered+=("$t") ;; esac
	done
	jobs_max=${CHECK_JOBS:-2}
	for t in "${ordered[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n 2>/dev/null || true; done
		run_bg "$t" "$(basename "$t")" &
	done
	wait
	for t in "${ordered[@]}"; do
		label=$(basename "$t")
		read -r p f rc <"$logdir/$label.res" 2>/dev/null || { p=0 f=1 rc=1; }
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -ne 0 ]; then
			failures+=("$label")
			echo "----- $label (exit $rc) -----"
			tail -n 60 "$logdir/$label.log"
			echo "-----"
		fi
	done
fi

rm -rf "$logdir"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
