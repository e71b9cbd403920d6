import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis
import Synchronization

/// `POST /events/playback`: a player's playback events.
///
/// The body is JSON with `event_id` (1–128 bytes of `[A-Za-z0-9._:-]`, the idempotency key), `url` (the signed
/// audio URL the player used: path and query, or an absolute URL), `event_type` (`start` when
/// absent, `progress`, `complete`, `skip`, `seek`), `play_id` and `position_ms` (required for all
/// but `start`), `tap_to_playing_ms` (a number 0–600000, never a boolean; required for `start`);
/// optional `stall_count` (integer) and `stall_ms` (number), `player` (≤ 64 characters). The `url`
/// is verified exactly as that audio request would be, so only a holder of a valid token can
/// report. `202` the first time an `event_id` is seen, `200` for a repeat (not recorded again),
/// `400 {"error":...}` for a bad body, `403` with the refusal reason.
/// CORS: `Access-Control-Allow-Origin: *` on every answer, `OPTIONS` preflight → `204`.
///
/// Deduplication: Redis `SET oggedge:event:<id> 1 NX EX 86400` when Redis is configured (so
/// several nodes agree), else, and whenever Redis is unreachable, a bounded in-memory window of
/// the last 100,000 ids. Accepted events are written as JSON lines to the playback log (beside
/// the delivery log) and, with Redis, to the stream `<stream>:playback`. A `progress` or
/// `complete` at 30 s or more counts the play once (``StreamCounter``).
struct PlaybackEvents: Sendable {
    let verifier: URLVerifier
    let log: DeliveryLog
    let window: EventWindow
    let redis: LazyRedis?
    /// Counts 30-second streams (with Redis only).
    let counter: StreamCounter?

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
        let checked: CheckedBeacon
        switch CheckedBeacon.check(Data(body.readableBytesView)) {
        case .failure(let rejection): return .error(.badRequest(rejection.reason), isHead: false)
        case .success(let c): checked = c
        }
        let (eventId, eventType, playId, position) = (checked.eventId, checked.eventType, checked.playId, checked.position)
        let (tapToPlaying, stallCount, stallMs, player) = (checked.tapToPlaying, checked.stallCount, checked.stallMs, checked.player)
        let (target, path, track) = (checked.target, checked.path, checked.track)
        // Verify the audio URL as that request would be verified.
        let grant: Grant
        switch verifier.verify(target: target, path: path, clientIP: Substring(clientIP), kbps: track.kbps, now: now) {
        case .failure(let refusal): return .error(.refused(refusal), isHead: false)
        case .success(let g): grant = g
        }

        // Counting is idempotent per play, so a repeated event may run it again safely: a retry
        // whose first attempt was cut off before the count still counts.
        var counted: StreamCounter.Outcome?
        if eventType.countsStream(at: position), let playId, let counter {
            counted = await counter.count(playId: playId, trackId: track.trackId)
        }
        guard await firstSighting(eventId) else {
            return .text(.ok, "{\"status\":\"duplicate\"}\n", contentType: "application/json", isHead: false)
        }
        var fields: [(String, String)] = [
            ("ts", RFC3339.formatMillis(now * 1000)), ("event_id", eventId), ("event_type", eventType.rawValue),
            ("client_ip", clientIP), ("track", track.trackId), ("kbps", String(track.kbps)), ("uid", grant.uid ?? ""),
        ]
        if let playId { fields.append(("play_id", playId)) }
        if let position { fields.append(("position_ms", String(position))) }
        if let tapToPlaying { fields.append(("tap_to_playing_ms", String(tapToPlaying))) }
        fields += [("stall_count", String(stallCount)), ("stall_ms", String(stallMs))]
        if let player { fields.append(("player", player)) }
        if let counted { fields.append(("stream_counted", counted == .alreadyCounted ? "false" : "true")) }
        var line: [UInt8] = Array("{".utf8)
        for (i, (name, value)) in fields.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            JSONString.append(name, to: &line)
            line.append(UInt8(ascii: ":"))
            if ["kbps", "tap_to_playing_ms", "stall_count", "stall_ms", "position_ms", "stream_counted"].contains(name) {
                line.append(contentsOf: value.utf8)
            } else {
                JSONString.append(value, to: &line)
            }
        }
        line.append(contentsOf: Array("}\n".utf8))
        log.submit(line: line, fields: fields)
        if let tapToPlaying { OriginMetrics.shared.recordPlayerStart(milliseconds: tapToPlaying) }
        let countedText = counted.map { ",\"stream_counted\":\($0 != .alreadyCounted)" } ?? ""
        return .text(.accepted, "{\"status\":\"recorded\"\(countedText)}\n", contentType: "application/json", isHead: false)
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

