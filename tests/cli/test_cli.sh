#!/bin/sh
# Black-box tests of the nic tool: output, exit codes, and error messages.
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP.
. "$(dirname "$0")/lib.sh"
cli_setup test_cli
IMG="$NIC_FIXTURES/images"

expect 0 "$NIC" --version;            has "$T/out" "nic 0."
expect 0 "$NIC" --help;               has "$T/out" "compare"; has "$T/out" "Exit status"
expect 2 "$NIC";                      has "$T/err" "Usage"
expect 2 "$NIC" frobnicate;           has "$T/err" "unknown command 'frobnicate'"
expect 0 "$NIC" compare --help;       has "$T/out" "--json"; has "$T/out" "Usage: nic compare"
expect 0 "$NIC" convert --help;       has "$T/out" "default=90"
expect 0 "$NIC" help convert;         has "$T/out" "Usage: nic convert"

# compare: identical images
expect 0 "$NIC" compare "$IMG/rgb8.png" "$IMG/rgb8.png"
has "$T/out" "PSNR-RGB  inf"; has "$T/out" "SSIM      1.000000"; has "$T/out" "MS-SSIM"
# the same picture through different containers is identical too
expect 0 "$NIC" compare "$IMG/rgb8.png" "$IMG/rgb.ppm";  has "$T/out" "PSNR-RGB  inf"
expect 0 "$NIC" compare --json "$IMG/rgb8.png" "$IMG/baseline.jpg"
has "$T/out" '"psnr_rgb": '; has "$T/out" '"ms_ssim": '; has "$T/out" '"width": 32'
# JPEG at q95 of a flat-quadrant picture: good but not perfect
psnr=$(sed -n 's/.*"psnr_rgb": \([0-9.]*\).*/\1/p' "$T/out")
checks=$((checks + 1))
awk -v p="$psnr" 'BEGIN { exit !(p > 25 && p < 80) }' || fail "JPEG q95 PSNR '$psnr' out of range"
expect 0 "$NIC" compare --size-of "$IMG/baseline.jpg" "$IMG/rgb8.png" "$IMG/baseline.jpg"
has "$T/out" "776 bytes"; has "$T/out" "8.0833 bpp"

# compare: errors
expect 2 "$NIC" compare "$IMG/rgb8.png";                     has "$T/err" "needs two images"
expect 2 "$NIC" compare --bogus "$IMG/rgb8.png" "$IMG/rgb8.png"; has "$T/err" "unknown option"
expect 1 "$NIC" compare "$IMG/rgb8.png" "$T/missing.png";   has "$T/err" "missing.png: cannot open"
expect 1 "$NIC" compare "$IMG/rgb8.png" "$IMG/bad-huge.png"; has "$T/err" "bad-huge.png"
expect 1 "$NIC" compare "$IMG/rgb8.png" "$IMG/bad-truncated.jpg"; has "$T/err" "truncated"
for bad in "$IMG"/bad-*; do
    expect 1 "$NIC" compare "$IMG/rgb8.png" "$bad"
    has "$T/err" "$(basename "$bad")"
done

# convert: formats, quality, sizes, errors
expect 0 "$NIC" convert -q 50 "$IMG/rgb8.png" "$T/q50.jpg";  has "$T/err" "32x24 RGB"
expect 0 "$NIC" convert "$IMG/cmyk.jpg" "$T/cmyk.png"
expect 0 "$NIC" compare "$IMG/rgb8.png" "$T/cmyk.png"
expect 0 "$NIC" convert --gray "$IMG/rgb8.png" "$T/g.pgm";   has "$T/err" "gray"
expect 0 "$NIC" convert --quiet "$IMG/rgba8.png" "$T/a.png"; has "$T/err" "alpha channel ignored"
expect 2 "$NIC" convert -q 0 "$IMG/rgb8.png" "$T/x.jpg";     has "$T/err" "1..100"
# --max-side: 32x24 -> 16x12 (aspect kept); already small enough: unchanged
expect 0 "$NIC" convert --max-side 16 "$IMG/rgb8.png" "$T/s.png";   has "$T/err" "16x12 RGB"
expect 0 "$NIC" convert --max-side 99 "$IMG/rgb8.png" "$T/s2.png";  has "$T/err" "32x24 RGB"
expect 2 "$NIC" convert --max-side 0 "$IMG/rgb8.png" "$T/s3.png";   has "$T/err" "--max-side"
expect 2 "$NIC" convert "$IMG/rgb8.png" "$T/x.tiff";         has "$T/err" "unknown output format"
expect 3 "$NIC" convert "$IMG/rgb8.png" "$T/no/such/dir.png"; has "$T/err" "cannot create"
expect 1 "$NIC" convert "$IMG/bad-magic.png" "$T/x.png";     has "$T/err" "bad-magic.png"
checks=$((checks + 1))
[ ! -e "$T/x.png" ] || fail "a failed convert left an output file"
# stdin/stdout
checks=$((checks + 1))
"$NIC" convert - - <"$IMG/rgb.ppm" >"$T/stdout.png" 2>"$T/err" || fail "convert - - failed"
expect 0 "$NIC" compare "$IMG/rgb8.png" "$T/stdout.png";   has "$T/out" "PSNR-RGB  inf"

cli_finish
