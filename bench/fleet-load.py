#!/usr/bin/env python3
"""Player-like load for bench/fleet.sh: Zipf-popular tracks, a browser's request pattern
(bytes=0- then a tail probe, some seeks), through one URL (HAProxy in front of the edges).

Counts failed requests (no answer, connection error, status >= 500) and truncated responses
(fewer body bytes than Content-Length), and TTFB. Prints one JSON object on stdout.

usage: fleet-load.py BASE_URL KEY_ID SECRET_B64 TRACKS SECONDS WORKERS ALPHA [SEED]
"""
import base64, hashlib, hmac, http.client, json, random, sys, threading, time, urllib.parse

base, kid, secret_b64, tracks, seconds, workers, alpha = sys.argv[1:8]
seed = int(sys.argv[8]) if len(sys.argv) > 8 else 1
tracks, seconds, workers, alpha = int(tracks), float(seconds), int(workers), float(alpha)
secret = base64.b64decode(secret_b64)
host = urllib.parse.urlparse(base)

weights = [1.0 / (i + 1) ** alpha for i in range(tracks)]
total = sum(weights)
cdf, acc = [], 0.0
for w in weights:
    acc += w / total
    cdf.append(acc)


def pick(rng):
    u = rng.random()
    lo, hi = 0, tracks - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


def sign(path):
    query = "exp=%d&kid=%s&uid=bench" % (int(time.time()) + 600, kid)
    mac = hmac.new(secret, (path + "?" + query).encode(), hashlib.sha256).digest()
    return path + "?" + query + "&sig=" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


lock = threading.Lock()
stats = {"requests": 0, "failed": 0, "truncated": 0, "bytes": 0, "ttfb_ms": [], "errors": {}}
stop_at = time.time() + seconds


def one(conn, path, rng_header):
    target = sign(path)
    start = time.perf_counter()
    headers = {"Host": host.netloc}
    if rng_header:
        headers["Range"] = rng_header
    conn.request("GET", target, headers=headers)
    resp = conn.getresponse()
    ttfb = (time.perf_counter() - start) * 1000
    want = resp.getheader("Content-Length")
    body = resp.read()
    return resp.status, ttfb, want, len(body), resp.getheader("Content-Range")


def worker(index):
    rng = random.Random(seed * 1000 + index)
    conn = None
    while time.time() < stop_at:
        track = pick(rng)
        path = "/tracks/t%04d_160kbps.ogg" % track
        pattern = [("bytes=0-", None)]
        if rng.random() < 0.5:
            pattern.append(("bytes=-65536", None))
        if rng.random() < 0.3:
            pattern.append(("bytes=%d-" % rng.randrange(0, 400000), None))
        for rng_header, _ in pattern:
            if conn is None:
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=15)
            outcome = None
            try:
                status, ttfb, want, got, crange = one(conn, path, rng_header)
                if status >= 500:
                    outcome = "status_%d" % status
                elif want is not None and int(want) != got:
                    outcome = "truncated"
            except (http.client.IncompleteRead,) as e:
                outcome = "truncated"
                conn.close(); conn = None
            except Exception as e:  # connection refused / reset / timeout before a complete head
                outcome = type(e).__name__
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
            with lock:
                stats["requests"] += 1
                if outcome is None:
                    stats["ttfb_ms"].append(ttfb)
                    stats["bytes"] += got
                elif outcome == "truncated":
                    stats["truncated"] += 1
                else:
                    stats["failed"] += 1
                if outcome:
                    stats["errors"][outcome] = stats["errors"].get(outcome, 0) + 1


threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ttfb = sorted(stats.pop("ttfb_ms"))
q = lambda p: round(ttfb[min(len(ttfb) - 1, int(p * len(ttfb)))], 2) if ttfb else None
stats["ttfb_ms"] = {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "n": len(ttfb)}
print(json.dumps(stats))
