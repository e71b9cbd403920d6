#!/usr/bin/env python3
"""Markdown report of a soak (bench/soak.sh) from the driver's result JSON.

usage: soak_report.py RESULT.json MINUTES ALIVE DRIVER_RC SETTINGS SERVER_OUT [COMMIT_AT_START]"""
import json, os, platform, statistics, subprocess, sys, time

res = json.load(open(sys.argv[1]))
minutes, alive, rc, settings, server_out = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
st, rec, samples = res["stats"], res["records"] or {}, res["samples"]


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) // 1024
seconds = res["seconds"]
warm = max(120, seconds // 6)          # warm-up: the first sixth (5 min of 30), at least 2 min
after = [s for s in samples if warm <= s[0] < warm + 60] or samples[:1]
last = [s for s in samples if s[0] >= samples[-1][0] - 60] if samples else []
rss_warm = statistics.median(s[1] for s in after) if after else 0
rss_end = statistics.median(s[1] for s in last) if last else 0
growth = 100.0 * (rss_end - rss_warm) / rss_warm if rss_warm else 0
rss_max = max((s[1] for s in samples), default=0)
fd_max = max((s[2] for s in samples), default=0)
five = sum(n for s, r, d, n in res["five_xx"])
five_undoc = sum(n for s, r, d, n in res["five_xx"] if not d)
if len(sys.argv) > 7:
    commit, dirty = sys.argv[7], ""   # what the run was started from (the binary's sources)
else:
    commit = sh("git", "rev-parse", "--short", "HEAD")
    dirty = " (+ uncommitted changes)" if sh("git", "status", "--porcelain", "--untracked-files=no") else ""

print(f"# Soak: {minutes} minutes against one node\n")
print(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit `{commit}`{dirty}")
print(f"- Machine: {os.cpu_count()} cores ({cpu}), {mem} MiB RAM, {platform.system()} {platform.release()}; "
      "shared with other builds and benchmarks while it ran")
print(f"- Command: `{settings} bench/soak.sh {minutes}` (release build, loopback)")
print(f"- Result: **{'PASS' if rc == '0' and alive == 'yes' else 'FAIL'}** (server alive at the end: {alive}, "
      f"failures: {len(res['failures'])})\n")
print("| measure | value |")
print("|---|---|")
print(f"| duration | {seconds} s |")
print(f"| audio requests (each with its own `uid`) | {rec.get('audio_requests', st.get('requests'))} |")
print(f"| other requests (health on idle connections, purges, prewarms) | {rec.get('plain_requests')} |")
print(f"| statuses | {', '.join(f'{k}: {v}' for k, v in sorted(res['statuses'].items()))} |")
print(f"| bytes verified | {st.get('bytes_verified', 0):,} ({st.get('verified_file', 0)} answers against the source file, "
      f"{st.get('verified_transcode', 0)} against the complete transcode with the same ETag) |")
print(f"| answers overlapping a purge of their track (transcode bytes not comparable) | {st.get('unverifiable_purged_meanwhile', 0)} |")
print(f"| 5xx | {five} ({five_undoc} undocumented) |")
print(f"| delivery records in the log ({rec.get('log_files')} files after rotations) | {rec.get('log')} ({rec.get('log_unique')} distinct `req_id`) |")
print(f"| delivery records in Redis | {rec.get('redis')} ({rec.get('redis_unique')} distinct `req_id`) |")
print(f"| aborted records by client kind | {rec.get('aborted_by_kind')} |")
print(f"| slow readers / stalled readers (cut at the send deadline) / hang-ups | "
      f"{st.get('slow_readers', 0)} / {st.get('stalled_readers', 0)} / {st.get('hangups', 0)} |")
print(f"| idle connections held | {res['idle']} |")
print(f"| purges / prewarm jobs | {st.get('purges', 0)} / {st.get('prewarms', 0)} |")
print(f"| Redis outages (shutdown and SIGSTOP, alternating) | {st.get('redis_outages', 0)} |")
print(f"| log rotations (rename + SIGHUP) | {st.get('rotations', 0)} |")
print(f"| RSS | baseline {res['baseline'][0]} kB; after warm-up ({warm} s) {rss_warm:.0f} kB; end {rss_end:.0f} kB "
      f"(**{growth:+.1f} %**); max {rss_max} kB |")
print(f"| descriptors | baseline {res['baseline'][1]}; max {fd_max}; end {res['final_fds']} |")
print()
if res["failures"]:
    print("## Failures\n")
    for f in res["failures"][:50]:
        print("- " + f)
    print()
print("## RSS and descriptors (every 60 s)\n")
print("| t (s) | RSS (kB) | fds |")
print("|---|---|---|")
for s in samples[::6] + ([samples[-1]] if samples and (len(samples) - 1) % 6 else []):
    print(f"| {s[0]:.0f} | {s[1]} | {s[2]} |")
print("\n## Events\n")
print("```")
for e in res["events"]:
    if "requests" not in e:
        print(e)
print("```")
try:
    errors = [l for l in open(server_out) if "error" in l.lower() or "critical" in l.lower()]
    print(f"\nServer log lines with error/critical: {len(errors)}")
    for l in errors[:10]:
        print("    " + l.rstrip()[:200])
except OSError:
    pass
