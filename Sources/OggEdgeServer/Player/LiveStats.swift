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

    struct Slot {
        var second: Int64 = -1
        var ttfb: [CacheResult: [UInt32]] = [:]
        var playbackStart: [CacheResult: [UInt32]] = [:]
        var audioResponses: [CacheResult: Int] = [:]
    }

    struct Totals {
        var bytes: [CacheResult: Int64] = [:]
        var status: [Int: Int64] = [:]
        var refusals: [String: Int64] = [:]
        var trackBytes: [String: Int64] = [:]
    }

    private let state = Mutex<(slots: [Slot], totals: Totals)>((Array(repeating: Slot(), count: LiveStats.windowSeconds), Totals()))

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

    func record(_ record: DeliveryRecord, nowSeconds: Int64) {
        state.withLock { s in
            s.totals.status[record.status, default: 0] += 1
            if record.auth != "ok" { s.totals.refusals[record.auth, default: 0] += 1 }
            guard let cache = record.cache else { return }
            s.totals.bytes[cache, default: 0] += record.bytesSent
            if let track = record.track, record.bytesSent > 0 {
                if s.totals.trackBytes[track] == nil, s.totals.trackBytes.count >= Self.maxTracks,
                   let smallest = s.totals.trackBytes.min(by: { $0.value < $1.value }) {
                    s.totals.trackBytes[smallest.key] = nil
                }
                s.totals.trackBytes[track, default: 0] += record.bytesSent
            }
            let index = Int(nowSeconds % Int64(Self.windowSeconds))
            if s.slots[index].second != nowSeconds { s.slots[index] = Slot(second: nowSeconds) }
            s.slots[index].audioResponses[cache, default: 0] += 1
            if let ttfb = record.ttfbMicros {
                s.slots[index].ttfb[cache, default: Array(repeating: 0, count: Self.bucketCount)][Self.bucket(micros: ttfb)] += 1
            }
            if let start = record.playbackStartMicros {
                s.slots[index].playbackStart[cache, default: Array(repeating: 0, count: Self.bucketCount)][Self.bucket(micros: start)] += 1
            }
        }
    }

    /// Figures as the ops page reads them.
    struct Snapshot {
        var ttfb: [CacheResult: [UInt32]] = [:]
        var playbackStart: [CacheResult: [UInt32]] = [:]
        var windowResponses: [CacheResult: Int] = [:]
        var totals = Totals()
    }

    func snapshot(nowSeconds: Int64) -> Snapshot {
        state.withLock { s in
            var out = Snapshot(totals: s.totals)
            for slot in s.slots where slot.second > nowSeconds - Int64(Self.windowSeconds) && slot.second <= nowSeconds {
                Self.merge(slot.ttfb, into: &out.ttfb)
                Self.merge(slot.playbackStart, into: &out.playbackStart)
                for (k, v) in slot.audioResponses { out.windowResponses[k, default: 0] += v }
            }
            return out
        }
    }

    private static func merge(_ from: [CacheResult: [UInt32]], into: inout [CacheResult: [UInt32]]) {
        for (key, counts) in from {
            var target = into[key] ?? Array(repeating: 0, count: bucketCount)
            for i in 0..<bucketCount { target[i] += counts[i] }
            into[key] = target
        }
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
