#!/bin/sh
# Load test of nic serve on loopback with wrk: encode and decode of a 512x512
# picture at a 4 KB budget, each for DURATION seconds, with the server's
# memory (RSS) sampled every 5 s. Prints a table (the README quotes it).
#   sh scripts/bench-serve.sh BUILD [DURATION=120] [CONNECTIONS=4]
# Environment: IMAGE (a picture at least 512x512; default kodim23 from the
# shared data, else a synthetic one), SERVE_ARGS (extra nic serve options).
set -eu
build=${1:?usage: bench-serve.sh BUILD [DURATION] [CONNECTIONS]}
duration=${2:-120}
conns=${3:-4}
nic="$build/nic"
command -v wrk >/dev/null 2>&1 || { echo "bench-serve: wrk not found (make deps)" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "bench-serve: python3 not found" >&2; exit 1; }
work=$(mktemp -d)
server_pid=""
sampler_pid=""
cleanup() {
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- the 512 x 512 picture
image=${IMAGE:-$(dirname "$0")/../../shared/data/kodak/kodim23.png}
if [ -f "$image" ]; then
    "$nic" convert --quiet "$image" "$work/full.ppm"
    source="$(basename "$image"), top-left 512x512"
else
    python3 -c 'import math,sys
w=h=512; px=bytearray()
for y in range(h):
    for x in range(w):
        px += bytes((int(128+100*math.sin(x*.031+y*.017)), int(128+90*math.cos(y*.023-x*.011)), 200 if (x//32+y//32)%2 else 60))
sys.stdout.buffer.write(b"P6\n512 512\n255\n"+px)' >"$work/full.ppm"
    source="synthetic 512x512"
fi
python3 - "$work/full.ppm" "$work/img.ppm" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
# binary PPM from nic convert: "P6\nW H\n255\n" + pixels
parts = data.split(b'\n', 3)
w, h = map(int, parts[1].split())
pix = parts[3]
if w < 512 or h < 512:
    sys.exit('bench-serve: the image must be at least 512x512')
rows = b''.join(pix[y * w * 3: y * w * 3 + 512 * 3] for y in range(512))
open(sys.argv[2], 'wb').write(b'P6\n512 512\n255\n' + rows)
EOF
"$nic" convert --quiet "$work/img.ppm" "$work/img.png"
"$nic" encode --quiet --max-bytes 4000 "$work/img.png" "$work/img.nic"

# ---------------------------------------------------------------- the server
# shellcheck disable=SC2086
"$nic" serve --port 0 --queue 64 ${SERVE_ARGS:-} 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log" >&2; exit 1; }
threads=$(sed -n 's/.*(\([0-9]*\) threads.*/\1/p' "$work/server.log")

rss_kb() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$server_pid/status"; }

# One wrk run: POST a file, print a summary line from wrk's own Lua hooks.
run() { # NAME PATH FILE CONTENT-TYPE
    cat >"$work/$1.lua" <<EOF
local f = assert(io.open("$3", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "$4"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %.1f %d %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.connect + e.read + e.write + e.timeout, e.status))
end
EOF
    # a few requests first, so that the model and every buffer are warm
    for _ in 1 2 3; do
        curl -s -o /dev/null -H "Content-Type: $4" --data-binary "@$3" "http://127.0.0.1:$port$2"
    done
    : >"$work/$1.rss"
    ( while :; do rss_kb >>"$work/$1.rss"; sleep 5; done ) &
    sampler_pid=$!
    wrk -t 2 -c "$conns" -d "${duration}s" --timeout 60s -s "$work/$1.lua" \
        "http://127.0.0.1:$port$2" >"$work/$1.wrk" 2>&1
    rss_kb >>"$work/$1.rss"
    kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
}

echo "bench-serve: $source; encode to --max-bytes 4000 (the .nic for decode: $(wc -c <"$work/img.nic" | tr -d ' ') bytes)"
echo "bench-serve: nic serve with $threads worker threads on 127.0.0.1:$port, wrk -t 2 -c $conns, ${duration} s per endpoint"
echo "bench-serve: $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run encode "/v1/encode?max_bytes=4000" "$work/img.png" image/png
run decode "/v1/decode" "$work/img.nic" application/x-nic

echo
# Memory: RSS swings between the idle server and requests' working buffers, so
# the table gives its range in the first and the second half of each run:
# steady memory means the second range is no higher than the first.
echo "| endpoint | requests | req/s | p50 (ms) | p99 (ms) | errors | non-2xx | RSS MB, 1st half | RSS MB, 2nd half |"
echo "|---|---|---|---|---|---|---|---|---|"
for name in encode decode; do
    set -- $(sed -n 's/^RESULT //p' "$work/$name.wrk")
    if [ $# -ne 6 ]; then cat "$work/$name.wrk" >&2; exit 1; fi
    rss=$(awk '{ v[NR] = $1 }
               END { h = int(NR / 2)
                     for (i = 1; i <= NR; i++) {
                         k = i <= h ? 1 : 2
                         if (!(k in lo) || v[i] < lo[k]) lo[k] = v[i]
                         if (v[i] > hi[k]) hi[k] = v[i]
                     }
                     printf "%.0f–%.0f | %.0f–%.0f", lo[1] / 1024, hi[1] / 1024, lo[2] / 1024, hi[2] / 1024 }' \
          "$work/$name.rss")
    echo "| POST /v1/$name | $1 | $2 | $3 | $4 | $5 | $6 | $rss |"
done
samples=$(cat "$work/encode.rss" "$work/decode.rss" | wc -l)
echo
echo "RSS samples (kB, every 5 s; encode then decode, $samples in all):"
echo "  encode: $(tr '\n' ' ' <"$work/encode.rss")"
echo "  decode: $(tr '\n' ' ' <"$work/decode.rss")"
grep -q ' 200 ' "$work/server.log" || { echo "bench-serve: the log has no successful request" >&2; exit 1; }
