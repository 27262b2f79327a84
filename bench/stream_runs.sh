#!/bin/bash
# Runs bench/stream.sh RUNS times (default 3, BENCH_STREAM_RUNS) and prints,
# after each run's own table, the min / median / max over the runs of the
# figures that vary most between runs: measurement 1 (COMMIT -> applied in
# every unit) for syncd and native, and their ratio N/S.
# usage: bench/stream_runs.sh [SIZE]
set -euo pipefail
runs=${BENCH_STREAM_RUNS:-3}
dir=$(mktemp -d /tmp/syncd-stream-runs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for ((i = 1; i <= runs; i++)); do
    echo "bench: stream run $i of $runs"
    "$(dirname "$0")/stream.sh" "$@" | tee "$dir/run$i"
done
# "| 1. UPDATE of R rows ... | S | N | N/S | target |" of each run
for ((i = 1; i <= runs; i++)); do
    grep -E '^\| 1\. UPDATE of' "$dir/run$i" | awk -F'|' '{ gsub(/[ >]/, "", $3); gsub(/[ >]/, "", $4); print $3, $4 }'
done >"$dir/m1"
stat() { # column -> "min / median / max"
    cut -d' ' -f"$1" "$dir/m1" | sort -g | awk '{ v[NR] = $1 } END {
        printf "%s / %s / %s", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}
awk '{ if ($1 > 0) printf "%.2f\n", $2 / $1 }' "$dir/m1" >"$dir/ratio"
echo
echo "## Streaming over $runs runs: measurement 1 (COMMIT -> applied in every unit)"
echo
echo "| figure | min / median / max |"
echo "|---|---|"
echo "| (S) syncd, s | $(stat 1) |"
echo "| (N) native LR, s (capped runs count at the cap) | $(stat 2) |"
echo "| N/S | $(sort -g "$dir/ratio" | awk '{ v[NR] = $1 } END { printf "%sx / %sx / %sx", v[1], v[int((NR + 1) / 2)], v[NR] }') |"
