import Foundation
import OggEdgeCore
import OggEdgeTranscoder
import Testing

/// A 320 kbit/s rendition with tags, as `tracks/{id}_320kbps.ogg` would be.
enum RenditionFixture {
    static let tags = ["TITLE=Test Title", "ARTIST=Test Artist", "ALBUM=Test Album", "TRACKID=fixture",
                       "RENDITION=320kbps"]
    static var path: String {
        TestMedia.rendition(of: MasterCase.stereo44.path, name: "fixture_320kbps.ogg", kbps: 320, tags: tags)
    }

    static var bytes: [UInt8] { TestMedia.bytes(path) }
}

@Suite struct OggSourceTests {
    @Test(arguments: [96, 160, 320])
    func transcodesRenditionToEachBitrate(kbps: Int) throws {
        let source = RenditionFixture.bytes
        let sourceGranule = try #require(OggScan.lastGranule(tail: Array(source.suffix(70_000))))
        let out = try TestMedia.transcode(RenditionFixture.path, kind: .oggRendition, kbps: kbps, name: "fromogg_\(kbps).ogg")
        let t = out.transcoder

        #expect(t.probe.kind == .oggRendition)
        #expect(t.probe.channels == 2)
        #expect(t.probe.sampleRate == 44100)
        #expect(t.probe.totalSamples == sourceGranule)
        #expect(out.lastGranule == sourceGranule)

        let info = TestMedia.ogginfoClean(out.file)
        #expect(info.clean, "ogginfo: \(info.output)")
        #expect(abs(out.kbps / Double(kbps) - 1) < 0.15, "\(out.kbps) kbit/s for \(kbps)")

        // Every source comment is carried over, in order, and an ENCODER comment is added.
        let back = try VorbisTranscoder(sourcePath: out.file, kind: .oggRendition, targetKbps: kbps, serial: 1)
        let sourceComments = t.probe.comments
        #expect(sourceComments.count == RenditionFixture.tags.count)
        for tag in ["Test Title", "Test Artist", "Test Album"] {
            #expect(sourceComments.contains { $0.hasSuffix("=" + tag) })
        }
        #expect(Array(back.probe.comments.prefix(sourceComments.count)) == sourceComments)
        #expect(back.probe.comments.count(where: { $0.uppercased().hasPrefix("ENCODER=") }) == 1)
    }

    @Test func existingEncoderCommentIsKeptNotDuplicated() throws {
        let tagged = TestMedia.rendition(of: MasterCase.mono48.path, name: "encoder-tag.ogg", kbps: 96,
                                         tags: ["TITLE=x", "ENCODER=Some Other Tool"])
        let out = try TestMedia.transcode(tagged, kind: .oggRendition, kbps: 96, name: "encoder-tag_96.ogg")
        let back = try VorbisTranscoder(sourcePath: out.file, kind: .oggRendition, targetKbps: 96, serial: 1)
        #expect(back.probe.comments.filter { $0.uppercased().hasPrefix("ENCODER=") } == ["ENCODER=Some Other Tool"])
    }

    static func reason(_ path: String) -> String? {
        do {
            let t = try VorbisTranscoder(sourcePath: path, kind: .oggRendition, targetKbps: 96, serial: 1)
            while !t.isFinished { _ = try t.next(minBytes: 65536) }
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func corruptRenditionsAreRefused() throws {
        let good = RenditionFixture.bytes
        let pages = oggPages(good)
        var random = SystemRandomNumberGenerator()
        let noise = (0..<50_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let lastPageStart = try #require(pages.last?.offset)
        let cases: [(String, [UInt8])] = [
            ("random.ogg", noise),
            ("empty.ogg", []),
            ("tiny.ogg", Array(good.prefix(20))),
            ("headers-only-cut.ogg", Array(good.prefix(3000))),
            ("truncated-mid-page.ogg", Array(good.prefix(good.count * 6 / 10))),
            ("truncated-at-page.ogg", Array(good.prefix(lastPageStart))), // no end-of-stream page
            ("wav-as-ogg.ogg", TestMedia.bytes(MasterCase.mono48.path)),
        ]
        for (name, bytes) in cases {
            #expect(Self.reason(TestMedia.write(bytes, to: name)) == "corrupt_rendition", "\(name)")
        }
        #expect(Self.reason(TestMedia.path("missing.ogg")) == "unreadable_source")
    }

    /// A bad page in the middle (or a second stream after the first) is refused before the
    /// first output byte: an encode that failed halfway would have cut a `200` short (hostile
    /// media corpus, issue 13).
    @Test func damageInTheMiddleIsRefusedBeforeAnyOutput() throws {
        var bytes = RenditionFixture.bytes
        let pages = oggPages(bytes)
        let middle = pages[pages.count / 2]
        for i in 0..<64 { bytes[middle.offset + middle.header.headerLength + 10 + i] ^= 0x5A } // breaks the CRC
        #expect(Self.reason(TestMedia.write(bytes, to: "damaged.ogg")) == "corrupt_rendition")
        let good = RenditionFixture.bytes
        #expect(Self.reason(TestMedia.write(good + good, to: "chained-twice.ogg")) == "corrupt_rendition")
        #expect(Self.reason(TestMedia.write(good + [0, 1, 2], to: "trailing-bytes.ogg")) == "corrupt_rendition")
        do {
            _ = try VorbisTranscoder(sourcePath: TestMedia.path("damaged.ogg"), kind: .oggRendition, targetKbps: 96, serial: 1)
            Issue.record("a damaged source was accepted")
        } catch {
            #expect(error.reason == "corrupt_rendition")
        }
    }
}
