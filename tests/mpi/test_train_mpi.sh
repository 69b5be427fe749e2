#!/bin/sh
# Data-parallel training (registered only in builds with MPI): `mpirun -np 2
# nic train` must follow the same loss curve as one process at the same
# global batch, write one checkpoint, and resume from it (under mpirun and in
# a single process).
#
# Tolerances: the two runs see the same crops and the same noise and differ
# only in the order of floating-point sums (gradients summed per shard, then
# across processes). Logged values (6 significant decimals in train.csv,
# val.csv) must agree to a relative 1e-4 and the weights after 6 and 8 Adam
# steps to 1e-4 of each tensor's largest magnitude (st_diff). Measured on
# 2 cores: identical to the printed digits, weights within 3e-6.
# Environment (CTest): NIC, NIC_FIXTURES, NIC_TMP, MPIEXEC, ST_DIFF.
. "$(dirname "$0")/../cli/lib.sh"
: "${MPIEXEC:?}" "${ST_DIFF:?}"
cli_setup test_train_mpi
# Root in CI containers; two processes on a 2-core machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# Open MPI does not free its own allocations (nor those of the components it
# dlopens) at MPI_Finalize: under ASan (make test-sanitize) LeakSanitizer would
# fail every MPI process on them, so leak checking is off for the processes
# mpirun starts (the single-process runs here keep it).
MPI="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 $MPIEXEC -np 2 --oversubscribe"

DATA="$NIC_FIXTURES/metrics"
# --lr 1e-3 with no warm-up so the weights move and a wrong update would show.
ARGS="--channels 8,8,4 --crop 64 --batch 4 --data $DATA --val $DATA --val-count 4 --val-every 3
      --log-every 1 --checkpoint-every 3 --seed 3 --lr 1e-3 --warmup 1"

# compare_csv A B: every numeric column but the last (seconds) within a relative 1e-4.
compare_csv() {
    checks=$((checks + 1))
    awk -F, -v tol=1e-4 '
        NR == FNR { row[FNR] = $0; n = FNR; next }
        FNR == 1 { next }
        {
            if (!(FNR in row)) { print "extra row " FNR; bad = 1; next }
            split(row[FNR], a, ",")
            for (i = 1; i < NF; i++) {
                d = a[i] - $i; if (d < 0) d = -d
                s = a[i] < 0 ? -a[i] : a[i]; if (s < 1e-3) s = 1e-3
                if (d / s > worst) worst = d / s
                if (d / s > tol) { print "row " FNR " column " i ": " a[i] " vs " $i; bad = 1 }
            }
            m = FNR
        }
        END {
            if (m != n) { print "rows: " n " vs " m; bad = 1 }
            printf "largest relative difference %.3g over %d rows\n", worst, m - 1
            exit bad
        }' "$1" "$2" >"$T/cmp" 2>&1 || { fail "$1 and $2 differ"; sed 's/^/  /' "$T/cmp" >&2; }
    echo "  $(basename "$(dirname "$1")")/$(basename "$1"): $(tail -1 "$T/cmp")"
}

weights_match() {
    checks=$((checks + 1))
    "$ST_DIFF" "$1" "$2" 1e-4 >"$T/diff" 2>&1 || { fail "weights of $1 and $2 differ"; cat "$T/diff" >&2; }
    echo "  $(cat "$T/diff")"
}

# one process, then two, 6 steps each
expect 0 "$NIC" train --out "$T/one" $ARGS --steps 6;        has "$T/out" "step       6/6"
expect 0 $MPI "$NIC" train --out "$T/two" $ARGS --steps 6;   has "$T/out" "data-parallel: 2 processes"
has "$T/out" "step       6/6"
has "$T/out" "saved"
checks=$((checks + 1))
[ "$(grep -c "step       6/6" "$T/out")" -eq 1 ] || fail "rank 1 printed progress too"
compare_csv "$T/one/train.csv" "$T/two/train.csv"
compare_csv "$T/one/val.csv" "$T/two/val.csv"
weights_match "$T/one/checkpoint.safetensors" "$T/two/checkpoint.safetensors"

# the MPI checkpoint resumes in one process, and under mpirun, to the same weights
cp -r "$T/two" "$T/two_single"
expect 0 "$NIC" train --out "$T/one" $ARGS --steps 8;                has "$T/out" "at step 6"
expect 0 $MPI "$NIC" train --out "$T/two" $ARGS --steps 8;           has "$T/out" "at step 6"
expect 0 "$NIC" train --out "$T/two_single" $ARGS --steps 8;         has "$T/out" "at step 6"
compare_csv "$T/one/train.csv" "$T/two/train.csv"
weights_match "$T/one/checkpoint.safetensors" "$T/two/checkpoint.safetensors"
weights_match "$T/one/checkpoint.safetensors" "$T/two_single/checkpoint.safetensors"

# more processes than crops is a clear error, not a hang
expect 2 $MPI "$NIC" train --out "$T/bad" $ARGS --batch 1 --steps 1
has "$T/err" "cannot share a batch of 1"
cli_finish
