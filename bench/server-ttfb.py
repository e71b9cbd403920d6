#!/usr/bin/env python3
"""The server's own share of the TTFB, from an OggEdge delivery log.

    bench/server-ttfb.py LOG OFFSET FROM_MS [TO_MS]

Reads LOG from byte OFFSET on (the log's size before a run, so a long log is not read again for
every run) and takes the records whose `ts` (the request's arrival, RFC 3339 in UTC with
milliseconds) is in [FROM_MS, TO_MS] (Unix milliseconds). Prints `server_ttfb_us n=N p50=A p99=B p999=C`: percentiles of `ttfb_us`,
the time from the request's arrival at the server (its bytes read off the socket) to its first
body byte handed to the socket. What a client measures beyond that is spent outside the request's
own handling: waiting in the socket for the event loop (which serves the requests ahead of it),
the kernel's network path and the client itself. Records without a `ttfb_us` (no body byte
written) do not count; a line that is not JSON (a record cut by the end of the file) is skipped.
"""
import calendar
import json
import sys
import time

_seconds = {}


def unix_millis(ts):
    """`2026-11-29T15:06:37.733Z` as Unix milliseconds (None if it is not one)."""
    if not isinstance(ts, str) or len(ts) != 24 or ts[19] != "." or ts[23] != "Z":
        return None
    whole = _seconds.get(ts[:19])
    if whole is None:
        try:
            whole = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return None
        _seconds[ts[:19]] = whole
    try:
        return whole * 1000 + int(ts[20:23])
    except ValueError:
        return None


def percentile(values, q):
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, offset, lo = argv[1], int(argv[2]), int(argv[3])
    hi = int(argv[4]) if len(argv) == 5 else None
    ttfb = []
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            for line in log:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                at, value = unix_millis(record.get("ts")), record.get("ttfb_us")
                if at is None or not isinstance(value, int) or at < lo or (hi is not None and at > hi):
                    continue
                ttfb.append(value)
    except OSError as error:
        print(f"server_ttfb_us n=0 error={error.strerror.replace(' ', '_')}")
        return 0
    ttfb.sort()
    fields = [f"n={len(ttfb)}"] + [
        f"{name}={'-' if percentile(ttfb, q) is None else percentile(ttfb, q)}"
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))
    ]
    print("server_ttfb_us " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
