// Vorbis-in-Ogg facts a server needs without decoding: stream parameters, duration, and where
// the headers and the first audio page end. Pure functions over raw bytes; never trap.

/// Parameters of a Vorbis stream, from its identification header.
public struct VorbisStreamInfo: Sendable, Equatable {
    /// Number of audio channels (1...255).
    public let channels: Int
    /// Sample rate in Hz (> 0). Granule positions count samples at this rate.
    public let sampleRate: Int
    /// Nominal bitrate in bits per second as the encoder declared it; 0 or negative when unset.
    public let nominalBitrate: Int

    /// Creates stream parameters (for tests and for writers of synthetic streams).
    public init(channels: Int, sampleRate: Int, nominalBitrate: Int) {
        self.channels = channels
        self.sampleRate = sampleRate
        self.nominalBitrate = nominalBitrate
    }

    /// Length in seconds of a stream whose last granule position is `granule`
    /// (`OggScan.lastGranule`), i.e. `granule / sampleRate`. 0 for a negative granule.
    public func duration(granule: Int64) -> Double {
        guard granule > 0, sampleRate > 0 else { return 0 }
        return Double(granule) / Double(sampleRate)
    }

    /// From the first page of a file (the Vorbis identification header packet, "\u{01}vorbis").
    ///
    /// The page must be complete, carry a valid CRC and the BOS flag, and hold exactly the
    /// 30-byte identification packet: version 0, channels > 0, rate > 0, block sizes
    /// 2^6...2^13 with blocksize_0 <= blocksize_1, framing bit set. Nil otherwise.
    /// Bytes after the first page are ignored.
    public static func parseIdentification(firstPage: UnsafeRawBufferPointer) -> VorbisStreamInfo? {
        guard let header = OggPageHeader.parse(firstPage),
              header.isBeginningOfStream, !header.isContinuation,
              firstPage.count >= header.totalLength,
              OggCRC.pageChecksum(firstPage, header) == header.checksum,
              header.segmentCount >= 1,
              Int(firstPage[OggPageHeader.fixedHeaderLength]) == identificationLength
        else { return nil }
        let p = header.headerLength
        guard VorbisHeader.hasMagic(firstPage, at: p, type: 1, available: identificationLength),
              OggBytes.uint32LE(firstPage, p + 7) == 0 // vorbis_version
        else { return nil }
        let channels = Int(firstPage[p + 11])
        let sampleRate = Int(OggBytes.uint32LE(firstPage, p + 12))
        let nominal = Int(Int32(bitPattern: OggBytes.uint32LE(firstPage, p + 20)))
        let blocksize0 = firstPage[p + 28] & 0x0F
        let blocksize1 = firstPage[p + 28] >> 4
        guard channels > 0, sampleRate > 0,
              (6...13).contains(blocksize0), (6...13).contains(blocksize1), blocksize0 <= blocksize1,
              firstPage[p + 29] & 1 == 1
        else { return nil }
        return VorbisStreamInfo(channels: channels, sampleRate: sampleRate, nominalBitrate: nominal)
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func parseIdentification(firstPage: [UInt8]) -> VorbisStreamInfo? {
        firstPage.withUnsafeBytes { parseIdentification(firstPage: $0) }
    }

    /// Length of the identification header packet.
    private static let identificationLength = 30
}

/// Vorbis header packet recognition.
enum VorbisHeader {
    /// True when `bytes[offset...]` holds `type` followed by "vorbis", within `available` bytes.
    static func hasMagic(_ bytes: UnsafeRawBufferPointer, at offset: Int, type: UInt8, available: Int) -> Bool {
        guard available >= 7, offset >= 0, offset <= bytes.count - 7, bytes[offset] == type else { return false }
        let magic: [UInt8] = [0x76, 0x6F, 0x72, 0x62, 0x69, 0x73] // "vorbis"
        for i in 0..<6 where bytes[offset + 1 + i] != magic[i] { return false }
        return true
    }
}

/// Scans over the bytes of an Ogg Vorbis file: duration from the tail, and the byte offsets a
/// player needs before it can start (headers, first audio page).
public enum OggScan {
    /// Last granule position found in the tail of a file (scan backwards for "OggS" capture
    /// patterns, validate header + CRC, return the granule of the last complete page with
    /// granule != -1). Pages cut off by the end of `tail` or failing their CRC are skipped, as
    /// are pages of other logical streams when `serial` is given. Nil if none.
    ///
    /// Duration of the track = lastGranule / sampleRate.
    public static func lastGranule(tail: UnsafeRawBufferPointer, serial: UInt32? = nil) -> Int64? {
        var offset = tail.count - OggPageHeader.fixedHeaderLength
        while offset >= 0 {
            defer { offset -= 1 }
            guard OggBytes.hasCapturePattern(tail, at: offset) else { continue }
            let rest = UnsafeRawBufferPointer(rebasing: tail[offset...])
            guard let header = OggPageHeader.parse(rest),
                  header.granulePosition >= 0,
                  serial == nil || serial == header.serial,
                  rest.count >= header.totalLength,
                  OggCRC.pageChecksum(rest, header) == header.checksum
            else { continue }
            return header.granulePosition
        }
        return nil
    }

    /// Byte offset just past the last page of the header packets (the three Vorbis headers),
    /// i.e. where the first audio page starts; nil if not found within bytes.
    ///
    /// `bytes` must start at the beginning of the file. Every page up to there must be complete,
    /// CRC-valid and of the first page's serial; the first page must be BOS; the packets must be
    /// the identification (1), comment (3) and setup (5) headers, the setup header ending a page.
    public static func endOfHeaders(_ bytes: UnsafeRawBufferPointer) -> Int? {
        headerEnd(bytes)?.offset
    }

    /// Offset just past the first audio page (a page with granule position >= 0 that is not a
    /// header page) — the bytes a player needs to start playing. Nil if the headers or that page
    /// are not complete and valid within `bytes` (which must start at the beginning of the file).
    public static func endOfFirstAudioPage(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let headers = headerEnd(bytes) else { return nil }
        for (offset, header) in OggPageWalker(bytes, from: headers.offset) {
            guard header.serial == headers.serial, !header.isBeginningOfStream else { return nil }
            if header.granulePosition >= 0 { return offset + header.totalLength }
        }
        return nil
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func lastGranule(tail: [UInt8], serial: UInt32? = nil) -> Int64? {
        tail.withUnsafeBytes { lastGranule(tail: $0, serial: serial) }
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func endOfHeaders(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { endOfHeaders($0) }
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func endOfFirstAudioPage(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { endOfFirstAudioPage($0) }
    }

    /// Walks the header pages packet by packet; returns the end of the page on which the third
    /// header packet completes, and the stream's serial.
    private static func headerEnd(_ bytes: UnsafeRawBufferPointer) -> (offset: Int, serial: UInt32)? {
        let packetTypes: [UInt8] = [1, 3, 5]
        var walker = OggPageWalker(bytes)
        var completed = 0       // header packets completed so far
        var atPacketStart = true // the next lacing value starts a new packet
        var serial: UInt32?
        while let page = walker.next() {
            let (offset, header) = page
            if let serial {
                guard header.serial == serial, !header.isBeginningOfStream else { return nil }
            } else {
                guard offset == 0, header.isBeginningOfStream else { return nil }
                serial = header.serial
            }
            // The continuation flag must agree with where the previous page left off.
            guard header.isContinuation != atPacketStart, header.granulePosition <= 0 else { return nil }
            var position = offset + header.headerLength
            for index in 0..<header.segmentCount {
                let length = walker.lacingValue(page: offset, index)
                if atPacketStart {
                    guard completed < packetTypes.count,
                          VorbisHeader.hasMagic(bytes, at: position, type: packetTypes[completed], available: length)
                    else { return nil }
                    atPacketStart = false
                }
                position += length
                if length < 255 {
                    completed += 1
                    atPacketStart = true
                }
            }
            if completed == packetTypes.count, let serial { return (offset + header.totalLength, serial) }
        }
        return nil
    }
}
