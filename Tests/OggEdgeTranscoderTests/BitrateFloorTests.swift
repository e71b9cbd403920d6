import Testing
@testable import OggEdgeTranscoder

/// `BitrateFloor` on synthetic packet streams: 44.1 kHz, 1024-frame packets, 30 s.
@Suite struct BitrateFloorTests {
    static let rate = 44100
    static let packetFrames: Int64 = 1024
    static let total: Int64 = 44100 * 30

    /// Feeds packets whose natural size (bytes) is `size(frameAtStart)`; returns total bytes
    /// (natural + padding) and the padding, and checks the running output never falls more than a
    /// packet's worth under the goal line when `lineFromStart`.
    static func run(_ floor: inout BitrateFloor, target: Double, lineFromStart: Bool = false,
                    size: (Int64) -> Int) -> (bytes: Int64, padding: Int64) {
        var granule: Int64 = 0
        var output: Int64 = 0
        while granule < total {
            let natural = size(granule)
            granule = min(total, granule + packetFrames)
            output += Int64(natural + floor.padding(packetBytes: natural, granule: granule))
            if lineFromStart, granule > packetFrames {
                let line = BitrateFloor.goal * target / 8 * Double(granule) / Double(rate)
                #expect(Double(output) >= line - 1, "under the line at \(granule)")
            }
        }
        return (output, floor.paddingBytes)
    }

    static func kbps(_ bytes: Int64) -> Double { Double(bytes) * 8 / 30 / 1000 }

    @Test func contentAtTheLabelIsNotPadded() {
        let target = 160_000.0
        var floor = BitrateFloor(targetBitsPerSecond: target, sampleRate: Self.rate, totalFrames: Self.total,
                                 predictedBitsPerSecond: 158_000, pinnedAtTop: false)
        let perPacket = Int(target / 8 * Double(Self.packetFrames) / Double(Self.rate))
        let result = Self.run(&floor, target: target) { _ in perPacket }
        #expect(result.padding == 0)
    }

    @Test func tooSimpleContentFollowsTheGoalLineFromTheStart() {
        let target = 320_000.0
        var floor = BitrateFloor(targetBitsPerSecond: target, sampleRate: Self.rate, totalFrames: Self.total,
                                 predictedBitsPerSecond: 90_000, pinnedAtTop: true)
        #expect(floor.floorFromStart)
        let result = Self.run(&floor, target: target, lineFromStart: true) { _ in 260 } // ~90 kbit/s
        let average = Self.kbps(result.bytes)
        #expect(average >= 320 * BitrateFloor.goal - 1 && average <= 320, "\(average)")
        #expect(result.padding > 0)
    }

    @Test func aCalibrationThatGuessedHighIsCaughtUpInTheLastFifth() {
        let target = 160_000.0
        var floor = BitrateFloor(targetBitsPerSecond: target, sampleRate: Self.rate, totalFrames: Self.total,
                                 predictedBitsPerSecond: 160_000, pinnedAtTop: false)
        #expect(!floor.floorFromStart)
        var paddedBefore: Int64 = 0
        var granule: Int64 = 0
        var output: Int64 = 0
        let natural = 232 // ~80 kbit/s: half the label
        while granule < Self.total {
            granule = min(Self.total, granule + Self.packetFrames)
            let pad = floor.padding(packetBytes: natural, granule: granule)
            if Double(granule) < Double(Self.total) * BitrateFloor.catchUpStart { paddedBefore += Int64(pad) }
            output += Int64(natural + pad)
        }
        #expect(paddedBefore == 0)
        let average = Self.kbps(output)
        #expect(average >= 160 * BitrateFloor.goal - 1 && average < 160, "\(average)")
    }

    @Test func aQuietStartBalancedByALoudEndIsLeftAlone() {
        // A third at a fifth of the label, the rest at 1.4x: the average is at the label.
        let target = 96_000.0
        var floor = BitrateFloor(targetBitsPerSecond: target, sampleRate: Self.rate, totalFrames: Self.total,
                                 predictedBitsPerSecond: 96_000, pinnedAtTop: false)
        let perPacket = target / 8 * Double(Self.packetFrames) / Double(Self.rate)
        let result = Self.run(&floor, target: target) { frame in
            Int((frame < Self.total / 3 ? 0.2 : 1.4) * perPacket)
        }
        // At 80 % it is a little under the goal line, so the catch-up adds a little, no more.
        #expect(Double(result.padding) < 0.02 * Double(result.bytes))
        #expect(abs(Self.kbps(result.bytes) / 96 - 1) < 0.05)
    }

    @Test func unknownLengthPadsOnlyTooSimpleContent() {
        var simple = BitrateFloor(targetBitsPerSecond: 160_000, sampleRate: Self.rate, totalFrames: nil,
                                  predictedBitsPerSecond: 50_000, pinnedAtTop: true)
        #expect(simple.padding(packetBytes: 100, granule: 44100) > 0)
        var other = BitrateFloor(targetBitsPerSecond: 160_000, sampleRate: Self.rate, totalFrames: nil,
                                 predictedBitsPerSecond: 50_000, pinnedAtTop: false)
        #expect(other.padding(packetBytes: 100, granule: 44100) == 0)
    }
}
