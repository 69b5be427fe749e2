#!/bin/sh
# Run ON THE GPU MACHINE (device tool), from the repository root, with .deps
# carried (scripts/gpu-prepare.sh). Builds with the CUDA backend and then:
#   sh scripts/gpu-session.sh check          CUDA tests + all tests + benchmarks
#   sh scripts/gpu-session.sh train MINUTES  train the default model on the GPU for
#                                            MINUTES (resuming .deps/run if present)
# Logs and results go to $OUT (what the device tool brings back); a checkpoint
# larger than 15 MiB comes back in parts: cat ckpt.part.* > checkpoint.safetensors.
set -eu
MODE=${1:-check}
OUT=${OUT:-out}
mkdir -p "$OUT"
JOBS=$(nproc)
R=$PWD/.deps/root
LIB=$R/usr/lib/x86_64-linux-gnu
log() { echo "== $*" | tee -a "$OUT/session.log"; }

# At most 8 files come back: session.log plus each mode's own (build logs only on failure).
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/session.log" || true
# Debian packages the image may lack: unpacked under .deps/root, never into /.
EXTRA=""
if [ ! -f /usr/include/png.h ] || [ ! -f /usr/include/jpeglib.h ] || [ ! -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    if [ ! -d "$R" ]; then
        mkdir -p "$R"
        for f in .deps/debs/*.deb; do
            if command -v dpkg >/dev/null; then dpkg -x "$f" "$R"
            else ar p "$f" data.tar.xz | tar -xJ -C "$R"; fi  # Debian 12 debs hold data.tar.xz
        done
    fi
    ZLIB_SO=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
    EXTRA="-DPNG_PNG_INCLUDE_DIR=$R/usr/include -DPNG_LIBRARY=$(ls $LIB/libpng16.so.16.* | head -1)
        -DJPEG_INCLUDE_DIR=$R/usr/include -DJPEG_LIBRARY=$(ls $LIB/libjpeg.so.62.* | head -1)
        -DDNNL_INCLUDE_DIR=$R/usr/include -DDNNL_LIBRARY=$(ls $LIB/libdnnl.so.* | head -1)"
    [ -f /usr/include/zlib.h ] || EXTRA="$EXTRA -DZLIB_INCLUDE_DIR=$R/usr/include -DZLIB_LIBRARY=$ZLIB_SO"
    export CFLAGS="-I$R/usr/include/x86_64-linux-gnu"
    export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ ! -x build-gpu/nic ]; then
    log "configure + build (CUDA backend, $JOBS jobs)"
    # shellcheck disable=SC2086
    mkdir -p build-gpu
    cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DNIC_CUDA=ON -DNIC_MPI=OFF $EXTRA \
        >build-gpu/configure.log 2>&1 || { cp build-gpu/configure.log "$OUT/"; tail -30 build-gpu/configure.log; exit 1; }
    grep -E "CUDA|oneDNN|MPI" build-gpu/configure.log | tee -a "$OUT/session.log"
    cmake --build build-gpu -j "$JOBS" >build-gpu/build.log 2>&1 ||
        { cp build-gpu/build.log "$OUT/"; grep -E "error" build-gpu/build.log | head -40; exit 1; }
fi

case $MODE in
check)
    log "CUDA tests"
    build-gpu/tests/test_cuda 2>&1 | tee "$OUT/test_cuda.log" || true
    log "all tests"
    OMP_NUM_THREADS=4 ctest --test-dir build-gpu -j 4 --output-on-failure >"$OUT/ctest.log" 2>&1 || true
    tail -5 "$OUT/ctest.log" | tee -a "$OUT/session.log"
    log "benchmark: nic (GPU and CPU), batch 8 x 256x256"
    OMP_NUM_THREADS=$JOBS build-gpu/bench/bench_train_gpu --steps 100 --cpu-steps 3 2>&1 | tee "$OUT/bench.log" || true
    log "benchmark: PyTorch on the same GPU"
    PYTHONUNBUFFERED=1 python3 bench/bench_train_gpu_torch.py --steps 100 2>&1 | tee -a "$OUT/bench.log" || true
    PYTHONUNBUFFERED=1 timeout 240 python3 bench/bench_train_gpu_torch.py --steps 100 --compile 2>&1 | tail -2 | tee -a "$OUT/bench.log" || true
    ;;
train)
    MIN=${2:-8}
    RUN=.deps/run
    mkdir -p "$RUN"
    [ -f "$RUN/ckpt.part.aa" ] && cat "$RUN"/ckpt.part.* >"$RUN/checkpoint.safetensors" && rm "$RUN"/ckpt.part.*
    INIT=""
    [ -f "$RUN/checkpoint.safetensors" ] || INIT="--init models/hyper.safetensors"
    log "train $MIN minutes on the GPU ($([ -n "$INIT" ] && echo "from the shipped model" || echo "resuming $RUN"))"
    # shellcheck disable=SC2086
    build-gpu/nic train --device cuda --out "$RUN" $INIT --data .deps/data/bsds500/train:.deps/data/bsds500/test \
        --val-count 0 --batch 8 --crop 256 --steps ${STEPS:-200000} --warmup ${WARMUP:-500} --log-every 200 \
        --checkpoint-every 2000 --time-limit "$MIN" 2>&1 | tee "$OUT/train.log"
    cp "$RUN/train.csv" "$RUN/model.safetensors" "$OUT/"
    split -b 15M "$RUN/checkpoint.safetensors" "$OUT/ckpt.part."
    ;;
*)
    echo "usage: sh scripts/gpu-session.sh check | train MINUTES" >&2
    exit 2
    ;;
esac
log "done"
