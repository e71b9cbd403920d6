import OggEdgeCore

/// Rewrites the checksum of every complete page found from the start of `bytes` (page after
/// page), so mutated pages get past the CRC check and reach the parsers behind it.
public enum OggRepair {
    /// Fixes the CRC of each consecutive complete page; stops at the first that is not one.
    public static func fixChecksums(_ bytes: inout [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let crc: UInt32? = bytes.withUnsafeBytes { raw in
                OggCRC.pageChecksum(UnsafeRawBufferPointer(rebasing: raw[offset...]))
            }
            guard let crc, let header = OggPageHeader.parse(Array(bytes[offset..<min(bytes.count, offset + 282)])) else { return }
            for i in 0..<4 { bytes[offset + 22 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            offset += header.totalLength
        }
    }

    /// One page: header type, granule, serial, sequence, one packet of up to 255 × 255 bytes
    /// (lacing as libogg writes it), with a correct CRC.
    public static func page(headerType: UInt8, granule: Int64, serial: UInt32, sequence: UInt32, packet: [UInt8]) -> [UInt8] {
        var lacing: [UInt8] = Array(repeating: 255, count: min(packet.count / 255, 254))
        lacing.append(UInt8(min(packet.count - lacing.count * 255, 255)))
        let body = Array(packet.prefix(lacing.reduce(0) { $0 + Int($1) }))
        var page: [UInt8] = Array("OggS".utf8) + [0, headerType]
        for i in 0..<8 { page.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: granule) >> (8 * UInt64(i)))) }
        for value in [serial, sequence, 0] {
            for i in 0..<4 { page.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
        }
        page.append(UInt8(lacing.count))
        page += lacing + body
        fixChecksums(&page)
        return page
    }
}
