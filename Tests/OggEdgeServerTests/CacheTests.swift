import Foundation
import NIOHTTP1
import OggEdgeServer
import Testing

/// The chunk cache seen from outside: HIT after MISS, purge, source changes, a tiny cache under
/// concurrent readers and a purger, prewarm.
@Suite(.serialized) struct CacheTests {
    /// A private copy of the test media that a test may modify.
    static func mediaCopy() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-media-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: TestMedia.directory, toPath: dir)
        return dir
    }

    static func cacheField(_ server: TestServer, status: Int? = nil) async throws -> [String] {
        try await server.deliveryRecords().filter { $0["track"] is String && (status == nil || ($0["status"] as? Int) == status) }
            .compactMap { $0["cache"] as? String }
    }

    @Test func secondFetchIsAByteIdenticalHit() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/demo_160kbps.ogg")
            let first = try await server.fetch(target)
            let second = try await server.fetch(target)
            #expect(first.body == TestMedia.bytes("demo_160kbps.ogg"))
            #expect(second.body == first.body)
            let range = try await server.fetch(target, headers: [("Range", "bytes=70000-70099")])
            #expect(range.body == Array(first.body[70000...70099]))
            #expect(try await Self.cacheField(server) == ["MISS", "HIT", "HIT"])
        }
    }

    @Test func partialFillThenCompletion() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/demo_320kbps.ogg")
            let bytes = TestMedia.bytes("demo_320kbps.ogg")
            _ = try await server.fetch(target, headers: [("Range", "bytes=0-8191")])
            let head = try await server.fetch(target, headers: [("Range", "bytes=0-8191")])
            #expect(head.body == Array(bytes[0...8191]))
            let whole = try await server.fetch(target)
            #expect(whole.body == bytes)
            let again = try await server.fetch(target)
            #expect(again.body == bytes)
            #expect(try await Self.cacheField(server) == ["MISS", "HIT", "MISS", "HIT"])
        }
    }

    @Test func purgeThroughTheAdminAPI() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/demo_96kbps.ogg")
            _ = try await server.fetch(target)
            _ = try await server.fetch(target)
            let auth = [("Authorization", "Bearer test-admin-token")]
            let one = try await server.fetch("/admin/cache/demo_96kbps", method: .DELETE, headers: auth)
            #expect(one.status == 200)
            #expect(one.bodyText.contains("\"purged\":1"))
            let refetch = try await server.fetch(target)
            #expect(refetch.body == TestMedia.bytes("demo_96kbps.ogg"))
            let whole = try await server.fetch("/admin/cache/demo", method: .DELETE, headers: auth)
            #expect(whole.status == 200)
            #expect(try await server.fetch("/admin/cache/bad..id", method: .DELETE, headers: auth).status == 400)
            #expect(try await server.fetch("/admin/cache/demo", method: .DELETE).status == 401)
            _ = try await server.fetch(target)
            #expect(try await Self.cacheField(server, status: 200) == ["MISS", "HIT", "MISS", "MISS"])
        }
    }

    @Test func aHitDoesNotTouchTheSourceWithinTheRevalidationInterval() async throws {
        let media = try Self.mediaCopy()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 600_000 }) { server in
            let target = server.sign("/tracks/demo_160kbps.ogg")
            let old = try await server.fetch(target)
            // Gone from the media directory: the cached version is still the one answered, whole.
            try FileManager.default.removeItem(atPath: media + "/tracks/demo_160kbps.ogg")
            let hit = try await server.fetch(target)
            #expect(hit.status == 200)
            #expect(hit.body == old.body)
            #expect(hit.header("ETag") == old.header("ETag"))
            #expect(try await Self.cacheField(server, status: 200) == ["MISS", "HIT"])
        }
    }

    @Test func aChangedSourceInvalidatesTheCachedRendition() async throws {
        let media = try Self.mediaCopy()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 0 }) { server in
            let target = server.sign("/tracks/demo_160kbps.ogg")
            let old = try await server.fetch(target)
            _ = try await server.fetch(target)
            // Replace the file with another rendition's bytes (size and mtime change).
            let replacement = TestMedia.bytes("demo_320kbps.ogg")
            try Data(replacement).write(to: URL(fileURLWithPath: media + "/tracks/demo_160kbps.ogg"))
            let new = try await server.fetch(target)
            #expect(new.body == replacement)
            #expect(new.header("ETag") != old.header("ETag"))
            let stale = try await server.fetch(target, headers: [("If-None-Match", old.header("ETag") ?? "")])
            #expect(stale.status == 200)
        }
    }

    @Test func tinyCacheUnderConcurrentReadersAndAPurgerStaysExact() async throws {
        try await TestServer.with(configure: { $0.cacheMaxBytes = 2_097_152 }) { server in
            let names = ["demo_96kbps.ogg", "demo_160kbps.ogg", "tiny_96kbps.ogg"] + TestMedia.bigTracks
            let files = Dictionary(uniqueKeysWithValues: names.map { ($0, TestMedia.bytes($0)) })
            let targets = Dictionary(uniqueKeysWithValues: names.map { ($0, server.sign("/tracks/" + $0)) })
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<8 {
                    group.addTask {
                        var rng = SystemRandomNumberGenerator()
                        var bad = 0
                        for _ in 0..<25 {
                            let name = names[(client + Int.random(in: 0..<names.count, using: &rng)) % names.count]
                            let bytes = files[name]!
                            let start = Int.random(in: 0..<bytes.count, using: &rng)
                            let end = min(bytes.count - 1, start + Int.random(in: 0..<200_000, using: &rng))
                            let r = try await server.fetch(targets[name]!, headers: [("Range", "bytes=\(start)-\(end)")])
                            let expected = Array(bytes[start...end])
                            if !(r.status == 206 && r.body == expected) && !(r.status == 200 && r.body == bytes) { bad += 1 }
                        }
                        return bad
                    }
                }
                group.addTask {
                    for i in 0..<20 {
                        let r = try await server.fetch("/admin/cache/" + (i % 2 == 0 ? "demo" : "big\(i % 6)"), method: .DELETE,
                                                       headers: [("Authorization", "Bearer test-admin-token")])
                        if r.status != 200 { return 1000 }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    return 0
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
            let stats = try await server.fetch("/admin/stats", headers: [("Authorization", "Bearer test-admin-token")])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any])
            #expect((json["cache_file_bytes"] as? Int ?? .max) <= 2_097_152)
            #expect((json["evictions"] as? Int ?? 0) > 0)
        }
    }

    @Test func prewarmThroughTheAdminAPIMakesTheFirstRequestAHit() async throws {
        try await TestServer.with { server in
            let auth = [("Authorization", "Bearer test-admin-token"), ("Content-Type", "application/json")]
            var request = HTTPClientRequestBuilder.post(server.baseURL + "/admin/prewarm", body: #"{"tracks":["demo"],"kbps":[96,160]}"#, headers: auth)
            let started = try await request.send()
            #expect(started.status == 202)
            let job = try #require((try JSONSerialization.jsonObject(with: Data(started.body)) as? [String: Any])?["job"] as? String)
            // A long poll: the answer comes when the job has finished (or after 60 s).
            let status = try await server.fetch("/admin/prewarm/" + job + "?wait=60", headers: auth)
            #expect(status.bodyText.contains("\"finished\""), "\(status.bodyText)")
            #expect(status.bodyText.contains("\"done\":2"), "\(status.bodyText)")
            _ = try await server.fetch(server.sign("/tracks/demo_160kbps.ogg"))
            #expect(try await Self.cacheField(server) == ["HIT"])
            var bad = HTTPClientRequestBuilder.post(server.baseURL + "/admin/prewarm", body: "{nope", headers: auth)
            #expect(try await bad.send().status == 400)
            request = HTTPClientRequestBuilder.post(server.baseURL + "/admin/prewarm", body: #"{"tracks":["demo"],"kbps":[128]}"#, headers: auth)
            #expect(try await request.send().status == 400)
        }
    }
}
