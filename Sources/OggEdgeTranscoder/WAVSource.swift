// Sources of planar float PCM for the encoder, and the WAV master reader.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A decoder that yields planar float PCM in [-1, 1], frame-accurately from the start.
/// Not thread-safe: owned and driven by one `VorbisTranscoder`.
protocol PCMSource: AnyObject {
    var channels: Int { get }
    var sampleRate: Int { get }
    /// Frames per channel, when known.
    var totalFrames: Int64? { get }
    /// Vorbis comments of the source ("TITLE=...").
    var comments: [String] { get }
    /// True when the audio went through Vorbis before (its MDCT block grid is in the signal).
    var hasBlockGrid: Bool { get }
    /// Reads up to `maxFrames` frames; channel `c` goes to `dest[c][0..<n]`. Returns n, 0 at the end.
    func read(into dest: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, maxFrames: Int) throws(TranscodeError) -> Int
    /// Moves to `frame` exactly (calibration excerpts).
    func seek(toFrame frame: Int64) throws(TranscodeError)
    /// Moves to a frame at or shortly after `frame` where a fresh encoder with long-block hop
    /// `hop` and phase `phase` (see `BlockGrid`) is in phase with the source's own long blocks
    /// when the source was Vorbis-coded; returns that frame. Sources without a block
    /// structure just seek to `frame`.
    func seekInPhase(near frame: Int64, hop: Int, phase: Int) throws(TranscodeError) -> Int64
    /// Moves back to the very first frame, exactly.
    func rewind() throws(TranscodeError)
    /// Releases the file. Idempotent; also done on deinit.
    func close()
}

/// Reads a 16-bit PCM WAV master (see `WAVParser` for what is accepted) with buffered stdio.
final class WAVSource: PCMSource {
    let layout: WAVLayout
    private var file: UnsafeMutablePointer<FILE>?
    private let path: String
    /// Next frame `read` returns.
    private var position: Int64 = 0
    /// Where the stdio position is, in frames from the data start (nil: unknown, seek first).
    private var filePosition: Int64?
    private var samples: [Int16] = []

    var channels: Int { layout.channels }
    var sampleRate: Int { layout.sampleRate }
    var totalFrames: Int64? { layout.frameCount }
    var comments: [String] { layout.comments }
    var hasBlockGrid: Bool { false }

    init(path: String) throws(TranscodeError) {
        self.path = path
        guard let file = fopen(path, "rb") else { throw .unreadable(path, Self.errnoText()) }
        var info = stat()
        guard fstat(fileno(file), &info) == 0 else {
            let text = Self.errnoText()
            fclose(file)
            throw .unreadable(path, text)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            fclose(file)
            throw .unreadable(path, "not a regular file")
        }
        do {
            layout = try WAVParser.parse(fileSize: Int64(info.st_size)) { (offset, count) throws(TranscodeError) in
                try Self.readBytes(file, path: path, offset: offset, count: count)
            }
        } catch {
            fclose(file)
            throw error
        }
        self.file = file
    }

    deinit { close() }

    func close() {
        if let file { fclose(file) }
        file = nil
    }

    func read(into dest: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, maxFrames: Int) throws(TranscodeError) -> Int {
        guard let file else { throw .unreadable(path, "file closed") }
        let frames = Int(min(Int64(maxFrames), layout.frameCount - position))
        guard frames > 0 else { return 0 }
        if filePosition != position {
            guard fseeko(file, off_t(layout.dataOffset + position * Int64(layout.blockAlign)), SEEK_SET) == 0 else {
                throw .unreadable(path, Self.errnoText())
            }
        }
        let count = frames * layout.channels
        if samples.count < count { samples = [Int16](repeating: 0, count: count) }
        let got = samples.withUnsafeMutableBytes { fread($0.baseAddress, 2, count, file) }
        guard got == count else {
            filePosition = nil
            if ferror(file) != 0 { throw .unreadable(path, Self.errnoText()) }
            throw .corruptWAV("file ended \(layout.frameCount - position - Int64(got / layout.channels)) frames early")
        }
        position += Int64(frames)
        filePosition = position
        let scale: Float = 1.0 / 32768.0
        samples.withUnsafeBufferPointer { s in
            if layout.channels == 2, let left = dest[0], let right = dest[1] {
                for i in 0..<frames {
                    left[i] = Float(Int16(littleEndian: s[2 * i])) * scale
                    right[i] = Float(Int16(littleEndian: s[2 * i + 1])) * scale
                }
            } else if let mono = dest[0] {
                for i in 0..<frames { mono[i] = Float(Int16(littleEndian: s[i])) * scale }
            }
        }
        return frames
    }

    func seek(toFrame frame: Int64) throws(TranscodeError) {
        position = max(0, min(frame, layout.frameCount))
    }

    func seekInPhase(near frame: Int64, hop: Int, phase: Int) throws(TranscodeError) -> Int64 {
        try seek(toFrame: frame)
        return position
    }

    func rewind() throws(TranscodeError) {
        position = 0
    }

    /// Up to `count` bytes at `offset`; fewer at the end of the file.
    private static func readBytes(_ file: UnsafeMutablePointer<FILE>, path: String, offset: Int64,
                                  count: Int) throws(TranscodeError) -> [UInt8] {
        guard count > 0 else { return [] }
        guard fseeko(file, off_t(offset), SEEK_SET) == 0 else { throw .unreadable(path, errnoText()) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
        if got < count, ferror(file) != 0 { throw .unreadable(path, errnoText()) }
        bytes.removeLast(count - got)
        return bytes
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
