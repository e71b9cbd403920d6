import OggEdgeCore

/// Byte-level edits of real Ogg Vorbis files for the hostile-media corpus: pages, packets,
/// granules and identification-header fields, with page checksums recomputed afterwards (so a
/// parser gets past the CRC to the field under test).
enum OggSurgery {
    /// One page: where it starts and its parsed header.
    struct Page {
        let offset: Int
        let header: OggPageHeader
    }

    /// Every complete page of `bytes`, in order.
    static func pages(_ bytes: [UInt8]) -> [Page] {
        var out: [Page] = []
        var offset = 0
        while offset < bytes.count,
              let header = bytes.withUnsafeBytes({ OggPageHeader.parse(UnsafeRawBufferPointer(rebasing: $0[offset...])) }),
              offset + header.totalLength <= bytes.count {
            out.append(Page(offset: offset, header: header))
            offset += header.totalLength
        }
        return out
    }

    /// Recomputes the checksum of the page at `offset`.
    static func reseal(_ bytes: inout [UInt8], at offset: Int) {
        for i in 22..<26 { bytes[offset + i] = 0 }
        let crc = bytes.withUnsafeBytes { OggCRC.pageChecksum(UnsafeRawBufferPointer(rebasing: $0[offset...])) } ?? 0
        for i in 0..<4 { bytes[offset + 22 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    /// Writes `value` little-endian at `at` (`width` bytes).
    static func put(_ bytes: inout [UInt8], _ value: UInt64, at: Int, width: Int) {
        for i in 0..<width { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// Sets the granule position of page `index` (negative: from the end) and reseals it.
    static func withGranule(_ bytes: [UInt8], _ granule: Int64, page index: Int) -> [UInt8] {
        var out = bytes
        let all = pages(bytes)
        let page = all[index >= 0 ? index : all.count + index]
        put(&out, UInt64(bitPattern: granule), at: page.offset + 6, width: 8)
        reseal(&out, at: page.offset)
        return out
    }

    /// Sets the identification header's channel count and/or sample rate and reseals page 0.
    static func withIdentification(_ bytes: [UInt8], channels: UInt8? = nil, sampleRate: UInt32? = nil) -> [UInt8] {
        var out = bytes
        let first = pages(bytes)[0]
        let packet = first.offset + first.header.headerLength
        if let channels { out[packet + 11] = channels }
        if let sampleRate { put(&out, UInt64(sampleRate), at: packet + 12, width: 4) }
        reseal(&out, at: first.offset)
        return out
    }

    /// Flips a checksum byte of page `index` (negative: from the end).
    static func withBadChecksum(_ bytes: [UInt8], page index: Int) -> [UInt8] {
        var out = bytes
        let all = pages(bytes)
        out[all[index >= 0 ? index : all.count + index].offset + 22] ^= 0x5a
        return out
    }

    /// The packets of a single logical stream, with the granule of the page each one ends on.
    static func packets(_ bytes: [UInt8]) -> [(data: [UInt8], granule: Int64)] {
        var out: [(data: [UInt8], granule: Int64)] = []
        var current: [UInt8] = []
        for page in pages(bytes) {
            var body = page.offset + page.header.headerLength
            for s in 0..<page.header.segmentCount {
                let lacing = Int(bytes[page.offset + OggPageHeader.fixedHeaderLength + s])
                current += bytes[body..<(body + lacing)]
                body += lacing
                if lacing < 255 {
                    out.append((current, page.header.granulePosition))
                    current = []
                }
            }
        }
        return out
    }

    /// Pages the packets again, one packet per page (a packet over 255 × 255 bytes is not
    /// expected here), with sequence numbers from 0, BOS on the first and EOS on the last.
    static func paginate(_ packets: [(data: [UInt8], granule: Int64)], serial: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        for (index, packet) in packets.enumerated() {
            var lacing = [UInt8](repeating: 255, count: packet.data.count / 255)
            lacing.append(UInt8(packet.data.count % 255))
            let flags: UInt8 = (index == 0 ? OggPageHeader.beginningOfStreamFlag : 0)
                | (index == packets.count - 1 ? OggPageHeader.endOfStreamFlag : 0)
            let start = out.count
            out += Array("OggS".utf8) + [0, flags]
            out += [UInt8](repeating: 0, count: 20)
            put(&out, UInt64(bitPattern: index < 3 ? 0 : packet.granule), at: start + 6, width: 8)
            put(&out, UInt64(serial), at: start + 14, width: 4)
            put(&out, UInt64(index), at: start + 18, width: 4)
            out.append(UInt8(lacing.count))
            out += lacing + packet.data
            reseal(&out, at: start)
        }
        return out
    }

    /// The stream with its comment and setup header packets swapped (identification, setup,
    /// comment, audio...), every page valid.
    static func withHeadersOutOfOrder(_ bytes: [UInt8]) -> [UInt8] {
        var all = packets(bytes)
        all.swapAt(1, 2)
        return paginate(all, serial: pages(bytes)[0].header.serial)
    }

    /// The setup header before the identification header.
    static func withSetupFirst(_ bytes: [UInt8]) -> [UInt8] {
        var all = packets(bytes)
        all.swapAt(0, 2)
        return paginate(all, serial: pages(bytes)[0].header.serial)
    }
}
