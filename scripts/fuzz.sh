#!/usr/bin/env bash
# fuzz.sh — coverage-guided fuzzing (libFuzzer) of every parser that sees outside bytes.
#
#   scripts/fuzz.sh build              instrumented build of fuzz/ (release, -sanitize=fuzzer,address)
#   scripts/fuzz.sh smoke [SECONDS]    build, then every target for SECONDS (default 8); fails on a crash
#                                      (scripts/test.sh runs FUZZ_BUILD=debug scripts/fuzz.sh smoke 5)
#   scripts/fuzz.sh full [RUNS]        build, then every target for RUNS inputs (default 10^7), one at a
#                                      time, and write bench/results/fuzz-YYYYMMDD.md
#   scripts/fuzz.sh report             rebuild that report from the last `full` run of each target
#   scripts/fuzz.sh run TARGET [ARGS]  one target with libFuzzer arguments (e.g. a crash file to replay)
#
# Targets (fuzz/Sources/<Target>, one libFuzzer executable each, calling the real parser with
# invariant checks) start from the committed seeds in fuzz/corpus/<Target>/ (read only); what
# they find goes to .build-fuzz/work/<Target>/ (corpus/, crash-* artifacts, log). Env:
#   FUZZ_TARGETS="FuzzRange FuzzConfig"  a subset;  FUZZ_SANITIZERS="fuzzer" (default "fuzzer address")
#   FUZZ_REPORT=path                     where `full` writes its report
#   FUZZ_MAX_SECONDS=N                   cap each target of `full` at N seconds (reported as such)
#   FUZZ_SKIP_BUILD=1                    use the binaries already in .build-fuzz
#   FUZZ_BUILD=debug                     a debug build in .build-fuzz-debug instead: same sanitizers and
#                                        coverage, no optimiser (what scripts/test.sh's smoke uses)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CONFIGURATION="${FUZZ_BUILD:-release}"
case "$CONFIGURATION" in
    release) SCRATCH="$ROOT/.build-fuzz" ;;
    debug) SCRATCH="$ROOT/.build-fuzz-debug" ;;
    *) echo "fuzz.sh: FUZZ_BUILD must be release or debug" >&2; exit 2 ;;
esac
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
    if [ "${FUZZ_SKIP_BUILD:-0}" = 1 ]; then BUILD_SECONDS="skipped"; return; fi
    for s in $SANITIZERS; do flags+=("--sanitize=$s"); done
    # -enable-testing: the targets `@testable import` the main package's modules to reach the
    # internal parsers (WAVParser, SpoolCodec, CheckedBeacon, ...) without widening their API.
    mkdir -p "$SCRATCH"
    # -sanitize-coverage: swiftc 6.3 drops the coverage instrumentation that -sanitize=fuzzer
    # implies when it compiles whole-module (release), which leaves libFuzzer blind; ask for it.
    if ! swift build -c "$CONFIGURATION" "${flags[@]}" -Xswiftc -enable-testing \
        -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
        --package-path fuzz --scratch-path "$SCRATCH" >"$SCRATCH/build.log" 2>&1; then
        tail -40 "$SCRATCH/build.log" >&2
        echo "fuzz.sh: build failed (log: $SCRATCH/build.log)" >&2
        exit 1
    fi
    grep -E ': (warning|error):' "$SCRATCH/build.log" | grep '/fuzz/' || true
    # A target whose `@_cdecl` entry point went missing would run without coverage: refuse it.
    for s in $TARGETS; do
        # (not `grep -q`: it stops reading early, nm dies of SIGPIPE and pipefail calls the symbol missing)
        nm "$(BIN "$s")" | grep ' T LLVMFuzzerTestOneInput$' >/dev/null || { echo "fuzz.sh: $s has no LLVMFuzzerTestOneInput" >&2; exit 1; }
    done
    BUILD_SECONDS=$((SECONDS - start))
    echo "fuzz.sh: instrumented build took ${BUILD_SECONDS} s"
}

BIN() { echo "$SCRATCH/$CONFIGURATION/$1"; }

# run_target TARGET LOG ARGS...: the target on its work corpus and the seeds; returns its status.
run_target() {
    local target="$1" log="$2"; shift 2
    local dir="$WORK/$target"
    mkdir -p "$dir/corpus"
    # ASan: leak checks off (the Swift runtime's caches live until exit and read as leaks).
    local status=0
    # No Swift backtracer: its stack walk trips ASan after a fatalError and buries the message.
    SWIFT_BACKTRACE="enable=no" ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$(BIN "$target")" "$dir/corpus" "fuzz/corpus/$target" \
        -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$dir/" "$@" >"$log" 2>&1 || status=$?
    # Without coverage feedback libFuzzer only mutates blindly: count that as a failure too.
    if grep -q 'no interesting inputs were found' "$log"; then
        echo "fuzz.sh: $target runs without coverage (is it instrumented?)" >&2
        return 3
    fi
    return $status
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
    local runs="${1:-10000000}" target log start secs status crashes=0 limit=()
    [ -n "${FUZZ_MAX_SECONDS:-}" ] && limit=(-max_total_time="$FUZZ_MAX_SECONDS")
    build
    for target in $TARGETS; do
        log="$WORK/$target/full.log"
        mkdir -p "$WORK/$target"
        start=$SECONDS
        echo "fuzz.sh: $target, $runs inputs ($(date -u +%H:%M:%S))"
        if run_target "$target" "$log" -runs="$runs" "${limit[@]}"; then
            status="0 crashes"
        else
            status="**crash**: $(ls "$WORK/$target"/crash-* "$WORK/$target"/timeout-* "$WORK/$target"/oom-* 2>/dev/null | head -1 | xargs -r basename)"
            crashes=$((crashes + 1))
        fi
        secs=$((SECONDS - start))
        read -r cov ft <<<"$(cov_of "$log")"
        local execs eps
        execs="$(stat_of "$log" number_of_executed_units)"
        eps="$(stat_of "$log" average_exec_per_sec)"
        # One table row per target, kept beside its log; `report` puts the rows together.
        echo "| $target | ${execs:-?} | ${eps:-?} | ${secs} | ${cov:-?} | ${ft:-?} | $(find "fuzz/corpus/$target" -type f | wc -l) + $(find "$WORK/$target/corpus" -type f | wc -l) | $(stat_of "$log" peak_rss_mb) | $status |" >"$WORK/$target/full.row"
        echo "$runs ${FUZZ_MAX_SECONDS:--} $(git rev-parse --short HEAD) $(date -u +%FT%TZ) ${BUILD_SECONDS}" >"$WORK/$target/full.meta"
        echo "fuzz.sh: $target: ${execs} inputs, ${eps} exec/s, cov ${cov} ft ${ft}, ${status}"
    done
    report
    return $((crashes > 0))
}

# report: bench/results/fuzz-YYYYMMDD.md from the rows the last `full` runs of each target left.
report() {
    local out="${FUZZ_REPORT:-bench/results/fuzz-$(date -u +%Y%m%d).md}" target runs cap commit when built
    {
        echo "# Fuzzing campaign $(date -u +%Y-%m-%d)"
        echo
        echo "- Command: \`scripts/fuzz.sh full RUNS\` per target (FUZZ_MAX_SECONDS caps a target's wall time when set)"
        echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), shared with other builds and benchmarks; one fuzzer process at a time"
        echo "- Toolchain: $(swift --version 2>/dev/null | head -1)"
        echo "- Build: \`swift build -c release$(for s in $SANITIZERS; do printf ' --sanitize=%s' "$s"; done) -Xswiftc -enable-testing -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --package-path fuzz\`"
        echo "- libFuzzer: \`-runs=RUNS -print_final_stats=1 -max_len=<per target>\`, seeds from fuzz/corpus/<Target>/ (read only), new inputs to .build-fuzz/work/<Target>/corpus"
        echo
        echo "| target | inputs executed | exec/s | wall s | cov (edges) | ft (features) | corpus (seeds + new) | peak RSS MB | findings |"
        echo "|---|---:|---:|---:|---:|---:|---|---:|---|"
        for target in $ALL_TARGETS; do
            [ -f "$WORK/$target/full.row" ] && cat "$WORK/$target/full.row"
        done
        echo
        echo "cov = instrumented edges reached, ft = libFuzzer features (edges × hit-count buckets), both from libFuzzer's final status line."
        echo
        echo "| target | RUNS | cap s | commit | finished |"
        echo "|---|---:|---:|---|---|"
        for target in $ALL_TARGETS; do
            [ -f "$WORK/$target/full.meta" ] || continue
            read -r runs cap commit when built <"$WORK/$target/full.meta" || true
            echo "| $target | $runs | ${cap:--} | $commit | $when |"
        done
    } >"$out"
    echo "fuzz.sh: report written to $out"
}

case "${1:-smoke}" in
    build) build ;;
    smoke) smoke "${2:-8}" ;;
    full) full "${2:-10000000}" ;;
    report) report ;;
    run) shift; target="$1"; shift; ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" exec "$(BIN "$target")" "$@" ;;
    *) echo "usage: $0 build | smoke [SECONDS] | full [RUNS] | run TARGET [ARGS]" >&2; exit 2 ;;
esac
