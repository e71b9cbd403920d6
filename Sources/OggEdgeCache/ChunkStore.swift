import CLMDB
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Counters of the chunk cache, as `/admin/stats` and `/metrics` report them.
public struct CacheStats: Sendable, Equatable {
    /// Live bytes in LMDB pages.
    public var bytes: Int64 = 0
    /// Size of the data file on disk.
    public var fileBytes: Int64 = 0
    /// Renditions with a metadata record.
    public var renditions: Int64 = 0
    /// Chunk records.
    public var chunks: Int64 = 0
    /// Chunks evicted to stay under the bound.
    public var evictions: Int64 = 0
    /// Chunks dropped because their checksum did not match.
    public var checksumFailures: Int64 = 0
    /// Chunk writes that could not be stored: the map was full even after eviction, or the
    /// source of a chunk the writer reads itself failed or changed before it read it.
    public var droppedWrites: Int64 = 0
    /// Creates zeroed stats.
    public init() {}
}

/// What a chunk lookup found.
public enum ChunkLookup: Sendable, Equatable {
    /// The chunk was present, verified and lent to the reader.
    case found
    /// Not stored.
    case missing
    /// Stored but its checksum failed; it has been scheduled for deletion.
    case corrupt
}

/// An LMDB-backed store of fixed-size rendition chunks with per-chunk CRC-32C checksums,
/// bounded in size by least-recently-used eviction.
///
/// Reads run on the caller's thread in a short read transaction and copy the bytes out before it
/// ends. Every write (chunks, metadata, purges, evictions) goes through one writer thread that
/// batches many operations per commit. The data file never grows past `maxBytes` (the LMDB map
/// size). Live data is kept under a high-water mark 5 % below it (at least three chunks): a
/// commit that would pass it first evicts, in the same transaction, down to 1 % under the mark
/// (see ``RecencyIndex`` for the order). The 5 % is the room LMDB needs for pages freed by recent
/// commits and still visible to readers, which it cannot reuse yet; commits are kept to a third
/// of it, so `MDB_MAP_FULL` stays rare (on it: evict more and retry once, else drop the chunks).
public final class ChunkStore: Sendable {
    /// Chunk payload size: 16 pages of 4 KiB minus LMDB's page header and our 4-byte checksum, so
    /// a chunk fills its overflow pages exactly (a full 64 KiB payload would need 17 pages).
    public static let defaultChunkSize = 16 * 4096 - 16 - 4

    let env: LMDBEnvironment
    /// Bytes per chunk for renditions stored from now on.
    public let chunkSize: Int
    /// The bound on disk.
    public let maxBytes: Int
    /// What the store and its writer share (recency, counters, queued metadata and deletions).
    let book: CacheBook
    let writer: ChunkWriter
    /// The LMDB data file (for `sendfile` of pinned ranges).
    public let dataFilePath: String
    /// Chunks dropped when this store was opened because the cache was of an older format.
    public let formatResetChunks: Int
    /// Read transactions currently pinning ranges for the socket.
    let pinned = Atomic<Int>(0)

    /// Opens or creates the cache in `directory`.
    /// - Parameters:
    ///   - directory: created if missing.
    ///   - maxBytes: the bound on disk (the LMDB map size); at least 1 MiB.
    public init(directory: String, maxBytes: Int, chunkSize: Int = ChunkStore.defaultChunkSize) throws {
        try Self.makeDirectory(directory)
        self.dataFilePath = directory + "/data.mdb"
        let bound = max(1 << 20, maxBytes) / 4096 * 4096
        let env = try LMDBEnvironment(directory: directory, mapSize: bound)
        self.formatResetChunks = try Self.settleFormat(env)
        self.env = env
        self.maxBytes = env.mapSize
        self.chunkSize = chunkSize
        let book = CacheBook(chunkSize: chunkSize)
        let writer = ChunkWriter(env: env, book: book)
        var index = RecencyIndex()
        // Measured with `cache-replay` (Zipf 1.0, a cache of 10 % of the catalogue, 12 plays at a
        // time, seeds 1-4): protected at most 80 % of what the cache holds; a read counts as a new
        // play after half the cache's chunks of other touches since the last (a player's own tail
        // probe or seek among a dozen interleaved plays does not); play counts halve every 12
        // cache-fulls of touches. 0.985-0.989x of the best static choice, against 0.970-0.978x
        // for recency alone with the whole cache as window; aging every 32 cache-fulls fell to
        // 0.92-0.96x (old counts pile up), never aging to 0.92-0.94x.
        let capacity = max(1, writer.highWater / writer.chunkPages)
        index.protectedLimit = capacity * 4 / 5
        index.window = UInt64(max(64, capacity / 2))
        index.agingPeriod = UInt64(capacity) * 12
        try env.read { txn in
            try txn.forEach(env.chunks) { key, _ in
                if let id = ChunkID(key: key) { index.touch(id) }
            }
        }
        book.recency.withLock { $0 = index }
        self.book = book
        self.writer = writer
        writer.start()
        writer.enqueue(.removeOrphans)
    }

    /// Sets the function told about renditions the cache dropped whole on its own (a transcoded
    /// rendition evicted as a unit), so an in-memory index of renditions can forget them.
    public func onRenditionsDropped(_ hook: @escaping @Sendable ([String]) -> Void) {
        book.onRenditionsDropped(hook)
    }

    /// Stops the writer after it has committed everything queued.
    public func close() {
        writer.stopAndWait()
    }

    /// The metadata record of `rendition`, if stored or queued (and not queued for deletion).
    public func meta(_ rendition: String) -> RenditionMeta? {
        if let pending = book.pendingMeta.withLock({ $0[rendition] }) { return pending }
        // The deletion marker is read before the record: a snapshot taken before the writer
        // committed a deletion is then always seen with its marker (the writer clears a marker
        // only after committing). Read after, the marker could already be gone while the
        // snapshot still held the deleted record: a purged rendition came back as a hit.
        let deleting = book.pendingDeletes.withLock { $0[rendition] }
        guard let stored = storedMeta(rendition) else { return nil }
        if deleting == stored.generation { return nil }
        return stored
    }

    private func storedMeta(_ rendition: String) -> RenditionMeta? {
        try? env.read { txn in try txn.get(env.meta, key: Array(rendition.utf8)) { RenditionMeta.decode($0) } } ?? nil
    }

    /// The metadata of `rendition` for the source version `source`: the stored one if it matches,
    /// else a new record from `make` (given a fresh generation), queued atomically so concurrent
    /// callers agree on one generation.
    /// - Returns: the record and whether it was created by this call.
    public func resolveMeta(
        _ rendition: String, source: SourceIdentity, make: (UInt32) -> RenditionMeta
    ) -> (meta: RenditionMeta, created: Bool) {
        book.pendingMeta.withLock { pending in
            if let queued = pending[rendition], queued.source == source { return (queued, false) }
            if pending[rendition] == nil, let stored = storedMeta(rendition), stored.source == source { return (stored, false) }
            let meta = make(nextGeneration())
            pending[rendition] = meta
            writer.enqueue(.putMeta(rendition, meta))
            return (meta, true)
        }
    }

    /// Lends chunk `id`'s verified bytes to `body` inside a read transaction.
    /// - Returns: `.found` after `body` ran; `.missing` or `.corrupt` without calling it.
    ///
    /// The CRC is checked the first time this process reads a chunk (and chunks it wrote itself
    /// are known good): a chunk read a thousand times is hashed once, not a thousand times.
    public func withChunk(_ id: ChunkID, _ body: (UnsafeRawBufferPointer) -> Void) -> ChunkLookup {
        let trusted = book.recency.withLock { $0.isVerified(id) }
        let result: ChunkLookup = (try? env.read { txn -> ChunkLookup in
            let found = try txn.get(env.chunks, key: id.key) { value -> ChunkLookup in
                guard value.count >= 4 else { return .corrupt }
                let stored = UInt32(value[0]) | UInt32(value[1]) << 8 | UInt32(value[2]) << 16 | UInt32(value[3]) << 24
                let payload = UnsafeRawBufferPointer(rebasing: value[4...])
                guard trusted || Self.crc(payload) == stored else { return .corrupt }
                body(payload)
                return .found
            }
            return found ?? .missing
        }) ?? .missing
        switch result {
        case .found: book.recency.withLock { $0.touch(id, verified: true, read: true) }
        case .corrupt:
            book.counters.withLock { $0.checksumFailures += 1 }
            writer.enqueue(.deleteChunk(id))
        case .missing: break
        }
        return result
    }

    /// Lends the bytes `start...end` of one rendition version to `body`, piece by piece in order
    /// (one piece per chunk), all inside one read transaction. The hot path of a cache hit: no
    /// key array, one lock to learn which chunks are already verified and one to mark them used.
    /// - Returns: true when every byte was there and verified; false as soon as one chunk is
    ///   missing, short or corrupt (`body` may have seen earlier pieces: the caller discards them).
    public func withRange(
        rendition: String, generation: UInt32, chunkSize: Int, start: Int64, end: Int64,
        _ body: (UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        guard start >= 0, end >= start, chunkSize > 0 else { return false }
        let size = Int64(chunkSize)
        let first = start / size
        let last = end / size
        guard last - first < 64, last <= Int64(UInt32.max) else { return false }
        let count = Int(last - first) + 1
        // One pass under the lock before reading: which chunks are already verified, and marked
        // used (a chunk found missing below was touched for nothing, which is harmless).
        let (trustedMask, unknown) = book.recency.withLock { r in
            r.touchRead(count: count) { ChunkID(rendition: rendition, generation: generation, index: UInt32(first) + UInt32($0)) }
        }
        var corrupt: UInt32?
        let complete = (try? env.read { txn -> Bool in
            ChunkID.withKey(rendition: rendition, generation: generation) { key, setIndex in
                var i = 0
                while i < count {
                    let index = first + Int64(i)
                    setIndex(UInt32(index))
                    var mk = MDB_val(mv_size: key.count, mv_data: key.baseAddress)
                    var mv = MDB_val()
                    guard mdb_get(txn.txn, env.chunks, &mk, &mv) == 0, mv.mv_size >= 4, let base = mv.mv_data else { return false }
                    let payload = UnsafeRawBufferPointer(start: base + 4, count: mv.mv_size - 4)
                    let chunkStart = index * size
                    let lo = Int(max(start, chunkStart) - chunkStart)
                    let hi = Int(min(end, chunkStart + size - 1) - chunkStart)
                    guard payload.count > hi else { return false }
                    if trustedMask & (1 << UInt64(i)) == 0 {
                        let stored = base.loadUnaligned(as: UInt32.self).littleEndian
                        guard Self.crc(payload) == stored else {
                            corrupt = UInt32(index)
                            return false
                        }
                    }
                    body(UnsafeRawBufferPointer(start: payload.baseAddress! + lo, count: hi - lo + 1))
                    i += 1
                }
                return true
            }
        }) ?? false
        if let corrupt {
            book.counters.withLock { $0.checksumFailures += 1 }
            writer.enqueue(.deleteChunk(ChunkID(rendition: rendition, generation: generation, index: corrupt)))
        }
        guard complete else { return false }
        // Chunks checked for the first time (or written a moment ago and not yet in the index).
        let untrusted = ~trustedMask & (count == 64 ? ~0 : (1 << UInt64(count)) - 1)
        if untrusted != 0 {
            book.recency.withLock { r in
                var i = 0
                while i < count {
                    if untrusted & (1 << UInt64(i)) != 0 {
                        let id = ChunkID(rendition: rendition, generation: generation, index: UInt32(first) + UInt32(i))
                        r.touch(id, verified: true, read: unknown & (1 << UInt64(i)) != 0)
                    }
                    i += 1
                }
            }
        }
        return true
    }

    /// Which of `count` (at most 64) consecutive chunks of one rendition version, from `first`,
    /// the cache holds: bit `i` for chunk `first + i`. One read transaction; no CRC check and
    /// nothing marked used (a look before a fill, not a read).
    public func presence(rendition: String, generation: UInt32, first: Int, count: Int) -> UInt64 {
        guard count > 0, count <= 64, first >= 0, first + count - 1 <= Int(UInt32.max) else { return 0 }
        return (try? env.read { txn -> UInt64 in
            ChunkID.withKey(rendition: rendition, generation: generation) { key, setIndex in
                var mask: UInt64 = 0
                for i in 0..<count {
                    setIndex(UInt32(first + i))
                    var mk = MDB_val(mv_size: key.count, mv_data: key.baseAddress)
                    var mv = MDB_val()
                    if mdb_get(txn.txn, env.chunks, &mk, &mv) == 0 { mask |= 1 << UInt64(i) }
                }
                return mask
            }
        }) ?? 0
    }

    /// Queues `meta` for `rendition` (committed before any chunk queued after it).
    public func putMeta(_ meta: RenditionMeta, for rendition: String) {
        book.pendingMeta.withLock { pending in
            pending[rendition] = meta
            writer.enqueue(.putMeta(rendition, meta))
        }
    }

    /// Chunk bytes queued for the writer and not yet applied.
    public var writeBacklog: Int { writer.backlog.load(ordering: .relaxed) }

    /// Most chunk bytes that may wait for the writer before fills that can be skipped (a miss
    /// answered from a file anyway) are: the writer is behind, and memory holds what it waits for.
    public var writeBacklogLimit: Int { max(4 << 20, 16 * chunkSize) }

    /// True when the writer is behind by more than ``writeBacklogLimit``: a fill that is not
    /// needed to answer a request should not be queued now.
    public var isWriteBacklogged: Bool { writeBacklog > writeBacklogLimit }

    /// Queues a chunk; `committed` runs on the writer thread once it is stored (`true`) or
    /// dropped (`false`: the cache is full, or the chunk's generation is no longer current).
    public func putChunk(_ id: ChunkID, bytes: [UInt8], committed: (@Sendable (Bool) -> Void)? = nil) {
        writer.enqueue(.putChunk(id, .bytes(bytes), committed))
    }

    /// Queues a chunk of `count` bytes that the writer reads itself: `fill` writes them into the
    /// page LMDB reserves for the chunk, on the writer thread (so the bytes are copied once, and
    /// not by the thread that queued them), and returns false if it could not (nothing is stored;
    /// counted in ``CacheStats/droppedWrites``). `committed` as for ``putChunk(_:bytes:committed:)``.
    public func putChunk(
        _ id: ChunkID, count: Int, fill: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Bool,
        committed: (@Sendable (Bool) -> Void)? = nil
    ) {
        writer.enqueue(.putChunk(id, .filled(count: count, fill: fill), committed))
    }

    /// The next generation number: unique for the life of the cache directory, so chunks of a
    /// purged or replaced version can never be taken for the new one's.
    public func nextGeneration() -> UInt32 {
        writer.nextGeneration()
    }

    /// Removes the renditions (keys like `demo_160kbps`) with all their chunks and waits until
    /// that is committed. A response already streaming keeps its copied bytes and refills
    /// anything else from its pinned source.
    /// - Returns: the number of metadata records removed.
    public func purge(renditions: [String]) async -> Int {
        await withCheckedContinuation { continuation in
            book.pendingMeta.withLock { pending in
                for rendition in renditions { pending[rendition] = nil }
                writer.enqueue(.purge(renditions, { continuation.resume(returning: $0) }))
            }
        }
    }

    /// Removes generation `generation` of `rendition` (its chunks, and its metadata if that
    /// generation is still the current one). Used when a fill that was purged while running ends.
    public func dropGeneration(_ rendition: String, _ generation: UInt32) {
        book.pendingMeta.withLock { pending in
            if pending[rendition]?.generation == generation { pending[rendition] = nil }
            book.pendingDeletes.withLock { $0[rendition] = generation }
            writer.enqueue(.dropGeneration(rendition, generation))
        }
    }

    /// Deletes `rendition`'s metadata if it is of `generation`, leaving that generation's chunks
    /// for responses still reading them (``dropGeneration(_:_:)`` removes them later).
    public func deleteMeta(_ rendition: String, _ generation: UInt32) {
        book.pendingMeta.withLock { pending in
            if pending[rendition]?.generation == generation { pending[rendition] = nil }
            book.pendingDeletes.withLock { $0[rendition] = generation }
            writer.enqueue(.deleteMeta(rendition, generation))
        }
    }

    /// Runs `body` on the writer thread once everything queued before it has been applied.
    public func afterQueuedWrites(_ body: @escaping @Sendable () -> Void) {
        writer.enqueue(.barrier(body))
    }

    /// Current counters and sizes.
    public func stats() -> CacheStats {
        var s = book.counters.withLock { $0 }
        s.bytes = Int64(env.liveBytes())
        s.fileBytes = Int64(env.fileBytes())
        s.chunks = Int64(env.chunkCount())
        s.renditions = (try? env.read { txn -> Int64 in
            var st = MDB_stat()
            guard mdb_stat(txn.txn, env.meta, &st) == 0 else { return 0 }
            // The generation counter and the format mark live in the metadata database too.
            let counter = try txn.get(env.meta, key: ChunkWriter.generationKey) { _ in 1 } ?? 0
            let mark = try txn.get(env.meta, key: Self.formatKey) { _ in 1 } ?? 0
            return Int64(st.ms_entries) - Int64(counter) - Int64(mark)
        }) ?? 0
        return s
    }

    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw LMDBError(code: errno, operation: "mkdir \(current)")
            }
        }
    }
}
