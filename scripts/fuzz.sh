#!/usr/bin/env bash
# fuzz.sh — coverage-guided fuzzing (libFuzzer) of every parser that sees outside bytes.
#
#   scripts/fuzz.sh build              instrumented build of fuzz/ (release, -sanitize=fuzzer,address)
#   scripts/fuzz.sh smoke [SECONDS]    build, then every target for SECONDS (default 8); fails on a crash
#   scripts/fuzz.sh full [RUNS]        build, then every target for RUNS inputs (default 10^7), one at a
#                                      time, and write bench/results/fuzz-YYYYMMDD.md
#   scripts/fuzz.sh run TARGET [ARGS]  one target with libFuzzer arguments (e.g. a crash file to replay)
#
# Targets (fuzz/Sources/<Target>, one libFuzzer executable each, calling the real parser with
# invariant checks) start from the committed seeds in fuzz/corpus/<Target>/ (read only); what
# they find goes to .build-fuzz/work/<Target>/ (corpus/, crash-* artifacts, log). Env:
#   FUZZ_TARGETS="FuzzRange FuzzConfig"  a subset;  FUZZ_SANITIZERS="fuzzer" (default "fuzzer address")
#   FUZZ_REPORT=path                     where `full` writes its report
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SCRATCH="$ROOT/.build-fuzz"
WORK="$SCRATCH/work"
ALL_TARGETS="FuzzRange FuzzConditionals FuzzRequestTarget FuzzOggPages FuzzVorbisIdHeader FuzzWAVHeader FuzzSpoolSegment FuzzBeaconJSON FuzzStreamAPI FuzzConfig"
TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"
SANITIZERS="${FUZZ_SANITIZERS:-fuzzer address}"

# Longest input per target: enough for the structures each parser reads, short enough to stay fast.
max_len() {
    case "$1" in
        FuzzOggPages) echo 16384 ;;
        FuzzWAVHeader|FuzzSpoolSegment) echo 4096 ;;
        FuzzBeaconJSON|FuzzConfig) echo 2048 ;;
        FuzzRequestTarget|FuzzStreamAPI) echo 1024 ;;
        *) echo 512 ;;
    esac
}

build() {
    local flags=() s start=$SECONDS
    for s in $SANITIZERS; do flags+=("--sanitize=$s"); done
    # -enable-testing: the targets `@testable import` the main package's modules to reach the
    # internal parsers (WAVParser, SpoolCodec, CheckedBeacon, ...) without widening their API.
    mkdir -p "$SCRATCH"
    if ! swift build -c release "${flags[@]}" -Xswiftc -enable-testing \
        --package-path fuzz --scratch-path "$SCRATCH" >"$SCRATCH/build.log" 2>&1; then
        tail -40 "$SCRATCH/build.log" >&2
        echo "fuzz.sh: build failed (log: $SCRATCH/build.log)" >&2
        exit 1
    fi
    grep -E ': (warning|error):' "$SCRATCH/build.log" | grep '/fuzz/' || true
    BUILD_SECONDS=$((SECONDS - start))
    echo "fuzz.sh: instrumented build took ${BUILD_SECONDS} s"
}

BIN() { echo "$SCRATCH/release/$1"; }

# run_target TARGET LOG ARGS...: the target on its work corpus and the seeds; returns its status.
run_target() {
    local target="$1" log="$2"; shift 2
    local dir="$WORK/$target"
    mkdir -p "$dir/corpus"
    # ASan: leak checks off (the Swift runtime's caches live until exit and read as leaks).
    ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$(BIN "$target")" "$dir/corpus" "fuzz/corpus/$target" \
        -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$dir/" "$@" >"$log" 2>&1
}

stat_of() { # stat_of LOG NAME → value of "stat::NAME:"
    awk -v k="stat::$2:" '$1 == k { print $2 }' "$1" | tail -1
}
cov_of() { # the last "cov: N ft: M" libFuzzer printed
    grep -oE 'cov: [0-9]+ ft: [0-9]+' "$1" | tail -1 | awk '{ print $2, $4 }'
}

smoke() {
    local seconds="${1:-8}" failed=0 target log start=$SECONDS
    build
    for target in $TARGETS; do
        log="$WORK/$target/smoke.log"
        mkdir -p "$WORK/$target"
        if run_target "$target" "$log" -max_total_time="$seconds"; then
            read -r cov ft <<<"$(cov_of "$log")"
            printf 'fuzz smoke %-20s ok   %9s inputs  cov %s ft %s\n' "$target" "$(stat_of "$log" number_of_executed_units)" "$cov" "$ft"
        else
            failed=1
            printf 'fuzz smoke %-20s FAILED (log: %s)\n' "$target" "$log"
            grep -E 'invariant violated|ERROR: |SUMMARY|Test unit written' "$log" | head -5 || true
        fi
    done
    echo "fuzz.sh: smoke took $((SECONDS - start)) s (build ${BUILD_SECONDS} s)"
    return $failed
}

full() {
    local runs="${1:-10000000}" target log start secs status rows="" crashes=0
    build
    local report="${FUZZ_REPORT:-bench/results/fuzz-$(date -u +%Y%m%d).md}"
    for target in $TARGETS; do
        log="$WORK/$target/full.log"
        mkdir -p "$WORK/$target"
        start=$SECONDS
        echo "fuzz.sh: $target, $runs inputs ($(date -u +%H:%M:%S))"
        if run_target "$target" "$log" -runs="$runs"; then status="0 crashes"; else status="**crash**: $(ls "$WORK/$target"/crash-* "$WORK/$target"/timeout-* "$WORK/$target"/oom-* 2>/dev/null | head -1 | xargs -r basename)"; crashes=$((crashes + 1)); fi
        secs=$((SECONDS - start))
        read -r cov ft <<<"$(cov_of "$log")"
        local execs eps corpus
        execs="$(stat_of "$log" number_of_executed_units)"
        eps="$(stat_of "$log" average_exec_per_sec)"
        corpus="$(find "$WORK/$target/corpus" -type f | wc -l)"
        rows+="| $target | ${execs:-?} | ${eps:-?} | ${secs} | ${cov:-?} | ${ft:-?} | $(find "fuzz/corpus/$target" -type f | wc -l) + ${corpus} | $(stat_of "$log" peak_rss_mb) | $status |"$'\n'
        echo "fuzz.sh: $target: ${execs} inputs, ${eps} exec/s, cov ${cov} ft ${ft}, ${status}"
    done
    {
        echo "# Fuzzing campaign $(date -u +%Y-%m-%d)"
        echo
        echo "- Command: \`scripts/fuzz.sh full $runs\` (FUZZ_TARGETS=\"$TARGETS\")"
        echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources fuzz || echo ' (with uncommitted changes)')"
        echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), shared with other builds and benchmarks; one fuzzer process at a time"
        echo "- Toolchain: $(swift --version 2>/dev/null | head -1)"
        echo "- Build: \`swift build -c release$(for s in $SANITIZERS; do printf ' --sanitize=%s' "$s"; done) -Xswiftc -enable-testing --package-path fuzz\` (${BUILD_SECONDS} s)"
        echo "- libFuzzer: \`-runs=$runs -print_final_stats=1 -max_len=<per target>\`, seeds from fuzz/corpus/<Target>/"
        echo
        echo "| target | inputs executed | exec/s | wall s | cov (edges) | ft (features) | corpus (seeds + new) | peak RSS MB | findings |"
        echo "|---|---:|---:|---:|---:|---:|---|---:|---|"
        printf '%s' "$rows"
        echo
        echo "cov = instrumented edges reached, ft = libFuzzer features (edges × hit-count buckets), as libFuzzer's final line prints them."
    } >"$report"
    echo "fuzz.sh: report written to $report"
    return $((crashes > 0))
}

case "${1:-smoke}" in
    build) build ;;
    smoke) smoke "${2:-8}" ;;
    full) full "${2:-10000000}" ;;
    run) shift; target="$1"; shift; ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" exec "$(BIN "$target")" "$@" ;;
    *) echo "usage: $0 build | smoke [SECONDS] | full [RUNS] | run TARGET [ARGS]" >&2; exit 2 ;;
esac
