#!/bin/sh
# t/fuzz/run.sh: runs the libFuzzer targets built by the Makefile (build/fuzz/).
#
# Usage: t/fuzz/run.sh fuzz SECONDS build/fuzz/fuzz_x...   (make fuzz)
#        t/fuzz/run.sh replay 0 build/fuzz/fuzz_x...       (make fuzz-replay)
#
# fuzz    each target for SECONDS (-max_total_time), one after the other,
#         starting from its seeds (t/fuzz/corpus/<target>/, read only) and
#         what earlier runs found (build/fuzz/corpus/<target>/, where new
#         inputs go); the dictionary t/fuzz/<target>.dict if there is one.
#         A finding (crash, leak, UB, timeout, OOM) is written to
#         build/fuzz/artifacts/<target>/ and fails the run.
# replay  each target runs every committed input once (-runs=0): the seeds
#         and t/fuzz/regressions/<target>/ (minimized inputs of fixed bugs).
#         Any sanitizer report or FUZZ_CHECK fails the run.
# Logs: build/fuzz/<target>.<mode>.log. Run from the top of the tree.
set -u

mode=$1 seconds=$2
shift 2
cd "$(dirname "$0")/../.."
OUT=build/fuzz
# Reports name functions and lines; fail on the first one (the default for
# ASan; UBSan is built with -fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Function names and lines in reports need llvm-symbolizer; Debian has it
# versioned only unless the llvm package is installed.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for s in /usr/bin/llvm-symbolizer-*; do
        [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s"
    done
fi

failed=""
summary=""
for bin in "$@"; do
    t=$(basename "$bin")
    seeds=t/fuzz/corpus/$t
    regress=t/fuzz/regressions/$t
    log=$OUT/$t.$mode.log
    dict=""
    [ -f "t/fuzz/$t.dict" ] && dict="-dict=t/fuzz/$t.dict"
    [ -d "$seeds" ] || { echo "run.sh: $seeds is missing" >&2; exit 1; }
    case "$mode" in
    fuzz)
        work=$OUT/corpus/$t
        arts=$OUT/artifacts/$t
        mkdir -p "$work" "$arts"
        stamp=$OUT/.$t.start
        : >"$stamp" # findings of this run are the files newer than this
        echo "==== $t: fuzzing for ${seconds}s (log: $log)"
        # shellcheck disable=SC2086 # $dict is one optional word
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            $dict -artifact_prefix="$arts/" "$work" "$seeds" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
        corpus=$(find "$work" -type f | wc -l)
        found=$(find "$arts" -type f -newer "$stamp" | wc -l)
        line="$t: ${execs:-?} executions, $cov, $corpus inputs in $work, $found finding(s)"
        if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
            grep -E '^(==[0-9]+==ERROR|SUMMARY|FUZZ_CHECK)|runtime error:|Test unit written' "$log" \
                | head -n 10 >&2
            failed="$failed $t"
            line="$line (exit $rc; see $log and $arts/)"
        fi
        ;;
    replay)
        dirs=$seeds
        [ -d "$regress" ] && dirs="$dirs $regress"
        n=$(find $dirs -type f | wc -l)
        echo "==== $t: replaying $n inputs ($dirs)"
        # shellcheck disable=SC2086 # $dict is one optional word, $dirs a list
        "$bin" -runs=0 -timeout=10 $dirs >"$log" 2>&1
        rc=$?
        line="$t: $n inputs replayed"
        if [ "$rc" -ne 0 ] || grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|FUZZ_CHECK' "$log"; then
            grep -E '^(==[0-9]+==ERROR|SUMMARY|FUZZ_CHECK)|runtime error:|Running: ' "$log" \
                | tail -n 10 >&2
            failed="$failed $t"
            line="$line, FAILED (exit $rc; see $log)"
        else
            line="$line, no findings"
        fi
        ;;
    *)
        echo "run.sh: unknown mode $mode" >&2
        exit 2
        ;;
    esac
    echo "$line"
    summary="$summary
  $line"
done

echo "fuzz $mode:$summary"
if [ -n "$failed" ]; then
    echo "fuzz $mode: FAIL:$failed" >&2
    exit 1
fi
