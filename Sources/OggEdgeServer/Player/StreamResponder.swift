import Foundation
import HTTPTypes
import Hummingbird
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis

/// `GET /stream/{trackId}`: a signed URL for the session's user at the right quality.
///
/// The session is the Redis hash `session:<id>` (`userId`, `isPremium`) named by the `session`
/// cookie; each use renews its expiry to 14400 s. The quality follows ``StreamQuality``. The URL is
/// `/tracks/{trackId}_{quality}kbps.ogg` signed with the first key (`exp` now + 3600, `uid`,
/// `acl=/tracks/{trackId}_`, `maxkbps` = the cap). The answer is kept in Redis as
/// `stream:{userId}:{trackId}:{quality}` for 300 s and handed out again meanwhile.
struct StreamResponder: Sendable {
    let keys: KeyRing
    let redis: RedisPool
    let locator: OriginLocator
    /// With parents configured a track missing here may still come from a parent: never a 404.
    let hasUpstreams: Bool
    let publicBaseURL: String?
    let cors: CredentialedCORS

    static let sessionTTLSeconds = 14_400
    static let urlTTLSeconds: Int64 = 3600
    static let answerTTLSeconds = 300

    func respond(_ request: Request, path: Substring, now: Int64) async -> PreparedResponse {
        let origin = request.head.headerFields[.origin]
        guard cors.allows(origin) else { return .error(.originNotAllowed, isHead: false) }
        var response = await answer(request, path: path, now: now)
        cors.apply(origin: origin, to: &response.headers)
        return response
    }

    private func answer(_ request: Request, path: Substring, now: Int64) async -> PreparedResponse {
        let method = request.head.method
        if method == .options { return cors.preflight(methods: "GET, OPTIONS", headers: "X-Connection-Type") }
        guard method == .get else { return .error(.methodNotAllowed(allow: "GET, OPTIONS"), isHead: method == .head) }
        let trackId = path.dropFirst("/stream/".count)
        guard TrackPath.isValidTrackId(trackId) else { return .error(.invalidTrackId, isHead: false) }
        let sessionId: String
        switch SessionCookie.find(in: request.head.headerFields[values: .cookie]) {
        case .absent: return .error(.notAuthenticated, isHead: false)
        case .malformed: return .error(.invalidSessionCookie, isHead: false)
        case .id(let id): sessionId = id
        }
        let connectionType = request.head.headerFields[HTTPField.Name("X-Connection-Type")!]

        // The session, renewed in the same round trip (EXPIRE on a missing key does nothing).
        let sessionKey = "session:" + sessionId
        let replies: [RedisReply]
        do {
            replies = try await redis.pipeline([
                ["HMGET", sessionKey, "userId", "isPremium"], ["EXPIRE", sessionKey, String(Self.sessionTTLSeconds)],
            ])
        } catch { return .error(.redisUnavailable, isHead: false) }
        guard case .array(let fields) = replies[0], fields.count == 2, let userId = fields[0].text, !userId.isEmpty,
              userId.utf8.count <= 256
        else { return .error(.sessionExpired, isHead: false) }
        let premium = fields[1].text.map { ["true", "1"].contains($0.lowercased()) } ?? false
        let cap = StreamQuality.cap(isPremium: premium)
        let quality = StreamQuality.quality(cap: cap, connectionType: connectionType)
        var log = LogFacts()
        log.uid = userId
        log.track = String(trackId)
        log.kbps = quality

        guard let track = try? TrackPath(trackId: String(trackId), kbps: quality),
              hasUpstreams || locator.locate(track) != nil
        else { return .error(.notFound, isHead: false, log: log) }

        let answerKey = "stream:\(userId):\(trackId):\(quality)"
        do {
            if let cached = try await redis.command(["GET", answerKey]).text,
               let expiresAt = Self.expiresAt(inAnswer: cached), expiresAt > (now + 60) * 1000 {
                return Self.json(cached, log: log)
            }
        } catch { return .error(.redisUnavailable, isHead: false, log: log) }

        let expires = now + Self.urlTTLSeconds
        let signed = URLSigner.sign(
            path: track.path, key: keys.signingKey, expires: expires, uid: userId,
            acl: "/tracks/\(trackId)_", maxKbps: cap
        )
        let body = Self.answer(url: (publicBaseURL ?? "") + signed, quality: quality, expiresAtMillis: expires * 1000)
        do {
            _ = try await redis.command(["SET", answerKey, body, "EX", String(Self.answerTTLSeconds)])
        } catch { return .error(.redisUnavailable, isHead: false, log: log) }
        return Self.json(body, log: log)
    }

    private static func json(_ body: String, log: LogFacts) -> PreparedResponse {
        var response = PreparedResponse.text(.ok, body + "\n", contentType: "application/json", isHead: false)
        response.headers[.cacheControl] = "no-store, private"
        response.log = log
        return response
    }

    /// The JSON answer: `{"url":…,"quality":…,"expiresAt":…}` (milliseconds), also kept in Redis.
    static func answer(url: String, quality: Int, expiresAtMillis: Int64) -> String {
        "{\"url\":" + JSONString.quoted(url) + ",\"quality\":\(quality),\"expiresAt\":\(expiresAtMillis)}"
    }

    /// The `expiresAt` of a stored answer (written by us, so a plain scan is enough).
    static func expiresAt(inAnswer text: String) -> Int64? {
        guard let range = text.range(of: "\"expiresAt\":") else { return nil }
        return Int64(text[range.upperBound...].prefix { $0.isNumber })
    }
}

/// CORS for endpoints that need the player's cookie: the request's `Origin` is echoed (never `*`,
/// which browsers refuse with credentials) with `Access-Control-Allow-Credentials: true`, when the
/// origin is allowed (`stream-cors-origins`; empty = every origin).
struct CredentialedCORS: Sendable {
    let allowedOrigins: [String]

    func allows(_ origin: String?) -> Bool {
        guard let origin, !allowedOrigins.isEmpty else { return true }
        return allowedOrigins.contains(origin)
    }

    func apply(origin: String?, to headers: inout HTTPFields) {
        headers[.vary] = "Origin"
        guard let origin, allows(origin) else { return }
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowCredentials] = "true"
    }

    func preflight(methods: String, headers allowHeaders: String) -> PreparedResponse {
        var headers: HTTPFields = [:]
        headers[.accessControlAllowMethods] = methods
        headers[.accessControlAllowHeaders] = allowHeaders
        headers[.accessControlMaxAge] = "600"
        headers[.allow] = methods
        return PreparedResponse(status: .noContent, headers: headers)
    }
}
