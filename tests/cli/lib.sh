# Shared harness of the CLI black-box tests (sourced, not run).
# Environment (set by CTest): NIC (binary), NIC_FIXTURES, NIC_TMP.
#   cli_setup NAME      scratch folder $T (removed on exit), counters
#   expect CODE CMD...  runs CMD; stdout in $T/out, stderr in $T/err; checks the exit code
#   has FILE TEXT       FILE must contain TEXT
#   fail MESSAGE        records a failure
#   cli_finish          prints the summary; exit status 1 when anything failed
set -u
: "${NIC:?}" "${NIC_FIXTURES:?}" "${NIC_TMP:?}"

cli_setup() {
    CLI_NAME=$1
    mkdir -p "$NIC_TMP"
    T="$NIC_TMP/$1.$$"
    mkdir -p "$T"
    trap 'rm -rf "$T"' EXIT
    failures=0
    checks=0
}

fail() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

expect() {
    want=$1; shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, expected $want"
        sed 's/^/  stdout: /' "$T/out" >&2
        sed 's/^/  stderr: /' "$T/err" >&2
    fi
}

has() {
    checks=$((checks + 1))
    grep -q -F -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/  /' "$1" >&2; }
}

cli_finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$CLI_NAME: $failures of $checks checks FAILED" >&2
        exit 1
    fi
    echo "$CLI_NAME: all $checks checks passed"
}
