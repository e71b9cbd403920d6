import Foundation
import Testing
@testable import OggEdgeReport

/// Expected values are computed by hand from the table in `Fixture`.
@Suite struct ReportBuilderTests {
    @Test func recordsWithCacheNullAreNotAudio() {
        func line(_ ts: String, method: String = "GET", path: String, track: String? = nil, status: Int, bytes: Int, ttfb: Int,
                  cache: String?, auth: String = "ok") -> String {
            let trackJSON = track.map { "\"\($0)\"" } ?? "null"
            let cacheJSON = cache.map { "\"\($0)\"" } ?? "null"
            return #"{"ts":"2026-11-25T17:\#(ts)Z","method":"\#(method)","path":"\#(path)","track":\#(trackJSON),"kbps":null,"#
                + #""status":\#(status),"bytes_sent":\#(bytes),"ttfb_us":\#(ttfb),"playback_start_us":null,"cache":\#(cacheJSON),"#
                + #""auth":"\#(auth)","aborted":false}"#
        }
        let lines = [
            line("00:00.000", path: "/tracks/demo_96kbps.ogg", track: "demo", status: 200, bytes: 1000, ttfb: 500, cache: "HIT"),
            line("00:01.000", path: "/tracks/demo_96kbps.ogg", track: "demo", status: 200, bytes: 1000, ttfb: 800, cache: "MISS"),
            line("00:02.000", path: "/healthz", status: 200, bytes: 3, ttfb: 50, cache: nil),
            line("00:03.000", path: "/metrics", status: 200, bytes: 5000, ttfb: 20, cache: nil),
            line("00:04.000", method: "POST", path: "/events/playback", status: 403, bytes: 29, ttfb: 30, cache: nil, auth: "bad_signature"),
            line("00:05.000", method: "OPTIONS", path: "/tracks/demo_96kbps.ogg", track: "demo", status: 204, bytes: 0, ttfb: 10, cache: nil),
        ]
        let r = ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(now: Fixture.now))
        #expect(r.skippedLines == 0)
        #expect(r.requests == 6)
        #expect(r.bytesSent == 7032)
        #expect(r.statusCounts == ["200": 4, "403": 1, "204": 1])
        #expect(r.refusals == ["bad_signature": 1])
        #expect(r.cacheCounts == ["HIT": 1, "MISS": 1])
        #expect(r.hitResponses == 1 && r.audioResponses == 2 && r.hitRatio == 0.5)
        #expect(r.ttfb == LatencySummary(count: 2, p50Us: 500, p95Us: 800, p99Us: 800))
        #expect(r.slowestTracks.map(\.requests) == [2])
    }

    let r = Fixture.lastHour()

    @Test func countsLinesRecordsAndWindow() {
        #expect(r.linesRead == 23)  // 19 records + 4 junk lines; the 2 blank lines are not counted
        #expect(r.skippedLines == 4)
        #expect(r.outsideWindow == 2)  // 16:30 and 16:59:59.999; 17:00:00.000 is on the cutoff and counts
        #expect(r.requests == 17)
        #expect(r.linesRead == r.requests + r.skippedLines + r.outsideWindow)
        #expect(r.windowStart == "2026-11-25T17:00:00.000Z")
        #expect(r.sinceSeconds == 3600)
        #expect(r.firstTimestamp == "2026-11-25T17:00:00.000Z")
        #expect(r.lastTimestamp == "2026-11-25T17:55:00.000Z")
        #expect(r.bytesSent == 922_885)
        #expect(r.aborted == 1)
    }

    @Test func hitRatioCountsOnlyServedResponsesWithBytes() {
        // HIT with bytes: #1 #2 #3 #17, COALESCED #9 → 5. Denominator: served with bytes > 0:
        // #1-#9, #15, #17 = 11 (the HEAD, the 304, DENIED and ERROR are out).
        #expect(r.hitResponses == 5)
        #expect(r.audioResponses == 11)
        #expect(r.hitRatio == 5.0 / 11.0)
    }

    @Test func ttfbPercentilesOverallAndByGroup() {
        // Served TTFBs sorted: 800 1000 1500 5000 20000 30000 35000 90000 120000 150000 180000.
        #expect(r.ttfb == LatencySummary(count: 11, p50Us: 30000, p95Us: 180_000, p99Us: 180_000))
        #expect(r.ttfbByCache["HIT"] == LatencySummary(count: 4, p50Us: 1000, p95Us: 35000, p99Us: 35000))
        #expect(r.ttfbByCache["MISS"] == LatencySummary(count: 2, p50Us: 5000, p95Us: 20000, p99Us: 20000))
        #expect(r.ttfbByCache["TRANSCODE"] == LatencySummary(count: 3, p50Us: 150_000, p95Us: 180_000, p99Us: 180_000))
        #expect(r.ttfbByCache["COALESCED"] == LatencySummary(count: 1, p50Us: 120_000, p95Us: 120_000, p99Us: 120_000))
        #expect(r.ttfbByCache["UPSTREAM"]?.p50Us == 30000)
        #expect(r.ttfbByCache["DENIED"] == nil)
        #expect(r.ttfbByCache["ERROR"] == nil)
        #expect(r.ttfbByKbps["160"] == LatencySummary(count: 5, p50Us: 5000, p95Us: 90000, p99Us: 90000))
        #expect(r.ttfbByKbps["96"] == LatencySummary(count: 2, p50Us: 800, p95Us: 180_000, p99Us: 180_000))
        #expect(r.ttfbByKbps["320"] == LatencySummary(count: 4, p50Us: 35000, p95Us: 150_000, p99Us: 150_000))
        #expect(r.ttfbByKbps.count == 3)
    }

    @Test func playbackStartPercentilesAndSlowShare() {
        // Starts sorted: 1200 2000 9000 35000 40000 190000 210000 250000 300000.
        #expect(r.playbackStart == LatencySummary(count: 9, p50Us: 40000, p95Us: 300_000, p99Us: 300_000))
        #expect(r.playbackStartByCache["HIT"] == LatencySummary(count: 2, p50Us: 1200, p95Us: 2000, p99Us: 2000))
        #expect(r.playbackStartByCache["MISS"] == LatencySummary(count: 2, p50Us: 9000, p95Us: 40000, p99Us: 40000))
        #expect(r.playbackStartByCache["TRANSCODE"] == LatencySummary(count: 3, p50Us: 250_000, p95Us: 300_000, p99Us: 300_000))
        #expect(r.playbackStartByKbps["160"] == LatencySummary(count: 4, p50Us: 9000, p95Us: 210_000, p99Us: 210_000))
        #expect(r.playbackStartByKbps["96"] == LatencySummary(count: 2, p50Us: 1200, p95Us: 300_000, p99Us: 300_000))
        #expect(r.playbackStartByKbps["320"] == LatencySummary(count: 3, p50Us: 190_000, p95Us: 250_000, p99Us: 250_000))
        // Over 200 ms: 210000, 250000, 300000 (190000 is not).
        #expect(r.slowPlaybackStarts == 3)
        #expect(r.slowPlaybackShare == 3.0 / 9.0)
    }

    @Test func slowestTracksRankedByP95PlaybackStartThenTTFB() {
        #expect(r.slowestTracks.map(\.track) == ["slow", "other", "quiet", "rangeonly", "demo"])  // "tiny" has no samples
        let slow = r.slowestTracks[0]
        #expect(slow.requests == 5)
        #expect(slow.playbackStart == LatencySummary(count: 4, p50Us: 190_000, p95Us: 300_000, p99Us: 300_000))
        #expect(slow.ttfb.p95Us == 180_000)
        // "rangeonly" has no playback start and ranks by its TTFB p95 (35000), tied with "quiet": by name.
        #expect(r.slowestTracks[3].playbackStart == LatencySummary(count: 0, p50Us: nil, p95Us: nil, p99Us: nil))
        #expect(r.slowestTracks[3].ttfb.p95Us == 35000)
        #expect(r.slowestTracks[4].requests == 8)  // demo, refused and HEAD requests included
        #expect(r.slowestTracks[4].playbackStart.p95Us == 9000)
    }

    @Test func refusalsStatusesAndCacheResults() {
        #expect(r.refusals == ["bad_signature": 2, "expired": 1])  // unknown_key is outside the window
        #expect(r.statusCounts == ["200": 10, "206": 2, "304": 1, "403": 3, "416": 1])
        #expect(r.cacheCounts == ["HIT": 6, "MISS": 2, "TRANSCODE": 3, "COALESCED": 1, "UPSTREAM": 1, "DENIED": 3, "ERROR": 1])
    }

    @Test func withoutSinceEverythingCounts() {
        let all = ReportBuilder.build(lines: Fixture.lines.map { Substring($0) }, options: ReportOptions(now: Fixture.now))
        #expect(all.requests == 19)
        #expect(all.outsideWindow == 0)
        #expect(all.windowStart == nil && all.sinceSeconds == nil)
        #expect(all.refusals == ["bad_signature": 2, "expired": 1, "unknown_key": 1])
        #expect(all.ttfb.count == 12)
        #expect(all.ttfb.p99Us == 999_999)
    }

    @Test func cutoffIsInclusiveToTheMillisecond() {
        let lines = [
            Fixture.record("17:00:00.000", track: "a", kbps: 96, status: 200, bytes: 1, ttfb: 1, start: 1, cache: "HIT"),
            Fixture.record("16:59:59.999", track: "a", kbps: 96, status: 200, bytes: 1, ttfb: 1, start: 1, cache: "HIT"),
        ]
        let report = ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(since: .seconds(3600), now: Fixture.now))
        #expect(report.requests == 1 && report.outsideWindow == 1)
        let half = ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(since: .milliseconds(3_600_001), now: Fixture.now))
        #expect(half.requests == 2)
    }

    @Test func malformedFieldsAreSkippedNotGuessed() {
        let lines = [
            #"{"ts":"2026-11-25T17:10:00.000Z","status":"200","cache":"HIT"}"#,  // status as string
            #"{"ts":"2026-11-25T17:10:00.000Z","status":200}"#,  // no cache
            #"{"ts":"2026-13-25T17:10:00.000Z","status":200,"cache":"HIT"}"#,  // month 13
            #"{"ts":"2026-11-25T17:10:00.000Z","status":200,"cache":"HIT","ttfb_us":"fast","bytes_sent":3}"#,
            #"{"ts":"2026-11-25T18:10:00.000+01:00","status":200,"cache":"MISS"}"#,  // = 17:10Z
            "{\u{0}\u{FFFF}",
            String(repeating: "{", count: 10_000),
        ]
        let r = ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(since: .seconds(3600), now: Fixture.now))
        #expect(r.skippedLines == 5)
        #expect(r.requests == 2)
        #expect(r.ttfb.count == 0 && r.ttfb.p50Us == nil)
        #expect(r.bytesSent == 3)
        #expect(r.hitRatio == 1.0)  // the one served response with bytes was a HIT
        #expect(r.slowPlaybackShare == nil)
        #expect(r.firstTimestamp == "2026-11-25T17:10:00.000Z")
    }

    @Test func topTenOnly() {
        let lines = (1...12).map { i in
            Fixture.record("17:30:00.000", track: "t\(i)", kbps: 96, status: 200, bytes: 10, ttfb: i, start: i * 1000, cache: "MISS")
        }
        let r = ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(now: Fixture.now))
        #expect(r.slowestTracks.count == 10)
        #expect(r.slowestTracks.map(\.track) == (3...12).reversed().map { "t\($0)" })
    }

    @Test func nearestRankPercentiles() {
        let twenty = Array(1...20)
        #expect(Percentile.nearestRank(50, sorted: twenty) == 10)
        #expect(Percentile.nearestRank(95, sorted: twenty) == 19)
        #expect(Percentile.nearestRank(99, sorted: twenty) == 20)
        let hundred = Array(1...100)
        #expect(Percentile.nearestRank(99, sorted: hundred) == 99)
        #expect(Percentile.nearestRank(50, sorted: [7]) == 7)
        #expect(Percentile.nearestRank(50, sorted: []) == nil)
        #expect(LatencySummary(samples: [30, 10, 20]) == LatencySummary(count: 3, p50Us: 20, p95Us: 30, p99Us: 30))
    }
}
