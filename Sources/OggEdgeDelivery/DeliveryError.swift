/// Why a rendition could not be delivered, as the delivery layer knows it (no HTTP here: the
/// server turns each case into a status and a JSON reason in one place).
package enum DeliveryError: Error, Sendable, Equatable {
    /// Nothing can build this rendition (no file, no master, no other rendition).
    case notFound
    /// The source exists but is not usable audio; `reason` is the contract's error word
    /// (`corrupt_master`, `corrupt_rendition`, `unsupported_wav_format`, `unreadable_source`).
    case badSource(reason: String)
    /// A transcode could not start (no room for its state).
    case unavailable(reason: String)
    /// No parent tier could deliver (`upstream_unavailable`, or `upstream_timeout` when
    /// `timedOut`).
    case upstream(reason: String, timedOut: Bool)
}

/// A source failed while a response was being read.
package enum SourceReadError: Error, Sendable {
    /// A system call failed.
    case io(errno: Int32)
    /// The source ended before the bytes it promised.
    case truncated
    /// The source is no longer the version the response started with.
    case changed
    /// A chunk left the cache and nothing can produce it again (an evicted transcode chunk).
    case lost
    /// The producer did not deliver the bytes within the wait it was given.
    case stalled
    /// The producer failed (`reason` as in ``DeliveryError/badSource(reason:)``).
    case failed(reason: String)
}
