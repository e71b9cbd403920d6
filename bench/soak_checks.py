"""End-of-soak checks (bench/soak.py): every delivery record exactly once in the (rotated) log
files and exactly once in the Redis stream, and one record per request the driver sent."""
import glob, json, time
from collections import Counter

import soak_client as sc


def read_log(cfg):
    records = []
    for path in sorted(glob.glob(cfg["log"] + ".r*")) + [cfg["log"]]:
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    records.append(json.loads(line))
    return records


def settle_log(cfg, note):
    """Waits until the log stops growing (the writer flushes in batches)."""
    last, stable = -1, 0
    for _ in range(120):
        n = len(read_log(cfg))
        stable = stable + 1 if n == last else 0
        last = n
        if stable >= 3:
            break
        time.sleep(1)
    note("log settled at %d records" % last)
    return read_log(cfg)


def path_class(rec):
    path, method = rec.get("path") or "", rec.get("method")
    if path.startswith("/admin/cache/"):
        return "purge"
    if path == "/admin/prewarm":
        return "prewarm"
    if path.startswith("/admin/prewarm/"):
        return "prewarm-status"
    return path


def redis_entries(cfg, want, note):
    """All entries of the stream once its length reached `want` (or stopped growing)."""
    deadline, last, since = time.time() + 300, -1, time.time()
    while time.time() < deadline:
        try:
            r = sc.Resp(cfg["redis_port"])
            n = r.command("XLEN", cfg["stream"])
            r.close()
        except OSError:
            n = -1
        if n >= want:
            break
        if n != last:
            last, since = n, time.time()
        elif time.time() - since > 60:
            break
        time.sleep(1)
    r = sc.Resp(cfg["redis_port"])
    entries, cursor = [], "-"
    while True:
        page = r.command("XRANGE", cfg["stream"], cursor, "+", "COUNT", 5000)
        if cursor != "-" and page:
            page = page[1:]
        if not page:
            break
        for entry_id, fields in page:
            entries.append(dict(zip((f.decode() for f in fields[0::2]), (v.decode() for v in fields[1::2]))))
        cursor = page[-1][0].decode()
    r.close()
    note("Redis stream holds %d entries" % len(entries))
    return entries


def check_records(cfg, expected, plain_sent, fail, note):
    records = settle_log(cfg, note)
    ids = Counter(r["req_id"] for r in records)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        fail("%d req_ids more than once in the log, e.g. %s" % (len(dup), dup[:3]))
    by_uid = {}
    uid_counts = Counter()
    for r in records:
        uid = r.get("uid")
        if uid and uid.startswith("s") and uid[1:].isdigit():
            uid_counts[uid] += 1
            by_uid[uid] = r
    missing = [u for u in expected if uid_counts[u] == 0]
    twice = [u for u, n in uid_counts.items() if n > 1]
    stray = [u for u in uid_counts if u not in expected]
    if missing:
        fail("%d requests have no delivery record, e.g. %s" % (len(missing), [(u, expected[u]) for u in missing[:3]]))
    if twice:
        fail("%d requests have several delivery records, e.g. %s" % (len(twice), twice[:3]))
    if stray:
        fail("%d delivery records for requests never sent, e.g. %s" % (len(stray), stray[:3]))
    aborted = Counter()
    for uid, want in expected.items():
        rec = by_uid.get(uid)
        if rec is None:
            continue
        if want["status"] is not None and rec["status"] != want["status"]:
            fail("%s: client saw %s, log says %s" % (uid, want["status"], rec["status"]))
        if want["got"] is not None and want["method"] == "GET" and want["status"] in (200, 206) and rec["bytes_sent"] != want["got"]:
            fail("%s: client read %d body bytes, log says bytes_sent %s" % (uid, want["got"], rec["bytes_sent"]))
        if rec.get("aborted"):
            aborted[want["kind"]] += 1
        if want["kind"] == "stalled" and want.get("cut") is not None:
            if not rec.get("aborted") or rec["duration_us"] < 29_000_000:
                fail("%s: stalled reader logged aborted=%s after %s us" % (uid, rec.get("aborted"), rec["duration_us"]))
    plain_logged = Counter(path_class(r) for r in records if not (r.get("uid") or "").startswith("s"))
    for cls, n in plain_sent.items():
        if plain_logged[cls] != n:
            fail("%s: %d requests sent, %d records" % (cls, n, plain_logged[cls]))
    extra = {c: n for c, n in plain_logged.items() if c not in plain_sent}
    if extra:
        fail("records of requests the driver did not send: %s" % extra)
    entries = redis_entries(cfg, len(records), note)
    rids = Counter(e.get("req_id") for e in entries)
    rdup = [k for k, n in rids.items() if n > 1]
    if rdup:
        fail("%d req_ids more than once in Redis, e.g. %s" % (len(rdup), rdup[:3]))
    lost = set(ids) - set(rids)
    unknown = set(rids) - set(ids)
    if lost:
        fail("%d records of the log are not in Redis, e.g. %s" % (len(lost), sorted(lost)[:3]))
    if unknown:
        fail("%d Redis entries are not in the log, e.g. %s" % (len(unknown), sorted(unknown)[:3]))
    return {"log": len(records), "log_unique": len(ids), "redis": len(entries), "redis_unique": len(rids),
            "audio_requests": len(expected), "plain_requests": sum(plain_sent.values()), "aborted_by_kind": dict(aborted),
            "log_files": len(glob.glob(cfg["log"] + ".r*")) + 1}
