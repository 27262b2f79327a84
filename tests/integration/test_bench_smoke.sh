#!/bin/bash
# Benchmarks cannot rot (issue 16): every script of `make bench` runs here
# at a tiny size and must complete and print its table.  Nothing here looks
# at a timing: speed is measured by `make bench`, not by `make check`.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"

h_init
cd "$H_ROOT" || exit 1
# run NAME TABLE-HEADER ROWS ROW-PATTERN CMD...: exit 0, the table's header
# and at least ROWS lines matching ROW-PATTERN (an extended regex)
run() {
    local name=$1 header=$2 rows=$3 pat=$4 log="$H_TMP/$1.log" rc
    shift 4
    "$@" >"$log" 2>&1 && rc=0 || rc=$?
    if [[ $rc -ne 0 ]]; then
        h_fail "$name completes" "exit $rc; last lines: $(tail -8 "$log")"
        return
    fi
    h_ok "$name completes"
    if grep -qF "$header" "$log" && [[ $(grep -cE "$pat" "$log") -ge $rows ]]; then
        h_ok "$name prints its table"
    else
        h_fail "$name prints its table" "$(tail -8 "$log")"
    fi
}
run snapshot "| method | rows | seconds | rows/s | vs (a) |" 4 '^\| .* \| [0-9]+ \| [0-9.]+ \|' bench/snapshot.sh 2000
run apply "rows/table" 11 '^ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+x$' bench/apply.sh 3 300
run stream "| measurement | (S) syncd | (N) native LR | N/S | target |" 4 \
    '^\| (1\. UPDATE of [0-9]+ rows.* \| [0-9.]+ \| [0-9.]+ \||1[id]\. (INSERT|DELETE) of [0-9]+ rows.* \| [0-9.]+ \| [0-9.]+ \||1\. UPDATE \| [0-9.]+ / [0-9.]+ / [0-9.]+ \|)' \
    env BENCH_STREAM_RUNS=1 BENCH_UPDATE_ROWS=2000 BENCH_RATE=100 BENCH_SECS=3 BENCH_CAP=300 BENCH_TAIL_CAP=60 \
    BENCH_CLIENTS=2 bench/stream_runs.sh 2000
run authz "p99 us" 3 '^(raw LDAP search \(reference\)|decision, (un)?cached) +[0-9]+ ' bench/authz.sh 300
run documents "| measurement (" 2 '^\| syncd: POST /v1/documents.* \| [0-9]' env BENCH_DOC_CLIENTS=4 bench/documents.sh 2
run http "| measurement | (S) syncd | (L) libcurl loop | S/L | target |" 2 \
    '^\| (0\. snapshot with mode = instead.* yes|2\. UPDATE of [0-9]+ rows.* \| [0-9]+ / [0-9]+ / [0-9]+ \| [0-9]+ / [0-9]+ / [0-9]+ \|)' \
    env BENCH_HTTP_RUNS=1 BENCH_LOOP_REPLAYS=1 bench/http.sh 2000
h_summary
