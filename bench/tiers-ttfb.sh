#!/usr/bin/env bash
# TTFB of a player's first request (`Range: bytes=0-`) for: a direct cache hit on the parent,
# a cold rendition through one edge (UPSTREAM), a cold rendition through two tiers (edge of an
# edge), and a hit on that outer edge afterwards. Each cold sample uses a fresh track id, so
# every pull really goes to the parent. Loopback only.
#
#   bench/tiers-ttfb.sh [SAMPLES=30] [BIN=release oggedge]
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-30}"; bin="${2:-}"
if [ -z "$bin" ]; then
  swift build -c release --product oggedge >/dev/null
  bin="$(swift build -c release --show-bin-path)/oggedge"
fi
work="$(mktemp -d /tmp/oggedge-tiers.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
mkdir -p "$work/media/tracks" "$work/media/masters" "$work/empty/tracks" "$work/empty/masters"
sox -n -r 44100 -c 2 -b 16 "$work/one.wav" synth 60 pluck C3 pluck G3 pinknoise vol 0.3 2>/dev/null
oggenc -Q -b 160 -o "$work/one.ogg" "$work/one.wav"
for i in $(seq 0 $((3 * samples))); do cp "$work/one.ogg" "$work/media/tracks/$(printf 'c%04d' "$i")_160kbps.ogg"; done
secret="$(head -c 32 /dev/urandom | base64 -w0)"
export OGGEDGE_SIGNING_KEYS="tiers:$secret"
"$bin" serve --port 19301 --media "$work/media" --cache-dir "$work/p" --delivery-log off >/dev/null 2>&1 & pids+=($!)
"$bin" serve --port 19302 --media "$work/empty" --cache-dir "$work/e1" --delivery-log off --upstream http://127.0.0.1:19301 >/dev/null 2>&1 & pids+=($!)
"$bin" serve --port 19303 --media "$work/empty" --cache-dir "$work/e2" --delivery-log off --upstream http://127.0.0.1:19302 >/dev/null 2>&1 & pids+=($!)
for port in 19301 19302 19303; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
done
ttfb() { # port track
  local target; target="$("$bin" sign "/tracks/$2_160kbps.ogg" --ttl 600)"
  curl -s -o /dev/null -H 'Range: bytes=0-' -w '%{time_starttransfer}\n' "http://127.0.0.1:$1$target"
}
summary() { sort -n | awk '{a[NR]=$1*1000} END {printf "p50 %.2f ms, p90 %.2f ms, max %.2f ms (n=%d)\n", a[int(NR*0.5)+1], a[int(NR*0.9)+1], a[NR], NR}'; }
ttfb 19301 c0000 >/dev/null
hit="$(for _ in $(seq 1 "$samples"); do ttfb 19301 c0000; done | summary)"
one="$(for i in $(seq 1 "$samples"); do ttfb 19302 "$(printf 'c%04d' "$i")"; done | summary)"
two="$(for i in $(seq $((samples + 1)) $((2 * samples))); do ttfb 19303 "$(printf 'c%04d' "$i")"; done | summary)"
edgehit="$(for i in $(seq $((samples + 1)) $((2 * samples))); do ttfb 19303 "$(printf 'c%04d' "$i")"; done | summary)"
out="bench/results/tiers-ttfb-$(date -u +%Y%m%d).md"
{
  echo "## tiers TTFB $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) CPUs, load before run: $(cut -d' ' -f1-3 /proc/loadavg); binary: $bin; commit $(git rev-parse --short HEAD)"
  echo "- command: bench/tiers-ttfb.sh $samples ${2:+$2}; rendition 60 s at 160 kbps, first request \`Range: bytes=0-\`, curl time_starttransfer"
  echo
  echo "| path | TTFB |"
  echo "|---|---|"
  echo "| direct hit on the parent | $hit |"
  echo "| cold, through one edge (UPSTREAM) | $one |"
  echo "| cold, through two tiers (edge of an edge) | $two |"
  echo "| hit on the outer edge afterwards | $edgehit |"
  echo
} | tee -a "$out"
