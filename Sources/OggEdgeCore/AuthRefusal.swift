/// Why a signed audio URL was refused. Every case answers `403` with body
/// `{"error":"<rawValue>"}` (no body for HEAD); the raw value is also the delivery log's `auth`.
///
/// Cases are listed in the order ``URLVerifier`` checks them: the first failing check wins.
public enum AuthRefusal: String, Error, Sendable, CaseIterable {
    /// No query string, or no `sig` parameter.
    case missingSignature = "missing_signature"
    /// The query cannot be read: `sig` not last, a parameter repeated, `exp` or `kid` missing,
    /// a non-integer `exp`/`st`/`maxkbps`, an `acl` that is not one of its three forms
    /// (`/tracks/`, `/tracks/{trackId}_`, one whole rendition path), bad percent-encoding, or a
    /// `sig` that is not base64url (no padding) of 32 bytes.
    case malformed
    /// `kid` names no key of the ring.
    case unknownKey = "unknown_key"
    /// The HMAC does not match.
    case badSignature = "bad_signature"
    /// `now > exp + leeway`.
    case expired
    /// `now + leeway < st`.
    case notYetValid = "not_yet_valid"
    /// `ip` is present and differs from the client address.
    case ipMismatch = "ip_mismatch"
    /// `acl` is present and does not cover the request path.
    case outsideAcl = "outside_acl"
    /// `maxkbps` is present and the requested bitrate exceeds it.
    case bitrateNotAllowed = "bitrate_not_allowed"

    /// The HTTP status for every refusal: 403.
    public var httpStatus: Int { 403 }

    /// The JSON response body, `{"error":"<reason>"}` (reasons need no escaping).
    public var jsonBody: String { "{\"error\":\"\(rawValue)\"}" }
}

/// What a verified URL grants: who signed it, for whom, until when, and its limits.
public struct Grant: Sendable, Equatable {
    /// The id of the key that verified the signature.
    public let kid: String
    /// The percent-decoded `uid` (subject, for the delivery log), if any.
    public let uid: String?
    /// The `exp` parameter, Unix seconds.
    public let expires: Int64
    /// The `maxkbps` parameter, if any.
    public let maxKbps: Int?
    /// The percent-decoded `acl` path prefix, if the token is a prefix (multi-file) token.
    public let acl: String?
    /// The `st` parameter (not valid before), Unix seconds, if any.
    public let notBefore: Int64?
    /// The `ip` parameter, percent-decoded, if the token is bound to a client address.
    public let ip: String?

    /// Makes a grant from its parts.
    public init(kid: String, uid: String?, expires: Int64, maxKbps: Int?, acl: String?, notBefore: Int64? = nil, ip: String? = nil) {
        self.kid = kid
        self.uid = uid
        self.expires = expires
        self.maxKbps = maxKbps
        self.acl = acl
        self.notBefore = notBefore
        self.ip = ip
    }
}
