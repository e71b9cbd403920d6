import HTTPTypes
import Hummingbird

/// The player side's routes, asked first by ``OriginHandler``: `/stream/{trackId}`, `/player/…`
/// (static files, `tracks.json`, demo login) and `/admin/ui/…`. Answers nil for any other path,
/// and for its own paths when the feature is off (then the request ends as a 404 like any unknown
/// path): `/stream/` and `/player/` need `stream-api`, `/admin/ui/` needs an admin token.
struct PlayerRoutes: Sendable {
    let stream: StreamResponder?
    let demoLogin: DemoLogin?
    let catalogue: TrackCatalogue
    let files: StaticFiles
    let adminEnabled: Bool

    static let playerPrefix = "/player/"
    static let opsPrefix = "/admin/ui/"

    func respond(_ request: Request, path: Substring, clientIP: String, now: Int64) async -> PreparedResponse? {
        let method = request.head.method
        let ifNoneMatch = request.head.headerFields[.ifNoneMatch]
        if path.hasPrefix("/stream/") {
            return await stream?.respond(request, path: path, now: now)
        }
        if path == "/player" || path.hasPrefix(Self.playerPrefix) {
            guard stream != nil else { return nil }
            if path == "/player/demo-login" {
                return await demoLogin?.respond(request, clientIP: clientIP)
            }
            if path == "/player/tracks.json" {
                guard method == .get || method == .head else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
                var response = PreparedResponse.text(.ok, catalogue.json(), contentType: "application/json", isHead: method == .head)
                response.headers[.accessControlAllowOrigin] = "*"
                return response
            }
            return files.respond(path: path, prefix: Self.playerPrefix, method: method, ifNoneMatch: ifNoneMatch)
        }
        if adminEnabled, path == "/admin/ui" || path.hasPrefix(Self.opsPrefix) {
            return files.respond(path: path, prefix: Self.opsPrefix, method: method, ifNoneMatch: ifNoneMatch)
                ?? .error(.notFound, isHead: method == .head)
        }
        return nil
    }
}
