// Choosing the VBR quality that makes the average bitrate match the label.
//
// libvorbis's own bitrate-to-quality table (what `oggenc -b K` uses without --managed) assumes
// "typical" material; on real tracks the result is often 10-40 % off the label, and in either
// direction. Managed bitrate mode hits the label but costs 4-5x the CPU. So: encode short
// excerpts spread over the track at a first guess, measure, correct the quality, and verify
// once more; the main encode then runs in plain (fast) VBR mode at the calibrated quality.

import CVorbis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The result of calibrating a transcode.
public struct QualityCalibration: Sendable, Equatable {
    /// One trial encode of the excerpts.
    public struct Pass: Sendable, Equatable {
        /// libvorbis quality (-0.1...1.0).
        public let quality: Float
        /// Measured bitrate of the excerpts at that quality, kbit/s (Ogg framing included).
        public let kbps: Double
    }

    /// The quality the transcode uses (libvorbis scale, -0.1...1.0; `oggenc -q` is 10x).
    public let quality: Float
    /// The trial passes in order (empty when calibration was skipped).
    public let passes: [Pass]
    /// Audio per pass in seconds.
    public let trialSeconds: Double
    /// The bitrate the passes predict at `quality`, kbit/s (nil without passes).
    public let predictedKbps: Double?
}

enum QualityCalibrator {
    /// Typical ratio actual/nominal of libvorbis VBR on music: the first guess aims above the
    /// table so the first pass usually lands close.
    static let typicalRatio = 0.85
    /// Ogg framing overhead on top of the packet bytes (page headers, lacing values).
    static let framingOverhead = 1.008

    static func calibrate(source: any PCMSource, targetKbps: Int,
                          options: TranscodeOptions) throws(TranscodeError) -> QualityCalibration {
        let channels = source.channels, rate = source.sampleRate
        let target = Double(targetKbps) * 1000
        let guess = VorbisEncoder.quality(forNominal: target / typicalRatio, channels: channels, sampleRate: rate)
        guard options.maxTrialPasses > 0 else {
            let table = VorbisEncoder.quality(forNominal: target, channels: channels, sampleRate: rate)
            return QualityCalibration(quality: table, passes: [], trialSeconds: 0, predictedKbps: nil)
        }
        let excerpt = try TrialExcerpt(source: source, options: options)
        defer { excerpt.release() }
        try source.rewind()
        guard excerpt.frames > 0 else {
            return QualityCalibration(quality: guess, passes: [], trialSeconds: 0, predictedKbps: nil)
        }
        var passes: [QualityCalibration.Pass] = []
        func run(_ q: Float) throws(TranscodeError) -> Double {
            let bits = try excerpt.encodedBits(quality: q, channels: channels, sampleRate: rate)
            let bps = bits * framingOverhead / (Double(excerpt.frames) / Double(rate))
            passes.append(.init(quality: q, kbps: bps / 1000))
            return bps
        }
        func done(_ q: Float, _ bps: Double) -> QualityCalibration {
            QualityCalibration(quality: q, passes: passes, trialSeconds: Double(excerpt.frames) / Double(rate),
                               predictedKbps: bps / 1000)
        }
        func close(_ bps: Double) -> Bool { abs(bps / target - 1) <= options.acceptableError }

        if let fixed = options.fixedQuality { return done(fixed, try run(fixed)) }
        var q = guess
        var b = try run(q)
        var previous: (q: Float, bps: Double)?
        while !close(b), passes.count < options.maxTrialPasses {
            let next = nextQuality(q, b, previous, target: target, channels: channels, rate: rate)
            if abs(next - q) < 0.002 { break } // pinned at an end of the range
            previous = (q, b)
            q = next
            b = try run(q)
        }
        guard !close(b), let previous, let (q3, predicted) = secant(previous, (q, b), target: target) else {
            return done(q, b)
        }
        return done(q3, predicted)
    }

    /// The next quality to try: secant in log(bitrate) through the last two passes when there
    /// are two, else the nominal table corrected by the ratio actual/nominal measured at `q`.
    private static func nextQuality(_ q: Float, _ bps: Double, _ previous: (q: Float, bps: Double)?,
                                    target: Double, channels: Int, rate: Int) -> Float {
        if let previous, let (next, _) = secant(previous, (q, bps), target: target) { return next }
        let nominal = Double(VorbisEncoder.nominalBitrate(channels: channels, sampleRate: rate, quality: q) ?? 1)
        return VorbisEncoder.quality(forNominal: nominal * target / bps, channels: channels, sampleRate: rate)
    }

    /// Linear interpolation of log(bitrate) over quality through two passes, evaluated at the
    /// target; extrapolation limited to 0.1 (one `oggenc -q` step) beyond the measured span.
    /// Nil when the two points do not define an increasing line.
    private static func secant(_ a: (q: Float, bps: Double), _ b: (q: Float, bps: Double),
                               target: Double) -> (Float, Double)? {
        guard a.bps > 0, b.bps > 0, abs(b.q - a.q) > 1e-4, (b.bps - a.bps) * Double(b.q - a.q) > 0 else { return nil }
        let slope = Double(b.q - a.q) / (log(b.bps) - log(a.bps)) // quality per log-bitrate
        let range = VorbisEncoder.qualityRange
        let lo = max(range.lowerBound, min(a.q, b.q) - 0.1), hi = min(range.upperBound, max(a.q, b.q) + 0.1)
        let q = min(max(Float(Double(a.q) + (log(target) - log(a.bps)) * slope), lo), hi)
        return (q, exp(log(a.bps) + Double(q - a.q) / slope))
    }
}

/// Excerpts of the source held in memory for the trial encodes (bounded by
/// `maxTrialSeconds`), joined with short crossfades so the cuts do not read as transients
/// (a hard cut or a fade through silence costs bits the real encode does not spend).
final class TrialExcerpt {
    private(set) var frames = 0
    private var planes: [UnsafeMutablePointer<Float>?] = []

    init(source: any PCMSource, options: TranscodeOptions) throws(TranscodeError) {
        let rate = Double(source.sampleRate)
        let total = source.totalFrames
        var want = Int(options.maxTrialSeconds * rate)
        var windows = max(1, options.trialWindows)
        if let total {
            let share = Double(total) * options.trialFraction
            want = Int(min(max(share, options.minTrialSeconds * rate), options.maxTrialSeconds * rate))
            if Double(want) >= Double(total) * 0.5 { want = Int(total); windows = 1 }
        }
        guard want > 0 else { return }
        planes = (0..<source.channels).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: want) }
        // Window starts, lengths and overlaps are multiples of 128 frames (the short-block hop):
        // on material that went through Vorbis before (a rendition, or a master made from one),
        // encoding off that grid costs ~6 % more bits than on it, and the real encode is on it.
        let grid = 128
        let windowLength = want / windows / grid * grid
        guard windowLength > 0 else { return }
        let fade = min(2048, windowLength / 4 / grid * grid)
        let temp = (0..<source.channels).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: windowLength) }
        defer { temp.forEach { $0.deallocate() } }
        for w in 0..<windows {
            if let total, windows > 1 {
                // Stratified over the track with a golden-ratio jitter, so the windows never
                // sit on a regular grid (which can line up with the bars of the music).
                let span = Double(total - Int64(windowLength))
                let jitter = (Double(w + 1) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
                let at = span * (Double(w) + jitter) / Double(windows)
                try source.seek(toFrame: Int64(at) / Int64(grid) * Int64(grid))
            }
            let length = windowLength
            var got = 0
            while got < length {
                var dest: [UnsafeMutablePointer<Float>?] = temp.map { $0 + got }
                let n = try dest.withUnsafeMutableBufferPointer { (buffer) throws(TranscodeError) -> Int in
                    try source.read(into: buffer.baseAddress!, maxFrames: min(4096, length - got))
                }
                if n == 0 { break }
                got += n
            }
            let overlap = w > 0 ? min(fade, got / 2 / grid * grid, frames / grid * grid) : 0
            for c in 0..<planes.count {
                guard let p = planes[c] else { continue }
                let t = temp[c]
                let base = frames - overlap
                for i in 0..<overlap {
                    let g = Float(i) / Float(overlap)
                    p[base + i] = p[base + i] * (1 - g) + t[i] * g
                }
                (p + frames).update(from: t + overlap, count: got - overlap)
            }
            frames += got - overlap
        }
    }


    /// Bits of Vorbis packets produced by encoding the excerpts at `quality`.
    func encodedBits(quality: Float, channels: Int, sampleRate: Int) throws(TranscodeError) -> Double {
        let encoder = try VorbisEncoder(channels: channels, sampleRate: sampleRate, quality: quality)
        var bytes = 0
        var offset = 0
        while !encoder.inputEnded {
            encoder.write(frames: 1024) { buffer in
                let n = min(1024, frames - offset)
                for c in 0..<channels {
                    if let to = buffer[c], let from = planes[c] { to.update(from: from + offset, count: n) }
                }
                offset += n
                return n
            }
            encoder.drainPackets { packet in bytes += packet.pointee.bytes }
        }
        return Double(bytes * 8)
    }

    func release() {
        planes.forEach { $0?.deallocate() }
        planes = []
    }
}
