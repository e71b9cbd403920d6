import FuzzSupport
import OggEdgeCore

/// Ogg pages (RFC 3533): page headers, the page CRC, the walk over the header pages to the first
/// audio page (``OggScan``), the tail scan for the last granule and the Vorbis identification
/// header. Half the inputs get their page checksums repaired first, so mutations reach the
/// parsers behind the CRC. Invariants: lengths and offsets stay within the input, a computed
/// checksum verifies, and the header and first-audio-page offsets are ordered.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOggPages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Fuzz.bytes(data, size)
    if size > 0, bytes[size - 1] & 1 == 1 { OggRepair.fixChecksums(&bytes) }
    bytes.withUnsafeBytes { raw in
        if let header = OggPageHeader.parse(raw) {
            Fuzz.check(header.headerLength == 27 + header.segmentCount && header.headerLength <= raw.count, "header length")
            Fuzz.check(header.bodyLength >= 0 && header.bodyLength <= 255 * 255, "body length \(header.bodyLength)")
            if OggCRC.verifyPage(raw) { Fuzz.check(raw.count >= header.totalLength, "verified page longer than input") }
            if let crc = OggCRC.pageChecksum(raw) {
                var fixed = Array(raw)
                for i in 0..<4 { fixed[22 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
                Fuzz.check(OggCRC.verifyPage(fixed), "page with its computed checksum fails to verify")
            }
            if let granule = OggScan.lastGranule(tail: raw, serial: header.serial) {
                Fuzz.check(granule >= 0, "last granule \(granule)")
            }
        }
        if let granule = OggScan.lastGranule(tail: raw) { Fuzz.check(granule >= 0, "last granule \(granule)") }
        let headersEnd = OggScan.endOfHeaders(raw)
        let audioEnd = OggScan.endOfFirstAudioPage(raw)
        if let headersEnd { Fuzz.check(headersEnd > 0 && headersEnd <= raw.count, "end of headers \(headersEnd)") }
        if let audioEnd {
            Fuzz.check(headersEnd != nil && headersEnd! < audioEnd && audioEnd <= raw.count,
                       "first audio page ends at \(audioEnd), headers at \(String(describing: headersEnd))")
        }
        if let info = VorbisStreamInfo.parseIdentification(firstPage: raw) {
            Fuzz.check(info.channels > 0 && info.sampleRate > 0, "stream info \(info)")
            _ = info.duration(granule: OggScan.lastGranule(tail: raw) ?? 0)
        }
    }
    return 0
}
