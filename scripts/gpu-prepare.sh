#!/bin/sh
# Run HERE (the developer machine, Debian 12) before a GPU session: gathers
# what the GPU machine lacks into .deps/ (ignored by git), to be named in the
# device tool's `carry`:
#   .deps/debs   Debian packages for the build (PNG, JPEG, zlib, oneDNN headers
#                and libraries), unpacked there without touching / (gpu-session.sh)
#   .deps/data   BSDS500 train + test (training crops), from ../shared/data
#   .deps/run    a run folder to resume, if you copy one there (optional)
# The whole working tree that travels must stay under 64 MiB: this adds ~40 MB.
set -eu
cd "$(dirname "$0")/.."
mkdir -p .deps/debs .deps/data
# .deps/ is ignored (.gitignore): it travels only when carried.
(cd .deps/debs && apt-get download libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo \
    zlib1g-dev libdnnl-dev libdnnl2 ocl-icd-libopencl1)
SHARED=${SHARED:-../shared/data}
for part in train test; do
    [ -d ".deps/data/bsds500/$part" ] || { mkdir -p .deps/data/bsds500 && cp -r "$SHARED/bsds500/$part" .deps/data/bsds500/; }
done
du -sh .deps/* 
echo "gpu-prepare: done; carry [\".deps\"] in every device call"
