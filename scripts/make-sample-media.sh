#!/usr/bin/env bash
# make-sample-media.sh [DIR] — deterministic sample media for OggEdge (default DIR = media).
#
# Writes the layout of CONTRACT.md "Media layout" with synthetic music (sox plucked chords,
# a melody, a sine pad and a quiet noise bed so the Vorbis encoder has real work to do):
#
#   masters/demo.wav    tracks/demo_{96,160,320}kbps.ogg      30 s, stereo 44.1 kHz
#   masters/chords.wav  tracks/chords_{96,160,320}kbps.ogg    30 s, stereo 44.1 kHz
#   masters/masteronly.wav                                    20 s, stereo 48 kHz, master only
#   tracks/hionly_320kbps.ogg                                 20 s, stereo 44.1 kHz, no master
#   tracks/long_160kbps.ogg                                   600 s, stereo 44.1 kHz, no master
#
# Renditions use libvorbis bitrate management (`oggenc --managed -b K`) so the label is honest
# (average within ~2 % of K), a fixed serial number per file and Vorbis comments.
# Deterministic: the same sox/oggenc versions give byte-identical files (sox -R seeds its PRNG).
# Idempotent: files that exist and pass validation are kept, so a second run takes ~1 s.
# Every file is written to a temporary name and renamed into place; every .ogg must pass
# `ogginfo` without warnings or errors. Needs only sox and oggenc/ogginfo (vorbis-tools).
# Env: JOBS = parallel encoder processes (default: number of cores).
set -euo pipefail

DIR="${1:-media}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
ARTIST="OggEdge Samples"
ALBUM="OggEdge Sample Media"

for tool in sox soxi oggenc ogginfo; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install sox vorbis-tools)" >&2; exit 1; }
done

mkdir -p "$DIR/masters" "$DIR/tracks"
# Scratch space inside masters/ (same file system, so renames are atomic; ignored by git).
WORK="$(mktemp -d "$DIR/masters/.make-sample-media.XXXXXX")"
cleanup() {
    local pid
    for pid in $(jobs -p); do # our encoder jobs and the oggenc each one runs
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    rm -f "$DIR"/tracks/.*.tmp.$$
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
START=$SECONDS

# ---------------------------------------------------------------------------------------------
# Track definitions: id rate chord_len_samples repeats title | chords ("bass t1 t2 t3 melody")
# ---------------------------------------------------------------------------------------------
chords_of() {
    case "$1" in
        demo) # C G Am F, 2 s per chord, 15 chords = 30 s
            echo "C2 C3 E3 G3 E5|G2 G3 B3 D4 D5|A2 A3 C4 E4 C5|F2 F3 A3 C4 A4|C2 C3 E3 G3 G5" \
                 "|G2 G3 B3 D4 B4|A2 A3 C4 E4 E5|F2 F3 A3 C4 F5|C2 E3 G3 C4 C5|G2 D3 G3 B3 D5" \
                 "|A2 E3 A3 C4 A4|F2 C3 F3 A3 C5|D2 D3 F3 A3 F5|G2 G3 B3 D4 G5|C2 C3 G3 E4 C6" ;;
        chords) # Dm7 G7 Cmaj7 Am7 (jazzier), 1.5 s per chord, 20 chords = 30 s
            echo "D2 F3 A3 C4 D5|G2 F3 B3 D4 F5|C2 E3 G3 B3 E5|A2 G3 C4 E4 C5" \
                 "|D2 C4 F4 A4 A5|G2 B3 D4 F4 G5|C2 B3 E4 G4 B5|A2 C4 E4 G4 E5" \
                 "|D2 F3 A3 C4 F5|G2 F3 B3 D4 D5|C2 E3 G3 B3 C5|A2 G3 C4 E4 A4" \
                 "|D2 C4 F4 A4 C6|G2 B3 D4 F4 B5|C2 B3 E4 G4 G5|A2 C4 E4 G4 A5" \
                 "|E2 D3 G#3 B3 G#5|A2 C4 E4 G4 E5|D2 F3 A3 C4 D5|G2 F3 B3 D4 B4" ;;
        masteronly) # Em C G D, 2 s per chord at 48 kHz, 10 chords = 20 s
            echo "E2 E3 G3 B3 B4|C2 C3 E3 G3 G4|G2 G3 B3 D4 D5|D2 D3 F#3 A3 A4|E2 E3 G3 B3 G5" \
                 "|C2 G3 C4 E4 E5|G2 D3 G3 B3 B5|D2 A3 D4 F#4 F#5|E2 B3 E4 G4 E5|E2 E3 B3 E4 E6" ;;
        hionly) # A E F#m D, 2 s per chord, 10 chords = 20 s
            echo "A2 A3 C#4 E4 E5|E2 E3 G#3 B3 B4|F#2 F#3 A3 C#4 C#5|D2 D3 F#3 A3 A4|A2 E3 A3 C#4 A5" \
                 "|E2 B3 E4 G#4 G#5|F#2 C#4 F#4 A4 F#5|D2 A3 D4 F#4 D5|E2 E3 G#3 B3 E5|A2 A3 E4 A4 A5" ;;
        long) # F C Dm Bb, 2.5 s per chord, 24 chords = 60 s, played 10 times = 600 s
            local base="F2 F3 A3 C4 C5|C2 C3 E3 G3 G5|D2 D3 F3 A3 A4|A#1 A#2 D3 F3 F5" out="" i
            for i in 1 2 3 4 5 6; do
                out+="${out:+|}$base"
                base="$(echo "$base" | sed -E 's/ ([A-G]#?)5/ \14/; s/ ([A-G]#?)4\|/ \15|/')"
            done
            echo "$out" ;;
    esac
}
# id -> "rate chord_len_samples repeats title"
params_of() {
    case "$1" in
        demo)       echo "44100 88200 1 Demo" ;;
        chords)     echo "44100 66150 1 Chords" ;;
        masteronly) echo "48000 96000 1 Master_Only" ;;
        hionly)     echo "44100 88200 1 High_Only" ;;
        long)       echo "44100 110250 10 Long" ;;
    esac
}

# Expected total sample frames of a track.
frames_of() {
    local rate len reps title n
    read -r rate len reps title <<<"$(params_of "$1")"
    n=$(( $(chords_of "$1" | tr -cd '|' | wc -c) + 1 ))
    echo $(( n * len * reps ))
}

# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
# wav_ok FILE RATE FRAMES: 16-bit PCM stereo with the expected rate/length and an exact size.
wav_ok() {
    local f="$1" rate="$2" frames="$3" info
    [[ -s "$f" ]] || return 1
    info="$(for o in -r -c -b -s -t; do soxi "$o" "$f" 2>/dev/null || echo bad; done | tr '\n' ' ')"
    [[ "$info" == "$rate 2 16 $frames wav " ]] || return 1
    [[ "$(stat -c %s "$f")" == $(( 44 + frames * 4 )) ]]
}

# ogg_ok FILE RATE KBPS: ogginfo clean (no warning/error), right rate, channels and nominal rate.
ogg_ok() {
    local f="$1" rate="$2" kbps="$3" out
    [[ -s "$f" ]] || return 1
    out="$(ogginfo "$f" 2>&1)" || return 1
    ! grep -qiE 'warning|error' <<<"$out" || return 1
    grep -q "^Rate: $rate\$" <<<"$out" && grep -q '^Channels: 2$' <<<"$out" \
        && grep -q "^Nominal bitrate: $kbps\.0* kb/s" <<<"$out"
}

ogg_summary() { # FILE -> "30.000 s avg 161.6 kb/s"
    ogginfo "$1" 2>&1 | awk -F': ' '
        /Playback length/ { split($2, t, /m:|s/); len = t[1] * 60 + t[2] }
        /Average bitrate/ { avg = $2 + 0 }
        END { printf "%8.3f s  avg %6.1f kb/s", len, avg }'
}

# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
# render_wav ID OUT: synthesize the track's audio into OUT (written to a temp name, then renamed).
render_wav() {
    local id="$1" out="$2" rate len reps title frames tmp i=0 chord
    read -r rate len reps title <<<"$(params_of "$id")"
    frames="$(frames_of "$id")"
    tmp="$WORK/$id.render"
    mkdir -p "$tmp"
    local IFS='|'
    for chord in $(chords_of "$id"); do
        IFS=' ' read -r bass t1 t2 t3 mel <<<"$chord"
        # 8 synth channels mixed to stereo: bass, three chord tones, melody, sine pad, noise.
        sox -R -r "$rate" -c 8 -n -b 16 -c 2 "$tmp/$(printf 'c%04d' "$i").wav" \
            synth "${len}s" pluck "$bass" pluck "$t1" pluck "$t2" pluck "$t3" pluck "$mel" \
                  sine "$t1" pinknoise brownnoise \
            remix 1v0.28,2v0.2,3v0.1,5v0.16,6v0.035,7v0.025 1v0.28,3v0.12,4v0.2,5v0.12,6v0.035,8v0.025 \
            fade h 0.004 "${len}s" 0.06
        i=$((i + 1))
    done
    IFS=' '
    local repeat=()
    (( reps > 1 )) && repeat=(repeat $((reps - 1)))
    sox -R "$tmp"/c*.wav "$tmp/body.wav" "${repeat[@]}"
    # A continuous quiet noise bed over the whole track so repeated sections differ, then fades.
    sox -R -m -v 1 "$tmp/body.wav" -v 0.012 "|sox -R -r $rate -c 2 -n -p synth ${frames}s pinknoise" \
        -b 16 -c 2 "$tmp/out.wav" fade h 0.2 "${frames}s" 1.5
    rm -f "$tmp"/c*.wav "$tmp/body.wav"
    wav_ok "$tmp/out.wav" "$rate" "$frames" || { echo "error: rendered $id.wav is not as expected" >&2; return 1; }
    mv -f "$tmp/out.wav" "$out"
}

serial_of() { # deterministic, distinct per file
    local crc
    crc="$(printf '%s' "oggedge/$1" | cksum | cut -d' ' -f1)"
    echo $(( crc & 0x7fffffff ))
}

# encode ID KBPS WAV: tracks/{id}_{kbps}kbps.ogg from WAV, verified before it is renamed in place.
encode() {
    local id="$1" kbps="$2" wav="$3" rate len reps title t0=$SECONDS
    read -r rate len reps title <<<"$(params_of "$id")"
    local name="${id}_${kbps}kbps.ogg" final="$DIR/tracks/${id}_${kbps}kbps.ogg"
    local tmp="$DIR/tracks/.${name}.tmp.$$"
    if ! oggenc -Q --managed -b "$kbps" -s "$(serial_of "$name")" \
        -t "${title//_/ }" -a "$ARTIST" -l "$ALBUM" -c "TRACKID=$id" -c "RENDITION=${kbps}kbps" \
        -o "$tmp" "$wav"; then
        echo "error: oggenc failed for $name" >&2
        rm -f "$tmp"
        return 1
    fi
    if ! ogg_ok "$tmp" "$rate" "$kbps"; then
        echo "error: ogginfo rejects $name:" >&2
        ogginfo "$tmp" >&2 || true
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$final"
    printf 'created  %-28s %s  %10d B  (%d s)\n' "tracks/$name" "$(ogg_summary "$final")" \
        "$(stat -c %s "$final")" $((SECONDS - t0))
}

# A small job pool: at most $JOBS encoders at once; any failure fails the script.
RUNNING=0
FAILED=0
spawn() {
    if (( RUNNING >= JOBS )); then
        wait -n || FAILED=1
        RUNNING=$((RUNNING - 1))
    fi
    "$@" &
    RUNNING=$((RUNNING + 1))
}
drain() {
    while (( RUNNING > 0 )); do
        wait -n || FAILED=1
        RUNNING=$((RUNNING - 1))
    done
}

# id -> "master|temp" and its renditions
plan() {
    case "$1" in
        demo|chords) echo "master 96 160 320" ;;
        masteronly)  echo "master" ;;
        hionly)      echo "temp 320" ;;
        long)        echo "temp 160" ;;
    esac
}

# The long track first: its encode is the longest job, so it overlaps the others.
for id in long demo chords masteronly hionly; do
    read -r rate len reps title <<<"$(params_of "$id")"
    frames="$(frames_of "$id")"
    read -r kind kbpss <<<"$(plan "$id")"
    todo=()
    for kbps in $kbpss; do
        f="$DIR/tracks/${id}_${kbps}kbps.ogg"
        if ogg_ok "$f" "$rate" "$kbps"; then
            printf 'exists   %-28s %s  %10d B\n' "tracks/${id}_${kbps}kbps.ogg" "$(ogg_summary "$f")" "$(stat -c %s "$f")"
        else
            rm -f "$f"
            todo+=("$kbps")
        fi
    done
    if [[ "$kind" == master ]]; then
        wav="$DIR/masters/$id.wav"
        if wav_ok "$wav" "$rate" "$frames"; then
            state=exists
        else
            render_wav "$id" "$wav"
            state=created
        fi
        printf '%-8s %-28s %8.3f s  %d Hz 2 ch 16-bit PCM  %10d B\n' "$state" "masters/$id.wav" \
            "$(awk -v f="$frames" -v r="$rate" 'BEGIN { print f / r }')" "$rate" "$(stat -c %s "$wav")"
    elif (( ${#todo[@]} > 0 )); then
        wav="$WORK/$id.wav"
        render_wav "$id" "$wav"
    fi
    for kbps in "${todo[@]}"; do
        spawn encode "$id" "$kbps" "$wav"
    done
done
drain
(( FAILED == 0 )) || { echo "error: some renditions failed" >&2; exit 1; }
echo "sample media ready in $DIR ($((SECONDS - START)) s)"
