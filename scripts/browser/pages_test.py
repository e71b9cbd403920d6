#!/usr/bin/env python3
"""Drives /player/ and /admin/ui/ in headless Chromium (Debian's chromium, Python playwright).

Starts a real redis-server and a real `oggedge serve --stream-api` on free loopback ports, serves
the player page from a second origin (so /stream, the audio and the beacons are cross-origin, as
for a player app), makes sessions in Redis as a login service would, and asserts what a person
sees: a track plays (currentTime advances), the quality label follows the connection type, the
ops page's counters move, a purge from the ops page takes effect, a stream is counted at 30 s.

  pages_test.py --bin PATH --media DIR [--screenshots DIR] [--bench N --bench-out FILE]
"""
import argparse, contextlib, functools, http.server, json, os, shutil, socket, subprocess, sys, tempfile, threading, time
import urllib.request

from playwright.sync_api import sync_playwright, expect

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "OggEdgeServer", "Web", "player")
TOKEN = "browser-test-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        with contextlib.suppress(Exception):
            urllib.request.urlopen(url, timeout=1)
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


class Stack:
    """redis-server + oggedge + a static server for the player page on another origin."""

    def __init__(self, binary, media):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="oggedge-pages-")
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.redis_cli("PING", retry=True)
        self.port = free_port()
        env = dict(os.environ, OGGEDGE_SIGNING_KEYS="b1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
                   OGGEDGE_ADMIN_TOKEN=TOKEN, OGGEDGE_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}", OGGEDGE_LOG_LEVEL="warning")
        self.server = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--media", media, "--cache-dir", self.dir + "/cache",
             "--delivery-log", self.dir + "/delivery.jsonl", "--stream-api", "--demo-user"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.dir + "/server.err", "w"))
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(self.base + "/healthz")
        self.page_port = free_port()
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass
        handler = functools.partial(Quiet, directory=os.path.abspath(WEB))
        self.pages = http.server.ThreadingHTTPServer(("127.0.0.1", self.page_port), handler)
        threading.Thread(target=self.pages.serve_forever, daemon=True).start()
        self.page_base = f"http://127.0.0.1:{self.page_port}/index.html?api={self.base}"

    def redis_cli(self, *args, retry=False):
        for _ in range(200 if retry else 1):
            r = subprocess.run(["redis-cli", "-p", str(self.redis_port), *args], capture_output=True, text=True)
            if r.returncode == 0 and "Could not connect" not in r.stdout + r.stderr:
                return r.stdout.strip()
            time.sleep(0.05)
        raise RuntimeError("redis-cli " + " ".join(args) + ": " + r.stdout + r.stderr)

    def session(self, user, premium):
        sid = f"sess-{user}-{time.time_ns()}"
        self.redis_cli("HSET", "session:" + sid, "userId", user, "isPremium", "true" if premium else "false")
        self.redis_cli("EXPIRE", "session:" + sid, "3600")
        return sid

    def admin(self, path, method="GET"):
        req = urllib.request.Request(self.base + path, method=method, headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def close(self):
        self.pages.shutdown()
        for p in (self.server, self.redis):
            p.terminate()
            with contextlib.suppress(Exception):
                p.wait(timeout=10)
            if p.poll() is None:
                p.kill()


def launch(pw):
    return pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True,
                              args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox", "--disable-gpu"])


def player(browser, stack, user, premium, connection, extra=""):
    """A fresh context with a session cookie and navigator.connection.effectiveType faked."""
    context = browser.new_context(viewport={"width": 1180, "height": 760})
    context.add_cookies([{"name": "session", "value": stack.session(user, premium), "domain": "127.0.0.1", "path": "/"}])
    if connection:
        context.add_init_script(
            f"Object.defineProperty(navigator, 'connection', {{value: {{effectiveType: '{connection}'}}, configurable: true}});")
    page = context.new_page()
    page.goto(stack.page_base + extra)
    page.wait_for_selector("body[data-ready='1']")
    return context, page


def tap(page, track):
    page.click(f"button[data-track='{track}']")
    page.wait_for_function("() => { const a = document.getElementById('audio'); return a && a.currentTime > 0.3; }", timeout=20000)
    return float(page.inner_text("#tap-ms"))


def run_checks(stack, browser, shots):
    # 1. A track plays, and the quality label follows the connection type (premium user).
    for connection, label in [("4g", "320 kbps"), ("3g", "160 kbps"), ("2g", "96 kbps")]:
        context, page = player(browser, stack, f"prem-{connection}", True, connection)
        ms = tap(page, "demo")
        expect(page.locator("#quality")).to_have_text(label)
        expect(page.locator("#connection")).to_have_text(f"connection: {connection}")
        t0 = page.evaluate("document.getElementById('audio').currentTime")
        page.wait_for_function(f"() => document.getElementById('audio').currentTime > {t0} + 0.5")
        print(f"ok   premium on {connection}: plays at {label}, tap-to-playing {ms:.0f} ms on screen")
        if connection == "4g":
            # A stall (the element reports 'waiting' and nothing resumes it for 1.5 s): the player
            # switches one bitrate down with the same token and plays on from where it was.
            page.evaluate("document.getElementById('audio').dispatchEvent(new Event('waiting'))")
            expect(page.locator("#quality")).to_have_text("160 kbps", timeout=5000)
            expect(page.locator("#status")).to_contain_text("stalled: switched down to 160 kbps")
            t1 = page.evaluate("document.getElementById('audio').currentTime")
            page.wait_for_function(f"() => {{ const a = document.getElementById('audio'); return a.src.includes('_160kbps.ogg') && a.currentTime > {t1} + 0.5; }}")
            print("ok   after a stall the player switched down to 160 kbps and plays on")
        context.close()
    context, page = player(browser, stack, "free-wifi", False, "wifi")
    tap(page, "demo")
    expect(page.locator("#quality")).to_have_text("160 kbps")
    print("ok   free user on wifi: 160 kbps")
    context.close()

    # 2. The ops page: token entered once, counters move while a player plays; a stream is
    #    counted at 30 s; a purge from the page takes effect.
    ops_context = browser.new_context(viewport={"width": 1280, "height": 1200})
    ops = ops_context.new_page()
    ops.goto(stack.base + "/admin/ui/")
    ops.fill("#token", TOKEN)
    ops.click("#connect")
    ops.wait_for_function("() => /^\\d+$/.test(document.getElementById('responses-total').textContent)")
    before = int(ops.inner_text("#responses-total"))
    context, page = player(browser, stack, "listener", False, "4g")
    tap(page, "chords")
    ops.wait_for_function(f"() => Number(document.getElementById('responses-total').textContent) > {before}", timeout=5000)
    print(f"ok   ops page: responses {before} -> {ops.inner_text('#responses-total')} while a player plays")
    # Seek the 600 s track to 28 s and let it cross 30 s: one counted stream, visible on the ops page.
    tap(page, "long")
    page.evaluate("document.getElementById('audio').currentTime = 28")
    page.wait_for_function("() => document.getElementById('audio').currentTime > 30.6", timeout=20000)
    ops.wait_for_selector("#streams .row[data-key='long']", timeout=10000)
    print("ok   a play past 30 s is counted once:", stack.admin("/admin/streams?track=long"))
    if shots:
        page.wait_for_timeout(400)
        page.screenshot(path=os.path.join(shots, "player.png"))
    context.close()

    renditions = stack.admin("/admin/stats")["renditions"]
    assert renditions > 0, "nothing cached"
    ops.fill("#purge-input", "demo")
    ops.click("#purge-btn")
    expect(ops.locator("#purge-result")).to_contain_text("purged demo:")
    after = stack.admin("/admin/stats")["renditions"]
    assert after < renditions, f"purge did not take effect: {renditions} -> {after}"
    print(f"ok   purge from the ops page: cached renditions {renditions} -> {after}")
    ops.fill("#prewarm-input", "chords,masteronly")
    ops.click("#prewarm-btn")
    expect(ops.locator("#prewarm-result")).to_contain_text("finished", timeout=30000)
    print("ok   prewarm from the ops page:", ops.inner_text("#prewarm-result"))
    if shots:
        ops.wait_for_timeout(2500)
        ops.screenshot(path=os.path.join(shots, "ops.png"), full_page=True)
    ops_context.close()

    # 3. The player's other events reach the server: a seek, the end of a track (complete, then
    #    the next track starts on its own), and a skip (the next button while it plays).
    context, page = player(browser, stack, "events", True, "4g")
    tap(page, "demo")
    first = page.evaluate("document.getElementById('audio').src")
    page.evaluate("(() => { const a = document.getElementById('audio'); a.currentTime = Math.max(0, a.duration - 1.5); })()")
    page.wait_for_function(f"() => {{ const a = document.getElementById('audio'); return a && a.src !== {json.dumps(first)} && a.currentTime > 0.3; }}",
                           timeout=20000)
    page.click("#next")
    page.wait_for_function("() => { const a = document.getElementById('audio'); return a && a.currentTime > 0.3; }", timeout=20000)
    wanted = {"start", "seek", "complete", "skip"}
    events, deadline = [], time.time() + 15
    while time.time() < deadline:
        with contextlib.suppress(FileNotFoundError):
            with open(os.path.join(stack.dir, "playback.jsonl")) as f:
                events = [json.loads(line) for line in f if '"uid":"events"' in line]
        if wanted <= {e["event_type"] for e in events}:
            break
        time.sleep(0.2)
    kinds = [e["event_type"] for e in events]
    assert wanted <= set(kinds), f"events from the player: {kinds}"
    by_play = {}
    for e in events:
        by_play.setdefault(e["play_id"], []).append(e["event_type"])
    plays = list(by_play.values())
    assert len(plays) >= 3 and plays[0][:1] == ["start"] and "seek" in plays[0] and "complete" in plays[0], f"first play: {by_play}"
    assert "skip" in plays[1], f"the auto-next play was skipped: {by_play}"
    print("ok   the player's seek, complete (then auto-next) and skip reach the playback log:", " | ".join(" ".join(p) for p in plays))
    context.close()

    # 4. The quick start's demo login (no session made by us).
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.page_base + "&demo=1")
    page.wait_for_selector("body[data-ready='1']")
    tap(page, "demo")
    print("ok   demo login from the page plays", page.inner_text("#quality"))
    context.close()


def bench(stack, browser, plays, out):
    """tap-to-playing over `plays` taps: half cached, half cold transcodes, then prefetched next-track starts."""
    context, page = player(browser, stack, "bench", True, "4g")
    # The browser's HTTP cache off: /stream hands out the same signed URL for 5 minutes, so a
    # replayed track could start from Chromium's cache without asking the server at all, and a
    # "cold transcode" row would then time the browser, not a transcode.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    rows = []
    tap(page, "demo")  # media pipeline warm-up, not counted
    for i in range(plays):
        cold = i % 2 == 1
        track = "masteronly" if cold else ("demo" if i % 4 == 0 else "chords")
        if cold:
            stack.admin("/admin/cache/masteronly", "DELETE")  # the next play transcodes from the master
        ms = tap(page, track)
        rows.append(("cold-transcode" if cold else "cached", track, ms))
    # Next-track starts after the prefetch: play chords, jump to 12 s before its end, let it roll over.
    nexts = []
    for _ in range(3):
        tap(page, "chords")
        n_before = page.evaluate("window.oggedgePlayer.plays.length")
        page.evaluate("(() => { const a = document.getElementById('audio'); a.currentTime = a.duration - 12; })()")
        page.wait_for_function(f"() => window.oggedgePlayer.plays.length > {n_before} && window.oggedgePlayer.plays.at(-1).tapMs != null", timeout=30000)
        last = page.evaluate("window.oggedgePlayer.plays.at(-1)")
        nexts.append((last["how"], last["tapMs"]))
    context.close()

    def pct(values, p):
        s = sorted(values)
        return s[max(0, -(-p * len(s) // 100) - 1)]

    with open(out, "a") as f:
        def emit(line=""):
            print(line)
            f.write(line + "\n")
        emit(f"date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
        emit(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} cores; {subprocess.run(['chromium', '--version'], capture_output=True, text=True).stdout.strip()}")
        emit("command: scripts/pages-test.sh --bench " + str(plays) + f"   (server: {stack.binary})")
        emit("tap -> /stream -> <audio> 'playing', headless Chromium, player page on another origin, premium user on 4g (320 kbps)")
        for kind in ("cached", "cold-transcode"):
            v = [ms for k, _, ms in rows if k == kind]
            emit(f"  {kind:<15} n={len(v):2d}  p50 {pct(v, 50):6.1f} ms  p95 {pct(v, 95):6.1f} ms  max {max(v):6.1f} ms  all: {', '.join(f'{x:.0f}' for x in v)}")
        v = [ms for _, ms in nexts]
        emit(f"  next-track      n={len(v):2d}  ({', '.join(h for h, _ in nexts)})  all: {', '.join(f'{x:.1f}' for x in v)} ms")
        # The server's share, from its delivery log: /stream answers and the audio responses from byte 0.
        records = [json.loads(line) for line in open(stack.dir + "/delivery.jsonl")]
        streams = [r["duration_us"] / 1000 for r in records if r["path"].startswith("/stream/") and r["method"] == "GET"]
        emit(f"  server: GET /stream p50 {pct(streams, 50):.2f} ms p95 {pct(streams, 95):.2f} ms (n={len(streams)})")
        for cache in ("HIT", "MISS", "TRANSCODE"):
            starts = [r["playback_start_us"] / 1000 for r in records if r["cache"] == cache and r["playback_start_us"] is not None]
            if starts:
                emit(f"  server: {cache:<9} playback_start p50 {pct(starts, 50):7.1f} ms  p95 {pct(starts, 95):7.1f} ms (n={len(starts)})")
        emit("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--media", required=True)
    ap.add_argument("--screenshots")
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--bench-out")
    a = ap.parse_args()
    stack = Stack(a.bin, a.media)
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            if a.bench:
                bench(stack, browser, a.bench, a.bench_out)
            else:
                run_checks(stack, browser, a.screenshots)
            browser.close()
    except Exception:
        stack.close()
        sys.stderr.write(open(stack.dir + "/server.err").read()[-4000:])
        sys.stderr.write(f"\nserver files kept in {stack.dir}\n")
        raise
    stack.close()
    shutil.rmtree(stack.dir, ignore_errors=True)
    print("browser checks passed" if not a.bench else "bench done")


if __name__ == "__main__":
    main()
