#!/usr/bin/env bash
# Bitrate accuracy of on-demand transcodes across kinds of content: music-like sample masters and
# synthetic test signals (noise, tones, a sweep, square waves, silence gaps, a quiet intro, mono),
# each transcoded to 96, 160 and 320 kbit/s by transcode-bench (the server's transcoder, default
# options, one process per encode). Prints the error against the label, the zero padding added and
# whether ogginfo is clean; appends the table to bench/results/bitrate-accuracy-<date>.txt.
#
#   bench/bitrate-accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product transcode-bench >/dev/null 2>&1
bin="$(swift build -c release --show-bin-path)/transcode-bench"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-accuracy.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp media/masters/demo.wav media/masters/chords.wav media/masters/masteronly.wav "$work/"
cd "$work"
s() { sox -R "$@" 2>/dev/null; }
s -n -r 44100 -c 2 -b 16 pink.wav synth 30 pinknoise vol 0.3
s -n -r 44100 -c 2 -b 16 white.wav synth 30 whitenoise vol 0.2
s -n -r 44100 -c 2 -b 16 brown.wav synth 30 brownnoise vol 0.5 tremolo 0.5 90
s -n -r 44100 -c 2 -b 16 sine440.wav synth 30 sine 440 vol 0.5
s -n -r 48000 -c 1 -b 16 sine1k-mono48.wav synth 30 sine 1000 vol 0.5
s -n -r 44100 -c 2 -b 16 sweep.wav synth 30 sine 40-16000 vol 0.5
s -n -r 48000 -c 2 -b 16 tremolo-tones48.wav synth 30 sine 220 sine 330 tremolo 3 60 vol 0.5
s -n -r 44100 -c 2 -b 16 square44.wav synth 30 square 110 square 165 vol 0.2 lowpass 3000
s -n -r 48000 -c 2 -b 16 square48.wav synth 30 square 110 square 165 vol 0.2 lowpass 3000
s -n -r 44100 -c 1 -b 16 pluck-mono.wav synth 30 pluck C3 pluck E4 vol 0.6
s -n -r 44100 -c 2 -b 16 quietintro.wav synth 10 sine 440 vol 0.02 : synth 20 pinknoise vol 0.4
s -n -r 44100 -c 2 -b 16 gaps.wav synth 0.3 pluck A3 pad 0 0.7 repeat 29 vol 0.7
s -n -r 44100 -c 2 -b 16 tones-mix.wav synth 30 sine 440 sine 660 pinknoise vol 0.3
out="$OLDPWD/bench/results/bitrate-accuracy-$(date -u +%Y%m%d).txt"
{
echo "date: $(date -u +%FT%TZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "command: bench/bitrate-accuracy.sh  (30 s masters; transcode-bench MASTER KBPS OUT, default options)"
printf '%-18s %5s %9s %8s %9s %s\n' master kbps error quality padding ogginfo
fails=0
for f in *.wav; do
  for k in 96 160 320; do
    line=$("$bin" "$f" "$k" out.ogg)
    err=$(grep -o 'err=[-0-9.]*%' <<<"$line" | cut -d= -f2)
    q=$(grep -oE ' q=-?[0-9.]+' <<<"$line" | cut -d= -f2)
    pad=$(grep -o 'padding=[0-9]*' <<<"$line" | cut -d= -f2)
    if ogginfo out.ogg | grep -qi 'warn\|error'; then oi="WARN"; else oi="clean"; fi
    e=${err%\%}; awk -v e="$e" 'BEGIN { exit !(e > 15 || e < -15) }' && { fails=$((fails + 1)); err="$err !"; }
    printf '%-18s %5s %9s %8s %9s %s\n' "${f%.wav}" "$k" "$err" "$q" "$pad" "$oi"
  done
done
echo "outside ±15 %: $fails"
} | tee -a "$out"
