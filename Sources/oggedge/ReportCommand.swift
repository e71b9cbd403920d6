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
    @Option(name: .customLong("playback-log"), help: ArgumentHelp(
        "Player events (default: playback.jsonl beside --log, when it exists): adds plays, counted streams, skip and completion rates and tap-to-playing percentiles.",
        valueName: "FILE"))
    var playbackLog: String?
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
        let eventsPath = playbackLog ?? ((log as NSString).deletingLastPathComponent.isEmpty
            ? "playback.jsonl" : (log as NSString).deletingLastPathComponent + "/playback.jsonl")
        var players: PlayerReport?
        if playbackLog != nil || FileManager.default.fileExists(atPath: eventsPath) {
            do { players = try PlayerReport.build(path: eventsPath, options: options) } catch { throw Self.usageError("\(error)") }
        }
        if json {
            let text = ReportRenderer.json(report)
            print(players.map { $0.merged(intoDeliveryJSON: text) } ?? text, terminator: "")
        } else {
            print(ReportRenderer.table(report) + (players?.table() ?? ""), terminator: "")
        }
    }

    /// Prints `oggedge: error: MESSAGE` to stderr; the returned exit code (2) is thrown by the caller.
    private static func usageError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("oggedge: error: \(message)\n".utf8))
        return ExitCode(2)
    }
}
