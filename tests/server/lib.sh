# Shared harness of the server tests (sourced): starts `nic serve` on a free
# loopback port and talks to it with curl. Builds on tests/cli/lib.sh.
#   serve_start NAME [options]  starts a server; $PORT, $BASE; log in $T/NAME.log
#   serve_stop NAME             SIGTERM, waits for it to exit; checks exit status 0
#   req CODE METHOD PATH [curl args]   one request; body in $T/body, headers in
#                                      $T/headers; checks the status code
#   header NAME                 value of a response header of the last request
#   require_tool TOOL           skips the whole test when TOOL is missing, except
#                               in CI (CI=true), where a missing tool is a failure
. "$(dirname "$0")/../cli/lib.sh"

require_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        if [ "${CI:-}" = "true" ]; then
            echo "FAIL: $1 is not installed (make deps installs it)" >&2
            exit 1
        fi
        echo "SKIP: $1 is not installed (make deps installs it); not testing ${CLI_NAME:-this}"
        exit 0
    fi
}

serve_start() {
    name=$1; shift
    log="$T/$name.log"
    "$NIC" serve --port 0 "$@" 2>"$log" &
    eval "PID_$name=$!"
    SERVE_PIDS="${SERVE_PIDS:-} $!"
    # shellcheck disable=SC2064
    trap "kill $SERVE_PIDS 2>/dev/null; rm -rf '$T'" EXIT
    i=0
    PORT=""
    while [ $i -lt 300 ]; do
        PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")
        [ -n "$PORT" ] && break
        if ! kill -0 "$(eval echo "\$PID_$name")" 2>/dev/null; then
            fail "nic serve $* exited at start:"; sed 's/^/  /' "$log" >&2
            cli_finish
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] || { fail "nic serve did not start"; cli_finish; }
    BASE="http://127.0.0.1:$PORT"
}

serve_stop() {
    pid=$(eval echo "\$PID_$1")
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    checks=$((checks + 1))
    [ "$rc" -eq 0 ] || fail "nic serve ($1) exited with $rc after SIGTERM"
}

req() {
    want=$1 method=$2 path=$3
    shift 3
    checks=$((checks + 1))
    REQUESTS=$((${REQUESTS:-0} + 1))
    rm -f "$T/body" "$T/headers" # curl writes no file for an empty body
    if [ "$method" = HEAD ]; then set -- -I "$@"; else set -- -X "$method" "$@"; fi
    got=$(curl -s -m 120 -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "$BASE$path")
    if [ "$got" != "$want" ]; then
        fail "$method $path $*: status $got, expected $want"
        head -c 600 "$T/body" | sed 's/^/  body: /' >&2
        echo >&2
    fi
}

header() {
    tr -d '\r' <"$T/headers" | sed -n "s/^$1: //Ip" | tail -n 1
}

# The "code" of a JSON error body.
error_code() {
    sed -n 's/.*"code": "\([a-z_]*\)".*/\1/p' "$T/body"
}

expect_error() {
    checks=$((checks + 1))
    c=$(error_code)
    [ "$c" = "$1" ] || { fail "error code '$c', expected '$1'"; head -c 400 "$T/body" >&2; echo >&2; }
}

# A W x H color picture as ASCII PPM (P3), smooth with some edges.
make_ppm() {
    awk -v w="$1" -v h="$2" 'BEGIN {
        printf "P3\n%d %d\n255\n", w, h
        for (y = 0; y < h; y++) {
            line = ""
            for (x = 0; x < w; x++) {
                r = int(128 + 100 * sin(x * 0.031 + y * 0.017))
                g = int(128 + 90 * cos(y * 0.023 - x * 0.011))
                b = ((int(x / 32) + int(y / 32)) % 2) ? 200 : 60
                line = line r " " g " " b " "
            }
            print line
        }
    }'
}
