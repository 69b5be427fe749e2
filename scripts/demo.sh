#!/bin/sh
# make demo: compresses a sample image with the shipped model at several byte
# budgets, decodes it, and prints size and quality next to JPEG (libjpeg-turbo,
# optimized Huffman tables) at the largest quality that fits the same budget.
set -eu
NIC=${1:-build/nic}
IMAGE=${2:-../shared/data/kodak/kodim23.png}
if [ ! -f "$IMAGE" ]; then
    echo "demo: $IMAGE not found; using a small test picture instead" >&2
    IMAGE=tests/fixtures/metrics/$(ls tests/fixtures/metrics | grep -m1 '_a\.png$')
fi
OUT=${DEMO_OUT:-build/demo}
mkdir -p "$OUT"
echo "demo: sample image $IMAGE"

row() { # name file decoded
    "$NIC" compare --json --size-of "$2" "$IMAGE" "$3" | awk -v name="$1" '
        function field(k,   m) { if (match($0, "\"" k "\": [^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m } return "?" }
        function num(v, fmt) { return v == "null" ? "n/a" : sprintf(fmt, v) }
        { printf "%-30s %7s %8s %9s %8s %9s\n", name, field("bytes"), num(field("bpp"), "%.4f"),
                 num(field("psnr_rgb"), "%.2f"), num(field("ssim"), "%.4f"), num(field("ms_ssim"), "%.4f") }'
}

printf '%-30s %7s %8s %9s %8s %9s\n' codec bytes bpp PSNR-RGB SSIM MS-SSIM
for budget in 2000 4000 8000 16000; do
    f="$OUT/nic-$budget.nic"
    "$NIC" encode --quiet --max-bytes "$budget" "$IMAGE" "$f"
    "$NIC" decode --quiet "$f" "$OUT/nic-$budget.png"
    row "nic hyper, <= $budget B" "$f" "$OUT/nic-$budget.png"
    # JPEG: the highest quality whose file fits the same budget
    q=100
    while [ "$q" -ge 1 ]; do
        "$NIC" convert --quiet -q "$q" "$IMAGE" "$OUT/jpeg-$budget.jpg"
        [ "$(wc -c <"$OUT/jpeg-$budget.jpg")" -le "$budget" ] && break
        if [ "$q" -gt 20 ]; then q=$((q - 5)); else q=$((q - 1)); fi
    done
    if [ "$q" -ge 1 ]; then
        row "JPEG q=$q, <= $budget B" "$OUT/jpeg-$budget.jpg" "$OUT/jpeg-$budget.jpg"
    else
        printf '%-30s %7s\n' "JPEG, <= $budget B" "does not fit at q=1"
    fi
done
echo "demo: files and decoded pictures in $OUT/"
