#!/usr/bin/env bash
# Runs every test: unit tests of the pure core, system-library checks, and end-to-end tests
# against a real server on an ephemeral port (they build and use sample media under .build-testmedia).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/make-sample-media.sh .build-testmedia/media >/dev/null
export OGGEDGE_TEST_MEDIA="$PWD/.build-testmedia/media"
swift build --build-tests
swift test --skip-build
# The pages in a real browser. CI (OGGEDGE_REQUIRE_BROWSER=1) fails without chromium/playwright;
# a local run without them says so and skips.
if command -v chromium >/dev/null && python3 -c 'import playwright' 2>/dev/null; then
  ./scripts/pages-test.sh
elif [ "${OGGEDGE_REQUIRE_BROWSER:-0}" = 1 ]; then
  echo "test.sh: chromium and python playwright are required (OGGEDGE_REQUIRE_BROWSER=1)" >&2; exit 1
else
  echo "test.sh: skipping the browser checks (install chromium and 'pip install playwright' to run them)" >&2
fi
# Fuzz smoke: every libFuzzer target of fuzz/ for a few seconds on its committed seeds; fails on a
# crash, an invariant violation, an AddressSanitizer report or a target without coverage. It uses
# a debug instrumented build (same sanitizers and coverage as the campaign's release build) in
# .build-fuzz-debug: about 870 CPU-seconds from scratch, a few seconds when nothing changed (see
# docs/RELIABILITY.md "Fuzzing"). OGGEDGE_FUZZ_SMOKE=0 skips it; OGGEDGE_FUZZ_SECONDS sets the
# time per target.
if [ "${OGGEDGE_FUZZ_SMOKE:-1}" != 0 ]; then
  FUZZ_BUILD=debug ./scripts/fuzz.sh smoke "${OGGEDGE_FUZZ_SECONDS:-5}"
fi
