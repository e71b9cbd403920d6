import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OggEdgeRedis
@testable import OggEdgeServer
import OggEdgeTesting

/// A real redis-server and a real OggEdge with the stream API on, plus helpers to make sessions,
/// ask for stream URLs and post playback events.
struct PlayerHarness {
    let redis: RedisTestServer
    let server: TestServer

    var redisURL: String { "redis://127.0.0.1:\(redis.port)" }

    static func with<T>(
        redis existing: RedisTestServer? = nil,
        configure: (inout OriginConfiguration) -> Void = { _ in },
        _ body: (PlayerHarness) async throws -> T
    ) async throws -> T {
        let redis: RedisTestServer
        if let existing { redis = existing } else { redis = try await offload { try RedisTestServer() } }
        do {
            let result = try await TestServer.with(configure: { config in
                config.redisURL = "redis://127.0.0.1:\(redis.port)"
                config.player.streamAPI = true
                configure(&config)
            }) { server in
                try await body(PlayerHarness(redis: redis, server: server))
            }
            if existing == nil { await offload { redis.stop() } }
            return result
        } catch {
            if existing == nil { await offload { redis.stop() } }
            throw error
        }
    }

    /// Writes `session:<id>` as the app's login service would; returns the id.
    func makeSession(user: String, premium: Bool, ttl: Int = 3600) throws -> String {
        let id = "s-" + UUID().uuidString
        let c = try redis.connection()
        _ = try c.pipeline([
            ["HSET", "session:" + id, "userId", user, "isPremium", premium ? "true" : "false"],
            ["EXPIRE", "session:" + id, String(ttl)],
        ])
        return id
    }

    func stream(_ track: String, session: String?, connection: String? = nil, extra: [(String, String)] = []) async throws -> TestResponse {
        var headers = extra
        if let session { headers.append(("Cookie", "theme=dark; session=\(session)")) }
        if let connection { headers.append(("X-Connection-Type", connection)) }
        return try await server.fetch("/stream/" + track, headers: headers)
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw HarnessError(description: "not a JSON object: \(response.bodyText)")
        }
        return object
    }

    /// Posts one playback event to `server` (default: this harness's server).
    func post(_ body: String, to other: TestServer? = nil) async throws -> TestResponse {
        let target = other ?? server
        var request = HTTPClientRequestBuilder.post(target.baseURL + "/events/playback", body: body, headers: [("Content-Type", "text/plain")])
        return try await request.send()
    }

    func admin(_ path: String, method: HTTPMethod = .GET, on other: TestServer? = nil) async throws -> TestResponse {
        try await (other ?? server).fetch(path, method: method, headers: [("Authorization", "Bearer test-admin-token")])
    }
}

extension RedisConnection {
    func ttl(_ key: String) throws -> Int64 {
        guard case .integer(let n) = try command(["TTL", key]) else { throw HarnessError(description: "TTL reply") }
        return n
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}
