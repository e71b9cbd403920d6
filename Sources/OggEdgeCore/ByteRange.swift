/// An inclusive range of byte positions in a representation, as in `Content-Range: bytes 0-499/1234`.
///
/// `start` and `end` are both inclusive, zero-based offsets: `ByteRange(start: 0, end: 0)` is the
/// first byte. Values produced by ``RangeResolver`` always satisfy `0 <= start <= end < length`.
public struct ByteRange: Equatable, Hashable, Sendable {
    /// Offset of the first byte in the range.
    public let start: Int64
    /// Offset of the last byte in the range (inclusive).
    public let end: Int64

    /// Creates a range covering `start...end` (both inclusive). The caller keeps `start <= end`.
    public init(start: Int64, end: Int64) {
        self.start = start
        self.end = end
    }

    /// Number of bytes in the range (`end - start + 1`).
    public var length: Int64 { end - start + 1 }

    /// The `Content-Range` field value for this range, e.g. `bytes 0-499/1234`.
    /// - Parameter completeLength: the representation length, or `nil` while it is still unknown
    ///   (renders `*`, as RFC 9110 §14.4 allows for a growing representation).
    public func contentRange(completeLength: Int64?) -> String {
        let total = completeLength.map { String($0) } ?? "*"
        return "bytes \(start)-\(end)/\(total)"
    }

    /// Sorts `ranges` by start and merges ranges that overlap or touch (`a-b` and `b+1-c`), as
    /// RFC 9110 §14.3 allows a server to do before answering `multipart/byteranges`.
    public static func coalesce(_ ranges: [ByteRange]) -> [ByteRange] {
        let sorted = ranges.sorted { $0.start != $1.start ? $0.start < $1.start : $0.end < $1.end }
        var merged: [ByteRange] = []
        merged.reserveCapacity(sorted.count)
        for range in sorted {
            if let last = merged.last, last.end == .max || range.start <= last.end + 1 {
                merged[merged.count - 1] = ByteRange(start: last.start, end: max(last.end, range.end))
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}

/// Limits applied when honouring a `Range` header.
public struct RangePolicy: Sendable {
    /// Largest number of range-specs a `Range` header may carry before the server ignores the
    /// header and answers `200` with the whole representation (nginx's `max_ranges`, Apache's
    /// `MaxRanges`).
    ///
    /// This is the defence against the "Apache killer" (CVE-2011-3192): a request with hundreds of
    /// overlapping ranges such as `bytes=0-,1-,2-,…` that makes a naive server build a huge
    /// multipart body out of one small file. Every range-spec counts, satisfiable or not. A value
    /// of `0` or less disables ranges altogether.
    public var maxRanges: Int

    /// Creates a policy. The default of 16 is far above what players send (one range) and far
    /// below what an attack needs.
    public init(maxRanges: Int = 16) {
        self.maxRanges = maxRanges
    }

    /// The policy used when none is given: at most 16 ranges.
    public static let `default` = RangePolicy()
}

/// What to answer to a `Range` header (RFC 9110 §14.2), before conditionals are considered.
public enum RangeDecision: Equatable, Sendable {
    /// `200` with the whole representation: no `Range` header, a syntactically invalid one, a
    /// unit other than `bytes`, more ranges than ``RangePolicy/maxRanges``, or satisfiable ranges
    /// whose lengths add up to more than the representation (nginx and Go's `net/http` both
    /// answer the whole body then).
    case full
    /// `206` with one range.
    case single(ByteRange)
    /// `206` `multipart/byteranges`: at least two ranges, sorted by start, with overlapping or
    /// adjacent ranges coalesced.
    case multiple([ByteRange])
    /// `416 Range Not Satisfiable` with `Content-Range: bytes */LEN`.
    case unsatisfiable
}
