import HTTPTypes
import NIOCore
import OggEdgeCore
import OggEdgeDelivery

/// A response decided but not yet written: status, headers and where the body comes from.
///
/// Handlers only decide; ``OriginHandler`` writes every response the same way, so byte counts,
/// timings and the delivery log are measured in one place.
struct PreparedResponse: Sendable {
    /// What the body is made of.
    enum Body: Sendable {
        /// No body (HEAD, 304, 204).
        case empty
        /// A small body already in memory.
        case buffer(ByteBuffer)
        /// Bytes of a rendition: one range, several as `multipart/byteranges`, or a stream.
        case rendition(RenditionReader, RenditionBody)
    }

    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Body
    /// Fields of the delivery log this response fills in (track, cache result, auth, range).
    var log: LogFacts

    init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: Body = .empty, log: LogFacts = .init()) {
        self.status = status
        self.headers = headers
        self.body = body
        self.log = log
    }

    /// A JSON error answer `{"error":"reason"}`; no body for HEAD.
    static func error(_ error: OriginError, isHead: Bool, headers extra: HTTPFields = [:], log: LogFacts = .init()) -> PreparedResponse {
        var headers = extra
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        var text = "{\"error\":"
        text += JSONString.quoted(error.reason)
        text += "}"
        headers[.contentLength] = String(text.utf8.count)
        var log = log
        if error.status == 403 {
            log.cache = .denied
            log.auth = error.reason
        } else if log.cache != nil, log.cache != .denied {
            log.cache = .error
        }
        let body: Body = isHead ? .empty : .buffer(ByteBuffer(string: text))
        return PreparedResponse(status: .init(code: error.status), headers: headers, body: body, log: log)
    }

    /// A small text or JSON answer.
    static func text(_ status: HTTPResponse.Status, _ text: String, contentType: String, isHead: Bool) -> PreparedResponse {
        var headers: HTTPFields = [:]
        headers[.contentType] = contentType
        headers[.contentLength] = String(text.utf8.count)
        headers[.cacheControl] = "no-store"
        return PreparedResponse(status: status, headers: headers, body: isHead ? .empty : .buffer(ByteBuffer(string: text)))
    }
}

/// The part of a rendition a response carries.
enum RenditionBody: Sendable {
    /// One contiguous range (the whole representation for a 200).
    case range(ByteRange)
    /// Several ranges framed by a `multipart/byteranges` plan.
    case multipart(MultipartPlan)
    /// From `start` to the end of a rendition still being produced (length unknown).
    case stream(start: Int64)
}

/// Delivery-log facts decided while the response is prepared.
struct LogFacts: Sendable {
    var track: String?
    var kbps: Int?
    var uid: String?
    /// nil for responses that are not audio delivery (logged as `null`, counted nowhere).
    var cache: CacheResult?
    var auth: String = "ok"
    var rangeStart: Int64?
    var rangeEnd: Int64?
    /// Offset past the first audio page; a body that starts at 0 and passes it has started playback.
    var playbackOffset: Int64?
}
