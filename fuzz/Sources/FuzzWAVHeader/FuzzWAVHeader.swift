import FuzzSupport
@testable import OggEdgeTranscoder

/// WAV headers: ``WAVParser`` (RIFF chunk walk, `fmt `, `data`, LIST/INFO tags) over the input
/// as an in-memory file, through the same random-access reader interface a master file uses.
/// Invariants: an accepted layout is one the encoder can use (mono or stereo, 44.1 or 48 kHz,
/// at least one whole frame) and its audio lies inside the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAVHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = Fuzz.bytes(data, size)
    var reads = 0
    let read: WAVParser.Reader = { (offset: Int64, count: Int) throws(TranscodeError) -> [UInt8] in
        reads += 1
        Fuzz.check(offset >= 0 && count >= 0, "read of \(count) bytes at \(offset)")
        guard offset < Int64(file.count) else { return [] }
        let start = Int(offset)
        return Array(file[start..<min(file.count, start + count)])
    }
    guard let layout = try? WAVParser.parse(fileSize: Int64(file.count), read: read) else { return 0 }
    Fuzz.check(layout.channels == 1 || layout.channels == 2, "\(layout.channels) channels")
    Fuzz.check(layout.sampleRate == 44100 || layout.sampleRate == 48000, "\(layout.sampleRate) Hz")
    Fuzz.check(layout.frameCount > 0 && layout.dataOffset >= 20, "layout \(layout)")
    Fuzz.check(layout.dataOffset + layout.frameCount * Int64(layout.blockAlign) <= Int64(file.count),
               "audio \(layout.dataOffset) + \(layout.frameCount) frames beyond a file of \(file.count) bytes")
    Fuzz.check(layout.comments.allSatisfy { $0.contains("=") }, "comments \(layout.comments)")
    // Each chunk costs at most two reads (header, body) and advances at least 8 bytes.
    Fuzz.check(reads <= 2 * (file.count / 8) + 3, "\(reads) reads for \(file.count) bytes")
    return 0
}
