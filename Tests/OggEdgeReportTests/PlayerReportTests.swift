import Foundation
@testable import OggEdgeReport
import Testing

struct PlayerReportTests {
    func write(_ lines: [String]) throws -> String {
        let path = NSTemporaryDirectory() + "oggedge-playback-\(UUID().uuidString).jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func event(_ id: String, _ type: String?, play: String?, position: Int? = nil, tap: Double? = nil, ts: String = "2026-11-29T10:00:00.000Z") -> String {
        var fields = [#""ts":"\#(ts)""#, #""event_id":"\#(id)""#, #""track":"demo""#]
        if let type { fields.append(#""event_type":"\#(type)""#) }
        if let play { fields.append(#""play_id":"\#(play)""#) }
        if let position { fields.append(#""position_ms":\#(position)"#) }
        if let tap { fields.append(#""tap_to_playing_ms":\#(tap)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test func playsStreamsRatesAndTapToPlaying() throws {
        let path = try write([
            event("a0", "start", play: "a", position: 0, tap: 100),
            event("a1", "progress", play: "a", position: 30_000),
            event("a2", "complete", play: "a", position: 31_000),
            event("b0", "start", play: "b", position: 0, tap: 300),
            event("b1", "progress", play: "b", position: 15_000),
            event("b2", "skip", play: "b", position: 16_000),
            event("c0", nil, play: nil, tap: 200),  // an old-style start report: a play of its own
            "not json",
            event("old", "start", play: "z", tap: 9999, ts: "2020-01-01T00:00:00.000Z"),
        ])
        let all = try PlayerReport.build(path: path, options: ReportOptions())
        #expect(all.plays == 4 && all.events == 8 && all.skippedLines == 1)
        let recent = try PlayerReport.build(
            path: path, options: ReportOptions(since: .seconds(86_400 * 365), now: Date(timeIntervalSince1970: 1_796_000_000))
        )
        #expect(recent.plays == 3)
        #expect(recent.countedStreams == 1)
        #expect(recent.skipRate == 1.0 / 3 && recent.completionRate == 1.0 / 3)
        #expect(recent.tapToPlaying == LatencySummary(count: 3, p50Us: 200_000, p95Us: 300_000, p99Us: 300_000))
        #expect(recent.table().contains("Counted streams  1"))
        let merged = recent.merged(intoDeliveryJSON: "{\"requests\": 3}\n")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(merged.utf8)) as? [String: Any])
        #expect((object["players"] as? [String: Any])?["counted_streams"] as? Int == 1)
        #expect(object["requests"] as? Int == 3)
    }
}
