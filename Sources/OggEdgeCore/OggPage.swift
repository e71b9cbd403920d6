// Ogg page framing (RFC 3533): page headers, the page checksum and a walker over
// consecutive pages. Pure functions over raw bytes; nothing here traps on any input.

/// The fixed part of an Ogg page header plus its segment table, as parsed from raw bytes.
///
/// Layout (little-endian): `"OggS"`, version (0), header type, granule position (Int64),
/// serial (UInt32), sequence (UInt32), CRC (UInt32), segment count, segment table.
/// The body length is the sum of the segment table.
public struct OggPageHeader: Sendable, Equatable {
    /// Header-type flag: the page starts with the continuation of a packet from the previous page.
    public static let continuedPacketFlag: UInt8 = 0x01
    /// Header-type flag: first page of a logical bitstream (BOS).
    public static let beginningOfStreamFlag: UInt8 = 0x02
    /// Header-type flag: last page of a logical bitstream (EOS).
    public static let endOfStreamFlag: UInt8 = 0x04
    /// Length of the fixed header, before the segment table.
    public static let fixedHeaderLength = 27

    /// Header-type flags (`continuedPacketFlag`, `beginningOfStreamFlag`, `endOfStreamFlag`).
    public let headerType: UInt8
    /// Granule position: for Vorbis, the PCM sample count at the end of the last packet that
    /// completes on this page; -1 when no packet completes on this page.
    public let granulePosition: Int64
    /// Logical bitstream serial number.
    public let serial: UInt32
    /// Page sequence number within the logical bitstream.
    public let sequence: UInt32
    /// The CRC stored in the header (see ``OggCRC/verifyPage(_:)``).
    public let checksum: UInt32
    /// Header length in bytes: 27 plus the number of segments.
    public let headerLength: Int
    /// Body length in bytes: the sum of the segment table.
    public let bodyLength: Int

    /// Length of the whole page, header and body.
    public var totalLength: Int { headerLength + bodyLength }
    /// Number of lacing values in the segment table.
    public var segmentCount: Int { headerLength - Self.fixedHeaderLength }
    /// True when the page continues a packet begun on an earlier page.
    public var isContinuation: Bool { headerType & Self.continuedPacketFlag != 0 }
    /// True for the first page of a logical bitstream.
    public var isBeginningOfStream: Bool { headerType & Self.beginningOfStreamFlag != 0 }
    /// True for the last page of a logical bitstream.
    public var isEndOfStream: Bool { headerType & Self.endOfStreamFlag != 0 }

    /// Parses the page header at the start of `bytes` ("OggS", version 0, known flags only,
    /// segment table). Returns nil if `bytes` does not start with a complete valid header
    /// (needs 27 + segment count bytes). The body need not be present and the CRC is not checked;
    /// use ``OggCRC/verifyPage(_:)`` for that.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> OggPageHeader? {
        guard bytes.count >= fixedHeaderLength,
              bytes[0] == 0x4F, bytes[1] == 0x67, bytes[2] == 0x67, bytes[3] == 0x53, // "OggS"
              bytes[4] == 0,
              bytes[5] & ~0x07 == 0
        else { return nil }
        let headerLength = fixedHeaderLength + Int(bytes[26])
        guard bytes.count >= headerLength else { return nil }
        var bodyLength = 0
        for i in fixedHeaderLength..<headerLength { bodyLength += Int(bytes[i]) }
        return OggPageHeader(
            headerType: bytes[5],
            granulePosition: Int64(bitPattern: OggBytes.uint64LE(bytes, 6)),
            serial: OggBytes.uint32LE(bytes, 14),
            sequence: OggBytes.uint32LE(bytes, 18),
            checksum: OggBytes.uint32LE(bytes, 22),
            headerLength: headerLength,
            bodyLength: bodyLength
        )
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func parse(_ bytes: [UInt8]) -> OggPageHeader? {
        bytes.withUnsafeBytes { parse($0) }
    }
}

/// The Ogg page checksum: CRC-32 with polynomial 0x04C11DB7, initial value 0, no bit
/// reflection and no final XOR (the check value of ASCII "123456789" is 0x89A1897F).
public enum OggCRC {
    private static let table: [UInt32] = (0..<256).map { index in
        var r = UInt32(index) << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }

    /// The CRC of `bytes` as they are (no field is zeroed). For a page, see ``pageChecksum(_:)``.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// Continues a CRC computation: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { t in
            var c = crc
            for byte in bytes { c = (c << 8) ^ t[Int(UInt8(truncatingIfNeeded: c >> 24) ^ byte)] }
            return c
        }
    }

    /// The checksum a page at the start of `page` must carry: the CRC over the whole page with
    /// the checksum field (bytes 22..<26) taken as zero. Use it to write a page. Nil if `page`
    /// does not start with a complete page (header and body).
    public static func pageChecksum(_ page: UnsafeRawBufferPointer) -> UInt32? {
        guard let header = OggPageHeader.parse(page), page.count >= header.totalLength else { return nil }
        return pageChecksum(page, header)
    }

    /// True when `page` starts with a complete page whose stored CRC matches its contents.
    /// Bytes after the page are ignored.
    public static func verifyPage(_ page: UnsafeRawBufferPointer) -> Bool {
        guard let header = OggPageHeader.parse(page), page.count >= header.totalLength else { return false }
        return pageChecksum(page, header) == header.checksum
    }

    /// Same as the `UnsafeRawBufferPointer` overload, on an array.
    public static func verifyPage(_ page: [UInt8]) -> Bool {
        page.withUnsafeBytes { verifyPage($0) }
    }

    /// Requires `page.count >= header.totalLength` and `header` parsed from `page`.
    static func pageChecksum(_ page: UnsafeRawBufferPointer, _ header: OggPageHeader) -> UInt32 {
        var crc = update(0, UnsafeRawBufferPointer(rebasing: page[0..<22]))
        let zeros: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        crc = withUnsafeBytes(of: zeros) { update(crc, $0) }
        return update(crc, UnsafeRawBufferPointer(rebasing: page[26..<header.totalLength]))
    }
}

/// Little-endian reads with the bounds checked by the caller.
enum OggBytes {
    /// Reads 4 bytes at `offset`; the caller guarantees `offset + 4 <= bytes.count`.
    static func uint32LE(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(bytes[offset + i]) }
        return v
    }

    /// Reads 8 bytes at `offset`; the caller guarantees `offset + 8 <= bytes.count`.
    static func uint64LE(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(bytes[offset + i]) }
        return v
    }

    /// True when `bytes[offset...]` starts with the capture pattern "OggS".
    static func hasCapturePattern(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        offset >= 0 && offset <= bytes.count - 4
            && bytes[offset] == 0x4F && bytes[offset + 1] == 0x67
            && bytes[offset + 2] == 0x67 && bytes[offset + 3] == 0x53
    }
}

/// Consecutive pages from an offset: each must be complete and carry a valid CRC; iteration
/// stops at the first page that is not (end of buffer, truncation, corruption).
struct OggPageWalker: Sequence, IteratorProtocol {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, from offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func next() -> (offset: Int, header: OggPageHeader)? {
        guard offset >= 0, offset < bytes.count else { return nil }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        guard let header = OggPageHeader.parse(rest), rest.count >= header.totalLength,
              OggCRC.pageChecksum(rest, header) == header.checksum
        else {
            offset = bytes.count
            return nil
        }
        defer { offset += header.totalLength }
        return (offset, header)
    }

    /// Lacing value `index` of the page at `pageOffset` (its header already parsed from `bytes`).
    func lacingValue(page pageOffset: Int, _ index: Int) -> Int {
        Int(bytes[pageOffset + OggPageHeader.fixedHeaderLength + index])
    }
}
