#!/bin/sh
# Black-box tests of the progressive rnn codec: train a tiny model for a few
# steps, export it, encode with --layers / --max-bytes, and decode whole,
# --layers K, and cut files (at a layer boundary, inside a layer, inside the
# first layer, inside the header).
. "$(dirname "$0")/lib.sh"
cli_setup test_rnn
mkdir -p "$T/models"
size_of() { wc -c <"$1" | tr -d ' '; }

DATA="$NIC_FIXTURES/metrics"
IMG="$NIC_FIXTURES/metrics/blocky_rgb_a.png"   # 193 x 181
TRAIN="--model rnn --out $T/run --widths 4,4,4,4,8,4,4,4,4,8 --iterations 3 --crop 32 --batch 2
       --val-crop 32 --data $DATA --val $DATA --val-count 2 --val-every 2 --log-every 1"

expect 0 "$NIC" train $TRAIN --steps 2;  has "$T/out" "model rnn (GRU, additive, gains)"
has "$T/out" "step       2/2";           has "$T/out" "PSNR by iterations: 1:"
has "$T/out" "gains g_t:"
expect 2 "$NIC" train --model rnn --loss l3;   has "$T/err" "l1, mse or log-mse"
expect 0 "$NIC" train $TRAIN --steps 3;  has "$T/out" "resuming"; has "$T/out" "step       3/3"
checks=$((checks + 1)); [ "$(head -1 "$T/run/val.csv")" = "step,iterations,bpp,psnr" ] || fail "val.csv header"
expect 2 "$NIC" train --model rnn --crop 40;   has "$T/err" "multiples of 16"
expect 2 "$NIC" train --model rnn --widths 1,2,3;   has "$T/err" "10 integers"
expect 0 "$NIC" train $TRAIN --export "$T/models/rnn.safetensors"; has "$T/out" "step 3"
# a wider run grows from it; a run without gains cannot take its gains
WIDE="--model rnn --widths 4,8,4,4,8,8,4,8,4,8 --iterations 3 --crop 32 --batch 2 --data $DATA
      --val $DATA --val-count 2 --val-crop 32 --loss mse"
expect 0 "$NIC" train $WIDE --out "$T/wide" --init "$T/models/rnn.safetensors" --steps 1
has "$T/out" "weights from"
expect 1 "$NIC" train $WIDE --out "$T/nogain" --no-gain --init "$T/models/rnn.safetensors" --steps 1
has "$T/err" "gains"

export NIC_MODEL_DIR="$T/models"
expect 0 "$NIC" encode --model rnn --layers 3 "$IMG" "$T/a.nic";  has "$T/err" "layers 3"
expect 0 "$NIC" info "$T/a.nic";                has "$T/out" "model           id 2"
expect 0 "$NIC" decode "$T/a.nic" "$T/a.png";   has "$T/err" "3 of 3 layers"
expect 0 "$NIC" compare "$IMG" "$T/a.png";      has "$T/out" "PSNR-RGB"
expect 0 "$NIC" decode --layers 1 "$T/a.nic" "$T/a1.png";  has "$T/err" "1 of 3 layers"
# the layers are equal, fixed-size streams after the header: 8 bits (--widths) per 16x16
# block of the 193x181 picture; cut after 2 of them
full=$(size_of "$T/a.nic")
layer=$(( 13 * 12 * 8 / 8 ))
header=$(( full - 4 - 3 * layer ))
head -c $((header + 2 * layer)) "$T/a.nic" >"$T/cut2.nic"
expect 0 "$NIC" decode "$T/cut2.nic" "$T/c2.png"
has "$T/err" "truncated";  has "$T/err" "decoded the 2 complete layers of 3, the rest is missing"
has "$T/err" "2 of 3 layers"
"$NIC" decode --quiet --layers 2 "$T/a.nic" "$T/a2.png"
checks=$((checks + 1)); cmp -s "$T/c2.png" "$T/a2.png" || fail "a 2-layer prefix differs from --layers 2"
# a cut inside the third layer decodes the two complete ones
head -c $((header + 2 * layer + layer / 2)) "$T/a.nic" >"$T/cut25.nic"
expect 0 "$NIC" decode "$T/cut25.nic" "$T/c25.png";  has "$T/err" "2 complete layers of 3"
checks=$((checks + 1)); cmp -s "$T/c25.png" "$T/a2.png" || fail "a cut inside layer 3 changed the picture"
# inside the first layer, and inside the header: clean errors, no output
head -c $((header + layer / 2)) "$T/a.nic" >"$T/cut05.nic"
expect 1 "$NIC" decode "$T/cut05.nic" "$T/x.png";  has "$T/err" "not even the first layer is complete"
head -c 9 "$T/a.nic" >"$T/cuth.nic"
expect 1 "$NIC" decode "$T/cuth.nic" "$T/x.png";   has "$T/err" "truncated"
checks=$((checks + 1)); [ ! -e "$T/x.png" ] || fail "a failed decode left an output file"
# nic info --partial sees the cut file
expect 0 "$NIC" info --partial "$T/cut25.nic";  has "$T/out" "TRUNCATED"
# budgets: the most layers that fit
expect 0 "$NIC" encode --model rnn --max-bytes $((header + 2 * layer + 10)) "$IMG" "$T/b.nic"
has "$T/err" "layers 2"
checks=$((checks + 1)); [ "$(size_of "$T/b.nic")" -le $((header + 2 * layer + 10)) ] || fail "budget exceeded"
# deterministic decoding: one thread and two give the same file
OMP_NUM_THREADS=1 "$NIC" decode --quiet "$T/a.nic" "$T/d1.png"
OMP_NUM_THREADS=2 "$NIC" decode --quiet "$T/a.nic" "$T/d2.png"
checks=$((checks + 1)); cmp -s "$T/d1.png" "$T/d2.png" || fail "decoding depends on the thread count"
# rnn+cnn: a context model fitted to the tiny model's codes; the same pictures, fewer bytes
expect 0 "$NIC" train --model rnn+cnn --init "$T/models/rnn.safetensors" --out "$T/cnn" --codes 6 \
    --crop 64 --steps 2 --data $DATA --val $DATA --val-count 2 --export "$T/models/rnn+cnn.safetensors"
has "$T/out" "epoch 2/2";  has "$T/out" "bits per code"
expect 0 "$NIC" encode --model rnn+cnn --layers 3 "$IMG" "$T/c.nic";  has "$T/err" "layers 3"
expect 0 "$NIC" info "$T/c.nic";                has "$T/out" "model           id 3"
expect 0 "$NIC" decode "$T/c.nic" "$T/c.png";   has "$T/err" "3 of 3 layers"
checks=$((checks + 1)); cmp -s "$T/c.png" "$T/a.png" || fail "rnn+cnn decodes to other pixels than rnn"
checks=$((checks + 1)); [ "$(size_of "$T/c.nic")" -lt "$full" ] || fail "rnn+cnn is not smaller than rnn"
# errors
expect 2 "$NIC" decode --layers 0 "$T/a.nic" "$T/x.png";    has "$T/err" "--layers"
expect 2 "$NIC" encode --model rnn --layers 40 "$IMG" "$T/x.nic";  has "$T/err" "--layers"
expect 2 "$NIC" encode --model rnn --layers 5 "$IMG" "$T/x.nic";   has "$T/err" "codes 1..3"

cli_finish
