import OggEdgeCore

/// Every failure an audio or admin request can end in, with the HTTP answer it turns into.
///
/// Errors are rendered in one place, ``OriginResponder``, as `{"error":"<reason>"}` (no body for
/// `HEAD`). The reason strings are part of the public contract for refusals (`403`).
public struct OriginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status code.
    public let status: Int
    /// Short machine-readable reason, the JSON body's `error` value.
    public let reason: String
    /// Extra response headers (for example `Allow` on 405).
    public let headers: [(String, String)]

    /// Creates an error.
    public init(status: Int, reason: String, headers: [(String, String)] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public var description: String { "\(status) \(reason)" }

    public static func == (lhs: OriginError, rhs: OriginError) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason
    }

    /// A signature refusal: `403` with the contract's reason.
    public static func refused(_ refusal: AuthRefusal) -> OriginError {
        OriginError(status: 403, reason: refusal.rawValue)
    }

    /// The track id or file name breaks the contract's pattern.
    public static let invalidTrackId = OriginError(status: 400, reason: "invalid_track_id")
    /// The bitrate is not one of 96, 160, 320.
    public static let unsupportedBitrate = OriginError(status: 400, reason: "unsupported_bitrate")
    /// No route or no rendition.
    public static let notFound = OriginError(status: 404, reason: "not_found")
    /// The request target is longer than the configured limit.
    public static let uriTooLong = OriginError(status: 414, reason: "uri_too_long")
    /// The admin token is missing or wrong.
    public static let unauthorized = OriginError(
        status: 401, reason: "unauthorized", headers: [("WWW-Authenticate", "Bearer")]
    )
    /// The source exists but cannot be read as a valid rendition.
    public static let unreadableSource = OriginError(status: 502, reason: "unreadable_source")
    /// A request body was not acceptable.
    public static func badRequest(_ reason: String) -> OriginError { OriginError(status: 400, reason: reason) }

    /// `/stream`: no `session` cookie.
    public static let notAuthenticated = OriginError(status: 401, reason: "not_authenticated")
    /// `/stream`: the session is unknown to Redis (never made, or expired).
    public static let sessionExpired = OriginError(status: 401, reason: "session_expired")
    /// `/stream`: the `session` cookie is too long or has bytes a cookie cannot carry.
    public static let invalidSessionCookie = OriginError(status: 400, reason: "invalid_session_cookie")
    /// `/stream`, `/admin/streams`, demo login: Redis is unreachable or refused the command.
    public static let redisUnavailable = OriginError(status: 503, reason: "redis_unavailable", headers: [("Retry-After", "1")])
    /// A request from another origin that `stream-cors-origins` does not list.
    public static let originNotAllowed = OriginError(status: 403, reason: "origin_not_allowed")

    /// The method is not allowed on this resource.
    public static func methodNotAllowed(allow: String) -> OriginError {
        OriginError(status: 405, reason: "method_not_allowed", headers: [("Allow", allow)])
    }
}
