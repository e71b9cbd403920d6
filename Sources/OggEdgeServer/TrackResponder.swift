import HTTPTypes
import NIOCore
import OggEdgeCore

/// Answers `/tracks/{trackId}_{kbps}kbps.ogg`: route, signature, source, preconditions, ranges.
///
/// The order is fixed and cheap-first: the file name is validated before anything touches the
/// file system, the signature before any source is opened.
struct TrackResponder: Sendable {
    let verifier: URLVerifier
    let catalog: RenditionCatalog
    let rangePolicy: RangePolicy
    let boundaryPrefix: String
    /// How long a range beyond what an encoder has produced waits for it.
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

        let opened: OpenedRendition
        do {
            opened = try await catalog.open(track)
        } catch {
            return .error(error, isHead: isHead, headers: cors, log: log)
        }
        switch opened {
        case .complete(let reader):
            return prepare(reader: reader, headers: headers, isHead: isHead, cors: cors, log: log, sequence: sequence)
        case .live(let live):
            return await prepareLive(live, track: track, headers: headers, isHead: isHead, cors: cors, log: log, sequence: sequence)
        }
    }

    /// Turns an opened rendition and the request headers into the response plan.
    private func prepare(
        reader: any RenditionReader, headers: HTTPFields, isHead: Bool, cors: HTTPFields, log: LogFacts, sequence: UInt64
    ) -> PreparedResponse {
        var log = log
        let info = reader.info
        log.cache = info.cacheResult
        log.playbackOffset = info.playbackOffset
        var out = cors
        out[.acceptRanges] = "bytes"
        out[.eTag] = info.validators.etag.headerValue
        out[.lastModified] = HTTPDate.format(info.validators.lastModified)
        if let seconds = info.durationSeconds, let name = HTTPField.Name("X-Content-Duration") {
            out[name] = Self.formatDuration(seconds)
        }

        let request = DeliveryRequest(
            isGetOrHead: true,
            range: headers[.range].map { Substring($0) },
            conditionals: ConditionalHeaders(
                ifMatch: headers[.ifMatch].map { Substring($0) },
                ifNoneMatch: headers[.ifNoneMatch].map { Substring($0) },
                ifModifiedSince: headers[.ifModifiedSince].map { Substring($0) },
                ifUnmodifiedSince: headers[.ifUnmodifiedSince].map { Substring($0) },
                ifRange: headers[.ifRange].map { Substring($0) }
            )
        )
        let plan = DeliveryPlanner.plan(request, validators: info.validators, length: info.length, policy: rangePolicy)
        let length = info.length
        func bodyOrEmpty(_ body: RenditionBody) -> PreparedResponse.Body {
            if isHead || body.contentLength == 0 {
                reader.close()
                return .empty
            }
            return .rendition(reader, body)
        }
        switch plan {
        case .full:
            out[.contentType] = "audio/ogg"
            out[.contentLength] = String(length)
            if length > 0 { log.rangeStart = 0; log.rangeEnd = length - 1 }
            return PreparedResponse(status: .ok, headers: out, body: bodyOrEmpty(.range(ByteRange(start: 0, end: max(0, length - 1)))), log: log)
        case .partial(let r):
            out[.contentType] = "audio/ogg"
            out[.contentLength] = String(r.length)
            out[.contentRange] = "bytes \(r.start)-\(r.end)/\(length)"
            log.rangeStart = r.start
            log.rangeEnd = r.end
            return PreparedResponse(status: .partialContent, headers: out, body: bodyOrEmpty(.range(r)), log: log)
        case .multipart(let ranges):
            let boundary = boundaryPrefix + String(sequence, radix: 16)
            let mp = MultipartPlan(ranges: ranges, totalLength: length, partContentType: "audio/ogg", boundary: boundary)
            out[.contentType] = mp.contentType
            out[.contentLength] = String(mp.contentLength)
            log.rangeStart = ranges.first?.start
            log.rangeEnd = ranges.last?.end
            return PreparedResponse(status: .partialContent, headers: out, body: bodyOrEmpty(.multipart(mp)), log: log)
        case .notModified:
            reader.close()
            out[.contentLength] = nil
            return PreparedResponse(status: .notModified, headers: out, body: .empty, log: log)
        case .preconditionFailed:
            reader.close()
            return .error(OriginError(status: 412, reason: "precondition_failed"), isHead: isHead, headers: out, log: log)
        case .unsatisfiable:
            reader.close()
            out[.contentRange] = "bytes */\(length)"
            return .error(OriginError(status: 416, reason: "range_not_satisfiable"), isHead: isHead, headers: out, log: log)
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
        log.cache = .miss
        return PreparedResponse(status: .noContent, headers: out, body: .empty, log: log)
    }

    /// Seconds with millisecond precision, no trailing zeros beyond what is needed ("12.5", "600").
    static func formatDuration(_ seconds: Double) -> String {
        let ms = Int64((seconds * 1000).rounded())
        let whole = ms / 1000
        let frac = ms % 1000
        if frac == 0 { return String(whole) }
        var f = String(frac)
        while f.utf8.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}
