#!/bin/bash
# Set-based apply threshold (issue 14), in one run on one throwaway cluster:
# the PostgreSQL destination updates G rows in each of 103 unit tables per
# transaction, row by row (prepared, pipelined) and as one set statement per
# table, for G = 1 .. 1024; prints microseconds per row for both and the
# size from which the set is faster (connectors/pg_sets.c's set_min_rows).
# usage: bench/apply.sh [UNITS] [ROWS]   (default 103 units, 40,000 rows)
set -euo pipefail
. "$(dirname "$0")/../tests/harness/lib.sh"

units=${1:-${BENCH_APPLY_UNITS:-103}}
rows=${2:-${BENCH_APPLY_ROWS:-40000}}
h_init
h_pg_start
h_psql -d postgres -c "CREATE DATABASE bench_apply" >/dev/null
echo "bench: apply: load average $(cut -d' ' -f1-3 /proc/loadavg)"
"${BENCH_APPLY_BIN:-$H_ROOT/build/bench_apply}" "host=127.0.0.1 port=$PGPORT dbname=bench_apply user=postgres" "$units" "$rows"
