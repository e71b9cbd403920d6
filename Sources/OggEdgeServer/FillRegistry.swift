import OggEdgeCache
import Synchronization

/// Coalesces concurrent fills of the same chunk: the first request reads the source, the others
/// wait for its bytes instead of reading the source again.
///
/// An entry stays until the writer has committed the chunk: a request arriving while the source
/// is still being read joins that read (`COALESCED`); one arriving after the read but before the
/// commit is served from the write-behind bytes, which already belong to the cache (`HIT`).
final class FillRegistry: Sendable {
    private final class Fill: Sendable {
        let state = Mutex<(result: Result<[UInt8], any Error>?, waiters: [CheckedContinuation<[UInt8], any Error>])>((nil, []))
    }

    private let inflight = Mutex<[ChunkID: Fill]>([:])

    /// How a fill request was satisfied.
    enum Source {
        /// This call read the source.
        case loaded
        /// This call waited for another request's read of the source.
        case joined
        /// The bytes were already read and waiting for the writer's commit.
        case buffered
    }

    /// Bytes of chunk `id`, loaded by `load` unless a fill is already under way or done.
    func fill(_ id: ChunkID, load: () throws -> [UInt8], store: ([UInt8]) -> Void) async throws -> (bytes: [UInt8], source: Source) {
        let (fill, isNew) = inflight.withLock { map -> (Fill, Bool) in
            if let existing = map[id] { return (existing, false) }
            let fresh = Fill()
            map[id] = fresh
            return (fresh, true)
        }
        if !isNew {
            if case .success(let bytes)? = fill.state.withLock({ $0.result }) { return (bytes, .buffered) }
            let bytes = try await withCheckedThrowingContinuation { continuation in
                let ready = fill.state.withLock { s -> Result<[UInt8], any Error>? in
                    if s.result == nil { s.waiters.append(continuation) }
                    return s.result
                }
                if let ready { continuation.resume(with: ready) }
            }
            return (bytes, .joined)
        }
        let result: Result<[UInt8], any Error> = Result { try load() }
        let waiters = fill.state.withLock { s -> [CheckedContinuation<[UInt8], any Error>] in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
        switch result {
        case .success(let bytes):
            store(bytes)
            return (bytes, .loaded)
        case .failure(let error):
            finish(id)
            throw error
        }
    }

    /// Forgets the fill of `id` (its chunk is committed, or it failed).
    func finish(_ id: ChunkID) {
        _ = inflight.withLock { $0.removeValue(forKey: id) }
    }
}
