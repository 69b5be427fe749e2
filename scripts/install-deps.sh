#!/bin/sh
# Installs the Debian packages nic needs to build, test and run, then the npm
# packages of the browser test (tests/web, from its package-lock.json).
# Idempotent: does nothing when every package is already installed; otherwise
# runs `apt-get update` once and installs what is missing (needs root).
set -eu
cd "$(dirname "$0")/.."

# nic serve: libmicrohttpd; the in-browser decoder: emscripten; its tests:
# curl, node + npm, chromium; the load benchmark: wrk.
PACKAGES="build-essential cmake pkg-config
libpng-dev libjpeg62-turbo-dev zlib1g-dev libdnnl-dev libomp-dev
clang libclang-rt-14-dev
libopenmpi-dev openmpi-bin
webp libavif-bin libjxl-tools libheif-examples
libmicrohttpd-dev emscripten chromium curl wrk python3"
# A node from elsewhere (with its own npm) is fine; otherwise Debian's.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

npm_packages() {
    # playwright-core for tests/web; the browser is Debian's chromium (no download).
    if [ ! -d tests/web/node_modules/playwright-core ] ||
       [ tests/web/package-lock.json -nt tests/web/node_modules/.package-lock.json ]; then
        echo "deps: npm ci in tests/web"
        (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    fi
}

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all packages already installed"
    npm_packages
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
npm_packages
