import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis
import Synchronization

/// `POST /events/playback`: a player's report of its own playback start.
///
/// The body is JSON with `event_id` (1–128 bytes of `[A-Za-z0-9._:-]`, the idempotency key), `url` (the signed
/// audio URL the player used: path and query, or an absolute URL) and `tap_to_playing_ms`
/// (a number 0–600000, never a boolean); optional `stall_count` (integer) and `stall_ms` (number), `player` (≤ 64
/// characters). The `url` is verified exactly as that audio request would be, so only a holder
/// of a valid token can report. `202` the first time an `event_id` is seen, `200` for a repeat
/// (not recorded again), `400 {"error":...}` for a bad body, `403` with the refusal reason.
/// CORS: `Access-Control-Allow-Origin: *` on every answer, `OPTIONS` preflight → `204`.
///
/// Deduplication: Redis `SET oggedge:event:<id> 1 NX EX 86400` when Redis is configured (so
/// several nodes agree), else, and whenever Redis is unreachable, a bounded in-memory window of
/// the last 100,000 ids. Accepted events are written as JSON lines to the playback log (beside
/// the delivery log) and, with Redis, to the stream `<stream>:playback`.
struct PlaybackEvents: Sendable {
    let verifier: URLVerifier
    let log: DeliveryLog
    let window: EventWindow
    let redis: LazyRedis?

    /// Every answer of the endpoint carries `Access-Control-Allow-Origin: *`, so a player page on
    /// another origin can `fetch` it with a JSON body (after the preflight `OPTIONS` allows it).
    func respond(_ request: Request, clientIP: String, now: Int64) async -> PreparedResponse {
        var response = await answer(request, clientIP: clientIP, now: now)
        response.headers[.accessControlAllowOrigin] = "*"
        return response
    }

    /// `204` answer to a CORS preflight: allows a `POST` with a JSON `Content-Type`.
    static func preflight() -> PreparedResponse {
        var headers: HTTPFields = [:]
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type"
        headers[.accessControlMaxAge] = "86400"
        headers[.allow] = "POST, OPTIONS"
        return PreparedResponse(status: .noContent, headers: headers)
    }

    private func answer(_ request: Request, clientIP: String, now: Int64) async -> PreparedResponse {
        if request.head.method == .options { return Self.preflight() }
        guard request.head.method == .post else {
            return .error(.methodNotAllowed(allow: "POST, OPTIONS"), isHead: request.head.method == .head)
        }
        var request = request
        guard let body = try? await request.collectBody(upTo: 16 * 1024) else { return .error(.badRequest("body_too_large"), isHead: false) }
        guard let beacon = try? JSONDecoder().decode(PlaybackBeacon.self, from: Data(body.readableBytesView)) else {
            return .error(.badRequest("invalid_json"), isHead: false)
        }
        guard case .value(let eventId) = beacon.eventId, EventIdentifier.isValid(eventId) else {
            return .error(.badRequest("invalid_event_id"), isHead: false)
        }
        guard case .value(let url) = beacon.url, !url.isEmpty, url.utf8.count <= 8192 else {
            return .error(.badRequest("invalid_url"), isHead: false)
        }
        guard case .value(let tap) = beacon.tapToPlayingMs, tap.isFinite, tap >= 0, tap <= 600_000 else {
            return .error(.badRequest("invalid_tap_to_playing_ms"), isHead: false)
        }
        guard let stallCount = beacon.stallCount.value(or: 0), let stallMs = beacon.stallMs.value(or: 0),
              stallCount >= 0, stallMs >= 0, stallMs.isFinite
        else { return .error(.badRequest("invalid_stalls"), isHead: false) }
        var player: String?
        if case .value(let name) = beacon.player { player = String(name.prefix(64)) }

        // Verify the audio URL as that request would be verified.
        var target = Substring(url)
        if let scheme = target.range(of: "://") {
            let afterHost = target[scheme.upperBound...].firstIndex(of: "/") ?? target.endIndex
            target = target[afterHost...]
        }
        let path = target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
        guard case .success(let track) = TrackPath.parse(path) else { return .error(.badRequest("invalid_url"), isHead: false) }
        let grant: Grant
        switch verifier.verify(target: target, path: path, clientIP: Substring(clientIP), kbps: track.kbps, now: now) {
        case .failure(let refusal): return .error(.refused(refusal), isHead: false)
        case .success(let g): grant = g
        }

        guard await firstSighting(eventId) else {
            return .text(.ok, "{\"status\":\"duplicate\"}\n", contentType: "application/json", isHead: false)
        }
        var fields: [(String, String)] = [
            ("ts", RFC3339.formatMillis(now * 1000)), ("event_id", eventId), ("client_ip", clientIP), ("track", track.trackId),
            ("kbps", String(track.kbps)), ("uid", grant.uid ?? ""), ("tap_to_playing_ms", String(tap)),
            ("stall_count", String(stallCount)), ("stall_ms", String(stallMs)),
        ]
        if let player { fields.append(("player", player)) }
        var line: [UInt8] = Array("{".utf8)
        for (i, (name, value)) in fields.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            JSONString.append(name, to: &line)
            line.append(UInt8(ascii: ":"))
            if ["kbps", "tap_to_playing_ms", "stall_count", "stall_ms"].contains(name) {
                line.append(contentsOf: value.utf8)
            } else {
                JSONString.append(value, to: &line)
            }
        }
        line.append(contentsOf: Array("}\n".utf8))
        log.submit(line: line, fields: fields)
        OriginMetrics.shared.recordPlayerStart(milliseconds: tap)
        return .text(.accepted, "{\"status\":\"recorded\"}\n", contentType: "application/json", isHead: false)
    }

    /// True the first time `eventId` is seen (by any node sharing Redis, else by this process).
    private func firstSighting(_ eventId: String) async -> Bool {
        if let redis {
            let key = "oggedge:event:" + eventId
            let reply = try? await NIOThreadPool.singleton.runIfActive {
                try redis.command(["SET", key, "1", "NX", "EX", "86400"])
            }
            switch reply {
            case .status(let s)? where s == "OK":
                window.insert(eventId)
                return true
            case .null?:
                window.insert(eventId)
                return false
            default:
                break // Redis unreachable or odd answer: fall back to the local window.
            }
        }
        return window.insert(eventId)
    }
}

/// The JSON body of a playback beacon, each field read on its own so a bad one is named.
///
/// Decoded with `JSONDecoder`, where a JSON `true`/`false` never reads as a number
/// (`JSONSerialization` on Linux hands out booleans and the numbers 0 and 1 as the same
/// `NSNumber`, so `0` looked like `false`). Unknown fields are ignored.
struct PlaybackBeacon: Decodable {
    var eventId: BodyField<String>
    var url: BodyField<String>
    var tapToPlayingMs: BodyField<Double>
    var stallCount: BodyField<Int>
    var stallMs: BodyField<Double>
    var player: BodyField<String>

    enum CodingKeys: String, CodingKey {
        case eventId = "event_id", url, tapToPlayingMs = "tap_to_playing_ms", stallCount = "stall_count", stallMs = "stall_ms", player
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventId = c.field(.eventId)
        url = c.field(.url)
        tapToPlayingMs = c.field(.tapToPlayingMs)
        stallCount = c.field(.stallCount)
        stallMs = c.field(.stallMs)
        player = c.field(.player)
    }
}

/// One field of a JSON request body: absent (or `null`), present with the wrong type, or present.
enum BodyField<Value> {
    case absent, invalid, value(Value)

    /// The value, `fallback` when absent, nil when invalid.
    func value(or fallback: Value) -> Value? {
        switch self {
        case .absent: fallback
        case .invalid: nil
        case .value(let v): v
        }
    }
}

extension KeyedDecodingContainer {
    /// `key` read on its own: a wrong type is ``BodyField/invalid`` rather than an error for
    /// the whole body (`JSONDecoder` never reads a boolean as a number or a number as a boolean).
    func field<T: Decodable>(_ key: Key) -> BodyField<T> {
        guard contains(key), (try? decodeNil(forKey: key)) == false else { return .absent }
        return (try? decode(T.self, forKey: key)).map { .value($0) } ?? .invalid
    }
}

/// The last `capacity` event ids seen, for deduplication without Redis.
final class EventWindow: Sendable {
    private let state = Mutex<(set: Set<String>, order: [String], head: Int)>((Set(), [], 0))
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Inserts `id`; true if it was not already in the window.
    @discardableResult
    func insert(_ id: String) -> Bool {
        state.withLock { s in
            guard s.set.insert(id).inserted else { return false }
            if s.order.count < capacity {
                s.order.append(id)
            } else {
                s.set.remove(s.order[s.head])
                s.order[s.head] = id
                s.head = (s.head + 1) % capacity
            }
            return true
        }
    }
}

/// A reconnect was tried less than a second ago.
struct BackingOff: Error {}

/// A Redis connection made on first use and remade after a failure (at most once a second),
/// for blocking commands run on NIO's thread pool, never on an event loop.
final class LazyRedis: Sendable {
    let endpoint: RedisEndpoint
    private let state = Mutex<(connection: RedisConnection?, lastAttempt: UInt64)>((nil, 0))

    init(endpoint: RedisEndpoint) {
        self.endpoint = endpoint
    }

    func command(_ arguments: [String]) throws -> RedisReply {
        let connection = try state.withLock { s -> RedisConnection in
            if let c = s.connection { return c }
            let now = MonotonicClock.nanos()
            guard now &- s.lastAttempt > 1_000_000_000 else { throw BackingOff() }
            s.lastAttempt = now
            let c = try RedisConnection(endpoint: endpoint)
            s.connection = c
            return c
        }
        do {
            return try connection.command(arguments)
        } catch {
            state.withLock { $0.connection = nil }
            throw error
        }
    }
}
