#!/usr/bin/env bash
# One closed-loop run of the player-like mix of bench/ttfb.sh (Zipf 1.0 over 400 copies of a
# 160 kbps track, 232 MiB, against a cache bound of 32 MiB): nginx first (skip with NO_NGINX=1),
# then BIN after 5 s of warm-up, both pinned to core 0, wrk -t1 -c64 on core 1. Prints wrk's
# result, the server's CPU ticks, context switches, the delivery log's HIT/MISS shares, cache
# metrics and RSS. `perf` as third argument records `perf record -e task-clock -g` of the server.
# Run it for two binaries in turn, a few rounds, to compare them on a noisy machine:
#
#   for r in 1 2; do for b in old/oggedge .build/release/oggedge; do NO_NGINX=1 bench/ab-player.sh 8 $b; done; done
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
secs="$1"; bin="$2"; mode="${3:-}"
work="${AB_PLAYER_WORK:-/tmp/oggedge-ab-player}"   # kept between runs: the catalogue is made once
mkdir -p "$work"
if [ ! -d $work/media ]; then
  ./scripts/make-sample-media.sh media >/dev/null
  mkdir -p $work/media/tracks $work/media/masters
  cp media/tracks/*.ogg $work/media/tracks/
  for i in $(seq -w 1 400); do src=demo; [ $((10#$i % 2)) = 0 ] && src=chords; cp media/tracks/${src}_160kbps.ogg $work/media/tracks/cat${i}_160kbps.ogg; done
fi
cat $work/media/tracks/*.ogg > /dev/null
secret_b64="$(head -c 32 /dev/urandom | base64)"; export OGGEDGE_SIGNING_KEYS="bench:$secret_b64"
nsecret="pl$RANDOM"
bench_templates $work/media/tracks $work '^cat' "$secret_b64" "$nsecret"
bench_nginx_conf $work/nginx.conf $work 18790 "$nsecret"
cpu() { sed 's/.*) //' /proc/$1/stat | awk '{print $12, $13}'; }
if [ -z "${NO_NGINX:-}" ]; then
taskset -c 0 nginx -c $work/nginx.conf; sleep 0.5
taskset -c 1 wrk -t1 -c64 -d${secs}s --latency -s bench/ttfb-requests.lua http://127.0.0.1:18790 -- $work/n.tpl player zipf:1.0 | grep WRK_RESULT | sed 's/^/nginx /'
kill $(cat $work/nginx.pid); sleep 0.3
fi
cachedir=${CACHE_DIR:-$work/cache}; rm -rf $cachedir $work/delivery.jsonl
taskset -c 0 $bin serve --port 18791 --media $work/media --cache-dir $cachedir --cache-max-bytes 33554432 --delivery-log $work/delivery.jsonl > $work/server.out 2>&1 &
spid=$!
for _ in $(seq 400); do curl -sf http://127.0.0.1:18791/healthz >/dev/null && break; sleep 0.1; done
# warm for 5 s
taskset -c 1 wrk -t1 -c64 -d5s -s bench/ttfb-requests.lua http://127.0.0.1:18791 -- $work/o.tpl player zipf:1.0 >/dev/null
: > $work/delivery.jsonl
c0=$(cpu $spid); cs0=$(cat /proc/$spid/task/*/status | awk "/ctxt_switches/ {s+=\$2} END {print s}")
if [ "$mode" = perf ]; then perf record -e task-clock -g -p $spid -o $work/perf.data -- sleep $secs >/dev/null 2>&1 & ppid=$!; fi
taskset -c 1 wrk -t1 -c64 -d${secs}s --latency -s bench/ttfb-requests.lua http://127.0.0.1:18791 -- $work/o.tpl player zipf:1.0 | grep WRK_RESULT | sed 's/^/oggedge /'
c1=$(cpu $spid); cs1=$(cat /proc/$spid/task/*/status | awk "/ctxt_switches/ {s+=\$2} END {print s}"); echo "ctxsw $((cs1-cs0))"
[ "$mode" = perf ] && wait $ppid || true
sleep 0.3
echo "cpu ticks user/sys before $c0 after $c1"
python3 - $work/delivery.jsonl <<'PY'
import json, sys, collections
c = collections.Counter(); n = 0
for line in open(sys.argv[1]):
    try: r = json.loads(line)
    except: continue
    n += 1; c[r.get("cache_result") or r.get("cache")] += 1
print("records", n, {k: f"{v/n:.3f}" for k, v in c.most_common()})
PY
curl -s http://127.0.0.1:18791/metrics | grep -E "^oggedge_fast_lane_responses|^oggedge_responses_total.status=.20[06]|^oggedge_cache_evictions|^oggedge_cache_chunks"
grep VmRSS /proc/$spid/status; kill $spid; wait $spid 2>/dev/null || true
