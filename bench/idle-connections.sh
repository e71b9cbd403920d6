#!/usr/bin/env bash
# Idle keep-alive connections against one OggEdge node (release build, loopback):
# holds N connections (default 10000) with `--max-connections N+2000`, checks that held
# connections still answer and that a new client is served, and reports the server's RSS per
# idle connection and its descriptors; then a slowloris client (one header byte per second) and
# when the server cut it. Appends the report to bench/results/idle-connections-<date>.txt.
#
#   bench/idle-connections.sh [N=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-idle.XXXXXX)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export OGGEDGE_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
port=18140
"$bin" serve --port "$port" --media media --cache-dir "$work/cache" --delivery-log "$work/d.jsonl" \
  --max-connections $((n + 2000)) >"$work/server.out" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$n" "$port" "$pid" <<'PY' | tee "$work/report.txt"
import os, resource, socket, sys, time
n, port, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
def rss():
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))
base_rss, base_fds = rss(), fds()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
ok = 0
for s in socks[:100]:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    ok += s.recv(1000).startswith(b"HTTP/1.1 200")
time.sleep(2)
held_rss, held_fds = rss(), fds()
extra = socket.create_connection(("127.0.0.1", port))
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
extra_ok = extra.recv(1000).startswith(b"HTTP/1.1 200")
for s in socks: s.close()
extra.close()
time.sleep(2)
print(f"held {n} idle keep-alive connections: {ok}/100 answered on held connections, new client served: {extra_ok}")
print(f"server RSS {base_rss} kB idle -> {held_rss} kB held ({(held_rss - base_rss) / n:.1f} kB per connection), {rss()} kB after they closed")
print(f"server descriptors {base_fds} -> {held_fds} held -> {fds()} after")
# Slowloris: one byte of a request head per second; the head deadline (10 s) must cut it.
s = socket.create_connection(("127.0.0.1", port))
start = time.time(); cut = None
for b in b"GET /healthz HTTP/1.1\r\nHost: slowloris\r\nX-Padding: " + b"a" * 60:
    try:
        s.sendall(bytes([b])); time.sleep(1)
        s.setblocking(False)
        try:
            if s.recv(1) == b"": cut = time.time() - start; break
        except BlockingIOError: pass
        finally: s.setblocking(True)
    except (BrokenPipeError, ConnectionResetError):
        cut = time.time() - start; break
print(f"slowloris (1 header byte/s): cut after {cut:.1f} s" if cut else "slowloris: NOT cut within the test")
PY
mkdir -p bench/results
out="bench/results/idle-connections-$(date -u +%Y%m%d).txt"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(uname -srm), $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "commit: $(git rev-parse --short HEAD)"
  echo "command: bench/idle-connections.sh $n"
  cat "$work/report.txt"
  echo
} >> "$out"
echo "appended to $out"
