import OggEdgeCache
import OggEdgeCore
import Synchronization

/// The random-access producer of one rendition version pulled from a parent tier.
///
/// Bytes are fetched in aligned **slices** of `sliceChunks` cache chunks: a reader that misses
/// chunk *i* (its ``FillSession`` made it the chunk's loader) asks ``chunk(_:)``, which starts the
/// fetch of *i*'s slice unless it is under way, and returns as soon as that chunk's bytes have
/// arrived (not when the slice ends). Every chunk of the slice goes into the session as it
/// completes, so readers of the neighbouring chunks find it held or cached: one upstream fetch
/// of each byte, however many players read. A reader going forward reads one slice ahead
/// (``willRead(_:)``). Fetches run in their own tasks: a player hanging up never stops a pull
/// others wait for.
package final class UpstreamPull: Sendable {
    /// The rendition.
    package let track: TrackPath
    /// The version being pulled.
    package let facts: UpstreamFacts
    package let chunkSize: Int
    package let sliceChunks: Int
    let fetcher: any UpstreamFetcher
    let session: FillSession
    /// Looks a chunk up in the cache (read-ahead skips slices already there); `nil` without cache.
    let isCached: (@Sendable (Int) -> Bool)?
    private let state = Mutex(State())
    private let checkedAt: Atomic<UInt64>
    private let revalidating = Atomic<Bool>(false)
    private let changedHooks = Mutex<[@Sendable () -> Void]>([])

    private struct Slice {
        /// The fetch delivering this slice.
        var owner: UInt64
        /// Loaders waiting for each chunk of the slice.
        var waiters: [Int: [CheckedContinuation<[UInt8], any Error>]] = [:]
        /// Chunks already arrived, kept until the slice ends: one evicted (or not stored) before
        /// then is handed out again rather than waited for in vain.
        var arrived: [Int: [UInt8]] = [:]
    }

    private struct State {
        /// Slices being fetched.
        var inFlight: [Int: Slice] = [:]
        /// Slices fetched whole by this pull.
        var done: Set<Int> = []
        /// Chunks that arrived while their loader was between its claim and its wait.
        var unclaimed: [Int: [UInt8]] = [:]
        /// Set when the version changed upstream: nothing more can be pulled.
        var changed = false
        /// Fetch ids (0 is never used).
        var nextFetch: UInt64 = 0
        /// Runs (the pull's first request, to the end of the rendition): the next chunk each brings.
        var runPosition: [UInt64: Int] = [:]
        /// Waiting for chunk 0 to arrive without loading it (see ``firstChunk()``).
        var headWatchers: [CheckedContinuation<[UInt8]?, Never>] = []
        /// Chunk 0 arrived (or its fetch ended without it).
        var headSettled = false

        mutating func newFetch() -> UInt64 {
            nextFetch += 1
            return nextFetch
        }
    }

    /// - Parameters:
    ///   - checkedAt: when the parent last confirmed this version (monotonic ns; 0: never).
    package init(
        track: TrackPath, facts: UpstreamFacts, chunkSize: Int, sliceChunks: Int, fetcher: any UpstreamFetcher,
        session: FillSession, isCached: (@Sendable (Int) -> Bool)?, checkedAt: UInt64
    ) {
        self.track = track
        self.facts = facts
        self.chunkSize = chunkSize
        self.sliceChunks = max(1, sliceChunks)
        self.fetcher = fetcher
        self.session = session
        self.isCached = isCached
        self.checkedAt = Atomic(checkedAt)
    }

    /// Chunks in the rendition.
    package var chunkCount: Int { facts.length == 0 ? 0 : Int((facts.length - 1) / Int64(chunkSize)) + 1 }
    private var sliceCount: Int { (chunkCount + sliceChunks - 1) / sliceChunks }

    /// The bytes of slice `slice`.
    package func sliceRange(_ slice: Int) -> ByteRange {
        let start = Int64(slice) * Int64(sliceChunks) * Int64(chunkSize)
        let end = min(facts.length, start + Int64(sliceChunks) * Int64(chunkSize)) - 1
        return ByteRange(start: start, end: end)
    }

    /// Runs `hook` once if the parent turns out to hold another version.
    package func onChanged(_ hook: @escaping @Sendable () -> Void) {
        changedHooks.withLock { $0.append(hook) }
    }

    // MARK: reading

    /// The whole of chunk `index` (the loader of a random-access ``FillSession`` chunk).
    /// - Parameter fetching: set when this call started the fetch of the chunk's slice (the
    ///   caller's bytes came from the parent, not from a pull under way).
    package func chunk(_ index: Int, fetching: FetchMark? = nil) async throws -> [UInt8] {
        guard index >= 0, index < chunkCount else { throw SourceReadError.truncated }
        let slice = index / sliceChunks
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
            let (now, startNow) = state.withLock { s -> (Result<[UInt8], any Error>?, UInt64?) in
                if let bytes = s.unclaimed.removeValue(forKey: index) { return (.success(bytes), nil) }
                if s.changed { return (.failure(SourceReadError.failed(reason: UpstreamError.changed.reason)), nil) }
                guard var entry = s.inFlight[slice] else {
                    let id = s.newFetch()
                    var entry = Slice(owner: id)
                    entry.waiters[index] = [continuation]
                    s.inFlight[slice] = entry
                    return (nil, id)
                }
                if let bytes = entry.arrived[index] { return (.success(bytes), nil) }
                var startNow: UInt64?
                // A seek far ahead of the run that will bring this slice: fetch it on its own
                // now rather than wait for the run to get there (the run then skips it).
                if let position = s.runPosition[entry.owner], slice > position / sliceChunks + 1 {
                    entry.owner = s.newFetch()
                    startNow = entry.owner
                }
                entry.waiters[index, default: []].append(continuation)
                s.inFlight[slice] = entry
                return (nil, startNow)
            }
            if let now { continuation.resume(with: now) }
            if let id = startNow {
                fetching?.set()
                start(slice...slice, id: id, body: nil)
            }
        }
    }

    /// The bytes of chunk 0 once the fetch under way brings them (`nil` if it ends without them,
    /// or none is under way); never starts a fetch and never takes the chunk from its readers.
    package func firstChunk() async -> [UInt8]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8]?, Never>) in
            let now = state.withLock { s -> [UInt8]?? in
                if s.headSettled || s.inFlight[0] == nil { return .some(s.inFlight[0]?.arrived[0]) }
                s.headWatchers.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    private func settleHead(_ bytes: [UInt8]?) {
        let watchers = state.withLock { s -> [CheckedContinuation<[UInt8]?, Never>] in
            s.headSettled = true
            defer { s.headWatchers = [] }
            return s.headWatchers
        }
        for watcher in watchers { watcher.resume(returning: bytes) }
    }

    /// A reader is about to read chunk `index`: past the middle of its slice, the next slice is
    /// fetched unless it is cached, under way or done.
    package func willRead(_ index: Int) {
        let slice = index / sliceChunks
        let next = slice + 1
        guard index % sliceChunks >= sliceChunks / 2, next < sliceCount else { return }
        let candidate = state.withLock { s in !s.changed && s.inFlight[next] == nil && !s.done.contains(next) }
        guard candidate else { return }
        if let isCached, isCached(next * sliceChunks), isCached(min(chunkCount, (next + 1) * sliceChunks) - 1) {
            state.withLock { _ = $0.done.insert(next) }
            return
        }
        let claimed = state.withLock { s -> UInt64? in
            guard !s.changed, s.inFlight[next] == nil, !s.done.contains(next) else { return nil }
            let id = s.newFetch()
            s.inFlight[next] = Slice(owner: id)
            return id
        }
        if let id = claimed { start(next...next, id: id, body: nil) }
    }

    // MARK: fetching

    /// Takes over the body a parent is already sending from `slice` to the end of the rendition
    /// (the pull's first request): one upstream request brings the whole rest into the cache,
    /// however many players read it; a seek far ahead fetches its own slice meanwhile.
    package func adopt(slice: Int, body: UpstreamBody) {
        guard slice < sliceCount else { return }
        let id = state.withLock { s -> UInt64 in
            let id = s.newFetch()
            for k in slice..<sliceCount where s.inFlight[k] == nil { s.inFlight[k] = Slice(owner: id) }
            s.runPosition[id] = slice * sliceChunks
            return id
        }
        start(slice...(sliceCount - 1), id: id, body: body)
    }

    /// The range a fetch asks for: an open end for a run to the end of the rendition.
    private func range(of slices: ClosedRange<Int>) -> ByteRange {
        ByteRange(start: sliceRange(slices.lowerBound).start, end: sliceRange(slices.upperBound).end)
    }

    /// Starts fetch `id` of `slices` (marked in flight, owned by `id`).
    private func start(_ slices: ClosedRange<Int>, id: UInt64, body: UpstreamBody?) {
        Task { await self.run(slices, id: id, body: body) }
    }

    private func run(_ slices: ClosedRange<Int>, id: UInt64, body: UpstreamBody?) async {
        let first = slices.lowerBound * sliceChunks
        let last = min(chunkCount, (slices.upperBound + 1) * sliceChunks) - 1
        var index = first
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize)
        do {
            let stream: AsyncThrowingStream<[UInt8], any Error>
            if let body {
                stream = body.bytes
            } else {
                stream = try await fetcher.fetch(track, range: range(of: slices), expecting: facts).bytes
            }
            for try await piece in stream {
                var rest = piece[...]
                while !rest.isEmpty {
                    // More than asked: a parent that sends what it did not promise is wrong.
                    guard index <= last else { throw UpstreamError.unavailable }
                    let take = min(chunkLength(index) - buffer.count, rest.count)
                    buffer.append(contentsOf: rest.prefix(take))
                    rest = rest.dropFirst(take)
                    if buffer.count == chunkLength(index) {
                        deliver(index, id: id, buffer)
                        if index == last || (index + 1) % sliceChunks == 0 { finish(index / sliceChunks, id: id, nil) }
                        index += 1
                        buffer = []
                        buffer.reserveCapacity(chunkSize)
                    }
                }
            }
            // Fewer bytes than asked: a partial body is never stored.
            guard index > last else { throw UpstreamError.unavailable }
        } catch {
            let failure = error as? UpstreamError ?? .unavailable
            if index <= last {
                for slice in (index / sliceChunks)...slices.upperBound { finish(slice, id: id, failure) }
            }
        }
        _ = state.withLock { $0.runPosition.removeValue(forKey: id) }
    }

    private func chunkLength(_ index: Int) -> Int {
        Int(min(Int64(chunkSize), facts.length - Int64(index) * Int64(chunkSize)))
    }

    /// Chunk `index` arrived with fetch `id`: to its loaders, else into the session (held and
    /// committed). Dropped when another fetch took its slice over.
    private func deliver(_ index: Int, id: UInt64, _ bytes: [UInt8]) {
        let slice = index / sliceChunks
        let waiters = state.withLock { s -> [CheckedContinuation<[UInt8], any Error>] in
            if s.runPosition[id] != nil { s.runPosition[id] = index + 1 }
            guard s.inFlight[slice]?.owner == id else { return [] }
            let waiters = s.inFlight[slice]?.waiters.removeValue(forKey: index) ?? []
            s.inFlight[slice]?.arrived[index] = bytes
            // Under the lock, so a loader that claimed the chunk in the session but has not
            // reached `chunk(_:)` yet finds it in `unclaimed` (never a second fetch).
            if waiters.isEmpty, session.provide(index, bytes) == .loading { s.unclaimed[index] = bytes }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: bytes) }
        if index == 0 { settleHead(bytes) }
    }

    /// Slice `slice` of fetch `id` ended (unless another fetch took it over).
    private func finish(_ slice: Int, id: UInt64, _ error: UpstreamError?) {
        let (waiters, changedNow) = state.withLock { s -> ([CheckedContinuation<[UInt8], any Error>], Bool) in
            guard s.inFlight[slice]?.owner == id else { return ([], false) }
            let waiters = (s.inFlight.removeValue(forKey: slice)?.waiters ?? [:]).values.flatMap { $0 }
            if error == nil { s.done.insert(slice) }
            var changedNow = false
            if error == .changed || error == .notFound, !s.changed {
                s.changed = true
                changedNow = true
            }
            return (waiters, changedNow)
        }
        let failure = SourceReadError.failed(reason: (error ?? .unavailable).delivery.reason)
        for waiter in waiters { waiter.resume(throwing: failure) }
        if slice == 0 { settleHead(nil) }
        if changedNow {
            let hooks = changedHooks.withLock { h -> [@Sendable () -> Void] in
                defer { h = [] }
                return h
            }
            for hook in hooks { hook() }
        }
    }

    // MARK: revalidation

    /// True (once, until ``revalidated(at:)``) when the parent should be asked again.
    package func claimRevalidation(now: UInt64, interval: UInt64) -> Bool {
        guard now &- checkedAt.load(ordering: .relaxed) >= interval else { return false }
        return revalidating.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    /// The revalidation started by ``claimRevalidation(now:interval:)`` ended.
    package func revalidated(at now: UInt64) {
        checkedAt.store(now, ordering: .relaxed)
        revalidating.store(false, ordering: .releasing)
    }
}

extension DeliveryError {
    /// The reason word of a failure while reading.
    var reason: String {
        switch self {
        case .notFound: "not_found"
        case .badSource(let reason), .unavailable(let reason), .upstream(let reason, _): reason
        }
    }
}

extension UpstreamPull: Equatable {
    package static func == (lhs: UpstreamPull, rhs: UpstreamPull) -> Bool { lhs === rhs }
}

/// Set once when a chunk load started a fetch from a parent (see ``UpstreamPull/chunk(_:fetching:)``).
package final class FetchMark: Sendable {
    private let flag = Atomic<Bool>(false)
    package init() {}
    package func set() { flag.store(true, ordering: .relaxed) }
    package var isSet: Bool { flag.load(ordering: .relaxed) }
}
