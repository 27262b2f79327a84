#!/bin/bash
# Runs bench/stream.sh RUNS times (default 3, BENCH_STREAM_RUNS) and prints,
# after each run's own table, the min / median / max over the runs of the
# figures that vary most between runs: the big transactions' COMMIT (or
# start) -> applied in every unit for syncd and native, and their ratios.
# usage: bench/stream_runs.sh [SIZE]
set -euo pipefail
runs=${BENCH_STREAM_RUNS:-3}
dir=$(mktemp -d /tmp/syncd-stream-runs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for ((i = 1; i <= runs; i++)); do
    echo "bench: stream run $i of $runs"
    "$(dirname "$0")/stream.sh" "$@" | tee "$dir/run$i"
done
# min / median / max of the numbers on stdin
stat() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        printf "%s / %s / %s", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}
# a row of each run's table, by the start of its first cell: "S N" per run
cells() {
    for ((i = 1; i <= runs; i++)); do
        grep -E "^\| $1" "$dir/run$i" | head -1 |
            awk -F'|' '{ gsub(/[^0-9.]/, "", $3); gsub(/[^0-9.]/, "", $4); print $3, $4 }'
    done
}
echo
echo "## Streaming over $runs runs (min / median / max; a capped native run counts at the cap)"
echo
echo "| measurement | (S) syncd, s | (N) native or floor, s | N/S (1'': S/floor) |"
echo "|---|---|---|---|"
for row in "1\\. UPDATE" "1'\\. start" "1''\\. COMMIT" "1i\\. INSERT" "1d\\. DELETE"; do
    cells "$row" >"$dir/c"
    [[ -s $dir/c ]] || continue
    printf '| %s | %s | %s | %s |\n' "$(sed 's/\\//g' <<<"$row")" "$(cut -d' ' -f1 "$dir/c" | stat)" \
        "$(cut -d' ' -f2 "$dir/c" | stat)" \
        "$(awk -v inv="$([[ $row == "1''"* ]] && echo 1)" '$1 > 0 && $2 > 0 { printf "%.2f\n", inv ? $1 / $2 : $2 / $1 }' "$dir/c" | stat)x"
done
