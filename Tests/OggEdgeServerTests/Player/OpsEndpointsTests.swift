import Foundation
import NIOHTTP1
import OggEdgeCore
@testable import OggEdgeServer
import OggEdgeTesting
import Testing

/// What the ops page reads: `/admin/live`, `/admin/tracks`; and the latency buckets behind it.
@Suite(.serialized) struct OpsEndpointsTests {
    @Test func bucketsBoundEveryLatencyWithin19Percent() {
        for micros in [1, 2, 3, 10, 99, 1000, 1234, 50_000, 199_999, 3_000_000] as [Int64] {
            let bucket = LiveStats.bucket(micros: micros)
            let upper = LiveStats.upperBoundMs(bucket: bucket) * 1000
            let lower = bucket == 0 ? 0 : LiveStats.upperBoundMs(bucket: bucket - 1) * 1000
            #expect(Double(micros) < upper * 1.0001 && Double(micros) >= lower * 0.9999, "\(micros) µs in bucket \(bucket) [\(lower), \(upper))")
            #expect(upper <= Double(max(micros, 1)) * 1.19 + 1)
        }
        var counts = [UInt32](repeating: 0, count: LiveStats.bucketCount)
        counts[LiveStats.bucket(micros: 1000)] = 98
        counts[LiveStats.bucket(micros: 100_000)] = 2
        #expect(LiveStats.quantile(counts, 0.5)! < 1.2 && LiveStats.quantile(counts, 0.99)! > 99)
        #expect(LiveStats.quantile([UInt32](repeating: 0, count: LiveStats.bucketCount), 0.5) == nil)
    }

    @Test func liveFiguresMoveWithTraffic() async throws {
        try await TestServer.with { server in
            func live() async throws -> [String: Any] {
                let r = try await server.fetch("/admin/live", headers: [("Authorization", "Bearer test-admin-token")])
                #expect(r.status == 200)
                return try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
            }
            let before = try await live()
            let target = server.sign("/tracks/demo_96kbps.ogg")
            for _ in 0..<3 { #expect(try await server.fetch(target).status == 200) }
            #expect(try await server.fetch("/tracks/demo_96kbps.ogg?exp=1&kid=k1&sig=x").status == 403)
            _ = try await server.deliveryRecords()  // every response so far was logged
            let after = try await live()
            #expect((after["bytes_total"] as? Int ?? 0) >= (before["bytes_total"] as? Int ?? 0) + 3 * TestMedia.bytes("demo_96kbps.ogg").count)
            let latency = try #require(after["latency"] as? [String: Any])
            #expect(latency["HIT"] != nil || latency["MISS"] != nil)
            let all = try #require(after["all"] as? [String: Any])
            #expect((all["ttfb_ms"] as? [String: Any])?["p99"] is Double)
            #expect(((after["refusals_by_reason"] as? [String: Int])?.values.reduce(0, +) ?? 0) >= 1)
            #expect(((after["cache"] as? [String: Int])?["max_bytes"] ?? 0) > 0)
            let top = try #require(after["top_tracks"] as? [[String: Any]])
            #expect(top.contains { $0["track"] as? String == "demo" })
            let tracks = try await server.fetch("/admin/tracks", headers: [("Authorization", "Bearer test-admin-token")])
            #expect(tracks.bodyText.contains(#"{"id":"demo","kbps":[96,160,320],"master":true}"#))
            #expect(try await server.fetch("/admin/live").status == 401)
            #expect(try await server.fetch("/admin/live", method: .POST, headers: [("Authorization", "Bearer test-admin-token")]).status == 405)
        }
    }
}
