#!/usr/bin/env python3
"""make-seeds.py MEDIA_DIR OGGEDGE_BINARY — writes the seed corpora under fuzz/corpus/<Target>/.

Seeds come from real artefacts: Ogg pages cut from the sample media (scripts/make-sample-media.sh),
WAV headers of its masters, URLs printed by `oggedge sign`, config/example.json, and spool segments
in the on-disk format of Sources/OggEdgeRedis/SpoolFormat.swift. Each seed is small (< 64 kB).
The first byte of some targets' inputs selects a mode (see each target's source).
"""
import os, struct, subprocess, sys, base64, json

media, oggedge = sys.argv[1], sys.argv[2]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def pages(data):
    """(offset, length) of consecutive Ogg pages."""
    out, off = [], 0
    while off + 27 <= len(data) and data[off:off + 4] == b"OggS":
        n = data[off + 26]
        length = 27 + n + sum(data[off + 27:off + 27 + n])
        out.append((off, length))
        off += length
    return out

# --- Ogg pages and the Vorbis identification header -------------------------------------------
for name in ["demo_96kbps.ogg", "chords_160kbps.ogg", "hionly_320kbps.ogg"]:
    data = open(os.path.join(media, "tracks", name), "rb").read()
    ps = pages(data)
    stem = name[:-4]
    # Head up to the first audio page (headers + one audio page), checksums intact (last byte even
    # keeps them as they are; the target repairs CRCs only when the last byte is odd).
    end = ps[3][0] + ps[3][1] if len(ps) > 3 else len(data)
    head = data[:end]
    if len(head) < 64 * 1024:
        put("FuzzOggPages", stem + "-head", head)
    put("FuzzOggPages", stem + "-first-page", data[:ps[0][1]])
    put("FuzzOggPages", stem + "-tail", data[ps[-2][0]:])
    put("FuzzOggPages", stem + "-audio-page", data[ps[5][0]:ps[5][0] + ps[5][1]])
    first = data[:ps[0][1]]
    packet = first[28:28 + first[27]]
    put("FuzzVorbisIdHeader", stem + "-id", bytes([first[5]]) + packet)
put("FuzzVorbisIdHeader", "empty-bos", b"\x02")

# --- WAV headers: the first 4 kB of each master (header + some audio; the target sees the cut) --
for name in ["demo.wav", "masteronly.wav"]:
    data = open(os.path.join(media, "masters", name), "rb").read(4096)
    put("FuzzWAVHeader", name[:-4] + "-head", data)
def wav(channels, rate, frames, tag=1, extra=b"", data_size=None):
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * 2, channels * 2, 16)
    if tag == 0xFFFE:
        fmt += struct.pack("<HHI", 22, 16, 3) + struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    audio = b"\x01\x00" * channels * frames
    size = len(audio) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", size) + audio
    return b"RIFF" + struct.pack("<I", len(body)) + body
info = b"INFO" + b"INAM" + struct.pack("<I", 5) + b"Demo\x00\x00" + b"IART" + struct.pack("<I", 4) + b"Me\x00\x00"
put("FuzzWAVHeader", "mono-48k-list", wav(1, 48000, 8, extra=b"LIST" + struct.pack("<I", len(info)) + info))
put("FuzzWAVHeader", "extensible", wav(2, 44100, 4, tag=0xFFFE))
put("FuzzWAVHeader", "streaming-size", wav(2, 44100, 4, data_size=0xFFFFFFFF))

# --- Range headers: what players and test suites send ------------------------------------------
ranges = ["bytes=0-", "bytes=0-499", "bytes=-500", "bytes=500-", "bytes=0-0,-1", "bytes=0-1,4-5,8-9",
          "bytes = 0-1 , 3-4", "Bytes=1-2,,5-6", "bytes=0-,1-,2-,3-,4-", "bytes=9223372036854775807-",
          "bytes=10-5", "items=0-1", "bytes=0-1,1-2,2-3,3-4,4-5,5-6,6-7,7-8,8-9,9-10,10-11,11-12,12-13,13-14,14-15,15-16,16-17"]
for i, r in enumerate(ranges):
    put("FuzzRange", "range-%02d" % i, bytes([i * 9 % 256 & 0x7F]) + r.encode())

# --- Conditional headers: one value per line (If-Match, If-None-Match, IMS, IUS, If-Range) ------
conds = [
    ['"a1b2c3-160"', '', '', '', ''],
    ['', 'W/"a1b2c3-160", "x"', '', '', ''],
    ['*', '*', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994'],
    ['"x", "y"', '"a1b2c3-160"', '', '', '"a1b2c3-160"'],
    ['', '', 'Mon, 24 Nov 2025 16:00:00 GMT', '', 'Mon, 24 Nov 2025 16:00:00 GMT'],
    ['W/"a1b2c3-160"', ' , ,"a"', 'Wed, 29 Feb 2024 23:59:60 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', 'W/"a1b2c3-160"'],
]
for i, c in enumerate(conds):
    absent = sum(1 << j for j, v in enumerate(c) if v == '')
    put("FuzzConditionals", "cond-%02d" % i, bytes([absent]) + "\n".join(c).encode())

# --- Request targets: URLs printed by `oggedge sign` -----------------------------------------
env = dict(os.environ, OGGEDGE_SIGNING_KEYS="fuzz:" + base64.b64encode(b"\x5a" * 32).decode())
signs = [
    ["/tracks/demo_160kbps.ogg", "--ttl", "3600"],
    ["/tracks/demo_320kbps.ogg", "--ttl", "60", "--uid", "user 42/ä", "--maxkbps", "320"],
    ["/tracks/demo_96kbps.ogg", "--ttl", "60", "--acl", "/tracks/demo_", "--ip", "::ffff:192.0.2.7"],
    ["/tracks/chords_160kbps.ogg", "--ttl", "60", "--acl", "/tracks/", "--ip", "2001:db8::1"],
]
for i, args in enumerate(signs):
    url = subprocess.run([oggedge, "sign"] + args, env=env, capture_output=True, text=True, check=True).stdout.strip()
    ip = args[args.index("--ip") + 1] if "--ip" in args else "192.0.2.1"
    put("FuzzRequestTarget", "signed-%02d" % i, b"\x00" + url.encode() + b"\n" + ip.encode())
for i, raw in enumerate(["/tracks/demo_160kbps.ogg", "/tracks/../etc_96kbps.ogg?exp=1&kid=a&sig=x",
                         "/tracks/a_128kbps.ogg?sig=&sig=", "/tracks/x_96kbps.ogg?exp=-1&kid=%zz&sig=AAAA"]):
    put("FuzzRequestTarget", "raw-%02d" % i, b"\x00" + raw.encode() + b"\n[::1]")
put("FuzzRequestTarget", "roundtrip-00", b"\x01\xff\x10demo\nuser-42\n10.0.0.1")
put("FuzzRequestTarget", "roundtrip-01", b"\x01\x4b\x00Long_Track-id\n\xc3\xa4 \"quoted\"\n::1")

# --- Beacon and prewarm JSON -------------------------------------------------------------------
url = subprocess.run([oggedge, "sign", "/tracks/demo_160kbps.ogg", "--ttl", "60", "--acl", "/tracks/demo_"],
                     env=env, capture_output=True, text=True, check=True).stdout.strip()
beacons = [
    {"event_id": "e1", "url": url, "tap_to_playing_ms": 412.5, "stall_count": 1, "stall_ms": 80, "player": "ref/1.0"},
    {"event_id": "p7:3", "event_type": "progress", "play_id": "p7", "position_ms": 30012, "url": "http://127.0.0.1:8080" + url},
    {"event_id": "p7:4", "event_type": "seek", "play_id": "p7", "position_ms": 0, "url": url, "stall_count": True},
    {"event_id": "x", "url": url, "tap_to_playing_ms": None, "unknown": [1, {"a": 2}]},
]
for i, b in enumerate(beacons):
    put("FuzzBeaconJSON", "beacon-%02d" % i, json.dumps(b))
put("FuzzBeaconJSON", "prewarm-00", json.dumps({"tracks": ["demo", "chords"], "kbps": [96, 160], "heads": True}))

# --- Stream API: flags, expiry (8 bytes), then trackId / cookies (NUL-separated) / X-Connection-Type / userId
streams = [
    (0x03, "demo", "session=abc123; theme=dark", "3g", "user-42"),
    (0x06, "chords", "a=b\0session=\"q\\x\"", "", "ü ser\t\"x\""),
    (0x01, "hionly", "session=" + "z" * 300, "  SLOW-2G ", "u"),
]
for i, (flags, track, cookie, conn, uid) in enumerate(streams):
    put("FuzzStreamAPI", "stream-%02d" % i, bytes([flags]) + struct.pack("<q", 1796000000) +
        "\n".join([track, cookie, conn, uid]).encode())

# --- Config files ------------------------------------------------------------------------------
example = json.load(open(os.path.join(os.path.dirname(root), "..", "config", "example.json")))
example["signing-keys"] = "fuzz:" + base64.b64encode(b"\x5a" * 32).decode()
put("FuzzConfig", "example", json.dumps(example, indent=2))
example.update({"upstream": ["http://127.0.0.1:8081", "http://127.0.0.1:8082"], "fast-lane": "off",
                "redis-url": "redis://127.0.0.1:6379", "stream-api": "on", "upstream-slice-chunks": 4})
put("FuzzConfig", "full", json.dumps(example))
put("FuzzConfig", "bad-types", '{"port": "80x", "signing-keys": ["a:b"], "fast-lane": true, "host": ""}')

# --- Spool segments (SpoolFormat.swift: u32 len | u32 fnv1a | payload) --------------------------
def fnv1a(b):
    h = 0x811C9DC5
    for x in b:
        h = ((h ^ x) * 0x01000193) & 0xFFFFFFFF
    return h
def record(sid, fields):
    strings = [sid] + [s for kv in fields for s in kv]
    payload = struct.pack("<I", len(strings)) + b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in strings)
    return struct.pack("<II", len(payload), fnv1a(payload)) + payload
r1 = record("1764000000000-0", [("ts", "2025-11-24T16:00:00.000Z"), ("track", "demo"), ("kbps", "160"), ("bytes", "610734")])
r2 = record("1764000000000-1", [("ts", "2025-11-24T16:00:00.001Z"), ("uid", "ü"), ("status", "206")])
r3 = record("1764000000123-0", [])
put("FuzzSpoolSegment", "segment-3", b"\x00" + r1 + r2 + r3)
put("FuzzSpoolSegment", "segment-torn", b"\x00" + r1 + r2[:len(r2) // 2])
put("FuzzSpoolSegment", "segment-corrupt", b"\x00" + r1[:12] + b"\xff" + r1[13:] + r2)
put("FuzzSpoolSegment", "roundtrip", b"\x01" + struct.pack("<QQ", 1764000000000, 7) + b"ts\x002025\x00uid\x00\xc3\xa4")
put("FuzzSpoolSegment", "commit", b"\x02v1 3 1024 1764000000000-1\n")
put("FuzzSpoolSegment", "commit-none", b"\x02v1 1 0 -\n")
