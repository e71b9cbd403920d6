import OggEdgeCore
import Synchronization

/// Recent delivery figures for the ops page (`GET /admin/live`): latency percentiles by cache
/// result over the last minute, and totals since start (bytes by cache result, responses by status,
/// refusals by reason, bytes by track).
///
/// Latencies go into log-scale buckets (four per octave of microseconds, so a percentile is
/// within 19 % of the truth) of one-second slots in a 60-slot ring: recording is a few additions
/// under a lock, and a snapshot merges at most 60 slots.
final class LiveStats: Sendable {
    static let shared = LiveStats()
    static let bucketCount = 100
    static let windowSeconds = 60
    /// Bytes by track are kept for at most this many tracks (the smallest is dropped).
    static let maxTracks = 2000

    /// The cache results in a fixed order, so hot-path counters are arrays indexed by position.
    static let results: [CacheResult] = [.hit, .miss, .transcode, .coalesced, .upstream, .denied, .error]

    static func index(_ result: CacheResult) -> Int {
        switch result {
        case .hit: 0
        case .miss: 1
        case .transcode: 2
        case .coalesced: 3
        case .upstream: 4
        case .denied: 5
        case .error: 6
        }
    }

    /// Everything behind the lock, in flat arrays allocated once: `[second slot][result][bucket]`
    /// for the latency buckets, `[second slot][result]` for response counts. A slot reused for a
    /// new second is zeroed in place, so recording an audio response never allocates (the fast
    /// lane records on the event loop under an allocation budget).
    struct State {
        static let perSlot = LiveStats.results.count * LiveStats.bucketCount
        var seconds = [Int64](repeating: -1, count: LiveStats.windowSeconds)
        var ttfb = [UInt32](repeating: 0, count: LiveStats.windowSeconds * State.perSlot)
        var playbackStart = [UInt32](repeating: 0, count: LiveStats.windowSeconds * State.perSlot)
        var responses = [Int](repeating: 0, count: LiveStats.windowSeconds * LiveStats.results.count)
        var bytes = [Int64](repeating: 0, count: LiveStats.results.count)
        /// Responses by status code, indexed by the code (100–599; others are not HTTP statuses).
        var status = [Int64](repeating: 0, count: 600)
        var refusals: [String: Int64] = [:]
        var trackBytes: [String: Int64] = [:]

        mutating func reset(slot: Int, to second: Int64) {
            seconds[slot] = second
            for i in (slot * State.perSlot)..<((slot + 1) * State.perSlot) { ttfb[i] = 0; playbackStart[i] = 0 }
            let n = LiveStats.results.count
            for i in (slot * n)..<((slot + 1) * n) { responses[i] = 0 }
        }
    }

    private let state = Mutex(State())

    static func bucket(micros: Int64) -> Int {
        guard micros > 1 else { return 0 }
        var value = Double(micros)
        var octaves = 0
        while value >= 2 { value /= 2; octaves += 1 }
        // value in [1, 2): quarter-octave position.
        let quarter = value < 1.1892 ? 0 : value < 1.4142 ? 1 : value < 1.6818 ? 2 : 3
        return min(bucketCount - 1, octaves * 4 + quarter)
    }

    /// Upper bound of a bucket, in milliseconds.
    static func upperBoundMs(bucket: Int) -> Double {
        var micros = 1.0
        for _ in 0..<((bucket + 1) / 4) { micros *= 2 }
        let quarters = [1.0, 1.1892, 1.4142, 1.6818]
        micros *= quarters[(bucket + 1) % 4]
        return micros / 1000
    }

    /// Records one response. Plain get-then-set instead of `+=` on subscripts: in a debug build an
    /// unspecialised `_modify` accessor allocates its coroutine frame, and this runs on the event
    /// loop of the fast lane, whose allocation budget is checked in debug builds.
    func record(_ record: DeliveryRecord, nowSeconds: Int64) {
        state.withLock { s in
            if record.status >= 100, record.status < 600 { s.status[record.status] = s.status[record.status] + 1 }
            if record.auth != "ok" { s.refusals[record.auth] = (s.refusals[record.auth] ?? 0) + 1 }
            guard let cache = record.cache else { return }
            let r = Self.index(cache)
            s.bytes[r] = s.bytes[r] + record.bytesSent
            if let track = record.track, record.bytesSent > 0 {
                // One lookup for a known track (the usual case).
                if let i = s.trackBytes.index(forKey: track) {
                    s.trackBytes.values[i] = s.trackBytes.values[i] + record.bytesSent
                } else {
                    if s.trackBytes.count >= Self.maxTracks, let smallest = s.trackBytes.min(by: { $0.value < $1.value }) {
                        s.trackBytes[smallest.key] = nil
                    }
                    s.trackBytes[track] = record.bytesSent
                }
            }
            let slot = Int(nowSeconds % Int64(Self.windowSeconds))
            if s.seconds[slot] != nowSeconds { s.reset(slot: slot, to: nowSeconds) }
            let n = slot * Self.results.count + r
            s.responses[n] = s.responses[n] + 1
            let base = slot * State.perSlot + r * Self.bucketCount
            if let ttfb = record.ttfbMicros {
                let i = base + Self.bucket(micros: ttfb)
                s.ttfb[i] = s.ttfb[i] &+ 1
            }
            if let start = record.playbackStartMicros {
                let i = base + Self.bucket(micros: start)
                s.playbackStart[i] = s.playbackStart[i] &+ 1
            }
        }
    }

    /// Figures as the ops page reads them.
    struct Snapshot {
        var ttfb: [CacheResult: [UInt32]] = [:]
        var playbackStart: [CacheResult: [UInt32]] = [:]
        var windowResponses: [CacheResult: Int] = [:]
        var bytes: [CacheResult: Int64] = [:]
        var status: [Int: Int64] = [:]
        var refusals: [String: Int64] = [:]
        var trackBytes: [String: Int64] = [:]
    }

    func snapshot(nowSeconds: Int64) -> Snapshot {
        state.withLock { s in
            // Copies, so the next record does not pay a copy-on-write on the event loop.
            var out = Snapshot(status: Dictionary(uniqueKeysWithValues: s.status.indices.filter { s.status[$0] > 0 }.map { ($0, s.status[$0]) }),
                               refusals: Dictionary(uniqueKeysWithValues: s.refusals.map { ($0, $1) }),
                               trackBytes: Dictionary(uniqueKeysWithValues: s.trackBytes.map { ($0, $1) }))
            for (r, result) in Self.results.enumerated() where s.bytes[r] > 0 { out.bytes[result] = s.bytes[r] }
            for slot in 0..<Self.windowSeconds where s.seconds[slot] > nowSeconds - Int64(Self.windowSeconds) && s.seconds[slot] <= nowSeconds {
                for (r, result) in Self.results.enumerated() where s.responses[slot * Self.results.count + r] > 0 {
                    out.windowResponses[result, default: 0] += s.responses[slot * Self.results.count + r]
                    let base = slot * State.perSlot + r * Self.bucketCount
                    Self.add(s.ttfb[base..<(base + Self.bucketCount)], into: &out.ttfb[result, default: [UInt32](repeating: 0, count: Self.bucketCount)])
                    Self.add(s.playbackStart[base..<(base + Self.bucketCount)], into: &out.playbackStart[result, default: [UInt32](repeating: 0, count: Self.bucketCount)])
                }
            }
            for result in Self.results {
                if out.ttfb[result]?.allSatisfy({ $0 == 0 }) == true { out.ttfb[result] = nil }
                if out.playbackStart[result]?.allSatisfy({ $0 == 0 }) == true { out.playbackStart[result] = nil }
            }
            return out
        }
    }

    private static func add(_ from: ArraySlice<UInt32>, into: inout [UInt32]) {
        for (i, c) in from.enumerated() { into[i] += c }
    }

    /// The `p`-quantile (0...1) of a bucket histogram, as a bucket's upper bound in ms.
    static func quantile(_ counts: [UInt32], _ p: Double) -> Double? {
        let total = counts.reduce(0) { $0 + Int($1) }
        guard total > 0 else { return nil }
        let rank = max(1, Int((p * Double(total)).rounded(.up)))
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += Int(c)
            if seen >= rank { return upperBoundMs(bucket: i) }
        }
        return nil
    }
}
