#!/usr/bin/env bash
# Soak of one OggEdge node (issue 13 part 5): MINUTES (default 30) of a player-like mix with the
# delivery log shipped to Redis, against a release build on loopback:
#   - players (signed ranges: first 64 KiB, end probes, the rest, sequential reads, seeks, whole
#     files, HEAD) at 96/160/320 over sample tracks and cold masters (transcoded on demand),
#     at a fixed modest rate (RATE requests/s, default 25: the machine is shared);
#   - purges (admin API) every PURGE_EVERY s (cold transcodes again), prewarms every PREWARM_EVERY s;
#   - Redis shut down or SIGSTOPped for OUTAGE_SECONDS every OUTAGE_EVERY s (alternating);
#   - the log renamed and SIGHUP sent every ROTATE_EVERY s;
#   - slow readers (bytes checked), stalled readers (must be cut at the 30 s send deadline and
#     logged aborted) and clients hanging up mid-response, one every SLOW_EVERY s;
#   - IDLE keep-alive connections (default 300) held throughout.
# Checks every byte (source file, or the complete transcode with the same strong ETag), 5xx
# (only 503 transcode_in_progress is documented), RSS and descriptors every 10 s, every delivery
# record exactly once in the rotated log files and in the Redis stream, one record per request.
# Writes bench/results/soak-<date>[-<minutes>min].md (the 30-minute run: soak-<date>.md).
#
#   bench/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
RATE="${RATE:-25}" IDLE="${IDLE:-300}" PLAYERS="${PLAYERS:-4}"
PURGE_EVERY="${PURGE_EVERY:-45}" PREWARM_EVERY="${PREWARM_EVERY:-90}" SLOW_EVERY="${SLOW_EVERY:-10}"
OUTAGE_EVERY="${OUTAGE_EVERY:-240}" OUTAGE_SECONDS="${OUTAGE_SECONDS:-30}" ROTATE_EVERY="${ROTATE_EVERY:-150}"
# OGGEDGE_BIN=path skips the build (e.g. while another build holds .build's lock).
. bench/lib.sh
bin="$(oggedge_bin)"
media_src="${SOAK_MEDIA:-media}"
./scripts/make-sample-media.sh "$media_src" >/dev/null
work="$(mktemp -d /tmp/oggedge-soak.XXXXXX)"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  [ -s "$work/redis.pid" ] && { kill -CONT "$(cat "$work/redis.pid")" 2>/dev/null; kill "$(cat "$work/redis.pid")" 2>/dev/null; } || true
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# Media: the samples, plus three cold masters that exist only as WAV (every rendition a transcode).
mkdir -p "$work/media/tracks" "$work/media/masters" "$work/logs" "$work/redis"
cp "$media_src"/tracks/*.ogg "$work/media/tracks/"
cp "$media_src"/masters/*.wav "$work/media/masters/"
cp "$media_src/masters/masteronly.wav" "$work/media/masters/cold1.wav"
cp "$media_src/masters/demo.wav" "$work/media/masters/cold2.wav"
cp "$media_src/masters/chords.wav" "$work/media/masters/cold3.wav"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)" redis_port="$(free_port)"
cat >"$work/redis.conf" <<CONF
port $redis_port
bind 127.0.0.1
dir $work/redis
daemonize yes
pidfile $work/redis.pid
appendonly yes
appendfsync everysec
save ""
logfile $work/redis/redis.log
CONF
redis-server "$work/redis.conf"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

commit="$(git rev-parse --short HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo ' (+ uncommitted changes)' || true)"
secret="$(head -c 32 /dev/urandom | base64)"
export OGGEDGE_SIGNING_KEYS="soak:$secret" OGGEDGE_ADMIN_TOKEN="soak-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
export OGGEDGE_REDIS_URL="redis://127.0.0.1:$redis_port"
"$bin" serve --port "$port" --media "$work/media" --cache-dir "$work/cache" \
  --delivery-log "$work/logs/delivery.jsonl" >"$work/server.out" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done  # one record (warmup_healthz)

cat >"$work/config.json" <<JSON
{"port": $port, "pid": $pid, "kid": "soak", "secret": "$secret", "admin_token": "$OGGEDGE_ADMIN_TOKEN",
 "media": "$work/media", "log": "$work/logs/delivery.jsonl", "redis_port": $redis_port,
 "redis_conf": "$work/redis.conf", "redis_pidfile": "$work/redis.pid", "stream": "oggedge:delivery",
 "tracks": ["demo", "chords", "masteronly", "hionly", "long", "cold1", "cold2", "cold3"],
 "purgeable": ["demo", "chords", "masteronly", "hionly", "cold1", "cold2", "cold3"],
 "seconds": $((minutes * 60)), "rate": $RATE, "players": $PLAYERS, "idle": $IDLE,
 "purge_every": $PURGE_EVERY, "prewarm_every": $PREWARM_EVERY, "slow_every": $SLOW_EVERY,
 "outage_every": $OUTAGE_EVERY, "outage_seconds": $OUTAGE_SECONDS, "rotate_every": $ROTATE_EVERY,
 "warmup_healthz": 1, "result": "$work/result.json"}
JSON
ulimit -n 65536 2>/dev/null || true
set +e
python3 bench/soak.py "$work/config.json" | tee "$work/driver.txt"
driver_rc=${PIPESTATUS[0]}
set -e
alive=yes; kill -0 "$pid" 2>/dev/null || alive=no
date_tag="$(date -u +%Y%m%d)"
out="bench/results/soak-$date_tag.md"
[ "$minutes" = 30 ] || out="bench/results/soak-$date_tag-${minutes}min.md"
python3 bench/soak_report.py "$work/result.json" "$minutes" "$alive" "$driver_rc" \
  "RATE=$RATE IDLE=$IDLE PLAYERS=$PLAYERS PURGE_EVERY=$PURGE_EVERY PREWARM_EVERY=$PREWARM_EVERY SLOW_EVERY=$SLOW_EVERY OUTAGE_EVERY=$OUTAGE_EVERY OUTAGE_SECONDS=$OUTAGE_SECONDS ROTATE_EVERY=$ROTATE_EVERY" \
  "$work/server.out" "$commit" >"$out"
echo "report: $out"
cat "$out"
[ "$driver_rc" = 0 ] && [ "$alive" = yes ]
