#!/usr/bin/env bash
# Slow clients at scale (issue 13 part 4) against one OggEdge node (release build, loopback):
# SLOW slow readers (about 24 KB/s each, whole 600 s rendition), STALLED readers that stop reading,
# IDLE keep-alive connections, held while a player fetches tracks (bytes checked against the
# files, time to a whole answer compared with an idle server); then OVER new connections with
# --max-connections SLOW + STALLED + IDLE + 20 (the stalled ones were cut by then, so about
# OVER - STALLED - 20 are past the limit): each must wait and be answered once the slow readers
# close, or be refused cleanly; stalled readers cut at the 30 s send deadline and logged `aborted`;
# descriptors back to baseline. Appends to bench/results/slow-clients-<date>.txt.
#
#   SLOW=1500 STALLED=200 IDLE=1000 OVER=500 HOLD=45 bench/slow-clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SLOW="${SLOW:-1500}" STALLED="${STALLED:-200}" IDLE="${IDLE:-1000}" OVER="${OVER:-500}" HOLD="${HOLD:-45}"
# OGGEDGE_BIN=path skips the build (e.g. while another build holds .build's lock).
. bench/lib.sh
bin="$(oggedge_bin)"
media="${SOAK_MEDIA:-media}"
./scripts/make-sample-media.sh "$media" >/dev/null
work="$(mktemp -d /tmp/oggedge-slow.XXXXXX)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
secret="$(head -c 32 /dev/urandom | base64)"
export OGGEDGE_SIGNING_KEYS="slow:$secret"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
limit=$((SLOW + STALLED + IDLE + 20))
"$bin" serve --port "$port" --media "$media" --cache-dir "$work/cache" --delivery-log "$work/d.jsonl" \
  --max-connections "$limit" >"$work/server.out" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
ulimit -n 65536 2>/dev/null || true
out="bench/results/slow-clients-$(date -u +%Y%m%d).txt"
{
  echo "== $(date -u '+%Y-%m-%d %H:%M UTC') commit $(git rev-parse --short HEAD), $(nproc) cores (shared): SLOW=$SLOW STALLED=$STALLED IDLE=$IDLE OVER=$OVER HOLD=$HOLD, --max-connections $limit"
  set +e
  python3 bench/slow-clients.py "$port" "$pid" slow "$secret" "$media" "$work/d.jsonl" "$SLOW" "$STALLED" "$IDLE" "$OVER" "$HOLD"
  rc=$?
  set -e
  kill -0 "$pid" 2>/dev/null || { echo "FAIL server died"; rc=1; }
  echo "result: $([ "$rc" = 0 ] && echo PASS || echo FAIL)"
} | tee -a "$out"
grep -q "result: PASS" <(tail -1 "$out")
