import Foundation
import Testing

/// A corpus of broken and absurd media files (issue 13 part 2), derived from the real files of
/// ``TestMedia``, placed in a copy of the test media directory.
///
/// `tracks/` entries are named `{id}_320kbps.ogg`, so 320 kbps is the file itself and 96/160 are
/// transcodes from it; `masters/` entries are `{id}.wav` with no rendition at all, so every
/// bitrate is a transcode of the master.
enum HostileMedia {
    /// What a well-behaved server may do with one corpus entry.
    enum Expectation: Sendable {
        /// The file is served as the bytes it is (its head is a valid Vorbis stream): 200/206 exact
        /// at its own bitrate; transcodes from it succeed or fail with a JSON 502.
        case servedAsIs
        /// Refused: every request gets a JSON 4xx/5xx.
        case refused
        /// Nothing usable there (directory, symlink loop, FIFO): 404.
        case notFound
        /// A master: each bitrate is a complete clean Ogg stream or a JSON 502.
        case transcodeOrRefuse
    }

    struct Entry: Sendable {
        let id: String
        let expectation: Expectation
        var isMaster: Bool { expectation == .transcodeOrRefuse }
    }

    /// Writes the corpus into a fresh copy of the test media; returns the directory and the entries.
    static func make() throws -> (directory: String, entries: [Entry]) {
        let dir = try CacheTests.mediaCopy()
        let fm = FileManager.default
        var entries: [Entry] = []
        func track(_ id: String, _ bytes: [UInt8], _ expectation: Expectation) {
            _ = fm.createFile(atPath: "\(dir)/tracks/\(id)_320kbps.ogg", contents: Data(bytes))
            entries.append(Entry(id: id, expectation: expectation))
        }
        func master(_ id: String, _ bytes: [UInt8]) {
            _ = fm.createFile(atPath: "\(dir)/masters/\(id).wav", contents: Data(bytes))
            entries.append(Entry(id: id, expectation: .transcodeOrRefuse))
        }
        let ogg = TestMedia.bytes("demo_160kbps.ogg")
        let mono = TestMedia.bytes("tiny_96kbps.ogg")
        let pages = OggSurgery.pages(ogg)

        // Renditions in tracks/.
        track("hzero", [], .refused)
        track("htrunchead", Array(ogg.prefix(40)), .refused)
        track("htruncsecond", Array(ogg.prefix(pages[1].offset + 30)), .servedAsIs)
        track("htruncmid", Array(ogg.prefix(ogg.count / 2 + 13)), .servedAsIs)
        track("hbadcrcfirst", OggSurgery.withBadChecksum(ogg, page: 0), .refused)
        track("hbadcrcmid", OggSurgery.withBadChecksum(ogg, page: pages.count / 2), .servedAsIs)
        track("hbadcrclast", OggSurgery.withBadChecksum(ogg, page: -1), .servedAsIs)
        track("hhugegranule", OggSurgery.withGranule(ogg, Int64.max, page: -1), .servedAsIs)
        track("hneggranule", OggSurgery.withGranule(ogg, -5, page: -1), .servedAsIs)
        track("hneggranulemid", OggSurgery.withGranule(ogg, -(1 << 40), page: pages.count / 2), .servedAsIs)
        track("hchan0", OggSurgery.withIdentification(ogg, channels: 0), .refused)
        track("hchan255", OggSurgery.withIdentification(ogg, channels: 255), .servedAsIs)
        track("hrate1", OggSurgery.withIdentification(ogg, sampleRate: 1), .servedAsIs)
        track("hrate2p31", OggSurgery.withIdentification(ogg, sampleRate: 1 << 31), .servedAsIs)
        track("hrate0", OggSurgery.withIdentification(ogg, sampleRate: 0), .refused)
        track("hheadersswapped", OggSurgery.withHeadersOutOfOrder(ogg), .servedAsIs)
        track("hsetupfirst", OggSurgery.withSetupFirst(ogg), .refused)
        track("hchained", ogg + mono, .servedAsIs)
        track("hchainedtwice", ogg + ogg, .servedAsIs)
        track("hgarbage", (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 9) }, .refused)
        track("hpagesonly", Array(ogg.prefix(pages[2].offset)), .servedAsIs)

        // Things named like a rendition that are not regular files.
        try fm.createDirectory(atPath: dir + "/tracks/hdir_320kbps.ogg", withIntermediateDirectories: true)
        entries.append(Entry(id: "hdir", expectation: .notFound))
        try fm.createSymbolicLink(atPath: dir + "/tracks/hloop_320kbps.ogg", withDestinationPath: "hloop_320kbps.ogg")
        entries.append(Entry(id: "hloop", expectation: .notFound))
        #expect(mkfifo(dir + "/tracks/hfifo_320kbps.ogg", 0o644) == 0)
        entries.append(Entry(id: "hfifo", expectation: .notFound))
        try fm.createSymbolicLink(atPath: dir + "/masters/hfifo.wav", withDestinationPath: "../tracks/hfifo_320kbps.ogg")

        // Masters.
        let wav = Array(FileManager.default.contents(atPath: TestMedia.directory + "/masters/demo.wav") ?? Data())
        master("mzero", [])
        master("mriffonly", Array(wav.prefix(12)))
        master("mtrunchead", Array(wav.prefix(30)))
        master("mheaderonly", WAVSurgery.with(wav.prefix(44).map { $0 }, dataSize: 0))
        master("mdatalies", WAVSurgery.with(wav, dataSize: UInt32(wav.count * 4)))
        master("mdataffff", WAVSurgery.with(wav, dataSize: 0xFFFF_FFFF))
        master("mdatashort", WAVSurgery.with(wav, dataSize: 1000))
        master("mdataodd", WAVSurgery.with(wav, dataSize: 4001))
        master("mriffzero", WAVSurgery.with(wav, riffSize: 0))
        master("mriffhuge", WAVSurgery.with(wav, riffSize: 0xFFFF_FFF0))
        master("mtruncaudio", Array(wav.prefix(wav.count / 3 + 1)))
        master("mchan0", WAVSurgery.with(wav, channels: 0))
        master("mchan255", WAVSurgery.with(wav, channels: 255))
        master("mrate1", WAVSurgery.with(wav, sampleRate: 1))
        master("mrate2p31", WAVSurgery.with(wav, sampleRate: 1 << 31))
        master("mbits24", WAVSurgery.with(wav, bitsPerSample: 24))
        master("mfloat", WAVSurgery.with(wav, formatTag: 3))
        master("malign", WAVSurgery.with(wav, blockAlign: 3))
        master("mfmthuge", WAVSurgery.with(wav, fmtSize: 0xFFFF_FFF0))
        master("mjunkchunk", WAVSurgery.withChunkBeforeData(wav, size: 0xFFFF_FFFF))
        master("mnotriff", Array("RIFX".utf8) + Array(wav.dropFirst(4)))
        master("mogg", ogg)
        master("mtrailing", wav + [UInt8](repeating: 0x7f, count: 10_001))
        return (dir, entries)
    }
}

/// Edits of a canonical 44-byte-header PCM WAV (`RIFF`, `fmt ` of 16 bytes at 12, `data` at 36).
enum WAVSurgery {
    static func with(
        _ wav: [UInt8], riffSize: UInt32? = nil, fmtSize: UInt32? = nil, formatTag: UInt16? = nil, channels: UInt16? = nil,
        sampleRate: UInt32? = nil, blockAlign: UInt16? = nil, bitsPerSample: UInt16? = nil, dataSize: UInt32? = nil
    ) -> [UInt8] {
        var out = wav
        if let riffSize { OggSurgery.put(&out, UInt64(riffSize), at: 4, width: 4) }
        if let fmtSize { OggSurgery.put(&out, UInt64(fmtSize), at: 16, width: 4) }
        if let formatTag { OggSurgery.put(&out, UInt64(formatTag), at: 20, width: 2) }
        if let channels { OggSurgery.put(&out, UInt64(channels), at: 22, width: 2) }
        if let sampleRate { OggSurgery.put(&out, UInt64(sampleRate), at: 24, width: 4) }
        if let blockAlign { OggSurgery.put(&out, UInt64(blockAlign), at: 32, width: 2) }
        if let bitsPerSample { OggSurgery.put(&out, UInt64(bitsPerSample), at: 34, width: 2) }
        if let dataSize { OggSurgery.put(&out, UInt64(dataSize), at: 40, width: 4) }
        return out
    }

    /// An unknown chunk of declared `size` (a lie) between `fmt ` and `data`.
    static func withChunkBeforeData(_ wav: [UInt8], size: UInt32) -> [UInt8] {
        var chunk = Array("junk".utf8) + [0, 0, 0, 0] + [1, 2, 3, 4]
        OggSurgery.put(&chunk, UInt64(size), at: 4, width: 4)
        return Array(wav[0..<36]) + chunk + Array(wav[36...])
    }
}
