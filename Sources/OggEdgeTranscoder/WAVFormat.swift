// RIFF/WAVE header parsing: a pure function over a random-access byte reader, so it can be
// tested on in-memory bytes and used on a file without reading the audio.

/// Where the PCM audio of a WAV master is and how it is laid out.
struct WAVLayout: Sendable, Equatable {
    /// 1 or 2.
    var channels: Int
    /// 44100 or 48000.
    var sampleRate: Int
    /// File offset of the first sample.
    var dataOffset: Int64
    /// Whole frames (one 16-bit sample per channel) in the data chunk.
    var frameCount: Int64
    /// LIST/INFO tags mapped to Vorbis comments ("TITLE=...").
    var comments: [String]

    /// Bytes per frame.
    var blockAlign: Int { channels * 2 }
}

/// Parser for the RIFF/WAVE container.
///
/// Accepted: `RIFF` + `WAVE`, chunks in any order with odd sizes padded to even, a `fmt ` chunk
/// with format 1 (PCM) or 0xFFFE (WAVE_FORMAT_EXTENSIBLE with the PCM subtype GUID), 16 bits,
/// 1 or 2 channels, 44100 or 48000 Hz; any other chunks (LIST, JUNK, bext, fact, ...) skipped.
/// A `data` chunk size of 0xFFFFFFFF (written by streaming tools) means "to the end of the file".
///
/// Errors: not RIFF/WAVE or a format outside the above → `unsupported_wav_format`; a RIFF/WAVE
/// file that is truncated (header, `fmt ` or `data` shorter than declared), lacks `fmt ` or
/// `data`, has an inconsistent block alignment, or holds no whole frame → `corrupt_master`.
/// A truncated data chunk is refused rather than encoded as far as it goes: a master cut short
/// would otherwise silently become a short rendition that the cache keeps forever.
enum WAVParser {
    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    typealias Reader = (_ offset: Int64, _ count: Int) throws(TranscodeError) -> [UInt8]

    private static let pcmSubtypeTail: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
                                                  0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
    private static let infoNames: [String: String] = [
        "INAM": "TITLE", "IART": "ARTIST", "IPRD": "ALBUM", "ICMT": "COMMENT", "ICRD": "DATE",
        "IGNR": "GENRE", "ITRK": "TRACKNUMBER", "IPRT": "TRACKNUMBER", "ICOP": "COPYRIGHT",
    ]
    /// LIST chunks larger than this are skipped rather than read for tags.
    private static let maxInfoChunk = 1 << 20

    static func parse(fileSize: Int64, read: Reader) throws(TranscodeError) -> WAVLayout {
        guard fileSize > 0 else { throw .corruptWAV("empty file") }
        let head = try read(0, 12)
        let riff: [UInt8] = Array("RIFF".utf8)
        guard head.prefix(4).elementsEqual(riff.prefix(min(4, head.count))) else {
            throw .unsupportedWAV("not a RIFF file")
        }
        guard head.count == 12 else { throw .corruptWAV("truncated RIFF header (\(head.count) bytes)") }
        guard fourCC(head, 8) == "WAVE" else { throw .unsupportedWAV("RIFF form \(fourCC(head, 8)), not WAVE") }

        var fmt: [UInt8]?
        var data: (offset: Int64, size: Int64)?
        var comments: [String] = []
        var offset: Int64 = 12
        while offset < fileSize {
            let header = try read(offset, 8)
            guard header.count == 8 else {
                if fmt == nil || data == nil { throw .corruptWAV("truncated chunk header at offset \(offset)") }
                break // trailing garbage after the audio: ignore
            }
            let id = fourCC(header, 0)
            let size = Int64(le32(header, 4))
            let body = offset + 8
            switch id {
            case "fmt ":
                guard size >= 16 else { throw .corruptWAV("fmt chunk of \(size) bytes") }
                let bytes = try read(body, Int(min(size, 64)))
                guard bytes.count == Int(min(size, 64)) else { throw .corruptWAV("truncated fmt chunk") }
                fmt = bytes
            case "data":
                if size == 0xFFFF_FFFF {
                    data = (body, fileSize - body)
                } else {
                    guard body + size <= fileSize else {
                        throw .corruptWAV("data chunk truncated: \(size) bytes declared, \(max(0, fileSize - body)) present")
                    }
                    data = (body, size)
                }
            case "LIST" where size >= 4 && size <= maxInfoChunk:
                let bytes = try read(body, Int(size))
                if bytes.count == Int(size), fourCC(bytes, 0) == "INFO" { comments += infoComments(bytes) }
            default:
                break
            }
            if id == "data", size == 0xFFFF_FFFF { break }
            offset = body + size + (size & 1)
        }
        guard let fmt else { throw .corruptWAV("no fmt chunk") }
        let (channels, rate) = try validate(fmt)
        guard let data else { throw .corruptWAV("no data chunk") }
        let frames = data.size / Int64(channels * 2)
        guard frames > 0 else { throw .corruptWAV("no audio in data chunk") }
        return WAVLayout(channels: channels, sampleRate: rate, dataOffset: data.offset,
                         frameCount: frames, comments: comments)
    }

    /// Checks a `fmt ` chunk body; returns channels and rate.
    private static func validate(_ fmt: [UInt8]) throws(TranscodeError) -> (Int, Int) {
        let tag = le16(fmt, 0)
        let channels = Int(le16(fmt, 2))
        let rate = Int(le32(fmt, 4))
        let blockAlign = Int(le16(fmt, 12))
        let bits = Int(le16(fmt, 14))
        switch tag {
        case 1:
            break
        case 0xFFFE:
            guard fmt.count >= 40 else { throw .corruptWAV("WAVE_FORMAT_EXTENSIBLE fmt chunk of \(fmt.count) bytes") }
            let validBits = Int(le16(fmt, 18))
            guard le16(fmt, 24) == 1, Array(fmt[26..<40]) == pcmSubtypeTail else {
                throw .unsupportedWAV("WAVE_FORMAT_EXTENSIBLE subtype is not PCM")
            }
            guard validBits == 16 || validBits == 0 else { throw .unsupportedWAV("\(validBits) valid bits per sample") }
        default:
            throw .unsupportedWAV("format tag 0x\(String(tag, radix: 16, uppercase: true)) (only PCM)")
        }
        guard bits == 16 else { throw .unsupportedWAV("\(bits)-bit samples (only 16-bit)") }
        guard channels == 1 || channels == 2 else { throw .unsupportedWAV("\(channels) channels (only mono or stereo)") }
        guard rate == 44100 || rate == 48000 else { throw .unsupportedWAV("\(rate) Hz (only 44100 or 48000)") }
        guard blockAlign == channels * 2 else { throw .corruptWAV("block align \(blockAlign) for \(channels) x 16-bit") }
        return (channels, rate)
    }

    /// Subchunks of a LIST/INFO body (starting with "INFO") as Vorbis comments.
    static func infoComments(_ list: [UInt8]) -> [String] {
        var comments: [String] = []
        var offset = 4
        while offset + 8 <= list.count {
            let id = fourCC(list, offset)
            let size = Int(le32(list, offset + 4))
            let body = offset + 8
            guard size <= list.count - body else { break }
            if let name = infoNames[id] {
                var value = Array(list[body..<body + size])
                while let last = value.last, last == 0 || last == 0x20 { value.removeLast() }
                if !value.isEmpty { comments.append("\(name)=\(decodeText(value))") }
            }
            offset = body + size + (size & 1)
        }
        return comments
    }

    /// UTF-8 when valid, else Latin-1 (what most INFO writers use).
    private static func decodeText(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    static func fourCC(_ bytes: [UInt8], _ at: Int) -> String {
        guard at + 4 <= bytes.count else { return "" }
        return String(String.UnicodeScalarView(bytes[at..<at + 4].map { Unicode.Scalar($0) }))
    }

    static func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    static func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(le16(bytes, at)) | UInt32(le16(bytes, at + 2)) << 16
    }
}
