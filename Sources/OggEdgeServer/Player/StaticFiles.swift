import Crypto
import Foundation
import HTTPTypes
import NIOCore
import OggEdgeCore

/// The pages' static files (`/player/`, `/admin/ui/`), read once at start into memory.
///
/// Only files found at start can be served: a request path is looked up in a dictionary, never
/// joined to a directory, so no path (`..`, `%2e`, symlinks) can reach another file. The files
/// ship as the `OggEdgeServer` target's resources (`Sources/OggEdgeServer/Web`), which SwiftPM
/// copies beside the executable (`oggedge_OggEdgeServer.resources/Web`); a source checkout is the
/// fallback, and `OGGEDGE_WEB_DIR` overrides both.
struct StaticFiles: Sendable {
    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
        let etag: String
    }

    /// By URL path, e.g. `/player/index.html`.
    let files: [String: File]

    /// The directory the files were read from (nil: none found).
    let root: String?

    /// Reads every file under the web directory; `mounts` maps a directory name to a URL prefix
    /// (`player` → `/player/`, `ops` → `/admin/ui/`).
    init(mounts: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment) {
        let root = Self.locate(environment: environment)
        self.root = root
        var files: [String: File] = [:]
        if let root {
            for (directory, prefix) in mounts {
                let base = root + "/" + directory
                guard let names = FileManager.default.enumerator(atPath: base) else { continue }
                for case let name as String in names {
                    var isDirectory: ObjCBool = false
                    let path = base + "/" + name
                    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                          !name.hasPrefix("."), let data = FileManager.default.contents(atPath: path)
                    else { continue }
                    let digest = SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
                    files[prefix + name] = File(body: ByteBuffer(bytes: data), contentType: Self.contentType(name), etag: "\"\(digest)\"")
                }
            }
        }
        self.files = files
    }

    static func locate(environment: [String: String]) -> String? {
        var candidates: [String] = []
        if let dir = environment["OGGEDGE_WEB_DIR"], !dir.isEmpty { candidates.append(dir) }
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path {
            candidates.append(exe + "/oggedge_OggEdgeServer.resources/Web")
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
        candidates.append(source + "/Web")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/player/index.html") }
    }

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    /// The response for `path` under `prefix` (a directory path maps to its `index.html`), or nil.
    func respond(path: Substring, prefix: String, method: HTTPRequest.Method, ifNoneMatch: String?) -> PreparedResponse? {
        if path + "/" == prefix {  // `/player` → `/player/`
            var headers: HTTPFields = [:]
            headers[.location] = prefix
            headers[.contentLength] = "0"
            return PreparedResponse(status: .movedPermanently, headers: headers)
        }
        let key = path.hasSuffix("/") ? String(path) + "index.html" : String(path)
        guard let file = files[key] else { return nil }
        guard method == .get || method == .head else { return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false) }
        var headers: HTTPFields = [:]
        headers[.eTag] = file.etag
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        if ifNoneMatch == file.etag { return PreparedResponse(status: .notModified, headers: headers) }
        headers[.contentType] = file.contentType
        headers[.contentLength] = String(file.body.readableBytes)
        return PreparedResponse(status: .ok, headers: headers, body: method == .head ? .empty : .buffer(file.body))
    }
}
