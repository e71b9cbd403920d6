import OggEdgeCore
import OggEdgeUpstream

/// A configuration value that cannot be used; the CLI prints it as a one-line error.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// Creates an error with a message for the operator.
    public init(_ description: String) { self.description = description }
}

/// Everything `oggedge serve` needs, after flags, environment and config file were merged.
public struct OriginConfiguration: Sendable {
    /// Address to bind.
    public var host: String = "127.0.0.1"
    /// Port to bind (0 picks a free one; the chosen port is reported when listening).
    public var port: Int = 8080
    /// Media root with `tracks/` and `masters/`.
    public var mediaDirectory: String = "media"
    /// Chunk cache directory.
    public var cacheDirectory: String = "cache"
    /// Upper bound of the chunk cache on disk.
    public var cacheMaxBytes: Int64 = 1 << 30
    /// Delivery log file (`nil` disables it).
    public var deliveryLogPath: String? = "logs/delivery.jsonl"
    /// Rotate the delivery log at this size (rename to `.1`); 0 = only on SIGHUP.
    public var deliveryLogRotateBytes: Int64 = 0
    /// `redis://HOST:PORT[/DB]`: also append every record to a Redis stream.
    public var redisURL: String?
    /// The stream key.
    public var redisStream = "oggedge:delivery"
    /// Parent tiers (streaming proxy), `http://HOST[:PORT][/PREFIX]` each.
    public var upstreams: [String] = []
    /// A cached upstream rendition is revalidated with its parent at most this often (seconds).
    public var upstreamRevalidateSeconds: Int64 = 300
    /// A parent's 404 is remembered this long (seconds).
    public var upstreamNegativeTTLSeconds: Int64 = 10
    /// Timeouts, probing and slice size of the parent tier.
    public var upstreamOptions = UpstreamOptions()
    /// Verification keys.
    public var keys: KeyRing
    /// Clock-skew leeway for `exp` and `st`.
    public var clockSkewLeewaySeconds: Int64 = 30
    /// How long a cached rendition's origin is trusted before it is checked again (`stat(2)`);
    /// like nginx's `open_file_cache_valid`.
    public var revalidateMilliseconds: Int64 = 1000
    /// Answer cache hits of complete renditions synchronously on the event loop (the fast lane);
    /// off sends every request the general way (for comparisons).
    public var fastLane = true
    /// Bearer token for `/admin/`; `nil` makes `/admin/` answer 404.
    public var adminToken: String?
    /// Limits that protect the server from hostile clients.
    public var limits = Limits()
    /// The player side (`GET /stream/{trackId}`, `/player/`, stream counting); see ``PlayerSettings``.
    public var player = PlayerSettings()

    /// Creates a configuration with defaults for everything but the keys.
    public init(keys: KeyRing) {
        self.keys = keys
    }

    /// Protective limits; each is documented in the README.
    public struct Limits: Sendable {
        /// Longest accepted request target (path + query); longer → 414.
        public var maxRequestTargetBytes = 8192
        /// Largest request head (all header lines); larger → 400 and the connection is closed.
        public var maxHeaderBytes = 32 * 1024
        /// Most header fields in a request.
        public var maxHeaderFields = 100
        /// Most ranges in one `Range` header before it is ignored (200 with the whole body).
        public var maxRanges = 16
        /// A client must send a complete request head within this many seconds of connecting.
        public var requestHeadTimeoutSeconds: Int64 = 10
        /// An idle keep-alive connection is closed after this many seconds.
        public var idleTimeoutSeconds: Int64 = 60
        /// A response whose client reads nothing for this many seconds is cut.
        public var sendStallTimeoutSeconds: Int64 = 30
        /// Most concurrent connections; further ones wait in the accept backlog.
        public var maxConnections = 4096
        /// Most rendition files each event loop keeps open for `sendfile`; nil: what the
        /// open-file limit leaves after the connections (``FileDescriptorLimit/originFileBudget(connections:loops:)``).
        public var originFilesPerLoop: Int?
        /// After SIGTERM, `/readyz` answers 503 for this long while connections are still
        /// accepted, so load balancers stop sending new work first.
        public var drainDelayMilliseconds: Int64 = 1000
        /// In-flight responses get this long to finish after the listener closed.
        public var shutdownGraceSeconds: Int64 = 10
        /// Bodies up to this size are sent with the head in one write.
        public var singleWriteLimit = 256 * 1024
        /// Streaming chunk size.
        public var chunkSize = 64 * 1024
        /// A range beyond what a transcode has produced waits this long before `503`.
        public var liveRangeWaitSeconds: Int64 = 10

        /// Default limits.
        public init() {}
    }
}
