#!/usr/bin/env bash
# Plays signed OggEdge URLs in headless Chromium from a page on another origin (CORS), seeks to the
# middle, and prints tap-to-playing and seek times: a cached rendition and a cold transcode.
# Needs the Debian package chromium (installed if missing) and python3. Loopback only.
#
#   scripts/browser-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || apt-get install -y -qq chromium >/dev/null
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-browser.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export OGGEDGE_SIGNING_KEYS="browser:$(head -c 32 /dev/urandom | base64)"
"$bin" serve --port 18200 --media media --cache-dir "$work/cache" --delivery-log "$work/d.jsonl" >/dev/null 2>&1 &
python3 scripts/browser/page-server.py 18201 scripts/browser "$work/results" &
for i in $(seq 100); do curl -sf http://127.0.0.1:18200/healthz >/dev/null && break; sleep 0.1; done
play() { # label path
  local url="http://127.0.0.1:18200$("$bin" sign "$2" --ttl 600)"
  local enc; enc="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$url")"
  : > "$work/results"
  timeout 25 chromium --headless=new --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required \
    --user-data-dir="$work/profile-$1" "http://127.0.0.1:18201/page.html?src=$enc" >/dev/null 2>&1 &
  local pid=$!
  for i in $(seq 200); do [ -s "$work/results" ] && break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  echo "$1: $(head -1 "$work/results")"
}
play cached-first-play /tracks/demo_160kbps.ogg
play cached-second-play /tracks/demo_160kbps.ogg
play cold-transcode /tracks/masteronly_96kbps.ogg
echo "delivery log:"; cut -c1-220 "$work/d.jsonl" | sed 's/"client_ip[^,]*,//'
