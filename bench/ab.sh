#!/usr/bin/env bash
# Alternating runs of nginx and one or more oggedge binaries under the same wrk load, for
# before/after comparisons on a noisy machine (the host's load moves absolute numbers by 15 %
# within minutes; alternating short runs see the same drift):
#
#   bench/ab.sh SPAN SECONDS ROUNDS BIN...     e.g. bench/ab.sh 64k 5 4 old/oggedge .build/release/oggedge
#
# SPAN: 4k, 64k (random ranges of that size), full, player (bench/ttfb.sh's player-like mix:
# Zipf(1.0) over 400 copies of a 160 kbps track against a cache bound of 32 MiB, warmed by 5 s of
# it), or conn: new connections, one 4 KiB range
# each (bench/conn-storm.py: storms of 64 connections at once, 20 storms per second asked for). Every server is pinned to core 0 and
# started once (cache 256 MiB, warmed with two whole GETs per file; delivery log on unless
# EXTRA="--delivery-log off"), wrk (-t1 -c64) runs on core 1 against each in turn, ROUNDS times.
# Prints per run: requests/s, user and system CPU microseconds per request (/proc/PID/stat), those
# of the event-loop threads alone ("loop": /proc/PID/task, without the cache and log writers), and
# wrk's p50, p99, p99.9 and max (ms). Knobs (environment):
#   OPEN=RATE        an open-loop run instead of wrk: oggedge-load (swift build -c release
#                    --product oggedge-load) at RATE requests/s, Poisson arrivals, 64 connections,
#                    1 s warm-up; prints TTFB percentiles from the intended send time
#   PERF=PREFIX      `perf record` (on core 1, so it does not take the server's core) of each oggedge run into PREFIX.NAME.PORT (PERF_NGINX=1: nginx
#                    too); PERF_ARGS replaces "-e task-clock -g -p PID" (PID = the server's)
#   WRK_WRAP=CMD     prefix for the wrk command (e.g. "/usr/bin/time -f %U/%S")
#   KEEP=1           keep the work directory (delivery logs, configs) in /tmp
#   PLAYER_CACHE=N   the player span's cache bound in bytes (default 33554432; 1073741824: no eviction)
#   SKIP_NGINX=1     measure only the oggedge binaries (nginx still serves the warm-up)
# After each oggedge run, counted since start: how many requests its fast lane declined because the
# file pages it would have sent were not in memory (oggedge_fast_lane_cold_declines), and how many
# chunks the cache evicted (oggedge_cache_evictions: under eviction, about the chunks it stored).
# Needs nginx (with secure_link) and wrk, as bench/ttfb.sh installs them. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
[ $# -ge 4 ] || { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
span="$1"; secs="$2"; rounds="$3"; shift 3; bins=("$@")
shape="range:$span"; pick=uniform; cache=268435456; select='_(96|160|320)kbps\.ogg$'
[ "$span" = full ] && shape=full
[ "$span" = player ] && { shape=player; pick=zipf:1.0; cache=${PLAYER_CACHE:-33554432}; select='^cat'; }
work="$(mktemp -d /tmp/oggedge-ab.XXXXXX)"; chmod 755 "$work"; [ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p $work/media/tracks $work/media/masters
./scripts/make-sample-media.sh media >/dev/null
cp media/tracks/*.ogg $work/media/tracks/
if [ "$span" = player ]; then
  for i in $(seq -w 1 400); do src=demo; [ $((10#$i % 2)) = 0 ] && src=chords; cp media/tracks/${src}_160kbps.ogg $work/media/tracks/cat${i}_160kbps.ogg; done
fi
secret_b64="$(head -c 32 /dev/urandom | base64)"; export OGGEDGE_SIGNING_KEYS="bench:$secret_b64"
nsecret="ab$RANDOM"
bench_templates $work/media/tracks $work "$select" "$secret_b64" "$nsecret"
bench_nginx_conf $work/nginx.conf $work 18890 "$nsecret"
taskset -c 0 nginx -c $work/nginx.conf; sleep 0.5
npid=$(pgrep -P "$(cat $work/nginx.pid)" | head -1)
declare -a pids; port=18891
for b in "${bins[@]}"; do
  taskset -c 0 "$b" serve --port $port --media $work/media --cache-dir $work/cache-$port --cache-max-bytes $cache ${EXTRA:---delivery-log $work/delivery-$port.jsonl} > $work/server-$port.out 2>&1 &
  pids+=($!); port=$((port+1))
done
sleep 1
port=18891
for b in "${bins[@]}"; do
  for _ in $(seq 400); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
  if [ "$span" = player ]; then
    taskset -c 1 wrk -t1 -c64 -d5s -s bench/ttfb-requests.lua http://127.0.0.1:$port -- $work/o.tpl player $pick >/dev/null
  else
    while read -r t s; do curl -s -o /dev/null "http://127.0.0.1:$port$t"; curl -s -o /dev/null "http://127.0.0.1:$port$t"; done < $work/o.tpl
  fi
  port=$((port+1))
done
sleep 1
# CPU ticks (user + system) of a server's event-loop threads (NIO-*; nginx: its worker, all of it).
loopticks() {
  for t in /proc/$1/task/*; do
    case "$(cat $t/comm)" in NIO-*|nginx) sed 's/.*) //' $t/stat | awk '{print $12 + $13}';; esac
  done | awk '{s += $1} END {print s + 0}'
}
measure() { # name pid port tpl
  local t0 t1 u0 s0 u1 s1 total rps l0 l1
  read u0 s0 < <(sed 's/.*) //' /proc/$2/stat | awk '{print $12, $13}')
  l0=$(loopticks $2)
  local ppid=""
  if [ -n "${PERF:-}" ] && { [ "$1" != nginx ] || [ -n "${PERF_NGINX:-}" ]; }; then
    local pa="${PERF_ARGS:--e task-clock -g -p PID}"; taskset -c 1 perf record ${pa//PID/$2} -o "$PERF.$1.$3" -- sleep $secs >/dev/null 2>&1 & ppid=$!
  fi
  if [ "$span" = conn ]; then
    taskset -c 1 python3 bench/conn-storm.py $3 $4 $((secs * 20)) > $work/conn.txt
    [ -n "$ppid" ] && wait $ppid || true
    read u1 s1 < <(sed 's/.*) //' /proc/$2/stat | awk '{print $12, $13}')
    awk -v n="$1" -v u0=$u0 -v u1=$u1 -v s0=$s0 -v s1=$s1 '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
      END { c = f["connections"] ? f["connections"] : 1; printf "%-28s conn/s %7.0f  server CPU %6.1f us/connection (user %5.1f sys %5.1f)  p50 %s p99 %s max %s ms  bad %s\n",
        n, c / f["seconds"], (u1-u0+s1-s0)*10000/c, (u1-u0)*10000/c, (s1-s0)*10000/c, f["p50_ms"], f["p99_ms"], f["max_ms"], f["bad"] }' $work/conn.txt
    return
  fi
  if [ -n "${OPEN:-}" ]; then
    taskset -c 1 .build/release/oggedge-load --url http://127.0.0.1:$3 --rate "$OPEN" --duration $secs --warmup 1 \
      --connections 64 --arrival poisson --templates $4 --scenario $shape --pick $pick > $work/load.txt 2>&1 || true
    [ -n "$ppid" ] && wait $ppid || true
    read u1 s1 < <(sed 's/.*) //' /proc/$2/stat | awk '{print $12, $13}'); l1=$(loopticks $2)
    local r; r=$(grep '^RESULT' $work/load.txt || echo "failed")
    # CPU is read around the whole run, its 1 s of warm-up included: count those requests too.
    total=$(echo "$r" | grep -o ' ok=[0-9]*' | cut -d= -f2); total=$(( ${total:-1} * (secs + 1) / secs ))
    echo "$r" | awk -v n="$1" -v u0=$u0 -v u1=$u1 -v s0=$s0 -v s1=$s1 -v l=$((l1 - l0)) -v t=$total '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
      END { printf "%-28s rps %8.0f  user %5.2f  sys %5.2f  loop %5.2f us/req  ttfb p50 %s p99 %s p999 %s max %s  errors %s\n", n, f["rps"], (u1-u0)*10000/t, (s1-s0)*10000/t, l*10000/t,
        f["ttfb_p50_ms"], f["ttfb_p99_ms"], f["ttfb_p999_ms"], f["ttfb_max_ms"], f["errors"] + f["bad_status"] + f["unfinished"] }'
    return
  fi
  ${WRK_WRAP:-} taskset -c 1 wrk -t1 -c64 -d${secs}s -s bench/ttfb-requests.lua http://127.0.0.1:$3 -- $4 $shape $pick > $work/wrk.txt
  [ -n "$ppid" ] && wait $ppid || true
  read u1 s1 < <(sed 's/.*) //' /proc/$2/stat | awk '{print $12, $13}'); l1=$(loopticks $2)
  rps=$(awk '/Requests\/sec/ {print $2}' $work/wrk.txt); total=$(grep -o "[0-9]* requests in" $work/wrk.txt | awk '{print $1}')
  p99=$(grep -o 'mean_ms=[0-9.]*\|p50_ms=[0-9.]*\|p90_ms=[0-9.]*\|p99_ms=[0-9.]*\|p999_ms=[0-9.]*\|max_ms=[0-9.]*' $work/wrk.txt | sed 's/_ms=/ /' | tr '\n' ' ')
  awk -v n="$1" -v r=$rps -v u0=$u0 -v u1=$u1 -v s0=$s0 -v s1=$s1 -v l=$((l1 - l0)) -v t=$total -v p="$p99" 'BEGIN{printf "%-28s rps %8.0f  user %5.2f  sys %5.2f  total %5.2f  loop %5.2f us/req  %s\n", n, r, (u1-u0)*10000/t, (s1-s0)*10000/t, (u1-u0+s1-s0)*10000/t, l*10000/t, p}'
}
taskset -c 1 wrk -t1 -c64 -d2s -s bench/ttfb-requests.lua http://127.0.0.1:18890 -- $work/n.tpl $shape $pick >/dev/null
for r in $(seq $rounds); do
  [ -n "${SKIP_NGINX:-}" ] || measure nginx $npid 18890 $work/n.tpl
  port=18891; i=0
  for b in "${bins[@]}"; do
    measure "$(basename $b)" ${pids[$i]} $port $work/o.tpl
    curl -s http://127.0.0.1:$port/metrics | awk '/^oggedge_fast_lane_cold_declines / { d = $2 } /^oggedge_cache_evictions / { e = $2 }
      END { printf "%28s so far: cold declines %d, chunks evicted %d\n", "", d, e }'
    port=$((port+1)); i=$((i+1))
  done
done
kill "$(cat $work/nginx.pid)"; for p in "${pids[@]}"; do kill $p; done; wait 2>/dev/null || true
