#!/usr/bin/env bash
# Random range requests served three ways in one run, under the same wrk load:
#   oggedge-cache : OggEdge answering from its LMDB chunk cache (prewarmed)
#   oggedge-files : OggEdge with the cache off (--cache-max-bytes 0), reading tracks/ files
#   nginx         : nginx serving the same file (sendfile), the yardstick
# for each range size given. All files sit in the page cache.
#
#   bench/ranges.sh [SECONDS=10] [CONNECTIONS=32] [RANGE_SIZES="65536 4096"]
#
# Needs nginx and wrk (Debian packages; installed if missing). Loopback only.
# Prints a table with ratios to nginx and appends it to bench/results/ranges-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"; conns="${2:-32}"; sizes="${3:-65536 4096}"
command -v nginx >/dev/null && command -v wrk >/dev/null || {
  apt-get install -y -qq nginx-light wrk >/dev/null 2>&1 || apt-get install -y -qq nginx wrk >/dev/null
}
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
work="$(mktemp -d /tmp/oggedge-bench.XXXXXX)"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
./scripts/make-sample-media.sh media >/dev/null
file=media/tracks/long_160kbps.ogg
name="$(basename "$file")"
size=$(stat -c %s "$file")
cat "$file" >/dev/null

key="bench:$(head -c 32 /dev/urandom | base64)"
export OGGEDGE_SIGNING_KEYS="$key"
"$bin" serve --port 18080 --media media --cache-dir "$work/cache" --cache-max-bytes 268435456 --delivery-log off >"$work/cache.out" 2>&1 &
"$bin" serve --port 18082 --media media --cache-max-bytes 0 --delivery-log off >"$work/files.out" 2>&1 &
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;   # nginx's usual static-file setting; tcp_nopush on would add ~40 ms per 64 KiB range here
  server { listen 127.0.0.1:18081; location /tracks/ { root $PWD/media; } }
}
NGINX
nginx -c "$work/nginx.conf"
for port in 18080 18082; do
  for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
target="$("$bin" sign "/tracks/$name" --ttl 86400)"
curl -sf -o /dev/null "http://127.0.0.1:18080$target"   # fill the cache
sleep 1

run() { # url span
  cat > "$work/range.lua" <<LUA
local size, span = $size, $2
math.randomseed(42)
request = function()
  local start = math.random(0, size - span)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + span - 1) })
end
LUA
  wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$work/range.lua" "$1" 2>&1
}
rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
p99() { echo "$1" | awk '$1=="99%" {print $2}'; }
mkdir -p bench/results
out="bench/results/ranges-$(date -u +%Y%m%d).txt"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo), $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "command: bench/ranges.sh $duration $conns \"$sizes\"  (wrk -t2 -c$conns -d${duration}s, random ranges of $name, $size bytes)"
  printf '%-8s %-14s %12s %10s %8s\n' range server req/s p99 vs-nginx
  for span in $sizes; do
    ngx="$(run "http://127.0.0.1:18081/tracks/$name" "$span")"
    cache="$(run "http://127.0.0.1:18080$target" "$span")"
    files="$(run "http://127.0.0.1:18082$target" "$span")"
    n=$(rps "$ngx")
    for pair in "nginx:$ngx" "oggedge-cache:$cache" "oggedge-files:$files"; do
      label="${pair%%:*}"; result="${pair#*:}"; r=$(rps "$result")
      printf '%-8s %-14s %12s %10s %8s\n' "$span" "$label" "$r" "$(p99 "$result")" "$(awk -v a="$r" -v b="$n" 'BEGIN { printf "%.2f", a / b }')"
    done
  done
} | tee -a "$out"
