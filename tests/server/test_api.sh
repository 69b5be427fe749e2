#!/bin/sh
# nic serve's HTTP API against a server started here on a free loopback port,
# with the shipped model: endpoints, results checked against the command-line
# tool, malformed requests (4xx, and the server keeps serving), the bounded
# queue (503), deadlines, the request log and a graceful SIGTERM.
. "$(dirname "$0")/lib.sh"
cli_setup test_api
require_tool curl
export OMP_NUM_THREADS=1

IMG="$NIC_FIXTURES/metrics/blur_rgb_a.png" # 200 x 177
MODEL="$NIC_TESTS/../models/hyper.safetensors"
make_ppm 512 512 >"$T/big.ppm"
make_ppm 400 300 >"$T/mid.ppm"

serve_start main --threads 2 --queue 4 --max-body 2000000 --max-pixels 200000 --timeout 120

# ---------------------------------------------------------------- the basics
req 200 GET /healthz;    has "$T/body" '"status": "ok"'
checks=$((checks + 1)); [ "$(header Content-Type)" = "application/json" ] || fail "healthz is not JSON"
req 200 GET /v1/models;  has "$T/body" '"name": "hyper"'; has "$T/body" '"url": "/v1/models/hyper"'
has "$T/body" "\"bytes\": $(wc -c <"$MODEL" | tr -d ' ')"
req 200 GET /v1/models/hyper
checks=$((checks + 1)); cmp -s "$T/body" "$MODEL" || fail "GET /v1/models/hyper is not the model file"
etag=$(header ETag)
req 304 GET /v1/models/hyper -H "If-None-Match: $etag"
checks=$((checks + 1)); [ ! -s "$T/body" ] || fail "304 with a body"
req 200 GET /;           has "$T/body" "<html"; has "$T/body" "app.js"
checks=$((checks + 1)); header Content-Type | grep -q '^text/html' || fail "the page is not text/html"
req 200 GET /app.js
req 200 HEAD /healthz

# ---------------------------------------------------------------- encode
req 200 POST "/v1/encode?max_bytes=1500&metrics=1" -H "Content-Type: image/png" --data-binary "@$IMG"
cp "$T/body" "$T/a.nic"
bytes=$(wc -c <"$T/a.nic" | tr -d ' ')
checks=$((checks + 1)); [ "$bytes" -le 1500 ] || fail "max_bytes 1500 gave $bytes bytes"
checks=$((checks + 1)); [ "$(header X-Nic-Bytes)" = "$bytes" ] || fail "X-Nic-Bytes $(header X-Nic-Bytes) for $bytes bytes"
checks=$((checks + 1)); [ "$(header Content-Type)" = "application/x-nic" ] || fail "encode: Content-Type $(header Content-Type)"
checks=$((checks + 1)); [ "$(header X-Nic-Width)x$(header X-Nic-Height)" = "200x177" ] || fail "encode: size headers"
bpp=$(header X-Nic-Bpp)
checks=$((checks + 1))
awk -v b="$bpp" -v n="$bytes" 'BEGIN { e = n * 8 / (200 * 177); exit !(b - e < 1e-5 && e - b < 1e-5) }' ||
    fail "X-Nic-Bpp $bpp is not $bytes * 8 / (200 * 177)"
psnr=$(header X-Nic-Psnr)
crc=$(header X-Nic-Decoded-Crc32)
checks=$((checks + 1))
awk -v p="$psnr" 'BEGIN { exit !(p > 15 && p < 60) }' || fail "X-Nic-Psnr '$psnr' is not a plausible PSNR"
expect 0 "$NIC" info "$T/a.nic"
# The server's metrics are those of the deterministic decode, as nic compare sees them.
expect 0 "$NIC" decode "$T/a.nic" "$T/a_cli.png"
expect 0 "$NIC" compare "$IMG" "$T/a_cli.png"
checks=$((checks + 1))
cli_psnr=$(sed -n 's/^PSNR-RGB *\([0-9.]*\) dB/\1/p' "$T/out")
awk -v a="$psnr" -v b="$cli_psnr" 'BEGIN { exit !(a - b < 1e-3 && b - a < 1e-3) }' ||
    fail "server PSNR $psnr, nic compare $cli_psnr"

# quality instead of a budget; multipart form with the parameters as fields
req 200 POST "/v1/encode?quality=80" -H "Content-Type: image/png" --data-binary "@$IMG"
checks=$((checks + 1)); [ "$(header X-Nic-Quality-Index)" = "204" ] || fail "quality 80: index $(header X-Nic-Quality-Index)"
req 200 POST /v1/encode -F "image=@$IMG;type=image/png" -F max_bytes=1200 -F model=hyper
checks=$((checks + 1)); [ "$(wc -c <"$T/body")" -le 1200 ] || fail "multipart max_bytes 1200 not kept"
# PPM input, and a budget that needs a smaller picture
req 200 POST "/v1/encode?max_bytes=600" -H "Content-Type: image/x-portable-pixmap" --data-binary "@$T/mid.ppm"
checks=$((checks + 1)); [ "$(header X-Nic-Coded-Width)" -lt 400 ] || fail "max_bytes 600 on 400x300 did not downscale"

# ---------------------------------------------------------------- decode
req 200 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "@$T/a.nic"
checks=$((checks + 1)); [ "$(header Content-Type)" = "image/png" ] || fail "decode: Content-Type $(header Content-Type)"
checks=$((checks + 1)); [ "$(header X-Nic-Decoded-Crc32)" = "$crc" ] || fail "decode CRC $(header X-Nic-Decoded-Crc32), encode said $crc"
cp "$T/body" "$T/a_srv.png"
expect 0 "$NIC" compare "$T/a_cli.png" "$T/a_srv.png"; has "$T/out" "PSNR-RGB  inf"
req 200 POST /v1/decode -F "file=@$T/a.nic"

# ---------------------------------------------------------------- malformed requests
head -c 3000 "$IMG" >"$T/cut.png"
head -c 60 "$T/a.nic" >"$T/cut.nic"
head -c 2000 /dev/urandom >"$T/garbage.nic"
printf 'N\311garbage' >"$T/magic.nic"
req 415 POST /v1/encode -H "Content-Type: text/plain" --data-binary "@$IMG";   expect_error unsupported_media_type
req 415 POST /v1/encode --data-binary "@$IMG";                                   expect_error unsupported_media_type
req 415 POST /v1/decode -H "Content-Type: image/png" --data-binary "@$T/a.nic"; expect_error unsupported_media_type
req 400 POST /v1/encode -H "Content-Type: image/png" --data-binary "@$T/cut.png"; expect_error malformed_image
req 415 POST /v1/encode -H "Content-Type: image/png" --data-binary "@$T/garbage.nic"; expect_error unsupported_format
req 413 POST /v1/encode -H "Content-Type: image/png" --data-binary "@$NIC_FIXTURES/images/bad-huge.png"
expect_error image_too_large
req 413 POST /v1/encode -H "Content-Type: image/x-portable-pixmap" --data-binary "@$T/big.ppm"
expect_error body_too_large
# the same without a declared length (chunked): read, dropped, then refused
req 413 POST /v1/encode -H "Content-Type: image/x-portable-pixmap" -H "Transfer-Encoding: chunked" --data-binary "@$T/big.ppm"
expect_error body_too_large
req 400 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "@$T/cut.nic";     expect_error malformed_nic
req 400 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "@$T/garbage.nic"; expect_error malformed_nic
req 415 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "@$T/magic.nic";   expect_error unsupported_format
# a valid file whose picture is over --max-pixels (400 x 300 is not; 512 x 512 is)
expect 0 "$NIC" encode -q 0 "$T/big.ppm" "$T/big.nic"
req 413 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "@$T/big.nic";     expect_error image_too_large
req 400 POST /v1/decode -H "Content-Type: application/x-nic" --data-binary "";                expect_error empty_body
req 400 POST "/v1/encode?max_bytes=abc" -H "Content-Type: image/png" --data-binary "@$IMG";  expect_error bad_parameter
req 400 POST "/v1/encode?quality=101" -H "Content-Type: image/png" --data-binary "@$IMG";    expect_error bad_parameter
req 400 POST "/v1/encode?model=nope" -H "Content-Type: image/png" --data-binary "@$IMG";     expect_error unknown_model
req 422 POST "/v1/encode?max_bytes=20" -H "Content-Type: image/png" --data-binary "@$IMG";   expect_error budget_too_small
req 400 POST /v1/encode -H "Content-Type: multipart/form-data" --data-binary "x";            expect_error bad_multipart
req 405 GET /v1/encode;              expect_error method_not_allowed
checks=$((checks + 1)); [ "$(header Allow)" = "POST" ] || fail "405 without Allow: POST"
req 405 DELETE /v1/models;           expect_error method_not_allowed
req 404 GET /v1/nothing;             expect_error not_found
req 404 GET /v1/models/other;        expect_error not_found
req 404 GET "/../../etc/passwd" --path-as-is; expect_error not_found
req 404 GET "/a%0Ab%22c";            expect_error not_found
# ... and it still serves
req 200 GET /healthz
req 200 POST "/v1/encode?max_bytes=1500" -H "Content-Type: image/png" --data-binary "@$IMG"
checks=$((checks + 1)); cmp -s "$T/body" "$T/a.nic" || fail "the same request after the errors made another file"

# ---------------------------------------------------------------- the log: one line per request
# A request's line is written when libmicrohttpd reports it completed, which can
# come just after curl has the whole response (slow under the sanitizers): wait
# for it (up to 10 s) before counting.
i=0
while :; do
    lines=$(grep -c '" [0-9][0-9][0-9] in=' "$T/main.log")
    [ "$lines" -ge "$REQUESTS" ] || [ $i -ge 100 ] && break
    sleep 0.1; i=$((i + 1))
done
checks=$((checks + 1)); [ "$lines" -eq "$REQUESTS" ] || fail "$lines request lines in the log for $REQUESTS requests"
has "$T/main.log" '"POST /v1/encode" 415 '
has "$T/main.log" 'error=unsupported_media_type'
has "$T/main.log" '"GET /healthz" 200 '
has "$T/main.log" '"GET /a?b?c" 404 '

# ---------------------------------------------------------------- graceful stop: the request in flight is answered
( curl -s -o "$T/inflight.nic" -w '%{http_code}' -H "Content-Type: image/x-portable-pixmap" \
    --data-binary "@$T/mid.ppm" "$BASE/v1/encode?max_bytes=400" >"$T/inflight.code" ) & # downscaling: seconds
curl_pid=$!
i=0
while [ $i -lt 200 ]; do # until the job is with a worker
    curl -s "$BASE/healthz" | grep -q '"running": 1' && break
    sleep 0.05; i=$((i + 1))
done
serve_stop main
wait "$curl_pid"
checks=$((checks + 1)); [ "$(cat "$T/inflight.code")" = "200" ] || fail "in-flight request got $(cat "$T/inflight.code") on SIGTERM"
expect 0 "$NIC" info "$T/inflight.nic"
has "$T/main.log" "finishing the requests in flight"
has "$T/main.log" "nic serve: stopped"

# ---------------------------------------------------------------- a full queue answers 503
serve_start busy --threads 1 --queue 1 --timeout 900
pids=""
for k in 1 2 3 4 5 6; do
    curl -s -o "$T/q$k.body" -w '%{http_code}' -H "Content-Type: image/x-portable-pixmap" \
        --data-binary "@$T/big.ppm" "$BASE/v1/encode?max_bytes=1000" >"$T/q$k.code" &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
ok=0; full=0
for k in 1 2 3 4 5 6; do
    case $(cat "$T/q$k.code") in
    200) ok=$((ok + 1)) ;;
    503) full=$((full + 1)); grep -q '"queue_full"' "$T/q$k.body" || fail "503 without queue_full" ;;
    *) fail "concurrent request $k: status $(cat "$T/q$k.code")" ;;
    esac
done
checks=$((checks + 1)); [ $ok -ge 1 ] && [ $full -ge 1 ] || fail "6 requests on 1 thread + queue 1: $ok ok, $full refused"
req 200 GET /healthz
serve_stop busy

# ---------------------------------------------------------------- the per-request deadline
serve_start slow --threads 1 --timeout 0.001
req 503 POST "/v1/encode?max_bytes=2000" -H "Content-Type: image/x-portable-pixmap" --data-binary "@$T/big.ppm"
expect_error timeout
req 200 GET /healthz
serve_stop slow

# bad command lines
expect 2 "$NIC" serve --port 70000;      has "$T/err" "--port"
expect 2 "$NIC" serve --threads 0;       has "$T/err" "--threads"
expect 2 "$NIC" serve --bogus 1;         has "$T/err" "unknown option"
expect 2 "$NIC" serve --port 0 --listen nowhere; has "$T/err" "not an IPv4 or IPv6 address"
mkdir -p "$T/badmodel"; head -c 100 "$MODEL" >"$T/badmodel/hyper.safetensors"
expect 1 "$NIC" serve --port 0 --model-dir "$T/badmodel"; has "$T/err" "hyper.safetensors"
expect 0 "$NIC" serve --help;            has "$T/out" "--max-pixels"

cli_finish
