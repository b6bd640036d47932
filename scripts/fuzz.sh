#!/bin/bash
# Runs the libFuzzer targets of fuzz/ (built by `make fuzz-build` into $FUZZ_BUILD).
#
#   scripts/fuzz.sh run [TARGET...]      fuzz each target for FUZZ_TIME seconds (default 60),
#                                        starting from its seeds and regression inputs; new
#                                        inputs go to $FUZZ_BUILD/corpus/TARGET (the tree's
#                                        corpus is only read)
#   scripts/fuzz.sh regress [TARGET...]  run every seed and regression input once, then a short
#                                        burst of FUZZ_RUNS executions (by default a count that
#                                        takes a few seconds per target) with a fixed seed:
#                                        deterministic, so it fails only for a bug
#
# Targets: frame proto auction procedure (all by default). A crash, a sanitizer report, an
# invariant violation, a timeout or a leak stops that target; its input is kept in
# $FUZZ_BUILD/artifacts/TARGET/ and the script exits 1 after the other targets ran. Copy the
# input into fuzz/regressions/TARGET/ (named after what it found) once the bug is fixed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_RUNS=${FUZZ_RUNS:-}
ALL=(frame proto auction formats procedure)

# Longest input per target: framing needs room for lines past max_line (<= 256 there).
max_len() {
    case $1 in
        proto) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

# Executions of the regress burst: a few seconds per target (the targets differ in speed).
burst_runs() {
    if [[ -n $FUZZ_RUNS ]]; then
        echo "$FUZZ_RUNS"
        return
    fi
    case $1 in
        frame) echo 400000 ;;
        proto) echo 200000 ;;
        auction) echo 200000 ;;
        *) echo 60000 ;;
    esac
}

# Readable stack traces when the symbolizer is installed (package llvm).
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]] && command -v llvm-symbolizer >/dev/null; then
    export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A smaller quarantine than ASan's 256 MB keeps each fuzzer near 200 MB instead of 1 GB.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

# LeakSanitizer needs ptrace; where a sandbox forbids it, it fails on every run. Find out once
# and then fuzz without leak checks (with a warning) rather than fail for the sandbox.
leak_probe() {
    local bin=$FUZZ_BUILD/fuzz_$1 out
    [[ -x $bin ]] || return 0
    out=$("$bin" -runs=1 /dev/null 2>&1) && return 0
    if grep -q 'LeakSanitizer has encountered a fatal error' <<<"$out"; then
        echo "fuzz: warning: LeakSanitizer cannot run here (ptrace?); leak checks are off" >&2
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    fi
}

# The libFuzzer options every run shares, for target $1.
common_opts() {
    local t=$1 opts=(-max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=2048
                     -artifact_prefix="$FUZZ_BUILD/artifacts/$t/" -print_final_stats=1)
    [[ -f fuzz/$t.dict ]] && opts+=(-dict="fuzz/$t.dict")
    printf '%s\n' "${opts[@]}"
}

# The tree's inputs of target $1: seeds, then regressions.
inputs() {
    find "fuzz/corpus/$1" "fuzz/regressions/$1" -type f ! -name '.*' 2>/dev/null | sort
}

# One target; returns its fuzzer's status.
one() {
    local mode=$1 t=$2 bin=$FUZZ_BUILD/fuzz_$t opts files runs
    if [[ ! -x $bin ]]; then
        echo "fuzz: $bin is missing; run make fuzz-build" >&2
        return 1
    fi
    mapfile -t opts < <(common_opts "$t")
    mkdir -p "$FUZZ_BUILD/artifacts/$t" "$FUZZ_BUILD/corpus/$t"
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    if [[ $mode == run ]]; then
        echo "== fuzz_$t: ${FUZZ_TIME}s"
        "$bin" "${opts[@]}" -max_total_time="$FUZZ_TIME" \
            "$FUZZ_BUILD/corpus/$t" "fuzz/corpus/$t" "fuzz/regressions/$t"
        return
    fi
    mapfile -t files < <(inputs "$t")
    runs=$(burst_runs "$t")
    echo "== fuzz_$t: ${#files[@]} seed and regression inputs, then $runs runs"
    if [[ ${#files[@]} -gt 0 ]]; then
        "$bin" "${opts[@]}" -runs=1 "${files[@]}" >"$FUZZ_BUILD/$t.replay.log" 2>&1 || {
            cat "$FUZZ_BUILD/$t.replay.log"
            return 1
        }
    fi
    # a fresh output corpus every time: the burst depends on the tree alone
    rm -rf "$FUZZ_BUILD/regress/$t"
    mkdir -p "$FUZZ_BUILD/regress/$t"
    "$bin" "${opts[@]}" -seed=1 -runs="$runs" \
        "$FUZZ_BUILD/regress/$t" "fuzz/corpus/$t" "fuzz/regressions/$t" \
        >"$FUZZ_BUILD/$t.burst.log" 2>&1 || {
        cat "$FUZZ_BUILD/$t.burst.log"
        return 1
    }
    grep -E '^stat::number_of_executed_units' "$FUZZ_BUILD/$t.burst.log" || true
}

mode=${1:-}
case $mode in
    run|regress) shift ;;
    *) echo "usage: scripts/fuzz.sh run|regress [TARGET...]" >&2; exit 2 ;;
esac
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL[@]}")

leak_probe "${targets[0]}"
failed=()
for t in "${targets[@]}"; do
    one "$mode" "$t" || failed+=("$t")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs kept in $FUZZ_BUILD/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${mode}: ${targets[*]}: ok"
