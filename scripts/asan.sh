#!/bin/sh
# asan.sh: the Apache::Test suite against the AddressSanitizer + UBSan build
# (build/asan/mod_ceinstances.so and build/asan/ceadmin, made by
# `make test-asan`, which runs this), on both drivers (CE_ASAN_DRIVERS,
# default "sqlite3 pgsql").
#
# Usage: scripts/asan.sh [t/TEST arguments]
#
# - scripts/test.sh runs the suite as usual, on a copy of the tree whose
#   build/mod_ceinstances.so and build/ceadmin are the sanitizer builds
#   (CE_TEST_MODULE, CE_TEST_CEADMIN), with build/asan/asan_preload.so
#   preloaded into the harness and everything it starts (CE_TEST_PRELOAD).
#   That library re-executes every apache2 (the suite's server and each one
#   a test starts itself) and ceadmin with the compiler's ASan runtime
#   preloaded first (CE_ASAN_PRELOAD), as an uninstrumented httpd needs;
#   perl, curl, sqlite3 and build/ceload run as they are (see
#   t/tools/asan_preload.c).
# - Every sanitizer report goes to a file of its own (log_path, one per
#   process) in a directory the unprivileged test user can write; they are
#   collected into build/asan-logs/sanitizer/ and any of them fails the run,
#   as does a failing suite (its logs: build/asan-logs/). LeakSanitizer runs
#   at every exit of those processes (detect_leaks=1); t/tools/asan.supp
#   suppresses leaks of code that is not ours (mod_perl's interpreter in
#   httpd, ...), never one whose stack is only ours and the libraries we call.
# - UBSan reports (runtime error:) are collected the same way; ASan errors
#   abort the process (httpd logs "exit signal Aborted", which test.sh
#   already fails on).
#
# CE_ASAN_CC names the compiler the build used (default clang, as in the
# Makefile): its shared ASan runtime is the one preloaded.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
CC_ASAN=${CE_ASAN_CC:-clang}
LOGDIR=$TOP/build/asan-logs

die() { echo "asan.sh: $*" >&2; exit 1; }

for f in build/asan/mod_ceinstances.so build/asan/ceadmin build/asan/asan_preload.so \
         t/tools/asan.supp; do
    [ -e "$f" ] || die "$f is missing (run 'make test-asan')"
done
case "$CC_ASAN" in
    *clang*) rt=libclang_rt.asan-x86_64.so ;;
    *) rt=libasan.so ;;
esac
LIBASAN=$(readlink -f "$($CC_ASAN -print-file-name=$rt)")
[ -f "$LIBASAN" ] || die "no $rt for $CC_ASAN"

# Reports, the suppressions and the preload library in one directory the
# unprivileged user can reach (the checkout may not be readable to it).
SANDIR=$(mktemp -d /tmp/ceinstances-asan.XXXXXX)
cleanup() {
    rc=$?
    trap - EXIT INT TERM HUP
    rm -rf "$SANDIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
mkdir "$SANDIR/reports"
: >"$SANDIR/started"
cp t/tools/asan.supp build/asan/asan_preload.so "$SANDIR/"
chmod 0755 "$SANDIR"
chmod 0644 "$SANDIR/asan.supp"
chmod 1777 "$SANDIR/reports"
chmod 0666 "$SANDIR/started"

rm -rf "$LOGDIR"
mkdir -p "$LOGDIR/sanitizer"

# Function names and lines in reports need llvm-symbolizer (llvm-14 has it
# versioned only unless the llvm package is installed).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for s in /usr/bin/llvm-symbolizer-*; do
        [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s"
    done
fi

# log_exe_name: report files are named <prefix>.<program>.<pid>.
# verify_asan_link_order=0: ceadmin (linked with the ASan runtime) starts
# with only asan_preload.so preloaded, ahead of the runtime, and re-executes
# itself.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$SANDIR/reports/asan:log_exe_name=1:verify_asan_link_order=0${CE_ASAN_EXTRA_OPTIONS:+:$CE_ASAN_EXTRA_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SANDIR/asan.supp:print_suppressions=0"
# UBSan (inside clang's ASan runtime) writes to the same files.
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$SANDIR/reports/asan:log_exe_name=1"
export CE_TEST_PRELOAD="$SANDIR/asan_preload.so"
export CE_ASAN_PRELOAD="$LIBASAN:$SANDIR/asan_preload.so"
export CE_ASAN_MARK="$SANDIR/started"
export CE_TEST_MODULE=build/asan/mod_ceinstances.so
export CE_TEST_CEADMIN=build/asan/ceadmin
export CE_TEST_DRIVERS="${CE_ASAN_DRIVERS:-sqlite3 pgsql}"
export CE_TEST_LOG_DIR="$LOGDIR"

echo "asan.sh: ASan runtime $LIBASAN; reports to $LOGDIR/sanitizer/"
set +e
scripts/test.sh "$@"
suite=$?
set -e

# One file per process that reported anything.
n=0
for f in "$SANDIR"/reports/*; do
    [ -f "$f" ] || continue
    cp "$f" "$LOGDIR/sanitizer/"
    n=$((n + 1))
done
if [ "$n" -gt 0 ]; then
    echo "asan.sh: $n sanitizer report file(s) in $LOGDIR/sanitizer/:" >&2
    for f in "$LOGDIR"/sanitizer/*; do
        echo "---- $(basename "$f")" >&2
        grep -E 'ERROR: |SUMMARY: |runtime error: ' "$f" | head -n 4 >&2
        # The first reports' stacks, one line each (a CI log shows only its
        # tail): "what: frame < frame < ...", the allocator's frames left out.
        awk '/^(Direct|Indirect) leak|ERROR: |runtime error: |^[A-Z].* (at|on) / {
                 if (k) print line; if (++r > 4) exit; line = $0; sub(/ allocated from:$/, "", line)
                 line = substr(line, 1, 90) ":"; k = 0; next }
             /^    #[0-9]+ / && r > 0 && k < 10 {
                 if ($4 ~ /^(malloc|calloc|realloc|free|operator|__interceptor_)/) next
                 line = line (k++ ? " < " : " ") $4; next }
             END { if (k) print line }' "$f" >&2
    done
fi

# Proof that the checks ran: how many httpd and ceadmin processes started
# under ASan (each apache2 invocation counts once; its children fork). No
# apache2 at all means the preload did not work: that fails the run.
cp "$SANDIR/started" "$LOGDIR/started-under-asan"
httpds=$(grep -c '/apache2 ' "$SANDIR/started" || true)
ceadmins=$(grep -c '/ceadmin ' "$SANDIR/started" || true)
echo "asan.sh: under ASan: $httpds apache2 and $ceadmins ceadmin processes started"

if [ "$suite" -ne 0 ] || [ "$n" -gt 0 ] || [ "$httpds" -eq 0 ]; then
    if [ -s "$LOGDIR/failed-tests.txt" ]; then
        echo "---- failed tests ----" >&2
        cut -c1-400 "$LOGDIR/failed-tests.txt" >&2
    fi
    echo "asan.sh: FAIL (suite exit $suite, $n sanitizer report file(s)," \
        "$httpds apache2 / $ceadmins ceadmin under ASan)" >&2
    exit 1
fi
echo "asan.sh: PASS: the suite passed under ASan+UBSan with no sanitizer reports"
