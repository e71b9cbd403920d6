#!/usr/bin/env bash
# transcode-speed.sh [MASTER.wav ...] — OggEdge transcoder vs `oggenc -b K` (unmanaged), 96/160/320.
#
# What it runs, per master and bitrate K:
#   reference: oggenc -Q -b K -o OUT MASTER        (vorbis-tools; libvorbis VBR at the quality
#              libvorbisenc's bitrate table guesses for K, no bitrate management)
#   ours:      transcode-bench MASTER K OUT        (OggEdgeTranscoder.VorbisTranscoder, pulling
#              64 KiB chunks with next(minBytes:) and writing them to OUT: trial-calibrated VBR,
#              see Sources/OggEdgeTranscoder/QualityCalibrator.swift)
# Each run is repeated REPEAT times (default 5); the table shows the fastest wall time and the
# lowest CPU time (user+sys) of each process, our time measured inside the process (in_proc:
# without the ~7 ms start-up of a Swift binary, i.e. what the server pays), the speed ratios
# oggenc/ours of the process wall and CPU times (>= 0.9 is the goal), the
# resulting average bitrates (file bytes * 8 / duration, headers included) and their error
# against K, and whether ogginfo is clean.
#
# transcode-bench is the package's small benchmark executable (Sources/transcode-bench), built
# here with swift build -c release. Set TRANSCODE_BENCH to use another binary, or DEV_PACKAGE to
# build it from another package. Needs oggenc, ogginfo and soxi (apt-get install vorbis-tools sox).
#
# Env: REPEAT (5), KBPS ("96 160 320"), OUT_DIR (a temp dir), TRANSCODE_BENCH, DEV_PACKAGE,
# RESULTS (the table is also appended there; default bench/results/transcode-speed-<date>.txt,
# /dev/null to skip). Default masters: media/masters/*.wav (run scripts/make-sample-media.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
REPEAT="${REPEAT:-5}"
KBPS="${KBPS:-96 160 320}"
DEV_PACKAGE="${DEV_PACKAGE:-$PWD}"
OUT_DIR="${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/transcode-speed.XXXXXX")}"
RESULTS="${RESULTS:-bench/results/transcode-speed-$(date +%Y%m%d).txt}"
mkdir -p "$OUT_DIR" "$(dirname "$RESULTS")"

for tool in oggenc ogginfo soxi; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install vorbis-tools sox)" >&2; exit 1; }
done

if [[ -z "${TRANSCODE_BENCH:-}" ]]; then
    echo "# building transcode-bench in $DEV_PACKAGE (swift build -c release)" >&2
    (cd "$DEV_PACKAGE" && swift build -c release --product transcode-bench >&2)
    TRANSCODE_BENCH="$(cd "$DEV_PACKAGE" && swift build -c release --show-bin-path)/transcode-bench"
fi
[[ -x "$TRANSCODE_BENCH" ]] || { echo "error: $TRANSCODE_BENCH is not executable" >&2; exit 1; }

if (( $# > 0 )); then MASTERS=("$@"); else MASTERS=(media/masters/*.wav); fi
[[ -e "${MASTERS[0]}" ]] || { echo "error: no masters (run scripts/make-sample-media.sh media)" >&2; exit 1; }

# timed OUTVAR CMD...: runs CMD REPEAT times; OUTVAR="best_wall_ms best_cpu_ms" (CPU = user+sys of
# the process). Measured with python3's os.wait4 (sub-ms) when available, else /usr/bin/time (10 ms).
timed() {
    local __out=$1; shift
    local result
    if command -v python3 >/dev/null; then
        result="$(python3 - "$REPEAT" "$@" <<'PY'
import os, subprocess, sys, time
repeat, cmd = int(sys.argv[1]), sys.argv[2:]
best_wall = best_cpu = float("inf")
for _ in range(repeat):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.monotonic() - start) * 1000
    if status != 0:
        sys.stderr.write(p.stderr.read().decode(errors="replace"))
        sys.exit("error: %s failed" % " ".join(cmd))
    best_wall = min(best_wall, wall)
    best_cpu = min(best_cpu, (usage.ru_utime + usage.ru_stime) * 1000)
print("%.1f %.1f" % (best_wall, best_cpu))
PY
)" || exit 1
    else
        local best_wall=999999999 best_cpu=999999999 i start end wall cpu user sys
        for ((i = 0; i < REPEAT; i++)); do
            start=$(date +%s%N)
            /usr/bin/time -f "%U %S" -o "$OUT_DIR/time.txt" "$@" >/dev/null 2>"$OUT_DIR/stderr.txt" \
                || { cat "$OUT_DIR/stderr.txt" >&2; echo "error: $*" >&2; exit 1; }
            end=$(date +%s%N)
            wall=$(( (end - start) / 1000000 ))
            read -r user sys < "$OUT_DIR/time.txt"
            cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
            (( wall < best_wall )) && best_wall=$wall
            (( cpu < best_cpu )) && best_cpu=$cpu
        done
        result="$best_wall $best_cpu"
    fi
    printf -v "$__out" '%s' "$result"
}

# kbps FILE SECONDS: average bitrate of the whole file.
kbps_of() { awk -v b="$(stat -c %s "$1")" -v s="$2" 'BEGIN { printf "%.1f", b * 8 / s / 1000 }'; }
clean_of() { local o; o="$(ogginfo "$1" 2>&1)" && ! grep -qiE 'warning|error' <<<"$o" && echo clean || echo WARN; }

report() {
echo "# transcode-speed.sh — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //')"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)   repeat: $REPEAT (best of)"
echo "# oggenc: $(oggenc --version 2>&1 | head -1); libvorbis: $(dpkg-query -W -f '${Version}' libvorbisenc2 2>/dev/null || echo '?')"
echo "# reference: oggenc -Q -b K -o OUT MASTER ; ours: $TRANSCODE_BENCH MASTER K OUT"
printf '%-12s %4s | %9s %8s %7s | %9s %8s %9s %7s %7s | %10s %9s | %s\n' \
    master K oggenc_ms cpu_ms kbps ours_ms cpu_ms in_proc kbps err speed_wall speed_cpu ogginfo
for master in "${MASTERS[@]}"; do
    seconds="$(soxi -D "$master")"
    name="$(basename "$master" .wav)"
    for k in $KBPS; do
        ref="$OUT_DIR/${name}_${k}_oggenc.ogg"
        ours="$OUT_DIR/${name}_${k}_ours.ogg"
        timed REF oggenc -Q -b "$k" -o "$ref" "$master"
        timed OURS "$TRANSCODE_BENCH" "$master" "$k" "$ours"
        read -r ref_wall ref_cpu <<<"$REF"
        read -r our_wall our_cpu <<<"$OURS"
        # Time inside the process (open, calibrate, encode, write), without process start-up.
        in_proc="$(for _ in 1 2 3; do "$TRANSCODE_BENCH" "$master" "$k" "$ours"; done \
            | sed -nE 's/^wall=([0-9]+) ms.*/\1/p' | sort -n | head -1)"
        ref_kbps="$(kbps_of "$ref" "$seconds")"
        our_kbps="$(kbps_of "$ours" "$seconds")"
        printf '%-12s %4s | %9s %8s %7s | %9s %8s %9s %7s %6s%% | %9sx %8sx | %s\n' \
            "$name" "$k" "$ref_wall" "$ref_cpu" "$ref_kbps" "$our_wall" "$our_cpu" "$in_proc" "$our_kbps" \
            "$(awk -v a="$our_kbps" -v k="$k" 'BEGIN { printf "%+.1f", (a / k - 1) * 100 }')" \
            "$(awk -v r="$ref_wall" -v o="$our_wall" 'BEGIN { printf "%.2f", r / (o > 0 ? o : 1) }')" \
            "$(awk -v r="$ref_cpu" -v o="$our_cpu" 'BEGIN { printf "%.2f", r / (o > 0 ? o : 1) }')" \
            "oggenc $(clean_of "$ref"), ours $(clean_of "$ours")"
    done
done
echo "# outputs in $OUT_DIR"
}
report | tee -a "$RESULTS"
