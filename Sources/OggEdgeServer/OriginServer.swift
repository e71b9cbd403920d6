import Foundation
import UnixSignals
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis
import OggEdgeUpstream
import ServiceLifecycle
import Synchronization

/// The OggEdge origin as a service: HTTP/1.1 server, delivery log and shutdown handling.
///
/// Built on HummingbirdCore's HTTP/1 channel with our own responder (no router: the route set is
/// small and fixed, and the responder owns measuring and logging every response).
public struct OriginServer: Sendable {
    /// The merged configuration.
    public let configuration: OriginConfiguration
    /// Operational log.
    public let logger: Logger
    /// The delivery log service.
    public let deliveryLog: DeliveryLog
    /// Ships delivery records to Redis, when `OGGEDGE_REDIS_URL` is set.
    public let shipper: RedisStreamShipper?
    /// Player beacons (`POST /events/playback`), written beside the delivery log.
    public let playbackLog: DeliveryLog
    let playbackShipper: RedisStreamShipper?
    /// Readiness state (`/readyz`).
    public let readiness = Readiness()
    /// The LMDB chunk cache; `nil` when disabled (`--cache-max-bytes 0`, for benchmarks).
    public let store: ChunkStore?
    /// The parents this node pulls from (`--upstream`); `nil` when it has none.
    public let parentTier: ParentTier?
    /// Which version of each rendition, filled how: the cache in front of every origin.
    package let directory: RenditionDirectory
    let handler: OriginHandler
    /// Per-loop answers to cache hits, when the cache is on and the fast lane not switched off.
    let fastLane: FastLaneShared?

    /// The event loops that serve connections.
    let eventLoopGroup: MultiThreadedEventLoopGroup
    /// The open connections and their general-path tasks.
    let connections = ConnectionRegistry()
    /// Sends 30-second stream counts spooled while Redis was unreachable.
    let streamCounter: StreamCounter?

    /// Builds the server and its sources from `configuration`.
    /// - Parameter eventLoopGroup: the loops serving connections (NIO's shared group unless a
    ///   caller, such as a test measuring one loop, brings its own).
    public init(
        configuration: OriginConfiguration, logger: Logger, eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) throws {
        self.eventLoopGroup = eventLoopGroup
        self.configuration = configuration
        self.logger = logger
        var shipper: RedisStreamShipper?
        if let url = configuration.redisURL {
            do {
                shipper = try RedisStreamShipper(
                    endpoint: try RedisEndpoint(url: url), streamKey: configuration.redisStream,
                    spoolDirectory: configuration.cacheDirectory + "/redis-spool", logger: logger
                )
            } catch {
                throw ConfigurationError("redis: \(error)")
            }
        }
        self.shipper = shipper
        let log = try DeliveryLog(
            path: configuration.deliveryLogPath, shipper: shipper, rotateBytes: configuration.deliveryLogRotateBytes, logger: logger
        )
        self.deliveryLog = log
        let store: ChunkStore?
        do {
            store = configuration.cacheMaxBytes > 0
                ? try ChunkStore(directory: configuration.cacheDirectory, maxBytes: Int(clamping: configuration.cacheMaxBytes))
                : nil
        } catch {
            throw ConfigurationError("cannot open the chunk cache in \(configuration.cacheDirectory): \(error)")
        }
        self.store = store
        if let store, store.formatResetChunks > 0 {
            logger.notice(
                "the chunk cache was of an older format and has been emptied",
                metadata: ["directory": "\(configuration.cacheDirectory)", "chunks": "\(store.formatResetChunks)"]
            )
        }
        let parentTier = try Self.parentTier(configuration, logger: logger)
        self.parentTier = parentTier
        let directory = RenditionDirectory(
            mediaDirectory: configuration.mediaDirectory, store: store, scheduler: TranscodeScheduler.shared,
            revalidateInterval: .milliseconds(configuration.revalidateMilliseconds),
            upstream: parentTier.map { tier in
                UpstreamSettings(
                    fetcher: tier, sliceChunks: configuration.upstreamOptions.sliceChunks,
                    revalidateInterval: .seconds(configuration.upstreamRevalidateSeconds),
                    negativeTTL: .seconds(configuration.upstreamNegativeTTLSeconds)
                )
            }
        )
        self.directory = directory
        let prewarmer = Prewarmer(directory: directory)
        let jobs = PrewarmJobs(prewarmer: prewarmer)
        // Player beacons: their own log beside the delivery log, their own stream.
        var playbackShipper: RedisStreamShipper?
        var lazyRedis: LazyRedis?
        if let url = configuration.redisURL {
            do {
                let endpoint = try RedisEndpoint(url: url)
                lazyRedis = LazyRedis(endpoint: endpoint)
                playbackShipper = try RedisStreamShipper(
                    endpoint: endpoint, streamKey: configuration.redisStream + ":playback",
                    spoolDirectory: configuration.cacheDirectory + "/redis-spool-playback", logger: logger
                )
            } catch {
                throw ConfigurationError("redis: \(error)")
            }
        }
        let playbackLog = try DeliveryLog(path: Self.playbackLogPath(configuration.deliveryLogPath), shipper: playbackShipper, logger: logger)
        self.playbackLog = playbackLog
        self.playbackShipper = playbackShipper
        let verifier = URLVerifier(keys: configuration.keys, leewaySeconds: configuration.clockSkewLeewaySeconds)
        let player = try PlayerSide(configuration: configuration, store: store, logger: logger)
        self.streamCounter = player.counter
        let counters = DeliveryCounters()
        let ids = RequestIDGenerator()
        let limits = configuration.limits
        let inFlight = InFlightResponses()
        let unlogged = UnloggedResponses()
        let rangePolicy = RangePolicy(maxRanges: limits.maxRanges)
        if configuration.fastLane, let store {
            self.fastLane = FastLaneShared(
                verifier: verifier, directory: directory, store: store, rangePolicy: rangePolicy,
                bodyLimit: limits.singleWriteLimit, log: log, metrics: OriginMetrics.shared, counters: counters,
                inFlight: inFlight, ids: ids, unlogged: unlogged,
                sendfileThreshold: ProcessInfo.processInfo.environment["OGGEDGE_EXPERIMENTAL_SENDFILE"] == "1" ? 32 * 1024 : nil,
                maxOriginFiles: limits.originFilesPerLoop
                    ?? FileDescriptorLimit.originFileBudget(connections: limits.maxConnections, loops: Self.loopCount(eventLoopGroup))
            )
        } else {
            self.fastLane = nil
        }
        let sampledLane = self.fastLane
        self.handler = OriginHandler(
            tracks: TrackResponder(
                verifier: verifier,
                directory: directory,
                rangePolicy: rangePolicy,
                boundaryPrefix: "oggedge-" + ids.prefix + "-",
                liveRangeWait: .seconds(limits.liveRangeWaitSeconds)
            ),
            admin: AdminResponder(token: configuration.adminToken, directory: directory, jobs: jobs, player: player.admin) {
                AdminStats(
                    cache: store?.stats() ?? CacheStats(), hits: counters[.hit], misses: counters[.miss], coalesced: counters[.coalesced],
                    transcodes: counters[.transcode], encodesStarted: directory.encodesStarted,
                    encodesFailed: directory.encodesFailed, encodesAbandoned: directory.encodesAbandoned,
                    deliveryLogDropped: log.droppedRecords
                )
            },
            events: PlaybackEvents(verifier: verifier, log: playbackLog, window: EventWindow(), redis: lazyRedis, counter: player.counter),
            player: player.routes,
            sampleGauges: { [shipper, sampledLane] in
                let metrics = OriginMetrics.shared
                if let sampledLane {
                    metrics.set("oggedge_fast_lane_responses", Int64(sampledLane.answered))
                    metrics.set("oggedge_fast_lane_cold_declines", Int64(sampledLane.coldDeclines))
                }
                if let stats = store?.stats() {
                    metrics.set("oggedge_cache_bytes", stats.bytes)
                    metrics.set("oggedge_cache_file_bytes", stats.fileBytes)
                    metrics.set("oggedge_cache_chunks", stats.chunks)
                    metrics.set("oggedge_cache_renditions", stats.renditions)
                    metrics.set("oggedge_cache_evictions", stats.evictions)
                    metrics.set("oggedge_cache_checksum_failures", stats.checksumFailures)
                }
                let load = TranscodeScheduler.shared.load
                metrics.set("oggedge_transcodes_in_flight", Int64(load.inFlight))
                metrics.set("oggedge_transcodes_queued", Int64(load.queued))
                if let stats = shipper?.stats {
                    metrics.set("oggedge_redis_spooled_bytes", stats.spooledBytes)
                    metrics.set("oggedge_redis_sent", Int64(stats.sent))
                    metrics.set("oggedge_redis_dropped", Int64(stats.droppedWhenFull))
                }
            },
            emitter: ResponseEmitter(
                singleWriteLimit: limits.singleWriteLimit, chunkSize: limits.chunkSize,
                stallTimeout: .seconds(limits.sendStallTimeoutSeconds)
            ),
            log: log,
            metrics: OriginMetrics.shared,
            readiness: self.readiness,
            counters: counters,
            inFlight: inFlight,
            ids: ids,
            dates: DateHeaderCache(),
            limits: limits,
            unlogged: unlogged
        )
    }

    /// The parent tier of an edge (`--upstream`), signing with this node's first key.
    static func parentTier(_ configuration: OriginConfiguration, logger: Logger) throws -> ParentTier? {
        guard !configuration.upstreams.isEmpty else { return nil }
        var parents: [ParentEndpoint] = []
        for url in configuration.upstreams {
            do { parents.append(try ParentEndpoint(parsing: url)) } catch { throw ConfigurationError(error.description) }
        }
        return ParentTier(parents: parents, signingKey: configuration.keys.signingKey, options: configuration.upstreamOptions, logger: logger)
    }

    /// `logs/delivery.jsonl` → `logs/playback.jsonl`; no delivery log, no playback log.
    /// How many event loops `group` runs.
    static func loopCount(_ group: MultiThreadedEventLoopGroup) -> Int {
        var count = 0
        for _ in group.makeIterator() { count += 1 }
        return count
    }

    static func playbackLogPath(_ deliveryLog: String?) -> String? {
        guard let deliveryLog else { return nil }
        guard let slash = deliveryLog.lastIndex(of: "/") else { return "playback.jsonl" }
        return String(deliveryLog[...slash]) + "playback.jsonl"
    }

    /// Responses the fast lane has answered (cache hits served synchronously on an event loop).
    public var fastLaneResponses: Int { fastLane?.answered ?? 0 }

    /// Fast-lane answers whose body's first bytes went out with the head (so the rest of the
    /// body leaves in whole TCP segments).
    public var fastLaneRuntsCarried: Int { fastLane?.runtsCarried ?? 0 }

    /// Of ``fastLaneRuntsCarried``, those whose bytes were copied from the chunk cache while the
    /// lane checked it held the range (a hit), not read from the rendition's file.
    public var fastLaneRuntsFromCache: Int { fastLane?.runtsFromCache ?? 0 }

    /// Requests the fast lane handed to the general path because the rendition file's pages it
    /// would have sent were not in memory (so `sendfile` would have waited for the disk on the loop).
    public var fastLaneColdDeclines: Int { fastLane?.coldDeclines ?? 0 }

    /// Connections that needed the general path so far (the others were served on their event
    /// loop from accept to close: see ``EdgeHTTPServer``).
    public var generalPathConnections: Int { connections.generalPathConnections }

    /// Returns once every response received so far has been answered and its delivery record
    /// submitted to the log (then ``DeliveryLog/flush()`` writes them).
    public func responsesLogged() async {
        await handler.inFlight.settled()
    }

    /// Runs until SIGTERM/SIGINT: stops accepting, lets in-flight responses finish (bounded by
    /// `shutdownGraceSeconds`), flushes the delivery log and returns.
    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await makeServiceGroup(handlingSignals: true, onListening: onListening).run()
    }

    /// A service group running this server; with `handlingSignals` false (tests), stop it with
    /// `triggerGracefulShutdown()`.
    public func makeServiceGroup(
        handlingSignals: Bool, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: try services(onListening: onListening),
                gracefulShutdownSignals: handlingSignals ? [.sigterm, .sigint] : [],
                cancellationSignals: [],
                logger: logger
            )
        )
    }

    /// The services in start order (stopped in reverse: server first, delivery log last).
    public func services(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> [any Service] {
        let limits = configuration.limits
        let handler = self.handler
        let readiness = self.readiness
        let fastLane = self.fastLane
        let decoderLimits = {
            var d = NIOHTTPDecoderLimitConfiguration()
            d.maxHeaderFieldSize = limits.maxHeaderBytes
            d.maxHeaderListSize = limits.maxHeaderBytes
            d.maxHeaderFieldCount = limits.maxHeaderFields
            return d
        }()
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                ConnectionGuardHandler(
                    headTimeout: .seconds(limits.requestHeadTimeoutSeconds),
                    keepAliveTimeout: .seconds(limits.idleTimeoutSeconds),
                    stallTimeout: .seconds(limits.sendStallTimeoutSeconds),
                    fastLane: fastLane,
                    decoderLimits: decoderLimits
                ),
            ],
            // Idle keep-alive connections are cut by ConnectionGuardHandler, which also sees the
            // requests the fast lane answers (Hummingbird's own timer would not).
            idleTimeout: nil,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeaderBytes,
                maxHeaderListSize: limits.maxHeaderBytes,
                maxHeaderFieldCount: limits.maxHeaderFields
            )
        )
        let server = EdgeHTTPServer(
            http1: HTTP1Channel(
                responder: { request, writer, channel in
                    await handler.handle(request, writer: writer, channel: channel)
                },
                configuration: http1
            ),
            host: configuration.host, port: configuration.port, backlog: 1024,
            maxConnections: limits.maxConnections, eventLoopGroup: eventLoopGroup, logger: logger,
            connections: connections,
            onListening: { channel in
                await onListening(channel.localAddress?.port ?? 0)
            }
        )
        let drain = DrainWatcher(
            readiness: readiness, server: server, drainDelay: .milliseconds(limits.drainDelayMilliseconds),
            grace: .seconds(limits.shutdownGraceSeconds), logger: logger
        )
        // Started in this order, stopped in reverse: the server first, the log and shipper last.
        var services: [any Service] = []
        if let shipper { services.append(shipper) }
        if let playbackShipper { services.append(playbackShipper) }
        if let streamCounter { services.append(streamCounter) }
        services.append(deliveryLog)
        services.append(playbackLog)
        if let store { services.append(CacheCloser(store: store)) }
        // Stopped after the server: responses still streaming keep their parents until they end.
        if let parentTier { services.append(parentTier) }
        services.append(drain)
        return services
    }
}

/// Runs the HTTP server; on graceful shutdown marks the node as draining and bounds how long
/// in-flight responses may take before they are cancelled.
struct DrainWatcher: Service {
    let readiness: Readiness
    let server: any Service
    /// How long `/readyz` answers 503 while the listener still accepts, so load balancers
    /// stop sending new work before connections are refused.
    let drainDelay: Duration
    let grace: Duration
    let logger: Logger

    func run() async throws {
        // The HTTP server runs in its own group, detached from ours, so that our graceful
        // shutdown reaches it only after the drain delay.
        let inner = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        )
        let (ended, endedContinuation) = AsyncStream<Never>.makeStream()
        let serving = Task.detached {
            defer { endedContinuation.finish() }
            try await inner.run()
        }
        let drainTask = Mutex<Task<Void, Never>?>(nil)
        let (readiness, drainDelay, grace, logger) = (self.readiness, self.drainDelay, self.grace, self.logger)
        try await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await _ in ended {}  // until the server has stopped
            } onGracefulShutdown: {
                readiness.startDraining()
                let task = Task {
                    try? await Task.sleep(for: drainDelay)
                    await inner.triggerGracefulShutdown()
                    // In-flight responses get `grace`; then they are cancelled.
                    guard (try? await Task.sleep(for: grace)) != nil else { return }
                    logger.warning("shutdown grace period over; cancelling in-flight responses")
                    serving.cancel()
                }
                drainTask.withLock { $0 = task }
            }
            drainTask.withLock { $0?.cancel() }
            try await serving.value
        } onCancel: {
            serving.cancel()
        }
    }
}

/// Closes the chunk cache (its writer commits what is queued) after the server has stopped.
struct CacheCloser: Service {
    let store: ChunkStore

    func run() async throws {
        try? await gracefulShutdown()
        store.close()
    }
}
