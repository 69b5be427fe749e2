#!/bin/sh
# make bench: runs every benchmark program that was built (bench/bench_*.c).
set -eu
BUILD=${1:-build}
found=0
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    found=1
    echo "== $(basename "$b")"
    "$b"
done
[ "$found" -eq 1 ] || echo "bench: no benchmark programs built in $BUILD/bench"
