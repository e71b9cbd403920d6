/// Latency percentiles of one group of responses, in microseconds.
///
/// Percentiles are nearest-rank on the exact samples: with the `n` samples sorted ascending,
/// `pP` is the sample at 1-based rank `ceil(P/100 * n)`. Every percentile is therefore a value
/// that actually occurred; they are `nil` (JSON `null`) when the group has no samples.
public struct LatencySummary: Sendable, Codable, Equatable {
    /// Number of samples.
    public var count: Int
    /// Median, microseconds.
    public var p50Us: Int?
    /// 95th percentile, microseconds.
    public var p95Us: Int?
    /// 99th percentile, microseconds.
    public var p99Us: Int?

    /// A summary with the given values.
    public init(count: Int, p50Us: Int?, p95Us: Int?, p99Us: Int?) {
        self.count = count
        self.p50Us = p50Us
        self.p95Us = p95Us
        self.p99Us = p99Us
    }

    /// Summarises `samples` (in any order) with nearest-rank percentiles.
    public init(samples: [Int]) {
        var sorted = samples
        sorted.sort()
        self.init(
            count: sorted.count,
            p50Us: Percentile.nearestRank(50, sorted: sorted),
            p95Us: Percentile.nearestRank(95, sorted: sorted),
            p99Us: Percentile.nearestRank(99, sorted: sorted)
        )
    }

    enum CodingKeys: String, CodingKey {
        case count, p50Us = "p50_us", p95Us = "p95_us", p99Us = "p99_us"
    }

    /// Encodes every key, `null` for missing percentiles, so the JSON shape never changes.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        try c.encode(p50Us, forKey: .p50Us)
        try c.encode(p95Us, forKey: .p95Us)
        try c.encode(p99Us, forKey: .p99Us)
    }
}

/// Nearest-rank percentiles on sorted integer samples.
public enum Percentile {
    /// The `p`-th percentile (0 < p ≤ 100) of ascending `sorted`: the sample at rank `ceil(p·n/100)`.
    public static func nearestRank(_ p: Int, sorted: [Int]) -> Int? {
        guard !sorted.isEmpty else { return nil }
        let rank = (p * sorted.count + 99) / 100
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Latency of one track, as ranked in ``DeliveryReport/slowestTracks``.
public struct TrackLatency: Sendable, Codable, Equatable {
    /// Track id.
    public var track: String
    /// Records in the window naming this track (refused and failed ones included).
    public var requests: Int
    /// Playback-start latency of the track's served responses.
    public var playbackStart: LatencySummary
    /// Time to first byte of the track's served responses.
    public var ttfb: LatencySummary

    enum CodingKeys: String, CodingKey {
        case track, requests, playbackStart = "playback_start", ttfb
    }
}

/// A summary of a delivery log (see the contract's "Delivery log" section).
///
/// Definitions:
/// - A *record* is a non-blank line that parses as a JSON object with a valid RFC 3339 `ts`,
///   an integer `status` and a `cache` that is a string or `null`; anything else counts in
///   ``skippedLines``. A record with `cache: null` is a response that is not audio delivery
///   (health, metrics, admin, events, preflights): it counts in ``requests``, ``bytesSent``,
///   ``statusCounts``, ``refusals`` and ``aborted`` only, never in a cache, latency or track figure.
/// - *Served* responses are audio records whose `cache` is neither `DENIED` nor `ERROR`. All latency
///   statistics (TTFB, playback start, slowest tracks) cover served responses only, so fast
///   refusals and error pages do not flatter the numbers.
/// - ``hitRatio`` is `(HIT + COALESCED) / served responses with bytes_sent > 0`, i.e. the share of
///   responses that delivered audio bytes without waiting for the source or the encoder.
///   HEADs, 304s and refusals send no audio bytes and are not in the denominator.
/// - A *slow playback start* has `playback_start_us` strictly over 200 000 µs.
/// - Every ratio is `nil` (JSON `null`) when its denominator is 0.
public struct DeliveryReport: Sendable, Codable, Equatable {
    /// Playback starts above this many microseconds count as slow.
    public static let slowPlaybackThresholdUs = 200_000
    /// How many tracks ``slowestTracks`` lists at most.
    public static let slowestTrackLimit = 10

    /// Non-blank lines examined: `requests + skippedLines + outsideWindow`.
    public var linesRead: Int
    /// Lines that were not a valid record (not JSON, truncated, missing fields, overlong).
    public var skippedLines: Int
    /// Valid records older than the `--since` window.
    public var outsideWindow: Int
    /// The window length in seconds, when one was given.
    public var sinceSeconds: Double?
    /// Start of the window (RFC 3339, ms), when one was given.
    public var windowStart: String?
    /// Earliest `ts` among the counted records.
    public var firstTimestamp: String?
    /// Latest `ts` among the counted records.
    public var lastTimestamp: String?
    /// Records counted (in the window).
    public var requests: Int
    /// Sum of `bytes_sent`.
    public var bytesSent: Int
    /// Served responses with `bytes_sent > 0` whose `cache` is HIT or COALESCED.
    public var hitResponses: Int
    /// Served responses with `bytes_sent > 0` (the hit-ratio denominator).
    public var audioResponses: Int
    /// `hitResponses / audioResponses`.
    public var hitRatio: Double?
    /// TTFB over all served responses with a `ttfb_us`.
    public var ttfb: LatencySummary
    /// TTFB by `cache` value.
    public var ttfbByCache: [String: LatencySummary]
    /// TTFB by bitrate (keys are the kbps as decimal strings).
    public var ttfbByKbps: [String: LatencySummary]
    /// Playback start over all served responses with a `playback_start_us`.
    public var playbackStart: LatencySummary
    /// Playback start by `cache` value.
    public var playbackStartByCache: [String: LatencySummary]
    /// Playback start by bitrate.
    public var playbackStartByKbps: [String: LatencySummary]
    /// Playback starts over ``slowPlaybackThresholdUs``.
    public var slowPlaybackStarts: Int
    /// `slowPlaybackStarts / playbackStart.count`.
    public var slowPlaybackShare: Double?
    /// Up to 10 tracks, slowest first: by p95 playback start, or by p95 TTFB for a track without
    /// playback starts; ties by more requests, then by track id.
    public var slowestTracks: [TrackLatency]
    /// Records with `auth != "ok"`, by refusal reason.
    public var refusals: [String: Int]
    /// Records by HTTP status (keys are decimal strings).
    public var statusCounts: [String: Int]
    /// Audio records by `cache` value (`null` ones are not counted).
    public var cacheCounts: [String: Int]
    /// Records with `aborted: true`.
    public var aborted: Int

    enum CodingKeys: String, CodingKey {
        case linesRead = "lines_read", skippedLines = "skipped_lines", outsideWindow = "outside_window"
        case sinceSeconds = "since_seconds", windowStart = "window_start"
        case firstTimestamp = "first_ts", lastTimestamp = "last_ts"
        case requests, bytesSent = "bytes_sent"
        case hitResponses = "hit_responses", audioResponses = "audio_responses", hitRatio = "hit_ratio"
        case ttfb, ttfbByCache = "ttfb_by_cache", ttfbByKbps = "ttfb_by_kbps"
        case playbackStart = "playback_start", playbackStartByCache = "playback_start_by_cache"
        case playbackStartByKbps = "playback_start_by_kbps"
        case slowPlaybackStarts = "slow_playback_starts", slowPlaybackShare = "slow_playback_share"
        case slowestTracks = "slowest_tracks", refusals, statusCounts = "status_counts"
        case cacheCounts = "cache_counts", aborted
    }

    /// Encodes every key, `null` for absent values, so the JSON shape never changes.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(linesRead, forKey: .linesRead)
        try c.encode(skippedLines, forKey: .skippedLines)
        try c.encode(outsideWindow, forKey: .outsideWindow)
        try c.encode(sinceSeconds, forKey: .sinceSeconds)
        try c.encode(windowStart, forKey: .windowStart)
        try c.encode(firstTimestamp, forKey: .firstTimestamp)
        try c.encode(lastTimestamp, forKey: .lastTimestamp)
        try c.encode(requests, forKey: .requests)
        try c.encode(bytesSent, forKey: .bytesSent)
        try c.encode(hitResponses, forKey: .hitResponses)
        try c.encode(audioResponses, forKey: .audioResponses)
        try c.encode(hitRatio, forKey: .hitRatio)
        try c.encode(ttfb, forKey: .ttfb)
        try c.encode(ttfbByCache, forKey: .ttfbByCache)
        try c.encode(ttfbByKbps, forKey: .ttfbByKbps)
        try c.encode(playbackStart, forKey: .playbackStart)
        try c.encode(playbackStartByCache, forKey: .playbackStartByCache)
        try c.encode(playbackStartByKbps, forKey: .playbackStartByKbps)
        try c.encode(slowPlaybackStarts, forKey: .slowPlaybackStarts)
        try c.encode(slowPlaybackShare, forKey: .slowPlaybackShare)
        try c.encode(slowestTracks, forKey: .slowestTracks)
        try c.encode(refusals, forKey: .refusals)
        try c.encode(statusCounts, forKey: .statusCounts)
        try c.encode(cacheCounts, forKey: .cacheCounts)
        try c.encode(aborted, forKey: .aborted)
    }
}
