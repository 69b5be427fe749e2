#!/bin/sh
# Runs every libFuzzer target built in BUILD/fuzz for SECONDS seconds each,
# starting from the committed seeds in fuzz/corpus/<target>/ (never
# modified: new inputs go to fuzz/corpus-run/<target>/, which git ignores).
# Crashes, leaks, timeouts and out-of-memory inputs are saved under
# fuzz/artifacts/<target>/ and make the script fail. Prints one line per
# target with executions, executions per second and coverage.
#
#   scripts/run-fuzzers.sh [BUILD] [SECONDS]     (defaults: build-fuzz 30)
set -u
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
found=0
failed=0
summary=""
for bin in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    found=1
    name=$(basename "$bin")
    target=${name#fuzz_}
    seeds="$ROOT/fuzz/corpus/$target"
    work="$ROOT/fuzz/corpus-run/$target"
    artifacts="$ROOT/fuzz/artifacts/$target/"
    mkdir -p "$work" "$artifacts"
    log="$work.log"
    echo "== $name: $SECONDS_EACH s (seeds: fuzz/corpus/$target)"
    "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    corpus=$(ls "$work" | wc -l)
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        status="FAILED (exit $rc; see $log and $artifacts)"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
    else
        status="ok"
    fi
    line=$(printf '%-18s %10s execs %8s/s  %-18s corpus %5s  %s' "$name" "${execs:-?}" \
        "${speed:-?}" "${cov:-cov: ?}" "$corpus" "$status")
    echo "$line"
    summary="$summary$line
"
    rmdir "$artifacts" "$ROOT/fuzz/artifacts" 2>/dev/null
done
if [ "$found" -eq 0 ]; then
    echo "run-fuzzers: no fuzz_* programs in $BUILD/fuzz (configure with CC=clang -DNIC_FUZZ=ON)" >&2
    exit 2
fi
echo
echo "Summary ($SECONDS_EACH s per target):"
printf '%s' "$summary"
[ "$failed" -eq 0 ]
