import HTTPTypes
import Hummingbird
import OggEdgeRedis

/// `POST /player/demo-login[?premium=false]`: makes a demo session for the quick start, so the
/// reference player works without a login service. Exists only with `demo-user` on, which the
/// configuration refuses unless the server listens on a loopback address; it also answers only
/// clients on loopback. Writes the Redis hash `session:demo-<random>` (`userId` `demo-<random>`,
/// `isPremium`, expiry 14400 s) and sets the cookie `session` (HttpOnly, SameSite=Lax).
struct DemoLogin: Sendable {
    let redis: RedisPool
    let cors: CredentialedCORS

    func respond(_ request: Request, clientIP: String) async -> PreparedResponse {
        let origin = request.head.headerFields[.origin]
        var response = await answer(request, clientIP: clientIP)
        cors.apply(origin: origin, to: &response.headers)
        return response
    }

    private func answer(_ request: Request, clientIP: String) async -> PreparedResponse {
        if request.head.method == .options { return cors.preflight(methods: "POST, OPTIONS", headers: "Content-Type") }
        guard request.head.method == .post else { return .error(.methodNotAllowed(allow: "POST, OPTIONS"), isHead: request.head.method == .head) }
        guard PlayerSettings.isLoopback(clientIP) || clientIP == "::ffff:127.0.0.1" else { return .error(.notFound, isHead: false) }
        let premium = !(PlayerAdmin.query(request.head.path ?? "").contains { $0.0 == "premium" && ["0", "false"].contains($0.1) })
        var rng = SystemRandomNumberGenerator()
        let sessionId = "demo-" + (0..<3).map { _ in String(rng.next() as UInt64, radix: 16) }.joined()
        let userId = "demo-" + String((rng.next() as UInt64) & 0xffff_ffff, radix: 16)
        let key = "session:" + sessionId
        do {
            _ = try await redis.pipeline([
                ["HSET", key, "userId", userId, "isPremium", premium ? "true" : "false"],
                ["EXPIRE", key, String(StreamResponder.sessionTTLSeconds)],
            ])
        } catch { return .error(.redisUnavailable, isHead: false) }
        var response = PreparedResponse.text(
            .ok, "{\"userId\":\"\(userId)\",\"isPremium\":\(premium)}\n", contentType: "application/json", isHead: false
        )
        response.headers[.setCookie] = "session=\(sessionId); Path=/; Max-Age=\(StreamResponder.sessionTTLSeconds); HttpOnly; SameSite=Lax"
        var log = LogFacts()
        log.uid = userId
        response.log = log
        return response
    }
}
