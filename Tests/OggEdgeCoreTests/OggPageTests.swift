import Foundation
import OggEdgeCore
import Testing

/// Ogg page parsing, CRC and Vorbis header scans, against real files made by sox + oggenc.
@Suite struct OggPageTests {
    struct ToolError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// A real Ogg Vorbis file made by sox + oggenc (Debian: sox, vorbis-tools), with what ogginfo says.
    struct OggFixture: Sendable {
        let bytes: [UInt8]
        let frames: Int64, rate: Int, channels: Int, kbps: Int
        let serial: UInt32
        let ogginfo: String

        /// Runs `tool args` and returns its stdout; throws on a non-zero exit.
        static func run(_ tool: String, _ args: [String]) throws -> String {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool] + args
            process.standardOutput = pipe
            try process.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw ToolError(message: "\(tool) exited \(process.terminationStatus); needs apt-get install sox vorbis-tools")
            }
            return String(decoding: out, as: UTF8.self)
        }

        static func make(rate: Int, channels: Int, frames: Int64, kbps: Int, serial: UInt32) throws -> OggFixture {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggpage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let wav = dir.appendingPathComponent("in.wav").path, ogg = dir.appendingPathComponent("out.ogg").path
            let voices = channels == 2 ? ["pluck", "C4", "pinknoise"] : ["pluck", "E4"]
            _ = try run("sox", ["-R", "-r", "\(rate)", "-c", "\(channels)", "-n", "-b", "16", wav,
                                "synth", "\(frames)s"] + voices + ["vol", "0.5"])
            _ = try run("oggenc", ["-Q", "--managed", "-b", "\(kbps)", "-s", "\(serial)", "-o", ogg, wav])
            let info = try run("ogginfo", [ogg])
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ogg)))
            return OggFixture(bytes: bytes, frames: frames, rate: rate, channels: channels, kbps: kbps,
                              serial: serial, ogginfo: info)
        }

        /// The value after `key` on ogginfo's line starting with `key` (e.g. "Rate: ").
        func info(_ key: String) -> String? {
            for line in ogginfo.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix(key) { return String(trimmed.dropFirst(key.count)) }
            }
            return nil
        }

        /// Every page from the start, parsed and checked by the test itself.
        var pages: [(offset: Int, header: OggPageHeader)] {
            var result: [(Int, OggPageHeader)] = []
            var offset = 0
            while offset < bytes.count, let h = OggPageHeader.parse(Array(bytes[offset...])) {
                result.append((offset, h))
                offset += h.totalLength
            }
            return result
        }
    }

    enum FixtureKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case stereo44k3s, mono48k
        var testDescription: String { rawValue }
        var fixture: OggFixture {
            get throws { try (self == .stereo44k3s ? Self.stereo : Self.mono).get() }
        }
        // Made once per test run; 3 s at 320 kbps is larger than the 64 KiB tail the server reads.
        private static let stereo = Result {
            try OggFixture.make(rate: 44100, channels: 2, frames: 44100 * 3, kbps: 320, serial: 0x1234_5678)
        }
        private static let mono = Result {
            try OggFixture.make(rate: 48000, channels: 1, frames: 48000 * 2 + 1234, kbps: 64, serial: 7)
        }
    }

    /// Deterministic PRNG for the fuzz tests (SplitMix64).
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Builds one page with a correct CRC.
    static func makePage(type: UInt8 = 0, granule: Int64, serial: UInt32 = 9, sequence: UInt32 = 0, segments: [UInt8]) -> [UInt8] {
        var page: [UInt8] = Array("OggS".utf8) + [0, type]
        page += withUnsafeBytes(of: granule.littleEndian, Array.init)
        page += withUnsafeBytes(of: serial.littleEndian, Array.init)
        page += withUnsafeBytes(of: sequence.littleEndian, Array.init)
        page += [0, 0, 0, 0, UInt8(segments.count)] + segments
        page += (0..<segments.reduce(0) { $0 + Int($1) }).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let crc = page.withUnsafeBytes { OggCRC.pageChecksum($0) }!
        withUnsafeBytes(of: crc.littleEndian) { page.replaceSubrange(22..<26, with: $0) }
        return page
    }

    @Test func crcMatchesTheOggCheckValue() {
        let digits = Array("123456789".utf8)
        #expect(digits.withUnsafeBytes { OggCRC.checksum($0) } == 0x89A1_897F)
        #expect([UInt8]().withUnsafeBytes { OggCRC.checksum($0) } == 0)
        let split = digits[..<4].withUnsafeBytes { a in digits[4...].withUnsafeBytes { OggCRC.update(OggCRC.checksum(a), $0) } }
        #expect(split == 0x89A1_897F)
    }

    @Test func parsesSyntheticPagesAndRejectsMalformedHeaders() throws {
        let page = Self.makePage(type: 0x05, granule: 123_456_789_012, serial: 0xDEAD_BEEF, sequence: 42, segments: [255, 10])
        let header = try #require(OggPageHeader.parse(page))
        #expect(header.headerType == 0x05 && header.isContinuation && header.isEndOfStream && !header.isBeginningOfStream)
        #expect(header.granulePosition == 123_456_789_012 && header.serial == 0xDEAD_BEEF && header.sequence == 42)
        #expect(header.headerLength == 29 && header.bodyLength == 265 && header.totalLength == page.count)
        #expect(OggCRC.verifyPage(page) && OggCRC.verifyPage(page + [1, 2, 3]))
        #expect(OggPageHeader.parse(Self.makePage(granule: -1, segments: []))?.granulePosition == -1)

        #expect(OggPageHeader.parse(Array(page[..<28])) == nil, "segment table cut short")
        #expect(OggPageHeader.parse(Array(page[..<29])) == header, "body is not needed to parse")
        #expect(!OggCRC.verifyPage(Array(page.dropLast())), "incomplete body")
        for (index, value) in [(0, UInt8(ascii: "o")), (4, 1), (5, 0x08)] {
            var bad = page
            bad[index] = value
            #expect(OggPageHeader.parse(bad) == nil, "byte \(index) = \(value)")
        }
        for index in [0, 5, 6, 22, 26, 28, 100, page.count - 1] {
            var bad = page
            bad[index] ^= 0x40
            #expect(!OggCRC.verifyPage(bad), "flipped byte \(index)")
        }
        let lastGranule = (page + Self.makePage(granule: -1, segments: [255])).withUnsafeBytes { OggScan.lastGranule(tail: $0) }
        #expect(lastGranule == 123_456_789_012, "a page with granule -1 is skipped")
    }

    @Test(arguments: FixtureKind.allCases)
    func everyPageOfARealFileIsValid(_ kind: FixtureKind) throws {
        let f = try kind.fixture
        let pages = f.pages
        #expect(pages.count > 4)
        #expect(pages.last.map { $0.offset + $0.header.totalLength } == f.bytes.count, "pages tile the file")
        #expect(pages.first?.header.isBeginningOfStream == true && pages.last?.header.isEndOfStream == true)
        for (index, page) in pages.enumerated() {
            #expect(OggCRC.verifyPage(Array(f.bytes[page.offset..<(page.offset + page.header.totalLength)])))
            #expect(page.header.serial == f.serial && page.header.sequence == UInt32(index))
        }
        #expect(pages.last?.header.granulePosition == f.frames)
    }

    @Test(arguments: FixtureKind.allCases)
    func streamInfoAndDurationMatchOgginfo(_ kind: FixtureKind) throws {
        let f = try kind.fixture
        let info = try #require(VorbisStreamInfo.parseIdentification(firstPage: Array(f.bytes.prefix(4096))))
        #expect(info == VorbisStreamInfo(channels: f.channels, sampleRate: f.rate, nominalBitrate: f.kbps * 1000))
        #expect(f.info("Rate: ") == "\(info.sampleRate)" && f.info("Channels: ") == "\(info.channels)")
        #expect(f.info("Nominal bitrate: ").flatMap { Double($0.split(separator: " ")[0]) } == Double(f.kbps))

        let tail = Array(f.bytes.suffix(64 * 1024))
        let granule = try #require(OggScan.lastGranule(tail: tail))
        #expect(granule == f.frames)
        #expect(OggScan.lastGranule(tail: f.bytes, serial: f.serial) == f.frames)
        #expect(OggScan.lastGranule(tail: f.bytes, serial: f.serial &+ 1) == nil)
        // ogginfo: "Playback length: 0m:03.000s"
        let length = try #require(f.info("Playback length: "))
        let parts = length.dropLast().split(separator: ":")
        let seconds = try #require(Double(parts[0].dropLast())) * 60 + #require(Double(parts[1]))
        #expect(abs(info.duration(granule: granule) - seconds) < 0.0015, "ogginfo says \(length)")
        #expect(info.duration(granule: granule) == Double(f.frames) / Double(f.rate))
    }

    @Test(arguments: FixtureKind.allCases)
    func headerAndFirstAudioPageOffsets(_ kind: FixtureKind) throws {
        let f = try kind.fixture
        let pages = f.pages
        let headers = try #require(OggScan.endOfHeaders(f.bytes))
        let firstAudio = try #require(OggScan.endOfFirstAudioPage(f.bytes))
        #expect(headers < firstAudio && firstAudio < f.bytes.count)
        // Independently: header pages carry granule 0, the first audio page the first non-zero one.
        let audioIndex = try #require(pages.firstIndex { $0.header.granulePosition != 0 })
        #expect(audioIndex >= 2 && pages[audioIndex].offset == headers)
        #expect(pages[audioIndex].header.granulePosition > 0)
        #expect(firstAudio == headers + pages[audioIndex].header.totalLength)

        for n in Array(stride(from: 0, to: firstAudio + 64, by: 97)) + [headers - 1, headers, firstAudio - 1, firstAudio] {
            let prefix = Array(f.bytes.prefix(n))
            #expect(OggScan.endOfHeaders(prefix) == (n >= headers ? headers : nil), "prefix \(n)")
            #expect(OggScan.endOfFirstAudioPage(prefix) == (n >= firstAudio ? firstAudio : nil), "prefix \(n)")
            let firstPageEnd = pages[0].header.totalLength
            #expect((VorbisStreamInfo.parseIdentification(firstPage: prefix) != nil) == (n >= firstPageEnd), "prefix \(n)")
        }
        // Not the start of a file: no headers.
        #expect(OggScan.endOfHeaders(Array(f.bytes[pages[1].offset...])) == nil)
        #expect(VorbisStreamInfo.parseIdentification(firstPage: Array(f.bytes[pages[1].offset...])) == nil)
    }

    @Test(arguments: FixtureKind.allCases)
    func truncatedOrCorruptedTailFallsBackToTheLastGoodPage(_ kind: FixtureKind) throws {
        let f = try kind.fixture
        let pages = f.pages
        let last = try #require(pages.last), previous = pages[pages.count - 2].header.granulePosition
        #expect(previous > 0 && previous < f.frames)
        for cut in [1, 2, last.header.totalLength / 2, last.header.totalLength - 1] {
            #expect(OggScan.lastGranule(tail: Array(f.bytes.dropLast(cut))) == previous, "cut \(cut)")
        }
        // A tail that starts inside the second-to-last page still finds the last one.
        #expect(OggScan.lastGranule(tail: Array(f.bytes[(last.offset - 10)...])) == f.frames)
        #expect(OggScan.lastGranule(tail: Array(f.bytes[(last.offset + 1)...])) == nil)
        var corrupted = f.bytes
        corrupted[last.offset + last.header.headerLength + 3] ^= 0xFF
        #expect(OggScan.lastGranule(tail: corrupted) == previous)
        #expect(!OggCRC.verifyPage(Array(corrupted[last.offset...])))
        var badID = f.bytes
        badID[pages[0].header.headerLength + 12] ^= 0x01 // sample rate byte
        #expect(VorbisStreamInfo.parseIdentification(firstPage: badID) == nil, "CRC catches it")
        #expect(OggScan.endOfHeaders(badID) == nil && OggScan.endOfFirstAudioPage(badID) == nil)
    }

    @Test func randomBytesNeverTrapAndFindNothing() {
        var rng = SplitMix64(state: 1)
        for round in 0..<3000 {
            var bytes = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if round % 2 == 0, bytes.count >= 32 { // plant plausible headers so the parsers get further
                let at = Int.random(in: 0...(bytes.count - 32), using: &rng)
                bytes.replaceSubrange(at..<(at + 6), with: Array("OggS".utf8) + [0, UInt8.random(in: 0...7, using: &rng)])
                bytes[at + 26] = UInt8.random(in: 0...4, using: &rng)
            }
            let parsed = OggPageHeader.parse(bytes)
            #expect(parsed == nil || parsed!.headerLength <= bytes.count)
            #expect(OggScan.lastGranule(tail: bytes) == nil)
            #expect(OggScan.endOfHeaders(bytes) == nil && OggScan.endOfFirstAudioPage(bytes) == nil)
            #expect(VorbisStreamInfo.parseIdentification(firstPage: bytes) == nil)
            _ = OggCRC.verifyPage(bytes)
        }
    }

    @Test(arguments: FixtureKind.allCases)
    func mutatedRealFilesNeverTrapAndAreCaughtByTheCRC(_ kind: FixtureKind) throws {
        let f = try kind.fixture
        let headers = try #require(OggScan.endOfHeaders(f.bytes))
        let firstAudio = try #require(OggScan.endOfFirstAudioPage(f.bytes))
        let granules = Set(f.pages.map(\.header.granulePosition))
        var rng = SplitMix64(state: UInt64(f.rate))
        let prefix = Array(f.bytes.prefix(firstAudio + 4096))
        for _ in 0..<400 {
            var bytes = prefix
            let positions = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Int.random(in: 0..<bytes.count, using: &rng) }
            for p in positions { bytes[p] ^= UInt8.random(in: 1...255, using: &rng) }
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            let hit = positions.min()!
            #expect(OggScan.endOfHeaders(bytes) == (hit < headers ? nil : headers), "flip at \(positions)")
            #expect(OggScan.endOfFirstAudioPage(bytes) == (hit < firstAudio ? nil : firstAudio), "flip at \(positions)")
            if let g = OggScan.lastGranule(tail: Array(bytes[cut...])) { #expect(granules.contains(g)) }
            _ = VorbisStreamInfo.parseIdentification(firstPage: Array(bytes[cut...]))
            _ = OggScan.endOfFirstAudioPage(Array(bytes[..<cut]))
        }
    }
}
