#!/usr/bin/env bash
# Cold transcodes: time to first byte and to the first audio page at concurrency 1, 8 and 32,
# and the server's peak RSS, against a release build on loopback.
#
#   bench/transcode-cold.sh [KBPS=160] [CONCURRENCY_LIST="1 8 32"]
#
# Each request asks a rendition that does not exist yet, made from its own WAV master (copies
# of media/masters/demo.wav under distinct track ids, so every request is a separate encode).
# All requests come from one client process (bench/cold-client.py: a thread per request, released
# together), so the client's own start-up does not compete for the cores. TTFB is when the
# response head arrived, first audio when the first Ogg page with audio arrived complete, both at
# the client; playstart is the server's own measure (delivery log playback_start_us: Vorbis
# headers + first audio page written).
# Results are appended to bench/results/transcode-cold-<date>.txt (or $TRANSCODE_COLD_OUT) with machine, date and command.
set -euo pipefail
cd "$(dirname "$0")/.."
kbps="${1:-160}"; levels="${2:-1 8 32}"
swift build -c release --product oggedge >/dev/null
bin="$(swift build -c release --show-bin-path)/oggedge"
./scripts/make-sample-media.sh media >/dev/null
work="$(mktemp -d /tmp/oggedge-tc.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/media/masters" "$work/media/tracks"
export OGGEDGE_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END { if (NR==0) {print "-"; exit} i=int((p/100)*NR+0.999); if(i<1)i=1; if(i>NR)i=NR; printf "%.1f", a[i] }'; }
mkdir -p bench/results
out="${TRANSCODE_COLD_OUT:-bench/results/transcode-cold-$(date -u +%Y%m%d).txt}"
{
echo "date: $(date -u +%FT%TZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "command: bench/transcode-cold.sh $kbps \"$levels\"  (30 s stereo 44.1 kHz masters, ${kbps} kbps)"
printf '%-6s %9s %9s %9s %10s %10s %10s %10s %10s %12s %16s\n' conc ttfb_p50 ttfb_p99 ttfb_max audio_p50 audio_p99 audio_max srv_ps_p99 done_max peak_rss bitrate_err_range
for n in $levels; do
  rm -rf "$work/cache" "$work/media/masters"/*; mkdir -p "$work/cache"
  for i in $(seq "$n"); do cp media/masters/demo.wav "$work/media/masters/cold$i.wav"; done
  rm -f "$work/d-$n.jsonl"
  "$bin" serve --port 18099 --media "$work/media" --cache-dir "$work/cache" --delivery-log "$work/d-$n.jsonl" >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:18099/healthz >/dev/null && break; sleep 0.05; done
  for i in $(seq "$n"); do "$bin" sign "/tracks/cold${i}_${kbps}kbps.ogg" --ttl 600; done > "$work/urls"
  sed 's|^|http://127.0.0.1:18099|' "$work/urls" > "$work/full-urls"
  python3 bench/cold-client.py "$work/full-urls" > "$work/client"
  bad=$(awk '$1 != 200' "$work/client" | wc -l)
  [ "$bad" -eq 0 ] || { echo "non-200 answers: $bad"; head -3 "$work/client"; }
  rss=$(awk '/VmHWM/ {print $2 " kB"}' /proc/$pid/status)
  # Bitrate of every finished rendition against its label (30 s masters).
  # (finished transcodes as files in cache/renditions/; none there when they live only in the chunk cache: "n/a")
  err=$(for f in "$work/cache/renditions"/*.ogg; do if [ -f "$f" ]; then stat -c %s "$f"; fi; done | awk -v k="$kbps" '{e=($1*8/30/1000-k)/k*100; if(NR==1||e<lo)lo=e; if(NR==1||e>hi)hi=e} END {if (NR==0) print "n/a"; else printf "%+.1f..%+.1f%%", lo, hi}')
  kill $pid; wait $pid 2>/dev/null || true
  ttfb_ms=$(awk '{print $2}' "$work/client")
  audio_ms=$(awk '{print $3}' "$work/client")
  done_ms=$(awk '{print $4}' "$work/client")
  play_ms=$(grep -o '"playback_start_us":[0-9][0-9]*' "$work/d-$n.jsonl" | cut -d: -f2 | awk '{printf "%.1f\n", $1/1000}')
  printf '%-6s %9s %9s %9s %10s %10s %10s %10s %10s %12s %16s\n' "$n" "$(echo "$ttfb_ms" | pct 50)" "$(echo "$ttfb_ms" | pct 99)" "$(echo "$ttfb_ms" | pct 100)" \
    "$(echo "$audio_ms" | pct 50)" "$(echo "$audio_ms" | pct 99)" "$(echo "$audio_ms" | pct 100)" \
    "$(echo "$play_ms" | pct 99)" "$(echo "$done_ms" | pct 100)" "$rss" "$err"
done
} | tee -a "$out"
