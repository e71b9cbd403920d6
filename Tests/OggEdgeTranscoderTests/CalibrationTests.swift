import Foundation
import Testing
@testable import OggEdgeTranscoder

@Suite struct CalibrationTests {
    @Test(arguments: [(2, 44100, 96_000), (2, 44100, 160_000), (2, 44100, 320_000), (1, 48000, 96_000)])
    func qualityForNominalInvertsTheTable(channels: Int, rate: Int, bitrate: Int) throws {
        let q = VorbisEncoder.quality(forNominal: Double(bitrate), channels: channels, sampleRate: rate)
        let nominal = try #require(VorbisEncoder.nominalBitrate(channels: channels, sampleRate: rate, quality: q))
        #expect(abs(Double(nominal) / Double(bitrate) - 1) < 0.01)
        #expect(VorbisEncoder.qualityRange.contains(q))
    }

    @Test func qualityForNominalClampsToTheRange() {
        #expect(VorbisEncoder.quality(forNominal: 5_000_000, channels: 1, sampleRate: 48000) == 1.0)
        #expect(VorbisEncoder.quality(forNominal: 1_000, channels: 2, sampleRate: 44100) == -0.1)
    }

    /// A fresh encoder on a smooth start returns PCM up to `phase`, then every long/2 frames
    /// while the signal is steady: the alignment the Ogg-source trial relies on.
    @Test func freshEncoderBlockGridMatchesBlockGrid() throws {
        let encoder = try VorbisEncoder(channels: 1, sampleRate: 44100, quality: 0.5)
        let grid = encoder.grid
        #expect(grid.short == 256 && grid.long == 2048)
        #expect(grid.phase == 576 && grid.hop == 1024)
        var granules: [Int64] = []
        var written = 0
        while !encoder.inputEnded {
            encoder.write(frames: 1024) { buffer in
                let n = min(1024, 44100 - written)
                for i in 0..<n { buffer[0]![i] = 0.3 * Float(sin(Double(written + i) * 2 * Double.pi * 440 / 44100)) }
                written += n
                return n
            }
            encoder.drainPacketSizes { granule, _ in granules.append(granule) }
        }
        let audio = granules.filter { $0 > 0 }
        #expect(Array(audio.prefix(4)) == [576, 1600, 2624, 3648])
        #expect(audio.last == 44100)
    }

    @Test func ratioModelInterpolatesBetweenPasses() {
        let model = RatioModel((0.5, 140_000), (0.6, 170_000), channels: 2, rate: 44100)
        let q = model.quality(for: 160_000)
        #expect(q > 0.5 && q < 0.6)
        #expect(abs(model.bitrate(at: q) / 160_000 - 1) < 0.01)
        #expect(abs(model.bitrate(at: 0.5) - 140_000) < 1)
        #expect(abs(model.bitrate(at: 0.6) - 170_000) < 1)
        // Extrapolation is limited to one quality step beyond the measured span.
        #expect(model.quality(for: 400_000) <= 0.7 + 1e-4)
    }

    @Test func singlePassModelScalesTheTable() {
        // Content that encodes at 80 % of the table: aim the table at target / 0.8.
        let nominal = Double(VorbisEncoder.nominalBitrate(channels: 2, sampleRate: 44100, quality: 0.4) ?? 0)
        let model = RatioModel((0.4, nominal * 0.8), (0.4, nominal * 0.8), channels: 2, rate: 44100)
        let q = model.quality(for: 160_000)
        let expected = VorbisEncoder.quality(forNominal: 200_000, channels: 2, sampleRate: 44100)
        #expect(abs(q - expected) < 0.002)
    }

    @Test func withoutTrialPassesTheTableQualityIsUsed() throws {
        var options = TranscodeOptions()
        options.maxTrialPasses = 0
        let t = try VorbisTranscoder(sourcePath: MasterCase.stereo44.path, kind: .wavMaster, targetKbps: 160,
                                     serial: 1, options: options)
        #expect(t.calibration.passes.isEmpty)
        #expect(abs(t.calibration.quality - VorbisEncoder.quality(forNominal: 160_000, channels: 2, sampleRate: 44100)) < 1e-4)
    }

    /// The table alone (what `oggenc -b K` does) misses the label on this quiet, tonal content;
    /// the calibrated encode hits it. Guards against the calibration silently doing nothing.
    @Test func calibrationBeatsTheTableOnTonalContent() throws {
        let tonal = TestMedia.path("tonal.wav")
        if !FileManager.default.fileExists(atPath: tonal) {
            let made = TestMedia.run("sox", ["-R", "-r", "44100", "-c", "3", "-n", "-b", "16", "-c", "2", tonal,
                                              "synth", "6", "pluck", "C3", "pluck", "E4", "pluck", "G4",
                                              "remix", "1v0.4,2v0.3", "2v0.3,3v0.4"])
            try #require(made.status == 0, "\(made.output)")
        }
        var table = TranscodeOptions()
        table.maxTrialPasses = 0
        let plain = try transcodeKbps(tonal, kbps: 96, options: table)
        let calibrated = try transcodeKbps(tonal, kbps: 96, options: TranscodeOptions())
        #expect(abs(calibrated / 96 - 1) < 0.15, "calibrated \(calibrated)")
        #expect(abs(calibrated / 96 - 1) < abs(plain / 96 - 1), "table \(plain), calibrated \(calibrated)")
    }

    /// The encoder's own bitrate (padding not counted: it would rescue the table too).
    private func transcodeKbps(_ path: String, kbps: Int, options: TranscodeOptions) throws -> Double {
        let t = try VorbisTranscoder(sourcePath: path, kind: .wavMaster, targetKbps: kbps, serial: 1, options: options)
        var total = 0
        while !t.isFinished { total += try t.next(minBytes: 1 << 20).count }
        return Double(total - Int(t.paddingBytes)) * 8 / (Double(t.samplesEncoded) / 44100) / 1000
    }
}

/// Test tones: content that cannot use the label's bits even at the highest quality.
@Suite struct SimpleContentTests {
    static func sine(_ name: String, rate: Int, channels: Int) throws -> String {
        let path = TestMedia.path(name)
        if !FileManager.default.fileExists(atPath: path) {
            let made = TestMedia.run("sox", ["-n", "-r", "\(rate)", "-c", "\(channels)", "-b", "16", path,
                                             "synth", "6", "sine", "440", "vol", "0.5"])
            try #require(made.status == 0, "\(made.output)")
        }
        return path
    }

    @Test(arguments: [(44100, 2, 160), (44100, 2, 320), (48000, 1, 320)])
    func aSineMasterIsPaddedUpToItsLabel(rate: Int, channels: Int, kbps: Int) throws {
        // One master per case: cases run in parallel.
        let master = try Self.sine("sine\(rate)x\(channels)_\(kbps).wav", rate: rate, channels: channels)
        let out = try TestMedia.transcode(master, kind: .wavMaster, kbps: kbps, name: "sine\(rate)x\(channels)_\(kbps).ogg")
        let info = TestMedia.ogginfoClean(out.file)
        #expect(info.clean, "ogginfo: \(info.output)")
        #expect(out.lastGranule == Int64(rate * 6))
        #expect(out.transcoder.paddingBytes > 0)
        #expect(out.transcoder.nominalKbps == kbps)
        #expect(abs(out.kbps / Double(kbps) - 1) < 0.15, "\(out.kbps) kbit/s for \(kbps)")
    }
}

@Suite struct TrialEncoderReuseTests {
    /// The first pass's encoder goes back on the shelf and the next calibration with the same
    /// settings continues it; the measurement does not depend on what it encoded before.
    @Test func aSecondCalibrationReusesTheFirstPassEncoder() throws {
        // A layout no other test uses, so parallel tests do not take the shelved encoder.
        let master = TestMedia.music(name: "mono44reuse.wav", rate: 44100, channels: 1, seconds: 8)
        var options = TranscodeOptions()
        options.reuseTrialEncoders = true
        let first = try VorbisTranscoder(sourcePath: master, kind: .wavMaster, targetKbps: 112, serial: 1, options: options)
        let guess = try #require(first.calibration.passes.first).quality
        let shelved = try #require(TrialEncoders.shared.take(channels: 1, sampleRate: 44100, quality: guess))
        let before = shelved.framesWritten
        #expect(before > 0)
        TrialEncoders.shared.give(shelved)

        let second = try VorbisTranscoder(sourcePath: master, kind: .wavMaster, targetKbps: 112, serial: 2, options: options)
        let again = try #require(TrialEncoders.shared.take(channels: 1, sampleRate: 44100, quality: guess))
        #expect(again === shelved)
        #expect(again.framesWritten > before)
        TrialEncoders.shared.give(again)
        let a = try #require(first.calibration.passes.first).kbps
        let b = try #require(second.calibration.passes.first).kbps
        #expect(abs(a / b - 1) < 0.03, "first pass \(a) kbit/s fresh, \(b) reused")
    }
}

@Suite struct NominalTableTests {
    /// The interpolated table answers what libvorbis answers (within 0.2 %), between and on its
    /// points.
    @Test(arguments: [(2, 44100), (1, 48000), (2, 48000)])
    func tableMatchesLibvorbis(channels: Int, rate: Int) throws {
        var q: Float = -0.1
        while q <= 1.0 {
            let exact = try #require(VorbisEncoder.exactNominalBitrate(channels: channels, sampleRate: rate, quality: q))
            let table = try #require(VorbisEncoder.nominalBitrate(channels: channels, sampleRate: rate, quality: q))
            #expect(abs(Double(exact) / Double(table) - 1) < 0.002, "q \(q): libvorbis \(exact), table \(table)")
            q += 0.0137
        }
        #expect(VorbisEncoder.nominalBitrate(channels: channels, sampleRate: rate, quality: 1.01) == nil)
    }
}
