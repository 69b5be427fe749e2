#!/bin/sh
# eval_rd_summary (bench/): BD-rate of two synthetic curves whose answer is
# known, budget rows counted once per image whatever setting won (and the
# test codec's mean over the images another codec fit), and the
# PSNR / MS-SSIM plots written as real PNG and SVG files.
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP.
. "$(dirname "$0")/lib.sh"
cli_setup test_rd_summary
RD="$(dirname "$NIC")/bench/eval_rd_summary"
[ -x "$RD" ] || { fail "no $RD"; cli_finish; }

# "nic" needs half the bits of "ref" for the same quality at every point:
# BD-rate -50 %. PSNR = 20 + 4 log2(rate / 0.03), MS-SSIM from it.
awk 'BEGIN {
  print "image,codec,setting,bytes,bpp,psnr,ms_ssim";
  for (img = 1; img <= 2; img++)
    for (k = 0; k < 6; k++) {
      r = 0.03 * 2 ^ k; p = 20 + 4 * k; m = 1 - 10 ^ (-(p - 14) / 10);
      printf "im%d,ref,s%d,%d,%.6f,%.4f,%.6f\n", img, k, r * 1000, r, p, m;
      printf "im%d,nic,s%d,%d,%.6f,%.4f,%.6f\n", img, k, r * 500, r / 2, p, m;
    }
}' > "$T/a.csv"
# budget rows: one image, the same budget twice with different settings
# (two tools wrote it): the later row wins and the image counts once
cat > "$T/b.csv" <<'CSV'
image,codec,setting,bytes,bpp,psnr,ms_ssim
im1,ref@4000,q10,3900,0.08,24.0,0.90
im1,ref@4000,q12,3990,0.081,25.0,0.91
im1,nic@4000,q100,3000,0.06,26.0,0.92
im2,nic@4000,q120,3500,0.07,30.0,0.96
CSV

expect 0 "$RD" --plots "$T/rd" "$T/a.csv" "$T/b.csv"
has "$T/out" "| ref | -50.0 % |"
has "$T/out" "| 4000 B | ref | 1/2 | 0.0810 | 25.00 | 0.9100 |"
# ... beside nic's mean over the same images: im1 only (ref fit nothing else)
has "$T/out" "| 4000 B | ref | 1/2 | 0.0810 | 25.00 | 0.9100 | 26.00 / 0.9200 |"
has "$T/out" "| 4000 B | nic | 2/2 | 0.0650 | 28.00 | 0.9400 | 28.00 / 0.9400 |"
has "$T/out" "wrote $T/rd-psnr.png"
for f in rd-psnr rd-msssim; do
    checks=$((checks + 1))
    [ "$(head -c 4 "$T/$f.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] || fail "$f.png is not a PNG"
    has "$T/$f.svg" "<svg"
    has "$T/$f.svg" "ref"
done
has "$T/rd-psnr.svg" "bmshj2018"

# usage errors
expect 2 "$RD"
expect 2 "$RD" --bogus "$T/a.csv"
expect 1 "$RD" "$T/missing.csv"; has "$T/err" "cannot read"
cli_finish
