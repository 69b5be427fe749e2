#!/bin/sh
# make demo: runs nic on a sample image and prints size and quality.
# Until the learned codec lands, the rows are JPEG baselines made by nic itself,
# measured with nic compare; the codec issues add nic's own rows here.
set -eu
NIC=${1:-build/nic}
IMAGE=${2:-../shared/data/kodak/kodim23.png}
if [ ! -f "$IMAGE" ]; then
    echo "demo: $IMAGE not found; using the small test picture instead" >&2
    IMAGE=tests/fixtures/images/rgb8.png
fi
OUT=${DEMO_OUT:-build/demo}
mkdir -p "$OUT"
echo "demo: sample image $IMAGE"
printf '%-22s %9s %8s %9s %8s %9s\n' codec bytes bpp PSNR-RGB SSIM MS-SSIM
for q in 5 10 25 50; do
    f="$OUT/jpeg-q$q.jpg"
    "$NIC" convert --quiet -q "$q" "$IMAGE" "$f"
    "$NIC" compare --json --size-of "$f" "$IMAGE" "$f" | awk -v name="JPEG q=$q (libjpeg)" '
        function field(k,   m) { if (match($0, "\"" k "\": [^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m } return "?" }
        function num(v, fmt) { return v == "null" ? "n/a" : sprintf(fmt, v) }
        { printf "%-22s %9s %8s %9s %8s %9s\n", name, field("bytes"), num(field("bpp"), "%.4f"),
                 num(field("psnr_rgb"), "%.2f"), num(field("ssim"), "%.4f"), num(field("ms_ssim"), "%.4f") }'
done
echo "demo: outputs in $OUT/"
