#!/bin/sh
# Builds the WebAssembly decoder (src/wasm/) with emscripten:
#   sh scripts/build-wasm.sh OUTDIR   ->  OUTDIR/nic-decoder.js, OUTDIR/nic-decoder.wasm
# Only what decoding needs, from the library's own sources: no oneDNN (the
# decoder's deterministic kernels are plain C), no libpng/libjpeg (pixels go
# to JavaScript), no zlib or OpenMP (src/wasm/compat/). `make wasm` runs it;
# the CMake build runs it too when emcc is installed, to embed the result in
# `nic serve`.
set -eu
out=${1:?usage: build-wasm.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v emcc >/dev/null 2>&1 || { echo "build-wasm: emcc not found (apt-get install emscripten)" >&2; exit 1; }
# Debian's emscripten runs its JavaScript tools with node and needs Debian's
# node modules (node-acorn); a node from elsewhere does not search there.
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
mkdir -p "$out"

src="$root/src"
files=""
for area in common format entropy nn models codec metrics; do
    for f in "$src/$area"/*.c; do files="$files $f"; done
done
files="$files $src/image/image.c $src/image/resize.c $src/image/pnm_io.c $src/image/orientation.c"
files="$files $src/wasm/nic_wasm.c $src/wasm/no_png_jpeg.c"

# -ffp-contract=off: no fused multiply-add, as the native build (C11 mode)
# does not fuse either: the same roundings, so the same pixels.
# shellcheck disable=SC2086
emcc -O3 -msimd128 -std=c11 -ffp-contract=off -D_POSIX_C_SOURCE=200809L -DNIC_BUILDING_LIBRARY \
    -Wno-unknown-pragmas -I"$root/include" -I"$src" -I"$src/wasm/compat" \
    $files -o "$out/nic-decoder.js" \
    -sMODULARIZE=1 -sEXPORT_NAME=createNicDecoder -sENVIRONMENT=web,worker,node \
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=67108864 -sFORCE_FILESYSTEM=1 \
    -sEXPORTED_FUNCTIONS=_malloc,_free,_nicw_open,_nicw_decode,_nicw_error,_nicw_width,_nicw_height,_nicw_channels,_nicw_pixels,_nicw_close \
    -sEXPORTED_RUNTIME_METHODS=FS,UTF8ToString,stringToUTF8,lengthBytesUTF8,HEAPU8
echo "build-wasm: $out/nic-decoder.js ($(wc -c <"$out/nic-decoder.js") bytes)," \
     "$out/nic-decoder.wasm ($(wc -c <"$out/nic-decoder.wasm") bytes)"
