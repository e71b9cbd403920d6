#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer: ./scripts/sanitize.sh [address|thread] [swift test args...]
# Builds into .build-asan or .build-tsan (a first build takes several minutes). The test-only
# malloc counter steps aside under a sanitizer (its allocation-budget test is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"; shift || true
case "$kind" in
  address) scratch=.build-asan ;;
  thread) scratch=.build-tsan ;;
  *) echo "usage: $0 [address|thread] [swift test args...]" >&2; exit 2 ;;
esac
./scripts/make-sample-media.sh .build-testmedia/media >/dev/null
export OGGEDGE_TEST_MEDIA="$PWD/.build-testmedia/media"
# The Swift runtime keeps some allocations for the life of the process: leak reports would be noise.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
# Races are reported and fail the run (exit code 66), with the history a report needs.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 exitcode=66 history_size=4}"
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch"
swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" "$@"
