/// The state of one fill session as a plain value: every step is a mutating function that
/// returns what the owner must do (which waiters to wake, which chunks to commit), so tests drive
/// it deterministically, with no threads and no sleeps.
///
/// Bytes arrive two ways, and one session serves both:
/// - **in order** from a sequential producer (an encoder, an HTTP stream): ``append(_:)`` grows
///   ``produced``; complete chunks are handed out to be committed;
/// - **by chunk** from a random-access producer (a file): a reader ``claim(_:through:)``s a
///   chunk, and the first one to claim it loads it while later ones wait for ``loaded(_:_:)``.
package struct FillState: Sendable {
    /// Where the session stands.
    package enum Phase: Equatable, Sendable {
        /// Bytes are still being produced (length unknown for a sequential producer).
        case producing
        /// Every byte exists; `length` is final.
        case complete(length: Int64)
        /// The producer failed; readers get `reason`.
        case failed(reason: String)
    }

    /// What a reader gets when it asks for a chunk.
    package enum Claim: Equatable, Sendable {
        /// The bytes (a whole chunk, or the growing last chunk when it covers what was asked).
        case ready([UInt8])
        /// Another reader is loading it: wait for waiter `id`, then claim again.
        case join(UInt64)
        /// Nobody has it: the caller loads it and reports ``FillState/loaded(_:_:)``.
        case load
        /// Not produced yet (sequential): wait for production, then claim again.
        case notProduced
        /// Produced and no longer held here: it is in the chunk cache, or lost.
        case released
    }

    private enum Slot: Sendable {
        case loading(waiters: [UInt64])
        case ready([UInt8])
        /// Queued for the cache writer, which reads it from the rendition's file itself: no
        /// bytes here (a reader that needs them loads them as if nobody had).
        case queued
    }

    /// Bytes per chunk.
    package let chunkSize: Int
    /// True when bytes come in order only.
    package let isSequential: Bool
    /// Bytes produced so far, in order (sequential producers).
    package private(set) var produced: Int64 = 0
    /// Where the session stands.
    package private(set) var phase: Phase = .producing
    /// Offset just past the first audio page, once known.
    package private(set) var firstAudioPageEnd: Int64?
    /// Whether chunks stay here after they are committed (no cache, or detached by a purge).
    package private(set) var retainsChunks: Bool
    private var slots: [Int: Slot] = [:]
    /// The growing, not yet complete chunk of a sequential producer.
    private var tail: [UInt8] = []
    private var waiters: [UInt64: Int64] = [:]
    private var expired: Set<UInt64> = []
    private var nextWaiter: UInt64 = 0

    /// A fresh session.
    package init(chunkSize: Int, isSequential: Bool, retainsChunks: Bool) {
        self.chunkSize = chunkSize
        self.isSequential = isSequential
        self.retainsChunks = retainsChunks
    }

    // MARK: producing in order

    /// Appends produced bytes.
    /// - Returns: chunks that are now complete (to be committed) and the waiters to wake.
    package mutating func append(_ bytes: [UInt8], firstAudioPageEnd: Int64? = nil) -> (chunks: [(Int, [UInt8])], woken: [UInt64]) {
        guard phase == .producing, !bytes.isEmpty else { return ([], []) }
        if self.firstAudioPageEnd == nil { self.firstAudioPageEnd = firstAudioPageEnd }
        var full: [(Int, [UInt8])] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(chunkSize - tail.count, rest.count)
            tail.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            produced += Int64(take)
            if tail.count == chunkSize {
                let index = Int((produced - 1) / Int64(chunkSize))
                slots[index] = .ready(tail)
                full.append((index, tail))
                tail = []
                tail.reserveCapacity(chunkSize)
            }
        }
        return (full, wake())
    }

    /// Marks production complete.
    /// - Returns: the last, short chunk if there is one (to be committed) and the waiters to wake.
    package mutating func complete() -> (last: (Int, [UInt8])?, woken: [UInt64]) {
        guard phase == .producing else { return (nil, []) }
        phase = .complete(length: produced)
        var last: (Int, [UInt8])?
        if !tail.isEmpty {
            let index = Int(produced / Int64(chunkSize))
            slots[index] = .ready(tail)
            last = (index, tail)
            tail = []
        }
        return (last, wakeAll())
    }

    /// Marks a random-access session's length as known (it is complete from the start).
    package mutating func completeKnown(length: Int64) {
        phase = .complete(length: length)
        produced = length
    }

    /// Marks the session failed.
    /// - Returns: the waiters to wake.
    package mutating func fail(_ reason: String) -> [UInt64] {
        guard phase == .producing else { return [] }
        phase = .failed(reason: reason)
        tail = []
        return wakeAll()
    }

    /// From now on keep every chunk here (its cache record was purged under it).
    package mutating func retainFromNowOn() {
        retainsChunks = true
    }

    // MARK: waiting

    /// Reserves a waiter id (before its continuation exists, so a timeout can race it safely).
    package mutating func reserveWaiter() -> UInt64 {
        nextWaiter += 1
        return nextWaiter
    }

    /// Registers waiter `id` until `threshold` bytes are produced or the phase changes.
    /// - Returns: false when it must not wait (already satisfied, ended, or already expired).
    package mutating func register(_ id: UInt64, untilProduced threshold: Int64) -> Bool {
        if expired.remove(id) != nil { return false }
        guard phase == .producing, produced < threshold else { return false }
        waiters[id] = threshold
        return true
    }

    /// The wait of `id` ran out.
    /// - Returns: true when it was still registered (the caller resumes it).
    package mutating func expire(_ id: UInt64) -> Bool {
        if waiters.removeValue(forKey: id) != nil { return true }
        for (index, slot) in slots {
            if case .loading(var list) = slot, let at = list.firstIndex(of: id) {
                list.remove(at: at)
                slots[index] = .loading(waiters: list)
                return true
            }
        }
        expired.insert(id)
        return false
    }

    /// Whether waiter `id` still waits for a chunk load (false once the load ended or it expired).
    package mutating func isJoined(_ id: UInt64) -> Bool {
        if expired.remove(id) != nil { return false }
        for slot in slots.values {
            if case .loading(let list) = slot, list.contains(id) { return true }
        }
        return false
    }

    /// Forgets a pending expiry of `id` (its wait ended normally).
    package mutating func endWait(_ id: UInt64) {
        expired.remove(id)
    }

    private mutating func wake() -> [UInt64] {
        var woken: [UInt64] = []
        for (id, threshold) in waiters where threshold <= produced { woken.append(id) }
        for id in woken { waiters[id] = nil }
        return woken
    }

    private mutating func wakeAll() -> [UInt64] {
        var woken = Array(waiters.keys)
        waiters = [:]
        for (index, slot) in slots {
            if case .loading(let list) = slot {
                woken += list
                slots[index] = nil
            }
        }
        return woken
    }

    // MARK: chunks

    /// What a reader gets for chunk `index` when it needs its bytes up to offset `through`
    /// inside the chunk. A `.join` registers a waiter with the returned id.
    package mutating func claim(_ index: Int, through: Int) -> Claim {
        if case .ready(let bytes)? = slots[index] { return .ready(bytes) }
        if case .queued? = slots[index] {
            slots[index] = .loading(waiters: [])
            return .load
        }
        if case .loading(var list)? = slots[index] {
            nextWaiter += 1
            list.append(nextWaiter)
            slots[index] = .loading(waiters: list)
            return .join(nextWaiter)
        }
        guard isSequential else {
            slots[index] = .loading(waiters: [])
            return .load
        }
        let tailIndex = Int(produced / Int64(chunkSize))
        if index == tailIndex && tail.count > through { return .ready(tail) }
        if index < tailIndex { return .released }
        if case .complete = phase { return .released }
        return .notProduced
    }

    /// The load of chunk `index` ended (`nil` bytes: it failed; a later claim loads again).
    /// - Returns: the waiters to wake.
    package mutating func loaded(_ index: Int, _ bytes: [UInt8]?) -> [UInt64] {
        guard case .loading(let list)? = slots[index] else { return [] }
        slots[index] = bytes.map { .ready($0) }
        return list
    }

    /// The cache writer is done with chunk `index`: stored, it need not be held here any more;
    /// dropped (cache full, or the record was removed under us), it stays here for this
    /// session's readers and the session is marked as not fully cached.
    package mutating func committed(_ index: Int, stored: Bool = true) {
        // A random-access chunk that was not stored can be read from its origin again.
        guard stored || !isSequential else {
            incompleteInCache = true
            return
        }
        guard !retainsChunks, case .ready? = slots[index] else { return }
        slots[index] = nil
    }

    /// True when a sequential producer's chunk could not be stored: its cache record must never
    /// be completed (it would name bytes the cache does not have).
    package private(set) var incompleteInCache = false

    /// What became of bytes that arrived for a chunk nobody asked for yet.
    package enum Provision: Equatable, Sendable {
        /// Held here now (to be committed).
        case held
        /// A reader is loading it: hand the bytes to that load instead.
        case loading
        /// Already held.
        case present
    }

    /// Bytes of random-access chunk `index` that arrived without a reader claiming it (a slice
    /// pulled from a parent brings its neighbours along).
    package mutating func provide(_ index: Int, _ bytes: [UInt8]) -> Provision {
        switch slots[index] {
        case .loading?: return .loading
        case .ready?, .queued?: return .present
        case nil:
            slots[index] = .ready(bytes)
            return .held
        }
    }

    /// A random-access chunk that was read but will not be stored (no cache): drop it.
    package mutating func discard(_ index: Int) {
        if case .ready? = slots[index] { slots[index] = nil }
    }

    /// True while random-access chunk `index` is being loaded, held or queued (not yet committed).
    package func isPending(_ index: Int) -> Bool { slots[index] != nil }

    /// True while chunk `index` is on its way to the cache: held here, loaded and waiting for its
    /// commit, or queued for the writer to read from the file.
    package func isHeld(_ index: Int) -> Bool {
        switch slots[index] {
        case .ready?, .queued?: true
        default: false
        }
    }

    /// Marks random-access chunk `index` as queued for the writer to read from the rendition's
    /// file. False (nothing marked) when it is already loaded, held or queued.
    package mutating func queue(_ index: Int) -> Bool {
        guard !isSequential, slots[index] == nil else { return false }
        slots[index] = .queued
        return true
    }

    /// The writer is done with queued chunk `index` (stored or not: if not, a later miss
    /// queues it again). A reader that took it over meanwhile keeps its load.
    package mutating func dequeued(_ index: Int) {
        if case .queued? = slots[index] { slots[index] = nil }
    }

    /// Chunks held in memory, being loaded, or queued for the writer (tests, metrics).
    package var heldChunks: Int { slots.count }

    /// Chunks queued for the writer to read from the file.
    package var queuedChunks: Int {
        slots.values.reduce(0) { n, slot in if case .queued = slot { n + 1 } else { n } }
    }
}
