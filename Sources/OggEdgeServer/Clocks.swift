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

    /// `PREFIX-SEQUENCE` (sequence in lowercase hex): 15 bytes or fewer for the first 2^24
    /// requests, which Swift keeps inline (no allocation); longer ones are formatted the same way.
    func id(for sequence: UInt64) -> String {
        let prefixBytes = prefix.utf8
        var digits = 1
        while digits < 16, sequence >> (4 * UInt64(digits)) != 0 { digits += 1 }
        let count = prefixBytes.count + 1 + digits
        return String(unsafeUninitializedCapacity: count) { out in
            var i = 0
            for byte in prefixBytes { out[i] = byte; i += 1 }
            out[i] = UInt8(ascii: "-")
            var rest = sequence
            var j = count - 1
            while j > i {
                let nibble = UInt8(truncatingIfNeeded: rest & 0xf)
                out[j] = nibble < 10 ? 48 + nibble : 87 + nibble
                rest >>= 4
                j -= 1
            }
            return count
        }
    }
}
