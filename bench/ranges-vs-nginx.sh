#!/usr/bin/env bash
# Throughput of 64 KiB (or RANGE_BYTES) range requests served by OggEdge and by nginx from the
# same files (in the page cache), under the same wrk load, in one run. Prints a table and the ratio.
#
#   bench/ranges-vs-nginx.sh [DURATION_SECONDS=10] [CONNECTIONS=32] [RANGE_BYTES=65536]
#
# Needs: nginx and wrk (Debian packages), a release build (built here if missing).
# Loopback only. Writes results to bench/results/ with the machine, date and command.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"; conns="${2:-32}"; range_bytes="${3:-65536}"
command -v nginx >/dev/null && command -v wrk >/dev/null || {
  echo "installing nginx and wrk" >&2
  apt-get install -y -qq nginx-light wrk >/dev/null 2>&1 || apt-get install -y -qq nginx wrk >/dev/null
}
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
work="$(mktemp -d /tmp/oggedge-bench.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
./scripts/make-sample-media.sh media >/dev/null
file=media/tracks/long_160kbps.ogg
[ -f "$file" ] || file=media/tracks/demo_160kbps.ogg
name="$(basename "$file")"
size=$(stat -c %s "$file")
cat "$file" >/dev/null   # warm the page cache

og_port=18080; ngx_port=18081
key="bench:$(head -c 32 /dev/urandom | base64)"
OGGEDGE_SIGNING_KEYS="$key" "$bin" serve --port "$og_port" --media media --delivery-log "$work/delivery.jsonl" >"$work/oggedge.out" 2>&1 &
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$ngx_port;
    location /tracks/ { root $PWD/media; }
  }
}
NGINX
nginx -c "$work/nginx.conf"
for i in $(seq 50); do curl -sf "http://127.0.0.1:$og_port/healthz" >/dev/null && break; sleep 0.1; done
target="$(OGGEDGE_SIGNING_KEYS="$key" "$bin" sign "/tracks/$name" --ttl 86400)"

# wrk script: a random aligned range of RANGE_BYTES per request.
cat > "$work/range.lua" <<LUA
local size = $size
local span = $range_bytes
math.randomseed(42)
request = function()
  local start = math.random(0, math.max(0, size - span))
  return wrk.format("GET", wrk.path, { ["Range"] = "bytes=" .. start .. "-" .. (start + span - 1) })
end
LUA
run() { wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$work/range.lua" "$1" 2>&1; }
og="$(run "http://127.0.0.1:$og_port$target")"
ngx="$(run "http://127.0.0.1:$ngx_port/tracks/$name")"
rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
p99() { echo "$1" | awk '$1=="99%" {print $2}'; }
og_rps=$(rps "$og"); ngx_rps=$(rps "$ngx")
ratio=$(awk -v a="$og_rps" -v b="$ngx_rps" 'BEGIN { printf "%.2f", a / b }')
mkdir -p bench/results
out="bench/results/ranges-vs-nginx-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "command: bench/ranges-vs-nginx.sh $duration $conns $range_bytes"
  echo "file: $name ($size bytes), range: $range_bytes bytes, wrk -t2 -c$conns -d${duration}s"
  printf '%-10s %12s %10s\n' server req/s p99
  printf '%-10s %12s %10s\n' oggedge "$og_rps" "$(p99 "$og")"
  printf '%-10s %12s %10s\n' nginx "$ngx_rps" "$(p99 "$ngx")"
  echo "ratio oggedge/nginx: $ratio"
} | tee "$out"
