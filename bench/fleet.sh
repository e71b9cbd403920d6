#!/usr/bin/env bash
# A small fleet on loopback: two parents holding the catalogue, three edges with no media in
# front of them (--upstream both parents), HAProxy in front of the edges (balance uri,
# hash-type consistent, /readyz checks inter 2s fall 3, retries + redispatch), and the
# player-like Zipf load of bench/fleet-load.py through HAProxy. A third of the way in, parent 1
# is killed (SIGKILL); two thirds in, edge 1. Reports failed and truncated responses, TTFB and
# hit ratio per tier (from each node's delivery log), and bytes the parents sent.
#
#   bench/fleet.sh [SECONDS=60] [WORKERS=16] [TRACKS=300] [ALPHA=1.0] [BIN=release oggedge]
#
# Edge caches hold 10 % of the catalogue's bytes each. Results: bench/results/fleet-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; workers="${2:-16}"; tracks="${3:-300}"; alpha="${4:-1.0}"
bin="${5:-}"
# FLEET_KILLS=0: no kills (a steady-state run for hit ratios); FLEET_WARMUP=S: hit ratios (and the
# best static choice they are compared with) from the responses after the first S seconds only;
# FLEET_OUT=path: append the report there instead. The edges take OGGEDGE_* settings from the
# environment (e.g. OGGEDGE_UPSTREAM_SLICE_CHUNKS=8 for 512 KiB slices).
kills="${FLEET_KILLS:-1}"; warmup="${FLEET_WARMUP:-0}"
command -v haproxy >/dev/null || apt-get install -y -qq --no-install-recommends haproxy >/dev/null
command -v oggenc >/dev/null && command -v sox >/dev/null || apt-get install -y -qq vorbis-tools sox >/dev/null
if [ -z "$bin" ]; then
  swift build -c release --product oggedge >/dev/null
  bin="$(swift build -c release --show-bin-path)/oggedge"
fi
work="$(mktemp -d /tmp/oggedge-fleet.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/haproxy.pid" ] && kill "$(cat "$work/haproxy.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# The catalogue: one 30 s stereo rendition (~0.45 MB at 160 kbps ABR) under TRACKS ids.
mkdir -p "$work/media/tracks" "$work/media/masters" "$work/empty/tracks" "$work/empty/masters"
sox -n -r 44100 -c 2 -b 16 "$work/one.wav" synth 30 pluck C3 pluck G3 pinknoise vol 0.3 2>/dev/null
oggenc -Q -b 160 -o "$work/one.ogg" "$work/one.wav"
for i in $(seq 0 $((tracks - 1))); do cp "$work/one.ogg" "$work/media/tracks/$(printf 't%04d' "$i")_160kbps.ogg"; done
track_bytes=$(stat -c %s "$work/one.ogg")
catalogue=$((track_bytes * tracks))
edge_cache=$((catalogue / 10))

secret="$(head -c 32 /dev/urandom | base64 -w0)"
export OGGEDGE_SIGNING_KEYS="fleet:$secret"
start_node() { # name port media [extra args...]
  local name=$1 port=$2 media=$3; shift 3
  "$bin" serve --port "$port" --media "$media" --cache-dir "$work/$name/cache" \
    --delivery-log "$work/$name/delivery.jsonl" "$@" >"$work/$name.out" 2>&1 &
  pids+=($!); eval "pid_$name=$!"
}
mkdir -p "$work"/{p1,p2,e1,e2,e3}
start_node p1 19101 "$work/media"
start_node p2 19102 "$work/media"
for e in 1 2 3; do
  start_node "e$e" "1920$e" "$work/empty" --cache-max-bytes "$edge_cache" \
    --upstream http://127.0.0.1:19101,http://127.0.0.1:19102
done
cat > "$work/haproxy.cfg" <<CFG
global
  pidfile $work/haproxy.pid
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
frontend players
  bind 127.0.0.1:19000
  default_backend edges
backend edges
  balance uri
  hash-type consistent
  option httpchk GET /readyz
  server e1 127.0.0.1:19201 check inter 2s fall 3 rise 2
  server e2 127.0.0.1:19202 check inter 2s fall 3 rise 2
  server e3 127.0.0.1:19203 check inter 2s fall 3 rise 2
CFG
haproxy -D -f "$work/haproxy.cfg"
for port in 19101 19102 19201 19202 19203 19000; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
done

started_ms=$(date +%s%3N)
python3 bench/fleet-load.py http://127.0.0.1:19000 fleet "$secret" "$tracks" "$seconds" "$workers" "$alpha" > "$work/load.json" &
load=$!
if [ "$kills" = 1 ]; then
  sleep "$(echo "$seconds / 3" | bc -l)"; kill -9 "$pid_p1"
  sleep "$(echo "$seconds / 3" | bc -l)"; kill -9 "$pid_e1"
fi
wait "$load"

# Per tier, from the delivery logs (audio responses only).
python3 - "$work" "$catalogue" "$(cat "$work/load.json")" "$track_bytes" "$started_ms" "$warmup" > "$work/report.md" <<'PY'
import json, sys, glob, os
from datetime import datetime
work, catalogue, load, track_bytes = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
warm_from_ms = int(sys.argv[5]) + int(float(sys.argv[6]) * 1000)
def after_warmup(r):
    ts = datetime.strptime(r["ts"].replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
    return ts >= warm_from_ms
def records(name):
    path = os.path.join(work, name, "delivery.jsonl")
    out = []
    if os.path.exists(path):
        for line in open(path):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("cache"):
                out.append(r)
    return out
def q(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))] / 1000, 2) if values else None
print("| tier | responses | HIT | UPSTREAM/MISS | COALESCED | ERROR | hit ratio (bytes) | TTFB p50 ms | TTFB p99 ms |")
print("|---|---|---|---|---|---|---|---|---|")
for tier, names in (("edges", ["e1", "e2", "e3"]), ("parents", ["p1", "p2"])):
    rs = [r for n in names for r in records(n)]
    count = lambda c: sum(1 for r in rs if r["cache"] == c)
    hit_bytes = sum(r.get("bytes_sent") or 0 for r in rs if r["cache"] == "HIT")
    all_bytes = sum(r.get("bytes_sent") or 0 for r in rs)
    ttfb = [r["ttfb_us"] for r in rs if r.get("ttfb_us") is not None]
    print(f"| {tier} | {len(rs)} | {count('HIT')} | {count('UPSTREAM') + count('MISS')} | {count('COALESCED')} | {count('ERROR')} | "
          f"{hit_bytes / all_bytes if all_bytes else 0:.3f} | {q(ttfb, 0.5)} | {q(ttfb, 0.99)} |")
    if tier == "edges":
        # Responses the edges could not answer from their cache: what the slice size changes.
        for label, kinds in (("edge UPSTREAM/MISS", ("UPSTREAM", "MISS")), ("edge COALESCED", ("COALESCED",))):
            t = [r["ttfb_us"] for r in rs if r["cache"] in kinds and r.get("ttfb_us") is not None]
            print(f"| {label} only | {len(t)} | | | | | | {q(t, 0.5)} | {q(t, 0.99)} |")
# The best static choice per edge: the tracks that edge was asked most, as many as its cache holds.
best_hit, actual_hit, asked = 0, 0, 0
slots = (catalogue // 10) // track_bytes
for n in ["e1", "e2", "e3"]:
    per_track = {}
    window = [r for r in records(n) if after_warmup(r)]
    for r in window:
        per_track[r["track"]] = per_track.get(r["track"], 0) + (r.get("bytes_sent") or 0)
    ranked = sorted(per_track.values(), reverse=True)
    best_hit += sum(ranked[:slots])
    asked += sum(ranked)
    actual_hit += sum(r.get("bytes_sent") or 0 for r in window if r["cache"] == "HIT")
print(f"- edge byte hit ratio{f' after the first {sys.argv[6]} s' if float(sys.argv[6]) > 0 else ''} {actual_hit / asked:.3f} vs best static choice {best_hit / asked:.3f} "
      f"({slots} of {catalogue // track_bytes} tracks fit each edge cache): {actual_hit / best_hit:.2f}x of the best" if asked and best_hit else "")
edge_bytes = sum(r.get("bytes_sent") or 0 for n in ["e1", "e2", "e3"] for r in records(n))
parent_bytes = sum(r.get("bytes_sent") or 0 for n in ["p1", "p2"] for r in records(n))
print()
print(f"- players: {load['requests']} requests, {load['failed']} failed, {load['truncated']} truncated "
      f"({load['errors']}); TTFB through HAProxy p50 {load['ttfb_ms']['p50']} ms, p99 {load['ttfb_ms']['p99']} ms")
print(f"- bytes to players (edges' logs): {edge_bytes}; bytes parents sent to edges: {parent_bytes} "
      f"({parent_bytes / edge_bytes if edge_bytes else 0:.3f} of what players got); catalogue {catalogue} bytes, each edge cache {catalogue // 10}")
PY
date="$(date -u +%Y%m%d)"
out="${FLEET_OUT:-bench/results/fleet-$date.md}"
{
  echo "## fleet run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: bench/fleet.sh $seconds $workers $tracks $alpha ${5:+$5}; binary: $bin"
  echo "- commit: $(git rev-parse --short HEAD)${OGGEDGE_UPSTREAM_SLICE_CHUNKS:+; edges with upstream-slice-chunks $OGGEDGE_UPSTREAM_SLICE_CHUNKS}"
  if [ "$kills" = 1 ]; then
    echo "- parent p1 killed (SIGKILL) at t+$(echo "$seconds / 3" | bc) s, edge e1 at t+$(echo "2 * $seconds / 3" | bc) s"
  else
    echo "- no kills (FLEET_KILLS=0); hit ratios from the responses after the first $warmup s (FLEET_WARMUP)"
  fi
  echo
  cat "$work/report.md"
  echo
} | tee -a "$out"
