#!/bin/sh
# eval-codecs.sh: rate-distortion points and byte-budget points of the
# classical codecs on Kodak, as CSV rows in eval_kodak's format
# (image,codec,setting,bytes,bpp,psnr,ms_ssim), for bench/eval_rd_summary.
#
#   scripts/eval-codecs.sh [--images N] [--out DIR] [--codecs "jpeg webp ..."]
#                          [--no-budgets]
#
# Writes DIR/eval_codecs.csv (DIR defaults to runs/; the file is rewritten).
# Images: ${KODAK:-../shared/data/kodak}/kodim01..24.png; nic: ${NIC:-build/nic}.
#
# Encoders (DESIGN.md, "Evaluation protocol"; Debian's packages):
#   jpeg  nic convert -q Q            (libjpeg-turbo, optimized Huffman = cjpeg -optimize, 4:2:0)
#   webp  cwebp -m 6 -q Q             decoded with dwebp
#   avif  avifenc -j 1 -s 4 -y 444 -d 8 --min Q --max Q   (aom; Q = quantizer 0..63,
#         lower is better; setting label qQ)                decoded with avifdec -d 8
#   jxl   cjxl -e 7 -d D --num_threads=1                   decoded with djxl
#   heic  heif-enc -p chroma=444 -q Q (x265)               decoded with heif-convert
# Quality is measured by `nic compare --json --size-of FILE ORIG DECODED`
# (rate = whole file bytes * 8 / pixels; PSNR on 8-bit RGB; MS-SSIM on luma).
#
# Byte budgets (1000 2000 4000 8000 16000 bytes): per image and codec, the
# highest-quality setting whose file fits, found by bisection over the quality
# parameter (assumes the file size grows with quality; encodes are cached per
# image so the budgets share them); rows `codec@budget`, none when nothing fits.
#
# One encoder runs at a time (the machine is shared). Progress goes to stderr.
set -eu

NIC=${NIC:-build/nic}
KODAK=${KODAK:-../shared/data/kodak}
images=24
out=runs
codecs="jpeg webp avif jxl heic"
budgets="1000 2000 4000 8000 16000"
do_budgets=1

usage() {
    echo "usage: $0 [--images N] [--out DIR] [--codecs \"jpeg webp avif jxl heic\"] [--no-budgets]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --images) [ $# -ge 2 ] || usage; images=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        --codecs) [ $# -ge 2 ] || usage; codecs=$2; shift 2 ;;
        --no-budgets) do_budgets=0; shift ;;
        -h|--help) usage ;;
        *) usage ;;
    esac
done
case $images in ''|*[!0-9]*) usage ;; esac
[ "$images" -ge 1 ] && [ "$images" -le 24 ] || images=24

# --- codecs: quality index (larger = higher quality = bigger file) ---------
# idx_range CODEC: "LO HI"; grid CODEC: the indices of the RD curve's settings.
idx_range() {
    case $1 in
        jpeg) echo "1 100" ;;
        webp) echo "0 100" ;;
        avif) echo "0 63" ;;     # quantizer 63 - idx
        jxl) echo "0 245" ;;     # distance (250 - idx) / 10: 25.0 .. 0.5
        heic) echo "0 100" ;;
    esac
}
# Settings chosen to span about 0.03-0.6 bpp on Kodak (measured on kodim01/02;
# at their lowest settings JPEG gives ~0.085, WebP ~0.09, JPEG XL ~0.12 bpp there).
grid() {
    case $1 in
        jpeg) echo "1 3 5 8 12 18 25 35" ;;          # q2 is q1's size
        webp) echo "0 1 3 6 10 16 24 32 42" ;;
        avif) echo "0 2 4 7 10 13 17 21 25" ;;        # q63 61 59 56 53 50 46 42 38
        jxl) echo "0 50 90 120 150 170 185 200 210" ;; # d25 20 16 13 10 8 6.5 5 4
        heic) echo "2 5 10 15 20 25 30 35" ;;
    esac
}
label() { # CODEC IDX -> setting label
    case $1 in
        avif) echo "q$((63 - $2))" ;;
        jxl) t=$((250 - $2)); echo "d$((t / 10)).$((t % 10))" ;;
        *) echo "q$2" ;;
    esac
}
ext() {
    case $1 in
        jpeg) echo jpg ;;
        *) echo "$1" ;;
    esac
}
# run CMD...: runs quietly; on failure prints what it said and fails.
run() {
    if ! "$@" >"$tmp/log" 2>&1; then
        echo "eval-codecs: failed: $*" >&2
        cat "$tmp/log" >&2
        return 1
    fi
}
encode() { # CODEC IDX IN OUT
    case $1 in
        jpeg) run "$NIC" convert --quiet -q "$2" "$3" "$4" ;;
        webp) run cwebp -quiet -m 6 -q "$2" "$3" -o "$4" ;;
        avif) run avifenc -j 1 -s 4 -y 444 -d 8 --min $((63 - $2)) --max $((63 - $2)) "$3" "$4" ;;
        jxl) t=$((250 - $2)); run cjxl -e 7 -d "$((t / 10)).$((t % 10))" --num_threads=1 "$3" "$4" ;;
        heic) run heif-enc -p chroma=444 -q "$2" -o "$4" "$3" ;;
    esac
}
decode() { # CODEC FILE PNG
    case $1 in
        jpeg) run "$NIC" convert --quiet "$2" "$3" ;;
        webp) run dwebp -quiet "$2" -o "$3" ;;
        avif) run avifdec -j 1 -d 8 "$2" "$3" ;;
        jxl) run djxl "$2" "$3" --num_threads=1 ;;
        heic) run heif-convert "$2" "$3" ;;
    esac
}

for tool in "$NIC" cwebp dwebp avifenc avifdec cjxl djxl heif-enc heif-convert; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "eval-codecs: $tool not found (make deps installs the encoders)" >&2
        exit 1
    fi
done
[ -r "$KODAK/kodim01.png" ] || { echo "eval-codecs: no Kodak images in $KODAK" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nic-eval-codecs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$out"
csv=$out/eval_codecs.csv
echo "image,codec,setting,bytes,bpp,psnr,ms_ssim" >"$csv"

# coded CODEC IDX: encodes the current image (once; cached); sets $size.
coded() {
    f=$tmp/c/$1-$2.$(ext "$1")
    [ -s "$f" ] || encode "$1" "$2" "$img" "$f"
    size=$(wc -c <"$f" | tr -d ' ')
}
# row ROWCODEC CODEC IDX: decodes the cached file, measures it, appends a row.
row() {
    f=$tmp/c/$2-$3.$(ext "$2")
    decode "$2" "$f" "$tmp/dec.png"
    "$NIC" compare --json --size-of "$f" "$img" "$tmp/dec.png" >"$tmp/json" || {
        echo "eval-codecs: nic compare failed on $f" >&2
        return 1
    }
    line=$(awk -v name="$name" -v codec="$1" -v setting="$(label "$2" "$3")" '
        { s = s $0 }
        END {
            n = split("bytes bpp psnr_rgb ms_ssim", keys, " ")
            for (i = 1; i <= n; i++) {
                v = s; p = index(v, "\"" keys[i] "\":")
                if (p == 0) { print "missing " keys[i] > "/dev/stderr"; exit 1 }
                v = substr(v, p + length(keys[i]) + 3); sub(/^[ ]*/, "", v)
                match(v, /^[^,}]*/); val[i] = substr(v, 1, RLENGTH)
            }
            psnr = val[3] == "null" ? "inf" : sprintf("%.4f", val[3])
            printf "%s,%s,%s,%d,%.5f,%s,%.6f\n", name, codec, setting, val[1], val[2], psnr, val[4]
        }' "$tmp/json")
    echo "$line" >>"$csv"
    echo "  $line" >&2
}

echo "eval-codecs: $images image(s), codecs: $codecs; writing $csv" >&2
k=1
while [ "$k" -le "$images" ]; do
    name=$(printf "kodim%02d" "$k")
    img=$KODAK/$name.png
    rm -rf "$tmp/c"
    mkdir "$tmp/c"
    echo "[$k/$images] $name" >&2
    for codec in $codecs; do
        case $codec in jpeg|webp|avif|jxl|heic) ;; *) echo "eval-codecs: unknown codec $codec" >&2; exit 2 ;; esac
        for i in $(grid "$codec"); do
            coded "$codec" "$i"
            row "$codec" "$codec" "$i"
        done
        [ "$do_budgets" -eq 1 ] || continue
        # shellcheck disable=SC2046
        set -- $(idx_range "$codec")
        lo=$1 hi=$2
        for b in $budgets; do
            # largest idx in [lo, hi] whose file fits: invariant size(a) <= b < size(z)
            coded "$codec" "$lo"
            if [ "$size" -gt "$b" ]; then
                echo "  $codec@$b: nothing fits" >&2
                continue
            fi
            a=$lo z=$((hi + 1))
            while [ $((z - a)) -gt 1 ]; do
                m=$(((a + z) / 2))
                coded "$codec" "$m"
                if [ "$size" -le "$b" ]; then a=$m; else z=$m; fi
            done
            row "$codec@$b" "$codec" "$a"
        done
    done
    k=$((k + 1))
done
echo "eval-codecs: done; $(($(wc -l <"$csv") - 1)) rows in $csv" >&2
