import Synchronization

/// The bookkeeping a ``ChunkStore`` and its ``ChunkWriter`` share: the recency index, the
/// counters, metadata queued but not committed, deletions under way, and who to tell about
/// renditions dropped whole.
///
/// Its own object so that the writer holds it strongly instead of holding the store weakly: a
/// weak reference gives the store a side table, and every retain and release of an object with
/// one takes the runtime's slow path — on a cached range, where the store is retained a few
/// times per request, that was about 2 % of the server's CPU.
final class CacheBook: Sendable {
    /// Bytes per chunk for renditions stored from now on.
    let chunkSize: Int
    let recency = Mutex(RecencyIndex())
    let counters = Mutex(CacheStats())
    /// Metadata queued for the writer but not yet committed: readers see it at once, so two
    /// requests never create two generations of one rendition.
    let pendingMeta = Mutex<[String: RenditionMeta]>([:])
    /// Generations whose metadata deletion is queued but not yet committed: readers must not see
    /// them in the meantime (a purged version would otherwise be found again and read while its
    /// chunks are being dropped).
    let pendingDeletes = Mutex<[String: UInt32]>([:])
    private let dropHook = Mutex<(@Sendable ([String]) -> Void)?>(nil)

    init(chunkSize: Int) {
        self.chunkSize = chunkSize
    }

    /// Sets the function told about renditions the cache dropped whole on its own.
    func onRenditionsDropped(_ hook: @escaping @Sendable ([String]) -> Void) {
        dropHook.withLock { $0 = hook }
    }

    func renditionsDropped(_ renditions: [String]) {
        dropHook.withLock { $0 }?(renditions)
    }
}
