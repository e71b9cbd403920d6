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

    private struct State {
        /// Slices being fetched: the loaders waiting for each of their chunks.
        var inFlight: [Int: [Int: [CheckedContinuation<[UInt8], any Error>]]] = [:]
        /// Slices fetched whole by this pull.
        var done: Set<Int> = []
        /// Chunks that arrived while their loader was between its claim and its wait.
        var unclaimed: [Int: [UInt8]] = [:]
        /// Set when the version changed upstream: nothing more can be pulled.
        var changed = false
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
            let (now, startNow) = state.withLock { s -> (Result<[UInt8], any Error>?, Bool) in
                if let bytes = s.unclaimed.removeValue(forKey: index) { return (.success(bytes), false) }
                if s.changed { return (.failure(SourceReadError.failed(reason: UpstreamError.changed.reason)), false) }
                let startNow = s.inFlight[slice] == nil
                s.inFlight[slice, default: [:]][index, default: []].append(continuation)
                return (nil, startNow)
            }
            if let now { continuation.resume(with: now) }
            if startNow {
                fetching?.set()
                start(slice, body: nil)
            }
        }
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
        let claimed = state.withLock { s -> Bool in
            guard !s.changed, s.inFlight[next] == nil, !s.done.contains(next) else { return false }
            s.inFlight[next] = [:]
            return true
        }
        if claimed { start(next, body: nil) }
    }

    // MARK: fetching

    /// Takes over the body a parent is already sending for `slice` (the pull's first request).
    package func adopt(slice: Int, body: UpstreamBody) {
        let claimed = state.withLock { s -> Bool in
            guard s.inFlight[slice] == nil else { return false }
            s.inFlight[slice] = [:]
            return true
        }
        if claimed { start(slice, body: body) }
    }

    /// Starts fetching `slice`, already marked in flight.
    private func start(_ slice: Int, body: UpstreamBody?) {
        Task { await self.run(slice, body: body) }
    }

    private func run(_ slice: Int, body: UpstreamBody?) async {
        let range = sliceRange(slice)
        let first = slice * sliceChunks
        let last = min(chunkCount, first + sliceChunks) - 1
        var index = first
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize)
        do {
            let stream: AsyncThrowingStream<[UInt8], any Error>
            if let body {
                stream = body.bytes
            } else {
                stream = try await fetcher.fetch(track, range: range, expecting: facts).bytes
            }
            for try await piece in stream {
                var rest = piece[...]
                while !rest.isEmpty {
                    // More than the slice: a parent that sends what it did not promise is wrong.
                    guard index <= last else { throw UpstreamError.unavailable }
                    let take = min(chunkLength(index) - buffer.count, rest.count)
                    buffer.append(contentsOf: rest.prefix(take))
                    rest = rest.dropFirst(take)
                    if buffer.count == chunkLength(index) {
                        deliver(index, slice: slice, buffer)
                        index += 1
                        buffer = []
                        buffer.reserveCapacity(chunkSize)
                    }
                }
            }
            // Fewer bytes than the slice: a partial body is never stored.
            guard index > last else { throw UpstreamError.unavailable }
            finish(slice, nil)
        } catch let error as UpstreamError {
            finish(slice, error)
        } catch {
            finish(slice, .unavailable)
        }
    }

    private func chunkLength(_ index: Int) -> Int {
        Int(min(Int64(chunkSize), facts.length - Int64(index) * Int64(chunkSize)))
    }

    /// Chunk `index` is complete: to its loaders, else into the session (held and committed).
    private func deliver(_ index: Int, slice: Int, _ bytes: [UInt8]) {
        let waiters = state.withLock { s -> [CheckedContinuation<[UInt8], any Error>] in
            let waiters = s.inFlight[slice]?.removeValue(forKey: index) ?? []
            // Under the lock, so a loader that claimed the chunk in the session but has not
            // reached `chunk(_:)` yet finds it in `unclaimed` (never a second fetch).
            if waiters.isEmpty, session.provide(index, bytes) == .loading { s.unclaimed[index] = bytes }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: bytes) }
    }

    private func finish(_ slice: Int, _ error: UpstreamError?) {
        let (waiters, changedNow) = state.withLock { s -> ([CheckedContinuation<[UInt8], any Error>], Bool) in
            let waiters = (s.inFlight.removeValue(forKey: slice) ?? [:]).values.flatMap { $0 }
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
