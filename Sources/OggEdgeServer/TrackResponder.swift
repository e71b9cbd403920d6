import HTTPTypes
import NIOCore
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// Answers `/tracks/{trackId}_{kbps}kbps.ogg`: route, signature, attach, plan, body.
///
/// The order is fixed and cheap-first: the file name is validated before anything touches the
/// file system, the signature before any rendition is looked up. Every audio response, whether
/// its rendition is complete or still being produced, is planned by ``DeliveryPlanner``.
struct TrackResponder: Sendable {
    let verifier: URLVerifier
    let directory: RenditionDirectory
    let rangePolicy: RangePolicy
    let boundaryPrefix: String
    /// The one bound on how long a request waits for bytes a fill has not produced yet.
    let liveRangeWait: Duration

    /// Headers every audio response carries, error or not (browser players need CORS on both).
    static func corsHeaders(into headers: inout HTTPFields) {
        headers[.accessControlAllowOrigin] = "*"
        headers[.accessControlExposeHeaders] = "Content-Range, Content-Length, Accept-Ranges, ETag, X-Content-Duration"
    }

    func respond(
        method: HTTPRequest.Method, target: Substring, path: Substring, headers: HTTPFields,
        clientIP: Substring, now: Int64, sequence: UInt64
    ) async -> PreparedResponse {
        let isHead = method == .head
        var cors: HTTPFields = [:]
        Self.corsHeaders(into: &cors)
        var log = LogFacts()
        log.cache = .error

        let track: TrackPath
        switch TrackPath.parse(path) {
        case .success(let t): track = t
        case .failure(.notATrackPath): return .error(.notFound, isHead: isHead, headers: cors, log: log)
        case .failure(.invalidTrackId): return .error(.invalidTrackId, isHead: isHead, headers: cors, log: log)
        case .failure(.unsupportedBitrate): return .error(.unsupportedBitrate, isHead: isHead, headers: cors, log: log)
        }
        log.track = track.trackId
        log.kbps = track.kbps

        if method == .options { return Self.preflight(headers: headers, log: log) }
        guard method == .get || isHead else {
            return .error(.methodNotAllowed(allow: "GET, HEAD, OPTIONS"), isHead: false, headers: cors, log: log)
        }

        switch verifier.verify(target: target, path: path, clientIP: clientIP, kbps: track.kbps, now: now) {
        case .failure(let refusal):
            return .error(.refused(refusal), isHead: isHead, headers: cors, log: log)
        case .success(let grant):
            log.uid = grant.uid
        }

        let attachment: Attachment
        do {
            attachment = try await directory.attach(track, offset: isHead ? nil : RangeHint.firstOffset(headers[.range]))
        } catch {
            return .error(OriginError(error), isHead: isHead, headers: cors, log: log)
        }
        let reader = RenditionReader(attachment, store: directory.store, wait: liveRangeWait)
        log.cache = attachment.outcome
        // RFC 9110 §14.2: Range is defined for GET only; HEAD answers as a GET without Range.
        let request = DeliveryRequest(
            isGetOrHead: true,
            range: isHead ? nil : headers[.range].map { Substring($0) },
            conditionals: ConditionalHeaders(
                ifMatch: headers[.ifMatch].map { Substring($0) },
                ifNoneMatch: headers[.ifNoneMatch].map { Substring($0) },
                ifModifiedSince: headers[.ifModifiedSince].map { Substring($0) },
                ifUnmodifiedSince: headers[.ifUnmodifiedSince].map { Substring($0) },
                ifRange: headers[.ifRange].map { Substring($0) }
            )
        )
        let shape = ResponseShape(reader: reader, isHead: isHead, cors: cors, log: log, boundary: boundaryPrefix + String(sequence, radix: 16))
        if let meta = attachment.session.meta {
            let prepared = shape.complete(meta, plan: DeliveryPlanner.plan(request, validators: meta.validators, length: meta.length, policy: rangePolicy))
            return attachment.origin.kind == .upstream ? await UpstreamPreflight.ready(prepared, cors: cors) : prepared
        }
        return await respondLive(request, shape: shape)
    }

    /// A rendition still being produced: plan with what exists, waiting (at most `liveRangeWait`
    /// in all) for bytes a range needs; if it completes meanwhile it is an ordinary object.
    private func respondLive(_ request: DeliveryRequest, shape: ResponseShape) async -> PreparedResponse {
        let session = shape.reader.attachment.session
        let deadline = ContinuousClock.now + liveRangeWait
        var final = false
        while true {
            if case .failed(let reason) = session.phase { return shape.failed(reason) }
            if let meta = session.meta {
                return shape.complete(meta, plan: DeliveryPlanner.plan(request, validators: meta.validators, length: meta.length, policy: rangePolicy))
            }
            let plan = DeliveryPlanner.planLive(request, produced: session.produced, final: final, policy: rangePolicy)
            let needed: Int64
            switch plan {
            case .wait(let until): needed = until
            case .waitForEnd: needed = .max
            case .stream:
                // Wait for the first output (the Vorbis headers) before answering, so a source that
                // cannot be decoded is a clear 502 rather than a 200 cut off after its head.
                needed = 1
                if session.produced >= 1 { return shape.live(plan) }
            default:
                return shape.live(plan)
            }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                switch plan {
                case .stream: return shape.live(plan) // from byte 0 it streams whatever comes
                case .wait where !final:
                    final = true
                    continue
                default: return shape.busy()
                }
            }
            _ = await session.wait(forProduced: needed, timeout: remaining)
        }
    }

    /// `204` answer to a CORS preflight: allows the headers a media element or player sends.
    static func preflight(headers: HTTPFields, log: LogFacts) -> PreparedResponse {
        var out: HTTPFields = [:]
        corsHeaders(into: &out)
        out[.accessControlAllowMethods] = "GET, HEAD, OPTIONS"
        out[.accessControlAllowHeaders] = "Range, If-Range, If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since"
        out[.accessControlMaxAge] = "86400"
        out[.allow] = "GET, HEAD, OPTIONS"
        var log = log
        log.cache = nil
        return PreparedResponse(status: .noContent, headers: out, body: .empty, log: log)
    }

    /// Seconds with millisecond precision, no trailing zeros beyond what is needed ("12.5", "600").
    static func formatDuration(millis ms: Int64) -> String {
        let whole = ms / 1000
        let frac = ms % 1000
        if frac == 0 { return String(whole) }
        var f = String(frac)
        while f.utf8.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}

extension RenditionMeta {
    /// The strong ETag and Last-Modified of a complete rendition.
    var validators: Validators {
        Validators(etag: EntityTag(opaque: etag), lastModified: lastModified)
    }
}

extension OriginError {
    /// The HTTP answer for a delivery failure.
    init(_ error: DeliveryError) {
        switch error {
        case .notFound: self = .notFound
        case .badSource(let reason): self.init(status: 502, reason: reason)
        case .unavailable(let reason): self.init(status: 503, reason: reason, headers: [("Retry-After", "1")])
        case .upstream(let reason, let timedOut): self.init(status: timedOut ? 504 : 502, reason: reason)
        }
    }
}
