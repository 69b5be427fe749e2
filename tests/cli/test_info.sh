#!/bin/sh
# Black-box tests of `nic info`: fields of a valid file (text and JSON), and
# a clear error with exit status 1 for every kind of malformed file.
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP.
. "$(dirname "$0")/lib.sh"
cli_setup test_info
SAMPLE="$NIC_FIXTURES/format/sample.nic"

# patch FILE OFFSET BYTE(octal) : overwrite one byte
patch() { printf "\\$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

# help, usage
expect 0 "$NIC" info --help;  has "$T/out" "Usage: nic info"; has "$T/out" "default="
expect 0 "$NIC" help info;    has "$T/out" "--json"
expect 0 "$NIC" --help;       has "$T/out" "info"
expect 2 "$NIC" info;         has "$T/err" "needs a .nic file"
expect 2 "$NIC" info --bogus "$SAMPLE"; has "$T/err" "unknown option '--bogus'"
expect 2 "$NIC" info --params-bytes x "$SAMPLE"

# a valid file (the golden sample of tests/unit/test_container.c)
expect 0 "$NIC" info "$SAMPLE"
has "$T/out" "size            329 bytes"
has "$T/out" "format version  1"
has "$T/out" "model           id 1 (hyper), weights hash 1234abcd"
has "$T/out" "image           768x512, 3 channels (RGB)"
has "$T/out" "orientation     3 (rotate 180)"
has "$T/out" "parameters      2 bytes: 2a07"
has "$T/out" "streams         2"
has "$T/out" "stream 1      300 bytes at offset 25"
has "$T/out" "overhead        22 bytes"
has "$T/out" "crc-32          122a732c (ok)"
expect 0 "$NIC" info --json "$SAMPLE"
has "$T/out" '"bytes": 329'; has "$T/out" '"model_id": 1'; has "$T/out" '"model": "hyper"'; has "$T/out" '"weights_hash": "1234abcd"'
has "$T/out" '"streams": [{"index": 0, "offset": 20, "bytes": 5}, {"index": 1, "offset": 25, "bytes": 300}]'
has "$T/out" '"crc32": "122a732c"'; has "$T/out" '"truncated": false'
if command -v python3 >/dev/null 2>&1; then
    checks=$((checks + 1))
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["width"]==768' "$T/out" \
        || fail "info --json is not valid JSON"
fi
cp "$SAMPLE" "$T/b.nic"
expect 0 "$NIC" info --json "$SAMPLE" "$T/b.nic"
has "$T/out" '[{"file": '; has "$T/out" '}, {"file": '

# missing file
expect 1 "$NIC" info "$T/none.nic"; has "$T/err" "nic info: error: $T/none.nic: cannot open"

# truncated: every length from 0 to the full size minus one
size=$(wc -c <"$SAMPLE")
n=0
while [ "$n" -lt "$size" ]; do
    head -c "$n" "$SAMPLE" >"$T/cut.nic"
    "$NIC" info "$T/cut.nic" >/dev/null 2>"$T/err"
    rc=$?
    checks=$((checks + 1))
    [ "$rc" -eq 1 ] || fail "truncated to $n bytes: exit $rc, expected 1"
    grep -q "nic info: error: $T/cut.nic: " "$T/err" || fail "truncated to $n bytes: no error message"
    n=$((n + 1))
done
head -c 200 "$SAMPLE" >"$T/cut.nic"
expect 1 "$NIC" info "$T/cut.nic"; has "$T/err" "truncated: stream 1 (300 bytes at offset 25)"
expect 0 "$NIC" info --partial "$T/cut.nic"
has "$T/out" "TRUNCATED"; has "$T/out" "stream 1      175 bytes"; has "$T/out" "not checked"

# wrong magic, 7-bit magic, unsupported version
cp "$SAMPLE" "$T/m.nic"; patch "$T/m.nic" 0 120
expect 1 "$NIC" info "$T/m.nic"; has "$T/err" "not a .nic file: offset 0: magic is 50 C9, expected 4E C9"
cp "$SAMPLE" "$T/m.nic"; patch "$T/m.nic" 1 111
expect 1 "$NIC" info "$T/m.nic"; has "$T/err" "7-bit"
cp "$SAMPLE" "$T/v.nic"; patch "$T/v.nic" 2 046
expect 1 "$NIC" info "$T/v.nic"; has "$T/err" "offset 2: format version 2, this nic reads version 1"

# bad CRC: one flipped byte inside stream 1, and a wrong stored CRC
cp "$SAMPLE" "$T/c.nic"; patch "$T/c.nic" 100 377
expect 1 "$NIC" info "$T/c.nic"; has "$T/err" "CRC-32 mismatch: stored 122a732c"
cp "$SAMPLE" "$T/c.nic"; patch "$T/c.nic" 325 000
expect 1 "$NIC" info "$T/c.nic"; has "$T/err" "CRC-32 mismatch"

# trailing garbage
cp "$SAMPLE" "$T/t.nic"; printf 'xyz' >>"$T/t.nic"
expect 1 "$NIC" info "$T/t.nic"; has "$T/err" "3 bytes of unexpected data after the CRC-32"

# stream length past the end (length of stream 1 raised from 300 to 428)
cp "$SAMPLE" "$T/l.nic"; patch "$T/l.nic" 19 003
expect 1 "$NIC" info "$T/l.nic"; has "$T/err" "stream 1 (428 bytes at offset 25) ends at byte 453, past the end"

# not a .nic file at all
printf 'P6\n1 1\n255\nabc' >"$T/x.nic"
expect 1 "$NIC" info "$T/x.nic"; has "$T/err" "not a .nic file"
: >"$T/e.nic"
expect 1 "$NIC" info "$T/e.nic"; has "$T/err" "file is empty"

# a bad file among good ones: the good ones are still shown, the exit status is 1
expect 1 "$NIC" info "$SAMPLE" "$T/c.nic"; has "$T/out" "crc-32          122a732c (ok)"

cli_finish
