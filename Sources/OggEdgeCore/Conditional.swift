/// The validators of a selected representation.
public struct Validators: Sendable, Equatable {
    /// The representation's strong entity tag (sent as `ETag`).
    public let etag: EntityTag
    /// The representation's modification time in Unix seconds (sent as `Last-Modified`).
    public let lastModified: Int64

    /// Creates validators from a strong `etag` and a modification time in Unix seconds.
    public init(etag: EntityTag, lastModified: Int64) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// The outcome of evaluating a request's preconditions.
public enum Precondition: Equatable, Sendable {
    /// All preconditions hold (or none was sent): go on with the request (200/206/416).
    case proceed
    /// `304 Not Modified` (a `GET`/`HEAD` whose cached copy is current).
    case notModified
    /// `412 Precondition Failed`.
    case preconditionFailed
}

/// Raw values of the conditional request header fields. `nil` means the field is absent; a value
/// that is empty or only whitespace is treated as absent too (as Go's `net/http` does).
public struct ConditionalHeaders: Sendable {
    /// `If-Match`.
    public var ifMatch: Substring?
    /// `If-None-Match`.
    public var ifNoneMatch: Substring?
    /// `If-Modified-Since`.
    public var ifModifiedSince: Substring?
    /// `If-Unmodified-Since`.
    public var ifUnmodifiedSince: Substring?
    /// `If-Range`.
    public var ifRange: Substring?

    /// Creates a set of conditional header values; omitted ones are absent.
    public init(
        ifMatch: Substring? = nil,
        ifNoneMatch: Substring? = nil,
        ifModifiedSince: Substring? = nil,
        ifUnmodifiedSince: Substring? = nil,
        ifRange: Substring? = nil
    ) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
        self.ifRange = ifRange
    }
}

/// Conditional requests (RFC 9110 §13) against a representation that exists and has a strong
/// ETag and a Last-Modified time.
public enum Conditional {
    /// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
    /// order of RFC 9110 §13.2.2. (`If-Range` is separate: see ``ifRangeAllowsPartial(_:validators:)``.)
    ///
    /// 1. `If-Match` (strong comparison; `*` always matches): false → `412`. A malformed value
    ///    is false, since the client's precondition cannot be shown to hold.
    /// 2. Only without `If-Match`: `If-Unmodified-Since`: modified after the date → `412`.
    /// 3. `If-None-Match` (weak comparison; `*` always matches): a match → `304` for `GET`/`HEAD`,
    ///    `412` otherwise. A malformed value matches nothing.
    /// 4. Only for `GET`/`HEAD` and without `If-None-Match`: `If-Modified-Since`: not modified
    ///    after the date → `304`.
    ///
    /// Unparseable dates are ignored (RFC 9110 §13.1.3, §13.1.4).
    /// - Parameter isGetOrHead: true for `GET` and `HEAD` (selects `304` over `412`).
    public static func evaluate(_ headers: ConditionalHeaders, validators: Validators, isGetOrHead: Bool) -> Precondition {
        if let ifMatch = present(headers.ifMatch) {
            guard matchesIfMatch(ifMatch, etag: validators.etag) else { return .preconditionFailed }
        } else if let value = present(headers.ifUnmodifiedSince), let date = HTTPDate.parse(value) {
            guard validators.lastModified <= date else { return .preconditionFailed }
        }
        if let ifNoneMatch = present(headers.ifNoneMatch) {
            if matchesIfNoneMatch(ifNoneMatch, etag: validators.etag) {
                return isGetOrHead ? .notModified : .preconditionFailed
            }
        } else if isGetOrHead, let value = present(headers.ifModifiedSince), let date = HTTPDate.parse(value) {
            if validators.lastModified <= date { return .notModified }
        }
        return .proceed
    }

    /// Evaluates the preconditions for a representation that has no validator yet (a rendition
    /// still being produced): `If-Match` other than `*` fails (`412`, no current tag can match),
    /// `If-None-Match: *` matches (`304` for `GET`/`HEAD`), any other `If-None-Match` list does
    /// not; the date conditions are ignored, since there is no `Last-Modified` to compare.
    public static func evaluateWithoutValidators(_ headers: ConditionalHeaders, isGetOrHead: Bool) -> Precondition {
        if let ifMatch = present(headers.ifMatch), trimmed(ifMatch) != "*" { return .preconditionFailed }
        if let ifNoneMatch = present(headers.ifNoneMatch), trimmed(ifNoneMatch) == "*" {
            return isGetOrHead ? .notModified : .preconditionFailed
        }
        return .proceed
    }

    /// Whether a `Range` header may be honoured given `If-Range` (RFC 9110 §13.1.5).
    ///
    /// - Absent `If-Range` → `true`.
    /// - Entity-tag form: `true` only for a strong tag strongly equal to the current ETag (a weak
    ///   tag never matches).
    /// - HTTP-date form: `true` only when the date equals `lastModified` exactly.
    /// - Anything else, including an empty value, → `false` (serve the whole representation,
    ///   which is always a correct answer).
    public static func ifRangeAllowsPartial(_ ifRange: Substring?, validators: Validators) -> Bool {
        guard let ifRange else { return true }
        let value = trimmed(ifRange)
        if value.hasPrefix("\"") || value.hasPrefix("W/") {
            guard let tag = EntityTag.parse(value) else { return false }
            return tag.strongMatches(validators.etag)
        }
        guard let date = HTTPDate.parse(value) else { return false }
        return date == validators.lastModified
    }

    /// `If-Match`: `*`, or a list containing a tag strongly equal to `etag`.
    private static func matchesIfMatch(_ value: Substring, etag: EntityTag) -> Bool {
        if value == "*" { return true }
        guard let tags = EntityTag.parseList(value) else { return false }
        return tags.contains { $0.strongMatches(etag) }
    }

    /// `If-None-Match` "matches" (i.e. its condition is false): `*`, or a list containing a tag
    /// weakly equal to `etag`.
    private static func matchesIfNoneMatch(_ value: Substring, etag: EntityTag) -> Bool {
        if value == "*" { return true }
        guard let tags = EntityTag.parseList(value) else { return false }
        return tags.contains { $0.weakMatches(etag) }
    }

    /// The trimmed value, or `nil` when absent, empty or only whitespace.
    private static func present(_ value: Substring?) -> Substring? {
        guard let value else { return nil }
        let result = trimmed(value)
        return result.isEmpty ? nil : result
    }

    private static func trimmed(_ value: Substring) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = value.firstIndex(where: { !isSpace($0) }),
              let last = value.lastIndex(where: { !isSpace($0) }) else { return value[value.endIndex...] }
        return value[first...last]
    }
}
