#!/bin/bash
# Runs tests under a memory checker and sums their results into one closing
# line "N passed, N failed" (as tests/run.sh does).
#
#   tests/sanitize.sh valgrind UNIT...   every cmocka program under valgrind
#       (make check-valgrind): any error or definite/indirect leak fails it
#   tests/sanitize.sh asan DIR TEST...   every integration script with
#       SYNCD_BUILD=DIR, the ASan+UBSan build of syncd, syncctl and the harness
#       programs (make check-asan): each report a process writes under
#       DIR/reports/TEST/ (ASan's, LeakSanitizer's; UBSan's are gathered from
#       the test's output files there) is printed and counts as one failure
#       of TEST
set -u
cd "$(dirname "$0")/.." || exit 1

mode=${1:-}
shift || true
keep=${KEEP_TMP:-0}
passed=0
failed=0
failures=()
logdir=$(mktemp -d /tmp/syncd-sanitize.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

# tally LABEL LOG RC P F EXTRA_FAILED SECONDS: one result line; a failure
# shows the end of the log
tally() {
	local label=$1 log=$2 rc=$3 p=${4:-0} f=${5:-0} extra=$6 secs=$7
	f=$((f + extra))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-10s %-40s %4d passed, %d failed  (%ds)\n' "$mode" "$label" "$p" "$f" "$secs"
	if [ "$f" -ne 0 ]; then
		failures+=("$label")
		echo "----- $label (exit $rc) -----"
		tail -n 60 "$log"
		echo "-----"
	fi
}

run_valgrind() {
	local prog=$1 label log rc p f t0=$SECONDS vg=0
	label=$(basename "$prog")
	log=$logdir/$label.log
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--suppressions=tests/valgrind.supp --num-callers=30 "$prog" >"$log" 2>&1
	rc=$?
	p=$(grep -Eo '\[  PASSED  \] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
	f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
	# exit 99 is valgrind's: an error or a leak, whatever cmocka said
	if [ "$rc" -eq 99 ]; then vg=1; fi
	tally "$label" "$log" "$rc" "$p" "$f" "$vg" $((SECONDS - t0))
}

# GCC's UBSan, linked with ASan, ignores log_path and writes to stderr, which
# the tests send to files in their temp dirs: those are kept (KEEP_TMP=1),
# each "runtime error:" there or in the test's own output becomes a report
# file in DIR, then the temp dirs go (unless KEEP_TMP=1 was asked for).
harvest_ubsan() {
	local log=$1 dir=$2 kept f
	if grep -q 'runtime error:' "$log"; then
		grep -A30 'runtime error:' "$log" >"$dir/ubsan.test-output"
	fi
	for kept in $(grep -Eo 'harness: kept /tmp/syncd-test\.[A-Za-z0-9]+' "$log" | cut -d' ' -f3); do
		[ -d "$kept" ] || continue
		grep -rIl --exclude-dir=data 'runtime error:' "$kept" 2>/dev/null | while read -r f; do
			grep -A30 'runtime error:' "$f" >"$dir/ubsan.$(basename "$kept").$(echo "${f#"$kept"/}" | tr / _)"
		done
		[ "$keep" = 1 ] || rm -rf -- "$kept"
	done
}

run_asan() {
	local build=$1 test=$2 label log rc p f t0=$SECONDS dir n=0 report tmpkeep
	label=$(basename "$test")
	log=$logdir/$label.log
	dir=$build/reports/${label%.sh}
	rm -rf "$dir"
	mkdir -p "$dir"
	# test_harness.sh checks the teardown removes the temp dir (and runs
	# neither syncd nor syncctl): it keeps nothing
	tmpkeep=1
	[ "$label" = test_harness.sh ] && tmpkeep=$keep
	SYNCD_BUILD=$build KEEP_TMP=$tmpkeep \
		ASAN_OPTIONS="log_path=$dir/asan:detect_leaks=1:abort_on_error=0:halt_on_error=1" \
		UBSAN_OPTIONS="log_path=$dir/ubsan:print_stacktrace=1:halt_on_error=1" \
		"$test" >"$log" 2>&1
	rc=$?
	harvest_ubsan "$log" "$dir"
	p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f1)
	f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | cut -d' ' -f3)
	for report in "$dir"/*; do
		[ -s "$report" ] && n=$((n + 1))
	done
	tally "$label" "$log" "$rc" "$p" "$f" "$n" $((SECONDS - t0))
	# each report named by its file (asan.PID, ubsan.*), kept there whole
	for report in "$dir"/*; do
		[ -s "$report" ] || continue
		echo "===== sanitizer report $report ($(wc -l <"$report") lines) ====="
		head -n 80 "$report"
	done
}

case $mode in
valgrind)
	command -v valgrind >/dev/null || { echo "valgrind not found; install it (apt-get install valgrind)" >&2; exit 2; }
	for prog in "$@"; do run_valgrind "$prog"; done
	;;
asan)
	build=$(cd "${1:?usage: tests/sanitize.sh asan BUILD_DIR TEST...}" && pwd) || exit 2
	shift
	for test in "$@"; do run_asan "$build" "$test"; done
	;;
*)
	echo "usage: tests/sanitize.sh valgrind UNIT... | asan BUILD_DIR TEST..." >&2
	exit 2
	;;
esac

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
