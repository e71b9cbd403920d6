import Foundation
@testable import OggEdgeReport

/// A delivery log with known contents; every expected number in the tests is worked out by hand
/// from this table (µs; "-" = null).
///
/// | #  | ts (2026-11-25) | track     | kbps | status | bytes  | ttfb   | start  | cache     | auth          |
/// |----|-----------------|-----------|------|--------|--------|--------|--------|-----------|---------------|
/// | O1 | 16:30:00.000    | demo      | 160  | 200    | 999    | 999999 | 999999 | HIT       | ok   (outside) |
/// | O2 | 16:59:59.999    | demo      | 160  | 403    | 21     | 50     | -      | DENIED    | unknown_key (outside) |
/// | 16 | 17:00:00.000    | tiny      | 96   | 304    | 0      | -      | -      | HIT       | ok (on the cutoff) |
/// | 1  | 17:05           | demo      | 160  | 200    | 50000  | 1000   | 2000   | HIT       | ok |
/// | 2  | 17:06           | demo      | 160  | 206    | 1000   | 1500   | -      | HIT       | ok |
/// | 3  | 17:10           | demo      | 96   | 200    | 30000  | 800    | 1200   | HIT       | ok |
/// | 4  | 17:15           | demo      | 160  | 200    | 76776  | 5000   | 9000   | MISS      | ok |
/// | 5  | 17:20           | slow      | 320  | 200    | 100000 | 20000  | 40000  | MISS      | ok |
/// | 6  | 17:25           | slow      | 320  | 200    | 200000 | 150000 | 250000 | TRANSCODE | ok |
/// | 7  | 17:30           | slow      | 96   | 200    | 120000 | 180000 | 300000 | TRANSCODE | ok, aborted |
/// | 8  | 17:35           | other     | 160  | 200    | 80000  | 90000  | 210000 | TRANSCODE | ok |
/// | 9  | 17:40           | slow      | 320  | 200    | 200000 | 120000 | 190000 | COALESCED | ok |
/// | 10 | 17:41 HEAD      | demo      | 160  | 200    | 0      | -      | -      | HIT       | ok |
/// | 11 | 17:42           | demo      | 160  | 403    | 29     | 100    | -      | DENIED    | bad_signature |
/// | 12 | 17:43           | demo      | 320  | 403    | 21     | 90     | -      | DENIED    | expired |
/// | 13 | 17:44           | slow      | 96   | 403    | 29     | 95     | -      | DENIED    | bad_signature |
/// | 14 | 17:45           | demo      | 160  | 416    | 30     | 200    | -      | ERROR     | ok |
/// | 15 | 17:50           | quiet     | 160  | 200    | 60000  | 30000  | 35000  | UPSTREAM  | ok |
/// | 17 | 17:55           | rangeonly | 320  | 206    | 5000   | 35000  | -      | HIT       | ok |
///
/// Plus four lines that are not records and two blank lines.
enum Fixture {
    /// `now` for the tests: 2026-11-25T18:00:00.000Z; `--since 1h` puts the cutoff at 17:00:00.000Z.
    static let now = Date(timeIntervalSince1970: 1_795_629_600)

    static func record(
        _ ts: String, method: String = "GET", track: String?, kbps: Int?, status: Int, bytes: Int,
        ttfb: Int?, start: Int?, cache: String, auth: String = "ok", aborted: Bool = false, range: String? = nil
    ) -> String {
        func str(_ s: String?) -> String { s.map { "\"\($0)\"" } ?? "null" }
        func num(_ n: Int?) -> String { n.map(String.init) ?? "null" }
        let path = track.map { "/tracks/\($0)_\(kbps ?? 0)kbps.ogg" } ?? "/x"
        return """
            {"ts":"2026-11-25T\(ts)Z","req_id":"abc-\(ts)","client_ip":"127.0.0.1","method":"\(method)",\
            "path":"\(path)","track":\(str(track)),"kbps":\(num(kbps)),"uid":"me","status":\(status),\
            "range":\(str(range)),"range_start":0,"range_end":\(bytes > 0 ? bytes - 1 : 0),"content_length":\(bytes),\
            "bytes_sent":\(bytes),"ttfb_us":\(num(ttfb)),"playback_start_us":\(num(start)),"duration_us":\((ttfb ?? 0) + 7),\
            "cache":"\(cache)","auth":"\(auth)","aborted":\(aborted)}
            """
    }

    static let lines: [String] = [
        record("16:30:00.000", track: "demo", kbps: 160, status: 200, bytes: 999, ttfb: 999_999, start: 999_999, cache: "HIT"),
        record("16:59:59.999", track: "demo", kbps: 160, status: 403, bytes: 21, ttfb: 50, start: nil, cache: "DENIED", auth: "unknown_key"),
        "this is not json at all",
        record("17:00:00.000", track: "tiny", kbps: 96, status: 304, bytes: 0, ttfb: nil, start: nil, cache: "HIT"),
        record("17:05:00.000", track: "demo", kbps: 160, status: 200, bytes: 50000, ttfb: 1000, start: 2000, cache: "HIT"),
        record("17:06:00.000", track: "demo", kbps: 160, status: 206, bytes: 1000, ttfb: 1500, start: nil, cache: "HIT", range: "bytes=5000-5999"),
        "",
        record("17:10:00.000", track: "demo", kbps: 96, status: 200, bytes: 30000, ttfb: 800, start: 1200, cache: "HIT"),
        record("17:15:00.000", track: "demo", kbps: 160, status: 200, bytes: 76776, ttfb: 5000, start: 9000, cache: "MISS"),
        "[1,2,3]",
        record("17:20:00.000", track: "slow", kbps: 320, status: 200, bytes: 100_000, ttfb: 20000, start: 40000, cache: "MISS"),
        record("17:25:00.000", track: "slow", kbps: 320, status: 200, bytes: 200_000, ttfb: 150_000, start: 250_000, cache: "TRANSCODE"),
        record("17:30:00.000", track: "slow", kbps: 96, status: 200, bytes: 120_000, ttfb: 180_000, start: 300_000, cache: "TRANSCODE", aborted: true),
        record("17:35:00.000", track: "other", kbps: 160, status: 200, bytes: 80000, ttfb: 90000, start: 210_000, cache: "TRANSCODE"),
        #"{"ts":"yesterday","status":200,"cache":"HIT","bytes_sent":5}"#,
        record("17:40:00.000", track: "slow", kbps: 320, status: 200, bytes: 200_000, ttfb: 120_000, start: 190_000, cache: "COALESCED"),
        record("17:41:00.000", method: "HEAD", track: "demo", kbps: 160, status: 200, bytes: 0, ttfb: nil, start: nil, cache: "HIT"),
        record("17:42:00.000", track: "demo", kbps: 160, status: 403, bytes: 29, ttfb: 100, start: nil, cache: "DENIED", auth: "bad_signature"),
        record("17:43:00.000", track: "demo", kbps: 320, status: 403, bytes: 21, ttfb: 90, start: nil, cache: "DENIED", auth: "expired"),
        "   ",
        record("17:44:00.000", track: "slow", kbps: 96, status: 403, bytes: 29, ttfb: 95, start: nil, cache: "DENIED", auth: "bad_signature"),
        record("17:45:00.000", track: "demo", kbps: 160, status: 416, bytes: 30, ttfb: 200, start: nil, cache: "ERROR"),
        record("17:50:00.000", track: "quiet", kbps: 160, status: 200, bytes: 60000, ttfb: 30000, start: 35000, cache: "UPSTREAM"),
        record("17:55:00.000", track: "rangeonly", kbps: 320, status: 206, bytes: 5000, ttfb: 35000, start: nil, cache: "HIT", range: "bytes=100-5099"),
        // A crash mid-write: the last line is cut off.
        #"{"ts":"2026-11-25T17:59:00.000Z","req_id":"abc-trunc","client_ip":"127.0.0.1","method":"GET","pa"#,
    ]

    /// The fixture summarised over the last hour.
    static func lastHour() -> DeliveryReport {
        ReportBuilder.build(lines: lines.map { Substring($0) }, options: ReportOptions(since: .seconds(3600), now: now))
    }

    /// Splits a rendered line into whitespace-separated cells.
    static func tokens(_ line: Substring) -> [Substring] {
        line.split(separator: " ", omittingEmptySubsequences: true)
    }
}
