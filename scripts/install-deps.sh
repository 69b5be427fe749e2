#!/bin/sh
# Installs the Debian packages nic needs to build, test and run.
# Idempotent: does nothing when every package is already installed; otherwise
# runs `apt-get update` once and installs what is missing (needs root).
set -eu

PACKAGES="build-essential cmake pkg-config
libpng-dev libjpeg62-turbo-dev zlib1g-dev libdnnl-dev libomp-dev
clang libclang-rt-14-dev
libopenmpi-dev openmpi-bin
webp libavif-bin libjxl-tools libheif-examples"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all packages already installed"
    exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: need root (or sudo) to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
