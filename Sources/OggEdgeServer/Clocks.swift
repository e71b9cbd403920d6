#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import OggEdgeCore

/// Monotonic time in nanoseconds (for durations: TTFB, playback start, response time).
enum MonotonicClock {
    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Wall-clock time (for timestamps and token expiry).
enum WallClock {
    static func millis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static func seconds() -> Int64 { millis() / 1000 }
}

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
