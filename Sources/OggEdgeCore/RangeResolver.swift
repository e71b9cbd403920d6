/// One `range-spec` of a `Range: bytes=…` header (RFC 9110 §14.1.1), before the representation
/// length is applied.
public enum RangeSpec: Equatable, Hashable, Sendable {
    /// `first-last`, with `first <= last` (the parser rejects anything else).
    case closed(first: Int64, last: Int64)
    /// `first-`: from `first` to the end of the representation.
    case from(Int64)
    /// `-n`: the last `n` bytes.
    case suffix(Int64)

    /// The bytes this spec selects in a representation of `length` bytes, or `nil` when the spec
    /// is unsatisfiable there (start at or beyond the end, `-0`, or an empty representation).
    /// Last positions and suffix lengths beyond the end are clamped to the representation.
    public func resolve(length: Int64) -> ByteRange? {
        guard length > 0 else { return nil }
        switch self {
        case .closed(let first, let last):
            guard first < length else { return nil }
            return ByteRange(start: first, end: min(last, length - 1))
        case .from(let first):
            guard first < length else { return nil }
            return ByteRange(start: first, end: length - 1)
        case .suffix(let count):
            guard count > 0 else { return nil }
            return ByteRange(start: length - min(count, length), end: length - 1)
        }
    }
}

/// Parses `Range` headers and decides between `200`, `206` and `416` (RFC 9110 §14.1–14.2).
///
/// Behaviour follows Go's `net/http` (`fs_test.go`, `range_test.go`) and nginx's range filter:
/// - The unit `bytes` is matched case-insensitively; any other unit makes the header ignored.
/// - Whitespace (space, tab) is accepted around the header, around commas and around `-`;
///   empty list elements (`bytes=0-1,,5-6`) are skipped as RFC 9110 §5.6.1.2 requires.
/// - A spec with `first > last`, a non-digit, no `-`, both sides empty, or more than 19 digits /
///   a value beyond `Int64.max` makes the whole header invalid, and it is ignored (`200`).
/// - Specs that start at or beyond the end (and `-0`) are dropped; none left means `416`.
/// - More specs than ``RangePolicy/maxRanges`` → `200` (the "Apache killer" defence).
/// - Satisfiable ranges whose lengths, counted before coalescing, add up to more than the
///   representation length → `200` (nginx's and Go's rule against wasteful requests such as
///   `bytes=0-,1-,2-,3-,4-`). A single range that covers the whole body (`bytes=0-`) stays `206`.
public enum RangeResolver {
    /// Decides how to answer a request's `Range` header.
    /// - Parameters:
    ///   - header: the raw `Range` header value, `nil` if the request has none.
    ///   - length: the representation length in bytes (a negative value is treated as 0).
    ///   - policy: limits on the number of ranges.
    public static func resolve(_ header: Substring?, length: Int64, policy: RangePolicy = .default) -> RangeDecision {
        // One spec (what players send): the same decision without building any array.
        if let header, policy.maxRanges >= 1, let spec = singleSpec(header) {
            guard let range = spec.resolve(length: max(length, 0)) else { return .unsatisfiable }
            return .single(range)
        }
        guard let header, let specs = parse(header, maxRanges: policy.maxRanges) else { return .full }
        let length = max(length, 0)
        var ranges: [ByteRange] = []
        ranges.reserveCapacity(specs.count)
        var requested: Int64 = 0
        for spec in specs {
            guard let range = spec.resolve(length: length) else { continue }
            let (sum, overflow) = requested.addingReportingOverflow(range.length)
            guard !overflow, sum <= length else { return .full }
            requested = sum
            ranges.append(range)
        }
        let merged = ByteRange.coalesce(ranges)
        switch merged.count {
        case 0: return .unsatisfiable
        case 1: return .single(merged[0])
        default: return .multiple(merged)
        }
    }

    /// The `Content-Range` value of a `416` answer: `bytes */LEN`.
    public static func unsatisfiedContentRange(length: Int64) -> String {
        "bytes */\(max(length, 0))"
    }

    /// Parses a `Range` header into its range-specs without applying a length (useful while the
    /// length is still unknown, e.g. during a transcode).
    /// - Returns: the specs in request order (at least one), or `nil` when the header must be
    ///   ignored: invalid syntax, a unit other than `bytes`, or more than `maxRanges` specs.
    public static func parse(_ header: Substring, maxRanges: Int = RangePolicy.default.maxRanges) -> [RangeSpec]? {
        let utf8 = header.utf8
        var index = skipWhitespace(utf8, from: utf8.startIndex)
        for expected in "bytes=".utf8 {
            guard index < utf8.endIndex, lowercased(utf8[index]) == expected else { return nil }
            index = utf8.index(after: index)
        }
        var specs: [RangeSpec] = []
        while index < utf8.endIndex {
            let elementEnd = utf8[index...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            let element = trimmed(utf8[index..<elementEnd])
            if !element.isEmpty {
                guard specs.count < maxRanges, let spec = parseSpec(element) else { return nil }
                specs.append(spec)
            }
            index = elementEnd < utf8.endIndex ? utf8.index(after: elementEnd) : elementEnd
        }
        return specs.isEmpty ? nil : specs
    }

    /// The spec of a header holding exactly one (no comma), else nil (the general parse decides).
    /// Reads the header's bytes in place (the hot path: every cached range a player asks for),
    /// with the grammar of ``parse(_:maxRanges:)`` for one spec.
    private static func singleSpec(_ header: Substring) -> RangeSpec? {
        var header = header
        return header.withUTF8 { bytes -> RangeSpec? in
            var i = 0
            let n = bytes.count
            while i < n, isWhitespace(bytes[i]) { i += 1 }
            for expected in "bytes=".utf8 {
                guard i < n, lowercased(bytes[i]) == expected else { return nil }
                i += 1
            }
            var end = n
            var dash = -1
            for j in i..<n {
                if bytes[j] == UInt8(ascii: ",") { return nil }
                if dash < 0, bytes[j] == UInt8(ascii: "-") { dash = j }
            }
            while i < end, isWhitespace(bytes[i]) { i += 1 }
            while end > i, isWhitespace(bytes[end - 1]) { end -= 1 }
            guard i < end, dash >= i, dash < end else { return nil }
            let first = trimmedRange(bytes, i, dash)
            let last = trimmedRange(bytes, dash + 1, end)
            if first.isEmpty {
                guard let count = number(bytes, last) else { return nil }
                return .suffix(count)
            }
            guard let start = number(bytes, first) else { return nil }
            if last.isEmpty { return .from(start) }
            guard let stop = number(bytes, last), start <= stop else { return nil }
            return .closed(first: start, last: stop)
        }
    }

    private static func trimmedRange(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Range<Int> {
        var lo = from
        var hi = to
        while lo < hi, isWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isWhitespace(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// ``parseNumber(_:)`` over `bytes[range]`.
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int64? {
        guard !range.isEmpty, range.count <= 19 else { return nil }
        var value: Int64 = 0
        for i in range {
            let byte = bytes[i]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// Parses one non-empty, trimmed range-spec: `a-b`, `a-` or `-n`.
    private static func parseSpec(_ element: Substring.UTF8View) -> RangeSpec? {
        guard let dash = element.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        let first = trimmed(element[..<dash])
        let last = trimmed(element[element.index(after: dash)...])
        if first.isEmpty {
            guard let count = parseNumber(last) else { return nil }
            return .suffix(count)
        }
        guard let start = parseNumber(first) else { return nil }
        if last.isEmpty { return .from(start) }
        guard let end = parseNumber(last), start <= end else { return nil }
        return .closed(first: start, last: end)
    }

    /// Parses 1 to 19 ASCII digits into a non-negative `Int64`; `nil` on anything else or overflow.
    private static func parseNumber(_ digits: Substring.UTF8View) -> Int64? {
        guard !digits.isEmpty, digits.count <= 19 else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    private static func skipWhitespace(_ view: Substring.UTF8View, from start: Substring.UTF8View.Index) -> Substring.UTF8View.Index {
        var index = start
        while index < view.endIndex, isWhitespace(view[index]) { index = view.index(after: index) }
        return index
    }

    private static func trimmed(_ view: Substring.UTF8View) -> Substring.UTF8View {
        var start = view.startIndex
        var end = view.endIndex
        while start < end, isWhitespace(view[start]) { start = view.index(after: start) }
        while end > start, isWhitespace(view[view.index(before: end)]) { end = view.index(before: end) }
        return view[start..<end]
    }
}
