import Foundation

/// Settings of the player side: `GET /stream/{trackId}`, `/player/`, the demo login.
///
/// Each has one name for the flag, the environment (`OGGEDGE_` + upper case) and the config file,
/// like every other setting (see ``ConfigurationLoader``).
public struct PlayerSettings: Sendable {
    /// `stream-api`: serve `GET /stream/{trackId}` and `/player/` (needs `redis-url`).
    public var streamAPI = false
    /// `public-base-url`: makes the stream URL absolute, e.g. `https://cdn.example.com`.
    public var publicBaseURL: String?
    /// `stream-cors-origins`: origins allowed to call `/stream` with credentials; empty = any
    /// origin (its `Origin` is echoed).
    public var corsOrigins: [String] = []
    /// `demo-user`: `POST /player/demo-login` makes a demo session. Refused unless the server
    /// listens on a loopback address only.
    public var demoUser = false

    /// The setting names this type reads.
    static let settingNames = ["stream-api", "public-base-url", "stream-cors-origins", "demo-user"]

    /// Defaults: everything off.
    public init() {}

    /// Reads the settings through `value` (flags > environment > file).
    mutating func load(_ value: (String) -> String?) throws(ConfigurationError) {
        if let v = value("stream-api") { streamAPI = try Self.boolean(v, "stream-api") }
        if let v = value("demo-user") { demoUser = try Self.boolean(v, "demo-user") }
        if let v = value("public-base-url") {
            var base = v.trimmingCharacters(in: .whitespaces)
            while base.hasSuffix("/") { base.removeLast() }
            if base.isEmpty {
                publicBaseURL = nil
            } else {
                guard base.hasPrefix("http://") || base.hasPrefix("https://"), !base.contains("?"), !base.contains("#"),
                      !base.contains(" ")
                else { throw ConfigurationError("public-base-url must be an http:// or https:// URL without query, got '\(v.prefix(80))'") }
                publicBaseURL = base
            }
        }
        if let v = value("stream-cors-origins") {
            corsOrigins = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// Refuses combinations that cannot work or would be unsafe.
    func validate(host: String, redisURL: String?) throws(ConfigurationError) {
        if streamAPI && redisURL == nil {
            throw ConfigurationError("stream-api needs Redis for sessions and counters: set OGGEDGE_REDIS_URL=redis://HOST:PORT")
        }
        if demoUser {
            guard streamAPI else { throw ConfigurationError("demo-user needs stream-api (--stream-api)") }
            guard Self.isLoopback(host) else {
                throw ConfigurationError("demo-user is for local demos only: the host must be a loopback address (127.0.0.1, ::1, localhost), got '\(host)'")
            }
        }
    }

    /// `127.0.0.0/8`, `::1` or `localhost`.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
            && host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    static func boolean(_ text: String, _ name: String) throws(ConfigurationError) -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off", "": return false
        default: throw ConfigurationError("\(name) must be 1/0, true/false, yes/no or on/off, got '\(text.prefix(40))'")
        }
    }
}
