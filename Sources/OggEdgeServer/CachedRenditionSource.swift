import NIOCore
import OggEdgeCache
import OggEdgeCore
import Synchronization

/// Responses counted by where their bytes came from (for `/admin/stats`).
final class DeliveryCounters: Sendable {
    private let counts = Mutex<[CacheResult: Int64]>([:])

    func count(_ result: CacheResult) {
        counts.withLock { $0[result, default: 0] += 1 }
    }

    subscript(_ result: CacheResult) -> Int64 {
        counts.withLock { $0[result] ?? 0 }
    }
}

/// `tracks/` files behind the LMDB chunk cache: the cache answers what it holds, a miss reads
/// the file (pinned by descriptor) and stores what it read, chunk by chunk.
///
/// The cached version is tied to the file's identity (device, inode, size, mtime): a changed file
/// gets a new generation and its old chunks are never served again.
struct CachedRenditionSource: RenditionSource {
    let files: FileRenditionSource
    let store: ChunkStore
    let fills: FillRegistry

    func open(_ track: TrackPath) async throws(OriginError) -> OpenedRendition? {
        guard let file = try files.openFile(track) else { return nil }
        let key = track.renditionKey
        let source = SourceIdentity(
            size: file.identity.size, mtimeNanos: file.identity.mtimeNanos, inode: file.identity.inode, device: file.identity.device
        )
        let chunkSize = store.chunkSize
        let (meta, fresh) = store.resolveMeta(key, source: source) { generation in
            RenditionMeta(
                generation: generation, chunkSize: chunkSize, length: file.info.length,
                etag: file.info.validators.etag.opaque, lastModified: file.info.validators.lastModified,
                durationMillis: file.info.durationSeconds.map { Int64(($0 * 1000).rounded()) },
                playbackOffset: file.info.playbackOffset, source: source
            )
        }
        var info = file.info
        info.cacheResult = fresh ? .miss : .hit
        return .complete(CachedRenditionReader(key: key, meta: meta, info: info, file: file, store: store, fills: fills))
    }
}

extension TrackPath {
    /// The cache key of this rendition, e.g. `demo_160kbps`.
    var renditionKey: String { "\(trackId)_\(kbps)kbps" }
}

/// Reads a rendition chunk by chunk from the cache, filling what is missing from the file.
///
/// `@unchecked Sendable`: one response owns a reader and reads it sequentially; `outcome` is
/// only written inside `read` and read after it returned.
final class CachedRenditionReader: RenditionReader, @unchecked Sendable {
    let key: String
    let meta: RenditionMeta
    let info: RenditionInfo
    let file: FileRenditionReader
    let store: ChunkStore
    let fills: FillRegistry
    private var fromCache = 0
    private var joined = 0
    private var filled = 0

    init(key: String, meta: RenditionMeta, info: RenditionInfo, file: FileRenditionReader, store: ChunkStore, fills: FillRegistry) {
        self.key = key
        self.meta = meta
        self.info = info
        self.file = file
        self.store = store
        self.fills = fills
    }

    var outcome: CacheResult {
        if filled > 0 { return .miss }
        if joined > 0 { return .coalesced }
        if fromCache > 0 { return .hit }
        return info.cacheResult
    }

    func read(
        _ range: ByteRange, maxChunk: Int, allocator: ByteBufferAllocator, into body: (ByteBuffer) async throws -> Void
    ) async throws {
        try await forEachChunk(of: range) { index, lo, hi in
            var buffer = allocator.buffer(capacity: hi - lo + 1)
            try await appendChunk(index, from: lo, through: hi, to: &buffer)
            try await body(buffer)
        }
    }

    func read(_ range: ByteRange, appendingTo buffer: inout ByteBuffer, allocator: ByteBufferAllocator) async throws {
        try await forEachChunk(of: range) { index, lo, hi in
            try await appendChunk(index, from: lo, through: hi, to: &buffer)
        }
    }

    /// Calls `body` with each chunk index `range` touches and the offsets inside that chunk.
    private func forEachChunk(of range: ByteRange, _ body: (Int, Int, Int) async throws -> Void) async throws {
        guard range.length > 0, range.end < meta.length else { return }
        let size = Int64(meta.chunkSize)
        for index in Int(range.start / size)...Int(range.end / size) {
            let chunkStart = Int64(index) * size
            let chunkLength = meta.chunkLength(index)
            let lo = Int(max(range.start, chunkStart) - chunkStart)
            let hi = Int(min(range.end, chunkStart + Int64(chunkLength) - 1) - chunkStart)
            try await body(index, lo, hi)
        }
    }

    /// Appends bytes `lo...hi` of chunk `index`: from LMDB if stored, else from the file
    /// (joining a fill under way) while the chunk is queued for storage.
    private func appendChunk(_ index: Int, from lo: Int, through hi: Int, to buffer: inout ByteBuffer) async throws {
        let chunkLength = meta.chunkLength(index)
        let id = ChunkID(rendition: key, generation: meta.generation, index: UInt32(index))
        let mark = buffer.writerIndex
        var complete = false
        let lookup = store.withChunk(id) { payload in
            guard payload.count == chunkLength else { return }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: payload[lo...hi]))
            complete = true
        }
        if lookup == .found && complete {
            fromCache += 1
            return
        }
        buffer.moveWriterIndex(to: mark)
        let file = self.file
        let store = self.store
        let fills = self.fills
        let chunkStart = Int64(index) * Int64(meta.chunkSize)
        let (bytes, source) = try await fills.fill(id) {
            try file.readExactly(offset: chunkStart, count: chunkLength)
        } store: { bytes in
            store.putChunk(id, bytes: bytes) { fills.finish(id) }
        }
        switch source {
        case .loaded: filled += 1
        case .joined: joined += 1
        case .buffered: fromCache += 1
        }
        buffer.writeBytes(bytes[lo...hi])
    }

    func close() {
        file.close()
    }
}
