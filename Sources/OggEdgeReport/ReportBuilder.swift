import Foundation
import OggEdgeCore

/// What a report covers.
public struct ReportOptions: Sendable {
    /// Only records with `ts >= now - since` count; `nil` counts every record.
    public var since: Duration?
    /// The reference time for ``since`` (compared to the millisecond).
    public var now: Date

    /// Options covering the last `since` before `now` (everything when `since` is nil).
    public init(since: Duration? = nil, now: Date = Date()) {
        self.since = since
        self.now = now
    }
}

/// Why a log could not be summarised.
public enum ReportError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist, is a directory or cannot be opened.
    case cannotOpen(path: String, reason: String)
    /// Reading failed part-way.
    case readFailed(path: String, reason: String)

    /// One line for the terminal.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot read delivery log '\(path)': \(reason)"
        case .readFailed(let path, let reason): "error while reading delivery log '\(path)': \(reason)"
        }
    }
}

/// Builds a ``DeliveryReport`` from delivery-log lines.
public enum ReportBuilder {
    /// Bytes read per `read` call.
    static let chunkSize = 1 << 20
    /// Lines longer than this are skipped without being buffered whole.
    static let maxLineBytes = 1 << 20

    /// Streams the file at `logPath` in 1 MiB chunks (constant memory apart from the latency
    /// samples kept per group). Throws ``ReportError`` when the file cannot be read; malformed
    /// lines never throw, they are counted in ``DeliveryReport/skippedLines``.
    public static func build(logPath: String, options: ReportOptions) throws -> DeliveryReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: logPath, isDirectory: &isDirectory) else {
            throw ReportError.cannotOpen(path: logPath, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ReportError.cannotOpen(path: logPath, reason: "is a directory") }
        guard let handle = FileHandle(forReadingAtPath: logPath) else {
            throw ReportError.cannotOpen(path: logPath, reason: "permission denied or not a regular file")
        }
        defer { try? handle.close() }
        var accumulator = ReportAccumulator(options: options)
        var pending = Data()
        var discarding = false  // inside an overlong line that was already counted
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: chunkSize) ?? Data() } catch {
                throw ReportError.readFailed(path: logPath, reason: error.localizedDescription)
            }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { raw in
                var start = 0
                while let newline = raw[start...].firstIndex(of: 0x0A) {
                    let line = UnsafeRawBufferPointer(rebasing: raw[start..<newline])
                    if discarding {
                        discarding = false
                    } else if pending.isEmpty {
                        accumulator.add(line: Data(line))
                    } else {
                        pending.append(contentsOf: line)
                        accumulator.add(line: pending)
                        pending.removeAll(keepingCapacity: true)
                    }
                    start = newline + 1
                }
                if !discarding { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...])) }
            }
            if pending.count > maxLineBytes {
                accumulator.skipOverlongLine()
                pending = Data()
                discarding = true
            }
        }
        if !discarding, !pending.isEmpty { accumulator.add(line: pending) }  // no final newline: maybe truncated
        return accumulator.report()
    }

    /// Summarises `lines` (each one log line, without its newline). Never fails.
    public static func build(lines: some Sequence<Substring>, options: ReportOptions) -> DeliveryReport {
        var accumulator = ReportAccumulator(options: options)
        for line in lines { accumulator.add(line: Data(line.utf8)) }
        return accumulator.report()
    }
}

/// Per-track samples.
struct TrackSamples {
    var requests = 0
    var ttfb: [Int] = []
    var playbackStart: [Int] = []
}

/// Folds log lines into counters and latency samples.
struct ReportAccumulator {
    let options: ReportOptions
    let cutoffMs: Int64?
    var linesRead = 0, skipped = 0, outside = 0, requests = 0, bytesSent = 0
    var hits = 0, audioResponses = 0, slowStarts = 0, aborted = 0
    var firstMs: Int64?, lastMs: Int64?
    var ttfbByCache: [String: [Int]] = [:], ttfbByKbps: [Int: [Int]] = [:]
    var startByCache: [String: [Int]] = [:], startByKbps: [Int: [Int]] = [:]
    var tracks: [String: TrackSamples] = [:]
    var refusals: [String: Int] = [:], statuses: [String: Int] = [:], caches: [String: Int] = [:]

    init(options: ReportOptions) {
        self.options = options
        if let since = options.since {
            let nowMs = Int64((options.now.timeIntervalSince1970 * 1000).rounded())
            let (seconds, attoseconds) = since.components
            let sinceMs = seconds.multipliedReportingOverflow(by: 1000)
            cutoffMs = sinceMs.overflow ? Int64.min : nowMs - (sinceMs.partialValue + attoseconds / 1_000_000_000_000_000)
        } else {
            cutoffMs = nil
        }
    }

    /// Counts one overlong (and therefore unparsed) line.
    mutating func skipOverlongLine() {
        linesRead += 1
        skipped += 1
    }

    /// Adds one line; blank lines are ignored entirely.
    mutating func add(line: Data) {
        guard line.contains(where: { !LogLine.isSpace($0) }) else { return }
        linesRead += 1
        guard let record = LogLine.parse(line) else {
            skipped += 1
            return
        }
        if let cutoffMs, record.timestampMs < cutoffMs {
            outside += 1
            return
        }
        requests += 1
        bytesSent += record.bytesSent
        firstMs = min(firstMs ?? record.timestampMs, record.timestampMs)
        lastMs = max(lastMs ?? record.timestampMs, record.timestampMs)
        statuses[String(record.status), default: 0] += 1
        if record.auth != "ok" { refusals[record.auth, default: 0] += 1 }
        if record.aborted { aborted += 1 }
        // Not audio delivery (health, metrics, admin, events, preflights): no cache result, no
        // track, latency or hit-ratio sample.
        guard let cache = record.cache else { return }
        caches[cache, default: 0] += 1
        if let track = record.track { tracks[track, default: TrackSamples()].requests += 1 }

        guard cache != "DENIED", cache != "ERROR" else { return }  // latency: served only
        if record.bytesSent > 0 {
            audioResponses += 1
            if cache == "HIT" || cache == "COALESCED" { hits += 1 }
        }
        if let ttfb = record.ttfbUs {
            ttfbByCache[cache, default: []].append(ttfb)
            if let kbps = record.kbps { ttfbByKbps[kbps, default: []].append(ttfb) }
            if let track = record.track { tracks[track, default: TrackSamples()].ttfb.append(ttfb) }
        }
        if let start = record.playbackStartUs {
            startByCache[cache, default: []].append(start)
            if let kbps = record.kbps { startByKbps[kbps, default: []].append(start) }
            if let track = record.track { tracks[track, default: TrackSamples()].playbackStart.append(start) }
            if start > DeliveryReport.slowPlaybackThresholdUs { slowStarts += 1 }
        }
    }

    /// The finished report.
    func report() -> DeliveryReport {
        let playbackStart = LatencySummary(samples: startByCache.values.flatMap { $0 })
        return DeliveryReport(
            linesRead: linesRead, skippedLines: skipped, outsideWindow: outside,
            sinceSeconds: options.since.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 },
            windowStart: cutoffMs.map { RFC3339.formatMillis($0) },
            firstTimestamp: firstMs.map { RFC3339.formatMillis($0) },
            lastTimestamp: lastMs.map { RFC3339.formatMillis($0) },
            requests: requests, bytesSent: bytesSent,
            hitResponses: hits, audioResponses: audioResponses,
            hitRatio: audioResponses > 0 ? Double(hits) / Double(audioResponses) : nil,
            ttfb: LatencySummary(samples: ttfbByCache.values.flatMap { $0 }),
            ttfbByCache: ttfbByCache.mapValues { LatencySummary(samples: $0) },
            ttfbByKbps: Dictionary(uniqueKeysWithValues: ttfbByKbps.map { (String($0.key), LatencySummary(samples: $0.value)) }),
            playbackStart: playbackStart,
            playbackStartByCache: startByCache.mapValues { LatencySummary(samples: $0) },
            playbackStartByKbps: Dictionary(uniqueKeysWithValues: startByKbps.map { (String($0.key), LatencySummary(samples: $0.value)) }),
            slowPlaybackStarts: slowStarts,
            slowPlaybackShare: playbackStart.count > 0 ? Double(slowStarts) / Double(playbackStart.count) : nil,
            slowestTracks: slowestTracks(),
            refusals: refusals, statusCounts: statuses, cacheCounts: caches, aborted: aborted
        )
    }

    /// Tracks with latency samples, slowest first (see ``DeliveryReport/slowestTracks``).
    func slowestTracks() -> [TrackLatency] {
        let ranked = tracks.compactMap { track, samples -> (key: Int, value: TrackLatency)? in
            let start = LatencySummary(samples: samples.playbackStart)
            let ttfb = LatencySummary(samples: samples.ttfb)
            guard let key = start.p95Us ?? ttfb.p95Us else { return nil }
            return (key, TrackLatency(track: track, requests: samples.requests, playbackStart: start, ttfb: ttfb))
        }
        return ranked.sorted { a, b in
            if a.key != b.key { return a.key > b.key }
            if a.value.requests != b.value.requests { return a.value.requests > b.value.requests }
            return a.value.track < b.value.track
        }
        .prefix(DeliveryReport.slowestTrackLimit).map(\.value)
    }
}
