import Foundation
import Testing
@testable import OggEdgeReport

@Suite struct ReportRendererTests {
    let r = Fixture.lastHour()

    @Test func jsonParsesWithSortedStableKeys() throws {
        let text = ReportRenderer.json(r)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let expected: Set<String> = [
            "aborted", "audio_responses", "bytes_sent", "cache_counts", "first_ts", "hit_ratio", "hit_responses",
            "last_ts", "lines_read", "outside_window", "playback_start", "playback_start_by_cache",
            "playback_start_by_kbps", "refusals", "requests", "since_seconds", "skipped_lines",
            "slow_playback_share", "slow_playback_starts", "slowest_tracks", "status_counts", "ttfb",
            "ttfb_by_cache", "ttfb_by_kbps", "window_start",
        ]
        #expect(Set(object.keys) == expected)
        #expect(object["requests"] as? Int == 17)
        #expect(object["skipped_lines"] as? Int == 4)
        #expect((object["hit_ratio"] as? Double).map { abs($0 - 5.0 / 11.0) < 1e-12 } == true)
        let ttfb = try #require(object["ttfb"] as? [String: Any])
        #expect(ttfb["p50_us"] as? Int == 30000 && ttfb["p99_us"] as? Int == 180_000)
        let byKbps = try #require(object["playback_start_by_kbps"] as? [String: [String: Any]])
        #expect(byKbps["96"]?["p95_us"] as? Int == 300_000)
        let refusals = try #require(object["refusals"] as? [String: Int])
        #expect(refusals == ["bad_signature": 2, "expired": 1])
        let tracks = try #require(object["slowest_tracks"] as? [[String: Any]])
        #expect(tracks.compactMap { $0["track"] as? String } == ["slow", "other", "quiet", "rangeonly", "demo"])
        // The track without playback starts still has every key, with nulls.
        let rangeOnlyStart = try #require(tracks[3]["playback_start"] as? [String: Any])
        #expect(Set(rangeOnlyStart.keys) == ["count", "p50_us", "p95_us", "p99_us"])
        #expect(rangeOnlyStart["p50_us"] is NSNull)
        // Sorted keys: top-level keys appear alphabetically.
        let positions = ["\"aborted\"", "\"bytes_sent\"", "\"requests\"", "\"window_start\""].map {
            text.range(of: $0)?.lowerBound
        }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        // Stable: same report, same text; and it decodes back to the same report.
        #expect(ReportRenderer.json(Fixture.lastHour()) == text)
        #expect(try JSONDecoder().decode(DeliveryReport.self, from: Data(text.utf8)) == r)
    }

    @Test func jsonHasNullsWithoutWindowOrSamples() throws {
        let empty = ReportBuilder.build(lines: [Substring](), options: ReportOptions())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ReportRenderer.json(empty).utf8)) as? [String: Any])
        #expect(object["window_start"] is NSNull)
        #expect(object["hit_ratio"] is NSNull)
        #expect(object["requests"] as? Int == 0)
        #expect(object.count == 25)
    }

    @Test func tableHasExpectedRowsInMilliseconds() {
        let table = ReportRenderer.table(r)
        let lines = table.split(separator: "\n")
        let rows = lines.map(Fixture.tokens)
        func hasRow(_ cells: [Substring]) -> Bool { rows.contains(cells) }
        #expect(hasRow(["TTFB", "all", "11", "30.0", "180.0", "180.0"]))
        #expect(hasRow(["TTFB", "HIT", "4", "1.0", "35.0", "35.0"]))
        #expect(hasRow(["TTFB", "96", "kbps", "2", "0.8", "180.0", "180.0"]))
        #expect(hasRow(["Playback", "start", "all", "9", "40.0", "300.0", "300.0"]))
        #expect(hasRow(["Playback", "start", "TRANSCODE", "3", "250.0", "300.0", "300.0"]))
        #expect(hasRow(["1", "slow", "5", "4", "300.0", "4", "180.0"]))
        #expect(hasRow(["4", "rangeonly", "1", "0", "-", "1", "35.0"]))
        #expect(hasRow(["bad_signature", "2"]))
        #expect(hasRow(["expired", "1"]))
        #expect(hasRow(["403", "3"]))
        #expect(hasRow(["Aborted", "1"]))
        #expect(table.contains("45.5 %  (5 of 11 responses with audio bytes were HIT or COALESCED)"))
        #expect(table.contains("33.3 %  (3 of 9 playback starts over 200 ms)"))
        #expect(table.contains("23 read, 17 counted, 4 skipped (not a record), 2 outside window"))
        #expect(table.contains("since 2026-11-25T17:00:00.000Z (last 1h)"))
        #expect(!table.contains("unknown_key"))
    }

    @Test func tableColumnsAreAligned() throws {
        let lines = ReportRenderer.table(r).split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasPrefix("Latency (ms)") })
        let block = lines[start...].prefix { !$0.isEmpty }
        #expect(block.count == 1 + 2 * (1 + 5 + 3))  // header + (all, 5 cache results, 3 bitrates) × 2
        // Right-aligned last column: every row has the same width; the p50 column ends at the same offset.
        #expect(Set(block.map(\.count)).count == 1)
        let p50End = block.first!.range(of: "p50")!.upperBound.utf16Offset(in: block.first!)
        for row in block.dropFirst() {
            let cells = Fixture.tokens(row)
            let p50 = cells[cells.count - 3]
            #expect(row[row.index(row.startIndex, offsetBy: p50End - p50.count)..<row.index(row.startIndex, offsetBy: p50End)] == p50)
        }
        // Cache results in contract order, bitrates ascending.
        let groups = block.dropFirst().prefix(9).map { Fixture.tokens($0).dropFirst().prefix(2).joined(separator: " ") }
        #expect(groups == ["all 11", "HIT 4", "MISS 2", "TRANSCODE 3", "COALESCED 1", "UPSTREAM 1", "96 kbps", "160 kbps", "320 kbps"])
    }
}

@Suite struct LogFileTests {
    func temporaryFile(_ contents: Data) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).jsonl").path
        try contents.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func fileMatchesLinesIncludingTruncatedTailAndCRLF() throws {
        let text = Fixture.lines.joined(separator: "\r\n")  // no final newline: the truncated line is last
        let path = try temporaryFile(Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = ReportOptions(since: .seconds(3600), now: Fixture.now)
        let fromFile = try ReportBuilder.build(logPath: path, options: options)
        #expect(fromFile == Fixture.lastHour())
        #expect(fromFile.skippedLines == 4)
    }

    @Test func linesAcrossChunkBoundariesAndOverlongLines() throws {
        let one = Fixture.record("17:30:00.000", track: "a", kbps: 160, status: 200, bytes: 7, ttfb: 10, start: 20, cache: "HIT")
        var data = Data()
        for _ in 0..<6000 { data.append(Data((one + "\n").utf8)) }  // > 2 MiB: lines straddle chunk ends
        data.append(Data(("{\"ts\":\"" + String(repeating: "x", count: 3 << 20) + "\n").utf8))  // 3 MiB junk line
        data.append(Data((one + "\n").utf8))
        let path = try temporaryFile(data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try ReportBuilder.build(logPath: path, options: ReportOptions(now: Fixture.now))
        #expect(r.requests == 6001)
        #expect(r.skippedLines == 1)
        #expect(r.linesRead == 6002)
        #expect(r.bytesSent == 6001 * 7)
    }

    @Test func unreadableFilesThrowClearErrors() throws {
        #expect(throws: ReportError.cannotOpen(path: "/nonexistent/delivery.jsonl", reason: "no such file")) {
            try ReportBuilder.build(logPath: "/nonexistent/delivery.jsonl", options: ReportOptions())
        }
        let dir = FileManager.default.temporaryDirectory.path
        #expect(throws: ReportError.cannotOpen(path: dir, reason: "is a directory")) {
            try ReportBuilder.build(logPath: dir, options: ReportOptions())
        }
        #expect(ReportError.cannotOpen(path: "x.jsonl", reason: "no such file").description == "cannot read delivery log 'x.jsonl': no such file")
    }
}

@Suite struct DurationParserTests {
    @Test func accepted() {
        #expect(DurationParser.parse("90s") == .seconds(90))
        #expect(DurationParser.parse("15m") == .seconds(900))
        #expect(DurationParser.parse("2h") == .seconds(7200))
        #expect(DurationParser.parse("7d") == .seconds(604_800))
        #expect(DurationParser.parse("1h30m") == .seconds(5400))
        #expect(DurationParser.parse("1d2h3m4s") == .seconds(93784))
        #expect(DurationParser.parse(" 2h ") == .seconds(7200))
        #expect(DurationParser.parse("0s") == .zero)
    }

    @Test(arguments: ["", " ", "90", "1x", "-5m", "+5m", "1.5h", "30m1h", "1h1h", "h", "1h30", "ms", "5 m", "1H", "99999999999s", "36601d"])
    func rejected(_ input: String) {
        #expect(DurationParser.parse(input) == nil)
    }
}
