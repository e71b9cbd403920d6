import OggEdgeCore

/// What a parent tier says about one rendition: the validators and length every edge answer
/// carries over, learnt from the parent's first response.
package struct UpstreamFacts: Sendable, Equatable {
    /// Complete length in bytes.
    package var length: Int64
    /// Strong ETag without quotes (synthesized from length and Last-Modified when the parent
    /// sent none).
    package var etag: String
    /// True when `etag` came from the parent (so `If-Match` can be sent).
    package var etagFromParent: Bool
    /// Last-Modified, Unix seconds.
    package var lastModified: Int64
    /// `X-Content-Duration` in milliseconds, when the parent sent it.
    package var durationMillis: Int64?

    package init(length: Int64, etag: String, etagFromParent: Bool, lastModified: Int64, durationMillis: Int64?) {
        self.length = length
        self.etag = etag
        self.etagFromParent = etagFromParent
        self.lastModified = lastModified
        self.durationMillis = durationMillis
    }
}

/// Why a parent tier could not deliver.
package enum UpstreamError: Error, Sendable, Equatable {
    /// A parent answered 404: the rendition does not exist upstream.
    case notFound
    /// No parent could answer (refused, 5xx, malformed answers, all tried).
    case unavailable
    /// The parents tried did not answer in time (connect, first byte or stall timeout).
    case timeout
    /// The rendition changed upstream (another ETag, or `412` on `If-Match`).
    case changed
    /// The range starts past the end of the rendition (`416`).
    case unsatisfiable

    /// The reason word used in logs and JSON error bodies.
    package var reason: String {
        switch self {
        case .notFound: "not_found"
        case .unavailable: "upstream_unavailable"
        case .timeout: "upstream_timeout"
        case .changed: "upstream_changed"
        case .unsatisfiable: "range_not_satisfiable"
        }
    }

    /// The delivery error a new response gets.
    package var delivery: DeliveryError {
        switch self {
        case .notFound: .notFound
        case .unavailable, .changed, .unsatisfiable: .upstream(reason: "upstream_unavailable", timedOut: false)
        case .timeout: .upstream(reason: "upstream_timeout", timedOut: true)
        }
    }
}

/// The bytes of one range of a rendition from a parent: the answering parent's facts, then the
/// body in order. A fetcher that loses its parent mid-body resumes from the next one (`Range`
/// from the next missing byte, `If-Match` on the ETag), so the stream is one unbroken sequence of
/// exactly the requested bytes, or it throws an ``UpstreamError``.
package struct UpstreamBody: Sendable {
    package let facts: UpstreamFacts
    package let bytes: AsyncThrowingStream<[UInt8], any Error>

    package init(facts: UpstreamFacts, bytes: AsyncThrowingStream<[UInt8], any Error>) {
        self.facts = facts
        self.bytes = bytes
    }
}

/// What a revalidation with the parent found.
package enum UpstreamRevalidation: Sendable, Equatable {
    /// `304`, or the same ETag: keep serving the cached copy.
    case unchanged
    /// Another ETag or length: drop the cached copy.
    case changed
    /// The parent answered 404: drop the cached copy.
    case gone
    /// No parent answered: keep serving, try again later.
    case unknown
}

/// A parent tier: the HTTP side of the streaming proxy (see `OggEdgeUpstream`). The delivery
/// layer only asks for byte ranges of renditions; choosing, signing, failing over and resuming
/// are the fetcher's.
package protocol UpstreamFetcher: Sendable {
    /// Bytes `range` of `track` (clamped to the length when `expecting` is `nil`, the first
    /// request of a pull, which learns the facts).
    /// - Parameter expecting: the facts of the version being pulled; a parent with another
    ///   version answers ``UpstreamError/changed``.
    func fetch(_ track: TrackPath, range: ByteRange, expecting: UpstreamFacts?) async throws(UpstreamError) -> UpstreamBody

    /// Asks the parent whether `facts` is still the current version (`If-None-Match`).
    func revalidate(_ track: TrackPath, facts: UpstreamFacts) async -> UpstreamRevalidation
}

/// How the directory uses a parent tier.
package struct UpstreamSettings: Sendable {
    /// The parents, behind their fetcher.
    package var fetcher: any UpstreamFetcher
    /// Chunks per slice: the unit fetched from a parent on a miss.
    package var sliceChunks: Int
    /// A cached rendition is revalidated with its parent at most this often.
    package var revalidateInterval: Duration
    /// A parent's 404 is remembered this long.
    package var negativeTTL: Duration

    package init(fetcher: any UpstreamFetcher, sliceChunks: Int = 4, revalidateInterval: Duration = .seconds(300), negativeTTL: Duration = .seconds(10)) {
        self.fetcher = fetcher
        self.sliceChunks = max(1, sliceChunks)
        self.revalidateInterval = revalidateInterval
        self.negativeTTL = negativeTTL
    }
}
