# shellcheck shell=bash
# tests/harness/validator.sh -- the order validator (validator.py) beside a
# streaming test: h_validator_start before the load, h_validator_check once
# the daemon has caught up (it stops the validator, which then takes its
# final sample, and asserts that no violation was found and that samples
# were taken).  Source after lib.sh/city.sh.
#
#   h_validator_start TIER[:group]...   (state DB: $H_STATE)
#   h_validator_check LABEL             two checks; prints the figures

# h_validator_start TIER...: each TIER a conninfo of a tier database holding
# schemas u<code>; ":group" when all its units share one transaction (one
# [tier] conninfo for every unit, the default).
h_validator_start() {
    local args=() t
    for t in "$@"; do args+=(--tier "$t"); done
    : >"$H_TMP/validator.out"
    python3 "$H_ROOT/tests/harness/validator.py" --out "$H_TMP/validator.out" \
        --stats "$H_TMP/validator.stats" --state "$H_STATE" "${args[@]}" \
        >"$H_TMP/validator.log" 2>&1 &
    H_VALIDATOR_PID=$!
    h_atexit_kill "$H_VALIDATOR_PID"
}

h_validator_check() {
    local label=$1 stats samples violations transient i
    kill -TERM "$H_VALIDATOR_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        h_pid_alive "$H_VALIDATOR_PID" || break
        sleep 0.1
    done
    wait "$H_VALIDATOR_PID" 2>/dev/null || true
    stats=$(cat "$H_TMP/validator.stats" 2>/dev/null || true)
    samples=$(sed -n 's/.*samples=\([0-9]*\).*/\1/p' <<<"$stats")
    violations=$(sed -n 's/.*violations=\([0-9]*\).*/\1/p' <<<"$stats")
    transient=$(sed -n 's/.*transient=\([0-9]*\).*/\1/p' <<<"$stats")
    echo "figure: validator: $label: $stats"
    [[ ${samples:-0} -gt 1 ]] && h_ok "$label: the validator sampled the units ${samples} times during the load" ||
        h_fail "$label: validator samples" "${stats:-no stats}: $(tail -3 "$H_TMP/validator.log" 2>/dev/null)"
    [[ -n $violations && $violations -eq 0 ]] &&
        h_ok "$label: no unit showed an older version after a newer one, no row sat in two places ($transient transient overlaps between separate commits)" ||
        h_fail "$label: order validator" "${violations:-?} violations: $(head -5 "$H_TMP/validator.out")"
}
