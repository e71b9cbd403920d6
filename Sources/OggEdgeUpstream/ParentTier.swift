import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import OggEdgeCore
import OggEdgeDelivery
import ServiceLifecycle
import Synchronization

/// Timeouts and pacing of the parent tier.
public struct UpstreamOptions: Sendable {
    /// Longest TCP connect to a parent.
    public var connectTimeout: Duration = .seconds(1)
    /// Longest wait for a parent's response head.
    public var firstByteTimeout: Duration = .seconds(5)
    /// Longest silence inside a parent's body before it is replaced mid-stream.
    public var stallTimeout: Duration = .seconds(2)
    /// How often each parent's `/readyz` is probed.
    public var probeInterval: Duration = .seconds(1)
    /// How long a parent that failed a request is passed over.
    public var coolDown: Duration = .seconds(2)
    /// Lifetime of the signature on a request to a parent.
    public var tokenTTLSeconds: Int64 = 60
    /// Cache chunks per slice fetched from a parent.
    public var sliceChunks = 4

    public init() {}
}

/// The parents of this edge, as the delivery layer's ``UpstreamFetcher``, and a service that
/// probes them and owns the HTTP client.
///
/// Every request is signed with this node's first key (a parent OggEdge verifies it like any
/// request; a player's token is never forwarded). A request goes to the track's parent in
/// rendezvous order; a parent that refuses, times out, answers 5xx or nonsense is marked down and
/// the next one is asked. A body that breaks off (reset, stall, short) is resumed from the next
/// parent with `Range` from the first missing byte and `If-Match` on the ETag (or, for a parent
/// whose copy has another ETag, from an overlap it must repeat byte for byte), so the bytes handed
/// on are one unbroken, byte-exact sequence.
public final class ParentTier: UpstreamFetcher, Service {
    let pool: ParentPool
    let options: UpstreamOptions
    private let client: HTTPClient
    private let key: SigningKey
    private let logger: Logger
    private let sent = Atomic<Int>(0)

    /// - Parameters:
    ///   - signingKey: this node's first key; it signs every request to a parent.
    public init(parents: [ParentEndpoint], signingKey: SigningKey, options: UpstreamOptions = UpstreamOptions(), logger: Logger) {
        self.pool = ParentPool(parents: parents, coolDown: options.coolDown)
        self.options = options
        self.key = signingKey
        self.logger = logger
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: Self.amount(options.connectTimeout), read: Self.amount(options.stallTimeout))
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        config.decompression = .disabled
        config.redirectConfiguration = .disallow
        config.httpVersion = .http1Only
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Requests sent to parents so far (probes not counted).
    public var requestsSent: Int { sent.load(ordering: .relaxed) }

    /// The parents.
    public var parents: [ParentEndpoint] { pool.parents }

    /// Answers (response heads accepted, revalidations included) parent `index` gave so far.
    public func answers(from index: Int) -> Int { pool.answers(index) }

    // MARK: UpstreamFetcher

    package func fetch(_ track: TrackPath, range: ByteRange, expecting: UpstreamFacts?) async throws(UpstreamError) -> UpstreamBody {
        var last = UpstreamError.unavailable
        for index in pool.order(for: track.trackId, now: MonotonicClock.nanos()) {
            switch await attempt(index, track, range: range, expecting: expecting) {
            case .success(let opened):
                return UpstreamBody(facts: opened.answer.facts, bytes: stream(from: opened, track: track))
            case .failure(.notFound): throw .notFound
            case .failure(.changed): throw .changed
            case .failure(.unsatisfiable): throw .unsatisfiable
            case .failure(.timeout): last = .timeout
            case .failure(.failed): last = .unavailable
            }
        }
        throw last
    }

    package func revalidate(_ track: TrackPath, facts: UpstreamFacts) async -> UpstreamRevalidation {
        for index in pool.order(for: track.trackId, now: MonotonicClock.nanos()) {
            var headers = [("Range", "bytes=0-0")]
            if facts.etagFromParent { headers.append(("If-None-Match", "\"\(facts.etag)\"")) }
            guard let response = try? await send(index, track, headers: headers) else { continue }
            let status = Int(response.status.code)
            if status == 304 { return .unchanged }
            if status == 404 || status == 410 { return .gone }
            guard status == 200 || status == 206 else {
                pool.failed(index, now: MonotonicClock.nanos())
                continue
            }
            pool.answered(index)
            let answer = ParentAnswer.evaluate(
                status: status, header: { response.headers.first(name: $0) }, requested: ByteRange(start: 0, end: 0), expecting: nil
            )
            guard case .success(let accepted) = answer else { return .changed }
            let fresh = accepted.facts
            return fresh.etag == facts.etag && fresh.length == facts.length ? .unchanged : .changed
        }
        return .unknown
    }

    // MARK: requests

    private struct Opened: Sendable {
        let parent: Int
        let response: HTTPClientResponse
        let answer: AcceptedAnswer
    }

    /// One signed request to parent `index`, judged by ``ParentAnswer``.
    private func attempt(_ index: Int, _ track: TrackPath, range: ByteRange, expecting: UpstreamFacts?) async -> Result<Opened, AttemptFailure> {
        // An end past any length is sent open (`bytes=N-`): the rest of the rendition.
        let end = range.end >= Int64.max / 2 ? "" : String(range.end)
        var headers = [("Range", "bytes=\(range.start)-\(end)")]
        if let expecting, expecting.etagFromParent { headers.append(("If-Match", "\"\(expecting.etag)\"")) }
        let response: HTTPClientResponse
        do {
            response = try await send(index, track, headers: headers)
        } catch {
            let failure = Self.classify(error)
            pool.failed(index, now: MonotonicClock.nanos())
            logger.warning("parent failed", metadata: ["parent": "\(pool.parents[index])", "track": "\(track.renditionKey)", "error": "\(error)"])
            return .failure(failure)
        }
        let status = Int(response.status.code)
        let verdict = ParentAnswer.evaluate(status: status, header: { response.headers.first(name: $0) }, requested: range, expecting: expecting)
        switch verdict {
        case .success(let answer):
            pool.answered(index)
            return .success(Opened(parent: index, response: response, answer: answer))
        case .failure(let failure):
            if case .failed(let why) = failure {
                pool.failed(index, now: MonotonicClock.nanos())
                logger.warning("parent answer refused", metadata: ["parent": "\(pool.parents[index])", "track": "\(track.renditionKey)", "why": "\(why)"])
            } else {
                pool.answered(index)
            }
            return .failure(failure)
        }
    }

    private func send(_ index: Int, _ track: TrackPath, headers: [(String, String)]) async throws -> HTTPClientResponse {
        let parent = pool.parents[index]
        let signed = URLSigner.sign(
            path: parent.pathPrefix + "/tracks/" + track.fileName, key: key,
            expires: WallClock.seconds() + options.tokenTTLSeconds, uid: "oggedge-edge"
        )
        var request = HTTPClientRequest(url: parent.origin + signed)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "User-Agent", value: "OggEdge-edge")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        sent.add(1, ordering: .relaxed)
        return try await client.execute(request, deadline: .now() + Self.amount(options.firstByteTimeout), logger: logger)
    }

    /// The body of `opened`, then, when it breaks off, the rest from the next parents.
    private func stream(from opened: Opened, track: TrackPath) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let facts = opened.answer.facts
        let task = Task {
            var position = opened.answer.range.start
            let end = opened.answer.range.end
            var current: Opened? = opened
            var resumes = 0
            var lastError = UpstreamError.unavailable
            // The last bytes handed on, and bytes a resumed body must repeat before it is trusted.
            var tail: [UInt8] = []
            var mustRepeat: [UInt8] = []
            while position <= end {
                if let source = current {
                    current = nil
                    pool.began(source.parent)
                    defer { pool.ended(source.parent) }
                    do {
                        for try await buffer in source.response.body {
                            var view = buffer.readableBytesView[...]
                            if !mustRepeat.isEmpty {
                                let n = min(mustRepeat.count, view.count)
                                guard view.prefix(n).elementsEqual(mustRepeat.prefix(n)) else {
                                    continuation.finish(throwing: UpstreamError.changed)
                                    return
                                }
                                mustRepeat.removeFirst(n)
                                view = view.dropFirst(n)
                            }
                            let take = Int(min(Int64(view.count), end - position + 1))
                            if take > 0 {
                                let bytes = Array(view.prefix(take))
                                continuation.yield(bytes)
                                position += Int64(take)
                                tail.append(contentsOf: bytes)
                                if tail.count > 2 * Self.resumeOverlap { tail.removeFirst(tail.count - Self.resumeOverlap) }
                            }
                            if position > end { break }
                        }
                        if position <= end { throw AttemptFailure.failed("body ended \(end - position + 1) bytes short") }
                    } catch {
                        if Task.isCancelled { break }
                        lastError = Self.classify(error) == .timeout ? .timeout : .unavailable
                        pool.failed(source.parent, now: MonotonicClock.nanos())
                        logger.warning("parent broke off mid-body; resuming", metadata: [
                            "parent": "\(pool.parents[source.parent])", "track": "\(track.renditionKey)", "at": "\(position)", "error": "\(error)",
                        ])
                    }
                    continue
                }
                resumes += 1
                guard resumes <= 2 * pool.parents.count else { break }
                for index in pool.order(for: track.trackId, now: MonotonicClock.nanos()) {
                    switch await attempt(index, track, range: ByteRange(start: position, end: end), expecting: facts) {
                    case .success(let next): current = next
                    case .failure(.changed):
                        // Another parent's copy of the same file can carry another ETag (an OggEdge
                        // ETag names the file, inode included). It may continue the body only if its
                        // length is the same and it repeats, byte for byte, the last bytes already
                        // handed on; otherwise the version changed and the body must not be mixed.
                        let overlap = min(tail.count, Int(min(position, Int64(Self.resumeOverlap))))
                        guard overlap > 0,
                              case .success(let next) = await attempt(
                                  index, track, range: ByteRange(start: position - Int64(overlap), end: end), expecting: nil
                              ),
                              next.answer.facts.length == facts.length, next.answer.range.start == position - Int64(overlap)
                        else {
                            continuation.finish(throwing: UpstreamError.changed)
                            return
                        }
                        mustRepeat = Array(tail.suffix(overlap))
                        current = next
                    case .failure(.notFound), .failure(.unsatisfiable):
                        continuation.finish(throwing: UpstreamError.changed)
                        return
                    case .failure(.timeout): lastError = .timeout
                    case .failure(.failed): lastError = .unavailable
                    }
                    if current != nil { break }
                }
                if current == nil { break }
            }
            if position > end {
                continuation.finish()
            } else {
                continuation.finish(throwing: Task.isCancelled ? UpstreamError.unavailable : lastError)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Bytes a resumed body from a parent with another ETag must repeat before it is trusted.
    static let resumeOverlap = 16 * 1024

    static func classify(_ error: any Error) -> AttemptFailure {
        if let failure = error as? AttemptFailure { return failure }
        if let client = error as? HTTPClientError,
           client == .readTimeout || client == .connectTimeout || client == .deadlineExceeded {
            return .timeout
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel { return .timeout }
        return .failed("\(error)")
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    // MARK: Service

    /// Probes every parent's `/readyz` each `probeInterval` until graceful shutdown, then
    /// shuts the HTTP client down.
    public func run() async throws {
        let interval = options.probeInterval
        await cancelWhenGracefulShutdown { [self] in
            await withTaskGroup(of: Void.self) { group in
                for index in pool.parents.indices {
                    group.addTask {
                        while !Task.isCancelled {
                            let started = ContinuousClock.now
                            await self.probe(index, timeout: interval)
                            let rest = interval - (ContinuousClock.now - started)
                            if rest > .zero { try? await Task.sleep(for: rest) }
                        }
                    }
                }
            }
        }
        try? await client.shutdown()
    }

    /// Any answer below 500 counts as alive (a plain HTTP parent has no `/readyz` and says 404);
    /// a draining OggEdge says 503.
    private func probe(_ index: Int, timeout: Duration) async {
        let parent = pool.parents[index]
        var request = HTTPClientRequest(url: parent.origin + parent.pathPrefix + "/readyz")
        request.headers.add(name: "User-Agent", value: "OggEdge-edge")
        let up: Bool
        do {
            let response = try await client.execute(request, deadline: .now() + Self.amount(timeout), logger: logger)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            up = response.status.code < 500
        } catch {
            up = false
        }
        let was = pool.probed(index, up: up)
        if was != up { logger.notice("parent \(up ? "up" : "down")", metadata: ["parent": "\(parent)"]) }
    }
}
