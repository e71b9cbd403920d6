import CoreMetrics
import Metrics
import OggEdgeCore
import Prometheus
import Synchronization

/// The process's Prometheus registry and the handles the hot path records into.
///
/// Handles are created once (per label value) so recording a response costs a few atomic adds,
/// not a registry lookup. The registry is process-wide because swift-metrics is bootstrapped
/// once per process; every server in the process (tests start several) shares it.
public final class OriginMetrics: Sendable {
    /// The shared instance.
    public static let shared = OriginMetrics()

    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    /// Buckets resolving 1–500 ms finely, with a tail to 10 s (seconds). The histograms hold
    /// `Double` seconds, not `Duration`: recording compares the value with every bucket, and a
    /// `Duration` comparison is a call into the standard library (128-bit), a `Double` one an
    /// instruction (it was a third of the cost of recording a response).
    static let latencyBuckets: [Double] = [
        1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 2500, 5000, 10000,
    ].map { Double($0) / 1000 }

    /// By cache result, in ``LiveStats/results`` order (an array index, not a hash, per response).
    private let ttfb: [ValueHistogram]
    private let playbackStart: [ValueHistogram]
    private let bytes: [Prometheus.Counter]
    private let refusals: [String: Prometheus.Counter]
    /// The statuses the origin answers, made once: recording one takes no lock.
    private let commonStatuses: [Int: Prometheus.Counter]
    /// Any other status, made when first seen.
    private let byStatus = Mutex<[Int: Prometheus.Counter]>([:])
    private let logDropped: Prometheus.Gauge
    private let playerStart: ValueHistogram
    private let gauges: [String: Prometheus.Gauge]

    private init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var ttfb: [ValueHistogram] = []
        var playback: [ValueHistogram] = []
        var bytes: [Prometheus.Counter] = []
        for result in LiveStats.results {
            let labels = [("cache", result.rawValue)]
            ttfb.append(registry.makeValueHistogram(
                descriptor: .init(metricName: "oggedge_ttfb_seconds", unitName: "", helpText: "Time from request arrival to the first body byte written"),
                labels: labels, buckets: Self.latencyBuckets
            ))
            playback.append(registry.makeValueHistogram(
                descriptor: .init(
                    metricName: "oggedge_playback_start_seconds", unitName: "",
                    helpText: "Time from request arrival until the Vorbis headers and first audio page were written"
                ),
                labels: labels, buckets: Self.latencyBuckets
            ))
            bytes.append(registry.makeCounter(
                descriptor: .init(metricName: "oggedge_bytes_sent_total", unitName: "", helpText: "Body bytes accepted by the socket"), labels: labels
            ))
        }
        var common: [Int: Prometheus.Counter] = [:]
        for status in [200, 204, 206, 304, 400, 401, 403, 404, 405, 408, 412, 413, 416, 429, 431, 500, 502, 503, 504] {
            common[status] = Self.statusCounter(status, in: registry)
        }
        self.commonStatuses = common
        var refusals: [String: Prometheus.Counter] = [:]
        for reason in AuthRefusal.allCases {
            refusals[reason.rawValue] = registry.makeCounter(
                descriptor: .init(metricName: "oggedge_refusals_total", unitName: "", helpText: "Signed-URL refusals by reason"),
                labels: [("reason", reason.rawValue)]
            )
        }
        self.ttfb = ttfb
        self.playbackStart = playback
        self.bytes = bytes
        self.refusals = refusals
        self.logDropped = registry.makeGauge(
            descriptor: .init(metricName: "oggedge_delivery_log_dropped", unitName: "", helpText: "Delivery records dropped by the writer")
        )
        self.playerStart = registry.makeValueHistogram(
            descriptor: .init(
                metricName: "oggedge_player_tap_to_playing_seconds", unitName: "",
                helpText: "Tap-to-playing time reported by players (POST /events/playback)"
            ),
            labels: [], buckets: Self.latencyBuckets
        )
        var gauges: [String: Prometheus.Gauge] = [:]
        for (name, help) in [
            ("oggedge_cache_bytes", "Live bytes in the chunk cache"),
            ("oggedge_cache_file_bytes", "Size of the chunk cache file on disk"),
            ("oggedge_cache_chunks", "Chunks in the cache"),
            ("oggedge_cache_renditions", "Renditions with cache metadata"),
            ("oggedge_cache_evictions", "Chunks evicted since start"),
            ("oggedge_cache_checksum_failures", "Chunks dropped for a bad checksum since start"),
            ("oggedge_transcodes_in_flight", "Encodes being stepped by an encoder thread"),
            ("oggedge_transcodes_queued", "Encodes waiting for an encoder thread"),
            ("oggedge_redis_spooled_bytes", "Delivery records spooled locally, not yet in Redis"),
            ("oggedge_redis_sent", "Delivery records sent to Redis since start"),
            ("oggedge_redis_dropped", "Delivery records dropped because the spool was full"),
            ("oggedge_fast_lane_responses", "Responses answered by the fast lane since start (the rest went the general way)"),
            ("oggedge_fast_lane_cold_declines", "Requests the fast lane handed to the general path because the file pages it would send were not in memory"),
        ] {
            gauges[name] = registry.makeGauge(descriptor: .init(metricName: name, unitName: "", helpText: help))
        }
        self.gauges = gauges
        MetricsBootstrap.once(registry: registry)
    }

    /// Records one finished response.
    func record(_ record: DeliveryRecord) {
        let status = record.status
        let counter = commonStatuses[status] ?? byStatus.withLock { map -> Prometheus.Counter in
            if let c = map[status] { return c }
            let c = Self.statusCounter(status, in: registry)
            map[status] = c
            return c
        }
        counter.increment()
        LiveStats.shared.record(record, nowSeconds: record.timestampMs / 1000)
        if record.auth != "ok" { refusals[record.auth]?.increment() }  // audio and beacon URLs alike
        // Responses that are not audio (cache nil) count by status only.
        guard let cache = record.cache else { return }
        let r = LiveStats.index(cache)
        if let ttfbMicros = record.ttfbMicros { ttfb[r].record(Double(ttfbMicros) / 1_000_000) }
        if let playback = record.playbackStartMicros { playbackStart[r].record(Double(playback) / 1_000_000) }
        if record.bytesSent > 0 { bytes[r].increment(by: record.bytesSent) }
    }

    private static func statusCounter(_ status: Int, in registry: PrometheusCollectorRegistry) -> Prometheus.Counter {
        registry.makeCounter(
            descriptor: .init(metricName: "oggedge_responses_total", unitName: "", helpText: "Responses by status"),
            labels: [("status", String(status))]
        )
    }

    /// Records a player's reported tap-to-playing time.
    func recordPlayerStart(milliseconds: Double) {
        playerStart.record(milliseconds / 1000)
    }

    /// Updates gauges that are sampled rather than counted.
    func sample(deliveryLogDropped: UInt64) {
        logDropped.set(to: Double(deliveryLogDropped))
    }

    /// Sets a named gauge (names listed in `init`).
    func set(_ name: String, _ value: Int64) {
        gauges[name]?.set(to: Double(value))
    }
}

/// Bootstraps swift-metrics with the Prometheus factory exactly once per process.
enum MetricsBootstrap {
    private static let done = Mutex(false)

    static func once(registry: PrometheusCollectorRegistry) {
        done.withLock { done in
            guard !done else { return }
            done = true
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        }
    }
}
