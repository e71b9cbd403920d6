#!/usr/bin/env python3
"""New connections, one request each: the cost of a connection's set-up and tear-down.

    bench/conn-storm.py PORT TEMPLATES STORMS

Each storm opens 64 connections at once to 127.0.0.1:PORT, sends one `Range: bytes=0-4095`
GET (the first target of TEMPLATES, a bench/ttfb.sh template file) on each as soon as it is
connected, reads the 4 KiB answer and closes; then the next storm. Prints one line:
`CONN_RESULT connections=N seconds=S p50_ms=… p99_ms=… max_ms=… bad=B`, latency measured
from the connect() call to the whole answer. Loopback only.
"""
import selectors, socket, sys, time

port, templates, storms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
target = open(templates).readline().split()[0]
request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-4095\r\n\r\n".encode()
latencies, bad = [], 0
start = time.perf_counter()
for _ in range(storms):
    selector = selectors.DefaultSelector()
    t0 = time.perf_counter()
    for _ in range(64):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        selector.register(s, selectors.EVENT_WRITE, {"sent": False, "data": b""})
    pending = 64
    while pending:
        events = selector.select(10)
        if not events:
            break
        for key, mask in events:
            s, state = key.fileobj, key.data
            if not state["sent"]:
                s.send(request)
                state["sent"] = True
                selector.modify(s, selectors.EVENT_READ, state)
                continue
            chunk = s.recv(65536)
            state["data"] += chunk
            head, sep, body = state["data"].partition(b"\r\n\r\n")
            if (sep and len(body) >= 4096) or not chunk:
                if not head.startswith(b"HTTP/1.1 206"):
                    bad += 1
                latencies.append(time.perf_counter() - t0)
                selector.unregister(s)
                s.close()
                pending -= 1
    bad += pending
    for key in list(selector.get_map().values()):
        key.fileobj.close()
elapsed = time.perf_counter() - start
latencies.sort()
n = len(latencies) or 1
pct = lambda p: latencies[min(n - 1, int(p * n))] * 1e3 if latencies else 0
print(f"CONN_RESULT connections={len(latencies)} seconds={elapsed:.3f} p50_ms={pct(0.5):.3f} "
      f"p99_ms={pct(0.99):.3f} max_ms={latencies[-1] * 1e3 if latencies else 0:.3f} bad={bad}")
