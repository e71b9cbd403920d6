import Crypto
import HTTPTypes
import NIOCore
import OggEdgeCore

/// `/admin/`: bearer-token protected operations. Without a configured token it does not exist
/// (404); a missing or wrong token is 401. Tokens are compared in constant time.
struct AdminResponder: Sendable {
    let token: [UInt8]?
    let stats: @Sendable () -> AdminStats

    init(token: String?, stats: @escaping @Sendable () -> AdminStats) {
        self.token = token.map { Array($0.utf8) }
        self.stats = stats
    }

    func respond(method: HTTPRequest.Method, path: Substring, headers: HTTPFields) async -> PreparedResponse {
        let isHead = method == .head
        guard let token else { return .error(.notFound, isHead: isHead) }
        guard let auth = headers[.authorization], auth.hasPrefix("Bearer "),
              Self.constantTimeEquals(Array(auth.utf8.dropFirst(7)), token)
        else { return .error(.unauthorized, isHead: isHead) }
        switch path {
        case "/admin/stats":
            guard method == .get || isHead else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
            return .text(.ok, stats().json, contentType: "application/json", isHead: isHead)
        default:
            return .error(.notFound, isHead: isHead)
        }
    }

    /// Compares two byte strings in time independent of where they differ (length leaks only).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // Hash both so the comparison runs over equal lengths whatever the input.
        let ha = Array(SHA256.hash(data: a))
        let hb = Array(SHA256.hash(data: b))
        var diff: UInt8 = 0
        for i in 0..<ha.count { diff |= ha[i] ^ hb[i] }
        return diff == 0
    }
}

/// The `/admin/stats` document.
struct AdminStats: Sendable {
    var cacheBytes: Int64 = 0
    var cacheEntries: Int64 = 0
    var hits: Int64 = 0
    var misses: Int64 = 0
    var evictions: Int64 = 0
    var transcodes: Int64 = 0
    var deliveryLogDropped: UInt64 = 0

    var json: String {
        "{\"cache_bytes\":\(cacheBytes),\"entries\":\(cacheEntries),\"hits\":\(hits),\"misses\":\(misses),"
            + "\"evictions\":\(evictions),\"transcodes\":\(transcodes),\"delivery_log_dropped\":\(deliveryLogDropped)}\n"
    }
}
