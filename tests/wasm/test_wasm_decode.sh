#!/bin/sh
# The WebAssembly decoder (build/wasm, from scripts/build-wasm.sh) against the
# native one: the same .nic files, decoded by `nic decode` (one and two
# threads) and by the wasm module under node, must give the same bytes.
# Files made with the shipped model: color, gray, downscaled, large.
. "$(dirname "$0")/../server/lib.sh"
cli_setup test_wasm_decode
require_tool node
WASM="$NIC_BUILD/wasm/nic-decoder.js"
if [ ! -f "$WASM" ]; then
    if [ "${CI:-}" = "true" ]; then fail "no $WASM: the build did not find emcc (make deps installs emscripten)"; cli_finish; fi
    echo "SKIP: no wasm decoder in this build (install emscripten and rebuild)"; exit 0
fi
MODEL="$NIC_TESTS/../models/hyper.safetensors"
make_ppm 400 300 >"$T/mid.ppm"

check_same() { # NAME: $T/NAME.nic decoded three ways
    OMP_NUM_THREADS=1 expect 0 "$NIC" decode "$T/$1.nic" "$T/$1.native1.ppm"
    OMP_NUM_THREADS=2 expect 0 "$NIC" decode "$T/$1.nic" "$T/$1.native2.ppm"
    expect 0 node "$NIC_TESTS/wasm/decode.js" "$WASM" "$MODEL" "$T/$1.nic" "$T/$1.wasm.ppm"
    cat "$T/out"
    checks=$((checks + 1))
    cmp -s "$T/$1.native1.ppm" "$T/$1.native2.ppm" || fail "$1: native decoding depends on the thread count"
    checks=$((checks + 1))
    if cmp -s "$T/$1.native1.ppm" "$T/$1.wasm.ppm"; then
        echo "$1: wasm and native pixels identical ($(wc -c <"$T/$1.wasm.ppm" | tr -d ' ') bytes of PPM)"
    else
        fail "$1: the wasm decoder's pixels differ from the native decoder's"
        expect 0 "$NIC" compare "$T/$1.native1.ppm" "$T/$1.wasm.ppm"; cat "$T/out" >&2
    fi
}

expect 0 "$NIC" encode --max-bytes 2000 "$NIC_FIXTURES/metrics/blur_rgb_a.png" "$T/color.nic"
check_same color
expect 0 "$NIC" encode -q 70 "$NIC_FIXTURES/metrics/tint_gray.png" "$T/gray.nic"
check_same gray
expect 0 "$NIC" encode --max-bytes 400 "$T/mid.ppm" "$T/small.nic"; has "$T/err" "coded at"
check_same small
expect 0 "$NIC" encode -q 100 "$T/mid.ppm" "$T/large.nic"
check_same large
# a broken file is an error there too, not a crash
head -c 50 "$T/color.nic" >"$T/cut.nic"
expect 1 node "$NIC_TESTS/wasm/decode.js" "$WASM" "$MODEL" "$T/cut.nic" "$T/cut.ppm"
has "$T/err" "wasm decode"

cli_finish
