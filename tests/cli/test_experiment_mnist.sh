#!/bin/sh
# Black-box test of `nic experiment mnist --quick`: the report's files exist,
# and the numbers it states agree with each other and with the files it wrote.
# Needs the MNIST data ($NIC_DATA/mnist, else ../shared/data/mnist beside the
# checkout); without it only the command-line checks run, saying so.
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP, NIC_TESTS.
. "$(dirname "$0")/lib.sh"
cli_setup test_experiment_mnist

# value KEY : the number after "KEY = " in summary.txt
value() { awk -F' = ' -v k="$1" '$1 == k { print $2 }' "$OUT/summary.txt"; }
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
has "$T/out" "rnn epoch 2/2"
has "$T/out" "rnn+cnn epoch 4/4"
has "$T/out" "rnn-cnn level 7"
for f in report.md summary.txt rate_ssim.svg rate_ssim.png \
         cnn_loss.svg cnn_loss.png cnn_accuracy.svg cnn_accuracy.png \
         cnn_input_vs_output.png cnn_levels.png cnn/epochs.csv cnn/rate.csv \
         cnn/test_set.nic cnn/model.safetensors cnn/records/00000.nicm cnn/records/00255.nicm \
         rnn_loss.png rnn_accuracy.png rnn_input_vs_output.png rnn_levels.png rnn/epochs.csv \
         rnn/rate.csv rnn/rnn.safetensors rnn/records/00000.nicr rnn/records/00255.nicr \
         rnn-cnn_input_vs_output.png rnn-cnn_levels.png rnn-cnn/rate.csv \
         rnn-cnn/records/00000.nicm rnn-cnn/test_set.nic \
         rnn+cnn_loss.png rnn+cnn_input_vs_output.png rnn+cnn/epochs.csv rnn+cnn/rate.csv \
         rnn+cnn/rnn+cnn.safetensors rnn+cnn/records/00000.nicr rnn+cnn/records/00255.nicr; do
    checks=$((checks + 1))
    [ -s "$OUT/$f" ] || fail "missing or empty: $f"
done
for f in rnn+cnn_accuracy.png rnn-cnn_loss.png rnn-cnn/epochs.csv; do
    checks=$((checks + 1))
    [ ! -e "$OUT/$f" ] || fail "$f: that arm has no such thing"
done
for f in cnn_loss.png cnn_accuracy.png rnn_loss.png rnn_accuracy.png rnn+cnn_loss.png \
         rate_ssim.png cnn_input_vs_output.png cnn_levels.png rnn_input_vs_output.png \
         rnn-cnn_input_vs_output.png rnn+cnn_levels.png; do
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
# cell ROW COLUMN : the number in a row of the report's first table
cell() { awk -F'|' -v row="$1" -v col="$2" 'index($0, "| " row " |") == 1 { gsub(/[^0-9.]/, "", $col); print $col; exit }' "$OUT/report.md"; }
R_RED=$(cell "reduction vs PNG" 4); R_SSIM=$(cell "mean SSIM" 4)
check "report's reduction $R_RED = summary's $RED" "($R_RED - $RED)^2 < 0.006^2"
check "report's SSIM $R_SSIM = summary's $SSIM" "($R_SSIM - $SSIM)^2 < 0.00006^2"
has "$OUT/report.md" "![rate-SSIM](rate_ssim.png)"

# The RNN arms. rnn: raw codes, 32 bits per 16x16 block = 16 bytes per layer of a
# 32x32-padded digit, so a k-layer record is exactly 16k bytes.
RP=$(value arm_rnn_point); RREC=$(value arm_rnn_record_bytes)
check "rnn: 8 rate points (layers)" "$(value arm_rnn_points) == 8"
check "rnn: 2 epochs" "$(value arm_rnn_epochs) == 2"
check "rnn: headline 1..8 layers" "$RP >= 1 && $RP <= 8"
check "rnn: records = 16 bytes per layer and image" "$RREC == 16 * $RP * $N"
check "rnn: .nic files = records + container" \
      "$(value arm_rnn_nic_file_bytes) > $RREC && $(value arm_rnn_nic_file_bytes) < $RREC + 40 * $N"
SUM=$(cat "$OUT"/rnn/records/*.nicr | wc -c)
check "rnn record files total $SUM = $RREC" "$SUM == $RREC"
check "rnn: SSIM in [-1, 1]" "$(value arm_rnn_mean_ssim) >= -1 && $(value arm_rnn_mean_ssim) <= 1"
check "rnn: PSNR plausible" "$(value arm_rnn_mean_psnr_db) > 3 && $(value arm_rnn_mean_psnr_db) < 99"
check "rnn: rate.csv rows" "$(wc -l < "$OUT/rnn/rate.csv") == 9"
checks=$((checks + 1))
awk -F, 'NR > 1 && $3 != 16 * $1 * 256 { bad = 1 } END { exit bad }' "$OUT/rnn/rate.csv" ||
    fail "rnn/rate.csv: records are not 16 bytes per layer"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($4 > 0.5 && $4 <= 1 && $5 > 0.5 && $5 <= 1 && $2 > 0 && $3 > 0) { bad = 1 }
         END { exit bad }' "$OUT/rnn/epochs.csv" || fail "rnn/epochs.csv: loss or accuracy out of range"
# rnn+cnn: the same codes and pictures (so the same headline and SSIM), coded
CREC=$(value arm_rnn+cnn_record_bytes)
check "rnn+cnn: the rnn's rate points" "$(value arm_rnn+cnn_points) == 8 && $(value arm_rnn+cnn_point) == $RP"
check "rnn+cnn: the rnn's pictures" "$(value arm_rnn+cnn_mean_ssim) == $(value arm_rnn_mean_ssim)"
check "rnn+cnn: records $CREC at least the layer byte, at most raw + 1 byte" \
      "$CREC >= $N && $CREC <= $RREC + $N"
SUM=$(cat "$OUT"/rnn+cnn/records/*.nicr | wc -c)
check "rnn+cnn record files total $SUM = $CREC" "$SUM == $CREC"
check "rnn+cnn: 4 epochs" "$(value arm_rnn+cnn_epochs) == 4"
checks=$((checks + 1))
awk -F, 'NR > 1 && !($2 >= 0 && $2 <= 1.5 && $3 >= 0 && $3 <= 1.5) { bad = 1 } END { exit bad }' \
    "$OUT/rnn+cnn/epochs.csv" || fail "rnn+cnn/epochs.csv: bits per code out of range"
# The trained models are nic model files: a digit through nic encode/decode with them
for m in rnn rnn+cnn; do
    expect 0 env NIC_MODEL_DIR="$OUT/$m" "$NIC" encode --model "$m" --layers 2 \
        "$OUT/cnn_levels.png" "$T/$m.nic"
    expect 0 env NIC_MODEL_DIR="$OUT/$m" "$NIC" decode "$T/$m.nic" "$T/$m.png"
done
expect 0 "$NIC" info "$T/rnn+cnn.nic"; has "$T/out" "model           id 3"
# the cascade: the CNN's 8 levels on the RNN's pictures, CNN records on disk
check "rnn-cnn: 8 levels" "$(value arm_rnn-cnn_points) == 8 && $(value arm_rnn-cnn_epochs) == 0"
SUM=$(cat "$OUT"/rnn-cnn/records/*.nicm | wc -c)
check "rnn-cnn record files total $SUM" "$SUM == $(value arm_rnn-cnn_record_bytes)"
check "rnn-cnn: SSIM in [-1, 1]" \
      "$(value arm_rnn-cnn_mean_ssim) >= -1 && $(value arm_rnn-cnn_mean_ssim) <= 1"
# The report: every arm beside the paper, and the savings of rnn+cnn
has "$OUT/report.md" "### Every model of the paper, measured the same way"
for arm in cnn rnn rnn-cnn rnn+cnn; do has "$OUT/report.md" "| **$arm** |"; done
has "$OUT/report.md" "| paper (Ghosh"
has "$OUT/report.md" "### rnn+cnn against rnn: bytes saved"
has "$OUT/report.md" "![rnn loss per epoch](rnn_loss.png)"
# arms-table row ARM : column COL
arm_cell() { awk -F'|' -v row="| **$1** |" -v col="$2" 'index($0, row) == 1 { gsub(/[^0-9.]/, "", $col); print $col; exit }' "$OUT/report.md"; }
A_SSIM=$(arm_cell rnn 8); A_REC=$(arm_cell rnn 4)
check "report's rnn SSIM $A_SSIM = summary's" "($A_SSIM - $(value arm_rnn_mean_ssim))^2 < 0.00006^2"
check "report's rnn records $A_REC = summary's" "$A_REC == $RREC"
cli_finish
