#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OggEdgeCache
import OggEdgeCore

/// Reads byte ranges of one attached rendition version, chunk by chunk: from the LMDB cache,
/// else from its fill session (bytes produced or loaded but not yet committed), else from the
/// origin (a file, pinned by descriptor for the life of the reader and checked to be the version
/// the rendition's metadata names, so two versions are never mixed).
///
/// `@unchecked Sendable`: one response owns a reader and uses it sequentially.
package final class RenditionReader: @unchecked Sendable {
    package let attachment: Attachment
    private var session: FillSession { attachment.session }
    private let store: ChunkStore?
    /// The longest wait for bytes a producer or another reader is about to deliver.
    private let wait: Duration
    /// The origin file, opened on the first chunk that must be read from it (a HIT never opens it).
    private var descriptor: PinnedFile?
    /// Chunk reads answered by the cache or the session's held bytes.
    package private(set) var fromCache = 0
    /// Chunk reads that waited for another reader's load.
    package private(set) var joined = 0
    /// Chunks this reader loaded from the origin.
    package private(set) var loaded = 0
    private var closed = false

    /// A reader of `attachment`; call ``close()`` when done.
    package init(_ attachment: Attachment, store: ChunkStore?, wait: Duration) {
        self.attachment = attachment
        self.store = store
        self.wait = wait
        attachment.session.addReader()
    }

    /// Where the bytes actually came from: the attach outcome, made precise by what reading did
    /// (a partly cached rendition is a `MISS` for a range that had to be loaded).
    package var outcome: CacheResult {
        switch attachment.outcome {
        case .transcode, .coalesced, .upstream: return attachment.outcome
        default:
            if loaded > 0 { return attachment.origin.kind == .upstream ? .upstream : .miss }
            if joined > 0 { return .coalesced }
            if fromCache > 0 { return .hit }
            return attachment.outcome
        }
    }

    /// Reads `range` in pieces of at most `maxChunk` bytes (a piece never spans two cache chunks)
    /// and hands each to `body` in order. Throws if the bytes cannot be had: a response is
    /// byte-exact or fails loudly.
    package func read(
        _ range: ByteRange, maxChunk: Int, allocator: ByteBufferAllocator, into body: (ByteBuffer) async throws -> Void
    ) async throws {
        try await forEachChunk(of: range) { index, lo, hi in
            var buffer = allocator.buffer(capacity: hi - lo + 1)
            try await self.append(index, from: lo, through: hi, to: &buffer)
            try await body(buffer)
        }
    }

    /// Appends all of `range` to `buffer` (small bodies sent in one write).
    package func read(_ range: ByteRange, appendingTo buffer: inout ByteBuffer) async throws {
        try await forEachChunk(of: range) { index, lo, hi in
            try await self.append(index, from: lo, through: hi, to: &buffer)
        }
    }

    /// Makes sure the chunk holding `offset` can be read (from the cache, the session or the
    /// origin), loading it if needed; throws as ``read(_:appendingTo:)`` would.
    package func ensureReadable(_ offset: Int64) async throws {
        guard offset >= 0 else { return }
        var scratch = ByteBufferAllocator().buffer(capacity: 0)
        try await append(Int(offset / Int64(session.chunkSize)), from: 0, through: 0, to: &scratch)
    }

    private func forEachChunk(of range: ByteRange, _ body: (Int, Int, Int) async throws -> Void) async throws {
        guard range.length > 0, range.start >= 0 else { return }
        let size = Int64(session.chunkSize)
        for index in Int(range.start / size)...Int(range.end / size) {
            let chunkStart = Int64(index) * size
            let lo = Int(max(range.start, chunkStart) - chunkStart)
            let hi = Int(min(range.end, chunkStart + size - 1) - chunkStart)
            try await body(index, lo, hi)
        }
    }

    /// Appends bytes `lo...hi` of chunk `index`.
    private func append(_ index: Int, from lo: Int, through hi: Int, to buffer: inout ByteBuffer) async throws {
        let id = ChunkID(rendition: attachment.key, generation: session.generation, index: UInt32(index))
        if case .upstream(let pull) = attachment.origin { pull.willRead(index) }
        if lookUp(id, lo, hi, &buffer) {
            fromCache += 1
            return
        }
        let fetching = FetchMark()
        let load: (@Sendable () async throws -> [UInt8])?
        if case .file(let path, let identity) = attachment.origin, !session.isSequential, let meta = session.meta {
            let descriptor = self.descriptor ?? PinnedFile(path: path, identity: identity)
            self.descriptor = descriptor
            let offset = Int64(index) * Int64(meta.chunkSize)
            let count = meta.chunkLength(index)
            load = { try await descriptor.read(offset: offset, count: count) }
        } else if case .upstream(let pull) = attachment.origin {
            load = { [fetching] in try await pull.chunk(index, fetching: fetching) }
        } else {
            load = nil
        }
        var copied = false
        let source: FillSession.ChunkSource
        do {
            source = try await session.chunk(index, from: lo, through: hi, wait: wait, load: load) {
                copied = lookUp(id, lo, hi, &buffer)
                return copied
            } body: { bytes in
                guard !copied else { return }
                guard bytes.count > hi else { return }
                _ = bytes.withUnsafeBytes { buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[lo...hi])) }
                copied = true
            }
        } catch SourceReadError.lost {
            // A chunk of an encode left the cache (corrupt, or never stored): this version is
            // gone for good; the next request encodes again.
            session.invalidate()
            throw SourceReadError.lost
        }
        guard copied else { throw SourceReadError.truncated }
        switch source {
        case .held: fromCache += 1
        // A pulled chunk whose slice another reader's fetch was already bringing: joined.
        case .loaded: if attachment.origin.kind == .upstream && !fetching.isSet { joined += 1 } else { loaded += 1 }
        case .joined: joined += 1
        }
    }

    /// Copies bytes `lo...hi` of chunk `id` from the cache; false when it is not there (whole).
    private func lookUp(_ id: ChunkID, _ lo: Int, _ hi: Int, _ buffer: inout ByteBuffer) -> Bool {
        guard let store else { return false }
        assertOffEventLoop()
        var complete = false
        let mark = buffer.writerIndex
        let found = store.withChunk(id) { payload in
            guard payload.count > hi else { return }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: payload[lo...hi]))
            complete = true
        }
        if found == .found && complete { return true }
        buffer.moveWriterIndex(to: mark)
        return false
    }

    /// Releases the reader's descriptor and its hold on the session. Idempotent.
    package func close() {
        guard !closed else { return }
        closed = true
        descriptor?.close()
        session.removeReader()
    }

    deinit {
        if !closed {
            descriptor?.close()
            session.removeReader()
        }
    }
}

/// A file opened on first use and kept for the life of one response, so a file replaced under the
/// response keeps delivering the version it started with; checked against the identity the
/// rendition's metadata was made from (a file rewritten in place fails the response loudly).
final class PinnedFile: @unchecked Sendable {
    // Invariant for @unchecked Sendable: `fd` is only touched under `lock`.
    private let path: String
    private let identity: FileIdentity
    private let lock = NIOLock()
    private var fd: Int32 = -1

    init(path: String, identity: FileIdentity) {
        self.path = path
        self.identity = identity
    }

    /// Exactly `count` bytes at `offset`, read on a blocking-I/O thread (never an event loop).
    func read(offset: Int64, count: Int) async throws -> [UInt8] {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            let fd = try lock.withLock { () throws -> Int32 in
                if self.fd < 0 {
                    let opened = open(path, O_RDONLY | O_CLOEXEC)
                    guard opened >= 0 else { throw SourceReadError.changed }
                    guard FileIdentity.ofDescriptor(opened) == identity else {
                        Glibc.close(opened)
                        throw SourceReadError.changed
                    }
                    self.fd = opened
                }
                return self.fd
            }
            let bytes = try preadFully(fd, count: count, offset: offset)
            // Rewritten in place while we read (same inode): refuse rather than mix versions.
            guard FileIdentity.ofDescriptor(fd) == identity else { throw SourceReadError.changed }
            return bytes
        }
    }

    func close() {
        lock.withLock {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}

/// Debug builds (the tests) trap when blocking work (LMDB, the file system) runs on a NIO event
/// loop: the loops only parse requests and write sockets.
package func assertOffEventLoop(_ what: StaticString = #function) {
    assert(MultiThreadedEventLoopGroup.currentEventLoop == nil, "blocking work on an event loop: \(what)")
}
