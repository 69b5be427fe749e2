#!/bin/sh
# Black-box tests of train -> export -> encode -> info -> decode with a tiny
# model trained here for a few steps (the shipped model is not needed).
. "$(dirname "$0")/lib.sh"
cli_setup test_codec
mkdir -p "$T/models"
size_of() { wc -c <"$1" | tr -d ' '; }

DATA="$NIC_FIXTURES/metrics"
IMG="$NIC_FIXTURES/metrics/$(ls "$DATA" | grep -m1 '\.png$')"
TRAIN="--out $T/run --channels 8,8,4 --crop 64 --batch 2 --data $DATA --val $DATA --val-count 2 --log-every 1 --seed 3"

# train, then resume from the checkpoint (a --seed given on resuming is ignored: the run keeps its own)
expect 0 "$NIC" train $TRAIN --steps 3;  has "$T/out" "new run"; has "$T/out" "step       3/3"
expect 0 "$NIC" train $TRAIN --steps 5 --seed 9;  has "$T/out" "resuming"; has "$T/out" "at step 3"
has "$T/out" "step       5/5"
checks=$((checks + 1)); [ -s "$T/run/checkpoint.safetensors" ] || fail "no checkpoint"
checks=$((checks + 1)); [ "$(wc -l <"$T/run/train.csv")" -eq 6 ] || fail "train.csv should have a header and 5 rows"
# resuming is exact: every step's loss terms equal those of one uninterrupted run (the crops
# are cut ahead on a worker thread, from the seed and the step number)
expect 0 "$NIC" train $TRAIN --out "$T/run5" --steps 5
checks=$((checks + 1))
[ "$(cut -d, -f1-7 "$T/run/train.csv")" = "$(cut -d, -f1-7 "$T/run5/train.csv")" ] ||
    fail "the resumed run's losses differ from the uninterrupted run's"
# killed at an arbitrary moment (SIGKILL: no checkpoint on the way out) and resumed: the
# rows logged after the last checkpoint are dropped and logged again, and the whole log
# equals an uninterrupted run's
KTRAIN="--channels 8,8,4 --crop 64 --batch 2 --data $DATA --val $DATA --val-count 2 --log-every 1 --seed 3 --checkpoint-every 5 --val-every 1000 --steps 40"
"$NIC" train $KTRAIN --out "$T/killed" >"$T/killed.log" 2>&1 &
kpid=$!
# (no time limit: on a busy machine the steps take longer, but step 13 comes, after the
# checkpoint of step 10, unless the run has ended)
while kill -0 $kpid 2>/dev/null && ! grep -q "step      13/40" "$T/killed.log" 2>/dev/null; do
    sleep 0.05
done
kill -9 $kpid 2>/dev/null; wait $kpid 2>/dev/null
expect 0 "$NIC" train $KTRAIN --out "$T/killed"; has "$T/out" "resuming"
expect 0 "$NIC" train $KTRAIN --out "$T/whole"
checks=$((checks + 1))
[ "$(cut -d, -f1-7 "$T/killed/train.csv")" = "$(cut -d, -f1-7 "$T/whole/train.csv")" ] ||
    fail "the log of the killed and resumed run differs from the uninterrupted run's"
expect 2 "$NIC" train --crop 100;        has "$T/err" "multiple of 64"
# mixed precision: trains (BF16 kernels where the CPU has them, else FP32) and logs finite losses
expect 0 "$NIC" train $TRAIN --out "$T/bf16" --steps 3 --precision bf16; has "$T/out" "BF16 inputs"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($2 > 0 && $2 < 1e6) { bad = 1 } END { exit bad }' "$T/bf16/train.csv" ||
    fail "bf16 run logged a non-finite loss"
expect 2 "$NIC" train --precision fp16;  has "$T/err" "--precision must be fp32 or"
expect 2 "$NIC" train --model rnn --precision bf16; has "$T/err" "fp32 only"
expect 0 "$NIC" train $TRAIN --export "$T/models/hyper.safetensors"; has "$T/out" "step 5"
# export fits the decoder's tables (reconstruction offsets, y tables) on the training
# images unless told not to
has "$T/out" "reconstruction offsets"; has "$T/out" "quality index 255: alpha"
has "$T/out" "bits of y with the Gaussian tables"
expect 0 "$NIC" train $TRAIN --export "$T/plain.safetensors" --fit-images 0
checks=$((checks + 1)); grep -q "reconstruction offsets" "$T/out" && fail "--fit-images 0 fitted tables"
checks=$((checks + 1))
[ $(($(size_of "$T/models/hyper.safetensors") - $(size_of "$T/plain.safetensors"))) -ge 196608 ] ||
    fail "the exported model has no table of 256 x 64 x 3 offsets"
expect 2 "$NIC" train $TRAIN --export "$T/x.safetensors" --fit-images -1; has "$T/err" "--fit-images"
# an exported model (weights + entropy tables) starts a new run
expect 0 "$NIC" train $TRAIN --out "$T/run2" --init "$T/models/hyper.safetensors" --steps 1
has "$T/out" "weights from"

export NIC_MODEL_DIR="$T/models"
expect 0 "$NIC" encode -q 60 "$IMG" "$T/a.nic";  has "$T/err" "quality index 153"
expect 0 "$NIC" info "$T/a.nic";                has "$T/out" "model           id 1"
expect 0 "$NIC" decode "$T/a.nic" "$T/a.png";   has "$T/err" "RGB from"
expect 0 "$NIC" compare "$IMG" "$T/a.png";      has "$T/out" "PSNR-RGB"
# deterministic decoding: one thread and two give the same file
OMP_NUM_THREADS=1 "$NIC" decode --quiet "$T/a.nic" "$T/a1.png"
OMP_NUM_THREADS=2 "$NIC" decode --quiet "$T/a.nic" "$T/a2.png"
checks=$((checks + 1)); cmp -s "$T/a1.png" "$T/a2.png" || fail "decoding depends on the thread count"
# ... and the same with the portable C kernels only (what a machine without AVX gets)
NIC_CPU=c OMP_NUM_THREADS=2 "$NIC" decode --quiet "$T/a.nic" "$T/a3.png"
checks=$((checks + 1)); cmp -s "$T/a1.png" "$T/a3.png" || fail "decoding depends on the instruction set"
# byte budgets hold, headers included
for n in 150 400 1200; do
    expect 0 "$NIC" encode --max-bytes "$n" "$IMG" "$T/b$n.nic"
    checks=$((checks + 1))
    [ "$(size_of "$T/b$n.nic")" -le "$n" ] || fail "--max-bytes $n gave $(size_of "$T/b$n.nic") bytes"
    expect 0 "$NIC" decode "$T/b$n.nic" "$T/b$n.png"
    expect 0 "$NIC" compare "$IMG" "$T/b$n.png"   # same size as the original
done
# NIC_VERBOSE=1 shows the sizes a budget tries; the file is the last "best so far"
expect 0 "$NIC" encode --max-bytes 50 "$IMG" "$T/b50.nic"
export NIC_VERBOSE=1
expect 0 "$NIC" encode --max-bytes 50 "$IMG" "$T/v.nic";  has "$T/err" "trying smaller pictures"
unset NIC_VERBOSE
best=$(grep "best so far" "$T/err" | tail -n 1 | sed 's/^nic: budget: \([0-9]*x[0-9]*\) .*/\1/')
checks=$((checks + 1))
grep -q "coded at $best " "$T/err" || fail "the file is not the search's best ($best): $(cat "$T/err")"
checks=$((checks + 1)); cmp -s "$T/v.nic" "$T/b50.nic" || fail "NIC_VERBOSE changed the file"
# --progress: a line per picture size the budget codes, the full size first, the same
# file; without it, off a terminal, none
expect 0 "$NIC" encode --progress --max-bytes 50 "$IMG" "$T/p.nic"
has "$T/err" "budget 50 B: coding"; has "$T/err" "(step 1)"
checks=$((checks + 1)); cmp -s "$T/p.nic" "$T/b50.nic" || fail "--progress changed the file"
expect 0 "$NIC" encode --max-bytes 50 "$IMG" "$T/p.nic"
checks=$((checks + 1)); ! grep -q "coding" "$T/err" || fail "progress off a terminal: $(cat "$T/err")"
# a budget the model's top quality does not fill: the file is that, and nic says so
expect 0 "$NIC" encode --max-bytes 1000000 "$IMG" "$T/top.nic"; has "$T/err" "top quality needs only"
has "$T/err" "quality index 255"
expect 1 "$NIC" encode --max-bytes 5 "$IMG" "$T/c.nic";  has "$T/err" "no file of at most 5 bytes"
# the encoder's refinement: a file of the asked quality that the same decoder reads, and
# budgets that still hold
expect 0 "$NIC" encode -q 60 --refine 3 "$IMG" "$T/r.nic";  has "$T/err" "quality index 153"
expect 0 "$NIC" decode "$T/r.nic" "$T/r.png"
expect 0 "$NIC" compare "$IMG" "$T/r.png";                  has "$T/out" "PSNR-RGB"
expect 0 "$NIC" encode --max-bytes 400 --refine 3 "$IMG" "$T/rb.nic"
checks=$((checks + 1))
[ "$(size_of "$T/rb.nic")" -le 400 ] || fail "--max-bytes 400 --refine 3 gave $(size_of "$T/rb.nic") bytes"
expect 0 "$NIC" decode "$T/rb.nic" "$T/rb.png"
expect 2 "$NIC" encode --refine -1 "$IMG" "$T/c.nic";       has "$T/err" "--refine needs"
expect 2 "$NIC" encode --model rnn --refine 2 "$IMG" "$T/c.nic"; has "$T/err" "refinement is for the hyper model"
# errors
expect 2 "$NIC" encode -q 101 "$IMG" "$T/c.nic";         has "$T/err" "0..100"
expect 2 "$NIC" encode "$IMG";                           has "$T/err" "needs INPUT"
expect 1 "$NIC" encode "$T/missing.png" "$T/c.nic";      has "$T/err" "missing.png"
expect 1 "$NIC" encode --model nope "$IMG" "$T/c.nic";   has "$T/err" "unknown model 'nope'"
head -c 40 "$T/a.nic" >"$T/cut.nic"
expect 1 "$NIC" decode "$T/cut.nic" "$T/x.png"
expect 1 "$NIC" decode "$IMG" "$T/x.png"
checks=$((checks + 1)); [ ! -e "$T/x.png" ] || fail "a failed decode left an output file"
NIC_MODEL_DIR=/nonexistent expect 1 "$NIC" decode "$T/a.nic" "$T/x.png"

# decodes_alike MODELDIR FILE STEM WHAT: FILE decodes with MODELDIR's model, to the
# same pixels on 1 and 2 threads and on the C kernels (STEM1..3.png)
decodes_alike() {
    k=0
    for how in "OMP_NUM_THREADS=1" "OMP_NUM_THREADS=2" "NIC_CPU=c OMP_NUM_THREADS=2"; do
        k=$((k + 1))
        env NIC_MODEL_DIR="$1" $how "$NIC" decode --quiet "$2" "$3$k.png" ||
            fail "decoding $4 failed ($how)"
    done
    checks=$((checks + 1))
    cmp -s "$31.png" "$32.png" && cmp -s "$31.png" "$33.png" ||
        fail "$4 decodes differently on other threads or kernels"
}

# a checkerboard context on top of the exported model: it starts at zero, so its first
# step's loss is the plain model's (same crops, rates and noise); it resumes, exports,
# and its files (two y streams) decode the same on 1 and 2 threads and the C kernels
expect 2 "$NIC" train --model rnn --context 8;   has "$T/err" "for the hyper model"
expect 0 "$NIC" train $TRAIN --out "$T/ctx0" --init "$T/models/hyper.safetensors" --steps 1
expect 0 "$NIC" train $TRAIN --out "$T/ctx" --init "$T/models/hyper.safetensors" --steps 1 --context 8
has "$T/out" "checkerboard context"
checks=$((checks + 1))
[ "$(cut -d, -f1-5 "$T/ctx0/train.csv")" = "$(cut -d, -f1-5 "$T/ctx/train.csv")" ] ||
    fail "a new (zero) context changed the first step's loss"
expect 0 "$NIC" train $TRAIN --out "$T/ctx" --steps 3;   has "$T/out" "resuming"; has "$T/out" "checkerboard context"
mkdir -p "$T/ctxmodel"
expect 0 "$NIC" train $TRAIN --out "$T/ctx" --export "$T/ctxmodel/hyper.safetensors"
NIC_MODEL_DIR="$T/ctxmodel" expect 0 "$NIC" encode -q 60 "$IMG" "$T/ctx.nic"
NIC_MODEL_DIR="$T/ctxmodel" expect 0 "$NIC" info "$T/ctx.nic";   has "$T/out" "streams         3"
decodes_alike "$T/ctxmodel" "$T/ctx.nic" "$T/ctx" "the context model's file"
expect 1 "$NIC" decode "$T/ctx.nic" "$T/x.png";  has "$T/err" "other weights"
# a model with context as --init of a run without: a clear error, not a tensor count
expect 1 "$NIC" train $TRAIN --out "$T/noctx" --init "$T/ctxmodel/hyper.safetensors" --steps 1
has "$T/err" "train it with --context 8"

# the 12-anchor context from that 4-anchor model: the new anchors start at zero, so the
# first step's loss is the 4-anchor run's; it resumes as 12 anchors, exports, and its
# files decode the same on 1 and 2 threads and the C kernels
expect 2 "$NIC" train $TRAIN --context 8 --context-anchors 6;   has "$T/err" "4 or 12"
expect 2 "$NIC" train $TRAIN --context-anchors 12;   has "$T/err" "needs a context"
expect 0 "$NIC" train $TRAIN --out "$T/c4" --init "$T/ctxmodel/hyper.safetensors" --steps 1 --context 8
expect 0 "$NIC" train $TRAIN --out "$T/c12" --init "$T/ctxmodel/hyper.safetensors" --steps 1 --context 8 --context-anchors 12
has "$T/out" "checkerboard context (12 anchors)"
checks=$((checks + 1))
[ "$(cut -d, -f1-5 "$T/c4/train.csv")" = "$(cut -d, -f1-5 "$T/c12/train.csv")" ] ||
    fail "12 anchors from a 4-anchor model changed the first step's loss"
expect 0 "$NIC" train $TRAIN --out "$T/c12" --steps 2;   has "$T/out" "(12 anchors)"
mkdir -p "$T/c12model"
expect 0 "$NIC" train $TRAIN --out "$T/c12" --export "$T/c12model/hyper.safetensors" --fit-images 0
NIC_MODEL_DIR="$T/c12model" expect 0 "$NIC" encode -q 60 "$IMG" "$T/c12.nic"
decodes_alike "$T/c12model" "$T/c12.nic" "$T/c12_" "the 12-anchor model's file"

# the MS-SSIM-tuned variant: trains with --loss ms-ssim (kept on resume), validates with
# MS-SSIM, exports a model that `--model hyper-msssim` finds, writes model id 4, and
# its files decode by that id alone; the default model's name refuses its weights
expect 2 "$NIC" train $TRAIN --out "$T/ms" --loss ssim;   has "$T/err" "mse or ms-ssim"
expect 2 "$NIC" train --model rnn+cnn --loss mse;         has "$T/err" "no --loss"
expect 0 "$NIC" train $TRAIN --out "$T/ms" --init "$T/models/hyper.safetensors" --steps 2 --loss ms-ssim --val-every 2
has "$T/out" "1 - MS-SSIM"; has "$T/out" "ms-ssim 0."; has "$T/out" "MS-SSIM 0."
expect 0 "$NIC" train $TRAIN --out "$T/ms" --steps 3;  has "$T/out" "resuming"; has "$T/out" "1 - MS-SSIM"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($5 > 0 && $5 <= 1) { bad = 1 } END { exit bad }' "$T/ms/val.csv" ||
    fail "val.csv has no MS-SSIM column in (0, 1]"
mkdir -p "$T/msmodel"
expect 0 "$NIC" train $TRAIN --out "$T/ms" --export "$T/msmodel/hyper-msssim.safetensors"
cp "$T/models/hyper.safetensors" "$T/msmodel/hyper.safetensors"
NIC_MODEL_DIR="$T/msmodel" expect 0 "$NIC" encode -q 60 --model hyper-msssim "$IMG" "$T/ms.nic"
NIC_MODEL_DIR="$T/msmodel" expect 0 "$NIC" info "$T/ms.nic";   has "$T/out" "model           id 4 (hyper-msssim)"
NIC_MODEL_DIR="$T/msmodel" expect 0 "$NIC" decode --quiet "$T/ms.nic" "$T/ms.png"
NIC_MODEL_DIR="$T/msmodel" expect 0 "$NIC" encode -q 60 --model hyper-msssim --refine 2 "$IMG" "$T/msr.nic"
NIC_MODEL_DIR="$T/msmodel" expect 0 "$NIC" decode --quiet "$T/msr.nic" "$T/msr.png"
cp "$T/msmodel/hyper-msssim.safetensors" "$T/msmodel/hyper.safetensors"
NIC_MODEL_DIR="$T/msmodel" expect 1 "$NIC" encode -q 60 "$IMG" "$T/x.nic";  has "$T/err" "trained for ms-ssim, not model hyper"

cli_finish
