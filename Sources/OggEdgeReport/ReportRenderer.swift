import Foundation

/// Formats a ``DeliveryReport`` for people (a table) or for programs (JSON).
public enum ReportRenderer {
    /// Cache results in the contract's order; others follow alphabetically.
    static let cacheOrder = ["HIT", "MISS", "TRANSCODE", "COALESCED", "UPSTREAM", "DENIED", "ERROR"]

    /// A plain-text report with aligned columns; latencies in milliseconds with one decimal
    /// (`-` when a group has no samples), ratios in percent with one decimal.
    public static func table(_ r: DeliveryReport) -> String {
        var out: [String] = ["OggEdge delivery report", ""]
        var summary: [[String]] = []
        if let start = r.windowStart {
            summary.append(["Window", "since \(start) (last \(describe(seconds: r.sinceSeconds ?? 0)))"])
        } else {
            summary.append(["Window", "all records"])
        }
        if let first = r.firstTimestamp, let last = r.lastTimestamp { summary.append(["Records", "\(first) .. \(last)"]) }
        summary.append(["Lines", "\(r.linesRead) read, \(r.requests) counted, \(r.skippedLines) skipped (not a record), \(r.outsideWindow) outside window"])
        summary.append(["Requests", "\(r.requests)"])
        summary.append(["Bytes sent", "\(r.bytesSent) (\(humanBytes(r.bytesSent)))"])
        summary.append(["Hit ratio", "\(percent(r.hitRatio))  (\(r.hitResponses) of \(r.audioResponses) responses with audio bytes were HIT or COALESCED)"])
        summary.append(["Slow starts", "\(percent(r.slowPlaybackShare))  (\(r.slowPlaybackStarts) of \(r.playbackStart.count) playback starts over \(DeliveryReport.slowPlaybackThresholdUs / 1000) ms)"])
        summary.append(["Aborted", "\(r.aborted)"])
        out += grid(summary, header: nil, right: [])

        var latency: [[String]] = []
        for (name, overall, byCache, byKbps) in [
            ("TTFB", r.ttfb, r.ttfbByCache, r.ttfbByKbps),
            ("Playback start", r.playbackStart, r.playbackStartByCache, r.playbackStartByKbps),
        ] {
            latency.append(row(name, "all", overall))
            for key in sortedCacheKeys(byCache.keys) { latency.append(row(name, key, byCache[key]!)) }
            for key in byKbps.keys.sorted(by: numericOrder) { latency.append(row(name, "\(key) kbps", byKbps[key]!)) }
        }
        out += [""] + grid(latency, header: ["Latency (ms)", "group", "count", "p50", "p95", "p99"], right: [2, 3, 4, 5])

        out += ["", "Slowest tracks (by p95 playback start, else p95 TTFB)"]
        if r.slowestTracks.isEmpty {
            out.append("  (none)")
        } else {
            let rows = r.slowestTracks.enumerated().map { i, t in
                ["\(i + 1)", t.track, "\(t.requests)", "\(t.playbackStart.count)", ms(t.playbackStart.p95Us),
                 "\(t.ttfb.count)", ms(t.ttfb.p95Us)]
            }
            out += grid(rows, header: ["#", "track", "requests", "starts", "start p95", "ttfbs", "ttfb p95"], right: [0, 2, 3, 4, 5, 6])
        }

        for (title, counts, keys) in [
            // Refusals: most frequent first, then by reason.
            ("Refusals", r.refusals, r.refusals.keys.sorted { (r.refusals[$0]!, $1) > (r.refusals[$1]!, $0) }),
            ("Status", r.statusCounts, r.statusCounts.keys.sorted(by: numericOrder)),
            ("Cache", r.cacheCounts, sortedCacheKeys(r.cacheCounts.keys)),
        ] {
            out.append("")
            if keys.isEmpty {
                out.append("\(title): none")
            } else {
                out += grid(keys.map { [$0, "\(counts[$0]!)"] }, header: [title, "count"], right: [1])
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The report as pretty-printed JSON with sorted keys; every key is always present (`null`
    /// for absent values). Latencies are integer microseconds, ratios fractions in 0...1.
    public static func json(_ r: DeliveryReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(r) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: - Formatting helpers

    /// Microseconds as milliseconds with one decimal; `-` for nil.
    static func ms(_ us: Int?) -> String {
        guard let us else { return "-" }
        return String(format: "%.1f", Double(us) / 1000)
    }

    static func percent(_ ratio: Double?) -> String {
        guard let ratio else { return "-" }
        return String(format: "%.1f %%", ratio * 100)
    }

    static func humanBytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func describe(seconds: Double) -> String {
        var rest = Int(seconds)
        var parts: [String] = []
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.isEmpty ? "0s" : parts.joined()
    }

    static func row(_ metric: String, _ group: String, _ s: LatencySummary) -> [String] {
        [metric, group, "\(s.count)", ms(s.p50Us), ms(s.p95Us), ms(s.p99Us)]
    }

    static func sortedCacheKeys(_ keys: some Collection<String>) -> [String] {
        keys.sorted { a, b in
            let ia = cacheOrder.firstIndex(of: a) ?? cacheOrder.count
            let ib = cacheOrder.firstIndex(of: b) ?? cacheOrder.count
            return ia != ib ? ia < ib : a < b
        }
    }

    static func numericOrder(_ a: String, _ b: String) -> Bool {
        switch (Int(a), Int(b)) {
        case let (x?, y?): x < y
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): a < b
        }
    }

    /// Rows padded into columns two spaces apart; columns in `right` are right-aligned.
    static func grid(_ rows: [[String]], header: [String]?, right: Set<Int>) -> [String] {
        let all = (header.map { [$0] } ?? []) + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return all.map { cells in
            var line = cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return right.contains(c) ? pad + cell : cell + pad
            }
            .joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}
