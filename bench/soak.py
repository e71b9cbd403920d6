#!/usr/bin/env python3
"""Soak driver for bench/soak.sh: a player-like mix against one OggEdge node for SECONDS, with
purges, prewarms, Redis outages and SIGHUP log rotations, then the checks of issue 13 part 5.

Every audio request carries a unique `uid` (s<N>) in its signed URL, so each one can be found in
the delivery log and in the Redis stream. Bytes are checked against the source file (files in
tracks/) or, for transcoded renditions, against a complete copy with the same strong ETag.

usage: soak.py CONFIG.json   (written by soak.sh; keys below in `cfg[...]`)
Prints progress lines and writes CONFIG's "result" path (JSON).
"""
import json, os, random, signal, subprocess, sys, threading, time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_client as sc
from soak_idle import IdleHolder
from soak_checks import check_records

cfg = json.load(open(sys.argv[1]))
HOST, PORT, PID = "127.0.0.1", cfg["port"], cfg["pid"]
signer = sc.Signer(cfg["kid"], cfg["secret"])
ADMIN = {"Authorization": "Bearer " + cfg["admin_token"]}
MEDIA = cfg["media"]
RATES = (96, 160, 320)
TRACKS = cfg["tracks"]            # ids to play
PURGEABLE = cfg["purgeable"]      # ids the purge thread may drop
stop = threading.Event()
lock = threading.Lock()
seq = [0]
expected = {}                     # uid -> dict(status, got, kind)
plain_sent = Counter()            # non-audio requests by path class
stats = Counter()
failures = []
statuses = Counter()
five_xx = Counter()
epochs = defaultdict(int)         # track -> purge epoch
refs = {}                         # (key, etag) -> complete bytes of a transcoded rendition
samples = []                      # (t, rss_kB, fds)
events = []


def server_fds():
    """Descriptors of the server, not counting the rendition files the fast lane keeps open for
    sendfile (bounded: at most 256 per event loop, like nginx's open_file_cache)."""
    tracks = os.path.realpath(os.path.join(MEDIA, "tracks")) + "/"
    n = 0
    for fd in os.listdir("/proc/%d/fd" % PID):
        try:
            if not os.readlink("/proc/%d/fd/%s" % (PID, fd)).startswith(tracks):
                n += 1
        except OSError:
            pass
    return n


def note(msg):
    line = "%7.1f %s" % (time.time() - T0, msg)
    print(line, flush=True)
    events.append(line)


def fail(msg):
    with lock:
        failures.append(msg)
    note("FAIL " + msg)


def source(track, kbps):
    path = "%s/tracks/%s_%dkbps.ogg" % (MEDIA, track, kbps)
    return FILES.get(path)


FILES = {}
for name in os.listdir(MEDIA + "/tracks"):
    if name.endswith(".ogg"):
        FILES[MEDIA + "/tracks/" + name] = open(MEDIA + "/tracks/" + name, "rb").read()


def next_uid():
    with lock:
        seq[0] += 1
        return "s%d" % seq[0]


def count_status(status, body, where):
    with lock:
        statuses[status] += 1
    if status is not None and status >= 500:
        reason = body[:80].decode("latin-1", "replace")
        documented = status == 503 and b"transcode_in_progress" in body
        with lock:
            five_xx[(status, reason, documented)] += 1
        if not documented:
            fail("%s answered %d %s" % (where, status, reason))


def content_range(value):
    """'bytes a-b/T' -> (a, b, T or None)."""
    spec = value.split(" ", 1)[1]
    rng, _, total = spec.partition("/")
    a, _, b = rng.partition("-")
    return int(a), int(b), (None if total == "*" else int(total))


def audio(conn_box, track, kbps, method="GET", rng=None, verify=True):
    """One audio request, recorded and verified. Returns the Answer."""
    uid = next_uid()
    path = "/tracks/%s_%dkbps.ogg" % (track, kbps)
    headers = {"Range": rng} if rng else {}
    e0 = epochs[track]
    ans = sc.request(conn_box, HOST, PORT, method, signer.sign(path, uid), headers)
    e1 = epochs[track]
    with lock:
        expected[uid] = {"status": ans.status, "got": len(ans.body), "method": method, "kind": "player"}
        stats["requests"] += 1
    if ans.status is None:
        fail("%s %s %s: no answer (%s)" % (method, path, rng, ans.error))
        return ans
    count_status(ans.status, ans.body, path)
    if verify and ans.status in (200, 206) and method == "GET":
        check_bytes(track, kbps, ans, rng, e0 == e1)
    return ans


def check_bytes(track, kbps, ans, rng, stable):
    key = "%s_%d" % (track, kbps)
    start, total = 0, None
    if ans.status == 206:
        cr = ans.header("Content-Range")
        if cr is None:
            stats["multipart"] += 1
            return
        start, end, total = content_range(cr)
        if end - start + 1 != len(ans.body):
            fail("%s %s: Content-Range %s but %d bytes" % (key, rng, cr, len(ans.body)))
            return
    src = source(track, kbps)
    if src is not None:
        if ans.body != src[start:start + len(ans.body)] or (ans.status == 200 and len(ans.body) != len(src)):
            fail("%s %s: bytes differ from the source file" % (key, rng))
        else:
            with lock:
                stats["verified_file"] += 1
                stats["bytes_verified"] += len(ans.body)
        return
    etag = ans.header("ETag")
    if ans.status == 200 and start == 0:
        problem = sc.ogg_check(ans.body)
        if problem:
            fail("%s: whole transcode is not a clean Ogg stream: %s" % (key, problem))
            return
    if not stable:
        with lock:
            stats["unverifiable_purged_meanwhile"] += 1
        return
    ref = refs.get((key, etag)) if etag else None
    if ref is None:
        # The complete rendition: same strong ETag means same bytes; a live answer (no ETag)
        # comes from the encode that a full GET now joins or finds finished.
        if ans.status == 200 and etag:
            ref = ans.body
        else:
            box = [None]
            e0 = epochs[track]
            full = audio(box, track, kbps, verify=False)
            if box[0]:
                box[0].close()
            if full.status != 200 or epochs[track] != e0:
                with lock:
                    stats["unverifiable_purged_meanwhile"] += 1
                return
            if etag and full.header("ETag") != etag:
                fail("%s: ETag %s changed to %s without a purge" % (key, etag, full.header("ETag")))
                return
            problem = sc.ogg_check(full.body)
            if problem:
                fail("%s: whole transcode is not a clean Ogg stream: %s" % (key, problem))
                return
            ref = full.body
            etag = etag or full.header("ETag")
        if etag:
            with lock:
                refs.setdefault((key, etag), ref)
            ref = refs[(key, etag)]
    if ans.body != ref[start:start + len(ans.body)] or (ans.status == 200 and len(ans.body) != len(ref)):
        fail("%s %s: transcoded bytes differ from the complete rendition (etag %s)" % (key, rng, etag))
    elif total is not None and total != len(ref):
        fail("%s %s: total %d but the rendition has %d bytes" % (key, rng, total, len(ref)))
    else:
        with lock:
            stats["verified_transcode"] += 1
            stats["bytes_verified"] += len(ans.body)


class Pace:
    """At most `rate` requests per second over every thread that shares it."""

    def __init__(self, rate):
        self.gap, self.next, self.lock = 1.0 / rate, time.time(), threading.Lock()

    def wait(self):
        with self.lock:
            now = time.time()
            self.next = max(self.next + self.gap, now)
            delay = self.next - now
        if delay > 0:
            time.sleep(delay)


pace = Pace(cfg["rate"])


def player(index):
    rng = random.Random(1000 + index)
    box = [None]
    while not stop.is_set():
        track = rng.choice(TRACKS)
        kbps = rng.choice(RATES)
        pattern = rng.random()
        if pattern < 0.35:      # a browser starting playback: first 64 KiB, end probe, the rest from 64 KiB
            steps = ["bytes=0-65535", "bytes=-16384", "bytes=65536-" if track != "long" else "bytes=65536-1048575"]
        elif pattern < 0.55:    # sequential 256 KiB reads
            steps = ["bytes=%d-%d" % (i << 18, (i << 18) + (1 << 18) - 1) for i in range(rng.randint(1, 6))]
        elif pattern < 0.75:    # seeks
            steps = ["bytes=%d-%d" % (o, o + rng.randint(1, 200000)) for o in [rng.randrange(0, 600000) for _ in range(3)]]
        elif pattern < 0.92:    # the whole rendition
            steps = [None] if track != "long" or rng.random() < 0.1 else ["bytes=0-524287"]
        else:
            steps = ["HEAD"]
        for step in steps:
            if stop.is_set():
                break
            pace.wait()
            if step == "HEAD":
                audio(box, track, kbps, method="HEAD")
            else:
                audio(box, track, kbps, rng=step)
        if rng.random() < 0.3 and box[0]:
            box[0].close()
            box[0] = None


def plain(conn_box, method, path, body=None, headers=None, cls=None):
    hdrs = dict(headers or {})
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    if conn_box[0] is None:
        conn_box[0] = sc.http.client.HTTPConnection(HOST, PORT, timeout=60)
    try:
        conn_box[0].request(method, path, body=body, headers=hdrs)
        resp = conn_box[0].getresponse()
        data = resp.read()
        status = resp.status
    except (OSError, sc.http.client.HTTPException) as e:
        conn_box[0].close()
        conn_box[0] = None
        fail("%s %s: no answer (%s)" % (method, path, e))
        status, data = None, b""
    with lock:
        plain_sent[cls or path] += 1
    count_status(status, data, path)
    return status, data


def admin_loop():
    rng = random.Random(7)
    box = [None]
    next_purge, next_prewarm = time.time() + 20, time.time() + 40
    while not stop.wait(1):
        now = time.time()
        if now >= next_purge:
            next_purge = now + cfg["purge_every"]
            track = rng.choice(PURGEABLE)
            one = rng.random() < 0.5
            target = track + ("_%dkbps" % rng.choice(RATES) if one else "")
            epochs[track] += 1
            status, _ = plain(box, "DELETE", "/admin/cache/" + target, headers=ADMIN, cls="purge")
            epochs[track] += 1
            stats["purges"] += 1
            if status not in (200, 204):
                fail("purge %s answered %s" % (target, status))
        if now >= next_prewarm:
            next_prewarm = now + cfg["prewarm_every"]
            tracks = rng.sample(TRACKS, 2)
            status, data = plain(box, "POST", "/admin/prewarm", body=json.dumps({"tracks": tracks, "kbps": list(RATES)}),
                                 headers=ADMIN, cls="prewarm")
            stats["prewarms"] += 1
            if status != 202:
                fail("prewarm answered %s %s" % (status, data[:100]))
                continue
            job = json.loads(data)["job"]
            for _ in range(120):
                if stop.wait(1):
                    break
                status, data = plain(box, "GET", "/admin/prewarm/%s" % job, headers=ADMIN, cls="prewarm-status")
                if status == 200 and json.loads(data).get("state") == "finished":
                    failed = json.loads(data).get("failed")
                    if failed:
                        fail("prewarm %s failed: %s" % (tracks, failed))
                    break


def redis_start():
    subprocess.run(["redis-server", cfg["redis_conf"]], check=True, stdout=subprocess.DEVNULL)


def redis_pid():
    return int(open(cfg["redis_pidfile"]).read())


def chaos_loop():
    next_outage, next_rotate, mode = time.time() + cfg["outage_every"] / 2, time.time() + cfg["rotate_every"] / 2, 0
    rotations = 0
    while not stop.wait(1):
        now = time.time()
        if now >= next_rotate:
            next_rotate = now + cfg["rotate_every"]
            rotations += 1
            os.rename(cfg["log"], "%s.r%03d" % (cfg["log"], rotations))
            os.kill(PID, signal.SIGHUP)
            stats["rotations"] += 1
            note("rotated the delivery log (SIGHUP) #%d" % rotations)
        if now >= next_outage:
            next_outage = now + cfg["outage_every"]
            mode += 1
            pid = redis_pid()
            if mode % 2:
                note("Redis: shutdown for %d s" % cfg["outage_seconds"])
                subprocess.run(["redis-cli", "-p", str(cfg["redis_port"]), "shutdown"], stdout=subprocess.DEVNULL)
                stop.wait(cfg["outage_seconds"])
                redis_start()
            else:
                note("Redis: SIGSTOP for %d s" % cfg["outage_seconds"])
                os.kill(pid, signal.SIGSTOP)
                stop.wait(cfg["outage_seconds"])
                os.kill(pid, signal.SIGCONT)
            stats["redis_outages"] += 1
            note("Redis back")


def slow_loop():
    """Slow readers (finish, bytes checked), stalled readers (must be cut at the send deadline)
    and clients hanging up mid-response."""
    rng = random.Random(11)
    i = 0
    while not stop.wait(cfg["slow_every"]):
        i += 1
        kind = i % 3
        if kind == 0:
            uid = next_uid()
            status, cut, got = sc.stalled_read(HOST, PORT, signer.sign("/tracks/long_160kbps.ogg", uid), 65536, 45)
            with lock:
                expected[uid] = {"status": status, "got": None, "method": "GET", "kind": "stalled", "cut": cut}
                stats["stalled_readers"] += 1
            if cut is None:
                fail("stalled reader %s was not cut within 45 s" % uid)
        elif kind == 1:
            track, kbps = rng.choice([("demo", 96), ("chords", 96), ("hionly", 320), ("demo", 160)])
            uid = next_uid()
            status, headers, body, secs = sc.slow_read(HOST, PORT, signer.sign("/tracks/%s_%dkbps.ogg" % (track, kbps), uid), 8192, 0.2)
            with lock:
                expected[uid] = {"status": status, "got": len(body), "method": "GET", "kind": "slow"}
                stats["slow_readers"] += 1
            if status != 200 or body != source(track, kbps):
                fail("slow reader %s: status %s, %d bytes, not the source file" % (uid, status, len(body)))
            else:
                with lock:
                    stats["bytes_verified"] += len(body)
        else:
            track, kbps = rng.choice([("long", 160), ("demo", 320), ("masteronly", 160)])
            uid = next_uid()
            status, got = sc.hang_up(HOST, PORT, signer.sign("/tracks/%s_%dkbps.ogg" % (track, kbps), uid), rng.randint(1000, 300000))
            with lock:
                expected[uid] = {"status": status, "got": None, "method": "GET", "kind": "hangup"}
                stats["hangups"] += 1


def monitor_loop():
    while True:
        try:
            rss = int([l for l in open("/proc/%d/status" % PID) if l.startswith("VmRSS")][0].split()[1])
            fds = server_fds()
        except OSError:
            fail("the server process is gone")
            stop.set()
            return
        samples.append((round(time.time() - T0, 1), rss, fds))
        if stop.wait(10):
            return


def main():
    global T0
    T0 = time.time()
    baseline = (int([l for l in open("/proc/%d/status" % PID) if l.startswith("VmRSS")][0].split()[1]),
                server_fds())
    note("baseline RSS %d kB, %d descriptors" % baseline)
    idle = IdleHolder(HOST, PORT, cfg["idle"], stop)
    threads = [threading.Thread(target=f, daemon=True) for f in (admin_loop, chaos_loop, slow_loop, monitor_loop, idle.run)]
    threads += [threading.Thread(target=player, args=(i,), daemon=True) for i in range(cfg["players"])]
    for t in threads:
        t.start()
    end = T0 + cfg["seconds"]
    while time.time() < end and not stop.is_set():
        time.sleep(min(60, max(0.1, end - time.time())))
        with lock:
            note("requests %d, verified %d B, 5xx %d, failures %d, last sample %s" % (
                stats["requests"], stats["bytes_verified"], sum(five_xx.values()), len(failures), samples[-1] if samples else None))
    stop.set()
    for t in threads:
        t.join(timeout=120)
    with lock:
        plain_sent["/healthz"] += idle.requests + cfg.get("warmup_healthz", 0)
    # Descriptors back to baseline once every client connection is closed.
    time.sleep(3)
    final_fds = server_fds()
    final_rss = int([l for l in open("/proc/%d/status" % PID) if l.startswith("VmRSS")][0].split()[1])
    records = check_records(cfg, expected, plain_sent, fail, note)
    result = {
        "seconds": cfg["seconds"], "stats": dict(stats), "statuses": {str(k): v for k, v in statuses.items()},
        "five_xx": [[s, r, d, n] for (s, r, d), n in five_xx.items()], "failures": failures, "samples": samples,
        "baseline": baseline, "final_fds": final_fds, "final_rss": final_rss, "idle": idle.summary(),
        "records": records, "plain_sent": dict(plain_sent), "events": events,
    }
    json.dump(result, open(cfg["result"], "w"), indent=1)
    note("done: %d failures" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
