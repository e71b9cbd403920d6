import OggEdgeCache
import OggEdgeCore
import Synchronization

/// One fill of one rendition version: whatever produces the bytes (a file read chunk by chunk,
/// the libvorbis encoder, a parent's HTTP stream), every reader of that version goes through it.
/// It commits chunks to the LMDB cache as they complete, lends bytes not yet committed to
/// readers, and coalesces concurrent loads of the same chunk.
///
/// The state is a ``FillState`` value behind one lock; this class only adds the continuations
/// of waiting readers and the calls to the cache.
package final class FillSession: Sendable {
    /// Rendition key, e.g. `demo_160kbps`.
    package let key: String
    /// The cache generation this session writes.
    package let generation: UInt32
    /// Bytes per chunk.
    package let chunkSize: Int
    /// The cache it commits to (nil: none, chunks stay with the session).
    let store: ChunkStore?
    private let state: Mutex<(fill: FillState, continuations: [UInt64: CheckedContinuation<Void, Never>], purged: Bool, readers: Int, dropped: Bool)>
    /// The final metadata, once a sequential producer completed (or from the start for files).
    private let finalMeta = Mutex<RenditionMeta?>(nil)
    private let endHooks = Mutex<[@Sendable (FillSession) -> Void]>([])

    /// A session for `meta`'s generation. `isSequential`: bytes come in order (an encoder);
    /// otherwise chunks are loaded on demand by readers and `meta` is already complete.
    package init(key: String, meta: RenditionMeta, isSequential: Bool, store: ChunkStore?) {
        self.key = key
        self.generation = meta.generation
        self.chunkSize = meta.chunkSize
        self.store = store
        var fill = FillState(chunkSize: meta.chunkSize, isSequential: isSequential, retainsChunks: store == nil)
        if meta.isComplete {
            fill.completeKnown(length: meta.length)
            finalMeta.withLock { $0 = meta }
        }
        self.state = Mutex((fill, [:], false, 0, false))
    }

    /// Where the session stands.
    package var phase: FillState.Phase { state.withLock { $0.fill.phase } }
    /// Bytes produced so far.
    package var produced: Int64 { state.withLock { $0.fill.produced } }
    /// Offset past the first audio page, once produced.
    package var firstAudioPageEnd: Int64? { state.withLock { $0.fill.firstAudioPageEnd } }
    /// True when bytes come in order only.
    package var isSequential: Bool { state.withLock { $0.fill.isSequential } }
    /// The complete metadata, once known.
    package var meta: RenditionMeta? { finalMeta.withLock { $0 } }
    /// Chunks held in memory.
    package var heldChunks: Int { state.withLock { $0.fill.heldChunks } }

    /// Runs `hook` once when the session completes or fails (at once if it already has).
    package func onEnd(_ hook: @escaping @Sendable (FillSession) -> Void) {
        let ended = state.withLock { s -> Bool in s.fill.phase != .producing }
        if ended { hook(self); return }
        endHooks.withLock { $0.append(hook) }
        if state.withLock({ $0.fill.phase != .producing }) { runEndHooks() }
    }

    private func runEndHooks() {
        let hooks = endHooks.withLock { h -> [@Sendable (FillSession) -> Void] in
            defer { h = [] }
            return h
        }
        for hook in hooks { hook(self) }
    }

    // MARK: producer side

    /// Appends bytes from a sequential producer; complete chunks go to the cache.
    package func append(_ bytes: [UInt8], firstAudioPageEnd: Int64?) {
        let (chunks, woken, purged) = state.withLock { s -> ([(Int, [UInt8])], [CheckedContinuation<Void, Never>], Bool) in
            let (chunks, ids) = s.fill.append(bytes, firstAudioPageEnd: firstAudioPageEnd)
            return (chunks, Self.take(ids, from: &s.continuations), s.purged)
        }
        if !purged { for (index, bytes) in chunks { commit(index, bytes) } }
        for c in woken { c.resume() }
    }

    /// Replaces the complete metadata of a random-access session with facts learnt since it was
    /// made (same generation and length: a pulled rendition's playback offset).
    package func revise(meta: RenditionMeta) {
        finalMeta.withLock { current in
            guard let known = current, known.generation == meta.generation, known.length == meta.length else { return }
            current = meta
        }
    }

    /// Offers bytes of chunk `index` that a random-access producer fetched without a reader
    /// asking (a parent's slice): held and committed unless a reader is loading it or has it.
    package func provide(_ index: Int, _ bytes: [UInt8]) -> FillState.Provision {
        let (result, purged) = state.withLock { s in (s.fill.provide(index, bytes), s.purged) }
        if result == .held, !purged { commit(index, bytes) }
        return result
    }

    /// Of `indexes`, the chunks the session does not hold (a held chunk is read as a hit by a
    /// reader: its bytes are loaded, or queued for the writer to read, only their commit is to come).
    package func notHeld(_ indexes: [Int]) -> [Int] {
        state.withLock { s in indexes.filter { !s.fill.isHeld($0) } }
    }

    /// Chunks queued for the writer to read from the rendition's file (tests).
    package var queuedChunks: Int { state.withLock { $0.fill.queuedChunks } }

    /// Marks those of `indexes` that are not pending as queued for the writer (see
    /// ``queueFromFile(_:path:identity:)``) and returns them; none once the session is purged.
    func markQueued(_ indexes: [Int]) -> [Int] {
        state.withLock { s in s.purged ? [] : indexes.filter { s.fill.queue($0) } }
    }

    /// The writer is done with queued chunk `index`.
    func unmarkQueued(_ index: Int) {
        state.withLock { $0.fill.dequeued(index) }
    }

    /// The producer finished: `meta` is the complete record (length, validators, duration).
    package func complete(meta: RenditionMeta) {
        finalMeta.withLock { $0 = meta }
        let (last, woken, purged) = state.withLock { s -> ((Int, [UInt8])?, [CheckedContinuation<Void, Never>], Bool) in
            let (last, ids) = s.fill.complete()
            return (last, Self.take(ids, from: &s.continuations), s.purged)
        }
        if !purged, let store {
            if let (index, bytes) = last { commit(index, bytes) }
            // The record is completed only once every chunk is known to be stored: a complete
            // record never names bytes the cache does not have.
            store.afterQueuedWrites { [self] in
                // Checked and written under the session's lock, so a purge (which marks the
                // session first, then queues its deletion) either sees this record queued ahead
                // of its deletion or stops it here: a purged version never comes back.
                let missing = state.withLock { s -> Bool in
                    guard !s.purged else { return false }
                    if s.fill.incompleteInCache { return true }
                    store.putMeta(meta, for: key)
                    return false
                }
                if missing { invalidate() }
            }
        }
        for c in woken { c.resume() }
        dropIfUnused()
        runEndHooks()
    }

    private let invalidHooks = Mutex<[@Sendable (FillSession) -> Void]>([])

    /// Runs `hook` when this version turns out not to be servable from the cache any more (a
    /// chunk that could not be stored, or was lost and cannot be produced again).
    package func onInvalid(_ hook: @escaping @Sendable (FillSession) -> Void) {
        invalidHooks.withLock { $0.append(hook) }
    }

    /// This version cannot be served whole from the cache: no new request attaches to it, its
    /// record is dropped once its readers are done, and the next request starts a new fill.
    package func invalidate() {
        let hooks = invalidHooks.withLock { h -> [@Sendable (FillSession) -> Void] in
            defer { h = [] }
            return h
        }
        detach()
        for hook in hooks { hook(self) }
    }

    /// The producer failed; readers get `reason`, and nothing it wrote stays in the cache.
    /// The end hooks (which remember the failure) run before any reader is woken, so no reader can
    /// answer the failure, and no client retry can arrive, before it is remembered.
    package func fail(_ reason: String) {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.purged = true
            return Self.take(s.fill.fail(reason), from: &s.continuations)
        }
        runEndHooks()
        for c in woken { c.resume() }
        dropIfUnused()
    }

    /// The rendition was purged while this session runs or is read: readers attached to it keep
    /// their bytes (held here from now on, and the cached chunks stay until they are done), but
    /// nothing more is committed and no request attaches to it any more.
    package func detach() {
        state.withLock { s in
            s.purged = true
            s.fill.retainFromNowOn()
        }
        store?.deleteMeta(key, generation)
        dropIfUnused()
    }

    /// The rendition was purged while nobody reads this session: the purge removes its record
    /// and chunks, and nothing the session still has queued may write them again (a transcode's
    /// complete record is written only once its last chunks are stored, which can be after the
    /// purge: the purged version then came back as a hit whose chunks were gone).
    package func purgedUnread() {
        state.withLock { s in
            s.purged = true
            s.dropped = true  // the purge deletes every generation of the rendition itself
        }
    }

    /// The reason a producer gives up on a session nobody can read any more (see
    /// ``isAbandoned``); not a failure of the source, so it is never remembered as one.
    package static let abandonedReason = "abandoned"

    /// Purged while producing, and no reader left: nobody can read what the producer would still
    /// make (a purged session takes no new readers), so it may stop; ``fail(_:)`` with
    /// ``abandonedReason`` then drops what it wrote.
    package var isAbandoned: Bool {
        state.withLock { $0.purged && $0.readers == 0 && $0.fill.phase == .producing }
    }

    /// A response starts reading this session.
    package func addReader() {
        state.withLock { $0.readers += 1 }
    }

    /// A response stopped reading this session.
    package func removeReader() {
        state.withLock { $0.readers -= 1 }
        dropIfUnused()
    }

    /// Readers attached now.
    package var readerCount: Int { state.withLock { $0.readers } }

    /// A purged or failed session drops what it wrote once it ended and nobody reads it.
    private func dropIfUnused() {
        let drop = state.withLock { s -> Bool in
            guard s.purged, !s.dropped, s.readers == 0, s.fill.phase != .producing else { return false }
            s.dropped = true
            return true
        }
        if drop { store?.dropGeneration(key, generation) }
    }

    private func commit(_ index: Int, _ bytes: [UInt8]) {
        guard let store else { return }
        let id = ChunkID(rendition: key, generation: generation, index: UInt32(index))
        store.putChunk(id, bytes: bytes) { [self] stored in
            state.withLock { $0.fill.committed(index, stored: stored) }
        }
    }

    private static func take(_ ids: [UInt64], from map: inout [UInt64: CheckedContinuation<Void, Never>]) -> [CheckedContinuation<Void, Never>] {
        ids.compactMap { map.removeValue(forKey: $0) }
    }

    // MARK: reader side

    /// Waits until at least `bytes` are produced or the session ended, at most `timeout`.
    /// - Returns: bytes produced and the phase when it returned.
    package func wait(forProduced bytes: Int64, timeout: Duration) async -> (produced: Int64, phase: FillState.Phase) {
        let snapshot = state.withLock { ($0.fill.produced, $0.fill.phase) }
        if snapshot.0 >= bytes || snapshot.1 != .producing { return snapshot }
        let id = state.withLock { $0.fill.reserveWaiter() }
        await waitFor(id, timeout: timeout) { fill in fill.register(id, untilProduced: bytes) }
        return state.withLock { s in
            s.fill.endWait(id)
            return (s.fill.produced, s.fill.phase)
        }
    }

    /// Suspends until waiter `id` is woken or `timeout` passes. `register` decides, under the
    /// lock, whether to wait at all.
    private func waitFor(_ id: UInt64, timeout: Duration, register: @escaping @Sendable (inout FillState) -> Bool) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let wait = self.state.withLock { s -> Bool in
                        guard register(&s.fill) else { return false }
                        s.continuations[id] = continuation
                        return true
                    }
                    if !wait { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                let stale = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                    _ = s.fill.expire(id)
                    return s.continuations.removeValue(forKey: id)
                }
                stale?.resume()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// How a chunk read was satisfied.
    package enum ChunkSource: Sendable {
        /// Bytes held by the session (produced or loaded, waiting for their commit).
        case held
        /// This reader loaded it from the source.
        case loaded
        /// This reader waited for another reader's load.
        case joined
    }

    /// Bytes `lo...hi` of chunk `index`, for a reader that did not find it in the cache.
    /// - Parameters:
    ///   - load: reads the whole chunk from the source (random-access producers); `nil` for a
    ///     sequential one, where the reader waits for production instead.
    ///   - wait: the longest wait for a producer or another reader.
    ///   - inCache: looks the chunk up in the cache again (it may have been committed meanwhile);
    ///     true when it found and copied it.
    ///   - body: gets the chunk's bytes.
    package func chunk(
        _ index: Int, from lo: Int, through hi: Int, wait: Duration,
        load: (@Sendable () async throws -> [UInt8])?,
        inCache: () -> Bool,
        body: ([UInt8]) -> Void
    ) async throws -> ChunkSource {
        var joined = false
        var releasedOnce = false
        while true {
            let claim = state.withLock { $0.fill.claim(index, through: hi) }
            switch claim {
            case .ready(let bytes):
                body(bytes)
                return joined ? .joined : .held
            case .join(let id):
                joined = true
                await waitFor(id, timeout: wait) { fill in fill.isJoined(id) }
                state.withLock { $0.fill.endWait(id) }
                if case .failed(let reason) = phase { throw SourceReadError.failed(reason: reason) }
            case .load:
                // Committed between the caller's cache lookup and this claim: no second load.
                if inCache() {
                    let woken = state.withLock { s in Self.take(s.fill.loaded(index, nil), from: &s.continuations) }
                    for c in woken { c.resume() }
                    return .held
                }
                guard let load else { throw SourceReadError.lost }
                let result: Result<[UInt8], any Error>
                do { result = .success(try await load()) } catch { result = .failure(error) }
                let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                    Self.take(s.fill.loaded(index, try? result.get()), from: &s.continuations)
                }
                for c in woken { c.resume() }
                let bytes = try result.get()
                if store == nil {
                    state.withLock { $0.fill.discard(index) }
                } else {
                    commit(index, bytes)
                }
                body(bytes)
                return .loaded
            case .notProduced:
                let needed = Int64(index) * Int64(chunkSize) + Int64(hi) + 1
                let (produced, phase) = await self.wait(forProduced: needed, timeout: wait)
                if case .failed(let reason) = phase { throw SourceReadError.failed(reason: reason) }
                if produced < needed, phase == .producing { throw SourceReadError.stalled }
            case .released:
                if inCache() { return .held }
                // Committed between the caller's lookup and this claim: one more look, then lost.
                guard !releasedOnce else { throw SourceReadError.lost }
                releasedOnce = true
            }
        }
    }
}
