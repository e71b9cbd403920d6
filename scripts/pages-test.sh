#!/usr/bin/env bash
# Browser checks of /player/ and /admin/ui/ in headless Chromium (Debian's chromium, Python
# playwright): see scripts/browser/pages_test.py. Uses the debug build of `swift build` and the
# sample media under .build-testmedia (as scripts/test.sh makes them).
#
#   scripts/pages-test.sh                      assertions only
#   scripts/pages-test.sh --screenshots docs   and screenshots of both pages
#   scripts/pages-test.sh --bench 20           tap-to-playing over 20 plays -> bench/results/
#                                              (with the release build: it is built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "pages-test: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
python3 -c 'import playwright' 2>/dev/null || { echo "pages-test: python playwright missing (pip install playwright)" >&2; exit 1; }
[ -d .build-testmedia/media/tracks ] || ./scripts/make-sample-media.sh .build-testmedia/media >/dev/null
bin="$(swift build --show-bin-path)/oggedge"
[ -x "$bin" ] || swift build --product oggedge
args=(--bin "$bin" --media .build-testmedia/media)
if [ "${1:-}" = "--bench" ]; then
  mkdir -p bench/results
  swift build -c release --product oggedge >/dev/null
  args=(--bin "$(swift build -c release --show-bin-path)/oggedge" --media .build-testmedia/media)
  args+=(--bench "${2:-20}" --bench-out "bench/results/tap-to-playing-$(date -u +%Y%m%d).txt")
elif [ "${1:-}" = "--screenshots" ]; then
  args+=(--screenshots "${2:-docs}")
fi
exec python3 scripts/browser/pages_test.py "${args[@]}"
