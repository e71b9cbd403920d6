import HTTPTypes
import OggEdgeCore

extension TrackResponder {
    /// Answers for a rendition still being encoded.
    ///
    /// From byte 0 (no `Range`, or `bytes=0-`): `200`, streamed while encoding, with no `Content-Length`
    /// (a length that is not known is never announced). A closed range already produced, or
    /// produced within `liveRangeWait`: `206 bytes a-b/*`. An open range `a-`: `206` with what
    /// exists from `a` at that moment (`bytes a-p/*`); the player asks for the rest next. A suffix
    /// range needs the length, so it waits for the end. Once the encode has finished the
    /// rendition is answered as an ordinary object. A wait that runs out is `503` with
    /// `Retry-After`.
    func prepareLive(
        _ live: LiveRendition, track: TrackPath, headers: HTTPFields, isHead: Bool, cors: HTTPFields, log: LogFacts, sequence: UInt64
    ) async -> PreparedResponse {
        var log = log
        log.cache = live.outcome
        let session = live.session
        var out = cors
        out[.acceptRanges] = "bytes"
        out[.contentType] = "audio/ogg"
        out[.cacheControl] = "no-store"

        let specs = headers[.range].flatMap { RangeResolver.parse(Substring($0), maxRanges: rangePolicy.maxRanges) }
        // Several ranges of a live rendition: answer the first (players send one). `bytes=0-` (a
        // browser's first request) is a request from byte 0: it streams like a plain GET, since
        // a 206 needs a last byte position that is not known yet.
        let first = specs?.first
        guard let spec = first, spec != .from(0) else {
            // Wait for the first output (the Vorbis headers) before answering, so a source that
            // cannot be decoded is a clear 502 rather than a 200 cut off after its head.
            let (_, phase) = await session.wait(forProduced: 1, timeout: liveRangeWait)
            if case .failed(let reason) = phase {
                return .error(OriginError(status: 502, reason: reason), isHead: isHead, headers: cors, log: log)
            }
            log.rangeStart = 0
            var end: Int64?
            if case .finished(let length) = session.phase, length > 0 {
                end = length - 1
                out[.contentLength] = String(length)
                log.rangeEnd = end
            }
            return PreparedResponse(status: .ok, headers: out, body: isHead ? .empty : .live(live, start: 0, end: end), log: log)
        }
        let needed: Int64
        switch spec {
        case .closed(let first, let last): needed = last + 1; _ = first
        case .from(let first): needed = first + 1
        case .suffix: needed = .max
        }
        let (produced, phase) = await session.wait(forProduced: needed, timeout: liveRangeWait)
        switch phase {
        case .failed(let reason):
            return .error(OriginError(status: 502, reason: reason), isHead: isHead, headers: cors, log: log)
        case .finished(let length):
            // Complete now: plan it like any object of known length.
            guard let range = spec.resolve(length: length) else {
                out[.contentRange] = "bytes */\(length)"
                return .error(OriginError(status: 416, reason: "range_not_satisfiable"), isHead: isHead, headers: out, log: log)
            }
            return liveRange(live, range, total: "\(length)", isHead: isHead, headers: out, log: log)
        case .running:
            let range: ByteRange
            switch spec {
            case .closed(let first, let last) where produced > last:
                range = ByteRange(start: first, end: last)
            case .from(let first) where produced > first:
                range = ByteRange(start: first, end: produced - 1)
            default:
                var headers = cors
                headers[.retryAfter] = "1"
                return .error(OriginError(status: 503, reason: "transcode_in_progress"), isHead: isHead, headers: headers, log: log)
            }
            return liveRange(live, range, total: "*", isHead: isHead, headers: out, log: log)
        }
    }

    private func liveRange(
        _ live: LiveRendition, _ range: ByteRange, total: String, isHead: Bool, headers: HTTPFields, log: LogFacts
    ) -> PreparedResponse {
        var out = headers
        var log = log
        out[.contentLength] = String(range.length)
        out[.contentRange] = "bytes \(range.start)-\(range.end)/\(total)"
        log.rangeStart = range.start
        log.rangeEnd = range.end
        return PreparedResponse(
            status: .partialContent, headers: out, body: isHead ? .empty : .live(live, start: range.start, end: range.end), log: log
        )
    }
}
