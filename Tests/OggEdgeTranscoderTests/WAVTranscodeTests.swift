import Foundation
import OggEdgeCore
import OggEdgeTranscoder
import Testing

/// A WAV master as the tests use it.
struct MasterCase: Sendable, CustomTestStringConvertible {
    let name: String
    let rate: Int
    let channels: Int
    let seconds: Double
    var testDescription: String { name }

    var path: String { TestMedia.music(name: name + ".wav", rate: rate, channels: channels, seconds: seconds) }
    var frames: Int64 { Int64((Double(rate) * seconds).rounded()) }

    static let stereo44 = MasterCase(name: "stereo44", rate: 44100, channels: 2, seconds: 8)
    static let mono48 = MasterCase(name: "mono48", rate: 48000, channels: 1, seconds: 6)
}

@Suite struct WAVTranscodeTests {
    @Test(arguments: [MasterCase.stereo44, MasterCase.mono48], [96, 160, 320])
    func transcodesMasterToEachBitrate(master: MasterCase, kbps: Int) throws {
        let out = try TestMedia.transcode(master.path, kind: .wavMaster, kbps: kbps, name: "\(master.name)_\(kbps).ogg")
        let t = out.transcoder

        #expect(t.probe.kind == .wavMaster)
        #expect(t.probe.channels == master.channels)
        #expect(t.probe.sampleRate == master.rate)
        #expect(t.probe.totalSamples == master.frames)

        let info = TestMedia.ogginfoClean(out.file)
        #expect(info.clean, "ogginfo: \(info.output)")

        // Exact duration: the last granule is the master's sample count.
        #expect(out.lastGranule == master.frames)
        #expect(t.samplesEncoded == master.frames)

        // Bitrate: within 15 % of the label. Mono tops out near 240 kbit/s at the highest
        // libvorbis quality; then zero padding (ignored by decoders) makes up the rest.
        #expect(t.nominalKbps == kbps)
        #expect(abs(out.kbps / Double(kbps) - 1) < 0.15, "\(out.kbps) kbit/s for \(kbps)")
        #expect(!t.calibration.passes.isEmpty)
        if master.channels == 1, kbps == 320 {
            #expect(t.calibration.quality == 1.0)
            #expect(t.paddingBytes > 0)
        }
        let stream = VorbisStreamInfo.parseIdentification(firstPage: out.bytes)
        #expect(stream?.nominalBitrate == t.nominalKbps * 1000)
        #expect(stream?.channels == master.channels)
        #expect(stream?.sampleRate == master.rate)
    }

    @Test func firstCallReturnsOnlyTheThreeHeaderPages() throws {
        let t = try VorbisTranscoder(sourcePath: MasterCase.stereo44.path, kind: .wavMaster, targetKbps: 160, serial: 9)
        #expect(t.firstAudioPageEnd == nil)
        let first = try t.next(minBytes: 1 << 20) // minBytes does not make it encode audio
        #expect(OggScan.endOfHeaders(first) == first.count)
        #expect(pageGranules(first) == [0, 0, 0]) // one page per header packet
        #expect(t.samplesEncoded == 0)
        #expect(t.firstAudioPageEnd == nil)
        #expect(!t.isFinished)
    }

    @Test func firstAudioPageComesEarlyAndIsSmall() throws {
        let t = try VorbisTranscoder(sourcePath: MasterCase.stereo44.path, kind: .wavMaster, targetKbps: 320, serial: 9)
        var bytes = try t.next(minBytes: 1)
        let headerEnd = bytes.count
        var calls = 1
        while t.firstAudioPageEnd == nil, calls < 4 {
            bytes += try t.next(minBytes: 1)
            calls += 1
        }
        let end = try #require(t.firstAudioPageEnd)
        #expect(calls <= 3)
        #expect(end <= Int64(bytes.count))
        #expect(OggScan.endOfFirstAudioPage(bytes) == Int(end))
        #expect(Int(end) - headerEnd <= 8192, "first audio page is \(Int(end) - headerEnd) bytes")
        // Not more than about a quarter second of audio had to be encoded for it.
        #expect(t.samplesEncoded <= 44100 / 2)
    }

    @Test func earlyPagesAreForcedAtLowBitrate() throws {
        let out = try TestMedia.transcode(MasterCase.stereo44.path, kind: .wavMaster, kbps: 96, minBytes: 1,
                                          name: "early96.ogg")
        let granules = pageGranules(out.bytes).filter { $0 > 0 }
        // During the first second, no page carries more than ~0.25 s (+ one long block) of audio.
        var previous: Int64 = 0
        for g in granules where g <= 44100 {
            #expect(g - previous <= 11025 + 2048, "page ending at \(g) after \(previous)")
            previous = g
        }
        #expect(granules.count(where: { $0 <= 44100 }) >= 3)
    }

    @Test func wavInfoTagsBecomeVorbisComments() throws {
        let source = TestMedia.bytes(MasterCase.stereo44.path)
        let info = Array("INFO".utf8) + WAVBuilder.chunk("INAM", Array("Tagged Song".utf8))
            + WAVBuilder.chunk("IART", Array("The Testers".utf8)) + WAVBuilder.chunk("IPRD", Array("Suite".utf8))
        var body = Array(source[8...]) // "WAVE" and the chunks
        body.insert(contentsOf: WAVBuilder.chunk("LIST", info), at: 4) // after "WAVE"
        let tagged = TestMedia.write(Array("RIFF".utf8) + WAVBuilder.le32(UInt32(body.count)) + body, to: "tagged.wav")

        let out = try TestMedia.transcode(tagged, kind: .wavMaster, kbps: 96, name: "tagged_96.ogg")
        #expect(out.transcoder.probe.comments == ["TITLE=Tagged Song", "ARTIST=The Testers", "ALBUM=Suite"])
        let back = try VorbisTranscoder(sourcePath: out.file, kind: .oggRendition, targetKbps: 96, serial: 1)
        #expect(back.probe.comments.prefix(3) == ["TITLE=Tagged Song", "ARTIST=The Testers", "ALBUM=Suite"])
        #expect(back.probe.comments.contains { $0.hasPrefix("ENCODER=OggEdge") })
        #expect(out.lastGranule == MasterCase.stereo44.frames)
    }

    @Test func serialNumberIsUsedOnEveryPage() throws {
        let out = try TestMedia.transcode(MasterCase.mono48.path, kind: .wavMaster, kbps: 96, name: "serial.ogg")
        let pages = oggPages(out.bytes)
        for (index, page) in pages.enumerated() {
            #expect(page.header.serial == 77)
            #expect(page.header.sequence == UInt32(index))
            #expect(OggCRC.verifyPage(Array(out.bytes[page.offset..<page.offset + page.header.totalLength])))
        }
        #expect(pages.last.map { $0.offset + $0.header.totalLength } == out.bytes.count)
        #expect(pages.last?.header.isEndOfStream == true)
        #expect(pages.count > 10)
    }

    @Test func unsupportedAndCorruptMastersAreRefused() throws {
        let good = TestMedia.bytes(MasterCase.stereo44.path)
        let eightBit = TestMedia.music(name: "eightbit.wav", rate: 44100, channels: 2, seconds: 1, bits: 8)
        let rate22k = TestMedia.music(name: "rate22k.wav", rate: 22050, channels: 2, seconds: 1)
        let cases: [(String, String)] = [
            (TestMedia.write(Array(good.prefix(30)), to: "truncated-header.wav"), "corrupt_master"),
            (TestMedia.write(Array(good.prefix(good.count / 2)), to: "truncated-data.wav"), "corrupt_master"),
            (TestMedia.write([], to: "empty.wav"), "corrupt_master"),
            (eightBit, "unsupported_wav_format"),
            (rate22k, "unsupported_wav_format"),
            (TestMedia.write(Array("not a wave file, just text".utf8), to: "text.wav"), "unsupported_wav_format"),
            (TestMedia.path("does-not-exist.wav"), "unreadable_source"),
            (TestMedia.directory, "unreadable_source"),
        ]
        for (path, expected) in cases {
            #expect(throws: TranscodeError.self, "\(path)") {
                try VorbisTranscoder(sourcePath: path, kind: .wavMaster, targetKbps: 160, serial: 1)
            }
            do {
                _ = try VorbisTranscoder(sourcePath: path, kind: .wavMaster, targetKbps: 160, serial: 1)
            } catch {
                #expect(error.reason == expected, "\(path): \(error.description)")
            }
        }
    }

    @Test func nonPositiveBitrateIsRefused() {
        #expect(throws: TranscodeError.self) {
            try VorbisTranscoder(sourcePath: MasterCase.mono48.path, kind: .wavMaster, targetKbps: 0, serial: 1)
        }
    }
}

/// The consecutive pages at the start of `bytes` (stops at the first incomplete one).
func oggPages(_ bytes: [UInt8]) -> [(offset: Int, header: OggPageHeader)] {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        var pages: [(offset: Int, header: OggPageHeader)] = []
        while offset < raw.count, let header = OggPageHeader.parse(UnsafeRawBufferPointer(rebasing: raw[offset...])),
              offset + header.totalLength <= raw.count {
            pages.append((offset, header))
            offset += header.totalLength
        }
        return pages
    }
}

/// Granule positions of the consecutive pages in `bytes`.
func pageGranules(_ bytes: [UInt8]) -> [Int64] {
    oggPages(bytes).map(\.header.granulePosition)
}
