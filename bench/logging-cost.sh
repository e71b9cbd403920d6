#!/usr/bin/env bash
# Cost of the delivery log per request: the same server binary with the log on and off, under
# the same wrk load (8 KiB ranges from the chunk cache, the players' first request), in one run,
# alternating twice. Records machine, date and command in bench/results/logging-cost-<date>.txt.
#
#   bench/logging-cost.sh [SECONDS=8] [CONNECTIONS=32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-8}"; conns="${2:-32}"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-logcost.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export OGGEDGE_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
"$bin" serve --port 18180 --media media --cache-dir "$work/c1" --delivery-log "$work/d.jsonl" >/dev/null 2>&1 &
"$bin" serve --port 18181 --media media --cache-dir "$work/c2" --delivery-log off >/dev/null 2>&1 &
for port in 18180 18181; do for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done; done
target="$("$bin" sign /tracks/demo_160kbps.ogg --ttl 3600)"
for port in 18180 18181; do curl -sf -o /dev/null "http://127.0.0.1:$port$target"; done
cat > "$work/r.lua" <<'LUA'
request = function() return wrk.format("GET", nil, { ["Range"] = "bytes=0-8191" }) end
LUA
rps() { wrk -t2 -c"$conns" -d"${duration}s" -s "$work/r.lua" "http://127.0.0.1:$1$target" | awk '/Requests\/sec/ {print $2}'; }
on1=$(rps 18180); off1=$(rps 18181); on2=$(rps 18180); off2=$(rps 18181)
mkdir -p bench/results
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(uname -srm), $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "command: bench/logging-cost.sh $duration $conns  (wrk -t2 -c$conns, Range: bytes=0-8191, cached)"
  echo "log on : $on1 $on2 req/s"
  echo "log off: $off1 $off2 req/s"
  awk -v a="$on1" -v b="$on2" -v c="$off1" -v d="$off2" 'BEGIN { on=(a+b)/2; off=(c+d)/2; printf "ratio on/off: %.3f; cost per request: %.1f us of wall time at this load\n", on/off, (1e6/on - 1e6/off) }'
  echo "records written: $(wc -l < "$work/d.jsonl")"
} | tee -a "bench/results/logging-cost-$(date -u +%Y%m%d).txt"
