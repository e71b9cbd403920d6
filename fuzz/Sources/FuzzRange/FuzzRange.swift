import FuzzSupport
import OggEdgeCore

/// `Range` headers: ``RangeResolver`` (the one-spec fast path and the general parse) against
/// representation lengths taken from the input. Invariants: every range lies within the length,
/// multiple ranges are sorted, disjoint and not adjacent, their lengths add up to at most the
/// length, and the fast path decides exactly as the general path does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    let selector = input.byte()
    let lengths: [Int64] = [0, 1, 2, 100, 4096, 1_000_000, Int64.max - 1, Int64.max]
    let length = selector & 0x80 != 0 ? input.int64() : lengths[Int(selector & 7)]
    let maxRanges = Int(selector >> 3 & 0x0F) // 0...15, with 16 (the default) below
    let header = Substring(decoding: input.rest(), as: UTF8.self)
    for policy in [RangePolicy.default, RangePolicy(maxRanges: maxRanges)] {
        check(header, length: length, policy: policy)
    }
    return 0
}

private func check(_ header: Substring, length: Int64, policy: RangePolicy) {
    let decision = RangeResolver.resolve(header, length: length, policy: policy)
    let clamped = max(length, 0)
    switch decision {
    case .full:
        break
    case .unsatisfiable:
        _ = RangeResolver.unsatisfiedContentRange(length: length)
    case .single(let range):
        Fuzz.check(range.start >= 0 && range.start <= range.end && range.end < clamped,
                   "single range \(range) outside length \(clamped) for \(header.debugDescription)")
        _ = range.contentRange(completeLength: clamped)
    case .multiple(let ranges):
        Fuzz.check(ranges.count >= 2 && ranges.count <= max(policy.maxRanges, 0), "\(ranges.count) ranges")
        var total: Int64 = 0
        for (i, range) in ranges.enumerated() {
            Fuzz.check(range.start >= 0 && range.start <= range.end && range.end < clamped,
                       "range \(range) outside length \(clamped)")
            if i > 0 { Fuzz.check(ranges[i - 1].end + 1 < range.start, "ranges \(ranges) not coalesced") }
            total += range.length
        }
        Fuzz.check(total <= clamped, "ranges \(ranges) add up to more than \(clamped)")
    }
    // The general path: the specs, resolved and coalesced as `resolve` does.
    guard let specs = RangeResolver.parse(header, maxRanges: policy.maxRanges) else {
        Fuzz.check(decision == .full, "parse refuses \(header.debugDescription) but resolve says \(decision)")
        return
    }
    Fuzz.check(!specs.isEmpty && specs.count <= policy.maxRanges, "\(specs.count) specs")
    var requested: Int64 = 0
    var ranges: [ByteRange] = []
    var tooMuch = false
    for spec in specs {
        if case .closed(let first, let last) = spec { Fuzz.check(first <= last, "closed spec \(spec)") }
        guard let range = spec.resolve(length: clamped) else { continue }
        Fuzz.check(range.start >= 0 && range.start <= range.end && range.end < clamped, "spec \(spec) → \(range)")
        let (sum, overflow) = requested.addingReportingOverflow(range.length)
        if overflow || sum > clamped { tooMuch = true }
        requested = sum
        ranges.append(range)
    }
    let merged = ByteRange.coalesce(ranges)
    let expected: RangeDecision
    if specs.count == 1 {
        // One spec: no sum rule (a single range never exceeds the length).
        expected = merged.isEmpty ? .unsatisfiable : .single(merged[0])
    } else if tooMuch {
        expected = .full
    } else {
        expected = merged.isEmpty ? .unsatisfiable : merged.count == 1 ? .single(merged[0]) : .multiple(merged)
    }
    Fuzz.check(decision == expected, "resolve says \(decision), the specs \(specs) say \(expected) for \(header.debugDescription)")
}
