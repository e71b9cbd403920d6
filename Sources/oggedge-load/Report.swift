import Foundation
import Histogram

/// Text, the `RESULT` line and the HdrHistogram files of one run.
struct LoadReport {
    var stats: LoadStats
    /// The generator's own CPU time (user + system) over the run, seconds, and the run's wall time.
    var clientCPUSeconds: Double
    var wallSeconds: Double
    var offeredRate: Double
    var duration: Double
    var label: String

    static let percentiles: [(String, Double)] = [
        ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9), ("max", 100),
    ]

    private func ms(_ micros: UInt64) -> String { String(format: "%.3f", Double(micros) / 1000) }

    private func row(_ name: String, _ histogram: Histogram<UInt64>) -> String {
        let values = Self.percentiles.map { "\($0.0) \(ms(histogram.valueAtPercentile($0.1)))" }
        return "  \(name.padding(toLength: 11, withPad: " ", startingAt: 0)) " + values.joined(separator: "  ") + " ms\n"
    }

    var achievedRate: Double { Double(stats.completed) / duration }

    /// User + system CPU seconds of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    func text() -> String {
        var out = label.isEmpty ? "" : "[\(label)]\n"
        out += String(
            format: "  offered %.0f req/s, completed %.0f req/s (%d ok, %d bad status, %d transport errors, %d unfinished, %d connect errors), %.1f MB/s\n",
            offeredRate, achievedRate, stats.completed, stats.badStatus, stats.transportErrors, stats.unfinished,
            stats.connectErrors, Double(stats.bodyBytes) / duration / 1e6
        )
        out += row("ttfb", stats.ttfb)
        out += row("total", stats.total)
        out += row("send delay", stats.sendDelay)
        out += row("client lag", stats.lag)
        out += String(
            format: "  client CPU %.0f %% of a core (%.1f µs per request)\n",
            clientCPUSeconds / wallSeconds * 100, clientCPUSeconds * 1e6 / Double(max(1, stats.completed))
        )
        let statuses = stats.statuses.indices.filter { stats.statuses[$0] > 0 }.map { "\($0)×\(stats.statuses[$0])" }.joined(separator: " ")
        out += "  statuses: \(statuses.isEmpty ? "-" : statuses)\n"
        if let error = stats.firstError { out += "  first error: \(error)\n" }
        if stats.overloaded { out += "  OVERLOADED: the server fell behind the arrival rate; the run stopped early\n" }
        return out
    }

    /// One line for scripts: `RESULT label=… offered=… rps=… ttfb_p50_ms=… …`.
    func resultLine() -> String {
        var fields = [
            "label=\(label.isEmpty ? "-" : label)",
            String(format: "offered=%.1f", offeredRate),
            String(format: "rps=%.1f", achievedRate),
            "ok=\(stats.completed)", "scheduled=\(stats.scheduled)", "bad_status=\(stats.badStatus)",
            "errors=\(stats.transportErrors)", "unfinished=\(stats.unfinished)",
            "connect_errors=\(stats.connectErrors)", "overloaded=\(stats.overloaded ? 1 : 0)",
            "bytes=\(stats.bodyBytes)",
            String(format: "client_cpu_pct=%.0f", clientCPUSeconds / wallSeconds * 100),
        ]
        for (name, histogram) in [("ttfb", stats.ttfb), ("total", stats.total), ("send_delay", stats.sendDelay), ("lag", stats.lag)] {
            for (p, value) in Self.percentiles {
                let key = p == "p99.9" ? "p999" : p
                fields.append("\(name)_\(key)_ms=\(ms(histogram.valueAtPercentile(value)))")
            }
        }
        return "RESULT " + fields.joined(separator: " ")
    }

    /// The HdrHistogram percentile distributions (values in milliseconds), one file per measure.
    func writeHistograms(prefix: String, header: String) throws {
        for (name, histogram) in [("ttfb", stats.ttfb), ("total", stats.total), ("send-delay", stats.sendDelay), ("lag", stats.lag)] {
            var text = "# oggedge-load \(name) latency from the intended send time, milliseconds\n# \(header)\n"
            histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
            try text.write(toFile: "\(prefix).\(name).hgrm", atomically: true, encoding: .utf8)
        }
    }
}
