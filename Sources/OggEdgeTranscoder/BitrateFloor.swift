// Keeping the label honest from below: padding for content too simple to use its bitrate.
//
// VBR at the highest libvorbis quality still spends only what the signal needs: a pure tone or a
// sine sweep labelled 320 kbit/s comes out at 55-110 kbit/s, far outside the label's ±15 %.
// libvorbis's own answer, in its bitrate manager with a hard minimum, is to pad audio packets
// with zero bytes (decoders stop reading a packet once its residue is decoded, so the padding is
// ignored and the audio is unchanged). `BitrateFloor` does the same in VBR mode, in two ways:
//
// - Content too simple for the label: when the calibration had to pin the quality at the top of
//   the range and still predicts less than the target, each packet is padded up to the goal line
//   (`goal` × target × elapsed time) from the start: nearly constant padding, and little risk of
//   ending over the label, since even the densest passages of such a track stay near or under it.
// - Any other track (length known): from `catchUpStart` of the track on, if the output so far is
//   below the goal line, each packet closes its share of the gap (the gap divided over the frames
//   still to come, itself included), so the average reaches the goal at the end. This catches a
//   calibration that guessed high. It starts late on purpose: a track whose quiet start is
//   balanced by a loud end must not be padded early (it would end over the label).
//
// Content that uses more than its label (the calibration's error on the high side) is not
// corrected here: bits cannot be taken back from a VBR encode.

/// Decides how many zero bytes to append to each audio packet. Pure state machine (no I/O).
struct BitrateFloor {
    /// Fraction of the target the catch-up aims at (slightly under, so a calibration that lands
    /// near the target is left alone).
    static let goal = 0.96
    /// Padding from the start applies only when the prediction falls short of this fraction.
    static let simpleBelow = 0.95
    /// Fraction of the track after which the catch-up may pad.
    static let catchUpStart = 0.8

    /// Target bytes per sample frame.
    private let targetBytesPerFrame: Double
    /// Whether the output follows the goal line from the start (content too simple for the label).
    let floorFromStart: Bool
    private let totalFrames: Int64?
    /// Output bytes so far (header and audio packets, padding included).
    private(set) var bytes: Int64 = 0
    /// Zero bytes added so far.
    private(set) var paddingBytes: Int64 = 0
    private var lastGranule: Int64 = 0

    /// - Parameters:
    ///   - targetBitsPerSecond: the label.
    ///   - sampleRate: frames per second.
    ///   - totalFrames: the track length, if known (enables the catch-up).
    ///   - predictedBitsPerSecond: what the calibration predicts at the chosen quality.
    ///   - pinnedAtTop: whether the chosen quality is the highest libvorbis offers.
    init(targetBitsPerSecond: Double, sampleRate: Int, totalFrames: Int64?,
         predictedBitsPerSecond: Double?, pinnedAtTop: Bool) {
        targetBytesPerFrame = targetBitsPerSecond / 8 / Double(max(1, sampleRate))
        self.totalFrames = totalFrames.flatMap { $0 > 0 ? $0 : nil }
        floorFromStart = pinnedAtTop && (predictedBitsPerSecond ?? 0) < targetBitsPerSecond * Self.simpleBelow
    }

    /// Counts header bytes (they are part of the file's average).
    mutating func countHeader(bytes count: Int) {
        bytes += Int64(count)
    }

    /// The zero bytes to append to an audio packet of `packetBytes` bytes whose granule position
    /// (frames decoded up to its end) is `granule`; counts the packet and its padding.
    mutating func padding(packetBytes: Int, granule: Int64) -> Int {
        let end = max(granule, lastGranule)
        let frames = end - lastGranule
        lastGranule = end
        var pad = 0.0
        let gap = Self.goal * targetBytesPerFrame * Double(end) - Double(bytes + Int64(packetBytes))
        if gap > 0 {
            if floorFromStart {
                pad = gap
            } else if let total = totalFrames, end <= total, Double(end) >= Double(total) * Self.catchUpStart {
                // Close this packet's share of the gap: its frames over those left, itself
                // included (the last packet closes it).
                pad = gap * Double(frames) / Double(max(1, total - end + frames))
            }
        }
        let n = max(0, Int(pad.rounded()))
        bytes += Int64(packetBytes + n)
        paddingBytes += Int64(n)
        return n
    }
}
