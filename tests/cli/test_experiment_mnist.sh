#!/bin/sh
# Black-box test of `nic experiment mnist --quick`: the report's files exist,
# and the numbers it states agree with each other and with the files it wrote.
# Needs the MNIST data ($NIC_DATA/mnist, else ../shared/data/mnist beside the
# checkout); without it only the command-line checks run, saying so.
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP, NIC_TESTS.
. "$(dirname "$0")/lib.sh"
cli_setup test_experiment_mnist

# value KEY : the number after "KEY = " in summary.txt
value() { sed -n "s/^$1 = //p" "$OUT/summary.txt"; }
# check "description" AWK-CONDITION : one numeric assertion
check() {
    checks=$((checks + 1))
    awk "BEGIN { exit !($2) }" || fail "$1 ($2)"
}

expect 0 "$NIC" experiment --help; has "$T/out" "Usage: nic experiment mnist"
has "$T/out" "default="
expect 2 "$NIC" experiment;             has "$T/err" "which experiment"
expect 2 "$NIC" experiment cifar;       has "$T/err" "unknown experiment 'cifar'"
expect 2 "$NIC" experiment mnist --epochs 0
expect 2 "$NIC" experiment mnist --channels 4,4
expect 2 "$NIC" experiment mnist --bogus; has "$T/err" "unknown option '--bogus'"
expect 1 "$NIC" experiment mnist --quick --data "$T/nowhere" --out "$T/x"
has "$T/err" "nowhere/train-images-idx3-ubyte"

DATA="${NIC_DATA:-$NIC_TESTS/../../shared/data}/mnist"
if [ ! -e "$DATA/t10k-images-idx3-ubyte.gz" ] && [ ! -e "$DATA/t10k-images-idx3-ubyte" ]; then
    echo "test_experiment_mnist: no MNIST data at $DATA: the run itself is SKIPPED"
    cli_finish
    exit 0
fi

OUT="$T/run"
expect 0 "$NIC" experiment mnist --quick --data "$DATA" --out "$OUT"
has "$T/out" "cnn epoch 2/2"
has "$T/out" "rnn: pending issue 7"
for f in report.md summary.txt loss.svg loss.png accuracy.svg accuracy.png rate_ssim.svg \
         rate_ssim.png cnn_input_vs_output.png cnn_levels.png cnn/epochs.csv cnn/rate.csv \
         cnn/test_set.nic cnn/model.safetensors cnn/records/00000.nicm cnn/records/00255.nicm; do
    checks=$((checks + 1))
    [ -s "$OUT/$f" ] || fail "missing or empty: $f"
done
for f in loss.png accuracy.png rate_ssim.png cnn_input_vs_output.png cnn_levels.png; do
    checks=$((checks + 1))
    [ "$(head -c 4 "$OUT/$f" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] || fail "$f is not a PNG"
done
checks=$((checks + 1))
[ ! -e "$OUT/cnn/records/00256.nicm" ] || fail "more records than the 256 test images"

# summary.txt: the numbers, their ranges, and their relations
N=$(value test_images); PNG=$(value png_bytes); RAW=$(value raw_bytes)
REC=$(value record_bytes); NICF=$(value nic_file_bytes); ARCH=$(value archive_bytes)
RED=$(value reduction_vs_png_percent); SSIM=$(value mean_ssim); PSNR=$(value mean_psnr_db)
check "256 test images" "$N == 256"
check "2 epochs" "$(value epochs) == 2"
check "8 rate levels" "$(value levels) == 8"
check "raw = 784 bytes per image" "$RAW == 784 * $N"
check "a PNG of a digit is 150..400 bytes" "$PNG > 150 * $N && $PNG < 400 * $N"
check "records: at least the level byte, smaller than PNG" "$REC >= $N && $REC < $PNG"
check ".nic files = records + 17 bytes each" "$NICF == $REC + 17 * $N"
check "the archive is smaller than the records" "$ARCH > 0 && $ARCH < $REC"
check "reduction = 1 - records / PNG" \
      "($RED - 100 * (1 - $REC / $PNG))^2 < 1e-6"
check "SSIM in (0, 1]" "$SSIM > 0 && $SSIM <= 1"
check "PSNR plausible" "$PSNR > 5 && $PSNR < 99"
has "$OUT/summary.txt" "arm_rnn = pending issue 7"
# The records on disk add up to the size the summary states.
SUM=$(cat "$OUT"/cnn/records/*.nicm | wc -c)
check "record files total $SUM = record_bytes $REC" "$SUM == $REC"
ARCH_FILE=$(wc -c < "$OUT/cnn/test_set.nic")
check "archive file size" "$ARCH_FILE == $ARCH"
# The archive is a valid .nic container of the mnist model.
expect 0 "$NIC" info "$OUT/cnn/test_set.nic"
has "$T/out" "model           id 16"
has "$T/out" "image           28x28, 1 channel"
has "$T/out" "(ok)"

# CSVs: one row per epoch and per level, numbers in range.
check "epochs.csv rows" "$(wc -l < "$OUT/cnn/epochs.csv") == 3"
check "rate.csv rows" "$(wc -l < "$OUT/cnn/rate.csv") == 9"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($4 > 0.5 && $4 <= 1 && $5 > 0.5 && $5 <= 1) { bad = 1 } END { exit bad }' \
    "$OUT/cnn/epochs.csv" || fail "epochs.csv: accuracy outside (0.5, 1]"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($3 >= 256 && $10 > -1 && $10 <= 1) { bad = 1 } END { exit bad }' \
    "$OUT/cnn/rate.csv" || fail "rate.csv: sizes or SSIM out of range"

# The report states the same numbers, and the paper's beside them.
has "$OUT/report.md" "78.69 %"
has "$OUT/report.md" "0.7125"
has "$OUT/report.md" "RNN: pending issue 7"
# cell ROW COLUMN : the number in a row of the report's first table
cell() { awk -F'|' -v row="$1" -v col="$2" 'index($0, "| " row " |") == 1 { gsub(/[^0-9.]/, "", $col); print $col; exit }' "$OUT/report.md"; }
R_RED=$(cell "reduction vs PNG" 4); R_SSIM=$(cell "mean SSIM" 4)
check "report's reduction $R_RED = summary's $RED" "($R_RED - $RED)^2 < 0.006^2"
check "report's SSIM $R_SSIM = summary's $SSIM" "($R_SSIM - $SSIM)^2 < 0.00006^2"
has "$OUT/report.md" "![rate-SSIM](rate_ssim.png)"
cli_finish
