import Logging
import OggEdgeCache
import OggEdgeDelivery
import OggEdgeRedis

/// Builds the player side from the configuration: its routes, its admin endpoints and the stream
/// counter (a service: it sends plays spooled while Redis was unreachable).
struct PlayerSide: Sendable {
    let routes: PlayerRoutes
    let admin: PlayerAdmin
    let counter: StreamCounter?

    init(configuration: OriginConfiguration, store: ChunkStore?, logger: Logger) throws {
        let settings = configuration.player
        try settings.validate(host: configuration.host, redisURL: configuration.redisURL)
        var redis: RedisPool?
        if let url = configuration.redisURL {
            do { redis = RedisPool(endpoint: try RedisEndpoint(url: url)) } catch { throw ConfigurationError("redis: \(error)") }
        }
        counter = try redis.map {
            try StreamCounter(redis: $0, spoolDirectory: configuration.cacheDirectory + "/stream-count-spool", logger: logger)
        }
        let cors = CredentialedCORS(allowedOrigins: settings.corsOrigins)
        let catalogue = TrackCatalogue(mediaDirectory: configuration.mediaDirectory)
        var stream: StreamResponder?
        var demo: DemoLogin?
        if settings.streamAPI, let redis {
            stream = StreamResponder(
                keys: configuration.keys, redis: redis, locator: OriginLocator(mediaDirectory: configuration.mediaDirectory),
                hasUpstreams: !configuration.upstreams.isEmpty, publicBaseURL: settings.publicBaseURL, cors: cors
            )
            if settings.demoUser { demo = DemoLogin(redis: redis, cors: cors) }
        }
        let files = StaticFiles(mounts: ["player": PlayerRoutes.playerPrefix, "ops": PlayerRoutes.opsPrefix])
        if files.root == nil, settings.streamAPI || configuration.adminToken != nil {
            logger.warning("web pages not found (set OGGEDGE_WEB_DIR to Sources/OggEdgeServer/Web); /player/ and /admin/ui/ answer 404")
        }
        routes = PlayerRoutes(
            stream: stream, demoLogin: demo, catalogue: catalogue, files: files, adminEnabled: configuration.adminToken != nil
        )
        let maxBytes = configuration.cacheMaxBytes
        admin = PlayerAdmin(redis: redis, catalogue: catalogue) {
            let load = TranscodeScheduler.shared.load
            return LiveGauges(
                cacheBytes: store?.stats().bytes ?? 0, cacheMaxBytes: maxBytes,
                transcodesRunning: load.inFlight, transcodesQueued: load.queued
            )
        }
    }
}
