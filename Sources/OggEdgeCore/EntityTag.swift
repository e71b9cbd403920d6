/// An HTTP entity tag (RFC 9110 §8.8.3), e.g. `"abc"` or `W/"abc"`.
public struct EntityTag: Equatable, Sendable {
    /// The opaque tag without the surrounding double quotes (and without `W/`).
    public let opaque: String
    /// True for a weak validator (`W/"…"`).
    public let isWeak: Bool

    /// Creates a tag. `opaque` must not contain `"`, control characters, space or DEL
    /// (RFC 9110 `etagc`); a server builds it from hex digits or similar.
    public init(opaque: String, isWeak: Bool = false) {
        self.opaque = opaque
        self.isWeak = isWeak
    }

    /// The field value form: `"abc"` for a strong tag, `W/"abc"` for a weak one.
    public var headerValue: String {
        isWeak ? "W/\"\(opaque)\"" : "\"\(opaque)\""
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and the opaque tags identical.
    public func strongMatches(_ other: EntityTag) -> Bool {
        !isWeak && !other.isWeak && opaque == other.opaque
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): opaque tags identical, weakness ignored.
    public func weakMatches(_ other: EntityTag) -> Bool {
        opaque == other.opaque
    }

    /// Parses exactly one entity-tag (surrounding whitespace allowed), as found in `ETag` or
    /// `If-Range`. Returns `nil` for anything else.
    public static func parse(_ value: Substring) -> EntityTag? {
        let utf8 = value.utf8
        let start = skipWhitespace(utf8, from: utf8.startIndex)
        guard let (tag, next) = parseTag(utf8, at: start),
              skipWhitespace(utf8, from: next) == utf8.endIndex else { return nil }
        return tag
    }

    /// Parses a comma-separated list of entity-tags (`If-Match`, `If-None-Match`).
    ///
    /// Whitespace around elements and empty elements are accepted (RFC 9110 §5.6.1.2).
    /// - Returns: the tags in order, or `nil` when the value is `*` (the caller handles that form
    ///   separately), holds no tag at all, or is malformed anywhere (unquoted tag, missing closing
    ///   quote, a forbidden character, lowercase `w/`, garbage between tags).
    public static func parseList(_ value: Substring) -> [EntityTag]? {
        let utf8 = value.utf8
        var tags: [EntityTag] = []
        var index = utf8.startIndex
        while true {
            while index < utf8.endIndex, utf8[index] == UInt8(ascii: ",") || isWhitespace(utf8[index]) {
                index = utf8.index(after: index)
            }
            guard index < utf8.endIndex else { break }
            guard let (tag, next) = parseTag(utf8, at: index) else { return nil }
            tags.append(tag)
            index = skipWhitespace(utf8, from: next)
            guard index == utf8.endIndex || utf8[index] == UInt8(ascii: ",") else { return nil }
        }
        return tags.isEmpty ? nil : tags
    }

    /// Parses `[W/] DQUOTE *etagc DQUOTE` at `start`; returns the tag and the index after it.
    private static func parseTag(
        _ utf8: Substring.UTF8View, at start: Substring.UTF8View.Index
    ) -> (EntityTag, Substring.UTF8View.Index)? {
        var index = start
        var weak = false
        if index < utf8.endIndex, utf8[index] == UInt8(ascii: "W") {
            index = utf8.index(after: index)
            guard index < utf8.endIndex, utf8[index] == UInt8(ascii: "/") else { return nil }
            index = utf8.index(after: index)
            weak = true
        }
        guard index < utf8.endIndex, utf8[index] == UInt8(ascii: "\"") else { return nil }
        index = utf8.index(after: index)
        let opaqueStart = index
        while index < utf8.endIndex, utf8[index] != UInt8(ascii: "\"") {
            guard isETagChar(utf8[index]) else { return nil }
            index = utf8.index(after: index)
        }
        guard index < utf8.endIndex else { return nil }
        let opaque = String(decoding: utf8[opaqueStart..<index], as: UTF8.self)
        return (EntityTag(opaque: opaque, isWeak: weak), utf8.index(after: index))
    }

    /// `etagc = %x21 / %x23-7E / obs-text` (obs-text = %x80-FF).
    private static func isETagChar(_ byte: UInt8) -> Bool {
        byte == 0x21 || (byte >= 0x23 && byte <= 0x7E) || byte >= 0x80
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    private static func skipWhitespace(
        _ utf8: Substring.UTF8View, from start: Substring.UTF8View.Index
    ) -> Substring.UTF8View.Index {
        var index = start
        while index < utf8.endIndex, isWhitespace(utf8[index]) { index = utf8.index(after: index) }
        return index
    }
}
