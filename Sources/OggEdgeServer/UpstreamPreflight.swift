import HTTPTypes
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// A response about to stream a pulled rendition makes sure its first chunk can be had before the
/// head goes out: when no parent can deliver it, the player gets a clean `502`/`504` JSON answer
/// instead of a `200` cut after its head. Cached chunks cost one cache lookup; a miss starts the
/// chunk's slice, which the body then reads.
enum UpstreamPreflight {
    static func ready(_ prepared: PreparedResponse, cors: HTTPFields) async -> PreparedResponse {
        guard case .rendition(let reader, let body) = prepared.body, reader.attachment.origin.kind == .upstream else {
            return prepared
        }
        let first: Int64?
        switch body {
        case .range(let range): first = range.start
        case .multipart(let plan): first = plan.parts.first?.range.start
        case .stream(let start): first = start
        }
        guard let first else { return prepared }
        do {
            try await reader.ensureReadable(first)
            return prepared
        } catch {
            reader.close()
            var reason = "upstream_unavailable"
            if case SourceReadError.failed(let why)? = error as? SourceReadError, why == "upstream_timeout" { reason = why }
            var log = prepared.log
            log.cache = .error
            return .error(OriginError(status: reason == "upstream_timeout" ? 504 : 502, reason: reason), isHead: false, headers: cors, log: log)
        }
    }
}
