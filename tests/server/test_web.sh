#!/bin/sh
# The web page in a real browser (tests/web/test_page.js: Debian chromium
# driven by playwright-core from npm, installed by `make deps`): upload,
# 4 KB result, numbers, in-browser WebAssembly decode identical to the
# server's, comparison slider, download, screenshot (build/web-test.png).
. "$(dirname "$0")/lib.sh"
cli_setup test_web
require_tool node
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || require_tool chromium
WEB="$NIC_TESTS/web"
missing=""
[ -d "$WEB/node_modules/playwright-core" ] || missing="playwright-core (npm ci in tests/web)"
[ -f "$NIC_BUILD/wasm/nic-decoder.js" ] || missing="${missing:+$missing, }the wasm decoder (emscripten)"
if [ -n "$missing" ]; then
    if [ "${CI:-}" = "true" ]; then fail "missing: $missing (make deps installs it)"; cli_finish; fi
    echo "SKIP: missing $missing (make deps installs it); not testing the page"
    exit 0
fi
export OMP_NUM_THREADS=1
serve_start web --threads 2
# a gray picture coded smaller than it is: the page's other decoding path
expect 0 "$NIC" encode --max-bytes 120 "$NIC_FIXTURES/metrics/tint_gray.png" "$T/gray.nic"; has "$T/err" "coded at"
expect 0 node "$WEB/test_page.js" "$BASE" "$NIC_FIXTURES/metrics/blur_rgb_a.png" "$NIC_BUILD/web-test.png" "$T/gray.nic"
cat "$T/out"
has "$T/out" "passed, 0 failed"
checks=$((checks + 1)); [ -s "$NIC_BUILD/web-test.png" ] || fail "no screenshot"
grep -q '"POST /v1/encode" 200 ' "$T/web.log" || fail "the page made no successful encode request"
serve_stop web
cli_finish
