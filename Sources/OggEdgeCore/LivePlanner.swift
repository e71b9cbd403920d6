/// What a response to a representation that is still being produced (a transcode or a pull from
/// a parent under way) will be, given how many bytes exist so far.
///
/// The same rules as ``DeliveryPlan`` with the differences an unknown length forces:
/// - There is no validator yet: `If-Match` other than `*` is `412`, `If-Range` evaluates false
///   (the whole body from byte 0), dates are ignored.
/// - The body from byte 0 (no `Range`, `bytes=0-`, or a `Range` that must be ignored) streams as
///   it is produced: ``stream``.
/// - A range that is already produced is answered at once, with `*` as the complete length.
///   `a-` covers what exists from `a`. A range beyond what is produced, or a suffix range (it
///   needs the length), asks the caller to wait: ``wait(until:)``, ``waitForEnd``.
public enum LivePlan: Equatable, Sendable {
    /// `200`, body from byte 0 to the end, length unknown.
    case stream
    /// `206` with one range (`Content-Range: bytes a-b/*`).
    case partial(ByteRange)
    /// `206` `multipart/byteranges` over produced bytes.
    case multipart([ByteRange])
    /// `304 Not Modified` (`If-None-Match: *`).
    case notModified
    /// `412 Precondition Failed`.
    case preconditionFailed
    /// Ask again once at least this many bytes are produced (or the representation is complete).
    case wait(until: Int64)
    /// Ask again once the representation is complete (a suffix range needs the length).
    case waitForEnd
}

extension DeliveryPlanner {
    /// Plans a response for a representation still being produced.
    /// - Parameters:
    ///   - request: the request's method class and headers (`range` must be `nil` for `HEAD`).
    ///   - produced: bytes that exist so far.
    ///   - final: no more waiting is possible (the bounded wait ran out): a closed range that
    ///     starts inside the produced bytes is answered with what exists instead of ``LivePlan/wait(until:)``.
    ///   - policy: limits on the number of ranges.
    public static func planLive(
        _ request: DeliveryRequest, produced: Int64, final: Bool = false, policy: RangePolicy = .default
    ) -> LivePlan {
        switch Conditional.evaluateWithoutValidators(request.conditionals, isGetOrHead: request.isGetOrHead) {
        case .notModified: return .notModified
        case .preconditionFailed: return .preconditionFailed
        case .proceed: break
        }
        guard request.isGetOrHead, let header = request.range else { return .stream }
        // No validator can match yet: If-Range is false, so the whole body.
        guard request.conditionals.ifRange == nil else { return .stream }
        guard let specs = RangeResolver.parse(header, maxRanges: policy.maxRanges) else { return .stream }
        if specs == [.from(0)] { return .stream }
        var ranges: [ByteRange] = []
        ranges.reserveCapacity(specs.count)
        var needed: Int64 = 0
        var requested: Int64 = 0
        for spec in specs {
            switch spec {
            case .suffix:
                return .waitForEnd
            case .closed(let first, let last):
                if produced > last {
                    ranges.append(ByteRange(start: first, end: last))
                } else if final, produced > first {
                    ranges.append(ByteRange(start: first, end: produced - 1))
                } else {
                    // `last` may be Int64.max: never compute last + 1 unchecked.
                    needed = max(needed, last == .max ? .max : last + 1)
                    continue
                }
            case .from(let first):
                if produced > first {
                    ranges.append(ByteRange(start: first, end: produced - 1))
                } else {
                    needed = max(needed, first == .max ? .max : first + 1)
                    continue
                }
            }
            let (sum, overflow) = requested.addingReportingOverflow(ranges[ranges.count - 1].length)
            // Ranges that together ask for more than exists: the whole body, as for a complete object.
            guard !overflow, sum <= produced else { return .stream }
            requested = sum
        }
        if needed > 0 { return .wait(until: needed) }
        let merged = ByteRange.coalesce(ranges)
        return merged.count == 1 ? .partial(merged[0]) : .multipart(merged)
    }
}
