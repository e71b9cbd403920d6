#!/usr/bin/env python3
"""Slow clients at scale against one node (bench/slow-clients.sh; issue 13 part 4).

Phases: (1) TTFB and bytes of a player fetching tracks on an idle server; (2) SLOW slow readers
(whole long renditions, read at about 24 KB/s each), STALLED readers that stop reading after 64 KiB,
and IDLE keep-alive connections are held; the player plays meanwhile (bytes checked, TTFB);
(3) OVER more connections past --max-connections: each must wait (and be answered once slots
free) or be refused cleanly, never crash the server; (4) the stalled readers must have been cut at
the 30 s send deadline and logged `aborted`; descriptors back to baseline after everything closes.

usage: slow-clients.py PORT PID KID SECRET_B64 MEDIA LOG SLOW STALLED IDLE OVER HOLD_SECONDS
Prints a report; exit status 1 on any failure."""
import json, os, random, resource, selectors, socket, statistics, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_client as sc

port, pid, kid, secret, media, log = sys.argv[1:7]
port, pid = int(port), int(pid)
n_slow, n_stalled, n_idle, n_over, hold = map(int, sys.argv[7:12])
_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard if _hard != resource.RLIM_INFINITY and _hard < 65536 else 65536, _hard))
signer = sc.Signer(kid, secret)
failures = []
files = {n: open(os.path.join(media, "tracks", n), "rb").read() for n in os.listdir(os.path.join(media, "tracks")) if n.endswith(".ogg")}
playable = [n for n in files if not n.startswith("long")]


def proc():
    """RSS in kB and descriptors, not counting the rendition files the fast lane keeps open for
    sendfile (at most 256 per event loop, like nginx's open_file_cache): those are bounded and
    stay open by design; sockets and everything else must come back to the baseline."""
    rss = int([l for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS")][0].split()[1])
    tracks = os.path.realpath(os.path.join(media, "tracks")) + "/"
    fds = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if not target.startswith(tracks):
            fds += 1
    return rss, fds


def play(seconds, label):
    """Fetches whole files and ranges for `seconds`; returns TTFB samples (ms)."""
    rng, box, ttfb, n = random.Random(3), [None], [], 0
    end = time.time() + seconds
    while time.time() < end:
        name = rng.choice(playable)
        body = files[name]
        start = rng.randrange(0, len(body) - 1)
        for rng_header in (None, "bytes=0-65535", "bytes=%d-" % start):
            t0 = time.time()
            ans = sc.request(box, "127.0.0.1", port, "GET", signer.sign("/tracks/" + name, "play"), {"Range": rng_header} if rng_header else {})
            ttfb.append((time.time() - t0) * 1000)  # whole small answers: close to TTFB on loopback
            n += 1
            want = body if rng_header is None else (body[:65536] if rng_header == "bytes=0-65535" else body[start:])
            if ans.status not in (200, 206) or ans.body != want:
                failures.append("%s: %s %s got %s, %d bytes (not the file's)" % (label, name, rng_header, ans.status, len(ans.body)))
        time.sleep(0.05)
    return ttfb, n


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0


report = []
base_rss, base_fds = proc()
t_idle, n_idle_play = play(15, "idle server")
report.append("idle server: %d player requests, time to whole answer p50 %.1f ms p99 %.1f ms" % (n_idle_play, pct(t_idle, .5), pct(t_idle, .99)))

# Phase 2: hold slow, stalled and idle connections.
long_names = sorted(n for n in files if n.startswith("long")) or sorted(files, key=lambda n: -len(files[n]))[:1]
sel = selectors.DefaultSelector()
slow, stalled, idle = [], [], []
stalled_t0 = time.time()
for i in range(n_stalled):
    s = sc.raw_get("127.0.0.1", port, signer.sign("/tracks/" + long_names[0], "stalled%d" % i), rcvbuf=4096)
    s.setblocking(False)
    stalled.append([s, 0, None])
for i in range(n_slow):
    s = sc.raw_get("127.0.0.1", port, signer.sign("/tracks/" + long_names[0], "slow%d" % i), rcvbuf=16384)
    s.setblocking(False)
    slow.append([s, 0, False])
for i in range(n_idle):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.append(s)
for s in idle:
    s.recv(1000)
stop = threading.Event()


def pump():
    """Slow readers: 6 KiB every 0.25 s each (about 24 KB/s); stalled ones read their first 64 KiB only."""
    while not stop.is_set():
        t0 = time.time()
        for entry in slow:
            if entry[2]:
                continue
            try:
                data = entry[0].recv(6144)
                if not data:
                    entry[2] = True
                entry[1] += len(data)
            except BlockingIOError:
                pass
            except OSError:
                entry[2] = True
        for entry in stalled:
            if entry[1] < 65536:
                try:
                    data = entry[0].recv(65536 - entry[1])
                    entry[1] += len(data)
                except (BlockingIOError, OSError):
                    pass
        time.sleep(max(0, 0.25 - (time.time() - t0)))


pumper = threading.Thread(target=pump, daemon=True)
pumper.start()
time.sleep(3)
held_rss, held_fds = proc()
report.append("held: %d slow readers, %d stalled readers, %d idle keep-alive connections; server RSS %d -> %d kB, descriptors %d -> %d"
              % (n_slow, n_stalled, n_idle, base_rss, held_rss, base_fds, held_fds))
t_load, n_load_play = play(hold, "under load")
report.append("while held: %d player requests, time to whole answer p50 %.1f ms p99 %.1f ms, bytes exact: %s"
              % (n_load_play, pct(t_load, .5), pct(t_load, .99), "yes" if not failures else "NO"))
slow_cut = sum(1 for e in slow if e[2])
report.append("slow readers cut while reading: %d of %d (read %.0f kB on average)" % (slow_cut, n_slow, statistics.mean(e[1] for e in slow) / 1024 if slow else 0))
if slow_cut:
    failures.append("%d slow readers were cut although they kept reading" % slow_cut)

# Phase 3: past the connection limit.
over, over_t0 = [], time.time()
for i in range(n_over):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: over\r\nConnection: close\r\n\r\n")
        s.settimeout(0.5)
        over.append(s)
    except OSError as e:
        over.append(e)
time.sleep(2)
early = set()
for i, s in enumerate(over):
    if isinstance(s, socket.socket):
        try:
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                early.add(i)
        except OSError:
            pass
report.append("past the limit: %d new connections, %d refused at connect, %d answered at once (free slots), %d waiting"
              % (n_over, sum(isinstance(s, OSError) for s in over), len(early), n_over - len(early)))
# Free slots: close the slow readers; every waiting client must now be answered.
stop.set()
pumper.join()
for e in slow:
    e[0].close()
answered, refused_clean, broken = 0, 0, 0
for i, s in enumerate(over):
    if not isinstance(s, socket.socket):
        continue
    if i in early:
        s.close()
        continue
    s.settimeout(20)
    try:
        data = s.recv(100)
        if data.startswith(b"HTTP/1.1 200"):
            answered += 1
        elif data.startswith(b"HTTP/1.1 503") or data == b"":
            refused_clean += 1
        else:
            broken += 1
    except ConnectionResetError:
        refused_clean += 1
    except OSError:
        broken += 1
    s.close()
report.append("after slots freed: %d waiting clients answered 200, %d refused cleanly (503/close), %d without an answer"
              % (answered, refused_clean, broken))
if broken:
    failures.append("%d clients past the limit got no answer" % broken)

# Phase 4: the stalled readers were cut at the send deadline.
cut = 0
for e in stalled:
    e[0].settimeout(2)
    try:
        while True:
            data = e[0].recv(1 << 20)
            if not data:
                cut += 1
                break
    except ConnectionResetError:
        cut += 1
    except OSError:
        pass
    e[0].close()
report.append("stalled readers cut by the server: %d of %d (after %.0f s held)" % (cut, n_stalled, time.time() - stalled_t0))
if cut != n_stalled:
    failures.append("%d stalled readers were not cut" % (n_stalled - cut))
for s in idle:
    s.close()
time.sleep(3)
end_rss, end_fds = proc()
report.append("after closing everything: RSS %d kB, descriptors %d (baseline %d)" % (end_rss, end_fds, base_fds))
if end_fds > base_fds + 2:
    failures.append("descriptors %d, baseline %d" % (end_fds, base_fds))
time.sleep(2)
records = [json.loads(l) for l in open(log) if l.strip()]
stalled_recs = [r for r in records if (r.get("uid") or "").startswith("stalled")]
aborted = [r for r in stalled_recs if r.get("aborted") and r["duration_us"] >= 29_000_000]
report.append("delivery log: %d stalled-reader records, %d of them aborted after >= 29 s (durations %s s)" % (
    len(stalled_recs), len(aborted), sorted({round(r["duration_us"] / 1e6) for r in stalled_recs})[:8]))
if len(aborted) != n_stalled:
    failures.append("%d stalled readers logged aborted at the deadline, want %d" % (len(aborted), n_stalled))
five = [r for r in records if r["status"] >= 500]
report.append("5xx in the delivery log: %d" % len(five))
if five:
    failures.append("%d 5xx answers" % len(five))
try:
    os.kill(pid, 0)
    report.append("server alive: yes")
except OSError:
    failures.append("server died")
for line in report:
    print(line)
for f in failures[:20]:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
