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
