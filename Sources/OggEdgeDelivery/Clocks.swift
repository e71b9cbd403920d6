#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds (for durations: TTFB, playback start, response time).
package enum MonotonicClock {
    package static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Wall-clock time (for timestamps and token expiry).
package enum WallClock {
    package static func millis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    package static func seconds() -> Int64 { millis() / 1000 }
}

