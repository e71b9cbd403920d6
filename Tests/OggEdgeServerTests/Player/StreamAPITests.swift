import Foundation
import NIOHTTP1
import OggEdgeCore
import OggEdgeRedis
@testable import OggEdgeServer
import OggEdgeTesting
import Testing

/// `GET /stream/{trackId}` end to end: a real redis-server, a real server, a real HTTP client.
@Suite(.serialized) struct StreamAPITests {
    @Test func qualityFollowsTierAndConnectionType() async throws {
        try await PlayerHarness.with { h in
            let premium = try h.makeSession(user: "u-premium", premium: true)
            let free = try h.makeSession(user: "u-free", premium: false)
            let table: [(String, String?, Int, Int)] = [
                (premium, nil, 320, 320), (premium, "wifi", 320, 320), (premium, "4g", 320, 320), (premium, "5g", 320, 320),
                (premium, "3g", 160, 320), (premium, "2g", 96, 320), (premium, "slow-2g", 96, 320), (premium, " 3G ", 160, 320),
                (free, nil, 160, 160), (free, "wifi", 160, 160), (free, "4g", 160, 160), (free, "3g", 160, 160),
                (free, "2g", 96, 160), (free, "slow-2g", 96, 160), (free, "bogus", 160, 160),
            ]
            for (session, connection, quality, cap) in table {
                let r = try await h.stream("demo", session: session, connection: connection)
                #expect(r.status == 200, "\(connection ?? "-"): \(r.bodyText)")
                let body = try h.json(r)
                #expect(body["quality"] as? Int == quality, "\(connection ?? "-")")
                let url = try #require(body["url"] as? String)
                #expect(url.hasPrefix("/tracks/demo_\(quality)kbps.ogg?exp="))
                #expect(url.contains("&acl=%2Ftracks%2Fdemo_&maxkbps=\(cap)&sig="))
                #expect(url.contains(session == premium ? "uid=u-premium" : "uid=u-free"))
                let expiresAt = try #require(body["expiresAt"] as? Int64)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                #expect(expiresAt > now + 3_000_000 && expiresAt <= now + 3_601_000)
                #expect(r.header("Cache-Control")?.contains("no-store") == true)
            }
        }
    }

    @Test func sessionErrorsAreClear401sAndBadInputClear4xx() async throws {
        try await PlayerHarness.with { h in
            let none = try await h.stream("demo", session: nil)
            #expect(none.status == 401)
            #expect(none.bodyText.contains(#"{"error":"not_authenticated"}"#))
            let empty = try await h.server.fetch("/stream/demo", headers: [("Cookie", "session=")])
            #expect(empty.bodyText.contains("not_authenticated"))
            let unknown = try await h.stream("demo", session: "never-made")
            #expect(unknown.status == 401)
            #expect(unknown.bodyText.contains(#"{"error":"session_expired"}"#))
            let bad = try await h.server.fetch("/stream/demo", headers: [("Cookie", "session=a\\b")])
            #expect(bad.status == 400)
            #expect(bad.bodyText.contains("invalid_session_cookie"))
            let session = try h.makeSession(user: "u1", premium: true)
            let badId = try await h.stream("bad..id", session: session)
            #expect(badId.status == 400)
            #expect(badId.bodyText.contains("invalid_track_id"))
            let missing = try await h.stream("nosuchtrack", session: session)
            #expect(missing.status == 404)
            let post = try await h.server.fetch("/stream/demo", method: .POST, headers: [("Cookie", "session=\(session)")])
            #expect(post.status == 405)
            // A track with only a 320 rendition can still be served at 96 (transcoded from it).
            #expect(try await h.stream("onlyhi", session: session, connection: "2g").status == 200)
        }
    }

    @Test func theAnswerIsKeptInRedisAndTheSessionRenewed() async throws {
        try await PlayerHarness.with { h in
            let session = try h.makeSession(user: "u-cache", premium: false, ttl: 100)
            let c = try h.redis.connection()
            #expect(try c.ttl("session:" + session) <= 100)
            let first = try await h.stream("demo", session: session, connection: "3g")
            #expect(first.status == 200)
            #expect(try c.ttl("session:" + session) > 14_000)
            let stored = try c.command(["GET", "stream:u-cache:demo:160"])
            #expect(stored.text.map { $0 + "\n" } == first.bodyText)
            let ttl = try c.ttl("stream:u-cache:demo:160")
            #expect(ttl > 0 && ttl <= 300)
            // A planted answer proves the second one comes from Redis, not from a new signature.
            let planted = #"{"url":"/tracks/demo_160kbps.ogg?planted","quality":160,"expiresAt":"# + String(Int64(Date().timeIntervalSince1970 + 3000) * 1000) + "}"
            _ = try c.command(["SET", "stream:u-cache:demo:160", planted, "EX", "300"])
            let second = try await h.stream("demo", session: session, connection: "3g")
            #expect(second.bodyText == planted + "\n")
        }
    }

    @Test func theSignedURLPlaysWithinItsCap() async throws {
        try await PlayerHarness.with { h in
            let session = try h.makeSession(user: "u-play", premium: false)
            let body = try h.json(try await h.stream("demo", session: session))
            let url = try #require(body["url"] as? String)
            let whole = try await h.server.fetch(url)
            #expect(whole.status == 200)
            #expect(whole.body == TestMedia.bytes("demo_160kbps.ogg"))
            let range = try await h.server.fetch(url, headers: [("Range", "bytes=0-99")])
            #expect(range.status == 206 && range.body.count == 100)
            // The same token fetches a lower bitrate (acl covers the track), not one above the cap.
            let lower = try await h.server.fetch(url.replacingOccurrences(of: "_160kbps", with: "_96kbps"))
            #expect(lower.status == 200 && lower.body == TestMedia.bytes("demo_96kbps.ogg"))
            let higher = try await h.server.fetch(url.replacingOccurrences(of: "_160kbps", with: "_320kbps"))
            #expect(higher.status == 403 && higher.bodyText.contains("bitrate_not_allowed"))
            let records = try await h.server.deliveryRecords()
            let streamRecord = try #require(records.first { ($0["path"] as? String) == "/stream/demo" })
            #expect(streamRecord["uid"] as? String == "u-play")
            #expect(records.allSatisfy { !"\($0)".contains(session) })
        }
    }

    @Test func absoluteURLsCORSWithCredentialsAndRedisUnreachable() async throws {
        try await PlayerHarness.with(configure: { $0.player.publicBaseURL = "https://cdn.example.com" }) { h in
            let session = try h.makeSession(user: "u-abs", premium: true)
            let r = try await h.stream("demo", session: session, extra: [("Origin", "http://player.example")])
            let absolute = try h.json(r)["url"] as? String ?? ""
            #expect(absolute.hasPrefix("https://cdn.example.com/tracks/demo_320kbps.ogg?"))
            #expect(r.header("Access-Control-Allow-Origin") == "http://player.example")
            #expect(r.header("Access-Control-Allow-Credentials") == "true")
            let preflight = try await h.server.fetch("/stream/demo", method: .OPTIONS, headers: [
                ("Origin", "http://player.example"), ("Access-Control-Request-Headers", "x-connection-type"),
            ])
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Headers")?.contains("X-Connection-Type") == true)
        }
        // Redis unreachable (nothing listens on port 1): a fast 503, never a hang.
        try await PlayerHarness.with(configure: { $0.redisURL = "redis://127.0.0.1:1" }) { h in
            let down = try await h.stream("demo", session: "any")
            #expect(down.status == 503)
            #expect(down.bodyText.contains("redis_unavailable"))
            #expect(down.header("Retry-After") == "1")
        }
    }

    @Test func theDemoLoginSetsACookieThatStreams() async throws {
        try await PlayerHarness.with(configure: { $0.player.demoUser = true }) { h in
            let login = try await h.server.fetch("/player/demo-login?premium=false", method: .POST)
            #expect(login.status == 200)
            let cookie = try #require(login.header("Set-Cookie"))
            #expect(cookie.hasPrefix("session=demo-") && cookie.contains("HttpOnly"))
            let id = String(cookie.dropFirst("session=".count).prefix { $0 != ";" })
            let r = try await h.stream("demo", session: id, connection: "wifi")
            #expect(try h.json(r)["quality"] as? Int == 160)
        }
        // Off by default: the route does not exist.
        try await PlayerHarness.with { (h) async throws -> Void in
            #expect(try await h.server.fetch("/player/demo-login", method: .POST).status == 404)
        }
    }

    @Test func configurationRefusesUnsafeOrImpossibleSettings() throws {
        let keys = ["OGGEDGE_SIGNING_KEYS": TestServer.keysText]
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(flags: ["stream-api": "1"], environment: keys, configFile: nil)
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(
                flags: ["stream-api": "1", "demo-user": "1", "host": "0.0.0.0"],
                environment: keys.merging(["OGGEDGE_REDIS_URL": "redis://127.0.0.1:1"]) { $1 }, configFile: nil
            )
        }
        let ok = try ConfigurationLoader.load(
            flags: ["demo-user": "true"],
            environment: keys.merging(["OGGEDGE_REDIS_URL": "redis://127.0.0.1:1", "OGGEDGE_STREAM_API": "1",
                                       "OGGEDGE_PUBLIC_BASE_URL": "https://cdn.example.com/"]) { $1 }, configFile: nil
        )
        #expect(ok.player.streamAPI && ok.player.demoUser && ok.player.publicBaseURL == "https://cdn.example.com")
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(flags: ["stream-api": "maybe"], environment: keys, configFile: nil)
        }
    }

    @Test func pagesAreServedAndNothingElse() async throws {
        try await PlayerHarness.with { h in
            let page = try await h.server.fetch("/player/")
            #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.bodyText.contains("player.js"))
            #expect(try await h.server.fetch("/player").bodyText == page.bodyText)  // 301 → /player/, followed
            let etag = try #require(page.header("ETag"))
            #expect(try await h.server.fetch("/player/", headers: [("If-None-Match", etag)]).status == 304)
            #expect(try await h.server.fetch("/player/player.js").header("Content-Type")?.hasPrefix("text/javascript") == true)
            for hostile in ["/player/../Package.swift", "/player/%2e%2e/ops/index.html", "/player//etc/passwd", "/player/nope.js"] {
                #expect(try await h.server.fetch(hostile).status == 404, "\(hostile)")
            }
            let ops = try await h.server.fetch("/admin/ui/")
            #expect(ops.status == 200 && ops.bodyText.contains("ops.js"))
            let tracks = try h.json(try await h.server.fetch("/player/tracks.json"))
            let ids = (tracks["tracks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids.contains("demo") && ids.contains("onlyhi"))
        }
        // Without the stream API the player does not exist; without a token the ops page neither.
        try await TestServer.with(adminToken: nil) { (server) async throws -> Void in
            #expect(try await server.fetch("/player/").status == 404)
            #expect(try await server.fetch("/stream/demo").status == 404)
            #expect(try await server.fetch("/admin/ui/").status == 404)
        }
    }
}
