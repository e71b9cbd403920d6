#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import OggEdgeCore
import Synchronization

/// Serves renditions from `MEDIA/tracks/{trackId}_{kbps}kbps.ogg`.
///
/// Each open pins the file by descriptor, so a file replaced while a response streams keeps
/// delivering the old version's bytes; a file truncated under a response fails that response
/// loudly (short read) instead of sending wrong bytes. Duration metadata is computed once per
/// file version (device, inode, size, mtime) and remembered.
public struct FileRenditionSource: RenditionSource {
    /// Directories searched in order, each with a trailing slash: `MEDIA/tracks/`, then where
    /// finished transcodes land.
    let directories: [String]
    let durations: DurationMemo

    /// Creates a source over `mediaDirectory/tracks/` and, after it, `renditionsDirectory`.
    public init(mediaDirectory: String, renditionsDirectory: String? = nil) {
        func slash(_ d: String) -> String { d.hasSuffix("/") ? d : d + "/" }
        self.directories = [slash(mediaDirectory) + "tracks/"] + (renditionsDirectory.map { [slash($0)] } ?? [])
        self.durations = DurationMemo()
    }

    public func open(_ track: TrackPath) async throws(OriginError) -> OpenedRendition? {
        try openFile(track).map { .complete($0) }
    }

    /// Opens the file of `track` pinned by descriptor; `nil` if there is none.
    func openFile(_ track: TrackPath) throws(OriginError) -> FileRenditionReader? {
        for directory in directories {
            if let reader = try openFile(directory + track.fileName) { return reader }
        }
        return nil
    }

    private func openFile(_ path: String) throws(OriginError) -> FileRenditionReader? {
        // TrackPath has already restricted the file name to [A-Za-z0-9_-] + "_Nkbps.ogg".
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .unreadableSource
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return nil
        }
        let identity = FileIdentity(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            mtimeNanos: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        )
        let facts = durations.facts(for: identity) { Self.readFacts(fd: fd, size: identity.size) }
        let info = RenditionInfo(
            length: identity.size,
            validators: Validators(etag: identity.entityTag, lastModified: Int64(st.st_mtim.tv_sec)),
            durationSeconds: facts.durationSeconds,
            playbackOffset: facts.playbackOffset,
            cacheResult: .miss
        )
        return FileRenditionReader(fd: fd, info: info, identity: identity)
    }

    /// Reads the Vorbis identification header, the end of the first audio page and the last
    /// granule position of a file.
    static func readFacts(fd: Int32, size: Int64) -> OggFacts {
        let window = 64 * 1024
        let head = (try? preadFully(fd, count: Int(min(Int64(window), size)), offset: 0)) ?? []
        let tailStart = max(0, size - Int64(window))
        let tail = (try? preadFully(fd, count: Int(size - tailStart), offset: tailStart)) ?? []
        return OggFacts(head: head, tail: tail)
    }
}

/// The identity of one version of a file.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let mtimeNanos: Int64

    /// A strong ETag that changes whenever the file is rewritten or replaced.
    var entityTag: EntityTag {
        EntityTag(opaque: String(size, radix: 16) + "-" + String(UInt64(bitPattern: mtimeNanos), radix: 16) + "-" + String(inode, radix: 16))
    }
}

/// What a player needs to know about an Ogg Vorbis file, read from its first and last bytes.
struct OggFacts: Sendable, Equatable {
    var durationSeconds: Double?
    var playbackOffset: Int64?

    init(durationSeconds: Double?, playbackOffset: Int64?) {
        self.durationSeconds = durationSeconds
        self.playbackOffset = playbackOffset
    }

    /// Parses the head (first page onwards) and the tail (last pages) of a file.
    init(head: [UInt8], tail: [UInt8]) {
        let info = head.withUnsafeBytes { VorbisStreamInfo.parseIdentification(firstPage: $0) }
        let granule = tail.withUnsafeBytes { OggScan.lastGranule(tail: $0) }
        if let info, info.sampleRate > 0, let granule, granule >= 0 {
            durationSeconds = Double(granule) / Double(info.sampleRate)
        }
        playbackOffset = head.withUnsafeBytes { OggScan.endOfFirstAudioPage($0) }.map(Int64.init)
    }
}

/// Remembers Ogg facts per file version; bounded, cleared wholesale when full.
final class DurationMemo: Sendable {
    private let entries = Mutex<[FileIdentity: OggFacts]>([:])
    private let capacity = 16_384

    func facts(for identity: FileIdentity, compute: () -> OggFacts) -> OggFacts {
        if let known = entries.withLock({ $0[identity] }) { return known }
        let value = compute()
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[identity] = value
        }
        return value
    }
}

/// A rendition file pinned by its descriptor.
///
/// `@unchecked Sendable`: `fd` is immutable and `pread` is safe from any thread; `close()` is
/// called once, by the response that opened it, after its last read.
final class FileRenditionReader: RenditionReader, @unchecked Sendable {
    let fd: Int32
    let info: RenditionInfo
    let identity: FileIdentity

    init(fd: Int32, info: RenditionInfo, identity: FileIdentity) {
        self.fd = fd
        self.info = info
        self.identity = identity
    }

    /// Reads exactly `count` bytes at `offset`, then checks the file is still the version that
    /// was opened (size and mtime unchanged), so bytes of a file rewritten in place are never
    /// taken for the old version's.
    func readExactly(offset: Int64, count: Int) throws -> [UInt8] {
        let bytes = try preadFully(fd, count: count, offset: offset)
        var st = stat()
        guard fstat(fd, &st) == 0, Int64(st.st_size) == identity.size,
              Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec) == identity.mtimeNanos
        else { throw SourceReadError.changed }
        return bytes
    }

    func read(
        _ range: ByteRange,
        maxChunk: Int,
        allocator: ByteBufferAllocator,
        into body: (ByteBuffer) async throws -> Void
    ) async throws {
        var offset = range.start
        while offset <= range.end {
            let want = Int(min(Int64(maxChunk), range.end - offset + 1))
            var buffer = allocator.buffer(capacity: want)
            try preadInto(&buffer, ByteRange(start: offset, end: offset + Int64(want) - 1))
            offset += Int64(want)
            try await body(buffer)
        }
    }

    func read(_ range: ByteRange, appendingTo buffer: inout ByteBuffer, allocator: ByteBufferAllocator) async throws {
        try preadInto(&buffer, range)
    }

    /// Reads `range` with `pread` straight into `buffer`'s writable bytes.
    private func preadInto(_ buffer: inout ByteBuffer, _ range: ByteRange) throws {
        try buffer.writePread(fd, count: Int(range.length), offset: range.start)
    }

    func close() {
        Glibc.close(fd)
    }
}

/// A source that failed while a response was streaming.
enum SourceReadError: Error {
    case io(errno: Int32)
    case truncated
    case changed
}
