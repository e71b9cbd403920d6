import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// `/admin/`: bearer-token protected operations. Without a configured token it does not exist
/// (404); a missing or wrong token is 401. The scheme name `Bearer` is case-insensitive; tokens
/// are compared in constant time.
struct AdminResponder: Sendable {
    let token: [UInt8]?
    let directory: RenditionDirectory
    let jobs: PrewarmJobs
    let stats: @Sendable () -> AdminStats
    /// `/admin/streams`, `/admin/live`, `/admin/tracks`.
    let player: PlayerAdmin?

    init(
        token: String?, directory: RenditionDirectory, jobs: PrewarmJobs, player: PlayerAdmin? = nil,
        stats: @escaping @Sendable () -> AdminStats
    ) {
        self.token = token.map { Array($0.utf8) }
        self.directory = directory
        self.jobs = jobs
        self.player = player
        self.stats = stats
    }

    func respond(_ request: Request, path: Substring) async -> PreparedResponse {
        let method = request.head.method
        let isHead = method == .head
        guard let token else { return .error(.notFound, isHead: isHead) }
        guard let auth = request.head.headerFields[.authorization], let presented = Self.bearerToken(auth),
              Self.constantTimeEquals(presented, token)
        else { return .error(.unauthorized, isHead: isHead) }

        if let player, let response = await player.respond(request, path: path) { return response }
        if path == "/admin/stats" {
            guard method == .get || isHead else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
            return .text(.ok, stats().json, contentType: "application/json", isHead: isHead)
        }
        if path.hasPrefix("/admin/cache/") {
            guard method == .delete else { return .error(.methodNotAllowed(allow: "DELETE"), isHead: isHead) }
            return await purge(String(path.dropFirst("/admin/cache/".count)))
        }
        if path == "/admin/prewarm" {
            guard method == .post else { return .error(.methodNotAllowed(allow: "POST"), isHead: isHead) }
            return await startPrewarm(request)
        }
        if path.hasPrefix("/admin/prewarm/") {
            guard method == .get || isHead else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
            let id = path.dropFirst("/admin/prewarm/".count)
            let seconds = Self.waitSeconds(request.head.path ?? "")
            let found = seconds > 0 ? await jobs.status(id, waitingUpTo: .seconds(seconds)) : jobs.status(id)
            guard let job = found else { return .error(.notFound, isHead: isHead) }
            return .text(.ok, job.json, contentType: "application/json", isHead: isHead)
        }
        return .error(.notFound, isHead: isHead)
    }

    /// The `wait` query parameter of a job status request: seconds to hold the answer until the
    /// job finishes (0 when absent or not a number; at most 60).
    static func waitSeconds(_ target: String) -> Int {
        guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return 0 }
        for pair in query.split(separator: "&") where pair.hasPrefix("wait=") {
            return min(60, max(0, Int(pair.dropFirst(5)) ?? 0))
        }
        return 0
    }

    /// `DELETE /admin/cache/{trackId}` (every rendition) or `{trackId}_{kbps}kbps` (one).
    private func purge(_ name: String) async -> PreparedResponse {
        let renditions: [String]
        if case .success(let track) = TrackPath.parse(Substring("/tracks/\(name).ogg")) {
            renditions = [track.renditionKey]
        } else if TrackPath.isValidTrackId(Substring(name)) {
            renditions = TrackPath.supportedBitrates.map { "\(name)_\($0)kbps" }
        } else {
            return .error(.invalidTrackId, isHead: false)
        }
        let removed = await directory.purge(renditions)
        return .text(.ok, "{\"purged\":\(removed)}\n", contentType: "application/json", isHead: false)
    }

    /// `POST /admin/prewarm` with `{"tracks": [...], "kbps": [...], "heads": false}` → 202 and a job.
    /// `tracks` is a non-empty list of track ids; `kbps` (default: every bitrate) a non-empty list
    /// of 96, 160, 320; `heads` (default false) a boolean. Anything else is `400` with the reason,
    /// never silently widened to a default.
    private func startPrewarm(_ request: Request) async -> PreparedResponse {
        var request = request
        guard let body = try? await request.collectBody(upTo: 1 << 20),
              let warm = try? JSONDecoder().decode(PrewarmRequest.self, from: Data(body.readableBytesView))
        else { return .error(.badRequest("invalid_json"), isHead: false) }
        let trackIds: [String]
        switch warm.tracks {
        case .absent, .value([]): return .error(.badRequest("tracks_required"), isHead: false)
        case .invalid: return .error(.badRequest("invalid_tracks"), isHead: false)
        case .value(let ids):
            guard ids.count <= 10_000 else { return .error(.badRequest("invalid_tracks"), isHead: false) }
            trackIds = ids
        }
        guard let requested = warm.kbps.value(or: TrackPath.supportedBitrates), !requested.isEmpty else {
            return .error(.badRequest("invalid_kbps"), isHead: false)
        }
        guard requested.allSatisfy({ TrackPath.supportedBitrates.contains($0) }) else {
            return .error(.unsupportedBitrate, isHead: false)
        }
        var rates: [Int] = []
        for kbps in requested where !rates.contains(kbps) { rates.append(kbps) }
        guard let headsOnly = warm.heads.value(or: false) else { return .error(.badRequest("invalid_heads"), isHead: false) }
        var tracks: [TrackPath] = []
        for id in trackIds {
            guard TrackPath.isValidTrackId(Substring(id)) else { return .error(.invalidTrackId, isHead: false) }
            for kbps in rates {
                if case .success(let t) = TrackPath.parse(Substring("/tracks/\(id)_\(kbps)kbps.ogg")) { tracks.append(t) }
            }
        }
        let job = jobs.start(tracks, headsOnly: headsOnly)
        var response = PreparedResponse.text(
            .accepted, "{\"job\":\"\(job)\",\"status\":\"/admin/prewarm/\(job)\"}\n", contentType: "application/json", isHead: false
        )
        response.headers[.location] = "/admin/prewarm/\(job)"
        return response
    }

    /// The token of an `Authorization: Bearer <token>` value; the scheme name is case-insensitive
    /// (RFC 9110 §11.1), so `bearer x` and `BEARER x` carry the token `x`. Nil for another scheme.
    static func bearerToken(_ value: String) -> [UInt8]? {
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
              zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 })
        else { return nil }
        return Array(bytes[(scheme.count + 1)...].drop { $0 == UInt8(ascii: " ") })
    }

    /// Compares two byte strings in time independent of where they differ.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // Hash both so the comparison runs over equal lengths whatever the input.
        let ha = Array(SHA256.hash(data: a))
        let hb = Array(SHA256.hash(data: b))
        var diff: UInt8 = 0
        for i in 0..<ha.count { diff |= ha[i] ^ hb[i] }
        return diff == 0
    }
}

/// The body of `POST /admin/prewarm`, each field read on its own (see ``BodyField``).
struct PrewarmRequest: Decodable {
    var tracks: BodyField<[String]>
    var kbps: BodyField<[Int]>
    var heads: BodyField<Bool>

    enum CodingKeys: String, CodingKey { case tracks, kbps, heads }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tracks = c.field(.tracks)
        kbps = c.field(.kbps)
        heads = c.field(.heads)
    }
}

/// The `/admin/stats` document.
struct AdminStats: Sendable {
    var cache = CacheStats()
    var hits: Int64 = 0
    var misses: Int64 = 0
    var coalesced: Int64 = 0
    var transcodes: Int64 = 0
    var encodesStarted: UInt64 = 0
    var encodesFailed: UInt64 = 0
    var encodesAbandoned: UInt64 = 0
    var deliveryLogDropped: UInt64 = 0

    var json: String {
        "{\"cache_bytes\":\(cache.bytes),\"cache_file_bytes\":\(cache.fileBytes),\"renditions\":\(cache.renditions),"
            + "\"entries\":\(cache.chunks),\"chunks\":\(cache.chunks),\"hits\":\(hits),\"misses\":\(misses),"
            + "\"coalesced\":\(coalesced),\"evictions\":\(cache.evictions),\"checksum_failures\":\(cache.checksumFailures),"
            + "\"dropped_writes\":\(cache.droppedWrites),\"transcodes\":\(transcodes),"
            + "\"encodes_started\":\(encodesStarted),\"encodes_failed\":\(encodesFailed),\"encodes_abandoned\":\(encodesAbandoned),\"delivery_log_dropped\":\(deliveryLogDropped)}\n"
    }
}
