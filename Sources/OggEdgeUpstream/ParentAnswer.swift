import OggEdgeCore
import OggEdgeDelivery

/// Why one request to one parent did not give usable bytes.
enum AttemptFailure: Error, Sendable, Equatable {
    /// 404 / 410: the parent does not have it.
    case notFound
    /// 412 on `If-Match`, or another ETag or length than the version being pulled.
    case changed
    /// 416 on the first request: the range starts past the end.
    case unsatisfiable
    /// Connect, first-byte or stall timeout.
    case timeout
    /// Refused connection, 5xx, a refusal (403: keys differ) or an answer that does not add up.
    case failed(String)
}

/// What a usable parent answer promises: the version's facts and which bytes its body carries.
struct AcceptedAnswer: Sendable, Equatable {
    var facts: UpstreamFacts
    /// Offsets of the body's first and last byte that will be passed on.
    var range: ByteRange
}

/// Judges a parent's response head, trusting nothing: the status, `Content-Range`,
/// `Content-Length` and validators must agree with what was asked (pure, tested without sockets).
enum ParentAnswer {
    /// - Parameters:
    ///   - header: the value of a response header, if present.
    ///   - requested: the bytes asked for (`end` may pass the length on a first request).
    ///   - expecting: the version being pulled; `nil` on a pull's first request.
    static func evaluate(
        status: Int, header: (String) -> String?, requested: ByteRange, expecting: UpstreamFacts?
    ) -> Result<AcceptedAnswer, AttemptFailure> {
        let length: Int64
        let first: Int64
        let last: Int64
        switch status {
        case 404, 410: return .failure(.notFound)
        case 412: return .failure(.changed)
        case 416: return .failure(expecting == nil ? .unsatisfiable : .changed)
        case 206:
            guard let value = header("Content-Range"), let parsed = parseContentRange(value) else {
                return .failure(.failed("206 without a usable Content-Range"))
            }
            (first, last, length) = parsed
        case 200:
            // A parent that ignores ranges: usable only when the range starts at byte 0.
            guard requested.start == 0, let value = header("Content-Length"), let total = Int64(value), total > 0 else {
                return .failure(.failed("200 to a range request"))
            }
            (first, last, length) = (0, total - 1, total)
        case 500...599: return .failure(.failed("status \(status)"))
        default: return .failure(.failed("status \(status)"))
        }
        guard first == requested.start else { return .failure(.failed("Content-Range starts at \(first), asked \(requested.start)")) }
        if let expecting, length != expecting.length { return .failure(.changed) }
        let end = min(requested.end, length - 1)
        guard end >= first else { return .failure(expecting == nil ? .unsatisfiable : .changed) }
        if status == 206 {
            guard last == end else { return .failure(.failed("Content-Range ends at \(last), asked \(end)")) }
            if let value = header("Content-Length") {
                guard Int64(value) == last - first + 1 else { return .failure(.failed("Content-Length disagrees with Content-Range")) }
            }
        }
        let tag = header("ETag").flatMap { EntityTag.parse(Substring($0)) }.flatMap { $0.isWeak ? nil : $0 }
        let lastModified = header("Last-Modified").flatMap { HTTPDate.parse(Substring($0)) } ?? 0
        if let expecting {
            if expecting.etagFromParent {
                guard let tag, tag.opaque == expecting.etag else { return .failure(.changed) }
            } else if let tag {
                return .failure(tag.opaque == expecting.etag ? .failed("inconsistent validators") : .changed)
            } else if lastModified != expecting.lastModified {
                return .failure(.changed)
            }
            return .success(AcceptedAnswer(facts: expecting, range: ByteRange(start: first, end: end)))
        }
        let facts = UpstreamFacts(
            length: length,
            etag: tag?.opaque ?? "u" + String(length, radix: 16) + "-" + String(UInt64(bitPattern: lastModified), radix: 16),
            etagFromParent: tag != nil,
            lastModified: lastModified,
            durationMillis: header("X-Content-Duration").flatMap(parseDuration)
        )
        return .success(AcceptedAnswer(facts: facts, range: ByteRange(start: first, end: end)))
    }

    /// `bytes FIRST-LAST/LENGTH` with `FIRST <= LAST < LENGTH`; anything else is `nil`.
    static func parseContentRange(_ value: String) -> (Int64, Int64, Int64)? {
        let text = value.trimmingSpaces
        guard text.hasPrefix("bytes ") else { return nil }
        let rest = text.dropFirst(6)
        guard let dash = rest.firstIndex(of: "-"), let slash = rest.firstIndex(of: "/"), dash < slash else { return nil }
        guard let first = digits(rest[..<dash]), let last = digits(rest[rest.index(after: dash)..<slash]),
              let length = digits(rest[rest.index(after: slash)...]),
              first <= last, last < length else { return nil }
        return (first, last, length)
    }

    /// `X-Content-Duration` seconds (decimals allowed) in milliseconds, at most a day.
    static func parseDuration(_ value: String) -> Int64? {
        let text = value.trimmingSpaces
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = digits(parts[0]), whole <= OggFacts.maximumDurationMillis / 1000 else { return nil }
        var millis = whole * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            var scale: Int64 = 100
            for c in fraction.prefix(3) {
                millis += Int64(c.asciiValue! - 48) * scale
                scale /= 10
            }
        }
        return millis
    }

    /// A non-negative decimal of at most 18 digits.
    private static func digits(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(text)
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
