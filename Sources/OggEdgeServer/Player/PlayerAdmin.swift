import Foundation
import Hummingbird
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis

/// The admin endpoints of the player side and the ops page, behind the same Bearer token as every
/// `/admin/` endpoint (checked by ``AdminResponder`` before it hands a request here):
/// `GET /admin/streams[?track=ID]`, `GET /admin/live`, `GET /admin/tracks`.
struct PlayerAdmin: Sendable {
    /// Redis, when configured (stream counts live there).
    let redis: RedisPool?
    let catalogue: TrackCatalogue
    /// Cache bytes and its bound, transcodes running and queued.
    let gauges: @Sendable () -> LiveGauges

    /// The answer for `path`, or nil when the path is not one of ours.
    func respond(_ request: Request, path: Substring) async -> PreparedResponse? {
        let method = request.head.method
        let isHead = method == .head
        guard ["/admin/streams", "/admin/live", "/admin/tracks"].contains(path) else { return nil }
        guard method == .get || isHead else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
        switch path {
        case "/admin/streams": return await streams(query: Self.query(request.head.path ?? ""), isHead: isHead)
        case "/admin/live": return .text(.ok, live(), contentType: "application/json", isHead: isHead)
        default: return .text(.ok, catalogue.json(), contentType: "application/json", isHead: isHead)
        }
    }

    static func query(_ target: String) -> [(String, String)] {
        guard let q = target.firstIndex(of: "?") else { return [] }
        return target[target.index(after: q)...].split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? "" : "")
        }
    }

    /// `{"ID": count, ...}`: every counted track, or only `?track=ID` (0 when never counted).
    private func streams(query: [(String, String)], isHead: Bool) async -> PreparedResponse {
        guard let redis else { return .error(.notFound, isHead: isHead) }
        let track = query.first { $0.0 == "track" }?.1
        if let track, !TrackPath.isValidTrackId(Substring(track)) { return .error(.invalidTrackId, isHead: isHead) }
        var counts: [(String, String)] = []
        do {
            if let track {
                let reply = try await redis.command(["HGET", StreamCounter.hashKey, track])
                counts = [(track, reply.text ?? "0")]
            } else if case .array(let flat) = try await redis.command(["HGETALL", StreamCounter.hashKey]) {
                for i in stride(from: 0, to: flat.count - 1, by: 2) {
                    if let k = flat[i].text, let v = flat[i + 1].text { counts.append((k, v)) }
                }
            }
        } catch { return .error(.redisUnavailable, isHead: isHead) }
        let body = "{" + counts.sorted { $0.0 < $1.0 }.map { JSONString.quoted($0.0) + ":" + (Int64($0.1).map(String.init) ?? "0") }
            .joined(separator: ",") + "}\n"
        return .text(.ok, body, contentType: "application/json", isHead: isHead)
    }

    /// What the ops page draws (see docs/API.md, `GET /admin/live`).
    private func live() -> String {
        let nowMs = WallClock.millis()
        let snap = LiveStats.shared.snapshot(nowSeconds: nowMs / 1000)
        let g = gauges()
        func percentiles(_ counts: [UInt32]?) -> String {
            guard let counts else { return "null" }
            let values = [0.5, 0.95, 0.99].map { LiveStats.quantile(counts, $0).map { String(format3($0)) } ?? "null" }
            return "{\"p50\":\(values[0]),\"p95\":\(values[1]),\"p99\":\(values[2])}"
        }
        var latency: [String] = []
        var all: (ttfb: [UInt32]?, start: [UInt32]?) = (nil, nil)
        for result in CacheResult.allCases {
            let count = snap.windowResponses[result] ?? 0
            guard count > 0 else { continue }
            all.ttfb = Self.add(all.ttfb, snap.ttfb[result])
            all.start = Self.add(all.start, snap.playbackStart[result])
            latency.append(JSONString.quoted(result.rawValue) + ":{\"responses\":\(count),\"ttfb_ms\":" + percentiles(snap.ttfb[result])
                + ",\"playback_start_ms\":" + percentiles(snap.playbackStart[result]) + "}")
        }
        let served = CacheResult.allCases.filter { $0 != .denied && $0 != .error }.reduce(0) { $0 + (snap.windowResponses[$1] ?? 0) }
        let hits = (snap.windowResponses[.hit] ?? 0) + (snap.windowResponses[.coalesced] ?? 0)
        let hitRatio = served > 0 ? format3(Double(hits) / Double(served)) : "null"
        func object<K: Hashable>(_ d: [K: Int64], key: (K) -> String) -> String {
            "{" + d.map { JSONString.quoted(key($0.key)) + ":\($0.value)" }.sorted().joined(separator: ",") + "}"
        }
        let top = snap.trackBytes.sorted { $0.value > $1.value }.prefix(10)
            .map { "{\"track\":" + JSONString.quoted($0.key) + ",\"bytes\":\($0.value)}" }.joined(separator: ",")
        return "{\"now_ms\":\(nowMs),\"window_seconds\":\(LiveStats.windowSeconds),"
            + "\"latency\":{" + latency.joined(separator: ",") + "},"
            + "\"all\":{\"ttfb_ms\":" + percentiles(all.ttfb) + ",\"playback_start_ms\":" + percentiles(all.start) + "},"
            + "\"hit_ratio\":\(hitRatio),"
            + "\"bytes_total\":\(snap.bytes.values.reduce(0, +)),"
            + "\"bytes_by_cache\":" + object(snap.bytes) { $0.rawValue } + ","
            + "\"responses_by_status\":" + object(snap.status) { String($0) } + ","
            + "\"refusals_by_reason\":" + object(snap.refusals) { $0 } + ","
            + "\"transcodes\":{\"running\":\(g.transcodesRunning),\"queued\":\(g.transcodesQueued)},"
            + "\"cache\":{\"bytes\":\(g.cacheBytes),\"max_bytes\":\(g.cacheMaxBytes)},"
            + "\"top_tracks\":[" + top + "]}\n"
    }

    private static func add(_ a: [UInt32]?, _ b: [UInt32]?) -> [UInt32]? {
        guard let b else { return a }
        guard var a else { return b }
        for i in 0..<a.count { a[i] += b[i] }
        return a
    }
}

/// Sampled figures for `/admin/live`.
struct LiveGauges: Sendable {
    var cacheBytes: Int64 = 0
    var cacheMaxBytes: Int64 = 0
    var transcodesRunning = 0
    var transcodesQueued = 0
}

/// `12.345`: three decimals, no exponent.
func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded()
    let whole = Int64(scaled / 1000)
    let frac = Int64(abs(scaled)) % 1000
    let fracText = String(frac)
    return "\(whole).\(String(repeating: "0", count: 3 - fracText.count))\(fracText)"
}
