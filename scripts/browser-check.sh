#!/usr/bin/env bash
# Plays signed OggEdge URLs in headless Chromium from a page on another origin (CORS), seeks, and
# prints tap-to-playing and seek times, all in one browser session (one page, a fresh <audio> per
# track, as a running player would):
#   warm-up           a cached rendition (its time includes the browser's media pipeline start)
#   nginx-file        the same kind of file served by nginx (the browser's floor), if nginx exists
#   cache-miss        a rendition never requested before (streamed from its file, cache filled)
#   cache-hit         the same rendition again, from the chunk cache
#   cold-transcode-*  missing renditions made on demand (from a WAV master; from an Ogg rendition)
#   cold-padded-tone  a 320 kbit/s transcode of a sine tone (zero-padded up to its label)
# Needs the Debian package chromium (installed if missing) and python3. Loopback only.
#
#   scripts/browser-check.sh [ROUNDS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-1}"
command -v chromium >/dev/null || apt-get install -y -qq chromium >/dev/null
swift build -c release --product oggedge >/dev/null 2>&1
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-browser.XXXXXX)"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export OGGEDGE_SIGNING_KEYS="browser:$(head -c 32 /dev/urandom | base64)"
python3 scripts/browser/page-server.py 18201 scripts/browser "$work/results" &

nginx_url=""
if command -v nginx >/dev/null; then
  chmod 755 "$work"; mkdir -p "$work/www"; cp media/tracks/demo_96kbps.ogg "$work/www/"
  cat > "$work/nginx.conf" <<NGINX
daemon on; pid $work/nginx.pid; error_log $work/nginx-error.log;
events {}
http {
  access_log off; sendfile on;
  types { audio/ogg ogg; }
  server { listen 127.0.0.1:18202; root $work/www; add_header Access-Control-Allow-Origin * always; }
}
NGINX
  nginx -c "$work/nginx.conf" && nginx_url="http://127.0.0.1:18202/demo_96kbps.ogg"
fi

results="bench/results/browser-$(date -u +%Y%m%d).txt"
mkdir -p bench/results
{
echo "date: $(date -u +%FT%TZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo); $(chromium --version 2>/dev/null | head -1)"
echo "command: scripts/browser-check.sh $rounds"
} >> "$results"
for round in $(seq "$rounds"); do
  rm -rf "$work/cache" "$work/media" "$work/d.jsonl"; mkdir -p "$work/media/masters" "$work/media/tracks"
  cp media/tracks/*.ogg "$work/media/tracks/"; cp media/masters/*.wav "$work/media/masters/"
  # A test tone: too simple for 320 kbit/s, so its transcode is padded (see README).
  sox -n -r 44100 -c 2 -b 16 "$work/media/masters/tone.wav" synth 20 sine 440 vol 0.5
  "$bin" serve --port 18200 --media "$work/media" --cache-dir "$work/cache" --delivery-log "$work/d.jsonl" >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:18200/healthz >/dev/null && break; sleep 0.1; done
  sign() { echo "http://127.0.0.1:18200$("$bin" sign "$1" --ttl 600)"; }
  labels=(warm-up); urls=("$(sign /tracks/demo_160kbps.ogg)")
  [ -n "$nginx_url" ] && { labels+=(nginx-file); urls+=("$nginx_url"); }
  labels+=(cache-miss cache-hit cold-transcode-wav cold-transcode-ogg cold-padded-tone)
  urls+=("$(sign /tracks/chords_96kbps.ogg)" "$(sign /tracks/chords_96kbps.ogg)" \
         "$(sign /tracks/masteronly_96kbps.ogg)" "$(sign /tracks/hionly_160kbps.ogg)" "$(sign /tracks/tone_320kbps.ogg)")
  query="$(python3 -c 'import sys, urllib.parse; print("&".join("src=" + urllib.parse.quote(u, safe="") for u in sys.argv[1:]))' "${urls[@]}")"
  : > "$work/results"
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required \
    --user-data-dir="$work/profile" "http://127.0.0.1:18201/page.html?$query" >/dev/null 2>&1 &
  cpid=$!
  for i in $(seq 550); do grep -q '"done"' "$work/results" 2>/dev/null && break; sleep 0.1; done
  kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "round $round" | tee -a "$results"
  python3 - "$work/results" "${labels[@]}" <<'PY' | tee -a "$results"
import json, sys
labels = sys.argv[2:]
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "index" not in o:
        continue
    label = labels[o.pop("index")]
    if o.get("ok"):
        print(f"  {label:<20} tap_to_playing {o['tap_to_playing_ms']:7.1f} ms   seek {o['seek_ms']:6.1f} ms   duration {o['duration']}   events {o.get('events')}", flush=True)
    else:
        print(f"  {label:<20} FAILED {o}")
PY
done
echo "delivery log (last round): path status range cache ttfb_ms playback_start_ms bytes_sent duration_ms"
python3 - "$work/d.jsonl" <<'PY'
import json, sys
ms = lambda us: "-" if us is None else f"{us / 1000:.1f}"
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith("/tracks/"):
        print(f"  {r['path']:<26} {r['status']} {str(r['range']):<16} {str(r['cache']):<10} {ms(r['ttfb_us']):>7} "
              f"{ms(r['playback_start_us']):>7} {r['bytes_sent']:>8} {ms(r['duration_us']):>8}")
PY
