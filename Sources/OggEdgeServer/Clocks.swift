#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import OggEdgeCore
import OggEdgeDelivery

/// The `Date` header value, formatted at most once a second.
final class DateHeaderCache: Sendable {
    private let state = Mutex<(second: Int64, value: String)>((0, ""))

    var value: String {
        let now = WallClock.seconds()
        return state.withLock { s in
            if s.second != now {
                s = (now, HTTPDate.format(now))
            }
            return s.value
        }
    }
}

/// Process-unique request ids: a random prefix per process plus a counter.
final class RequestIDGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)
    let prefix: String

    init() {
        var rng = SystemRandomNumberGenerator()
        let random = rng.next() & 0xffff_ffff
        var p = String(random, radix: 16)
        while p.utf8.count < 8 { p = "0" + p }
        prefix = p
    }

    /// The next sequence number (starting at 1).
    func next() -> UInt64 {
        counter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    func id(for sequence: UInt64) -> String {
        prefix + "-" + String(sequence, radix: 16)
    }
}
