import CLMDB
import CPosix
import Dispatch
import Foundation
import Synchronization

/// The bytes of a chunk to store: in memory, or read by the writer into the page LMDB reserves
/// for the chunk (one copy, made off the thread that asked for it).
public enum ChunkBytes: Sendable {
    /// Bytes already read.
    case bytes([UInt8])
    /// `count` bytes that `fill` writes into the buffer it is given (exactly `count` bytes
    /// long), on the writer thread, inside its write transaction. It returns false when it
    /// could not (the source changed or failed): nothing is stored then.
    case filled(count: Int, fill: @Sendable (UnsafeMutableRawBufferPointer) -> Bool)

    /// Payload bytes.
    public var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .filled(let count, _): count
        }
    }
}

/// One write to the cache, applied by the writer thread in queue order.
enum WriteOp: Sendable {
    case putMeta(String, RenditionMeta)
    /// The callback gets whether the chunk was stored (false: dropped, e.g. the cache is full,
    /// the chunk's generation is no longer its rendition's current one, or a fill failed).
    case putChunk(ChunkID, ChunkBytes, (@Sendable (Bool) -> Void)?)
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
    private let env: LMDBEnvironment
    /// What the writer shares with its store (held strongly: see ``CacheBook``).
    private let book: CacheBook
    /// Queued operations; whether one of them is not a chunk (someone may wait for it: the
    /// writer does not hold the commit back for more chunks); whether the writer is stopping.
    private let queue = Mutex<(ops: [WriteOp], urgent: Bool, stopping: Bool)>(([], false, false))
    /// Longest a commit of chunks waits for more chunks to join it (10 ms; see ``gather()``).
    static let groupCommitNanos: UInt64 = 10_000_000
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let generation: Mutex<UInt32>
    static let generationKey: [UInt8] = [0, 0x67] // sorts before every rendition key
    /// Linux's `SCHED_BATCH` policy, the writer thread's.
    static let schedBatch = oggedge_sched_batch_policy()
    /// The writer thread's nice value: the lowest priority, a weight of 15 against an event
    /// loop's 1,024. Storing what was read is deferrable; answering is not. On a core the loop
    /// keeps busy the writer still gets about 1.5 % of it (a fair-share scheduler starves no
    /// one), enough for purges and barriers; beyond that it falls behind and fills are skipped
    /// (``ChunkStore/isWriteBacklogged``), as they were when it was behind before. With the
    /// default weight, on the player-like mix at 60 % of nginx's maximum the writer took a third
    /// of the core in slices the loop had to wait out: 340 ms of waiting in 5 s (p99.9 4.4 ms),
    /// 68 ms at this nice value (p99.9 1.6 ms; docs/BYTE-PATH.md).
    static let niceness: Int32 = 19
    /// Most operations per transaction.
    let maxBatch = 256
    /// Bytes of LMDB pages one stored chunk takes (its overflow pages).
    let chunkPages: Int
    /// Live bytes the writer keeps the store under: the map size less a reserve of 5 % (at least
    /// three chunks) for pages that recent commits freed but LMDB cannot reuse yet.
    let highWater: Int
    /// How far under the high-water mark one eviction goes (1 % of the map, at least a chunk).
    let evictionBand: Int
    /// Most chunk bytes one transaction writes (a third of the reserve, at least one chunk): the
    /// pages it needs must fit in the reserve beside what the previous commit freed.
    let chunkBytesPerCommit: Int

    init(env: LMDBEnvironment, book: CacheBook) {
        self.env = env
        self.book = book
        let chunkSize = book.chunkSize
        let page = env.pageSize
        chunkPages = max(page, (chunkSize + 4 + 16 + page - 1) / page * page)
        let reserve = max(env.mapSize / 20, 3 * chunkPages)
        highWater = max(chunkPages, env.mapSize - reserve)
        evictionBand = max(env.mapSize / 100, chunkPages)
        chunkBytesPerCommit = max(chunkPages, reserve / 3)
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
        thread.start()
    }

    /// Chunk bytes queued and not yet applied.
    let backlog = Atomic<Int>(0)

    func enqueue(_ op: WriteOp) {
        // The writer is woken when there is something new for it to decide: the queue was empty,
        // an operation someone may wait for, or a commit's worth of chunk bytes. Other chunks
        // join the queue silently (a wake per chunk, only for the writer to see it must wait
        // on, cost more than the commits it saved).
        let (accepted, wakes) = queue.withLock { q -> (Bool, Bool) in
            guard !q.stopping else { return (false, false) }
            let first = q.ops.isEmpty
            q.ops.append(op)
            guard case .putChunk(_, let bytes, _) = op else {
                q.urgent = true
                return (true, true)
            }
            let after = backlog.wrappingAdd(bytes.count, ordering: .relaxed).newValue
            return (true, first || (after >= chunkBytesPerCommit && after - bytes.count < chunkBytesPerCommit))
        }
        guard accepted else { return Self.complete([op], stored: []) }
        if wakes { wake.signal() }
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
        // Batch scheduling: a wake-up of the writer does not preempt the thread that queued the
        // write (on a busy core, an event loop answering requests). The writer then runs when
        // the loop waits or its time slice ends, and finds many writes to commit at once,
        // instead of a switch to it and back, and a commit, per chunk. (Failing to set it is
        // harmless: writes are then applied as before.)
        _ = oggedge_thread_batch_schedule()
        // Background priority: when an event loop wakes while the writer runs, the loop gets the
        // core at once instead of waiting out the writer's time slice (with equal weights it
        // waited up to milliseconds; see ``niceness``).
        _ = oggedge_thread_nice(Self.niceness)
        // Named for `top -H` and `/proc` (a name given to `Thread` before it starts is not applied).
        _ = oggedge_thread_name("oggedge-cache-w")
        while true {
            wake.wait()
            gather()
            while true {
                let (batch, stopping) = queue.withLock { q -> ([WriteOp], Bool) in
                    var n = 0
                    var chunkBytes = 0
                    while n < min(q.ops.count, maxBatch) {
                        if case .putChunk(_, let bytes, _) = q.ops[n] {
                            let pages = self.pages(bytes.count)
                            if n > 0 && chunkBytes + pages > chunkBytesPerCommit { break }
                            chunkBytes += pages
                        }
                        n += 1
                    }
                    let b = Array(q.ops.prefix(n))
                    q.ops.removeFirst(n)
                    if q.ops.isEmpty { q.urgent = false }
                    return (b, q.stopping && q.ops.isEmpty)
                }
                if !batch.isEmpty {
                    let stored = apply(batch)
                    let applied = batch.reduce(0) { sum, op in
                        if case .putChunk(_, let bytes, _) = op { return sum + bytes.count } else { return sum }
                    }
                    // Off the backlog before any callback runs (a barrier's waiter sees it).
                    backlog.wrappingSubtract(applied, ordering: .relaxed)
                    Self.complete(batch, stored: stored)
                }
                if stopping {
                    done.signal()
                    return
                }
                if batch.isEmpty { break }
            }
        }
    }

    /// Group commit: lets chunks queue for up to ``groupCommitNanos`` after the first, so one
    /// transaction (and one `fdatasync`) stores them together. With cores to spare the writer
    /// used to wake for every chunk a miss queued and commit it alone: at half the player-like
    /// mix's maximum, a thousand commits a second and a third of the server's CPU. Ends at once
    /// when an operation that is not a chunk is queued (metadata, a purge, a barrier: someone
    /// may wait for it), when a commit's worth of chunk bytes is queued, or when stopping. A
    /// chunk waiting here is held by its fill session, which answers its readers meanwhile.
    private func gather() {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ Self.groupCommitNanos
        while true {
            let ready = queue.withLock { q in
                q.urgent || q.stopping || q.ops.isEmpty || q.ops.count >= maxBatch
                    || backlog.load(ordering: .relaxed) >= chunkBytesPerCommit
            }
            let now = DispatchTime.now().uptimeNanoseconds
            guard !ready, now < deadline else { return }
            // Woken by an operation that may end the wait, or at the deadline. (A signal taken
            // here only makes the loop's next wait return at once, to an empty queue.)
            _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
        }
    }

    /// Bytes of LMDB pages a chunk of `count` payload bytes takes.
    func pages(_ count: Int) -> Int {
        let page = env.pageSize
        return max(page, (count + 4 + 16 + page - 1) / page * page)
    }

    /// Commits `batch`; the chunks stored (its callbacks are the caller's to run).
    private func apply(_ batch: [WriteOp]) -> Set<ChunkID> {
        var stored: Set<ChunkID> = []
        do {
            stored = try commit(batch, chunks: true)
        } catch let error as LMDBError where error.isMapFull {
            // No run of free pages long enough for a chunk that LMDB may reuse yet (pages freed
            // by the last two commits, or seen by a reader, wait; free runs get fragmented).
            // Evict once more for this batch, commit everything but its chunks (the transaction
            // after the eviction cannot reuse what it freed), then the chunks alone, which can.
            let incoming = batch.reduce(0) { sum, op in
                if case .putChunk(_, let bytes, _) = op { return sum + pages(bytes.count) } else { return sum }
            }
            evictAlone(bytes: incoming + evictionBand)
            _ = try? commit(batch, chunks: false, advance: true)
            let chunkOps = batch.filter { if case .putChunk = $0 { return true } else { return false } }
            do {
                stored = try commit(chunkOps, chunks: true)
            } catch {
                // Still full: drop the chunk writes (served uncached, counted).
                book.counters.withLock { $0.droppedWrites += Int64(chunkOps.count) }
            }
        } catch {
            stored = (try? commit(batch, chunks: false)) ?? []
        }
        return stored
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
    /// - Parameter advance: write even if nothing else does (the generation counter again), so
    ///   the transaction counter moves on and pages freed before it become reusable.
    private func commit(_ batch: [WriteOp], chunks: Bool, advance: Bool = false) throws -> Set<ChunkID> {
        var purged: [(Set<String>, @Sendable (Int) -> Void, Int)] = []
        var stored: Set<ChunkID> = []
        var eviction = Eviction()
        try env.write { txn in
            if advance {
                let highest = generation.withLock { $0 }
                try withUnsafeBytes(of: highest) { try txn.put(env.meta, key: Self.generationKey, value: $0) }
            }
            // Room first, in this same transaction: what this batch stores must not take live
            // data past the high-water mark.
            if chunks {
                let incoming = batch.reduce(0) { sum, op in
                    if case .putChunk(_, let bytes, _) = op { return sum + pages(bytes.count) } else { return sum }
                }
                let live = env.liveBytes(txn.txn)
                if incoming > 0, live + incoming > highWater {
                    eviction = try evict(txn, bytes: live + incoming - (highWater - evictionBand))
                }
            }
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
                    // The value (CRC, little-endian, then the bytes) is written straight into
                    // the page LMDB reserves for it; the CRC is taken of the copy, while it is
                    // still in the CPU's cache (the queued bytes usually are not any more).
                    var filled = true
                    try txn.reserve(env.chunks, key: id.key, count: 4 + bytes.count) { value in
                        let copy = UnsafeMutableRawBufferPointer(rebasing: value[4...])
                        switch bytes {
                        case .bytes(let bytes):
                            bytes.withUnsafeBytes { payload in
                                if let base = payload.baseAddress, let to = copy.baseAddress { to.copyMemory(from: base, byteCount: payload.count) }
                            }
                        case .filled(_, let fill):
                            filled = fill(copy)
                        }
                        value.storeBytes(of: ChunkStore.crc(UnsafeRawBufferPointer(copy)).littleEndian, as: UInt32.self)
                    }
                    guard filled else {
                        // The reserved value is garbage: gone again, in this same transaction.
                        try txn.delete(env.chunks, key: id.key)
                        book.counters.withLock { $0.droppedWrites += 1 }
                        continue
                    }
                    stored.insert(id)
                    book.recency.withLock { $0.touch(id, verified: true) }
                case .deleteChunk(let id):
                    try txn.delete(env.chunks, key: id.key)
                    book.recency.withLock { $0.remove(id) }
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
                    book.recency.withLock { index in
                        for id in index.ids where id.rendition == rendition && id.generation == generation { index.remove(id) }
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
        finish(eviction)
        // Committed deletions no longer need their marker (unless a newer one replaced it).
        for op in batch {
            switch op {
            case .deleteMeta(let rendition, let generation), .dropGeneration(let rendition, let generation):
                book.pendingDeletes.withLock { if $0[rendition] == generation { $0[rendition] = nil } }
            default: break
            }
        }
        // Committed metadata no longer needs its pending entry (unless a newer one replaced it).
        for op in batch {
            if case .putMeta(let rendition, let meta) = op {
                book.pendingMeta.withLock { pending in
                    if pending[rendition]?.generation == meta.generation { pending[rendition] = nil }
                }
            }
        }
        for (set, reply, removed) in purged {
            book.recency.withLock { index in
                for id in index.ids where set.contains(id.rendition) { index.remove(id) }
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
            guard !ChunkStore.isReservedMetaKey(key) else { return }
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
            book.recency.withLock { $0.remove(id) }
        }
    }

    /// What one eviction removed, applied to the recency index and counters once committed.
    struct Eviction {
        var chunks = 0
        var removed: [ChunkID] = []
        var droppedWhole: [String] = []
    }

    /// Evicts in `txn`, in ``RecencyIndex`` order, until at least `bytes` of pages are freed.
    private func evict(_ txn: WriteTransaction, bytes: Int) throws -> Eviction {
        guard bytes > 0 else { return Eviction() }
        var result = Eviction()
        var freed = 0
        // The first few of the order usually suffice (a commit frees a handful of chunks); the
        // whole order only if those were skipped (encodes under way) or already gone.
        let expected = 2 * (bytes / chunkPages + 1) + 16
        var visited = Set<ChunkID>()
        var lengths: [String: Int] = [:]
        var kinds: [String: (OriginKind, Bool)?] = [:]
        func meta(_ rendition: String) -> RenditionMeta? {
            (try? txn.get(env.meta, key: Array(rendition.utf8)) { RenditionMeta.decode($0) }) ?? nil
        }
        for limit in [expected, Int.max] {
            let order = book.recency.withLock { $0.evictionOrder(first: limit) }
            for id in order where visited.insert(id).inserted {
                if freed >= bytes { break }
                if kinds[id.rendition] == nil {
                    let m = meta(id.rendition)
                    kinds[id.rendition] = .some(m.map { ($0.kind, $0.isComplete) })
                    lengths[id.rendition] = m.map { Int($0.length) } ?? 0
                }
                // A transcoded rendition cannot refill one lost chunk (an encoder produces bytes in
                // order only), so it leaves the cache whole: metadata and every chunk. One still
                // being written is left alone (its session holds it).
                if case .some(.some((.transcode, let complete))) = kinds[id.rendition] {
                    guard complete else { continue }
                    _ = try txn.delete(env.meta, key: Array(id.rendition.utf8))
                    let n = try txn.deletePrefix(env.chunks, prefix: ChunkID.prefix(id.rendition))
                    result.chunks += n
                    freed += n * chunkPages
                    kinds[id.rendition] = .some(nil)
                    result.droppedWhole.append(id.rendition)
                    continue
                }
                if try txn.delete(env.chunks, key: id.key) {
                    result.chunks += 1
                    result.removed.append(id)
                    let length = lengths[id.rendition] ?? 0
                    let chunkBytes = length > 0 ? min(book.chunkSize, length - Int(id.index) * book.chunkSize) : book.chunkSize
                    freed += pages(max(0, chunkBytes))
                } else {
                    result.removed.append(id)
                }
            }
            if freed >= bytes || order.count < limit { break }
        }
        return result
    }

    /// Applies a committed eviction to the index, the counters and the rendition hook.
    private func finish(_ eviction: Eviction) {
        guard eviction.chunks > 0 || !eviction.removed.isEmpty || !eviction.droppedWhole.isEmpty else { return }
        book.recency.withLock { index in
            for id in eviction.removed { index.remove(id) }
            let whole = Set(eviction.droppedWhole)
            if !whole.isEmpty { for id in index.ids where whole.contains(id.rendition) { index.remove(id) } }
        }
        book.counters.withLock { $0.evictions += Int64(eviction.chunks) }
        if !eviction.droppedWhole.isEmpty { book.renditionsDropped(eviction.droppedWhole) }
    }

    /// Evicts `bytes` in a transaction of its own (after `MDB_MAP_FULL`).
    private func evictAlone(bytes: Int) {
        do {
            let eviction = try env.write { txn in try evict(txn, bytes: bytes) }
            finish(eviction)
        } catch {
            // Eviction itself hit the map limit: nothing more to do this round.
        }
    }
}
