import HTTPTypes
import NIOCore
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// Turns a delivery plan into a response: status, headers and the body's byte ranges. One for
/// complete renditions (validators, length) and renditions still being produced (neither yet).
struct ResponseShape {
    let reader: RenditionReader
    let isHead: Bool
    let cors: HTTPFields
    let log: LogFacts
    let boundary: String

    /// An ordinary object: length, validators and duration known.
    func complete(_ meta: RenditionMeta, plan: DeliveryPlan) -> PreparedResponse {
        var log = self.log
        log.playbackOffset = meta.playbackOffset
        var out = cors
        out[.acceptRanges] = "bytes"
        out[.eTag] = meta.validators.etag.headerValue
        out[.lastModified] = HTTPDate.format(meta.lastModified)
        if let millis = meta.durationMillis, let name = HTTPField.Name("X-Content-Duration") {
            out[name] = TrackResponder.formatDuration(millis: millis)
        }
        let length = meta.length
        switch plan {
        case .full:
            out[.contentType] = "audio/ogg"
            out[.contentLength] = String(length)
            if length > 0 { log.rangeStart = 0; log.rangeEnd = length - 1 }
            return respond(.ok, out, length > 0 ? .range(ByteRange(start: 0, end: length - 1)) : nil, log)
        case .partial(let r):
            return partial(r, total: length, out, log)
        case .multipart(let ranges):
            return multipart(ranges, total: length, out, log)
        case .notModified:
            return notModified(out, log)
        case .preconditionFailed:
            return preconditionFailed(out, log)
        case .unsatisfiable:
            reader.close()
            out[.contentRange] = RangeResolver.unsatisfiedContentRange(length: length)
            return .error(OriginError(status: 416, reason: "range_not_satisfiable"), isHead: isHead, headers: out, log: log)
        }
    }

    /// A rendition still being produced: no validators, no length (`*`), never cached downstream.
    func live(_ plan: LivePlan) -> PreparedResponse {
        var log = self.log
        var out = cors
        out[.acceptRanges] = "bytes"
        out[.cacheControl] = "no-store"
        switch plan {
        case .stream:
            out[.contentType] = "audio/ogg"
            log.rangeStart = 0
            log.playbackOffset = reader.attachment.session.firstAudioPageEnd
            return respond(.ok, out, .stream(start: 0), log)
        case .partial(let r):
            return partial(r, total: nil, out, log)
        case .multipart(let ranges):
            return multipart(ranges, total: nil, out, log)
        case .notModified:
            return notModified(out, log)
        case .preconditionFailed:
            return preconditionFailed(out, log)
        case .wait, .waitForEnd:
            return busy()
        }
    }

    /// The bounded wait ran out: `503` with `Retry-After`.
    func busy() -> PreparedResponse {
        reader.close()
        var headers = cors
        headers[.retryAfter] = "1"
        return .error(OriginError(status: 503, reason: "transcode_in_progress"), isHead: isHead, headers: headers, log: log)
    }

    /// The fill failed before this response started: `502` with the producer's reason.
    func failed(_ reason: String) -> PreparedResponse {
        reader.close()
        var log = self.log
        log.cache = .error
        return .error(OriginError(status: 502, reason: reason), isHead: isHead, headers: cors, log: log)
    }

    private func partial(_ r: ByteRange, total: Int64?, _ headers: HTTPFields, _ log: LogFacts) -> PreparedResponse {
        var out = headers
        var log = log
        out[.contentType] = "audio/ogg"
        out[.contentLength] = String(r.length)
        out[.contentRange] = r.contentRange(completeLength: total)
        log.rangeStart = r.start
        log.rangeEnd = r.end
        return respond(.partialContent, out, .range(r), log)
    }

    private func notModified(_ headers: HTTPFields, _ log: LogFacts) -> PreparedResponse {
        reader.close()
        return PreparedResponse(status: .notModified, headers: headers, body: .empty, log: log)
    }

    private func preconditionFailed(_ headers: HTTPFields, _ log: LogFacts) -> PreparedResponse {
        reader.close()
        return .error(OriginError(status: 412, reason: "precondition_failed"), isHead: isHead, headers: headers, log: log)
    }

    private func multipart(_ ranges: [ByteRange], total: Int64?, _ headers: HTTPFields, _ log: LogFacts) -> PreparedResponse {
        var out = headers
        var log = log
        let plan = MultipartPlan(ranges: ranges, totalLength: total, partContentType: "audio/ogg", boundary: boundary)
        out[.contentType] = plan.contentType
        out[.contentLength] = String(plan.contentLength)
        log.rangeStart = ranges.first?.start
        log.rangeEnd = ranges.last?.end
        return respond(.partialContent, out, .multipart(plan), log)
    }

    private func respond(_ status: HTTPResponse.Status, _ headers: HTTPFields, _ body: RenditionBody?, _ log: LogFacts) -> PreparedResponse {
        guard let body, !isHead else {
            reader.close()
            return PreparedResponse(status: status, headers: headers, body: .empty, log: log)
        }
        return PreparedResponse(status: status, headers: headers, body: .rendition(reader, body), log: log)
    }
}
