#!/usr/bin/env bash
# The TTFB benchmark of issue 11, one command:
#
#   bench/ttfb.sh [--quick] [--scenarios "range-64k range-4k full player rss cold"] [--duration SECONDS]
#                 [--rounds N] [--no-heaptrack] [--no-build]
#
# nginx (Debian's package: 1 worker, secure_link MD5 check, sendfile, buffered access log) and
# OggEdge (delivery log on) run pinned to core 0, over the same media; OggEdge twice, with its
# fast lane (default) and with OGGEDGE_FAST_LANE=0 (every request the general way). The load
# comes from core 1: wrk (closed loop, -t1 -c64, bench/ttfb-requests.lua) and oggedge-load
# (open loop, Poisson arrivals at 60 % and at 80 % of the nginx maximum wrk measured, latency from
# the intended send time, HdrHistogram; TTFB_OPEN_FRACTIONS="0.5 0.8" picks other fractions). The servers take turns: each load runs in --rounds rounds
# (nginx, fast lane, general path, then again), each --duration ÷ rounds seconds, so the host's
# drift (this machine's neighbours move absolute numbers by 10-20 % within minutes) hits all three
# alike; a ratio column is the median of the per-round ratios, with their range. Scenarios:
#   range-64k  warm random 64 KiB ranges of the sample tracks, signed URLs
#   range-4k   the same with 4 KiB ranges (+ heap allocations per request, heaptrack)
#   full       whole-file GETs of the 160 kbps 30 s tracks
#   player     player-like mix (first 64 KiB, end probe, sequential reads, seeks) over Zipf(1.0)
#              popularity across a catalogue of copies larger than OggEdge's cache (eviction)
#   rss        OggEdge's RSS over 10 minutes of the player-like mix (goal: growth < 5 %)
#   cold       cold transcode starts at concurrency 1, 8, 32 (bench/transcode-cold.sh, both cores)
# TTFB_OGGEDGE=path: run that oggedge binary instead of the release build (before/after comparisons).
# --quick: 4 s runs, a smaller catalogue, 30 s of rss, cold starts at 1 and 8 only (a harness check).
# A full run takes about 35 minutes.
# Writes bench/results/ttfb-<date>.md (tables, machine, commit, command) and the raw outputs
# (wrk, oggedge-load, HdrHistogram percentile files, heaptrack summaries) in bench/results/ttfb-<date>/.
# Needs root or sudo for apt-get only when nginx/wrk/heaptrack are missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
command_line="bench/ttfb.sh $*"
quick=0; scenarios="range-64k range-4k full player rss cold"; duration=""; rounds=""; heap=1; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --scenarios) scenarios="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --no-heaptrack) heap=0 ;;
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  duration="${duration:-4}"; rounds="${rounds:-2}"; warmup=1; catalogue=150; cache_small=$((16 << 20)); cold_levels="1 8"; rss_minutes=0.5
else
  duration="${duration:-20}"; rounds="${rounds:-4}"; warmup=2; catalogue=400; cache_small=$((32 << 20)); cold_levels="1 8 32"; rss_minutes=10
fi
conns=64
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: --rounds takes a positive integer" >&2; exit 2; }
slice=$(awk -v d="$duration" -v r="$rounds" 'BEGIN { s = int(d / r); print (s < 2 ? 2 : s) }')   # seconds per run
open_fractions="${TTFB_OPEN_FRACTIONS:-0.6 0.8}"
base_port="${TTFB_BASE_PORT:-18480}"
p_fast=$base_port; p_general=$((base_port + 1)); p_nginx=$((base_port + 2)); p_heap=$((base_port + 3))

# --- tools --------------------------------------------------------------------------------------
apt_install() { if [ "$(id -u)" = 0 ]; then apt-get install -y -qq "$@" >/dev/null; else sudo apt-get install -y -qq "$@" >/dev/null; fi; }
command -v wrk >/dev/null || apt_install wrk
# secure_link is in Debian's nginx-light, nginx (full, bookworm) and nginx-extras; check the binary.
if ! command -v nginx >/dev/null || ! nginx -V 2>&1 | grep -q with-http_secure_link_module; then
  apt_install nginx-light || true
  nginx -V 2>&1 | grep -q with-http_secure_link_module || apt_install nginx-extras
fi
[ "$heap" = 0 ] || command -v heaptrack >/dev/null || apt_install heaptrack || heap=0
for tool in curl python3 taskset awk; do command -v "$tool" >/dev/null || { echo "error: $tool missing" >&2; exit 1; }; done
[ "$(nproc)" -ge 2 ] || { echo "error: needs 2 cores (server on 0, load on 1)" >&2; exit 1; }

if [ "$build" = 1 ]; then
  swift build -c release --product oggedge >/dev/null
  swift build -c release --product oggedge-load >/dev/null
fi
bindir="$(swift build -c release --show-bin-path)"
oggedge="${TTFB_OGGEDGE:-$bindir/oggedge}"; load="$bindir/oggedge-load"
./scripts/make-sample-media.sh media >/dev/null

stamp="$(date -u +%Y%m%d-%H%M)"; [ "$quick" = 1 ] && stamp="$stamp-quick"
out="bench/results/ttfb-$stamp.md"; raw="bench/results/ttfb-$stamp"
mkdir -p "$raw"
work="$(mktemp -d /tmp/oggedge-ttfb.XXXXXX)"; chmod 755 "$work"
started_pids=()
delivery_log=""   # the delivery log of the server run_open drives (none for nginx)
cleanup() {
  for pid in "${started_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT
for port in $p_fast $p_general $p_nginx $p_heap; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "error: port $port busy (set TTFB_BASE_PORT)" >&2; exit 1; }
done

# --- media: the sample tracks, and a catalogue of copies under many ids ---------------------------
mkdir -p "$work/media/tracks" "$work/media/masters"
cp media/tracks/*.ogg "$work/media/tracks/"
for i in $(seq -w 1 "$catalogue"); do
  src=demo; [ $((10#$i % 2)) = 0 ] && src=chords
  cp "media/tracks/${src}_160kbps.ogg" "$work/media/tracks/cat${i}_160kbps.ogg"
done
chmod -R a+rX "$work/media"
cat "$work/media/tracks"/*.ogg >/dev/null   # everything in the page cache
catalogue_bytes=$(cat "$work/media/tracks"/cat*_160kbps.ogg | wc -c)

secret_b64="$(head -c 32 /dev/urandom | base64)"
export OGGEDGE_SIGNING_KEYS="bench:$secret_b64"
nginx_secret="ttfb-$RANDOM$RANDOM"
# templates FILE SERVER NAME... : "TARGET SIZE" lines with signed targets (HMAC for OggEdge, MD5 for nginx).
templates() {
  local file="$1" server="$2"; shift 2
  python3 - "$server" "$secret_b64" "$nginx_secret" "$work/media/tracks" "$@" >"$file" <<'PY'
import base64, hashlib, hmac, os, sys, time
server, secret, nginx_secret, tracks, names = sys.argv[1], base64.b64decode(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
exp = int(time.time()) + 86400
b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
for name in names:
    uri = "/tracks/" + name
    if server == "nginx":
        target = f"{uri}?md5={b64(hashlib.md5(f'{exp}{uri} {nginx_secret}'.encode()).digest())}&expires={exp}"
    else:
        msg = f"{uri}?exp={exp}&kid=bench"
        target = f"{msg}&sig={b64(hmac.new(secret, msg.encode(), hashlib.sha256).digest())}"
    print(target, os.path.getsize(os.path.join(tracks, name)))
PY
}

# --- servers ------------------------------------------------------------------------------------
bench_nginx_conf "$work/nginx.conf" "$work" "$p_nginx" "$nginx_secret"
taskset -c 0 nginx -c "$work/nginx.conf"
nginx_worker() { pgrep -P "$(cat "$work/nginx.pid")" | head -1; }
nginx_pids() { echo "$(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"; }

wait_healthy() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0; sleep 0.05; done; echo "error: no server on $1" >&2; exit 1; }
# start_oggedge NAME PORT CACHE_BYTES FAST(1|0) [PREFIX...]: sets $server_pid
start_oggedge() {
  local name="$1" port="$2" cache="$3" fast="$4"; shift 4
  rm -rf "$work/cache-$name"
  OGGEDGE_FAST_LANE="$fast" taskset -c 0 "$@" "$oggedge" serve --port "$port" --media "$work/media" \
    --cache-dir "$work/cache-$name" --cache-max-bytes "$cache" --delivery-log "$work/delivery-$name.jsonl" \
    >"$work/$name.out" 2>&1 &
  server_pid=$!; started_pids+=("$server_pid")
  wait_healthy "$port"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cpu_ticks() { local t=0 pid; for pid in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'))); done; echo "$t"; }
hz=$(getconf CLK_TCK)
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2; exit}'; }
# med "V1 V2 ..." [FORMAT]: the median (– when there is no number), printed with FORMAT (%.3f)
med() { echo "$1" | tr ' ' '\n' | { grep -E '^[0-9.]+$' || true; } | sort -g | awk -v f="${2:-%.3f}" '{ a[NR] = $1 } END { if (NR == 0) print "–"; else printf f "\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# ratios "A1 A2 ..." "B1 B2 ...": median of the per-round ratios Ai/Bi, and their range
ratios() {
  local x=($1) y=($2) i; for i in "${!x[@]}"; do awk -v a="${x[$i]}" -v b="${y[$i]:-0}" 'BEGIN { if (a ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.4f\n", a / b }'; done |
    sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "–"; exit }; m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
      if (NR == 1) printf "%.2f×", m; else printf "%.2f× (%.2f–%.2f)", m, a[1], a[NR] }'
}

# run_wrk LABEL PORT TEMPLATES SHAPE PICK PIDS...: sets wrk_line, wrk_cpu_us (server CPU µs per request)
run_wrk() {
  local label="$1" port="$2" tpl="$3" shape="$4" pick="$5"; shift 5
  local c0 c1; c0=$(cpu_ticks "$@")
  taskset -c 1 wrk -t1 -c"$conns" -d"${slice}s" --latency -s bench/ttfb-requests.lua \
    "http://127.0.0.1:$port" -- "$tpl" "$shape" "$pick" >"$raw/$label.wrk.txt" 2>&1
  c1=$(cpu_ticks "$@")
  wrk_line="$(grep '^WRK_RESULT' "$raw/$label.wrk.txt")"
  local n; n=$(echo "$wrk_line" | kv requests)
  wrk_cpu_us=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", n ? d / hz * 1e6 / n : 0 }')
}
# run_open LABEL PORT TEMPLATES SHAPE PICK RATE PIDS...: sets open_line, open_cpu_pct (server CPU, % of a core)
# and, when $delivery_log names the server's delivery log, server_line (bench/server-ttfb.py over the
# requests that arrived after the warm-up)
run_open() {
  local label="$1" port="$2" tpl="$3" shape="$4" pick="$5" rate="$6"; shift 6
  local c0 c1 t0 t1 offset=0 from_ms; c0=$(cpu_ticks "$@"); t0=$(date +%s.%N)
  [ -n "$delivery_log" ] && [ -f "$delivery_log" ] && offset=$(stat -c %s "$delivery_log")
  from_ms=$(( $(date +%s%3N) + warmup * 1000 ))
  taskset -c 1 "$load" --url "http://127.0.0.1:$port" --rate "$rate" --duration "$slice" --warmup "$warmup" \
    --connections "$conns" --arrival poisson --templates "$tpl" --scenario "$shape" --pick "$pick" \
    --histograms "$raw/$label" --label "$label" >"$raw/$label.load.txt" 2>&1 || true
  c1=$(cpu_ticks "$@"); t1=$(date +%s.%N)
  open_line="$(grep '^RESULT' "$raw/$label.load.txt" || echo "RESULT failed=1")"
  open_cpu_pct=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", d / hz / (b - a) * 100 }')
  server_line=""
  if [ -n "$delivery_log" ]; then
    sleep 0.1   # the log's writer writes a batch at most 10 ms after its first record
    server_line="$(python3 bench/server-ttfb.py "$delivery_log" "$offset" "$from_ms" "$(date +%s%3N)")"
    echo "$server_line" >>"$raw/$label.load.txt"
  fi
}

# --- report -------------------------------------------------------------------------------------
{
  echo "# TTFB benchmark: OggEdge (fast lane, general path) vs nginx, same core"
  echo
  [ "$quick" = 1 ] && { echo "**Quick run (\`--quick\`): a check that the harness works, not results.**"; echo; }
  echo "- date: $(date -u +%FT%TZ)"
  echo "- command: \`$command_line\`"
  echo "- commit: \`$(git rev-parse HEAD)\`$(git diff --quiet HEAD -- Sources Package.swift || echo ' (with uncommitted changes in Sources/Package.swift)')${TTFB_OGGEDGE:+; OggEdge binary: \`$TTFB_OGGEDGE\`}"
  echo "- machine: $(uname -srm), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- servers on core 0 (\`taskset -c 0\`): $(nginx -v 2>&1 | sed 's/.*: //') (1 worker, secure_link MD5, sendfile, access_log buffer=64k flush=1s, keepalive_requests 1000000) · OggEdge release build, delivery log on, fast lane on (default) and off (\`OGGEDGE_FAST_LANE=0\`)"
  echo "- load on core 1 (\`taskset -c 1\`): $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) \`-t1 -c$conns -d${slice}s\` (closed loop; latency = whole response) · oggedge-load (open loop, Poisson arrivals at each of $open_fractions × nginx's wrk maximum, $conns connections, ${warmup} s warm-up then ${slice} s measured; TTFB = first response byte, from the intended send time)"
  echo "- $rounds rounds per load: nginx, fast lane, general path in turn, $rounds times. Values are the median of the rounds; a ratio is the median of the per-round ratios (range in brackets)."
  echo "- CPU/req: server utime+stime (/proc/PID/stat) over the wrk run ÷ requests. CPU % (open loop): server CPU over the run ÷ wall time. RSS: server VmRSS after the scenario."
  echo
} >"$out"

# scenario NAME SHAPE PICK CACHE_BYTES NAMES...
scenario() {
  local name="$1" shape="$2" pick="$3" cache="$4"; shift 4
  local files=("$@")
  echo "== $name ==" >&2
  templates "$work/$name.nginx.tpl" nginx "${files[@]}"
  templates "$work/$name.oggedge.tpl" oggedge "${files[@]}"
  local fpid gpid
  start_oggedge "$name-fast" "$p_fast" "$cache" 1; fpid=$server_pid
  start_oggedge "$name-general" "$p_general" "$cache" 0; gpid=$server_pid
  # Check every target answers (signatures right on both sides); warm OggEdge's cache when it fits.
  local port tpl
  for port in $p_nginx $p_fast $p_general; do
    tpl="$work/$name.oggedge.tpl"; [ "$port" = "$p_nginx" ] && tpl="$work/$name.nginx.tpl"
    local code; code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$(head -1 "$tpl" | cut -d' ' -f1)")
    [ "$code" = 200 ] || { echo "error: $name: port $port answered $code to a signed URL" >&2; exit 1; }
    if [ "$port" != "$p_nginx" ] && [ "$cache" -gt "$catalogue_bytes" ]; then
      cut -d' ' -f1 "$tpl" | while read -r t; do curl -sf -o /dev/null "http://127.0.0.1:$port$t"; done
    fi
  done
  # Per server, the rounds' values as space-separated lists.
  declare -A rps p50 p99 p999 cpu mbs rss orps op50 op99 op999 ocpu oerr olag occpu osp50 osp99
  local s r label pids
  declare -A title=([nginx]="nginx" [fast]="OggEdge fast lane" [general]="OggEdge general path")
  target() { # SERVER: sets port, tpl, pids
    case $1 in
      nginx) port=$p_nginx; tpl="$work/$name.nginx.tpl"; pids="$(nginx_pids)"; delivery_log="" ;;
      fast) port=$p_fast; tpl="$work/$name.oggedge.tpl"; pids=$fpid; delivery_log="$work/delivery-$name-fast.jsonl" ;;
      general) port=$p_general; tpl="$work/$name.oggedge.tpl"; pids=$gpid; delivery_log="$work/delivery-$name-general.jsonl" ;;
    esac
  }
  for r in $(seq "$rounds"); do
    for s in nginx fast general; do
      target $s
      # shellcheck disable=SC2086
      run_wrk "$name-$s-r$r" "$port" "$tpl" "$shape" "$pick" $pids
      rps[$s]+=" $(echo "$wrk_line" | kv rps)"; p50[$s]+=" $(echo "$wrk_line" | kv p50_ms)"; p99[$s]+=" $(echo "$wrk_line" | kv p99_ms)"
      p999[$s]+=" $(echo "$wrk_line" | kv p999_ms)"; cpu[$s]+=" $wrk_cpu_us"
      mbs[$s]+=" $(echo "$wrk_line" | awk '{for(i=1;i<=NF;i++){split($i,a,"="); v[a[1]]=a[2]}} END {printf "%.1f", v["bytes"] / (v["duration_us"] / 1e6) / 1e6}')"
    done
  done
  [ "$name" = player ] && rss_rate=$(awk -v r="$(med "${rps[fast]}" %.0f)" 'BEGIN { printf "%d", r * 0.5 }')
  # Open loop at each fraction of nginx's median wrk maximum (a latency-against-load curve of a
  # few points: one rate alone says little near the knee, where the host's noise decides p99).
  local frac rate open_tables=""
  for frac in $open_fractions; do
    rate=$(awk -v r="$(med "${rps[nginx]}" %.0f)" -v f="$frac" 'BEGIN { printf "%d", r * f }')
    unset orps op50 op99 op999 ocpu oerr olag occpu osp50 osp99
    declare -A orps op50 op99 op999 ocpu oerr olag occpu osp50 osp99
    for r in $(seq "$rounds"); do
      for s in nginx fast general; do
        target $s
        # shellcheck disable=SC2086
        run_open "$name-$s-open$frac-r$r" "$port" "$tpl" "$shape" "$pick" "$rate" $pids
        orps[$s]+=" $(echo "$open_line" | kv rps)"; op50[$s]+=" $(echo "$open_line" | kv ttfb_p50_ms)"
        op99[$s]+=" $(echo "$open_line" | kv ttfb_p99_ms)"; op999[$s]+=" $(echo "$open_line" | kv ttfb_p999_ms)"; ocpu[$s]+=" $open_cpu_pct"
        olag[$s]+=" $(echo "$open_line" | kv lag_p99_ms)"; occpu[$s]+=" $(echo "$open_line" | kv client_cpu_pct)"
        osp50[$s]+=" $(echo "$server_line" | kv p50)"; osp99[$s]+=" $(echo "$server_line" | kv p99)"
        oerr[$s]=$(( ${oerr[$s]:-0} + $(echo "$open_line" | awk '{for(i=1;i<=NF;i++){split($i,a,"="); v[a[1]]=a[2]}} END {print v["bad_status"] + v["errors"] + v["unfinished"] + v["connect_errors"] + 0}') ))
      done
    done
    local pct; pct=$(awk -v f="$frac" 'BEGIN { printf "%.0f", f * 100 }')
    open_tables+="Open loop, oggedge-load at **$rate req/s** ($pct % of nginx's median wrk maximum), $rounds rounds of ${slice} s, TTFB from the intended send time:"$'\n\n'
    open_tables+="| server | answered req/s | TTFB p50 ms | p99 ms | p99.9 ms | p99 ÷ nginx | p99.9 ÷ nginx | server's own p50 / p99 µs | server CPU % | errors | client lag p99 ms | client CPU % |"$'\n'
    open_tables+="|---|---|---|---|---|---|---|---|---|---|---|---|"$'\n'
    for s in nginx fast general; do
      local own="–"; [ "$s" != nginx ] && own="$(med "${osp50[$s]}" %.0f) / $(med "${osp99[$s]}" %.0f)"
      open_tables+="| ${title[$s]} | $(med "${orps[$s]}" %.0f) | $(med "${op50[$s]}") | $(med "${op99[$s]}") | $(med "${op999[$s]}") | $(ratios "${op99[$s]}" "${op99[nginx]}") | $(ratios "${op999[$s]}" "${op999[nginx]}") | $own | $(med "${ocpu[$s]}" %.0f) | ${oerr[$s]} | $(med "${olag[$s]}") | $(med "${occpu[$s]}" %.0f) |"$'\n'
    done
    open_tables+=$'\n'
  done
  rss[nginx]=$(rss_mb "$(nginx_worker)"); rss[fast]=$(rss_mb "$fpid"); rss[general]=$(rss_mb "$gpid")
  local allocs_fast="–" allocs_general="–"
  if [ "$name" = range-4k ] && [ "$heap" = 1 ]; then
    stop_pid "$fpid"; stop_pid "$gpid"
    allocs_fast=$(heap_per_request fast "$shape"); allocs_general=$(heap_per_request general "$shape")
  else
    stop_pid "$fpid"; stop_pid "$gpid"
  fi
  declare -A allocs=([nginx]="–" [fast]="$allocs_fast" [general]="$allocs_general")
  {
    echo "## $name"
    echo
    echo "$scenario_note"
    echo
    echo "Closed loop, wrk \`-t1 -c$conns -d${slice}s\` × $rounds rounds (latency = whole response):"
    echo
    echo "| server | req/s | MB/s | p50 ms | p99 ms | p99.9 ms | req/s ÷ nginx | p99 ÷ nginx | CPU µs/req | allocs/req | RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for s in nginx fast general; do
      echo "| ${title[$s]} | $(med "${rps[$s]}" %.0f) | $(med "${mbs[$s]}" %.1f) | $(med "${p50[$s]}") | $(med "${p99[$s]}") | $(med "${p999[$s]}") | $(ratios "${rps[$s]}" "${rps[nginx]}") | $(ratios "${p99[$s]}" "${p99[nginx]}") | $(med "${cpu[$s]}" %.1f) | ${allocs[$s]} | ${rss[$s]} |"
    done
    echo
    printf '%s' "$open_tables"
    echo "server's own = the delivery log's \`ttfb_us\` of the requests that arrived in the measured seconds (bench/server-ttfb.py): from the request read off the socket to its first body byte handed to the socket; the rest of a TTFB is waiting for the core (behind the requests ahead of it), the kernel's network path and the client (nginx's log has no such clock below a millisecond)."
    echo
    echo "errors = bad status + transport errors + requests unanswered at the end (all rounds). client lag = how late the generator itself made a request (if it is not small next to the server's TTFB, the client was starved and the row says nothing about the server)."
    echo
  } | tee -a "$out"
}

# heap_per_request MODE SHAPE: heap allocations per request of OggEdge for the range-4k load,
# from two heaptrack runs of the same length (idle after warming, and under load).
heap_per_request() {
  local mode="$1" shape="$2" fast=1 n=0 total=() run
  [ "$mode" = general ] && fast=0
  for run in idle load; do
    start_oggedge "heap-$mode-$run" "$p_heap" $((256 << 20)) "$fast" heaptrack -o "$work/heap-$mode-$run"
    cut -d' ' -f1 "$work/range-4k.oggedge.tpl" | while read -r t; do curl -sf -o /dev/null "http://127.0.0.1:$p_heap$t"; done
    if [ $run = load ]; then
      taskset -c 1 "$load" --url "http://127.0.0.1:$p_heap" --rate 1000 --duration 5 --warmup 0 --connections 8 \
        --templates "$work/range-4k.oggedge.tpl" --scenario "$shape" --label "heap-$mode" >"$raw/range-4k-heap-$mode.load.txt" 2>&1 || true
      n=$(grep '^RESULT' "$raw/range-4k-heap-$mode.load.txt" | kv ok)
    else
      sleep 6
    fi
    local child; child=$(pgrep -P "$server_pid" -x oggedge || true)   # heaptrack's shell runs oggedge as its child
    kill "${child:-$server_pid}" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true
    local data; data=$(ls "$work/heap-$mode-$run".zst "$work/heap-$mode-$run".gz 2>/dev/null | head -1 || true)
    heaptrack_print "$data" 2>/dev/null | grep -E '^(calls to allocation functions|peak heap|total runtime)' \
      >"$raw/range-4k-heap-$mode-$run.txt" || true
    total+=("$(awk -F': ' '/calls to allocation functions/ {split($2, a, " "); print a[1]}' "$raw/range-4k-heap-$mode-$run.txt")")
  done
  awk -v a="${total[0]:-0}" -v b="${total[1]:-0}" -v n="${n:-0}" 'BEGIN { if (n > 0 && b > 0) printf "%.0f", (b - a) / n; else print "n/a" }'
}

# rss_run: OggEdge (fast lane) under the player-like mix for $rss_minutes minutes, VmRSS every 10 s.
rss_run() {
  echo "== rss ==" >&2
  templates "$work/rss.oggedge.tpl" oggedge "${cat_names[@]}"
  start_oggedge rss "$p_fast" "$cache_small" 1
  local pid=$server_pid rate="${rss_rate:-1000}" seconds; seconds=$(awk -v m="$rss_minutes" 'BEGIN { printf "%d", m * 60 }')
  taskset -c 1 "$load" --url "http://127.0.0.1:$p_fast" --rate "$rate" --duration "$seconds" --warmup 0 \
    --connections "$conns" --templates "$work/rss.oggedge.tpl" --scenario player --pick zipf:1.0 \
    --histograms "$raw/rss" --label rss >"$raw/rss.load.txt" 2>&1 &
  local lpid=$!; started_pids+=("$lpid")
  echo "seconds rss_mb" >"$raw/rss.txt"
  local t=0
  while kill -0 "$lpid" 2>/dev/null; do
    echo "$t $(rss_mb "$pid")" >>"$raw/rss.txt"; sleep 10; t=$((t + 10))
  done
  wait "$lpid" || true
  local hwm; hwm=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  stop_pid "$pid"
  # Growth from the first sample after the first minute (or a sixth of the run) to the last.
  local from=$((seconds / 6 < 60 ? seconds / 6 : 60))
  {
    echo "## RSS under the player-like mix"
    echo
    echo "OggEdge fast lane, cache bound $((cache_small >> 20)) MiB, oggedge-load at $rate req/s (half the fast lane's wrk maximum in the player scenario; Poisson, Zipf(1.0) over $catalogue tracks) for $rss_minutes min; VmRSS every 10 s in \`rss.txt\`. Goal: growth < 5 %."
    echo
    awk -v from="$from" -v hwm="$hwm" 'NR > 1 { if (start == "" && $1 >= from) { start = $2; at = $1 }; last = $2; end = $1 }
      END { printf "| RSS at %d s | RSS at %d s | growth | peak (VmHWM) |\n|---|---|---|---|\n| %s MB | %s MB | %+.1f %% | %s MB |\n", at, end, start, last, (last - start) / start * 100, hwm }' "$raw/rss.txt"
    echo
    grep -E '^  (offered|ttfb)' "$raw/rss.load.txt" | sed 's/^  /    /'
    echo
  } | tee -a "$out"
}

hot=(long_160kbps.ogg demo_160kbps.ogg chords_160kbps.ogg demo_320kbps.ogg chords_320kbps.ogg demo_96kbps.ogg hionly_320kbps.ogg)
cat_names=(); for i in $(seq -w 1 "$catalogue"); do cat_names+=("cat${i}_160kbps.ogg"); done
for sc in $scenarios; do
  case $sc in
    range-64k|range-4k)
      scenario_note="Random ${sc#range-} ranges (any byte offset) of ${#hot[@]} sample tracks (${hot[*]}), uniform, through signed URLs; OggEdge's cache warmed first (256 MiB bound: everything fits)."
      scenario "$sc" "$sc" uniform $((256 << 20)) "${hot[@]}" ;;
    full)
      scenario_note="Whole-file GETs (200, no Range) of demo_160kbps.ogg and chords_160kbps.ogg (30 s each), signed URLs; OggEdge's cache warmed first. Goal: MB/s ≥ nginx."
      scenario full full uniform $((256 << 20)) demo_160kbps.ogg chords_160kbps.ogg ;;
    player)
      scenario_note="Player-like mix per request (25 % first 64 KiB, 10 % end probe \`bytes=-8 KiB…\`, 45 % sequential 64 KiB read near the start, 20 % seek) over Zipf(1.0) popularity of $catalogue catalogue tracks ($((catalogue_bytes >> 20)) MiB) against an OggEdge cache bound of $((cache_small >> 20)) MiB (constant eviction); nginx serves the same files from the page cache. Goal: open-loop p99 TTFB ≤ 2× nginx."
      scenario player player zipf:1.0 "$cache_small" "${cat_names[@]}" ;;
    rss) rss_run ;;
    cold)
      echo "== cold ==" >&2
      {
        echo "## cold transcode starts"
        echo
        echo "\`bench/transcode-cold.sh 160 \"$cold_levels\"\` (not pinned: both cores, as the goal reads; ms at the client; goal: first audio page < 200 ms at 32 concurrent):"
        echo
        echo '```'
        if (exec 3<>/dev/tcp/127.0.0.1/18099) 2>/dev/null; then
          echo "(skipped: port 18099, which bench/transcode-cold.sh uses, is taken by another process)"
        else
          TRANSCODE_COLD_OUT="$raw/transcode-cold.txt" bench/transcode-cold.sh 160 "$cold_levels" || echo "(bench/transcode-cold.sh failed: exit $?)"
        fi
        echo '```'
        echo
      } | tee -a "$out" ;;
    *) echo "unknown scenario $sc" >&2; exit 2 ;;
  esac
done
echo "Raw outputs (wrk, oggedge-load, HdrHistogram \`*.hgrm\`, heaptrack summaries): [\`$raw/\`](ttfb-$stamp/)" >>"$out"
echo "wrote $out and $raw/" >&2
