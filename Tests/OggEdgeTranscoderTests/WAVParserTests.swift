import Testing
@testable import OggEdgeTranscoder

/// Builds RIFF/WAVE bytes chunk by chunk.
struct WAVBuilder {
    var formatTag: UInt16 = 1
    var channels: UInt16 = 2
    var rate: UInt32 = 44100
    var bits: UInt16 = 16
    var blockAlign: UInt16?
    /// For WAVE_FORMAT_EXTENSIBLE: the first two bytes of the subtype GUID (1 = PCM, 3 = float).
    var subtype: UInt16 = 1
    var validBits: UInt16 = 16
    var before: [(String, [UInt8])] = []
    var after: [(String, [UInt8])] = []
    var frames = 100
    var declaredDataSize: UInt32?

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }

    static func chunk(_ id: String, _ body: [UInt8]) -> [UInt8] {
        var out = Array(id.utf8) + le32(UInt32(body.count)) + body
        if body.count % 2 == 1 { out.append(0) } // pad byte
        return out
    }

    var fmtBody: [UInt8] {
        let align = blockAlign ?? channels * bits / 8
        var body = Self.le16(formatTag) + Self.le16(channels) + Self.le32(rate)
            + Self.le32(rate * UInt32(align)) + Self.le16(align) + Self.le16(bits)
        if formatTag == 0xFFFE {
            body += Self.le16(22) + Self.le16(validBits) + Self.le32(3) + Self.le16(subtype)
                + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        }
        return body
    }

    var bytes: [UInt8] {
        let frameBytes = Int(channels) * Int(bits) / 8
        let audio = (0..<frames * frameBytes).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var body = Array("WAVE".utf8)
        for (id, b) in before { body += Self.chunk(id, b) }
        body += Self.chunk("fmt ", fmtBody)
        var data = Self.chunk("data", audio)
        if let declaredDataSize { data.replaceSubrange(4..<8, with: Self.le32(declaredDataSize)) }
        body += data
        for (id, b) in after { body += Self.chunk(id, b) }
        return Array("RIFF".utf8) + Self.le32(UInt32(body.count)) + body
    }
}

/// Parses in-memory bytes like WAVSource parses a file.
func parse(_ bytes: [UInt8]) throws(TranscodeError) -> WAVLayout {
    try WAVParser.parse(fileSize: Int64(bytes.count)) { (offset, count) throws(TranscodeError) in
        let start = Int(min(offset, Int64(bytes.count)))
        return Array(bytes[start..<min(bytes.count, start + count)])
    }
}

func reason(of bytes: [UInt8]) -> String? {
    do {
        _ = try parse(bytes)
        return nil
    } catch {
        return error.reason
    }
}

@Suite struct WAVParserTests {
    @Test func plainPCMStereo() throws {
        let layout = try parse(WAVBuilder(frames: 100).bytes)
        #expect(layout.channels == 2)
        #expect(layout.sampleRate == 44100)
        #expect(layout.dataOffset == 44)
        #expect(layout.frameCount == 100)
        #expect(layout.comments.isEmpty)
    }

    @Test func mono48k() throws {
        let layout = try parse(WAVBuilder(channels: 1, rate: 48000, frames: 33).bytes)
        #expect(layout.channels == 1)
        #expect(layout.sampleRate == 48000)
        #expect(layout.frameCount == 33)
    }

    @Test func listInfoBeforeDataWithOddPaddingIsSkippedAndMapped() throws {
        let info = Array("INFO".utf8) + WAVBuilder.chunk("INAM", Array("Song\0".utf8))
            + WAVBuilder.chunk("IART", Array("Band".utf8)) + WAVBuilder.chunk("ISFT", Array("tool".utf8))
        let builder = WAVBuilder(before: [("LIST", info), ("JUNK", [1, 2, 3])], frames: 10)
        let layout = try parse(builder.bytes)
        #expect(layout.frameCount == 10)
        // RIFF header, LIST (INFO, INAM with a pad byte, IART, ISFT), JUNK with a pad byte, fmt,
        // data header.
        #expect(layout.dataOffset == 12 + (8 + 4 + 14 + 12 + 12) + (8 + 3 + 1) + 24 + 8)
        #expect(layout.comments == ["TITLE=Song", "ARTIST=Band"])
    }

    @Test func infoAfterDataIsRead() throws {
        let info = Array("INFO".utf8) + WAVBuilder.chunk("IPRD", Array("Album".utf8))
        let layout = try parse(WAVBuilder(after: [("LIST", info)], frames: 4).bytes)
        #expect(layout.comments == ["ALBUM=Album"])
        #expect(layout.frameCount == 4)
    }

    @Test func extensiblePCMIsAccepted() throws {
        let layout = try parse(WAVBuilder(formatTag: 0xFFFE, frames: 12).bytes)
        #expect(layout.channels == 2)
        #expect(layout.frameCount == 12)
    }

    @Test func extensibleFloatIsUnsupported() {
        #expect(reason(of: WAVBuilder(formatTag: 0xFFFE, bits: 32, subtype: 3).bytes) == "unsupported_wav_format")
        #expect(reason(of: WAVBuilder(formatTag: 0xFFFE, subtype: 3).bytes) == "unsupported_wav_format")
    }

    @Test(arguments: [
        ("8-bit", WAVBuilder(bits: 8)),
        ("24-bit", WAVBuilder(bits: 24)),
        ("22 kHz", WAVBuilder(rate: 22050)),
        ("96 kHz", WAVBuilder(rate: 96000)),
        ("3 channels", WAVBuilder(channels: 3)),
        ("IEEE float tag", WAVBuilder(formatTag: 3, bits: 32)),
        ("A-law", WAVBuilder(formatTag: 6, bits: 8)),
    ])
    func unsupportedFormats(name: String, builder: WAVBuilder) {
        #expect(reason(of: builder.bytes) == "unsupported_wav_format", "\(name)")
    }

    @Test func notRIFFIsUnsupported() {
        #expect(reason(of: Array("RIFX".utf8) + [UInt8](repeating: 0, count: 40)) == "unsupported_wav_format")
        #expect(reason(of: Array("OggS not a wav file at all".utf8)) == "unsupported_wav_format")
        var aiff = WAVBuilder().bytes
        aiff.replaceSubrange(8..<12, with: Array("AIFF".utf8))
        #expect(reason(of: aiff) == "unsupported_wav_format")
    }

    @Test func truncatedHeadersAreCorrupt() {
        let full = WAVBuilder().bytes
        for cut in [0, 3, 8, 11, 20, 30, 40] {
            #expect(reason(of: Array(full.prefix(cut))) == "corrupt_master", "cut at \(cut)")
        }
    }

    @Test func truncatedDataChunkIsCorrupt() {
        let full = WAVBuilder(frames: 100).bytes
        #expect(reason(of: Array(full.dropLast(10))) == "corrupt_master")
        #expect(reason(of: WAVBuilder(frames: 100, declaredDataSize: 1_000_000).bytes) == "corrupt_master")
    }

    @Test func streamingDataSizeMeansToEndOfFile() throws {
        let layout = try parse(WAVBuilder(frames: 50, declaredDataSize: 0xFFFF_FFFF).bytes)
        #expect(layout.frameCount == 50)
    }

    @Test func missingChunksAndEmptyAudioAreCorrupt() {
        var noData = Array("WAVE".utf8) + WAVBuilder.chunk("fmt ", WAVBuilder().fmtBody)
        noData = Array("RIFF".utf8) + WAVBuilder.le32(UInt32(noData.count)) + noData
        #expect(reason(of: noData) == "corrupt_master")
        #expect(reason(of: WAVBuilder(frames: 0).bytes) == "corrupt_master")
        #expect(reason(of: WAVBuilder(blockAlign: 3).bytes) == "corrupt_master")
    }
}
