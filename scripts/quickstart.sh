#!/usr/bin/env bash
# Quick start: install what is missing, build in release mode, make sample media and a
# development signing key if there are none, start a local redis-server for sessions and stream
# counts (unless OGGEDGE_REDIS_URL is set), print a signed URL, the player's and the ops page's
# addresses, and run `oggedge serve --stream-api --demo-user` on 127.0.0.1:8080 in the foreground
# (Ctrl-C stops both).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build -c release --product oggedge
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media
if [ ! -s config/dev-keys.env ]; then
  mkdir -p config
  key="$("$bin" keygen --kid dev)"
  token="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  printf 'OGGEDGE_SIGNING_KEYS=%s\nOGGEDGE_ADMIN_TOKEN=%s\n' "$key" "$token" > config/dev-keys.env
  chmod 600 config/dev-keys.env
  echo "created a development key in config/dev-keys.env (not for production)"
fi
set -a; . config/dev-keys.env; set +a
url="$("$bin" sign /tracks/demo_160kbps.ogg --ttl 86400 --uid quickstart --base-url http://127.0.0.1:8080)"
cat <<MSG

Signed URL (valid 24 h):
  $url
Try it:
  curl -sS -o /tmp/demo.ogg -D - '$url' && ogginfo /tmp/demo.ogg
  curl -sS -H 'Range: bytes=0-8191' -D - -o /dev/null '$url'
Admin:   curl -H "Authorization: Bearer \$OGGEDGE_ADMIN_TOKEN" http://127.0.0.1:8080/admin/stats  (token in config/dev-keys.env)
Metrics: curl http://127.0.0.1:8080/metrics

Player:   http://127.0.0.1:8080/player/?demo=1   (signs you in as a demo user; --demo-user works on loopback only)
Ops page: http://127.0.0.1:8080/admin/ui/        (admin token: $OGGEDGE_ADMIN_TOKEN)

MSG
if [ -z "${OGGEDGE_REDIS_URL:-}" ]; then
  mkdir -p .quickstart-redis
  redis-server --port 6390 --bind 127.0.0.1 --dir "$PWD/.quickstart-redis" --save 60 1 --appendonly no >/dev/null &
  redis_pid=$!
  trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
  export OGGEDGE_REDIS_URL=redis://127.0.0.1:6390
fi
"$bin" serve --host 127.0.0.1 --port 8080 --media media --stream-api --demo-user
