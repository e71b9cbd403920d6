#!/usr/bin/env python3
"""Fires N GET requests at once (one client process, one thread per request, released together
by a barrier) and reports per request, in milliseconds from the release:

  ttfb        the status line and headers arrived (first byte of the response)
  first_audio the first Ogg page carrying audio (granule position > 0) arrived complete
  done        the whole body arrived

Usage: cold-client.py URL_FILE   (one URL per line; loopback only)
Prints one line per request: status ttfb first_audio done bytes   (first_audio "-" if none)
One process instead of N curl processes keeps the client's own start-up cost (which competes for
the same cores) out of the measurement.
"""
import http.client
import struct
import sys
import threading
import time
import urllib.parse

# Hand the interpreter lock over often: with the default 5 ms interval a thread whose bytes have
# arrived can wait behind the others and the client, not the server, adds the delay.
sys.setswitchinterval(0.0002)
urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
barrier = threading.Barrier(len(urls) + 1)
results = [None] * len(urls)
start = [0.0]


def first_audio_end(buf):
    """Offset just past the first complete Ogg page with a granule position > 0, or None."""
    pos = 0
    while pos + 27 <= len(buf):
        if buf[pos:pos + 4] != b"OggS":
            return None
        granule = struct.unpack_from("<q", buf, pos + 6)[0]
        segments = buf[pos + 26]
        if pos + 27 + segments > len(buf):
            return None
        end = pos + 27 + segments + sum(buf[pos + 27:pos + 27 + segments])
        if end > len(buf):
            return None
        if granule > 0:
            return end
        pos = end
    return None


def fetch(i, url):
    try:
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.connect()
    except OSError as error:
        results[i] = f"ERR - - - 0 {error}"
        barrier.wait()
        return
    barrier.wait()
    try:
        measure(i, u, conn)
    except (OSError, http.client.HTTPException) as error:
        results[i] = f"ERR - - - 0 {error}"


def measure(i, u, conn):
    conn.request("GET", u.path + ("?" + u.query if u.query else ""))
    resp = conn.getresponse()
    ttfb = time.monotonic()
    head = bytearray()
    audio = None
    total = 0
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        total += len(chunk)
        if audio is None:
            head += chunk
            if first_audio_end(head) is not None:
                audio = time.monotonic()
                head = bytearray()
    done = time.monotonic()
    conn.close()
    ms = lambda t: "-" if t is None else f"{(t - start[0]) * 1000:.1f}"
    results[i] = f"{resp.status} {ms(ttfb)} {ms(audio)} {ms(done)} {total}"


threads = [threading.Thread(target=fetch, args=(i, url)) for i, url in enumerate(urls)]
for t in threads:
    t.start()
start[0] = time.monotonic()
barrier.wait()
for t in threads:
    t.join()
print("\n".join(results))
