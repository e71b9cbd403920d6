import Foundation

/// What players reported (`playback.jsonl`, written beside the delivery log by
/// `POST /events/playback`): plays, 30-second streams, skip and completion rates, and the
/// tap-to-playing time players measured themselves.
///
/// A play is one `play_id` (a start report without one is a play of its own). A play is counted
/// as a stream when a `progress` or `complete` event reached 30000 ms, as the server counts it.
/// Rates are over plays; percentiles are nearest-rank over start reports, in microseconds.
public struct PlayerReport: Sendable, Codable, Equatable {
    public var events: Int
    public var eventsByType: [String: Int]
    public var plays: Int
    public var countedStreams: Int
    public var skipRate: Double?
    public var completionRate: Double?
    public var tapToPlaying: LatencySummary
    public var skippedLines: Int

    enum CodingKeys: String, CodingKey {
        case events, eventsByType = "events_by_type", plays, countedStreams = "counted_streams", skipRate = "skip_rate"
        case completionRate = "completion_rate", tapToPlaying = "tap_to_playing", skippedLines = "skipped_lines"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(events, forKey: .events)
        try c.encode(eventsByType, forKey: .eventsByType)
        try c.encode(plays, forKey: .plays)
        try c.encode(countedStreams, forKey: .countedStreams)
        try c.encode(skipRate, forKey: .skipRate)
        try c.encode(completionRate, forKey: .completionRate)
        try c.encode(tapToPlaying, forKey: .tapToPlaying)
        try c.encode(skippedLines, forKey: .skippedLines)
    }

    /// Summarises the playback log at `path` (records before `options.since` are left out).
    public static func build(path: String, options: ReportOptions) throws -> PlayerReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReportError.cannotOpen(path: path, reason: "no such file or not readable")
        }
        var cutoff = Int64.min
        if let since = options.since {
            let (s, atto) = since.components
            cutoff = Int64(options.now.timeIntervalSince1970 * 1000) - (s * 1000 + atto / 1_000_000_000_000_000)
        }
        var report = PlayerReport(
            events: 0, eventsByType: [:], plays: 0, countedStreams: 0, skipRate: nil, completionRate: nil,
            tapToPlaying: LatencySummary(samples: []), skippedLines: 0
        )
        var plays = Set<String>(), streams = Set<String>(), skipped = Set<String>(), completed = Set<String>()
        var taps: [Int] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let ts = o["ts"] as? String, let ms = RFC3339Parser.millis(ts), let eventId = o["event_id"] as? String
            else { report.skippedLines += 1; continue }
            guard ms >= cutoff else { continue }
            let type = o["event_type"] as? String ?? "start"
            let play = o["play_id"] as? String ?? "event:" + eventId
            let position = (o["position_ms"] as? NSNumber)?.doubleValue
            report.events += 1
            report.eventsByType[type, default: 0] += 1
            plays.insert(play)
            switch type {
            case "start":
                if let tap = (o["tap_to_playing_ms"] as? NSNumber)?.doubleValue { taps.append(Int((tap * 1000).rounded())) }
            case "progress", "complete":
                if let position, position >= 30_000 { streams.insert(play) }
                if type == "complete" { completed.insert(play) }
            case "skip": skipped.insert(play)
            default: break
            }
        }
        report.plays = plays.count
        report.countedStreams = streams.count
        if !plays.isEmpty {
            report.skipRate = Double(skipped.count) / Double(plays.count)
            report.completionRate = Double(completed.count) / Double(plays.count)
        }
        report.tapToPlaying = LatencySummary(samples: taps)
        return report
    }

    /// The players section of the table report.
    public func table() -> String {
        let rows: [[String]] = [
            ["Plays", "\(plays)  (\(events) events: " + eventsByType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"],
            ["Counted streams", "\(countedStreams)  (plays that reached 30 s)"],
            ["Skip rate", ReportRenderer.percent(skipRate)],
            ["Completion rate", ReportRenderer.percent(completionRate)],
            ["Tap to playing", "p50 \(ReportRenderer.ms(tapToPlaying.p50Us)) ms, p95 \(ReportRenderer.ms(tapToPlaying.p95Us)) ms, "
                + "p99 \(ReportRenderer.ms(tapToPlaying.p99Us)) ms  (\(tapToPlaying.count) starts reported by players)"],
        ]
        return (["", "Players (playback events)"] + ReportRenderer.grid(rows, header: nil, right: [])).joined(separator: "\n") + "\n"
    }

    /// `delivery` (the delivery report's JSON object) with this report added under `players`.
    public func merged(intoDeliveryJSON delivery: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard var object = try? JSONSerialization.jsonObject(with: Data(delivery.utf8)) as? [String: Any],
              let mine = try? encoder.encode(self), let players = try? JSONSerialization.jsonObject(with: mine)
        else { return delivery }
        object["players"] = players
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return delivery }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
