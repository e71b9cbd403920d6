import ArgumentParser
import Foundation
import OggEdgeReport

/// `oggedge report`: summarise a delivery log (requests, hit ratio, latency percentiles, refusals).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a delivery log",
        discussion: """
            Reads the delivery log line by line and prints requests, bytes, the hit ratio \
            (HIT+COALESCED over served responses that sent audio bytes), TTFB and playback-start \
            p50/p95/p99 overall, by cache result and by bitrate, the slowest tracks, refusals by \
            reason and status counts. Lines that are not JSON records are skipped and counted.
            """
    )

    @Option(help: ArgumentHelp("Delivery log file.", valueName: "FILE")) var log: String = "logs/delivery.jsonl"
    @Option(help: ArgumentHelp("Only records from the last DURATION, e.g. 90s, 15m, 2h, 7d, 1h30m.", valueName: "DURATION"))
    var since: String?
    @Flag(help: "Print JSON (sorted keys, latencies in microseconds) instead of a table.") var json = false

    func run() throws {
        var options = ReportOptions()
        if let since {
            guard let duration = DurationParser.parse(since) else {
                throw Self.usageError("invalid --since '\(since.prefix(80))' (use e.g. 90s, 15m, 2h, 7d, 1h30m)")
            }
            options.since = duration
        }
        let report: DeliveryReport
        do {
            report = try ReportBuilder.build(logPath: log, options: options)
        } catch {
            throw Self.usageError("\(error)")
        }
        print(json ? ReportRenderer.json(report) : ReportRenderer.table(report), terminator: "")
    }

    /// Prints `oggedge: error: MESSAGE` to stderr; the returned exit code (2) is thrown by the caller.
    private static func usageError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("oggedge: error: \(message)\n".utf8))
        return ExitCode(2)
    }
}
