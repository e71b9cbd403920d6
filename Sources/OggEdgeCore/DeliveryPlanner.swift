/// What an audio response will be, decided from the request's method, headers and the
/// representation's validators and length, before a single body byte is read.
///
/// This is the pure half of "which bytes, to whom": the server only moves the bytes that a
/// plan names. Every status that depends on headers (200, 206, 304, 412, 416) is decided here.
public enum DeliveryPlan: Equatable, Sendable {
    /// `200` with the whole representation.
    case full
    /// `206` with one range.
    case partial(ByteRange)
    /// `206` `multipart/byteranges` with several ranges (sorted and coalesced).
    case multipart([ByteRange])
    /// `304 Not Modified`.
    case notModified
    /// `412 Precondition Failed`.
    case preconditionFailed
    /// `416 Range Not Satisfiable` (`Content-Range: bytes */LEN`).
    case unsatisfiable

    /// The HTTP status code this plan answers with.
    public var status: Int {
        switch self {
        case .full: 200
        case .partial, .multipart: 206
        case .notModified: 304
        case .preconditionFailed: 412
        case .unsatisfiable: 416
        }
    }
}

/// The request headers that shape a delivery plan.
public struct DeliveryRequest: Sendable {
    /// True for `GET` and `HEAD`.
    public var isGetOrHead: Bool
    /// The raw `Range` header, if any.
    public var range: Substring?
    /// The conditional headers (`If-Match`, `If-None-Match`, dates, `If-Range`).
    public var conditionals: ConditionalHeaders

    /// Creates a request description.
    public init(isGetOrHead: Bool = true, range: Substring? = nil, conditionals: ConditionalHeaders = .init()) {
        self.isGetOrHead = isGetOrHead
        self.range = range
        self.conditionals = conditionals
    }
}

/// Decides a ``DeliveryPlan`` following RFC 9110 §13.2.2: preconditions first, then `Range`
/// (only for `GET`/`HEAD`, and only when `If-Range` allows it).
public enum DeliveryPlanner {
    /// Plans the response for a representation of a known `length`.
    /// - Parameters:
    ///   - request: the request's method class and headers.
    ///   - validators: the representation's strong ETag and Last-Modified.
    ///   - length: the representation length in bytes.
    ///   - policy: limits on the number of ranges.
    public static func plan(
        _ request: DeliveryRequest,
        validators: Validators,
        length: Int64,
        policy: RangePolicy = .default
    ) -> DeliveryPlan {
        switch Conditional.evaluate(request.conditionals, validators: validators, isGetOrHead: request.isGetOrHead) {
        case .notModified: return .notModified
        case .preconditionFailed: return .preconditionFailed
        case .proceed: break
        }
        guard request.isGetOrHead, let range = request.range else { return .full }
        guard Conditional.ifRangeAllowsPartial(request.conditionals.ifRange, validators: validators) else {
            return .full
        }
        switch RangeResolver.resolve(range, length: length, policy: policy) {
        case .full: return .full
        case .single(let r): return .partial(r)
        case .multiple(let rs): return .multipart(rs)
        case .unsatisfiable: return .unsatisfiable
        }
    }
}
