// The audio a calibration pass encodes, and how its bitrate is measured.
//
// Measured pitfalls (numbers in the transcoder report):
// - The first and last packets of any encode carry start-up and flush costs the real encode pays
//   once, so only steady-state packets are counted.
// - Excerpts joined by hard cuts or fades through silence overestimate by 5-10 % (every cut is a
//   transient); joined by a crossfade they are within a few percent on music. Ten short excerpts
//   with 512-frame crossfades sample a track's variation (a tremolo, say) better than five with
//   2048 (bench/bitrate-accuracy.sh: tremolo tones at 96 kbit/s +45 % -> +6 %). On
//   strictly periodic signals (test tones, square waves) a crossfade between excerpts out of
//   phase partly cancels and misled the calibration by 20-50 % either way; so each excerpt
//   starts at the offset (within `alignSearch` frames) whose waveform best matches the strip's
//   end, which makes the join of a periodic signal nearly seamless.
// - A source that went through Vorbis before (an Ogg rendition) is ~5-7 % cheaper to re-encode in
//   phase with its original long blocks, and the real encode is in phase. An excerpt cannot be
//   joined in phase (the join shifts the encoder's block grid), so for such sources every excerpt
//   gets its own encoder, is faded in (so the encoder starts with long blocks, see `BlockGrid`)
//   and starts in phase; its steady-state packets then match the full encode's byte for byte.
//   That costs one libvorbis analysis set-up (~2.6 ms) per excerpt, which is why masters (no
//   block grid in the signal) use the joined form.

/// Excerpts of the source held in memory (bounded by `maxTrialSeconds`) for the trial encodes.
final class TrialExcerpt {
    /// Audio held, in seconds (what one pass encodes).
    private(set) var seconds = 0.0
    private let channels: Int
    private let sampleRate: Int
    /// Excerpts: one crossfaded strip (joined form) or one per excerpt (separate form).
    private var strips: [[UnsafeMutablePointer<Float>]] = []
    private var lengths: [Int] = []
    /// Frames faded in at the start of each strip (not counted).
    private var fades: [Int] = []

    /// Shortest excerpt in the separate form: below this the uncounted packets dominate.
    static let minSeparateSeconds = 0.4
    /// Crossfade at the joins of the joined form, frames (`TranscodeOptions.trialCrossfadeFrames`).
    private let crossfade: Int
    /// Offsets searched for the best-matching start of a joined excerpt, frames.
    static let alignSearch = 1024
    /// Frames compared per candidate offset.
    static let alignCompare = 256

    init(source: any PCMSource, options: TranscodeOptions, quality: Float) throws(TranscodeError) {
        channels = source.channels
        sampleRate = source.sampleRate
        crossfade = max(64, options.trialCrossfadeFrames)
        let rate = Double(sampleRate)
        let separate = source.hasBlockGrid
        var want = Int(options.maxTrialSeconds * rate)
        var count = max(1, options.trialWindows)
        let total = source.totalFrames
        if let total {
            let share = Double(total) * options.trialFraction
            let least = separate ? max(options.minTrialSeconds, options.minRenditionTrialSeconds) : options.minTrialSeconds
            want = Int(min(max(share, least * rate), max(least, options.maxTrialSeconds) * rate))
            want = min(want, Int(total))
            if separate { count = max(1, min(count, Int(Double(want) / (Self.minSeparateSeconds * rate)))) }
            if !separate, want / count < 4 * crossfade { count = max(1, want / (4 * crossfade)) }
        }
        let length = want / count
        guard length > 0 else { return }
        let grid = VorbisEncoder.blockGrid(channels: channels, sampleRate: sampleRate, quality: quality)
        let joined = separate ? nil : (0..<channels).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: want) }
        if let joined {
            strips.append(joined)
            lengths.append(0)
            fades.append(0)
        }
        for w in 0..<count {
            if let total, count > 1 {
                // Stratified over the track with a golden-ratio jitter, so the excerpts never
                // sit on a regular grid (which can line up with the bars of the music).
                let span = Double(max(0, total - Int64(length)))
                let jitter = (Double(w + 1) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
                _ = try source.seekInPhase(near: Int64(span * (Double(w) + jitter) / Double(count)),
                                           hop: grid.hop, phase: grid.phase)
            }
            // Joined excerpts after the first read extra frames to choose their start from.
            let extra = (joined != nil && lengths[0] > 0) ? Self.alignSearch : 0
            let planes = (0..<channels).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: length + extra) }
            var got = 0
            while got < length + extra {
                var dest: [UnsafeMutablePointer<Float>?] = planes.map { $0 + got }
                let n = try dest.withUnsafeMutableBufferPointer { (buffer) throws(TranscodeError) -> Int in
                    try source.read(into: buffer.baseAddress!, maxFrames: min(4096, length + extra - got))
                }
                if n == 0 { break }
                got += n
            }
            var start = 0
            if let joined, extra > 0 {
                start = Self.bestStart(strip: joined, end: lengths[0], crossfade: crossfade, candidate: planes, available: got,
                                       search: min(extra, max(0, got - Self.alignCompare)))
                got = min(got - start, length)
            }
            seconds += Double(got) / rate
            guard let joined else {
                // Faded in, so the encoder starts with long blocks, in phase (see BlockGrid).
                let fade = min(grid.hop, got / 4)
                for plane in planes {
                    for i in 0..<fade { plane[i] *= Float(i) / Float(fade) }
                }
                fades.append(fade)
                strips.append(planes)
                lengths.append(got)
                continue
            }
            // Append to the strip, crossfading into what is already there.
            let end = lengths[0]
            let overlap = min(crossfade, got / 2, end)
            for c in 0..<channels {
                let to = joined[c] + end - overlap, from = planes[c] + start
                for i in 0..<overlap {
                    let g = Float(i) / Float(overlap)
                    to[i] = to[i] * (1 - g) + from[i] * g
                }
                (to + overlap).update(from: from + overlap, count: got - overlap)
                planes[c].deallocate()
            }
            lengths[0] = end + got - overlap
        }
    }

    deinit { release() }

    /// The offset in `0..<search` at which `candidate` best continues the strip: the crossfade
    /// blends the strip's last `crossfade` frames with the candidate's first ones, so compare the
    /// start of that region (least squared difference, all channels).
    static func bestStart(strip: [UnsafeMutablePointer<Float>], end: Int, crossfade: Int, candidate: [UnsafeMutablePointer<Float>],
                          available: Int, search: Int) -> Int {
        let overlap = min(crossfade, end)
        let compare = min(alignCompare, overlap, available)
        guard search > 1, compare > 0 else { return 0 }
        var best = 0, bestError = Float.infinity
        for offset in 0..<search where offset + compare <= available {
            var error: Float = 0
            for c in 0..<strip.count {
                let a = strip[c] + end - overlap, b = candidate[c] + offset
                for i in stride(from: 0, to: compare, by: 2) { // every other frame: enough to tell phases apart
                    let d = a[i] - b[i]
                    error += d * d
                }
            }
            if error < bestError {
                bestError = error
                best = offset
            }
        }
        return best
    }

    /// What one trial encode measured.
    struct Measurement {
        /// Bits and seconds of the steady-state packets of all strips (nil for a subset-only pass).
        var all: (bits: Double, seconds: Double)?
        /// The same for the subset: the first half of the joined strip, or the first half of the
        /// separate strips.
        var subset: (bits: Double, seconds: Double)
        /// Size of the three header packets (the setup header grows with the quality).
        var headerBytes: Int
    }

    /// Encodes the strips at `quality` and measures the steady-state packets: packets ending
    /// within the fade-in plus the first long block, or within the last long block, carry
    /// start-up and flush costs and are not counted. With `subsetOnly`, only the subset is
    /// encoded (half the work; the calibrator scales it by the subset/all ratio of an earlier full
    /// pass).
    ///
    /// Separate strips each get a fresh encoder (their block grid must start in phase). The
    /// joined strip borrows an encoder from `TrialEncoders` when `reuse` is set: it continues that
    /// encoder's stream, skips one more long block at its start (the cut from what came before),
    /// and pushes its last packets out with a mirrored tail instead of ending the stream, so the
    /// encoder can go back on the shelf.
    func measure(quality: Float, subsetOnly: Bool = false, reuse: Bool = false) throws(TranscodeError) -> Measurement {
        var all = (bits: 0.0, frames: 0), subset = (bits: 0.0, frames: 0), headerBytes = 0
        let joined = strips.count == 1
        for (index, (planes, length)) in zip(strips, lengths).enumerated() where length > 0 {
            let inSubset = joined || index < (strips.count + 1) / 2
            if subsetOnly, !inSubset { continue }
            let keep = joined && reuse
            let shelved = keep ? TrialEncoders.shared.take(channels: channels, sampleRate: sampleRate, quality: quality) : nil
            let encoder: VorbisEncoder
            if let shelved { encoder = shelved } else {
                encoder = try VorbisEncoder(channels: channels, sampleRate: sampleRate, quality: quality)
            }
            defer { if keep { TrialEncoders.shared.give(encoder) } }
            if headerBytes == 0 { headerBytes = encoder.headerBytes() }
            let long = encoder.grid.long
            let base = Int(encoder.framesWritten)
            let subsetEnd = joined ? length / 2 : length
            let encoded = subsetOnly && joined ? min(length, subsetEnd + 2 * long) : length
            let head = fades[index] + long + (base > 0 ? long : 0), tail = encoded - long
            var offset = 0, previous = 0
            let count = { (granule64: Int64, bytes: Int) in
                let granule = Int(granule64) - base, bits = Double(bytes * 8)
                defer { previous = max(previous, granule) }
                guard granule > head, granule <= tail else { return }
                all.bits += bits
                all.frames += granule - previous
                if inSubset, granule <= subsetEnd {
                    subset.bits += bits
                    subset.frames += granule - previous
                }
            }
            while offset < encoded {
                encoder.write(frames: 1024) { buffer in
                    let n = min(1024, encoded - offset)
                    for c in 0..<channels { buffer[c]?.update(from: planes[c] + offset, count: n) }
                    offset += n
                    return n
                }
                encoder.drainPacketSizes(count)
            }
            if keep {
                // The strip mirrored at its end (continuous, no transient) so every packet up to
                // `tail` comes out; the encoder stays open for the next calibration.
                let mirror = min(long / 2, encoded) // measured: more does not change the count
                var written = 0
                while written < mirror {
                    encoder.write(frames: 1024) { buffer in
                        let n = min(1024, mirror - written)
                        for c in 0..<channels {
                            let from = planes[c] + encoded - 1 - written
                            for i in 0..<n { buffer[c]![i] = from[-i] }
                        }
                        written += n
                        return n
                    }
                    encoder.drainPacketSizes(count)
                }
            } else {
                encoder.finish()
                encoder.drainPacketSizes(count)
            }
        }
        let rate = Double(sampleRate)
        return Measurement(all: subsetOnly ? nil : (all.bits, Double(all.frames) / rate),
                           subset: (subset.bits, Double(subset.frames) / rate), headerBytes: headerBytes)
    }

    func release() {
        strips.forEach { $0.forEach { $0.deallocate() } }
        strips = []
        lengths = []
        fades = []
    }
}
