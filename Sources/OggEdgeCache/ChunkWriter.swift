import CLMDB
import Dispatch
import Foundation
import Synchronization

/// One write to the cache, applied by the writer thread in queue order.
enum WriteOp: Sendable {
    case putMeta(String, RenditionMeta)
    /// The callback gets whether the chunk was stored (false: dropped, e.g. the cache is full or
    /// the chunk's generation is no longer its rendition's current one).
    case putChunk(ChunkID, [UInt8], (@Sendable (Bool) -> Void)?)
    case deleteChunk(ChunkID)
    case purge([String], @Sendable (Int) -> Void)
    /// Drops one generation of a rendition: its chunks, and its metadata if still current.
    case dropGeneration(String, UInt32)
    /// Deletes a rendition's metadata if it is still of this generation (chunks stay, as orphans).
    case deleteMeta(String, UInt32)
    /// Runs after every operation queued before it has been applied (and its callback run).
    case barrier(@Sendable () -> Void)
    case removeOrphans
}

/// The single writer: a dedicated thread that applies queued operations in batches, one LMDB
/// write transaction per batch, and keeps the store under its bound.
///
/// A dedicated thread (not a Swift task) because commits block on `fdatasync`; nothing on the
/// response path ever waits for it.
final class ChunkWriter: @unchecked Sendable {
    // Invariant for @unchecked Sendable: `store` is set once, before `start()`, and only read after.
    private let env: LMDBEnvironment
    weak var store: ChunkStore?
    private let queue = Mutex<(ops: [WriteOp], stopping: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let generation: Mutex<UInt32>
    static let generationKey: [UInt8] = [0, 0x67] // sorts before every rendition key
    /// Most operations per transaction.
    let maxBatch = 256

    init(env: LMDBEnvironment) {
        self.env = env
        var highest: UInt32 = 0
        try? env.read { txn in
            try txn.forEach(env.meta) { key, value in
                if key.elementsEqual(Self.generationKey), value.count == 4 {
                    highest = max(highest, value.loadUnaligned(as: UInt32.self))
                } else if let meta = RenditionMeta.decode(value) {
                    highest = max(highest, meta.generation)
                }
            }
        }
        generation = Mutex(highest)
    }

    func nextGeneration() -> UInt32 {
        generation.withLock { g in
            g &+= 1
            return g
        }
    }

    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "oggedge-cache-writer"
        thread.start()
    }

    func enqueue(_ op: WriteOp) {
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopping else { return false }
            q.ops.append(op)
            return true
        }
        if accepted { wake.signal() } else { Self.complete([op], stored: []) }
    }

    func stopAndWait() {
        let first = queue.withLock { q -> Bool in
            defer { q.stopping = true }
            return !q.stopping
        }
        guard first else { return }
        wake.signal()
        done.wait()
    }

    private func loop() {
        while true {
            wake.wait()
            while true {
                let (batch, stopping) = queue.withLock { q -> ([WriteOp], Bool) in
                    let n = min(q.ops.count, maxBatch)
                    let b = Array(q.ops.prefix(n))
                    q.ops.removeFirst(n)
                    return (b, q.stopping && q.ops.isEmpty)
                }
                if !batch.isEmpty { apply(batch) }
                if stopping {
                    done.signal()
                    return
                }
                if batch.isEmpty { break }
            }
        }
    }

    private func apply(_ batch: [WriteOp]) {
        var stored: Set<ChunkID> = []
        do {
            stored = try commit(batch, chunks: true)
        } catch let error as LMDBError where error.isMapFull {
            evict(toFraction: 0.5)
            do {
                stored = try commit(batch, chunks: true)
            } catch {
                // Still full: keep metadata and purges, drop the chunk writes (serve uncached).
                let dropped = batch.filter { if case .putChunk = $0 { return true } else { return false } }.count
                store?.counters.withLock { $0.droppedWrites += Int64(dropped) }
                stored = (try? commit(batch, chunks: false)) ?? []
            }
        } catch {
            stored = (try? commit(batch, chunks: false)) ?? []
        }
        Self.complete(batch, stored: stored)
        if env.liveBytes() > env.mapSize * 85 / 100 { evict(toFraction: 0.7) }
    }

    /// Runs the callbacks of applied (or refused) operations.
    private static func complete(_ batch: [WriteOp], stored: Set<ChunkID>) {
        for op in batch {
            switch op {
            case .putChunk(let id, _, let committed?): committed(stored.contains(id))
            case .barrier(let body): body()
            default: break
            }
        }
    }

    @discardableResult
    private func commit(_ batch: [WriteOp], chunks: Bool) throws -> Set<ChunkID> {
        var purged: [(Set<String>, @Sendable (Int) -> Void, Int)] = []
        var stored: Set<ChunkID> = []
        try env.write { txn in
            var generations: [String: UInt32?] = [:]
            func currentGeneration(_ rendition: String) throws -> UInt32? {
                if let known = generations[rendition] { return known }
                let g = try txn.get(env.meta, key: Array(rendition.utf8)) { RenditionMeta.decode($0)?.generation } ?? nil
                generations[rendition] = g
                return g
            }
            for op in batch {
                switch op {
                case .putMeta(let rendition, let meta):
                    try meta.encoded().withUnsafeBytes { try txn.put(env.meta, key: Array(rendition.utf8), value: $0) }
                    try withUnsafeBytes(of: meta.generation) { try txn.put(env.meta, key: Self.generationKey, value: $0) }
                    generations[rendition] = meta.generation
                case .putChunk(let id, let bytes, _):
                    // Only chunks of the rendition's current version are stored.
                    guard chunks, try currentGeneration(id.rendition) == id.generation else { continue }
                    var value = [UInt8](repeating: 0, count: 4 + bytes.count)
                    let crc = bytes.withUnsafeBytes { ChunkStore.crc($0) }
                    value[0] = UInt8(crc & 0xff); value[1] = UInt8(crc >> 8 & 0xff)
                    value[2] = UInt8(crc >> 16 & 0xff); value[3] = UInt8(crc >> 24)
                    value.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: 4).copyMemory(from: bytes, byteCount: bytes.count) }
                    try value.withUnsafeBytes { try txn.put(env.chunks, key: id.key, value: $0) }
                    stored.insert(id)
                    store?.recency.withLock { $0.touch(id, verified: true) }
                case .deleteChunk(let id):
                    try txn.delete(env.chunks, key: id.key)
                    store?.recency.withLock { $0.remove(id) }
                case .purge(let renditions, let reply):
                    var removed = 0
                    for rendition in renditions {
                        if try txn.delete(env.meta, key: Array(rendition.utf8)) { removed += 1 }
                        _ = try txn.deletePrefix(env.chunks, prefix: ChunkID.prefix(rendition))
                        generations[rendition] = .some(nil)
                    }
                    purged.append((Set(renditions), reply, removed))
                case .dropGeneration(let rendition, let generation):
                    if try currentGeneration(rendition) == generation {
                        _ = try txn.delete(env.meta, key: Array(rendition.utf8))
                        generations[rendition] = .some(nil)
                    }
                    var prefix = ChunkID.prefix(rendition)
                    withUnsafeBytes(of: generation.bigEndian) { prefix.append(contentsOf: $0) }
                    _ = try txn.deletePrefix(env.chunks, prefix: prefix)
                    store?.recency.withLock { index in
                        for id in index.ticks.keys where id.rendition == rendition && id.generation == generation { index.remove(id) }
                    }
                case .deleteMeta(let rendition, let generation):
                    if try currentGeneration(rendition) == generation {
                        _ = try txn.delete(env.meta, key: Array(rendition.utf8))
                        generations[rendition] = .some(nil)
                    }
                case .barrier:
                    break
                case .removeOrphans:
                    try removeOrphans(txn)
                }
            }
        }
        // Committed deletions no longer need their marker (unless a newer one replaced it).
        for op in batch {
            switch op {
            case .deleteMeta(let rendition, let generation), .dropGeneration(let rendition, let generation):
                store?.pendingDeletes.withLock { if $0[rendition] == generation { $0[rendition] = nil } }
            default: break
            }
        }
        // Committed metadata no longer needs its pending entry (unless a newer one replaced it).
        for op in batch {
            if case .putMeta(let rendition, let meta) = op {
                store?.pendingMeta.withLock { pending in
                    if pending[rendition]?.generation == meta.generation { pending[rendition] = nil }
                }
            }
        }
        for (set, reply, removed) in purged {
            store?.recency.withLock { index in
                for id in index.ticks.keys where set.contains(id.rendition) { index.remove(id) }
            }
            reply(removed)
        }
        return stored
    }

    /// Deletes chunks whose generation is not their rendition's current one (left by a crash
    /// between a version change and the deletion of the old chunks).
    private func removeOrphans(_ txn: WriteTransaction) throws {
        var current: [String: UInt32] = [:]
        var unusable: [[UInt8]] = []
        try txn.forEach(env.meta) { key, value in
            guard !key.elementsEqual(Self.generationKey) else { return }
            // A fill that never finished (the process died) or a record of an older format: gone.
            if let meta = RenditionMeta.decode(value), meta.isComplete {
                current[String(decoding: key, as: UTF8.self)] = meta.generation
            } else {
                unusable.append(Array(key))
            }
        }
        for key in unusable { _ = try txn.delete(env.meta, key: key) }
        var orphans: [ChunkID] = []
        try txn.forEach(env.chunks) { key, _ in
            if let id = ChunkID(key: key), current[id.rendition] != id.generation { orphans.append(id) }
        }
        for id in orphans {
            try txn.delete(env.chunks, key: id.key)
            store?.recency.withLock { $0.remove(id) }
        }
    }

    /// Evicts least-recently-used chunks until live data is at most `fraction` of the bound.
    private func evict(toFraction fraction: Double) {
        guard let store else { return }
        let target = Int(Double(env.mapSize) * fraction)
        let excess = env.liveBytes() - target
        guard excess > 0 else { return }
        let perChunk = max(env.pageSize, (store.chunkSize + 4 + 16 + env.pageSize - 1) / env.pageSize * env.pageSize)
        let count = (excess + perChunk - 1) / perChunk
        var droppedWhole: [String] = []
        do {
            let evicted = try env.write { txn -> Int in
                var lengths: [String: Int] = [:]
                let victims = store.recency.withLock { index in
                    index.victims(count) { id in
                        if lengths[id.rendition] == nil {
                            let meta = (try? txn.get(env.meta, key: Array(id.rendition.utf8)) { RenditionMeta.decode($0) }) ?? nil
                            lengths[id.rendition] = meta?.chunkCount ?? 0
                        }
                        return Int(id.index) + 1 == lengths[id.rendition]
                    }
                }
                var n = 0
                var removed: [ChunkID] = []
                var kinds: [String: (OriginKind, Bool)?] = [:]
                for id in victims {
                    // A transcoded rendition cannot refill one lost chunk (an encoder produces bytes
                    // in order only), so it leaves the cache whole: metadata and every chunk. One
                    // still being written is left alone (its session holds it).
                    if kinds[id.rendition] == nil {
                        kinds[id.rendition] = .some((try? txn.get(env.meta, key: Array(id.rendition.utf8)) {
                            RenditionMeta.decode($0).map { ($0.kind, $0.isComplete) }
                        }) ?? nil)
                    }
                    if case .some(.some((.transcode, let complete))) = kinds[id.rendition] {
                        guard complete else { continue }
                        _ = try txn.delete(env.meta, key: Array(id.rendition.utf8))
                        n += try txn.deletePrefix(env.chunks, prefix: ChunkID.prefix(id.rendition))
                        kinds[id.rendition] = .some(nil)
                        droppedWhole.append(id.rendition)
                        continue
                    }
                    if try txn.delete(env.chunks, key: id.key) { n += 1; removed.append(id) }
                }
                store.recency.withLock { index in
                    for id in removed { index.remove(id) }
                    let whole = Set(droppedWhole)
                    if !whole.isEmpty { for id in index.ticks.keys where whole.contains(id.rendition) { index.remove(id) } }
                }
                return n
            }
            store.counters.withLock { $0.evictions += Int64(evicted) }
            if !droppedWhole.isEmpty { store.renditionsDropped(droppedWhole) }
        } catch {
            // Eviction itself hit the map limit: nothing more to do this round.
        }
    }
}
