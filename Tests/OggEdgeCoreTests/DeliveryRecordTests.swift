import Foundation
import OggEdgeCore
import Testing

struct DeliveryRecordTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_764_090_456_789), "2025-11-25T17:07:36.789Z"),
        (Int64(951_782_400_001), "2000-02-29T00:00:00.001Z"),
        (Int64(4_102_444_799_999), "2099-12-31T23:59:59.999Z"),
    ])
    func rfc3339Milliseconds(ms: Int64, expected: String) {
        #expect(RFC3339.formatMillis(ms) == expected)
    }

    @Test func rfc3339AgreesWithFoundationOverManyInstants() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let ms = Int64.random(in: 0...4_000_000_000_000, using: &rng)
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            #expect(RFC3339.formatMillis(ms) == formatter.string(from: date))
        }
    }

    @Test func jsonLineHasEveryContractFieldAndEscapes() throws {
        let record = DeliveryRecord(
            timestampMs: 1_764_090_456_789, requestId: "abc-1", clientIP: "127.0.0.1", method: "GET",
            path: "/tracks/x\"y\\z\n_160kbps.ogg", track: "x", kbps: 160, uid: "u\u{1}", status: 206,
            range: "bytes=0-1", rangeStart: 0, rangeEnd: 1, contentLength: 2, bytesSent: 2, ttfbMicros: 150,
            playbackStartMicros: nil, durationMicros: 300, cache: .hit, auth: "ok", aborted: false
        )
        let line = record.jsonLine
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let fields = ["ts", "req_id", "client_ip", "method", "path", "track", "kbps", "uid", "status", "range", "range_start",
                      "range_end", "content_length", "bytes_sent", "ttfb_us", "playback_start_us", "duration_us", "cache", "auth", "aborted"]
        #expect(Set(object.keys) == Set(fields))
        #expect(object["path"] as? String == "/tracks/x\"y\\z\n_160kbps.ogg")
        #expect(object["uid"] as? String == "u\u{1}")
        #expect(object["playback_start_us"] is NSNull)
        #expect(object["cache"] as? String == "HIT")
        #expect(object["aborted"] as? Bool == false)
        #expect(object["ts"] as? String == "2025-11-25T17:07:36.789Z")
    }

    @Test func aResponseThatIsNotAudioHasCacheNull() throws {
        let record = DeliveryRecord(timestampMs: 0, requestId: "r", clientIP: "::1", method: "GET", path: "/healthz", status: 200, bytesSent: 3)
        #expect(record.cache == nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any])
        #expect(object["cache"] is NSNull)
        #expect(record.fields.first { $0.0 == "cache" }?.1 == "")
        var audio = record
        audio.cache = .miss
        #expect(audio.fields.first { $0.0 == "cache" }?.1 == "MISS")
    }

    @Test func aKeptSecondCacheFormatsEveryLineLikeAFreshOne() throws {
        var stamps = RFC3339.SecondCache()
        // The same second twice, the next second, a second back, across a day and a year.
        for ms: Int64 in [1_764_090_456_789, 1_764_090_456_001, 1_764_090_457_000, 1_764_090_455_999, 1_767_225_599_999, 1_767_225_600_000] {
            let record = DeliveryRecord(timestampMs: ms, requestId: "r", clientIP: "::1", method: "GET", path: "/p")
            let kept = record.withJSONLine(stamps: &stamps) { String(decoding: $0, as: UTF8.self) }
            #expect(kept == record.jsonLine)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(kept.utf8)) as? [String: Any])
            #expect(object["ts"] as? String == RFC3339.formatMillis(ms))
        }
    }

    @Test func theWorstCaseEscapesAndExtremeNumbersStayValidJSON() throws {
        // Every byte of every string escaped to six bytes, every number at its widest.
        let control = String(repeating: "\u{1}", count: 300)
        let record = DeliveryRecord(
            timestampMs: 4_102_444_799_999, requestId: control, clientIP: control, method: control, path: control, track: control,
            kbps: Int.max, uid: control, status: Int.min, range: control, rangeStart: Int64.min, rangeEnd: Int64.max,
            contentLength: Int64.max, bytesSent: Int64.min, ttfbMicros: Int64.max, playbackStartMicros: Int64.min,
            durationMicros: Int64.max, cache: .coalesced, auth: control, aborted: true
        )
        let object = try #require(try JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any])
        #expect(object["uid"] as? String == control)
        #expect(object["auth"] as? String == control)
        #expect((object["range_start"] as? NSNumber)?.int64Value == Int64.min)
        #expect((object["range_end"] as? NSNumber)?.int64Value == Int64.max)
        #expect(object["aborted"] as? Bool == true)
    }
}
