import OggEdgeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Walks every page of an Ogg file before it is transcoded, so a source that would fail halfway
/// through the encode is refused before the first byte of the answer (a clear `502`, never a
/// `200` cut short).
///
/// Refused: bytes between or after pages, a page cut off or with a bad CRC, more than one
/// logical stream (a second BOS page or another serial: chained streams), a gap in the page
/// sequence, a negative granule position (other than -1, "no packet ends here"), a granule that
/// goes backwards or jumps further than a page can hold, and a last page without the
/// end-of-stream flag (truncated). libvorbisfile would skip a bad page as a hole or stop early;
/// the decoded length would then not match the last granule, which the encoder only finds out at
/// the end.
enum OggSourceCheck {
    /// The most samples one page can add: 255 packets, each at most half of Vorbis' largest
    /// block (8192).
    static let maxGranuleStep: Int64 = 255 * 4096

    static func check(path: String) throws(TranscodeError) {
        guard let fp = fopen(path, "rb") else { throw .unreadable(path, WAVSource.errnoText()) }
        defer { fclose(fp) }
        var page = [UInt8](repeating: 0, count: OggPageHeader.fixedHeaderLength + 255 + 255 * 255)
        var index: UInt32 = 0
        var serial: UInt32 = 0
        var granule: Int64 = 0
        var sawEnd = false
        while true {
            let got = page.withUnsafeMutableBytes { fread($0.baseAddress, 1, OggPageHeader.fixedHeaderLength, fp) }
            if got == 0 {
                if ferror(fp) != 0 { throw .unreadable(path, WAVSource.errnoText()) }
                break
            }
            guard !sawEnd else { throw .corruptOgg("bytes after the end-of-stream page") }
            guard got == OggPageHeader.fixedHeaderLength else { throw .corruptOgg("page \(index) cut off") }
            let segments = Int(page[26])
            guard segments == 0 || page.withUnsafeMutableBytes({ fread($0.baseAddress! + 27, 1, segments, fp) }) == segments else {
                throw .corruptOgg("page \(index) cut off")
            }
            guard let header = page.withUnsafeBytes({ OggPageHeader.parse(UnsafeRawBufferPointer(rebasing: $0[0..<(27 + segments)])) }) else {
                throw .corruptOgg("no Ogg page where page \(index) should start")
            }
            let body = header.bodyLength
            guard body == 0 || page.withUnsafeMutableBytes({ fread($0.baseAddress! + header.headerLength, 1, body, fp) }) == body else {
                throw .corruptOgg("page \(index) cut off")
            }
            guard page.withUnsafeBytes({ OggCRC.verifyPage(UnsafeRawBufferPointer(rebasing: $0[0..<header.totalLength])) }) else {
                throw .corruptOgg("bad CRC on page \(index)")
            }
            if index == 0 {
                guard header.isBeginningOfStream else { throw .corruptOgg("the first page is not a beginning of stream") }
                serial = header.serial
            } else {
                guard !header.isBeginningOfStream, header.serial == serial else { throw .corruptOgg("chained or multiplexed streams") }
            }
            guard header.sequence == index else { throw .corruptOgg("page \(index) is missing (sequence \(header.sequence))") }
            if header.granulePosition != -1 {
                guard header.granulePosition >= granule, header.granulePosition - granule <= maxGranuleStep else {
                    throw .corruptOgg("granule position \(header.granulePosition) on page \(index) after \(granule)")
                }
                granule = header.granulePosition
            }
            sawEnd = header.isEndOfStream
            index += 1
        }
        guard sawEnd else { throw .corruptOgg("no end-of-stream page at the end of the file (truncated?)") }
    }
}
